"""Jobs: everything built so far, one job per cadence (daily business date, month end, week, the month's
reports, the quarter's). Each selects its assets by their ``crm/cadence`` tag (:mod:`assets`), never by a
list of keys; the executor is the Definitions' (:func:`orchestration.definitions.executor`)."""

from __future__ import annotations

import dagster as dg

from assets import CADENCE_TAG, DAILY, MONTH_END, MONTHLY, QUARTERLY, WEEKLY
from crm.bank_calendar import BANK_TZ, TIMEZONE, month_start, months_before

DAILY_JOB = "daily_pipeline"
MONTH_END_JOB = "month_end_pipeline"
WEEKLY_JOB = "weekly_watch_list"
REPORTS_JOB = "monthly_reports"
QUARTERLY_JOB = "quarterly_satisfaction"
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
    description="Everything built per month from the month-end extracts (loan performance, financial statements).",
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
# Monday 09:00 in the bank's time zone, after the arrival cut-off (08:00) of Sunday's extracts: the week
# that ended the day before.
weekly_schedule = dg.build_schedule_from_partitioned_job(
    weekly_job, hour_of_day=9, minute_of_hour=0, name="weekly_watch_list_schedule"
)
# The 1st of each month, 10:00 bank time: the previous month's reports (its month-end files arrive in the
# night and the month-end pipeline runs on their arrival).
reports_schedule = dg.build_schedule_from_partitioned_job(
    reports_job, day_of_month=1, hour_of_day=10, minute_of_hour=0, name="monthly_reports_schedule"
)


@dg.schedule(
    job=quarterly_job,
    cron_schedule="0 11 1 1,4,7,10 *",
    execution_timezone=TIMEZONE,
    name="quarterly_satisfaction_schedule",
    description="The 1st of January, April, July and October, 11:00 bank time: the quarter just closed.",
)
def quarterly_schedule(context: dg.ScheduleEvaluationContext):
    when = context.scheduled_execution_time.astimezone(BANK_TZ)
    key = month_start(months_before(when.date(), 1)).isoformat()  # the quarter's last month
    return dg.RunRequest(run_key=f"{QUARTERLY_JOB}:{key}", partition_key=key)
