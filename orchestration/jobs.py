"""Jobs: everything built so far, one job per partitioning (daily business date, month-end, week)."""

from __future__ import annotations

import dagster as dg

from assets import DAILY_KEYS, MONTH_END_KEYS, REPORT_KEYS, WEEKLY_KEYS, WEEKLY_REPORT_KEYS
from crm.bank_calendar import BANK_TZ, TIMEZONE, month_start, months_before

DAILY_JOB = "daily_pipeline"
MONTH_END_JOB = "month_end_pipeline"
WEEKLY_JOB = "weekly_watch_list"
REPORTS_JOB = "monthly_reports"
QUARTERLY_JOB = "quarterly_satisfaction"
# runs that send e-mail carry this tag; the instance runs one of them at a time (dagster.yaml)
SENDS_EMAIL = {"crm/sends-email": "true"}

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
    selection=dg.AssetSelection.assets(*WEEKLY_KEYS, *WEEKLY_REPORT_KEYS),
    description="The weekly early-warning watch list per manager (week Monday..Sunday, Asia/Shanghai), its "
    "digest per manager and the digest's delivery.",
    tags=SENDS_EMAIL,
)
_quarterly = dg.AssetKey(["reports", "satisfaction_quarterly"])
reports_job = dg.define_asset_job(
    REPORTS_JOB,
    selection=dg.AssetSelection.assets(*[k for k in REPORT_KEYS if k != _quarterly]),
    description="The month's reports: key-account, branch, satisfaction, data quality; the leak scan; delivery.",
    tags=SENDS_EMAIL,
)
quarterly_job = dg.define_asset_job(
    QUARTERLY_JOB,
    selection=dg.AssetSelection.assets(_quarterly, dg.AssetKey(["dq", "report_leak_scan"]),
                                       dg.AssetKey(["delivery", "monthly"])),
    description="The quarterly satisfaction report (partition: the quarter's last month), its leak scan and "
    "delivery.",
    tags=SENDS_EMAIL,
)
# Monday 09:00 in the bank's time zone, after the arrival cut-off (08:00) of Sunday's extracts: the week
# that ended the day before.
weekly_schedule = dg.build_schedule_from_partitioned_job(weekly_job, hour_of_day=9, minute_of_hour=0,
                                                         name="weekly_watch_list_schedule")
# The 1st of each month, 10:00 bank time: the previous month's reports (its month-end files arrive in the
# night and the month-end pipeline runs on their arrival).
reports_schedule = dg.build_schedule_from_partitioned_job(reports_job, day_of_month=1, hour_of_day=10,
                                                          minute_of_hour=0, name="monthly_reports_schedule")


@dg.schedule(job=quarterly_job, cron_schedule="0 11 1 1,4,7,10 *", execution_timezone=TIMEZONE,
             name="quarterly_satisfaction_schedule",
             description="The 1st of January, April, July and October, 11:00 bank time: the quarter just closed.")
def quarterly_schedule(context: dg.ScheduleEvaluationContext):
    when = context.scheduled_execution_time.astimezone(BANK_TZ)
    key = month_start(months_before(when.date(), 1)).isoformat()  # the quarter's last month
    return dg.RunRequest(run_key=f"{QUARTERLY_JOB}:{key}", partition_key=key)
