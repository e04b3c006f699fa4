"""The synthetic bank through the real CLI and the Dagster instance: generate, parse, ingest with ``crm run``,
rerun, injected defects, determinism. On a bank of its own (not the session's bank of tests/conftest.py), so
it runs in parallel with the files that share that bank (tests/test_end_to_end.py and the others listed in
tests/conftest.py BANK_FILES)."""

import csv
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from crm import contract
from crm.contract import EXTRACTS
from crm.ingest.fileformat import read_extract
from crm.ingest.load import ingest_partition
from crm.synthetic import generate
from crm.warehouse import begin, ensure_schema, ingest_files, make_engine
from crm.zones import landing_dir

pytestmark = pytest.mark.slow  # the fixtures run pipelines: the longer per-test timeout

REPO = Path(__file__).resolve().parents[1]
CRM = str(Path(sys.executable).parent / "crm")
FIRST, LAST = dt.date(2026, 1, 30), dt.date(2026, 2, 1)  # spans the month-end 2026-01-31
DATES = [FIRST + dt.timedelta(days=i) for i in range((LAST - FIRST).days + 1)]


def _env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME",)}
    env.update(
        CRM_HOME=str(tmp / "home"), CRM_DAGSTER_DIR=str(tmp / "dagster"), CRM_ENV="local", CRM_EXECUTOR="in_process"
    )
    return env


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    generate(tmp / "home" / "landing", customers=300, start=FIRST, end=LAST, seed=11)
    return tmp


def _registry(home: Path) -> pd.DataFrame:
    engine = make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    with begin(engine) as c:
        df = pd.DataFrame(c.execute(sa.select(ingest_files)).mappings().all())
    engine.dispose()
    return df


def test_generated_files_round_trip_through_the_parser(bank):
    """Every file the generator writes parses against the contract with no type errors."""
    landing = bank / "home" / "landing"
    for e in EXTRACTS:
        days = [d for d in DATES if e.cadence == "daily" or d == dt.date(2026, 1, 31)]
        for d in days:
            files = sorted(landing_dir(landing, d).glob(f"{e.file_code}_{d:%Y%m%d}_*.dat"))
            assert len(files) == 1, f"{e.name} {d}: {files}"
            parsed = read_extract(files[0], e)
            assert parsed.type_error_rows == 0, f"{files[0].name}: {parsed.type_error_rows} rows with type errors"
            assert parsed.table.column_names[: len(e.columns)] == e.column_names
    assert not list(landing_dir(landing, FIRST).glob("LOAN_PERF_*")), "month-end extract on a non month-end date"


@pytest.fixture(scope="module")
def ran(bank):
    """`crm run` of one business date that is not a month end (the daily pipeline), once for the module."""
    env = _env(bank)
    proc = subprocess.run(
        [CRM, "run", "--date", FIRST.isoformat()], env=env, capture_output=True, text=True, cwd=REPO, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return bank, env, proc


def test_crm_run_ingests_a_date_into_the_instance_and_a_rerun_rewrites_nothing(ran):
    bank, env, proc = ran
    assert "failed check (error)" not in proc.stdout and "failed step" not in proc.stdout
    home = bank / "home"
    daily = [e for e in EXTRACTS if e.cadence == "daily"]
    for e in daily:
        assert (home / "raw" / e.name / f"{FIRST.isoformat()}.parquet").exists(), e.name
        assert (home / "staged" / e.name / f"{FIRST.isoformat()}.parquet").exists(), e.name
    reg = _registry(home)
    assert set(reg["status"]) == {"accepted"} and len(reg) == len(daily)

    # the runs are in the instance that `crm ui` shows
    os.environ["CRM_DAGSTER_DIR"] = env["CRM_DAGSTER_DIR"]
    try:
        with dg.DagsterInstance.from_config(str(REPO)) as instance:
            runs = instance.get_runs()
            assert [r.job_name for r in runs] == ["daily_pipeline"] and runs[0].is_success
            assert runs[0].tags["dagster/partition"] == FIRST.isoformat()
    finally:
        del os.environ["CRM_DAGSTER_DIR"]

    # a rerun of the date rewrites nothing and records the files as unchanged (a month end's reports rerun
    # without resending: tests/test_scheduled_jobs.py)
    loans = home / "raw" / "loans" / f"{FIRST.isoformat()}.parquet"
    before = loans.stat().st_mtime_ns
    proc = subprocess.run(
        [CRM, "run", "--date", FIRST.isoformat()], env=env, capture_output=True, text=True, cwd=REPO, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert loans.stat().st_mtime_ns == before
    reg = _registry(home)
    assert (reg["status"] == "unchanged").sum() == len(daily)


FILE_LEVEL = {
    "wrong_control_total": {"control_total"},
    "truncated_file": {"truncated", "control_total"},
    "undecodable_bytes": {"encoding"},
}


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_every_injected_defect_is_caught_or_accounted_for(tmp_path, encoding):
    day = dt.date(2026, 1, 31)
    landing = tmp_path / "landing"
    generate(landing, customers=400, start=day, end=day, seed=5, encoding=encoding, defect_rate=0.05)
    with open(landing / "defects.csv", newline="", encoding="utf-8") as f:
        defects = list(csv.DictReader(f))
    kinds = {d["kind"] for d in defects}
    assert set(FILE_LEVEL) <= kinds, kinds

    engine = make_engine(f"duckdb:///{tmp_path / 'w.duckdb'}")
    ensure_schema(engine)
    outcomes = {}
    for e in EXTRACTS:
        out = ingest_partition(e, day, landing=landing, raw=tmp_path / "raw", engine=engine)
        if out.file_name:
            outcomes[out.file_name] = out
    engine.dispose()

    bad_files = {d["file"] for d in defects if d["kind"] in FILE_LEVEL}
    for d in defects:
        out = outcomes[d["file"]]
        if d["kind"] in FILE_LEVEL:
            assert out.status == "rejected", d
            assert out.reason in FILE_LEVEL[d["kind"]], (d, out.reason, out.error)
            assert d["file"] in out.error
        elif d["file"] not in bad_files:
            # row-level defects reach the raw zone, every one traceable to its file and record
            assert out.status == "accepted", (d, out.error)
            table = pq.read_table(out.raw_path).to_pandas()
            rows = table[table["_row_number"] == int(d["row_number"])]
            assert len(rows) == 1, d
            row = rows.iloc[0]
            assert row["_source_file"] == d["file"]
            if d["kind"] == "missing_mandatory":
                assert pd.isna(row[d["column"]]), d
            if d["kind"] == "negative_amount":
                assert row[d["column"]] < 0, d
    # files without defects are all accepted
    for name, out in outcomes.items():
        if name not in bad_files:
            assert out.status == "accepted", (name, out.error)
    # no file-level rejection without a listed defect
    assert {n for n, o in outcomes.items() if o.status == "rejected"} == bad_files


def test_generator_is_deterministic(tmp_path):
    day = dt.date(2026, 1, 31)
    generate(tmp_path / "a", customers=150, start=day, end=day, seed=3)
    generate(tmp_path / "b", customers=150, start=day, end=day, seed=3)
    for f in sorted((tmp_path / "a" / "20260131").glob("*.dat")):
        assert f.read_bytes() == (tmp_path / "b" / "20260131" / f.name).read_bytes(), f.name
    assert contract.get("loans")
