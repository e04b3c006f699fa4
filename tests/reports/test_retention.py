"""Churn risk and retention in the readers' reports, on hand-built marts with the columns marts/churn_scores
writes (retention_list, retention_outcome): the retention section of the manager's proposal list (ranked by
value at risk, reasons and action in Chinese from the catalogue, never a code), the branch report's churn
lines; every figure recomputed by its SQL on a DuckDB warehouse holding the same frames (and a wrong one
found); a warehouse without the marts says "尚无数据"; the proposal list's PDF still renders offline."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pandas as pd
import pytest

from crm import warehouse as wh
from crm.reports import proposals as pr
from crm.reports.data import branch_context, load_month
from crm.reports.figures import figure_map, read_html, reconcile
from crm.reports.render import render_html, render_pdf_document
from crm.warehouse.marts import replace_partition
from tests.reports.language import identifier_words, visible_text
from tests.reports.test_portfolio import DAY
from tests.reports.test_proposals import BASE_MARTS, need_marts
from tests.reports.test_wallet import MISSING_WORDS, wallet_data

GENERATED = dt.datetime(2026, 11, 2, 10)
NEW = ("rt.", "br.churn.", "br.retention.")


def churn_marts(ids: list[str]) -> dict[str, pd.DataFrame]:
    """S1's list: ids[1] (value at risk 900), ids[0] (400), ids[5] (120); S2's: ids[3]."""
    listed = pd.DataFrame(
        {
            "customer_id": [ids[1], ids[0], ids[5], ids[3]],
            "branch_id": ["B1", "B1", "B1", "B2"],
            "manager_id": ["S1", "S1", "S1", "S2"],
            "segment": "retail",
            "model_version": "202611-x",
            "churn_probability": [0.45, 0.8, 0.31, 0.5],
            "band": ["very_high", "very_high", "very_high", "very_high"],
            "reason_1": ["deposit_change_3m", "complaints_6m", "manager_changes_12m", "txn_3m"],
            "reason_2": ["txn_3m", None, "tenure_months", None],
            "reason_3": None,
            "reason_4": None,
            "contribution": [2000.0, 500.0, 387.1, 10.0],
            "value_at_risk": [900.0, 400.0, 120.0, 5.0],
            "action": ["RATE_REVIEW", "COMPLAINT_FOLLOWUP", "HANDOVER_VISIT", "REACTIVATE"],
            "at_risk": True,
            "rank": [1, 2, 3, 1],
        }
    )
    outcome = pd.DataFrame(
        {
            "branch_id": ["B1", "B2", "ALL"],
            "cohort": dt.date(2026, 8, 31),
            "active_then": [40, 20, 60],
            "churned": [3, 1, 4],
            "churn_rate": [3 / 40, 1 / 20, 4 / 60],
            "listed": [6, 2, 8],
            "stayed": [5, 1, 6],
            "stayed_share": [5 / 6, 0.5, 0.75],
        }
    )
    return {"retention_list": listed, "retention_outcome": outcome}


def _write(engine, marts: dict[str, pd.DataFrame]) -> None:
    with wh.begin(engine) as conn:
        for name, frame in marts.items():
            replace_partition(conn, name, frame.assign(month_end=DAY), {"month_end": DAY})


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    data = wallet_data()
    engine = wh.make_engine(f"duckdb:///{tmp_path_factory.mktemp('rt') / 'w.duckdb'}")
    ids = data["customer_value"]["customer_id"].tolist()
    _write(engine, {n: data.frames[n] for n in BASE_MARTS})
    _write(engine, need_marts(ids))
    _write(engine, churn_marts(ids))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def loaded(warehouse):
    with wh.begin(warehouse) as conn:
        return load_month(conn, DAY, staff=wallet_data()["staff"])


def _render(kind: str, data, who: str) -> str:
    ctx = branch_context(data, who) if kind == "branch" else pr.proposals_context(data, who)
    return render_html(kind, ctx | {"generated_at": GENERATED}, "zh_CN")


def _text(html: str) -> str:
    return " ".join(visible_text(html).split())


def _reconciled(engine, html: str, kind: str) -> list:
    doc = read_html(html)
    doc = dataclasses.replace(doc, figures=[f for f in doc.figures if f.figure.startswith(NEW)])
    with wh.begin(engine) as conn:
        return reconcile(conn, doc, report=kind)


def test_the_retention_section_ranks_by_value_at_risk_in_chinese(loaded):
    ctx = pr.proposals_context(loaded, "S1")["retention"]
    assert [r["value_at_risk"] for r in ctx["rows_list"]] == [900.0, 400.0, 120.0]
    assert ctx["customers"] == 3 and ctx["value_at_risk"] == pytest.approx(1420.0)
    html = _render("proposals", loaded, "S1")
    text = _text(html)
    assert "客户挽留清单" in text
    assert "近3个月存款余额下降；近3个月交易笔数少" in text  # the first two reasons, catalogue words
    assert "复核存款定价" in text and "跟进投诉处理" in text and "联合交接拜访" in text
    assert text.index("近3个月存款余额下降") < text.index("近6个月有投诉") < text.index("近12个月更换客户经理")
    assert not re.search(r"deposit_change|complaints_6m|RATE_REVIEW|very_high", text)
    assert MISSING_WORDS.search(text) is None and identifier_words(html) == []


@pytest.mark.parametrize(("kind", "who"), [("proposals", "S1"), ("proposals", "S2"), ("branch", "B1")])
def test_figures_reconcile_with_the_marts_and_a_wrong_one_is_found(warehouse, loaded, kind, who):
    html = _render(kind, loaded, who)
    results = _reconciled(warehouse, html, kind)
    assert results and all(r.ok for r in results), [
        (r.figure, r.row, r.report_value, r.warehouse_value, r.problem) for r in results if not r.ok
    ]
    used = {r.figure for r in results}
    mine = {f for f, fig in figure_map().items() if fig.report == kind and f.startswith(NEW)}
    assert used == mine, sorted(mine - used)
    first = results[0]
    fid = re.escape(first.figure)
    wrong = re.sub(rf'(data-figure="{fid}" data-value=")([^"]*)"', r'\g<1>12345.5"', html, count=1)
    bad = [r for r in _reconciled(warehouse, wrong, kind) if not r.ok]
    assert [(r.figure, r.problem) for r in bad] == [(first.figure, "differs")]


def test_the_branch_report_shows_churn_and_retention_outcome(loaded):
    text = _text(_render("branch", loaded, "B1"))
    assert "客户流失与挽留成效" in text and "客户流失率" in text and "挽留成功率" in text
    assert "7.50%" in text and "83.33%" in text  # 3 of 40; 5 of 6


@pytest.mark.parametrize("kind", ["proposals", "branch"])
def test_a_warehouse_without_the_marts_says_no_data_yet(tmp_path, kind):
    data = wallet_data()
    engine = wh.make_engine(f"duckdb:///{tmp_path / 'w.duckdb'}")
    _write(engine, {n: data.frames[n] for n in BASE_MARTS})
    _write(engine, need_marts(data["customer_value"]["customer_id"].tolist()))
    with wh.begin(engine) as conn:
        loaded = load_month(conn, DAY, staff=data["staff"])
    engine.dispose()
    html = _render(kind, loaded, "B1" if kind == "branch" else "S1")
    # a report lists the sections its month lacks in one closing line
    title = "客户流失与挽留成效" if kind == "branch" else "客户挽留清单"
    text = _text(html)
    assert "本月尚未生成：" in text and title in text.split("本月尚未生成：")[1]
    assert not [f for f in read_html(html).figures if f.figure.startswith(NEW)]


def test_pdf_renders_offline(loaded, tmp_path):
    pdf = render_pdf_document(_render("proposals", loaded, "S1"))
    assert pdf.pages <= 2
