"""The data-quality report on a hand-built month (October 2026, two business dates, two extracts), on DuckDB
and PostgreSQL. Every expected figure is computed by hand in the comments."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from crm import warehouse as wh
from crm.reports.dq import dq_context, is_empty
from crm.reports.figures import figure_map, read_html, reconcile
from crm.reports.leakscan import scan_summary
from crm.reports.render import render_html
from crm.warehouse.marts import replace_partition

D1, D2 = dt.date(2026, 10, 1), dt.date(2026, 10, 2)
T0 = dt.datetime(2026, 10, 3, 9, 0)  # an earlier run of Oct 2 (superseded)
T1 = dt.datetime(2026, 10, 3, 10, 0)  # the current runs
GENERATED = dt.datetime(2026, 11, 2, 8, 30)


def _cut(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(8, 0))


def fill(conn) -> None:
    # arrivals: Oct 1 both on time; Oct 2 customers on time, loans late (an earlier "pending" row is history);
    # a September row is outside the month. -> expected 4, on time 3, late 1, missing 0
    arr = [
        (D1, "customers", "on_time", T1),
        (D1, "loans", "on_time", T1),
        (D2, "customers", "on_time", T1),
        (D2, "loans", "pending", T0),
        (D2, "loans", "late", T1),
        (dt.date(2026, 9, 30), "loans", "missing", T1),
    ]
    wh.append_frame(
        conn,
        wh.dq_arrivals,
        pd.DataFrame(
            [
                {
                    "business_date": d,
                    "extract": e,
                    "expected_by": _cut(d),
                    "status": s,
                    "recorded_at": r,
                    "file_name": None if s in ("pending", "missing") else f"{e.upper()}_{d:%Y%m%d}_001.dat",
                    "arrived_at": None
                    if s in ("pending", "missing")
                    else _cut(d) + dt.timedelta(hours=2 if s == "late" else -6),
                }
                for d, e, s, r in arr
            ]
        ),
    )
    # ingest: Oct 2 customers _001 rejected (control_total, seen twice), restated as _002 -> 1 rejected file
    files = [
        ("CUST_INDV_20261001_001.dat", "customers", D1, 1, 100, "accepted", None),
        ("LOAN_20261001_001.dat", "loans", D1, 1, 50, "accepted", None),
        ("CUST_INDV_20261002_001.dat", "customers", D2, 1, None, "rejected", "control_total"),
        ("CUST_INDV_20261002_001.dat", "customers", D2, 1, None, "rejected", "control_total"),
        ("CUST_INDV_20261002_002.dat", "customers", D2, 2, 120, "accepted", None),
        ("LOAN_20261002_001.dat", "loans", D2, 1, 60, "accepted", None),
    ]
    wh.append_frame(
        conn,
        wh.ingest_files,
        pd.DataFrame(
            [
                {
                    "file_name": f,
                    "extract": e,
                    "business_date": d,
                    "sequence": s,
                    "records": n,
                    "status": st,
                    "reason": r,
                    "control_column": "balance" if n else None,
                    "control_sum": "12345.67" if n else None,
                    "recorded_at": T0,
                }
                for f, e, d, s, n, st, r in files
            ]
        ),
    )
    # rule results (current): evaluated 2,000, failed 30 -> 98.50 %
    #   customers.mobile.format 400/12 + 400/8 = 800/20 -> 97.50 %, failing 2 days
    #   loans.balance.range     200/5  + 200/0 = 400/5  -> 98.75 %
    #   customers.id.not_null   400/0  + 400/5 = 800/5  -> 99.375 % -> 99.38 %
    #   daily: Oct 1 1,000/17 -> 98.30 %, Oct 2 1,000/13 -> 98.70 %; one skipped evaluation
    res = [
        (D1, "customers", "customers.id.not_null", "completeness", "critical", 400, 0, T1),
        (D1, "customers", "customers.mobile.format", "format", "warning", 400, 12, T1),
        (D1, "loans", "loans.balance.range", "range", "critical", 200, 5, T1),
        (D1, "loans", "loans.customer_id.exists", "referential", "critical", 0, 0, T1),  # skipped
        (D2, "customers", "customers.id.not_null", "completeness", "critical", 400, 100, T0),  # superseded
        (D2, "customers", "customers.id.not_null", "completeness", "critical", 400, 5, T1),
        (D2, "customers", "customers.mobile.format", "format", "warning", 400, 8, T1),
        (D2, "loans", "loans.balance.range", "range", "critical", 200, 0, T1),
    ]
    wh.append_frame(
        conn,
        wh.dq_rule_results,
        pd.DataFrame(
            [
                {
                    "partition_key": d.isoformat(),
                    "business_date": d,
                    "extract": e,
                    "suite_version": "v1",
                    "engine": "pandas",
                    "rule_id": r,
                    "family": fam,
                    "severity": sev,
                    "evaluated": ev,
                    "failed": fl,
                    "recorded_at": at,
                    "success": None if r.endswith("exists") else fl == 0,
                    "skipped_reason": "customers absent" if r.endswith("exists") else None,
                }
                for d, e, r, fam, sev, ev, fl, at in res
            ]
        ),
    )
    wh.append_frame(
        conn,
        wh.dq_rules,
        pd.DataFrame(
            [
                {
                    "suite_version": "v1",
                    "rule_id": "customers.mobile.format",
                    "extract": "customers",
                    "family": "format",
                    "severity": "warning",
                    "description": "手机号 (mobile) must be a mainland mobile number",
                    "columns": "mobile",
                    "recorded_at": T0,
                }
            ]
        ),
    )
    # file outcomes: Oct 2 customers has an older run (T0) and the current (T1); Oct 2 loans unbalanced
    # current parsed 100 + 50 + 120 + 60 = 330; quarantined 3 + 1 + 2 + 1 = 7 -> 2.12 %; balanced 3 of 4
    out = [
        ("customers", D1, "CUST_INDV_20261001_001.dat", 100, 97, 3, True, T1),
        ("loans", D1, "LOAN_20261001_001.dat", 50, 49, 1, True, T1),
        ("customers", D2, "CUST_INDV_20261002_002.dat", 120, 110, 10, True, T0),
        ("customers", D2, "CUST_INDV_20261002_002.dat", 120, 118, 2, True, T1),
        ("loans", D2, "LOAN_20261002_001.dat", 60, 58, 1, False, T1),
    ]
    wh.append_frame(
        conn,
        wh.dq_file_outcomes,
        pd.DataFrame(
            [
                {
                    "extract": e,
                    "business_date": d,
                    "source_file": f,
                    "suite_version": "v1",
                    "parsed": p,
                    "accepted": a,
                    "quarantined": q,
                    "accepted_with_warnings": 0,
                    "balanced": b,
                    "recorded_at": at,
                }
                for e, d, f, p, a, q, b, at in out
            ]
        ),
    )
    # quarantine (current): by rule mobile.format 1 + 1 + 2 = 4, id.not_null 2, balance.range 2; the T0 run's
    # ten rows are history
    q = [
        ("customers", D1, "customers.id.not_null", T1),
        ("customers", D1, "customers.id.not_null,customers.mobile.format", T1),
        ("customers", D1, "customers.mobile.format", T1),
        ("loans", D1, "loans.balance.range", T1),
        *[("customers", D2, "customers.id.not_null", T0)] * 10,
        ("customers", D2, "customers.mobile.format", T1),
        ("customers", D2, "customers.mobile.format", T1),
        ("loans", D2, "loans.balance.range", T1),
    ]
    wh.append_frame(
        conn,
        wh.dq_quarantine,
        pd.DataFrame(
            [
                {
                    "extract": e,
                    "business_date": d,
                    "source_file": "f.dat",
                    "row_number": i + 1,
                    "rule_ids": r,
                    "recorded_at": at,
                }
                for i, (e, d, r, at) in enumerate(q)
            ]
        ),
    )
    # purges: two in October (1 MiB + 0.5 MiB = 1.5 MB), one in November (not this month)
    wh.append_frame(
        conn,
        wh.raw_purges,
        pd.DataFrame(
            [
                {
                    "extract": "loans",
                    "business_date": dt.date(2025, 9, 1),
                    "zone": "raw",
                    "file": "2025-09-01.parquet",
                    "bytes": 1048576,
                    "reason": "raw zone retention",
                    "purged_at": dt.datetime(2026, 10, 15, 3),
                },
                {
                    "extract": "loans",
                    "business_date": dt.date(2025, 9, 2),
                    "zone": "raw",
                    "file": "2025-09-02.parquet",
                    "bytes": 524288,
                    "reason": "raw zone retention",
                    "purged_at": dt.datetime(2026, 10, 31, 23, 59),
                },
                {
                    "extract": "loans",
                    "business_date": dt.date(2025, 10, 1),
                    "zone": "raw",
                    "file": "2025-10-01.parquet",
                    "bytes": 999,
                    "reason": "raw zone retention",
                    "purged_at": dt.datetime(2026, 11, 1, 0, 0),
                },
            ]
        ),
    )


@pytest.fixture
def ctx(warehouse):
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        fill(conn)
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        return dq_context(
            conn,
            dt.date(2026, 10, 31),
            policy_version="2026.11-1",
            key_versions=["k2", "k1"],
            leak_scan=scan_summary(12, []),
            generated_at=GENERATED,
        )


def test_context_figures(ctx):
    f = ctx["files"]
    assert (f["expected"], f["arrived"], f["on_time"], f["late"], f["missing"], f["pending"]) == (4, 4, 3, 1, 0, 0)
    assert [d["business_date"] for d in f["daily"]] == [D1, D2]
    assert f["rejected"] == 1
    assert f["rejections"] == [
        {
            "business_date": D2,
            "extract": "customers",
            "file_name": "CUST_INDV_20261002_001.dat",
            "reason": "control_total",
            "replaced_by": "CUST_INDV_20261002_002.dat",
        }
    ]
    assert [(e["extract"], e["status"]) for e in f["exceptions"]] == [("loans", "late")]
    r = ctx["rules"]
    assert (r["evaluated"], r["failed"], r["skipped"], r["rules"], r["failing_rules"]) == (2000, 30, 1, 4, 3)
    assert r["pass_rate"] == pytest.approx(0.985)
    assert [round(d["pass_rate"], 4) for d in r["daily"]] == [0.983, 0.987]
    assert [w["rule_id"] for w in r["worst"]] == [
        "customers.mobile.format",
        "loans.balance.range",
        "customers.id.not_null",
    ]
    assert r["worst"][0]["days_failed"] == 2 and r["worst"][0]["description"].startswith("手机号")
    q = ctx["quarantine"]
    assert (q["rows"], q["parsed"]) == (7, 330)
    assert {x["rule_id"]: x["rows"] for x in q["by_rule"]} == {
        "customers.mobile.format": 4,
        "customers.id.not_null": 2,
        "loans.balance.range": 2,
    }
    assert [(x["extract"], x["quarantined"], x["indexed"]) for x in q["by_extract"]] == [
        ("customers", 5, 5),
        ("loans", 2, 2),
    ]
    assert q["index_agrees"]
    c = ctx["control"]
    assert (len(c["files"]), c["validated"], c["balanced"]) == (4, 4, 3)
    assert [x["file_name"] for x in c["unbalanced"]] == ["LOAN_20261002_001.dat"]
    assert all(x["records_match"] for x in c["files"])
    assert ctx["purges"]["files"] == 2 and ctx["purges"]["bytes"] == 1572864
    assert ctx["masking"]["key_versions"] == ["k1", "k2"]
    assert not is_empty(ctx)


def _tile(html: str, label: str) -> str:
    """The text of a tile's value (without the figure spans around its numbers)."""
    m = re.search(rf'<div class="label">{re.escape(label)}</div>\s*<div class="value">(.*?)</div>', html)
    assert m, label
    return re.sub(r"<[^>]+>", "", m.group(1))


def test_html_figures_zh(ctx):
    html = render_html("dq_report", ctx, "zh_CN")
    assert "<title>数据质量月报 · 2026年10月</title>" in html
    assert _tile(html, "按时到达文件") == "3 / 4"
    assert _tile(html, "迟到 / 缺失") == "1 / 0"
    assert _tile(html, "整文件拒收") == "1"
    assert _tile(html, "规则通过率") == "98.50%"
    assert _tile(html, "隔离记录") == "7"
    assert _tile(html, "记录平衡文件") == "3 / 4"
    assert _tile(html, "泄露扫描") == "通过"
    assert re.search(r'占解析记录 <span class="fig" data-figure="dq.quarantine_rate" [^>]*>2.12%</span>', html)
    for rate in ("97.50%", "98.75%", "99.38%"):
        assert re.search(
            rf'<td class="num"><span class="fig" data-figure="dq.rule.pass_rate" [^>]*>{rate}</span></td>', html
        )
    assert re.search(r'customers\.mobile\.format</td><td class="num"[^>]*>4</td>', html)
    assert "控制总数不符" in html and "CUST_INDV_20261002_002.dat" in html  # the rejection reason, in Chinese
    assert "control_total" not in html and ">format<" not in html  # no reason code, no rule family name
    assert "1.5 MB" in html and "2026.11-1" in html and "k1, k2" in html
    assert html.count("<svg") == 3 and "2026年11月2日 08:30" in html


def test_html_en_and_empty_month(ctx, warehouse):
    html = render_html("dq_report", ctx, "en")
    assert "Monthly data-quality report" in html and "October 2026" in html
    assert _tile(html, "Rule pass rate") == "98.50%"
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        empty = dq_context(
            conn, dt.date(2026, 12, 31), policy_version="p", key_versions=[], leak_scan=None, generated_at=GENERATED
        )
    assert is_empty(empty)
    html = render_html("dq_report", empty, "zh_CN")  # renders anyway, without charts
    assert "<svg" not in html and _tile(html, "泄露扫描") == "未执行"


def test_every_figure_reconciles_with_the_warehouse(ctx, warehouse):
    """Every number of the report's tiles and summary tables names its query in the figure map
    (crm/reports/figures.toml); run on this warehouse (DuckDB and PostgreSQL) with the report's parameters,
    each query gives the report's unrounded value. The month exercises every data-quality figure of the map:
    a late file, a rejected and restated file, superseded runs, quarantine, purges, failing rules."""
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        scan = pd.DataFrame(
            [
                {
                    "month_end": dt.date(2026, 10, 31),
                    "files_scanned": 12,
                    "passed": True,
                    "findings": "",
                    "scanned_at": T1,
                }
            ]
        )
        replace_partition(conn, "report_leak_scans", scan, {"month_end": dt.date(2026, 10, 31)})
    rendered = read_html(render_html("dq_report", ctx, "en"))
    assert rendered.params == {"month_start": "2026-10-01", "month_end": "2026-10-31"}
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        results = reconcile(conn, rendered, report="data_quality")
    bad = [
        f"{r.figure} row {r.row}: report {r.report_value!r}, warehouse {r.warehouse_value!r}: {r.problem}"
        for r in results
        if not r.ok
    ]
    assert not bad, "\n".join(bad)
    shown = {(r.figure, r.row): r.report_value for r in results}
    assert shown[("dq.files_late", None)] == 1 and shown[("dq.files_rejected", None)] == 1
    assert shown[("dq.daily.rejected", "2026-10-02")] == 1 and shown[("dq.quarantined_rows", None)] == 7
    assert (
        shown[("dq.rule.days_failed", "customers.mobile.format")] == 2 and shown[("dq.purged_bytes", None)] == 1572864
    )
    assert {r.figure for r in results} == {f for f, fig in figure_map().items() if fig.report == "data_quality"}
