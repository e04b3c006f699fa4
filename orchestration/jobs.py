"""Jobs: everything built so far, one job per cadence (daily business date, month end, week, the month's
reports, the quarter's). Each selects its assets by their ``crm/cadence`` tag (:mod:`assets`), never by a
list of keys; the executor is the Definitions' (:func:`orchestration.definitions.executor`).

The reports' schedules (:func:`release_schedule`) tick daily at their hour and run a period on its release
day, the first working day after it (:func:`crm.bank_calendar.released_on`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import dagster as dg

from assets import CADENCE_TAG, DAILY, MONTH_END, MONTHLY, QUARTERLY, WEEKLY
from crm.bank_calendar import (
    BANK_TZ,
    HOLIDAY_FILE,
    RELEASE_TIME,
    TIMEZONE,
    CalendarNotCovered,
    bank_today,
    month_start,
    next_release_day,
    period_label,
    released_on,
    week_start,
)

DAILY_JOB = "daily_pipeline"
MONTH_END_JOB = "month_end_pipeline"
WEEKLY_JOB = "weekly_watch_list"
REPORTS_JOB = "monthly_reports"
QUARTERLY_JOB = "quarterly_satisfaction"
HOLIDAY_PATH = f"crm/{HOLIDAY_FILE.name}"
# The State Council publishes the next year's holidays in November (or earlier): from December on, a schedule
# whose next release day falls in a year the holiday file lacks fails its ticks, to warn in time.
NEXT_YEAR_DUE_FROM = 12
# runs that send e-mail carry this tag; the instance runs one of them at a time (dagster.yaml)
SENDS_EMAIL = {"crm/sends-email": "true"}


def cadence(name: str) -> dg.AssetSelection:
    """The assets tagged ``crm/cadence: name`` (their checks come with them)."""
    return dg.AssetSelection.tag(CADENCE_TAG, name)


DAILY_SELECTION = cadence(DAILY)
MONTH_END_SELECTION = cadence(MONTH_END)
WEEKLY_SELECTION = cadence(WEEKLY)
REPORTS_SELECTION = cadence(MONTHLY)
# the quarterly report and the assets that read it directly: the report leak scan and the delivery (not the
# auditors' data-quality report, which reads the scan's result: it is monthly)
QUARTERLY_SELECTION = cadence(QUARTERLY).downstream(depth=1)

daily_job = dg.define_asset_job(
    DAILY_JOB,
    selection=DAILY_SELECTION,
    description="Everything built per business date from the daily extracts.",
)
month_end_job = dg.define_asset_job(
    MONTH_END_JOB,
    selection=MONTH_END_SELECTION,
    description="Everything built per month from the month-end extracts (loan performance, deposit balances, monthly "
    "transaction aggregates, financial statements) and the daily ones of the month end.",
)
weekly_job = dg.define_asset_job(
    WEEKLY_JOB,
    selection=WEEKLY_SELECTION,
    description="The weekly early-warning watch list per manager (week Monday..Sunday, Asia/Shanghai), its "
    "digest per manager and the digest's delivery.",
    tags=SENDS_EMAIL,
)
reports_job = dg.define_asset_job(
    REPORTS_JOB,
    selection=REPORTS_SELECTION,
    description="The month's reports: key-account, branch, satisfaction, data quality; the leak scan; delivery.",
    tags=SENDS_EMAIL,
)
quarterly_job = dg.define_asset_job(
    QUARTERLY_JOB,
    selection=QUARTERLY_SELECTION,
    description="The quarterly satisfaction report (partition: the quarter's last month), its leak scan and delivery.",
    tags=SENDS_EMAIL,
)


def _tick_day(context: dg.ScheduleEvaluationContext) -> dt.date:
    """The bank's date of the tick being judged: its scheduled time (a tick evaluated late, or one of several
    caught up at once, is judged as of its own time), else now."""
    when = context.scheduled_execution_time
    return when.astimezone(BANK_TZ).date() if when is not None else bank_today()


def release_schedule(
    job,  # an asset job (define_asset_job)
    kind: str,
    *,
    name: str,
    partition_key: Callable[[dt.date], str],
    run_key: Callable[[str], str],
    description: str,
) -> dg.ScheduleDefinition:
    """A schedule that ticks every day at the release hour of ``kind`` periods (:data:`RELEASE_TIME`, bank
    time) and requests a run of ``job`` for each period released that day (:func:`released_on`: the first
    working day after the period, so none on a rest day, and several weeks at once after a long holiday),
    else skips naming the next release day. Cron cannot say "the first working day", so the calendar decides.

    A day the holiday file does not cover fails the tick (the error says to add the year to
    crm/holidays_cn.toml): a failed tick shows red in the Dagster UI and in the daemon's log, where a skipped
    one would look like an ordinary rest day and the reports would silently not go out. So does a day of
    December whose next release day lies in a year the file lacks (:data:`NEXT_YEAR_DUE_FROM`): nothing is due
    that day, but the failure warns while there is still time. Before December such a day skips, its reason
    saying the next release day is not known yet."""
    at = RELEASE_TIME[kind]

    @dg.schedule(
        job=job,
        cron_schedule=f"{at.minute} {at.hour} * * *",
        execution_timezone=TIMEZONE,
        name=name,
        description=f"{at:%H:%M} {TIMEZONE} on the first working day after each {kind}: {description}",
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        day = _tick_day(context)
        try:
            ends = released_on(kind, day)
        except CalendarNotCovered as e:
            raise _not_covered(name, f"cannot tell whether {day.isoformat()} is a release day", e) from e
        if ends:
            keys = [partition_key(e) for e in ends]
            return [dg.RunRequest(run_key=run_key(k), partition_key=k) for k in keys]
        try:
            following = next_release_day(kind, day)
            periods = ", ".join(period_label(kind, e) for e in released_on(kind, following))
        except CalendarNotCovered as e:
            if day.month == NEXT_YEAR_DUE_FROM:  # the notice is out: fail while there is time to add the year
                raise _not_covered(name, f"{day.isoformat()} is no release day, but the next cannot be found", e) from e
            return dg.SkipReason(
                f"{day.isoformat()} is not the first working day after a {kind}; the next release day is not known "
                f"yet: {e} (from December on, this schedule's ticks fail until it is added)"
            )
        return dg.SkipReason(
            f"{day.isoformat()} is not the first working day after a {kind}; the next release is "
            f"{following.isoformat()} {at:%H:%M} {TIMEZONE}, for {periods}"
        )

    return _schedule


def _not_covered(name: str, what: str, error: CalendarNotCovered) -> CalendarNotCovered:
    return CalendarNotCovered(
        f"{name}: {what}: {error}. Add the year to {HOLIDAY_PATH} (the State Council's notice: a [[holiday]] "
        "block per holiday period, the year in `years`, a new `version`) and deploy it; until then this "
        "schedule's ticks fail."
    )


def _same(key: str) -> str:
    return key


# After the arrival cut-off (08:00 on the first working day after the business date) of the Sunday's extracts:
# the week that ended (its partition: its Monday).
weekly_schedule = release_schedule(
    weekly_job,
    "week",
    name="weekly_watch_list_schedule",
    partition_key=lambda end: week_start(end).isoformat(),
    run_key=_same,
    description="the week that ended, Monday..Sunday (released on the Monday, or after a holiday on the first "
    "working day after it, with any other week ended since).",
)
# After the month-end files' cut-off (08:00 the same day; the month-end pipeline runs on their arrival in the
# night): the month that ended (its partition: its first day).
reports_schedule = release_schedule(
    reports_job,
    "month",
    name="monthly_reports_schedule",
    partition_key=lambda end: month_start(end).isoformat(),
    run_key=_same,
    description="the month's reports.",
)
quarterly_schedule = release_schedule(
    quarterly_job,
    "quarter",
    name="quarterly_satisfaction_schedule",
    partition_key=lambda end: month_start(end).isoformat(),  # the quarter's last month
    run_key=lambda key: f"{QUARTERLY_JOB}:{key}",
    description="the quarter just closed.",
)
