"""The landing sensor: a run per business date as soon as extract files have their ``.ok`` flag."""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict

import dagster as dg
import sqlalchemy as sa

from crm.contract import BY_FILE_CODE
from crm.ingest.fileformat import FileName
from crm.ingest.load import seen_files
from crm.warehouse import begin
from orchestration.jobs import DAILY_JOB, MONTH_END_JOB, daily_job, month_end_job
from orchestration.partitions import partition_key_for
from orchestration.resources import CrmHomeResource, WarehouseResource


def scan_ok_flags(landing) -> list[tuple[int, str, str]]:
    """(mtime_ns, folder, file name) of every ``.ok`` flag under landing/<YYYYMMDD>/."""
    found = []
    if not landing.is_dir():
        return found
    with os.scandir(landing) as folders:
        for folder in folders:
            if not folder.is_dir() or not folder.name.isdigit():
                continue
            with os.scandir(folder.path) as files:
                for f in files:
                    if f.name.endswith(".ok"):
                        found.append((f.stat().st_mtime_ns, folder.name, f.name))
    return found


def run_requests_for(flags: list[tuple[int, str, str]]) -> list[dg.RunRequest]:
    """Group new flags into one run per (job, partition), selecting only the extracts that arrived."""
    groups: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for _, _, ok_name in flags:
        fn = FileName.parse(ok_name[: -len(".ok")] + ".dat")
        extract = BY_FILE_CODE.get(fn.file_code) if fn else None
        if extract is None:
            continue
        job = MONTH_END_JOB if extract.cadence == "month_end" else DAILY_JOB
        groups[(job, partition_key_for(fn.business_date, extract.cadence))].add((extract.name, ok_name))
    requests = []
    for (job, pk), items in sorted(groups.items()):
        names = sorted(items)
        digest = hashlib.sha1("|".join(n for _, n in names).encode()).hexdigest()[:12]
        requests.append(
            dg.RunRequest(
                run_key=f"{job}:{pk}:{digest}",
                job_name=job,
                partition_key=pk,
                asset_selection=[dg.AssetKey(["raw", e]) for e in sorted({e for e, _ in names})],
                tags={"crm/trigger": "landing_sensor", "crm/files": str(len(names))},
            )
        )
    return requests


@dg.sensor(
    name="landing_sensor",
    jobs=[daily_job, month_end_job],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches ingestion when extract files and their .ok flags arrive in CRM_HOME/landing. "
    "One run per business date (and per month for month-end extracts), selecting the extracts that arrived.",
)
def landing_sensor(context: dg.SensorEvaluationContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    cursor = json.loads(context.cursor) if context.cursor else {"mtime_ns": 0, "names": []}
    last, seen_at_last = cursor["mtime_ns"], set(cursor["names"])
    flags = [f for f in scan_ok_flags(crm_home.home().landing) if f[0] > last or (f[0] == last and f[2] not in seen_at_last)]
    if not flags:
        return dg.SkipReason("no new .ok flags in landing/")
    newest = max(f[0] for f in flags)
    names_at_newest = sorted({f[2] for f in flags if f[0] == newest} | (seen_at_last if newest == last else set()))
    context.update_cursor(json.dumps({"mtime_ns": newest, "names": names_at_newest}))
    # Files the registry already recorded (ingested by `crm run`, say) need no run.
    try:
        engine = warehouse.engine()
        try:
            with begin(engine, warehouse.schema, wait_seconds=20) as conn:
                done = seen_files(conn, [f[2][: -len(".ok")] + ".dat" for f in flags])
        finally:
            engine.dispose()
    except sa.exc.DBAPIError as e:  # the warehouse is busy: launching is safe, ingest is idempotent
        context.log.warning(f"could not read the file registry ({e.__class__.__name__}); launching all")
        done = set()
    flags = [f for f in flags if f[2][: -len(".ok")] + ".dat" not in done]
    if not flags:
        return dg.SkipReason("new .ok flags are for files already in the registry")
    return run_requests_for(flags)
