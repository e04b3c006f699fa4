"""The retention job beyond the raw zone: old Dagster runs go with their event logs and compute logs, the
files of reports/, outbox/ and dq/ past their periods go, and every deletion is recorded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from dagster._core.storage.tags import SCHEDULED_EXECUTION_TIME_TAG

from crm import warehouse as wh
from orchestration.resources import CrmHomeResource, PrivacyResource, RetentionResource, WarehouseResource
from orchestration.retention import purge_dagster_runs, raw_retention_job


@dg.op
def chatty():
    print("a line for the compute log")


@dg.job
def small_job():
    chatty()


def _runs(instance, n):
    return [small_job.execute_in_process(instance=instance).run_id for _ in range(n)]


def _on_disk(instance, run_id) -> list[Path]:
    base = Path(instance.root_directory)
    return [p for p in base.rglob("*") if run_id in p.name and p.exists()]


def test_old_runs_are_deleted_with_their_event_and_compute_logs():
    with dg.instance_for_test() as instance:
        a, b = _runs(instance, 2)
        assert _on_disk(instance, a)  # the run's event-log shard and its compute-log folder
        today = dt.datetime.now(dt.UTC).date()
        # judged as of a later day: the runs ended 10 days before it
        assert purge_dagster_runs(instance, 30, today=today + dt.timedelta(days=10)) == []
        dry = purge_dagster_runs(instance, 5, today=today + dt.timedelta(days=10), dry_run=True)
        assert sorted(p.item for p in dry) == sorted([a, b]) and all(p.bytes > 0 for p in dry)
        assert instance.get_run_by_id(a) and _on_disk(instance, a)

        purged = purge_dagster_runs(instance, 5, today=today + dt.timedelta(days=10), keep=(b,))
        assert [p.item for p in purged] == [a] and purged[0].zone == "dagster" and purged[0].retention_days == 5
        assert purged[0].bytes == dry[[p.item for p in dry].index(a)].bytes
        assert instance.get_run_by_id(a) is None
        assert _on_disk(instance, a) == []  # shard file, compute logs, outputs
        assert not instance.get_records_for_run(a).records
        assert instance.get_run_by_id(b) and _on_disk(instance, b)  # kept


def test_the_retention_job_purges_every_zone_and_records_it(tmp_path):
    home = tmp_path / "home"
    old = [
        "reports/2000-01/key_account/R001.html",
        "outbox/key_account__2000-01__R001.eml",
        "dq/validations/s/r/t/20000131.json",
    ]
    recent = [
        "reports/2999-01/key_account/R001.html",
        "outbox/key_account__2999-01__R001.eml",
        "dq/validations/s/r/t/29990131.json",
    ]
    for rel in old + recent:
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_bytes(b"x")
    resources = {
        "crm_home": CrmHomeResource(root=str(home)),
        "warehouse": WarehouseResource(crm_home=str(home)),
        "privacy": PrivacyResource(crm_home=str(home), create_if_missing=True),
        "retention": RetentionResource(reports_days=365, outbox_days=365, dq_days=365, dagster_days=30),
    }
    # the run is judged as of its scheduled tick, 60 days from now: an earlier run is then 60 days old
    tags = {SCHEDULED_EXECUTION_TIME_TAG: (dt.datetime.now(dt.UTC) + dt.timedelta(days=60)).isoformat()}
    with dg.instance_for_test() as instance:
        (earlier,) = _runs(instance, 1)
        result = raw_retention_job.execute_in_process(instance=instance, resources=resources, tags=tags)
        assert result.success
        assert instance.get_run_by_id(earlier) is None and instance.get_run_by_id(result.run_id)
    out = next(
        e for e in result.all_events if e.event_type_value == "STEP_OUTPUT" and e.step_key == "purge_other_zones"
    )
    meta = {k: v.value for k, v in out.step_output_data.metadata.items()}
    assert meta["reports_purged"] == meta["outbox_purged"] == meta["dq_purged"] == meta["dagster_purged"] == 1
    for rel in old:
        assert not (home / rel).exists(), rel
    for rel in recent:
        assert (home / rel).exists(), rel
    engine = wh.make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        with wh.begin(engine) as conn:
            rows = pd.DataFrame(conn.execute(sa.select(wh.retention_purges)).mappings().all())
    finally:
        engine.dispose()
    assert sorted(rows["zone"] + "/" + rows["item"]) == sorted([*old, f"dagster/{earlier}"])
    assert set(rows["run_id"]) == {result.run_id}
    assert dict(zip(rows["zone"], rows["retention_days"], strict=True)) == {
        "reports": 365,
        "outbox": 365,
        "dq": 365,
        "dagster": 30,
    }
