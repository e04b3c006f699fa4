"""Retention of reports/, outbox/ and dq/ (crm.retention): dates from paths, old files go, recent and undated
ones stay, every deletion is recorded, a dry run changes nothing, nothing outside a zone is touched."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path, PurePosixPath

import pandas as pd
import pytest
import sqlalchemy as sa

from crm import retention
from crm import warehouse as wh

TODAY = dt.date(2026, 2, 15)
DAYS = {"reports": 365, "outbox": 365, "dq": 365, "dagster": 30}  # cut-off 2025-02-15
RUN = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"

OLD = [
    "reports/2025-01/key_account/R001.html",
    "reports/2025-01/key_account/R001.pdf",
    "reports/2025-W02/watch_digest/R001.html",
    f"reports/2025-01-05/run_failure/{RUN}.html",
    "outbox/key_account__2025-01__R001.eml",
    "outbox/watch_digest__2025-W02__R001__g1.eml",
    "outbox/run_failure__20250105-0f1e2d3c4b5__D001.eml",
    "dq/validations/staff/v3/run1/20250201T000000.000000Z/20250131.json",
    "dq/site/validations/staff/v3/run1/20250201T000000.000000Z/20250101-20250131.html",
]
RECENT = [
    "reports/2025-Q1/satisfaction/bank.html",  # the quarter ends 2025-03-31: kept
    "reports/2026-01/branch/B001.html",
    "outbox/branch__2026-01__B001.eml",
    "outbox/satisfaction__2025-Q1__B001.eml",
    "dq/validations/staff/v3/run2/20260201T000000.000000Z/20250201-20250228.json",  # a range: its end
]
UNDATED = [
    "reports/loose.html",  # not in a period folder
    "reports/notes/2020-01.txt",  # the first folder is not a period
    "outbox/notes.eml",
    "outbox/.key_account__2025-01__R001.eml.3f2a.tmp",  # a temporary file: not an .eml name
    "dq/site/index.html",
    "dq/site/index.json",
    "dq/site/site.css",
    "dq/site/static/styles/data_docs_default_styles.css",  # left by a site GX built (older installations)
    "dq/.docs.lock",
]


def _tree(root: Path) -> dict[str, bytes]:
    for i, rel in enumerate(OLD + RECENT + UNDATED):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x" * (i + 1))
    return {rel: (root / rel).read_bytes() for rel in OLD + RECENT + UNDATED}


def _records(warehouse) -> pd.DataFrame:
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        return pd.DataFrame(conn.execute(sa.select(wh.retention_purges)).mappings().all(), columns=retention.COLUMNS)


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ("2026-01", dt.date(2026, 1, 31)),
        ("2024-02", dt.date(2024, 2, 29)),
        ("2026-12", dt.date(2026, 12, 31)),
        ("2026-Q1", dt.date(2026, 3, 31)),
        ("2026-Q4", dt.date(2026, 12, 31)),
        ("2026-W01", dt.date(2026, 1, 4)),
        ("2026-W53", dt.date(2027, 1, 3)),
        ("2026-01-31", dt.date(2026, 1, 31)),
        ("20260131", dt.date(2026, 1, 31)),
        ("20260101-20260131", dt.date(2026, 1, 31)),
        ("20260201-0f1e2d3c4b5", dt.date(2026, 2, 1)),
        ("2026-13", None),
        ("2026-Q5", None),
        ("2025-W53", None),
        ("20260231", None),
        ("20260131-20260101", None),
        ("bank", None),
        ("R2026-01", None),
        ("2026-01-31x", None),
        ("", None),
        # years at the edge of the calendar: judged or ignored, never an error that stops the purge
        ("9999-12", dt.date(9999, 12, 31)),
        ("9999-Q4", dt.date(9999, 12, 31)),
        ("0000-06", None),
        ("0000-Q2", None),
    ],
)
def test_period_end(text, end):
    assert retention.period_end(text) == end


def test_judged_dates_follow_each_zones_layout():
    j = retention.judged_date
    assert j("reports", PurePosixPath("2026-01/key_account/R1.html")) == dt.date(2026, 1, 31)
    assert j("reports", PurePosixPath("2026-01.html")) is None  # a file at the top: no period folder
    assert j("outbox", PurePosixPath("key_account__2026-01__R1.eml")) == dt.date(2026, 1, 31)
    assert j("outbox", PurePosixPath("sub/key_account__2026-01__R1.eml")) is None
    assert j("dq", PurePosixPath("validations/s/r/t/20260131.json")) == dt.date(2026, 1, 31)
    assert j("dq", PurePosixPath("site/validations/s/r/t/20260131.html")) == dt.date(2026, 1, 31)
    assert j("dq", PurePosixPath("elsewhere/20260131.json")) is None
    with pytest.raises(ValueError, match="unknown zone"):
        j("raw", PurePosixPath("loans/2026-01-31.parquet"))


def test_old_files_go_recent_and_undated_stay_and_every_deletion_is_recorded(tmp_path, warehouse):
    home = tmp_path / "home"
    before = _tree(home)
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        purged = retention.purge_files(home, DAYS, today=TODAY, conn=conn, run_id="r1")
    assert sorted(f"{z}/{i}" for z, i in zip(purged["zone"], purged["item"], strict=True)) == sorted(OLD)
    for rel in OLD:
        assert not (home / rel).exists(), rel
    for rel in RECENT + UNDATED:
        assert (home / rel).read_bytes() == before[rel], rel
    # folders emptied by the purge are gone; the zone folders stay
    assert not (home / "reports" / "2025-01").exists() and not (home / "reports" / "2025-W02").exists()
    assert not (home / "dq" / "validations" / "staff" / "v3" / "run1").exists()
    assert (home / "dq" / "validations" / "staff" / "v3" / "run2").is_dir()
    assert all((home / z).is_dir() for z in retention.FILE_ZONES)

    rows = _records(warehouse)
    assert len(rows) == len(OLD) and set(rows["run_id"]) == {"r1"}
    assert sorted(rows["zone"] + "/" + rows["item"]) == sorted(OLD)
    assert (rows["retention_days"] == 365).all() and rows["purged_at"].notna().all()
    by_item = rows.set_index("item")
    assert by_item.loc["2025-01/key_account/R001.html", "judged_by"] == dt.date(2025, 1, 31)
    assert by_item.loc["run_failure__20250105-0f1e2d3c4b5__D001.eml", "judged_by"] == dt.date(2025, 1, 5)
    assert by_item.loc["2025-W02/watch_digest/R001.html", "judged_by"] == dt.date(2025, 1, 12)
    assert rows["bytes"].tolist() == [len(before[f"{z}/{i}"]) for z, i in zip(rows["zone"], rows["item"], strict=True)]

    # a second run finds nothing more and records nothing more
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        assert retention.purge_files(home, DAYS, today=TODAY, conn=conn, run_id="r2").empty
    assert len(_records(warehouse)) == len(OLD)


def test_dry_run_deletes_and_records_nothing(tmp_path, warehouse):
    home = tmp_path / "home"
    before = _tree(home)
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        dry = retention.purge_files(home, DAYS, today=TODAY, conn=conn, run_id="r1", dry_run=True)
    assert sorted(dry["zone"] + "/" + dry["item"]) == sorted(OLD)
    assert {rel: (home / rel).read_bytes() for rel in before} == before
    assert _records(warehouse).empty


def test_each_zone_has_its_own_period(tmp_path):
    home = tmp_path / "home"
    _tree(home)
    purged = retention.purge_files(home, {**DAYS, "reports": 5000}, today=TODAY, zones=["reports", "outbox"])
    assert set(purged["zone"]) == {"outbox"}  # reports kept for 5000 days; dq not asked for
    assert (home / OLD[0]).exists() and (home / OLD[-1]).exists()


def test_nothing_outside_a_zone_is_touched(tmp_path):
    """Links inside a zone (to a folder or a file outside it, with old-looking names) are neither followed nor
    deleted, and what they point to stays."""
    home, outside = tmp_path / "home", tmp_path / "outside"
    (outside / "2020-01" / "key_account").mkdir(parents=True)
    secret = outside / "2020-01" / "key_account" / "R9.html"
    secret.write_bytes(b"outside")
    mail = outside / "key_account__2020-01__R9.eml"
    mail.write_bytes(b"outside")
    for zone in retention.FILE_ZONES:
        (home / zone).mkdir(parents=True)
    os.symlink(outside / "2020-01", home / "reports" / "2020-01")  # a period folder that is a link
    os.symlink(mail, home / "outbox" / "key_account__2020-01__R9.eml")  # an old .eml that is a link
    (home / "dq" / "validations").mkdir()
    os.symlink(outside, home / "dq" / "validations" / "s")
    purged = retention.purge_files(home, DAYS, today=TODAY)
    assert purged.empty
    assert secret.read_bytes() == b"outside" and mail.read_bytes() == b"outside"
    assert (home / "reports" / "2020-01").is_symlink() and (
        home / "outbox" / "key_account__2020-01__R9.eml"
    ).is_symlink()


def test_a_zone_folder_that_is_missing_is_nothing_to_purge(tmp_path):
    assert retention.purge_files(tmp_path, DAYS, today=TODAY).empty


def test_periods_come_from_the_environment_with_defaults():
    assert (
        retention.retention_days({})
        == retention.DEFAULT_DAYS
        == {"reports": 400, "outbox": 400, "dq": 1825, "dagster": 180}
    )
    days = retention.retention_days({"CRM_DQ_RETENTION_DAYS": "3650", "CRM_OUTBOX_RETENTION_DAYS": ""})
    assert days["dq"] == 3650 and days["outbox"] == 400
    for bad in ("0", "-1", "ten", "1.5"):
        with pytest.raises(ValueError, match="CRM_REPORTS_RETENTION_DAYS"):
            retention.retention_days({"CRM_REPORTS_RETENTION_DAYS": bad})


def test_runs_are_judged_by_their_end_date_in_bank_time():
    runs = [
        ("a", dt.datetime(2026, 1, 15, 15, 59)),  # 23:59 on the 15th in the bank: kept with a 31-day cut
        ("b", dt.datetime(2026, 1, 14, 16, 0)),  # 00:00 on the 15th in the bank: kept
        ("c", dt.datetime(2026, 1, 14, 15, 59, tzinfo=dt.UTC)),  # 23:59 on the 14th: purged
    ]
    purged = retention.runs_to_purge(runs, 31, today=TODAY)
    assert [(p.item, p.judged_by, p.zone) for p in purged] == [("c", dt.date(2026, 1, 14), "dagster")]


def test_cli_dry_run_then_purge(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from crm.cli import main

    home = tmp_path / "home"
    before = _tree(home)
    for name in ("CRM_HOME", "CRM_WAREHOUSE_URL", *retention.ENV.values()):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CRM_REPORTS_RETENTION_DAYS", "365")
    monkeypatch.setenv("CRM_OUTBOX_RETENTION_DAYS", "365")
    monkeypatch.setenv("CRM_DQ_RETENTION_DAYS", "365")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))  # an empty instance: no run to purge
    monkeypatch.setenv("CRM_DAGSTER_DIR", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    args = ["--home", str(home), "retention", "purge", "--today", TODAY.isoformat()]
    out = CliRunner().invoke(main, [*args, "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "reports: would purge 4 files" in out.output and "dagster: would purge 0 runs" in out.output
    assert {rel: (home / rel).read_bytes() for rel in before} == before

    out = CliRunner().invoke(main, [*args, "--zone", "outbox", "--zone", "dq"])
    assert out.exit_code == 0, out.output
    assert "outbox: purged 3 files" in out.output and "dq: purged 2 files" in out.output
    assert "reports:" not in out.output and (home / OLD[0]).exists()
    assert not any((home / rel).exists() for rel in OLD if not rel.startswith("reports/"))
    engine = wh.make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        with wh.begin(engine) as conn:
            rows = pd.DataFrame(conn.execute(sa.select(wh.retention_purges)).mappings().all())
    finally:
        engine.dispose()
    assert len(rows) == 5 and set(rows["run_id"]) == {"cli"} and set(rows["zone"]) == {"outbox", "dq"}

    monkeypatch.setenv("CRM_DQ_RETENTION_DAYS", "0")
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 1 and "CRM_DQ_RETENTION_DAYS must be at least 1" in out.output
