"""The retention job and its schedule (daily, 03:30 Asia/Shanghai, after the nightly batch): the raw zone
(:mod:`crm.privacy.retention`, table ``raw_purges``), then ``reports/``, ``outbox/``, ``dq/`` and the Dagster
instance's old runs (:mod:`crm.retention`, table ``retention_purges``). The job keeps its first name,
``raw_retention``, so schedules and run history of existing deployments carry on."""

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import dagster as dg

from crm.bank_calendar import BANK_TZ, TIMEZONE
from orchestration.resources import CrmHomeResource, PrivacyResource, RetentionResource, WarehouseResource

RETENTION_JOB = "raw_retention"
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
_RUN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _size(path: Path) -> int:
    """Bytes of a file, or of the regular files under a folder (links not followed)."""
    if path.is_symlink():
        return 0
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _, files in os.walk(path, followlinks=False):
        for name in files:
            p = Path(dirpath) / name
            if not p.is_symlink() and p.is_file():
                total += p.stat().st_size
    return total


def _run_folder(base: str | os.PathLike | None, run_id: str) -> Path | None:
    """``base/<run_id>`` if it is a real folder inside ``base`` (no link), else None."""
    if not base or not _RUN_ID.match(run_id):
        return None
    root = Path(base).resolve()
    folder = root / run_id
    if folder.is_symlink() or not folder.is_dir() or folder.resolve().parent != root:
        return None
    return folder


def _run_files(instance: dg.DagsterInstance, run_id: str) -> tuple[list[Path], Path | None, Path | None]:
    """What the run leaves on disk outside the storage's own rows: the SQLite event-log shard (and its WAL
    files) of a run-sharded SQLite storage, the local compute logs' folder, and the default I/O manager's
    folder of the run under the instance's storage directory."""
    from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager

    shards: list[Path] = []
    storage = instance.event_log_storage
    if getattr(storage, "is_run_sharded", False) and hasattr(storage, "path_for_shard") and _RUN_ID.match(run_id):
        shard = Path(storage.path_for_shard(run_id))
        shards = [p for p in (shard, Path(f"{shard}-wal"), Path(f"{shard}-shm")) if p.is_file() and not p.is_symlink()]
    cm = instance.compute_log_manager
    logs = _run_folder(getattr(cm, "_base_dir", None), run_id) if isinstance(cm, LocalComputeLogManager) else None
    try:
        outputs = _run_folder(instance.storage_directory(), run_id)
    except Exception:  # an instance without local artifact storage
        outputs = None
    return shards, logs, outputs


def purge_dagster_runs(
    instance: dg.DagsterInstance, days: int, *, today: dt.date, dry_run: bool = False, keep: tuple[str, ...] = ()
):
    """Delete the finished runs (success, failure, canceled) that ended more than ``days`` before ``today``
    (bank time), through the instance API: ``delete_run`` removes the run and its event log (its
    materialisation and check records included, so their partitions no longer show as materialised in the
    UI), ``compute_log_manager.delete_logs`` its captured stdout/stderr. With a run-sharded SQLite event
    log (the local instance) the run's emptied shard file ``<run_id>.db`` is removed too (``delete_run``
    empties it but leaves the file, so the space would not come back), as is the default I/O manager's
    folder of the run. Another process (the webserver) that read the run's events before keeps a note that
    the shard exists: asking it for the deleted run's events afterwards fails instead of answering "none".
    Runs in ``keep`` (the current one) are never deleted. Returns :class:`crm.retention.Purge` rows whose
    ``bytes`` count the files freed (a database's rows are not counted)."""
    from crm.retention import Purge, cutoff, runs_to_purge

    limit = dt.datetime.combine(cutoff(today, days), dt.time(), tzinfo=dt.UTC)
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=FINISHED, created_before=limit))
    ended = []
    for r in records:
        if r.dagster_run.run_id in keep:
            continue
        stamp = r.end_time or r.update_timestamp.timestamp()
        ended.append((r.dagster_run.run_id, dt.datetime.fromtimestamp(stamp, dt.UTC)))
    purged = []
    for p in runs_to_purge(ended, days, today=today):
        shards, logs, outputs = _run_files(instance, p.item)
        size = sum(_size(f) for f in {*shards, *(d for d in (logs, outputs) if d)})  # logs may be outputs
        if not dry_run:
            instance.delete_run(p.item)
            instance.compute_log_manager.delete_logs(prefix=[p.item])
            for f in shards:
                f.unlink(missing_ok=True)
            if shards:  # this process would otherwise take a re-created shard for an initialised one
                getattr(instance.event_log_storage, "_initialized_dbs", set()).discard(p.item)
            if outputs is not None:
                shutil.rmtree(outputs, ignore_errors=True)
        purged.append(Purge(p.zone, p.item, p.judged_by, p.retention_days, size))
    return purged


def _today(context) -> dt.date:
    """The bank's date of the scheduled tick (so a late-started run judges as of its schedule), else now."""
    from dagster._core.storage.tags import SCHEDULED_EXECUTION_TIME_TAG

    text = context.run.tags.get(SCHEDULED_EXECUTION_TIME_TAG)
    when = dt.datetime.fromisoformat(text) if text else dt.datetime.now(dt.UTC)
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return when.astimezone(BANK_TZ).date()


@dg.op(description="Delete raw-zone partitions older than the retention period and record each deletion.")
def purge_raw_zone(
    context: dg.OpExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource, privacy: PrivacyResource
) -> dg.Output:
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


@dg.op(
    description="Delete files of reports/, outbox/ and dq/ and Dagster runs older than their zone's "
    "retention period, and record each deletion in retention_purges."
)
def purge_other_zones(
    context: dg.OpExecutionContext,
    crm_home: CrmHomeResource,
    warehouse: WarehouseResource,
    retention: RetentionResource,
) -> dg.Output:
    from crm.retention import DAGSTER, FILE_ZONES, frame, purge_files, record
    from crm.warehouse import begin

    home = crm_home.home()
    days = retention.days()
    today = _today(context)
    run_id = context.run.run_id
    engine = warehouse.engine()
    try:
        with begin(engine, warehouse.schema) as conn:
            files = purge_files(home.root, days, today=today, conn=conn, run_id=run_id)
        runs = purge_dagster_runs(context.instance, days[DAGSTER], today=today, keep=(run_id,))
        with begin(engine, warehouse.schema) as conn:
            record(conn, runs, run_id=run_id)
    finally:
        engine.dispose()
    runs_frame = frame(runs, run_id=run_id)
    metadata: dict = {"judged_on": str(today)}
    for zone, part in [*((z, files[files["zone"] == z]) for z in FILE_ZONES), (DAGSTER, runs_frame)]:
        metadata[f"{zone}_purged"] = len(part)
        metadata[f"{zone}_bytes"] = int(part["bytes"].sum()) if len(part) else 0
        metadata[f"{zone}_retention_days"] = days[zone]
        context.log.info(f"retention: purged {len(part)} items of {zone} older than {days[zone]} days")
    return dg.Output(None, metadata=metadata)


@dg.job(
    name=RETENTION_JOB,
    description="Retention: delete raw partitions past CRM_RAW_RETENTION_DAYS (recorded "
    "in raw_purges), files of reports/, outbox/ and dq/ and Dagster runs past their own periods "
    "(CRM_REPORTS_RETENTION_DAYS, CRM_OUTBOX_RETENTION_DAYS, CRM_DQ_RETENTION_DAYS, "
    "CRM_DAGSTER_RETENTION_DAYS; recorded in retention_purges).",
)
def raw_retention_job():
    purge_raw_zone()
    purge_other_zones()


raw_retention_schedule = dg.ScheduleDefinition(
    name="raw_retention_daily",
    job=raw_retention_job,
    cron_schedule="30 3 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
