"""The raw-zone retention job and its schedule (daily, 03:30 Asia/Shanghai, after the nightly batch)."""

import dagster as dg

from orchestration.partitions import TIMEZONE
from orchestration.resources import CrmHomeResource, PrivacyResource, WarehouseResource

RETENTION_JOB = "raw_retention"


@dg.op(description="Delete raw-zone partitions older than the retention period and record each deletion.")
def purge_raw_zone(context: dg.OpExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource,
                   privacy: PrivacyResource) -> dg.Output:
    from crm.privacy.retention import purge_raw
    from crm.warehouse import begin

    home = crm_home.home()
    engine = warehouse.engine()
    try:
        with begin(engine, warehouse.schema) as conn:
            purged = purge_raw(home.raw, privacy.raw_retention_days, conn=conn, run_id=context.run.run_id)
    finally:
        engine.dispose()
    context.log.info(f"purged {len(purged)} raw partitions older than {privacy.raw_retention_days} days")
    return dg.Output(
        None,
        metadata={
            "partitions_purged": len(purged),
            "bytes_purged": int(purged["bytes"].sum()) if len(purged) else 0,
            "retention_days": privacy.raw_retention_days,
            "oldest_purged": str(purged["business_date"].min()) if len(purged) else "none",
        },
    )


@dg.job(name=RETENTION_JOB, description="Raw-zone retention: delete raw partitions past their retention period "
        "(CRM_RAW_RETENTION_DAYS) and record what was deleted and why in the warehouse table raw_purges.")
def raw_retention_job():
    purge_raw_zone()


raw_retention_schedule = dg.ScheduleDefinition(
    name="raw_retention_daily", job=raw_retention_job, cron_schedule="30 3 * * *", execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
