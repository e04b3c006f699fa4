"""The one entry point: ``dagster dev -m orchestration.definitions`` (the ``crm ui`` command does this)."""

from __future__ import annotations

import os

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


def _executor() -> dg.ExecutorDefinition:
    """How a run's steps execute: ``CRM_EXECUTOR=multiprocess`` (the default) runs each step in its own
    process, two at a time on two cores, from a forkserver with the definitions preloaded (a step starts in
    milliseconds, not seconds); ``in_process`` runs the steps one after the other in the run's process: no
    process per step, so a small bank's run is quicker (the test suite's scheduled-jobs bank uses it), but
    nothing runs side by side."""
    choice = os.environ.get("CRM_EXECUTOR", "multiprocess")
    if choice == "in_process":
        return dg.in_process_executor
    if choice != "multiprocess":
        raise ValueError(f"CRM_EXECUTOR must be multiprocess or in_process, not {choice!r}")
    return dg.multiprocess_executor.configured(
        {"max_concurrent": 2,
         "start_method": {"forkserver": {"preload_modules": ["orchestration.definitions", "great_expectations"]}}})


# Redact ID, card and phone patterns from every Python log record (ours, Dagster's and libraries').
install_log_redaction()

defs = dg.Definitions(
    assets=all_assets,
    jobs=[daily_job, month_end_job, weekly_job, reports_job, quarterly_job, raw_retention_job],
    schedules=[raw_retention_schedule, weekly_schedule, reports_schedule, quarterly_schedule],
    sensors=[landing_sensor, run_failure_notice],
    resources=resources_for(),
    executor=_executor(),
)
