"""Business-date partitions, in the bank's time zone."""

from __future__ import annotations

import calendar
import datetime as dt

import dagster as dg

TIMEZONE = "Asia/Shanghai"
# The earliest business date the platform accepts extracts for.
FIRST_BUSINESS_DATE = "2023-01-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_BUSINESS_DATE, timezone=TIMEZONE)
# Month-end extracts: key "2026-01-01" is the month whose last day (2026-01-31) is the business date.
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_BUSINESS_DATE, timezone=TIMEZONE)

# Weeks Monday..Sunday: key "2026-10-26" is the week whose last day (Sunday 2026-11-01) is the business date.
weekly_partitions = dg.WeeklyPartitionsDefinition(start_date="2023-01-02", timezone=TIMEZONE, day_offset=1)


def week_end(partition_key: str) -> dt.date:
    """The Sunday closing the week of a weekly partition key (its Monday)."""
    return dt.date.fromisoformat(partition_key) + dt.timedelta(days=6)


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def business_date_for(partition_key: str, cadence: str) -> dt.date:
    day = dt.date.fromisoformat(partition_key)
    return month_end(day) if cadence == "month_end" else day


def partition_key_for(business_date: dt.date, cadence: str) -> str:
    return business_date.replace(day=1).isoformat() if cadence == "month_end" else business_date.isoformat()
