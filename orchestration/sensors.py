"""The landing sensor: a run per business date as soon as extract files have their ``.ok`` flag."""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict

import dagster as dg
import sqlalchemy as sa

from crm.bank_calendar import partition_key_for
from crm.contract import BY_FILE_CODE, BY_NAME, EXTRACTS
from crm.ingest.fileformat import FileName
from crm.ingest.load import seen_files
from crm.warehouse import begin
from orchestration.jobs import DAILY_JOB, MONTH_END_JOB, daily_job, month_end_job
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


def _referencing(extract: str) -> set[str]:
    """Extracts whose reference rules read ``extract`` (their staged partitions re-validate when it changes)."""
    from crm.quality.references import reference_targets

    return {e.name for e in EXTRACTS if extract in reference_targets(e.name)}


def selection_for(job: str, extracts: set[str]) -> list[dg.AssetKey]:
    """Raw and staged assets of the arrived extracts, the staged assets whose references they feed (same
    partitioning), and the arrival register for daily runs; for month-end runs the month's marts, the
    scorecard training and the scores."""
    cadence = "month_end" if job == MONTH_END_JOB else "daily"
    staged = set(extracts)
    for name in extracts:
        staged |= {n for n in _referencing(name) if BY_NAME[n].cadence == cadence}
    keys = [dg.AssetKey(["raw", e]) for e in sorted(extracts)]
    keys += [dg.AssetKey(["staged", e]) for e in sorted(staged)]
    if job == DAILY_JOB:
        keys.append(dg.AssetKey(["dq", "arrivals"]))
    else:  # month-end files complete the month: rebuild its marts, train and score
        from assets.marts import MART_KEYS
        from assets.playbook import PLAYBOOK_KEYS
        from assets.scoring import SCORING_KEYS

        keys += [*MART_KEYS, *SCORING_KEYS, *PLAYBOOK_KEYS]
    return keys


def run_requests_for(flags: list[tuple[int, str, str]]) -> list[dg.RunRequest]:
    """Group flags into one run per (job, partition), selecting what the arrived extracts feed. The run key
    is a digest of the file names, so the same files never launch twice."""
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
                asset_selection=selection_for(job, {e for e, _ in names}),
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
    # No modification-time cursor: a file may arrive with an old time (copied with its time kept, or
    # restated), so every tick lists all flags and launches those whose file the registry has not recorded;
    # run keys keep a file from launching twice while its run is queued.
    flags = scan_ok_flags(crm_home.home().landing)
    if not flags:
        return dg.SkipReason("no .ok flags in landing/")
    try:
        engine = warehouse.engine()
        try:
            with begin(engine, warehouse.schema, wait_seconds=20) as conn:
                done = seen_files(conn, [f[2][: -len(".ok")] + ".dat" for f in flags])
        finally:
            engine.dispose()
    except sa.exc.DBAPIError as e:  # the warehouse is busy: try again next tick
        return dg.SkipReason(f"could not read the file registry ({e.__class__.__name__}); will retry")
    flags = [f for f in flags if f[2][: -len(".ok")] + ".dat" not in done]
    if not flags:
        return dg.SkipReason("every flagged file is already in the registry")
    return run_requests_for(flags)
