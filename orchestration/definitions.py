"""The one entry point: ``dagster dev -m orchestration.definitions`` (the ``crm ui`` command does this)."""

from __future__ import annotations

import dagster as dg

from assets import all_assets
from crm.privacy.logfilter import install as install_log_redaction
from orchestration.alerts import run_failure_notice
from orchestration.jobs import (
    daily_job,
    month_end_job,
    quarterly_job,
    quarterly_schedule,
    reports_job,
    reports_schedule,
    weekly_job,
    weekly_schedule,
)
from orchestration.resources import resources_for
from orchestration.retention import raw_retention_job, raw_retention_schedule
from orchestration.sensors import landing_sensor

# Redact ID, card and phone patterns from every Python log record (ours, Dagster's and libraries').
install_log_redaction()

defs = dg.Definitions(
    assets=all_assets,
    jobs=[daily_job, month_end_job, weekly_job, reports_job, quarterly_job, raw_retention_job],
    schedules=[raw_retention_schedule, weekly_schedule, reports_schedule, quarterly_schedule],
    sensors=[landing_sensor, run_failure_notice],
    resources=resources_for(),
    # two cores; a forkserver with the definitions preloaded starts each step in milliseconds, not seconds
    executor=dg.multiprocess_executor.configured(
        {"max_concurrent": 2, "start_method": {"forkserver": {"preload_modules": ["orchestration.definitions", "great_expectations"]}}}
    ),
)
