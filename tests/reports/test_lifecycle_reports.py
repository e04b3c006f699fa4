"""Lifecycle stages, stage actions and referrals in the readers' reports, on marts built by crm.playbook's own
functions from wallet_data()'s customers: the branch report's transition matrix and stage actions, the
key-account card's stage line, the manager's list (report kind proposals) and the monthly satisfaction report's
referrals, in Chinese from the catalogue with no program word; every lc.* figure recomputed by its SQL on a
DuckDB warehouse holding the same frames; a warehouse without the marts says "尚无数据"."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from crm import warehouse as wh
from crm.playbook import load_config
from crm.playbook.lifecycle import action_counts, customer_stages, stage_actions, transition_matrix
from crm.playbook.referrals import nps_categories, referral_summary, referral_value, referrers
from crm.reports import proposals as pr
from crm.reports.data import branch_context, key_account_context, load_month, satisfaction_context
from crm.reports.figures import figure_map, read_html, reconcile
from crm.reports.render import render_html
from crm.satisfaction.analytics import load_config as satisfaction_config
from tests.reports.language import identifier_words, visible_text
from tests.reports.test_portfolio import DAY
from tests.reports.test_proposals import BASE_MARTS, GENERATED, _write
from tests.reports.test_wallet import wallet_data

PREFIX = ("lc.",)


def lifecycle_marts(data) -> dict[str, pd.DataFrame]:
    """The lifecycle and referral marts of wallet_data()'s customers at DAY: every customer was mature last
    month but ids[0] (new: entering decline), ids[1] (absent: new this month) and ids[3] (growth, now dormant)."""
    config = load_config()
    value = data["customer_value"].copy()
    ids = value["customer_id"].tolist()
    value["lifecycle_stage"] = "mature"
    value.loc[value["customer_id"] == ids[0], "lifecycle_stage"] = "decline"
    value.loc[value["customer_id"] == ids[1], "lifecycle_stage"] = "new"
    value.loc[value["customer_id"] == ids[3], "lifecycle_stage"] = "dormant"
    before = value[value["customer_id"] != ids[1]].copy()
    before["lifecycle_stage"] = "mature"
    before.loc[before["customer_id"] == ids[3], "lifecycle_stage"] = "growth"
    prev_day = (pd.Timestamp(DAY).replace(day=1) - pd.Timedelta(days=1)).date()
    previous = before[["customer_id", "lifecycle_stage"]].assign(stage_since=dt.date(2025, 1, 31))
    stages = customer_stages(value, DAY, previous=previous)
    onboarding = pd.DataFrame({"customer_id": [ids[1]], "onboarding_date": [DAY - dt.timedelta(days=40)]})
    inter = pd.DataFrame(
        {
            "customer_id": [ids[3]],
            "interaction_time": [pd.Timestamp(DAY) + pd.Timedelta(days=1)],  # after the month end: not yet
            "channel": ["PHONE"],
            "purpose": ["RETAIN"],
        }
    )
    actions = stage_actions(stages, None, onboarding, inter, None, DAY, config)
    refs = pd.DataFrame(
        {
            "referral_id": ["F1"],
            "referrer_customer_id": [ids[0]],
            "referred_customer_id": [ids[1]],
            "referral_date": [DAY - dt.timedelta(days=40)],
        }
    )
    surveys = pd.DataFrame({"survey_id": ["S1"], "customer_id": [ids[0]], "response_date": [prev_day], "nps": [10]})
    nps = nps_categories(surveys, DAY, satisfaction_config()["nps"])
    c360 = pd.DataFrame(
        {"customer_id": ids, "onboarding_date": [DAY - dt.timedelta(days=40 if c == ids[1] else 4000) for c in ids]}
    )
    cohorts = referral_value(value, c360, refs, DAY, config)
    return {
        "customer_stages": stages,
        "stage_transitions": transition_matrix(value, before),
        "stage_actions": actions,
        "stage_action_counts": action_counts(actions, DAY),
        "referrers": referrers(refs, value, nps, DAY, config),
        "referral_summary": referral_summary(value, c360, refs, nps, cohorts, DAY, config),
    }


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    data = wallet_data()
    e = wh.make_engine(f"duckdb:///{tmp_path_factory.mktemp('lc') / 'w.duckdb'}")
    _write(e, {n: data.frames[n] for n in BASE_MARTS})
    _write(e, lifecycle_marts(data))
    yield e
    e.dispose()


@pytest.fixture(scope="module")
def loaded(engine):
    with wh.begin(engine) as conn:
        return load_month(conn, DAY, staff=wallet_data()["staff"])


def _render(kind: str, data, who) -> str:
    if kind == "key_account":
        ctx = key_account_context(data, who)
    elif kind == "branch":
        ctx = branch_context(data, who)
    elif kind == "satisfaction":
        ctx = satisfaction_context(data, branch_id=who)
    else:
        ctx = pr.proposals_context(data, who)
    return render_html(kind, ctx | {"generated_at": GENERATED}, "zh_CN")


def _reconciled(engine, html: str, kind: str) -> list:
    doc = read_html(html)
    doc = dataclasses.replace(doc, figures=[f for f in doc.figures if f.figure.startswith(PREFIX)])
    with wh.begin(engine) as conn:
        return reconcile(conn, doc, report=kind)


@pytest.mark.parametrize(
    ("kind", "who"),
    [("branch", "B1"), ("branch", "B2"), ("proposals", "S1"), ("satisfaction", None), ("satisfaction", "B1")],
)
def test_lifecycle_figures_reconcile_and_cover_the_kind(engine, loaded, kind, who):
    html = _render(kind, loaded, who)
    results = _reconciled(engine, html, kind)
    assert results and all(r.ok for r in results), [
        (r.figure, r.row, r.report_value, r.warehouse_value, r.problem) for r in results if not r.ok
    ]
    used = {r.figure for r in results}
    mine = {f for f, fig in figure_map().items() if fig.report == kind and f.startswith(PREFIX)}
    assert used == mine, sorted(mine - used)
    assert not identifier_words(html), identifier_words(html)


def test_the_sections_say_it_in_chinese(loaded):
    branch = " ".join(visible_text(_render("branch", loaded, "B1")).split())
    assert "客户生命周期迁移" in branch and "本月新增" in branch and "挽留联系" in branch
    lst = " ".join(visible_text(_render("proposals", loaded, "S1")).split())
    assert "阶段行动（待办与逾期）" in lst and "新客户首访" in lst
    ka = " ".join(visible_text(_render("key_account", loaded, "S1")).split())
    assert "生命周期：衰退期，已持续 0 个月" in ka and "挽留联系" in ka
    sat = " ".join(visible_text(_render("satisfaction", loaded, None)).split())
    assert "客户推荐" in sat and "新客户中经推荐开户" in sat


def test_without_the_marts_the_sections_say_no_data(tmp_path):
    data = wallet_data()
    e = wh.make_engine(f"duckdb:///{tmp_path / 'w.duckdb'}")
    _write(e, {n: data.frames[n] for n in BASE_MARTS})
    with wh.begin(e) as conn:
        bare = load_month(conn, DAY, staff=data["staff"])
    e.dispose()
    text = " ".join(visible_text(_render("branch", bare, "B1")).split())
    # a section whose marts the month lacks joins the closing "not yet produced" line, not a heading of its own
    assert "本月尚未生成：" in text and "客户生命周期迁移" in text.split("本月尚未生成：")[1]
