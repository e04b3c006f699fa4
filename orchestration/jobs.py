"""Jobs: everything built so far, one job per partitioning (daily business date, month-end, week)."""

from __future__ import annotations

import dagster as dg

from assets import DAILY_KEYS, MONTH_END_KEYS, WEEKLY_KEYS

DAILY_JOB = "daily_pipeline"
MONTH_END_JOB = "month_end_pipeline"
WEEKLY_JOB = "weekly_watch_list"

daily_job = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.assets(*DAILY_KEYS),
    description="Everything built per business date from the daily extracts.",
)
month_end_job = dg.define_asset_job(
    MONTH_END_JOB,
    selection=dg.AssetSelection.assets(*MONTH_END_KEYS),
    description="Everything built per month from the month-end extracts (loan performance, financial statements).",
)
weekly_job = dg.define_asset_job(
    WEEKLY_JOB,
    selection=dg.AssetSelection.assets(*WEEKLY_KEYS),
    description="The weekly early-warning watch list per manager (week Monday..Sunday, Asia/Shanghai).",
)
# Monday 09:00 in the bank's time zone, after the arrival cut-off (08:00) of Sunday's extracts: the week
# that ended the day before.
weekly_schedule = dg.build_schedule_from_partitioned_job(weekly_job, hour_of_day=9, minute_of_hour=0,
                                                         name="weekly_watch_list_schedule")
