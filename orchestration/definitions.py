"""The one entry point: ``dagster dev -m orchestration.definitions`` (the ``crm ui`` command does this).

Every job is declared once (:mod:`orchestration.jobs`, :mod:`orchestration.retention`); how their steps run
is the Definitions' executor, chosen here by ``CRM_EXECUTOR`` (:func:`executor`).
"""

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

EXECUTOR_ENV = "CRM_EXECUTOR"
EXECUTORS = ("multiprocess", "in_process", "celery")


def executor(choice: str | None = None) -> dg.ExecutorDefinition:
    """How a run's steps execute, ``choice`` or else ``CRM_EXECUTOR``:

    - ``multiprocess`` (the default) runs each step in its own process, two at a time on two cores, from a
      forkserver with the definitions preloaded (a step starts in milliseconds, not seconds);
    - ``in_process`` runs the steps one after the other in the run's process: no process per step, so a
      small bank's run is quicker (the test suite's scheduled-jobs bank uses it), but nothing runs side by
      side;
    - ``celery`` sends each step as a task to Celery workers (dagster-celery; broker, result backend and
      queue from ``CRM_CELERY_*``, :mod:`orchestration.celery`); the run process only orchestrates."""
    if choice is None:
        choice = os.environ.get(EXECUTOR_ENV, "multiprocess")
    if choice == "in_process":
        return dg.in_process_executor
    if choice == "celery":
        from orchestration.celery import crm_celery_executor

        return crm_celery_executor()
    if choice != "multiprocess":
        raise ValueError(f"{EXECUTOR_ENV} must be one of {', '.join(EXECUTORS)}, not {choice!r}")
    return dg.multiprocess_executor.configured(
        {
            "max_concurrent": 2,
            "start_method": {"forkserver": {"preload_modules": ["orchestration.definitions", "great_expectations"]}},
        }
    )


def definitions(executor_choice: str | None = None) -> dg.Definitions:
    """Every asset, job, schedule and sensor, with the resources of ``CRM_ENV`` and the executor
    :func:`executor` chooses."""
    return dg.Definitions(
        assets=all_assets,
        jobs=[daily_job, month_end_job, weekly_job, reports_job, quarterly_job, raw_retention_job],
        schedules=[raw_retention_schedule, weekly_schedule, reports_schedule, quarterly_schedule],
        sensors=[landing_sensor, run_failure_notice],
        resources=resources_for(),
        executor=executor(executor_choice),
    )


# Redact ID, card and phone patterns from every Python log record (ours, Dagster's and libraries').
install_log_redaction()

defs = definitions()
