"""Jobs: everything built so far, one job per partitioning (daily business date, month-end)."""

from __future__ import annotations

import dagster as dg

from assets import DAILY_KEYS, MONTH_END_KEYS

DAILY_JOB = "daily_pipeline"
MONTH_END_JOB = "month_end_pipeline"

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
