"""The figure map (crm/reports/figures*.toml) and the figures of a rendered report, without a bank: the loader
refuses a malformed map, the HTML reader finds every figure with its row and the report's parameters, and the
reconciliation names each disagreement. The demo bank's reports are reconciled in tests/test_report_readers.py."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from crm.reports.data import watch_digest_context
from crm.reports.figures import (
    FigureMapError,
    figure_map,
    load_map,
    read_html,
    reconcile,
    same,
    value_of,
)
from crm.reports.plan import REPORT_KINDS
from crm.reports.render import render_html
from crm.warehouse import begin, make_engine

ENTRY = """
["{fid}"]
report = "{report}"
label = {{ zh_CN = "数", en = "A number" }}
kind = "{kind}"
sql = "SELECT 1"
"""


def _write(folder, name, text):
    (folder / name).write_text(text, encoding="utf-8")


def test_the_installed_map_loads_and_names_known_reports_only():
    fmap = figure_map()
    assert fmap and {f.report for f in fmap.values()} <= set(REPORT_KINDS)
    assert fmap["br.loan_balance"].kind == "scalar" and fmap["br.loan_balance"].params == ["month_end", "branch_id"]
    assert fmap["wd.warnings"].kind == "table" and fmap["wd.warnings"].source == "figures.toml"
    assert {f.report for f in fmap.values() if f.source == "figures.toml"} == {
        "branch",
        "satisfaction",
        "satisfaction_quarter",
        "watch_digest",
        "data_quality",
    }


def test_an_id_defined_in_two_files_is_an_error(tmp_path):
    _write(tmp_path, "figures.toml", ENTRY.format(fid="br.x", report="branch", kind="scalar"))
    _write(tmp_path, "figures_ka.toml", ENTRY.format(fid="br.x", report="branch", kind="scalar"))
    with pytest.raises(FigureMapError, match=r"'br\.x' is defined in both figures\.toml and figures_ka\.toml"):
        load_map(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ENTRY.format(fid="br.x", report="branch", kind="vector"), "kind must be one of scalar, table"),
        (ENTRY.format(fid="br.x", report="nonesuch", kind="scalar"), "unknown report 'nonesuch'"),
        (ENTRY.format(fid="Br x", report="branch", kind="scalar"), "dotted lower_snake_case"),
        (ENTRY.format(fid="br.x", report="branch", kind="scalar").replace(', en = "A number"', ""), "label must"),
        (ENTRY.format(fid="br.x", report="branch", kind="scalar") + 'unit = "yuan"\n', "unknown fields"),
        (ENTRY.format(fid="br.x", report="branch", kind="scalar").replace('sql = "SELECT 1"', ""), "missing"),
        ('["br.x"\n', "not valid TOML"),
    ],
)
def test_a_malformed_entry_is_an_error_naming_the_file_and_the_id(tmp_path, text, message):
    _write(tmp_path, "figures_x.toml", text)
    with pytest.raises(FigureMapError, match=message) as e:
        load_map(tmp_path, reports={"branch"})
    assert "figures_x.toml" in str(e.value)


def test_only_figures_files_are_read(tmp_path):
    _write(tmp_path, "figures_risk.toml", ENTRY.format(fid="risk.x", report="branch", kind="table"))
    _write(tmp_path, "messages.toml", '"a" = { zh_CN = "甲", en = "a" }\n')
    assert list(load_map(tmp_path, reports={"branch"})) == ["risk.x"]


HTML = """<!DOCTYPE html><html><head>
<meta name="crm:figure-params" content='{"branch_id": "B&#39;1", "month_end": "2026-10-31"}'>
</head><body>
<section class="tiles">
  <div class="tile ok"><div class="label">Loans</div>
    <div class="value"><span class="fig" data-figure="t.loans" data-value="1234.5">0.12 万元</span></div>
    <div class="sub">Overdue <span class="fig" data-figure="t.overdue" data-value="">—</span></div></div>
  <div class="tile"><div class="label">Top 2 box</div><div class="value">7 / 9</div><div class="sub">of 3 days</div></div>
  <div class="tile"><div class="label">High</div>
    <div class="value"><span class="fig" data-figure="t.sev" data-value="2" data-row="high">2</span></div></div>
</section>
<table><tbody>
  <tr data-row="S1"><td>Zhang</td><td class="num" data-figure="t.cust" data-value="3">3</td><td class="num">12.5</td>
    <td>4.1 – <span class="fig" data-figure="t.hi" data-value="4.35">4.35</span></td></tr>
</tbody><tfoot><tr data-row="total"><td>Total</td><td class="num" data-figure="t.cust" data-value="5">5</td>
  <td class="num"><span class="fig" data-figure="t.amount" data-value="99">99</span></td><td></td></tr></tfoot></table>
<table><tr><td class="num">1</td></tr></table>
</body></html>"""


def test_the_reader_finds_parameters_figures_rows_tiles_and_untraced_numbers():
    doc = read_html(HTML)
    assert doc.params == {"branch_id": "B'1", "month_end": "2026-10-31"} and doc.params_count == 1
    got = [(f.figure, f.value, f.row, f.text, f.in_tile) for f in doc.figures]
    assert got == [
        ("t.loans", "1234.5", None, "0.12 万元", True),
        ("t.overdue", "", None, "—", True),
        ("t.sev", "2", "high", "2", True),
        ("t.cust", "3", "S1", "3", False),
        ("t.hi", "4.35", "S1", "4.35", False),
        ("t.cust", "5", "total", "5", False),
        ("t.amount", "99", "total", "99", False),
    ]
    assert [(t.label, t.value_has_figure) for t in doc.tiles] == [("Loans", True), ("Top 2 box", False), ("High", True)]
    # the second tile's numbers trace to nothing (its label's digit does not count)
    assert [t.untraced.split() for t in doc.tiles] == [["Overdue"], ["7", "/", "9", "of", "3", "days"], []]
    # one table has figures; its cell "12.5" has none (the table without figures is not listed)
    assert len(doc.tables) == 1 and doc.tables[0].bare_numeric_cells == ["line 13: '12.5'"]


def test_a_rendered_report_carries_its_parameters_once_and_its_tiles_name_their_figure():
    watch = pd.DataFrame(
        {
            "customer_id": ["k1." + "a" * 32, "k1." + "b" * 32, "k1." + "c" * 32],
            "manager_id": ["S1", "S1", "S2"],
            "severity": ["high", "medium", "high"],
            "rank_in_manager": [1, 2, 1],
            "rule_ids": ["EW01", "EW02", "EW01"],
            "evidence": ["a", "b", "c"],
            "loan_balance": [1.0e6, 2.0e6, 3.0e6],
            "tier": ["key", "key", "growth"],
        }
    )
    names = pd.DataFrame({"customer_id": watch["customer_id"], "display_name": ["张*", "李*", "王*"]})
    ctx = watch_digest_context(watch, "S1", dt.date(2026, 11, 1), names, "赵*") | {
        "generated_at": dt.datetime(2026, 11, 2, 9)
    }
    html = render_html("watch_digest", ctx, "en")
    assert html.count('name="crm:figure-params"') == 1
    doc = read_html(html)
    assert doc.params == {"week_end": "2026-11-01", "manager_id": "S1"} == json.loads(json.dumps(ctx["figure_params"]))
    assert [(f.figure, f.row, f.value) for f in doc.figures] == [
        ("wd.warnings", "high", "1"),
        ("wd.warnings", "medium", "1"),
    ]
    assert all(t.value_has_figure for t in doc.tiles) and len(doc.tiles) == 2


def test_values_agree_integers_exactly_floats_within_1e9_and_missing_on_both_sides():
    assert same("12", 12) and not same("12", 13) and same("", None) and same("nan", float("nan"))
    assert not same("", 0) and not same("0", None)
    assert same("0.1234567891", 0.12345678910000001) and not same("0.1234", 0.1235)
    assert same("1.0000000001", 1.0) and not same("1.00000001", 1.0)
    assert same("True", True) and not same("False", True)
    assert value_of(pd.NA if False else None) is None and value_of("2.50") == 2.5 and value_of("-3") == -3


@pytest.fixture
def tiny(tmp_path):
    """A DuckDB warehouse with one table, and a map of a scalar and a table figure over it."""
    engine = make_engine(f"duckdb:///{tmp_path / 'w.duckdb'}")
    with begin(engine) as conn:
        conn.execute(sa.text("CREATE TABLE cards (month_end DATE, manager_id VARCHAR, customers BIGINT, share DOUBLE)"))
        conn.execute(
            sa.text(
                "INSERT INTO cards VALUES ('2026-10-31', 'S1', 3, 0.1), ('2026-10-31', 'S2', 2, NULL), ('2026-09-30', 'S1', 9, 0.5)"
            )
        )
    folder = tmp_path / "map"
    folder.mkdir()
    _write(
        folder,
        "figures.toml",
        """
["t.customers"]
report = "branch"
label = { zh_CN = "客户数", en = "Customers" }
kind = "scalar"
sql = "SELECT SUM(customers) FROM cards WHERE month_end = :month_end"

["t.share"]
report = "branch"
label = { zh_CN = "占比", en = "Share" }
kind = "table"
sql = "SELECT manager_id, share FROM cards WHERE month_end = :month_end"

["t.other"]
report = "watch_digest"
label = { zh_CN = "其他", en = "Other" }
kind = "scalar"
sql = "SELECT 1"

["t.broken"]
report = "branch"
label = { zh_CN = "坏", en = "Broken" }
kind = "scalar"
sql = "SELECT customers FROM cards WHERE month_end = :month_end"
""",
    )
    yield engine, load_map(folder, reports={"branch", "watch_digest"})
    engine.dispose()


def _doc(params: dict, cells: str) -> str:
    return (
        f"<html><head><meta name='crm:figure-params' content='{json.dumps(params)}'></head><body>{cells}</body></html>"
    )


def test_reconcile_names_every_disagreement(tiny):
    engine, fmap = tiny
    html = _doc(
        {"month_end": "2026-10-31"},
        '<span data-figure="t.customers" data-value="5">5</span>'
        '<table><tr data-row="S1"><td data-figure="t.share" data-value="0.1">10%</td></tr>'
        '<tr data-row="S2"><td data-figure="t.share" data-value="">—</td></tr>'
        '<tr data-row="S3"><td data-figure="t.share" data-value="0.2">20%</td></tr></table>'
        '<span data-figure="t.share" data-value="1">1</span>'
        '<span data-figure="t.other" data-value="1">1</span>'
        '<span data-figure="t.nonesuch" data-value="1">1</span>'
        '<span data-figure="t.broken" data-value="1">1</span>',
    )
    with begin(engine) as conn:
        results = reconcile(conn, read_html(html), report="branch", figures=fmap)
    assert [(r.figure, r.row, r.ok) for r in results[:3]] == [
        ("t.customers", None, True),
        ("t.share", "S1", True),
        ("t.share", "S2", True),
    ]
    problems = [(r.figure, r.problem) for r in results if not r.ok]
    assert problems == [
        ("t.share", "the query returns no row 'S3'"),
        ("t.share", "a table figure outside any data-row"),
        ("t.other", "belongs to report 'watch_digest', not 'branch'"),
        ("t.nonesuch", "not in the figure map"),
        ("t.broken", "t.broken: a scalar query returned 2 rows"),
    ]
    # a value that differs: both values are given
    with begin(engine) as conn:
        (r,) = reconcile(
            conn,
            read_html(_doc({"month_end": "2026-09-30"}, '<b data-figure="t.customers" data-value="8">8</b>')),
            figures=fmap,
        )
    assert (r.problem, r.report_value, r.warehouse_value) == ("differs", 8, 9)
    # a parameter the report does not give, and a report without parameters
    with begin(engine) as conn:
        (r,) = reconcile(
            conn,
            read_html(_doc({"week_end": "2026-11-01"}, '<b data-figure="t.customers" data-value="8">8</b>')),
            figures=fmap,
        )
        assert "the report gives no month_end" in r.problem
        (r,) = reconcile(conn, read_html('<b data-figure="t.customers" data-value="8">8</b>'), figures=fmap)
        assert "has no <meta name='crm:figure-params'>" in r.problem
