"""The pipeline's leak scans without Dagster: which personal values of the raw zone a scan looks for, which
files of a period it reads, and what it records for the send gate (on DuckDB and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from crm.delivery import enqueue, ensure_outbox, leak_scan_files
from crm.reports.leakscan import (
    MIN_NAME_LENGTH,
    PERSONAL_KINDS,
    leak_scan_frame,
    leak_scan_of,
    merge_scans,
    raw_personal_values,
    report_files,
    scan_period,
)
from crm.warehouse import begin
from crm.zones import raw_file
from tests.delivery.conftest import render

DAY = dt.date(2026, 10, 31)


def _raw(root, extract: str, frame: pd.DataFrame, day: dt.date = DAY) -> None:
    path = raw_file(root, extract, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)


def test_the_raw_values_a_scan_looks_for(tmp_path):
    raw = tmp_path / "raw"
    _raw(
        raw,
        "customers",
        pd.DataFrame(
            {
                "customer_id": ["C1", "C2", "C3"],
                "customer_name": [" 王小明 ", "康健", None],
                "id_number": ["110101199003077777", None, "1"],
                "mobile": ["13800138000", "13800138000", None],
                "address": ["北京市东城区1号", None, None],
            }
        ),
    )
    _raw(
        raw,
        "related_parties",
        pd.DataFrame({"party_type": ["I", "C"], "related_name": ["李四光", "北京康健服饰有限公司"]}),
    )
    _raw(
        raw, "staff", pd.DataFrame({"staff_name": ["赵钱孙"], "email": ["a.b@bank.example"], "mobile": ["13900139000"]})
    )
    _raw(raw, "deposits", pd.DataFrame({"card_number": ["6222020200112233445"]}))
    _raw(raw, "loans", pd.DataFrame({"repay_card_no": ["6222020200112233446"]}), dt.date(2026, 10, 30))  # not DAY

    values = raw_personal_values(raw, DAY)
    assert set(values) == set(PERSONAL_KINDS)
    # stripped and sorted; a two-character name (康健) is too short to scan, a company related party is left out
    assert values["person_name"] == ["李四光", "王小明", "赵钱孙"]
    assert MIN_NAME_LENGTH == 3
    assert values["id_number"] == ["110101199003077777"]  # other kinds need 2 characters
    assert values["mobile"] == ["13800138000", "13900139000"]
    assert values["address"] == ["北京市东城区1号"]
    assert values["email"] == ["a.b@bank.example"]
    assert values["card_number"] == ["6222020200112233445"]  # the loans partition is of another date
    assert raw_personal_values(tmp_path / "nothing", DAY) == {k: [] for k in PERSONAL_KINDS}


def test_report_files_are_the_outputs_under_a_folder(tmp_path):
    for name in ("a/x.html", "a/x.pdf", "b/c/y.eml", "a/x.json", "z.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("t")
    assert [p.relative_to(tmp_path).as_posix() for p in report_files(tmp_path)] == ["a/x.html", "a/x.pdf", "b/c/y.eml"]
    assert report_files(tmp_path / "missing") == []


@pytest.fixture
def wh(warehouse):
    ensure_outbox(warehouse.engine, warehouse.schema)
    return warehouse


def test_a_period_scan_reads_its_files_and_subjects_and_records_every_verdict(wh, tmp_path):
    ok = render(tmp_path, "key_account", "2026-10", "S0001")
    leaked = render(tmp_path, "key_account", "2026-10", "S0002")
    other = render(tmp_path, "data_quality", "2026-10", "S0003")
    path = tmp_path / "reports" / "key_account" / "2026-10" / "S0002.html"
    path.write_text(path.read_text(encoding="utf-8").replace("</body>", "<p>王小明</p></body>"), encoding="utf-8")
    with begin(wh.engine, wh.schema) as conn:
        enqueue(conn, [ok, leaked, other])
    files = [tmp_path / "reports" / "key_account" / "2026-10" / f"S000{i}.html" for i in (1, 2)]

    def transaction():
        return begin(wh.engine, wh.schema)

    forbidden = {"person_name": ["王小明"]}
    result = scan_period(
        transaction, tmp_path / "reports", "2026-10", files, forbidden, run_id="r1", report="key_account"
    )
    assert result["files_scanned"] == 2 and result["subjects_scanned"] == 2 and not result["passed"]
    assert result["findings"] == ["person_name #0 found in key_account/2026-10/S0002.html"]
    with begin(wh.engine, wh.schema) as conn:
        rows = pd.DataFrame(conn.execute(sa.select(leak_scan_files)).mappings().all())
    assert set(rows["run_id"]) == {"r1"} and set(rows["method"]) == {"values"} and set(rows["period"]) == {"2026-10"}
    verdicts = dict(zip(rows["source"], rows["passed"], strict=True))
    assert not verdicts["key_account/2026-10/S0002.html"]
    assert verdicts["key_account/2026-10/S0001.html"]
    assert len(verdicts) == 4  # two files and the two key-account subjects; the data-quality row is not read
    everything = scan_period(transaction, tmp_path / "reports", "2026-10", [], forbidden, run_id="r2")
    assert everything["subjects_scanned"] == 3 and everything["passed"]


def test_a_month_and_its_quarter_as_one_result_and_its_row():
    month = {"files_scanned": 3, "subjects_scanned": 2, "passed": True, "findings": []}
    quarter = {"files_scanned": 1, "subjects_scanned": 1, "passed": False, "findings": ["email #0 found in q.html"]}
    merged = merge_scans([month, quarter])
    assert merged == {
        "files_scanned": 4,
        "findings": ["email #0 found in q.html"],
        "passed": False,
        "subjects_scanned": 3,
    }
    assert merge_scans([month])["passed"]
    at = dt.datetime(2026, 11, 1, 10)
    frame = leak_scan_frame(DAY, merged, at)
    assert frame.to_dict("records") == [
        {
            "month_end": DAY,
            "files_scanned": 4,
            "passed": False,
            "findings": "email #0 found in q.html",
            "scanned_at": at,
        }
    ]
    assert leak_scan_of(frame) == {"files_scanned": 4, "passed": False, "findings": ["email #0 found in q.html"]}
    assert leak_scan_of(frame.iloc[:0]) is None
    clean = leak_scan_frame(DAY, merge_scans([month]), at)
    assert leak_scan_of(clean) == {"files_scanned": 3, "passed": True, "findings": []}
