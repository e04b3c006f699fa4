"""Business-date partitions, in the bank's time zone. The keys' meaning (and their conversion to business
dates) is the bank calendar's: :mod:`crm.bank_calendar`."""

from __future__ import annotations

import dagster as dg

from crm.bank_calendar import TIMEZONE

# The earliest business date the platform accepts extracts for.
FIRST_BUSINESS_DATE = "2023-01-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_BUSINESS_DATE, timezone=TIMEZONE)
# Month-end extracts: key "2026-01-01" is the month whose last day (2026-01-31) is the business date.
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_BUSINESS_DATE, timezone=TIMEZONE)

# Weeks Monday..Sunday: key "2026-10-26" is the week whose last day (Sunday 2026-11-01) is the business date.
weekly_partitions = dg.WeeklyPartitionsDefinition(start_date="2023-01-02", timezone=TIMEZONE, day_offset=1)
