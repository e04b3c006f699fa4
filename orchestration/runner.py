"""Run the pipeline for business dates from Python or the ``crm`` CLI, in the local Dagster instance.

Many business dates go into few runs: one run of the daily job over the whole date range and one run of
the month-end job over the months whose last day falls in the range. The assets use single-run backfill
policies, so each step processes its whole range at once.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from crm.bank_calendar import closes_quarter, month_firsts, sundays
from orchestration.jobs import DAILY_JOB, MONTH_END_JOB, QUARTERLY_JOB, REPORTS_JOB, WEEKLY_JOB

REPO_ROOT = Path(__file__).resolve().parents[1]


def configure_dagster_home() -> Path:
    """Point Dagster at the repo's ``dagster.yaml`` and its storage folder unless already configured."""
    if not os.environ.get("DAGSTER_HOME") and (REPO_ROOT / "dagster.yaml").exists():
        os.environ["DAGSTER_HOME"] = str(REPO_ROOT)
    os.environ["CRM_DAGSTER_DIR"] = str(Path(os.environ.get("CRM_DAGSTER_DIR") or REPO_ROOT / ".dagster").resolve())
    Path(os.environ["CRM_DAGSTER_DIR"]).mkdir(parents=True, exist_ok=True)
    return Path(os.environ["DAGSTER_HOME"])


def daily_pipeline() -> dg.JobDefinition:
    from orchestration.definitions import defs

    return defs.resolve_job_def(DAILY_JOB)


def month_end_pipeline() -> dg.JobDefinition:
    from orchestration.definitions import defs

    return defs.resolve_job_def(MONTH_END_JOB)


def weekly_watch_list() -> dg.JobDefinition:
    from orchestration.definitions import defs

    return defs.resolve_job_def(WEEKLY_JOB)


def monthly_reports() -> dg.JobDefinition:
    from orchestration.definitions import defs

    return defs.resolve_job_def(REPORTS_JOB)


def quarterly_satisfaction() -> dg.JobDefinition:
    from orchestration.definitions import defs

    return defs.resolve_job_def(QUARTERLY_JOB)


@dataclass
class RunSummary:
    job: str
    first_partition: str
    last_partition: str
    run_id: str
    success: bool
    failed_steps: list[str]
    failed_checks: list[str]  # checks that failed with severity ERROR (blocking ones stop downstream work)
    warned_checks: list[str] = field(default_factory=list)  # checks that failed with severity WARN


def plan(first: dt.date, last: dt.date) -> list[tuple[str, str, str]]:
    """(job, first partition key, last partition key) for the business dates first..last."""
    if last < first:
        raise ValueError("the range ends before it starts")
    runs = [(DAILY_JOB, first.isoformat(), last.isoformat())]
    months = month_firsts(first, last)
    if months:
        runs.append((MONTH_END_JOB, months[0].isoformat(), months[-1].isoformat()))
        runs.append((REPORTS_JOB, months[0].isoformat(), months[-1].isoformat()))
        quarters = [m for m in months if closes_quarter(m)]
        if quarters:
            runs.append((QUARTERLY_JOB, quarters[0].isoformat(), quarters[-1].isoformat()))
    # weeks whose Sunday and the Sunday before (the comparison date) are both in the range
    weeks = [sunday - dt.timedelta(days=6) for sunday in sundays(first, last)[1:]]
    if weeks:
        runs.append((WEEKLY_JOB, weeks[0].isoformat(), weeks[-1].isoformat()))
    return runs


def run_dates(
    first: dt.date,
    last: dt.date,
    *,
    instance: dg.DagsterInstance | None = None,
    log_level: str = "WARNING",
    skip: tuple[str, ...] = (),
) -> list[RunSummary]:
    """Run :func:`plan`'s jobs for the dates in order (``skip``: job names left out, e.g. the reports in a
    benchmark of the data pipeline)."""
    instance = instance or dg.DagsterInstance.get()
    return [
        run_job(job, start, end, instance=instance, log_level=log_level)
        for job, start, end in plan(first, last)
        if job not in skip
    ]


JOBS = {
    DAILY_JOB: daily_pipeline,
    MONTH_END_JOB: month_end_pipeline,
    WEEKLY_JOB: weekly_watch_list,
    REPORTS_JOB: monthly_reports,
    QUARTERLY_JOB: quarterly_satisfaction,
}


def run_job(
    job: str,
    start: str,
    end: str | None = None,
    *,
    instance: dg.DagsterInstance | None = None,
    log_level: str = "WARNING",
    trigger: str = "cli",
) -> RunSummary:
    """One run of ``job`` (a name in :data:`JOBS`) over its partition keys ``start``..``end`` (one key when
    ``end`` is None or equal), tagged as a schedule or a backfill would tag it, executed in this process
    (its steps in the job's executor)."""
    instance = instance or dg.DagsterInstance.get()
    end = end or start
    if start == end:
        tags = {"dagster/partition": start}
    else:
        tags = {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}
    tags["crm/trigger"] = trigger
    result = dg.execute_job(
        dg.reconstructable(JOBS[job]),
        instance=instance,
        tags=tags,
        raise_on_error=False,
        # the full event stream is in the instance (and the UI); the terminal gets warnings and errors
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    failed_steps = [e.step_key for e in result.all_events if e.is_step_failure]
    failed: dict[str, list[str]] = {"ERROR": [], "WARN": []}
    for e in result.all_events:
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed:
            ev = e.asset_check_evaluation_data
            failed[ev.severity.value].append(f"{ev.asset_key.to_user_string()}:{ev.check_name}")
    return RunSummary(job, start, end, result.run_id, result.success, failed_steps, failed["ERROR"], failed["WARN"])
