import datetime as dt

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from crm import contract
from crm.ingest.fileformat import write_extract
from crm.ingest.load import ingest_partition
from crm.warehouse import begin, ingest_files
from crm.zones import landing_dir
from tests.ingest.frames import loans_frame

D = dt.date(2026, 1, 31)
LOANS = contract.get("loans")


@pytest.fixture
def zone(tmp_path, warehouse):
    landing, raw = tmp_path / "landing", tmp_path / "raw"

    def run(run_id="r1"):
        return ingest_partition(
            LOANS, D, landing=landing, raw=raw, engine=warehouse.engine, schema=warehouse.schema, run_id=run_id
        )

    def drop(df, seq=1, ok=True):
        return write_extract(df, LOANS, D, landing_dir(landing, D), sequence=seq, write_ok=ok)

    def log():
        with begin(warehouse.engine, warehouse.schema) as c:
            return c.execute(sa.select(ingest_files).order_by(ingest_files.c.recorded_at)).mappings().all()

    return run, drop, log


def test_missing_until_ok_flag(zone):
    run, drop, log = zone
    drop(loans_frame(), ok=False)
    assert run().status == "missing"
    assert log() == []


def test_accept_then_rerun_is_unchanged(zone):
    run, drop, log = zone
    drop(loans_frame())
    first = run()
    assert first.status == "accepted" and first.records == 4
    mtime = first.raw_path.stat().st_mtime_ns
    before = pq.read_table(first.raw_path)
    second = run("r2")
    assert second.status == "unchanged"
    assert first.raw_path.stat().st_mtime_ns == mtime
    assert pq.read_table(first.raw_path).equals(before)
    assert [r["status"] for r in log()] == ["accepted", "unchanged"]
    assert log()[0]["records"] == 4 and log()[0]["control_sum"] == "10001.00"


def test_restatement_replaces_partition(zone):
    run, drop, log = zone
    drop(loans_frame(4))
    run()
    drop(loans_frame(2), seq=2)
    out = run("r2")
    assert out.status == "accepted" and out.sequence == 2
    table = pq.read_table(out.raw_path)
    assert table.num_rows == 2
    assert set(table.column("_source_file").to_pylist()) == {"LOAN_20260131_002.dat"}


def test_rejected_restatement_keeps_last_good_partition(zone):
    run, drop, log = zone
    drop(loans_frame(4))
    good = run()
    good_table = pq.read_table(good.raw_path)
    path = drop(loans_frame(3), seq=2)
    data = path.read_bytes().replace(b"T|3|", b"T|30|")
    path.write_bytes(data)
    out = run("r2")
    assert out.status == "rejected" and out.reason == "control_total"
    assert "LOAN_20260131_002.dat" in out.error and "trailer 30 records" in out.error
    assert pq.read_table(good.raw_path).equals(good_table)
    rows = log()
    assert [r["status"] for r in rows] == ["accepted", "rejected"]
    assert rows[1]["reason"] == "control_total" and rows[1]["sha256"]


def test_lower_sequences_recorded_as_superseded(zone):
    run, drop, log = zone
    drop(loans_frame(4), seq=1)
    drop(loans_frame(3), seq=2)
    out = run()
    assert out.sequence == 2 and out.superseded == ["LOAN_20260131_001.dat"]
    assert sorted(r["status"] for r in log()) == ["accepted", "superseded"]
    run("r2")
    assert [r["status"] for r in log()].count("superseded") == 1
