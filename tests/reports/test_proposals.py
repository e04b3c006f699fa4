"""Needs, preferences and proposals in the readers' reports, on hand-built marts with the columns of the issue-19
interface (customer_needs, customer_preferences, proposals, segment_needs, segment_preferences,
opportunity_conversion, proposal_uplift): the key-account report's section per account, the manager's proposal
list (report kind proposals) and the branch report's needs, conversion and uplift, in Chinese from the catalogue;
a held-out proposal never shown; every figure recomputed by its SQL on a DuckDB warehouse holding the same
frames (and a wrong one found); a warehouse without the marts says "尚无数据"; the PDFs render offline."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from crm import warehouse as wh
from crm.reports import proposals as pr
from crm.reports.data import MonthData, branch_context, key_account_context, load_month
from crm.reports.figures import figure_map, read_html, reconcile
from crm.reports.fmt import Formatter
from crm.reports.i18n import translator
from crm.reports.lifecycle import TABLES as LIFECYCLE_TABLES
from crm.reports.plan import REPORT_KINDS, portfolio_plan
from crm.reports.recipients import recipients
from crm.reports.render import render_html, render_pdf_document
from crm.warehouse.marts import replace_partition
from tests.reports.language import identifier_words, visible_text
from tests.reports.test_portfolio import DAY, _branches, _staff
from tests.reports.test_wallet import MISSING_WORDS, wallet_data

GENERATED = dt.datetime(2026, 11, 2, 10)
NEW = ("pr.", "ka.proposals.", "br.needs.", "br.prefs.", "br.conv.", "br.uplift.")
BASE_MARTS = ("customer_value", "customer_360", "manager_scorecards", "customer_value_month")


def need_marts(ids: list[str]) -> dict[str, pd.DataFrame]:
    """The issue-19 marts of wallet_data()'s customers. ids[0] (S1, B1, key, corporate): maturity and seasonal
    needs, a full preference profile, RENEW and SEASONAL offered and WEALTH held out; ids[1] (S1, key, retail):
    payroll start, an unknown profile, WEALTH offered without deadline or amount; ids[2] (S1, not key): DEPOSIT
    offered, RATE_SWITCH held out; ids[3] (S2, B2): RENEW offered; ids[5] (S1): LIMIT_UP not eligible."""
    d = dt.date
    needs = pd.DataFrame(
        {
            "customer_id": [ids[0], ids[0], ids[1], ids[2], ids[3]],
            "need": ["MATURITY", "SEASONAL", "PAYROLL_START", "LARGE_INFLOW", "MATURITY"],
            "strength": [0.9, 0.6, 0.7, 0.8, 0.5],
            "deadline": [d(2026, 11, 20), d(2026, 12, 1), None, d(2026, 12, 30), d(2027, 1, 15)],
            "evidence": [
                json.dumps({"loans": 2, "amount": 3500000.0, "first_maturity": "2026-11-20", "band_days": 30}),
                json.dumps({"peak_months": [1, 2], "offer_month": "2026-12", "peak_ratio": 1.8, "months_seen": 24}),
                json.dumps({"first_month": "2026-08", "monthly_amount": 8500.0}),
                json.dumps({"month": "2026-10", "amount": 250000.0, "multiple": 6.2}),
                json.dumps({"loans": 1, "amount": 900000.0, "first_maturity": "2027-01-15", "band_days": 90}),
            ],
            "segment": ["corporate", "corporate", "retail", "retail", "corporate"],
            "branch_id": ["B1", "B1", "B1", "B1", "B2"],
            "manager_id": ["S1", "S1", "S1", "S1", "S2"],
            "key_account": [True, True, True, False, True],
        }
    )
    prefs = pd.DataFrame(
        {
            "customer_id": [ids[0], ids[1], ids[2]],
            "segment": ["corporate", "retail", "retail"],
            "rate_type": ["FIX", None, "LPR"],
            "term_band": ["MEDIUM", None, "SHORT"],
            "repayment_method": ["EPI", None, "EPP"],
            "collateral": ["MO", None, "CR"],
            "channel": ["VISIT", None, "PHONE"],
            "digital_share": [0.35, None, 0.9],
            "price_sensitivity": ["HIGH", "UNKNOWN", "LOW"],
            "pricing_rating": [2.5, None, 4.5],
            "loans_seen": [3, 0, 1],
            "interactions_seen": [12, 0, 2],
            "surveys_seen": [2, 0, 0],
        }
    )
    seasonal = {"peak_months": [1, 2], "offer_month": "2026-12", "peak_ratio": 1.8, "months_seen": 24}
    maturity = {"MATURITY": {"loans": 2, "amount": 3500000.0, "first_maturity": "2026-11-20", "band_days": 30}}
    rows = [
        # customer, type, family, eligible, held_out, rank, contribution, amount, deadline, kind, reasons, evidence, manager, branch, segment, key
        (
            ids[0],
            "RENEW",
            "LOAN",
            True,
            False,
            1,
            35000.0,
            3500000.0,
            d(2026, 11, 20),
            "MATURITY",
            ["MATURITY"],
            maturity,
            "S1",
            "B1",
            "corporate",
            True,
        ),
        (
            ids[0],
            "SEASONAL",
            "LOAN",
            True,
            False,
            2,
            12000.0,
            1000000.0,
            d(2026, 12, 1),
            "SEASON_PEAK",
            ["HEADROOM", "SEASONAL"],  # sorted, as the engine writes them; the deadline's reason said in full
            {"HEADROOM": {"capacity": 8e6, "exposure": 3e6, "headroom": 5e6, "basis": "REVENUE"}, "SEASONAL": seasonal},
            "S1",
            "B1",
            "corporate",
            True,
        ),
        (
            ids[0],
            "WEALTH",
            "WMP",
            True,
            True,
            None,
            2000.0,
            None,
            None,
            None,
            ["HEADROOM"],
            {},
            "S1",
            "B1",
            "corporate",
            True,
        ),
        (
            ids[1],
            "WEALTH",
            "WMP",
            True,
            False,
            1,
            800.0,
            None,
            None,
            None,
            ["PAYROLL_START"],
            {},
            "S1",
            "B1",
            "retail",
            True,
        ),
        (
            ids[2],
            "DEPOSIT",
            "DEP",
            True,
            False,
            1,
            300.0,
            250000.0,
            d(2026, 11, 15),
            "LIFE_EVENT",
            ["LARGE_INFLOW"],
            {"month": "2026-10", "amount": 250000.0, "multiple": 6.2},
            "S1",
            "B1",
            "retail",
            False,
        ),
        (
            ids[2],
            "RATE_SWITCH",
            "LOAN",
            True,
            True,
            None,
            100.0,
            None,
            None,
            None,
            ["HEADROOM"],
            {},
            "S1",
            "B1",
            "retail",
            False,
        ),
        (
            ids[3],
            "RENEW",
            "LOAN",
            True,
            False,
            1,
            9000.0,
            900000.0,
            d(2027, 1, 15),
            "MATURITY",
            ["MATURITY"],
            {},
            "S2",
            "B2",
            "corporate",
            True,
        ),
        (
            ids[5],
            "LIMIT_UP",
            "LOAN",
            False,
            False,
            None,
            5000.0,
            500000.0,
            None,
            None,
            ["HEADROOM"],
            {},
            "S1",
            "B1",
            "retail",
            False,
        ),
    ]
    cols = [
        "customer_id",
        "proposal_type",
        "product_family",
        "eligible",
        "held_out",
        "rank",
        "expected_contribution",
        "offered_amount",
        "deadline",
        "deadline_kind",
        "reasons",
        "evidence",
        "manager_id",
        "branch_id",
        "segment",
        "key_account",
    ]
    props = pd.DataFrame(rows, columns=cols)
    props["eligible"] = props["eligible"].astype("boolean")
    props["held_out"] = props["held_out"].astype("boolean")
    props["offered"] = (props["eligible"] & ~props["held_out"]).astype("boolean")
    props["gate_failed"] = [None, None, None, None, None, None, None, "GRADE"]
    props["holdout_draw"] = [0.5, 0.6, 0.05, 0.7, 0.4, 0.01, 0.9, 0.3]
    props["score"] = [0.9, 0.6, 0.3, 0.5, 0.4, 0.1, 0.5, 0.2]
    props["rank"] = props["rank"].astype("Int64")
    props["reasons"] = props["reasons"].map(json.dumps)
    props["evidence"] = props["evidence"].map(json.dumps)
    props["tier"], props["grade"] = "key", "A2"
    props["holdout_share"], props["holdout_salt"] = 0.1, "crm-holdout-1"
    seg_needs = pd.DataFrame(
        [
            ("B1", "retail", "PAYROLL_START", 2, 3, 2 / 3, 1),
            ("B1", "retail", "LARGE_INFLOW", 1, 3, 1 / 3, 2),
            ("B1", "retail", "MORTGAGE_END", 1, 3, 1 / 3, 3),
            ("B1", "retail", "HEADROOM", 1, 3, 1 / 3, 4),
            ("B1", "corporate", "MATURITY", 1, 1, 1.0, 1),
            ("B2", "corporate", "MATURITY", 1, 1, 1.0, 1),
            ("ALL", "corporate", "MATURITY", 2, 2, 1.0, 1),
        ],
        columns=["branch_id", "segment", "need", "customers", "segment_customers", "share", "rank"],
    )
    seg_prefs = pd.DataFrame(
        [
            ("B1", "retail", "rate_type", "LPR", 2, 2 / 3),
            ("B1", "retail", "rate_type", None, 1, 1 / 3),
            ("B1", "retail", "channel", "PHONE", 1, 1 / 3),
            ("B1", "retail", "channel", "UNKNOWN", 2, 2 / 3),
            ("B1", "retail", "price_sensitivity", "LOW", 1, 1 / 3),
            ("B1", "corporate", "rate_type", "FIX", 1, 1.0),
            ("B1", "corporate", "term_band", "MEDIUM", 1, 1.0),
            ("B2", "corporate", "rate_type", "LPR", 1, 1.0),
        ],
        columns=["branch_id", "segment", "dimension", "value", "customers", "share"],
    )
    conv = pd.DataFrame(
        [
            ("proposal_type", "RENEW", "B1", 10, 6, 2, 1, 1, 6 / 9, 12.0, 30.0),
            ("proposal_type", "WEALTH", "B1", 4, 1, 2, 1, 0, 1 / 3, 20.5, 41.0),
            ("manager_id", "S1", "B1", 14, 7, 4, 2, 1, 7 / 12, 14.0, 33.0),
            ("proposal_type", "RENEW", "B2", 5, 1, 1, 3, 0, 0.5, 8.0, 9.0),
            ("proposal_type", "RENEW", "ALL", 15, 7, 3, 4, 1, 7 / 11, 11.0, 30.0),
        ],
        columns=[
            "dimension",
            "value",
            "branch_id",
            "offered",
            "accepted",
            "declined",
            "pending",
            "lapsed",
            "conversion",
            "median_days_to_outcome",
            "p90_days_to_outcome",
        ],
    )
    uplift = pd.DataFrame(
        [
            ("B1", "RENEW", 140, 42, 0.3, 35, 3, 3 / 35, 0.3 - 3 / 35, 0.05, 0.35, True, "effective"),
            ("B1", "RATE_SWITCH", 150, 15, 0.1, 45, 5, 5 / 45, 0.1 - 5 / 45, -0.1, 0.08, False, "no_effect_seen"),
            ("B1", "WEALTH", 12, 3, 0.25, 2, 0, 0.0, 0.25, None, None, pd.NA, "too_few"),
            ("ALL", "RENEW", 400, 112, 0.28, 45, 4, 4 / 45, 0.28 - 4 / 45, 0.08, 0.28, True, "effective"),
            ("ALL", "DEPOSIT", 300, 15, 0.05, 40, 6, 0.15, -0.10, -0.2, -0.01, True, "no_effect_seen"),
            ("B2", "RENEW", 130, 26, 0.2, 30, 1, 1 / 30, 0.2 - 1 / 30, 0.01, 0.3, True, "effective"),
        ],
        columns=[
            "branch_id",
            "proposal_type",
            "treated_n",
            "treated_takeup",
            "treated_rate",
            "holdout_n",
            "holdout_takeup",
            "holdout_rate",
            "uplift",
            "ci_low",
            "ci_high",
            "significant",
            "reading",
        ],
    )
    uplift["significant"] = uplift["significant"].astype("boolean")
    uplift["cohorts"], uplift["method"] = 6, "newcombe_hybrid_score"
    return {
        "customer_needs": needs,
        "customer_preferences": prefs,
        "proposals": props,
        "segment_needs": seg_needs,
        "segment_preferences": seg_prefs,
        "opportunity_conversion": conv,
        "proposal_uplift": uplift,
    }


def np_data() -> MonthData:
    """wallet_data() with the issue-19 marts, as load_month() hands them over (offered proposals only)."""
    data = wallet_data()
    marts = need_marts(data["customer_value"]["customer_id"].tolist())
    marts["proposals"] = pr.offered_only(marts["proposals"])
    data.frames.update(marts)
    return data


def _render(kind: str, data: MonthData, who: str, locale: str = "zh_CN") -> str:
    if kind == "key_account":
        ctx = key_account_context(data, who)
    elif kind == "branch":
        ctx = branch_context(data, who)
    else:
        ctx = pr.proposals_context(data, who)
    return render_html(kind, ctx | {"generated_at": GENERATED}, locale)


def _text(html: str) -> str:
    return " ".join(visible_text(html).split())


def test_a_needs_evidence_is_a_chinese_sentence():
    fmt, t = Formatter("zh_CN"), translator("zh_CN")
    ev = {"loans": 2, "amount": 3500000, "first_maturity": "2027-01-15", "band_days": 30}
    assert pr.need_sentence("MATURITY", ev, fmt, t) == "2 笔贷款合计 350.00 万元将于 2027年1月15日 到期（30 天内）"
    assert pr.need_sentence("MATURITY", json.dumps(ev), fmt, t) == pr.need_sentence("MATURITY", ev, fmt, t)
    # small amounts in 元, calendar months, a direction code, a missing key as a dash, an unknown need as its code
    assert pr.need_sentence("PAYROLL_START", {"first_month": "2026-08", "monthly_amount": 8500}, fmt, t) == (
        "自 2026年8月 起每月有代发工资入账，约 8,500.00 元"
    )
    assert "每年 1月、2月 为用款高峰" in pr.need_sentence("SEASONAL", {"peak_months": [1, 2]}, fmt, t)
    assert pr.need_sentence("CONCENTRATION", {"direction": "receipts", "top_share": 0.62}, fmt, t).startswith(
        "收款集中于少数交易对手：最大一家占 62.0%（共 — 家）"
    )
    assert pr.need_sentence("NEW_NEED", {}, fmt, t) == "NEW_NEED"
    # one unit per sentence: 万元 when any amount reaches 10 万元
    head = {"capacity": 386200.0, "exposure": 49955.72, "headroom": 336244.28}
    assert pr.need_sentence("HEADROOM", head, fmt, t) == (
        "按授信政策测算的融资能力 38.62 万元，已有负债 5.00 万元，尚余空间 33.62 万元"
    )
    en = pr.need_sentence("MATURITY", ev, Formatter("en"), translator("en"))
    assert en == "2 loan(s) totalling CNY 3.50 mn mature on January 15, 2027 (within 30 days)"
    # every need code of the playbook and every other reason of a proposal has a label and a sentence
    from crm.playbook.needs import NEEDS
    from crm.playbook.proposals import SOURCES

    assert set(pr.EVIDENCE_FIELDS) == set(NEEDS) | set(SOURCES) and set(pr.SOURCE_REASONS) == set(SOURCES)
    for code in pr.EVIDENCE_FIELDS:
        for loc in ("zh_CN", "en"):
            tt = translator(loc)
            label = tt(f"np.reason.{code}") if code in SOURCES else tt(f"code.need.{code}")
            assert label and tt(f"need.evidence.{code}")
    sc = {"anchor_ref": "a1b2c3d4", "role": "supplier", "volume": 2.4e6, "anchors": 1}
    assert (
        pr.need_sentence("SUPPLY_CHAIN", sc, fmt, t)
        == "为我行重点客户 a1b2c3d4 的供应商，往来金额 240.00 万元（关联重点客户 1 家）"
    )
    pref = {"dimension": "rate_type", "held": "LPR", "preferred": "FIX", "loans": 1, "balance": 500000}
    assert (
        pr.need_sentence("PREFERENCE", pref, fmt, t) == "1 笔贷款（余额 50.00 万元）为LPR浮动利率，客户更常选用固定利率"
    )


RULES = {"min_treated": 100, "min_holdout": 30, "min_takeups": 5}


@pytest.mark.parametrize(
    ("row", "reading"),
    [
        # the mart's reading, a negative interval said as such
        ({"reading": "effective", "uplift": 0.2, "ci_low": 0.05, "ci_high": 0.35}, "effective"),
        ({"reading": "no_effect_seen", "uplift": -0.01, "ci_low": -0.1, "ci_high": 0.08}, "no_effect"),
        ({"reading": "no_effect_seen", "uplift": -0.1, "ci_low": -0.2, "ci_high": -0.01}, "negative"),
        ({"reading": "too_few", "uplift": 0.3, "ci_low": 0.1, "ci_high": 0.5}, "small"),
        # no reading (a mart written before it): the playbook's rules
        (
            {
                "treated_n": 140,
                "holdout_n": 35,
                "treated_takeup": 42,
                "holdout_takeup": 3,
                "uplift": 0.2,
                "ci_low": 0.05,
                "ci_high": 0.35,
            },
            "effective",
        ),
        (
            {
                "treated_n": 140,
                "holdout_n": 35,
                "treated_takeup": 42,
                "holdout_takeup": 3,
                "uplift": 0.1,
                "ci_low": -0.02,
                "ci_high": 0.2,
            },
            "no_effect",
        ),
        (
            {
                "treated_n": 140,
                "holdout_n": 35,
                "treated_takeup": 4,
                "holdout_takeup": 0,
                "uplift": 0.03,
                "ci_low": 0.01,
                "ci_high": 0.05,
            },
            "small",
        ),
        (
            {
                "treated_n": 99,
                "holdout_n": 35,
                "treated_takeup": 42,
                "holdout_takeup": 3,
                "uplift": 0.2,
                "ci_low": 0.05,
                "ci_high": 0.35,
            },
            "small",
        ),
        ({"treated_n": None, "holdout_n": 40, "uplift": None, "ci_low": None, "ci_high": None}, "small"),
    ],
)
def test_uplift_reading(row, reading):
    assert pr.uplift_reading(row, RULES) == reading


def test_key_account_cards_show_needs_preferences_and_ranked_proposals_in_chinese():
    html = _render("key_account", np_data(), "S1")
    text = _text(html)
    assert "贷款即将到期：2 笔贷款合计 350.00 万元将于 2026年11月20日 到期（30 天内）" in text
    assert (
        "季节性资金需求：近 24 个月的资金往来显示每年 1月、2月 为用款高峰（为平时的 1.8 倍），宜于 2026年12月 安排"
        in text
    )
    assert "利率类型 固定利率 期限 中期（1至5年） 还款方式 等额本息 担保方式 抵押" in text
    assert "常用联系渠道 上门拜访（线上交易占 35%） 价格敏感度 高（价格满意度评分 2.5）" in text
    assert "1. 续贷与展期 · 截止 2026年11月20日（贷款到期） · 预计年贡献 3.50 万元 · 建议金额 350.00 万元" in text
    assert "2. 季节性流动资金贷款 · 截止 2026年12月1日（旺季之前）" in text
    # the retail key account: payroll start in 元, an unknown profile said in words, a proposal without deadline
    assert "开始领取代发工资：自 2026年8月 起每月有代发工资入账，约 8,500.00 元" in text
    assert "偏好 暂无偏好画像。" in text and "1. 理财与基金 · 截止 — · 预计年贡献 0.08 万元 · 建议金额 —" in text
    assert "原因：贷款即将到期 2. 季节性流动资金贷款" in text  # the reason's evidence is printed once, above
    # HEADROOM is no need of this account's rows: said in full from the proposal's evidence; SEASONAL named
    assert (
        "原因：授信空间充足：按授信政策测算的融资能力 800.00 万元，已有负债 300.00 万元，尚余空间 500.00 万元；季节性资金需求"
        in text
    )
    # ids[0]'s held-out WEALTH is not there: one WEALTH proposal (ids[1]'s) in the cards
    assert text.count("理财与基金") == 1
    # the tile: 3 proposals to 2 key accounts, 4.78 万元 a year (the held-out one and non-key accounts left out)
    assert 'data-figure="ka.proposals.offered" data-value="3"' in html
    assert 'data-figure="ka.proposals.contribution" data-value="47800.0"' in html
    assert MISSING_WORDS.search(text) is None and identifier_words(html) == []
    assert "Needs" in _render("key_account", np_data(), "S1", "en")


def test_needs_without_the_proposals_mart_say_no_data_for_proposals_only():
    data = np_data()
    data.frames.pop("proposals")
    data.frames["customer_preferences"].loc[0, "channel"] = None
    text = _text(_render("key_account", data, "S1"))
    assert "贷款即将到期：2 笔贷款合计 350.00 万元" in text
    assert "营销方案 尚无数据（本月尚未生成）。" in text and "本月无推荐方案" not in text
    assert "常用联系渠道 线上交易占 35%" in text  # the channel unknown, the online share known
    assert 'data-figure="ka.proposals.offered"' not in _render("key_account", data, "S1")


def test_the_proposal_list_is_the_managers_whole_book_by_deadline_never_a_held_out_one():
    data = np_data()
    ctx = pr.proposals_context(data, "S1")
    # ids[2] is no key account: its proposal is on the list; ids[3] is S2's; held-out and ineligible rows are not
    assert [(r["ref"], r["proposal_type"]) for r in ctx["rows_list"]] == [
        ("00000002", "DEPOSIT"),  # 15 November
        ("00000000", "RENEW"),  # 20 November
        ("00000000", "SEASONAL"),  # 1 December
        ("00000001", "WEALTH"),  # no deadline: last
    ]
    s = ctx["summary"]
    assert (s["proposals"], s["customers"], s["soon"]) == (4, 3, 2)  # due by 30 November: DEPOSIT and RENEW
    assert s["expected_contribution"] == 48100.0 and s["soon_contribution"] == 35300.0
    assert ctx["rows"] == 4 and ctx["figure_params"]["soon_date"] == "2026-11-30"
    html = _render("proposals", data, "S1")
    text = _text(html)
    assert "营销方案清单" in text and "对照组" in text and "不标注对照组客户" in text
    assert "调整利率类型" not in text  # ids[2]'s held-out RATE_SWITCH
    assert "大额资金流入：2026年10月 入账 25.00 万元，为平常月份的 6.2 倍" in text
    assert "王*" in text and "2026年11月15日（生活事件）" in text
    # two reasons: the one the deadline comes from in full, the other by name
    assert (
        "季节性资金需求：近 24 个月的资金往来显示每年 1月、2月 为用款高峰（为平时的 1.8 倍），宜于 2026年12月 安排（另：授信空间充足）"
        in text
    )
    assert MISSING_WORDS.search(text) is None and identifier_words(html) == []
    en = _text(_render("proposals", data, "S1", "en"))
    assert "Monthly proposal list" in en and "control group" in en
    # a manager with nothing offered: an empty report, never rendered
    assert pr.proposals_context(data, "S9")["rows"] == 0


def test_proposals_are_a_managers_monthly_report_kind():
    kind = REPORT_KINDS["proposals"]
    assert (kind.template, kind.cadence, kind.readers) == ("proposals", "month", ("RM",))
    r = recipients(_staff(), _branches())
    assert set(r.loc[r["report"] == "proposals", "recipient_id"]) == {"S1", "S2"}
    data = np_data()
    data.frames["manager_scorecards"] = data["manager_scorecards"]
    planned = portfolio_plan(data, r, Path("/tmp/reports-test-unused"), "zh_CN", GENERATED)
    mine = {p.recipient_id: p for p in planned if p.report == "proposals"}
    assert mine["S1"].rows == 4 and mine["S1"].job is not None and mine["S1"].subject.startswith("【营销方案清单】")
    assert mine["S2"].rows == 1


def test_branch_report_shows_segment_needs_preferences_conversion_and_uplift():
    html = _render("branch", np_data(), "B1")
    text = _text(html)
    # the top 3 needs of retail (HEADROOM, 4th, left out); B2's and the bank's rows not shown
    assert "零售 开始领取代发工资 2 66.7% 大额资金流入 1 33.3% 住房贷款结清或即将到期 1 33.3%" in text
    assert "授信空间充足" not in text
    # the most common known preference per segment (the unknown channel, 2 of 3, is not "most common")
    assert "利率类型 固定利率 100% LPR浮动利率 67%" in text and "常用联系渠道 — 电话 33%" in text
    assert "续贷与展期 10 6 2 1 66.7% 12" in text and "张* (S1) 14 7 4 2 58.3% 14" in text
    # uplift: the branch's and the bank's, read in words
    assert "续贷与展期 140 30.0% 35 8.6% 20.0% 21.4% 5.0% – 35.0% 有效" in text
    assert "调整利率类型 150 10.0% 45 11.1% 23.1% -1.1% -10.0% – 8.0% 未见效果" in text
    assert "理财与基金 12 25.0% 2 0.0% 14.3% 25.0% — 样本不足" in text
    assert "存款产品 300 5.0% 40 15.0% 11.8% -10.0% -20.0% – -1.0% 效果为负" in text
    assert "对照组抽取比例：符合条件客户的 10%" in text
    assert "区间为 95% 置信区间；推荐组不少于 100 户、对照组不少于 30 户、两组合计办理不少于 5 户才作判断" in text
    assert MISSING_WORDS.search(text) is None and identifier_words(html) == []
    assert "Do the proposals work?" in _render("branch", np_data(), "B1", "en")


def test_dtypes_as_a_warehouse_may_write_them():
    """offered / held_out as 0/1 or text, dates as ISO text or timestamps, evidence as JSON text or a dict, rank
    as a float: the same list."""
    data = np_data()
    want = pr.proposals_context(data, "S1")["rows_list"]
    raw = need_marts(data["customer_value"]["customer_id"].tolist())["proposals"]
    odd = raw.assign(
        offered=raw["offered"].astype(int),
        held_out=raw["held_out"].map({True: "true", False: "false"}),
        deadline=pd.to_datetime(raw["deadline"]).dt.strftime("%Y-%m-%d").where(raw["deadline"].notna(), None),
        rank=raw["rank"].astype(float),
        evidence=raw["evidence"].map(json.loads),
    )
    data.frames["proposals"] = pr.offered_only(odd)
    assert pr.proposals_context(data, "S1")["rows_list"] == want
    stamps = raw.assign(deadline=pd.to_datetime(raw["deadline"]))
    data.frames["proposals"] = pr.offered_only(stamps)
    assert pr.proposals_context(data, "S1")["rows_list"] == want


# ------------------------------------------------------------------------------ figures against the marts
def _write(engine, marts: dict[str, pd.DataFrame]) -> None:
    part = {"month_end": DAY}
    with wh.begin(engine) as conn:
        for name, frame in marts.items():
            replace_partition(conn, name, frame.assign(month_end=DAY), part)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """A DuckDB warehouse holding the marts as the pipeline writes them (replace_partition), the held-out and
    ineligible proposals included (the report must leave them out itself)."""
    data = wallet_data()
    engine = wh.make_engine(f"duckdb:///{tmp_path_factory.mktemp('np') / 'w.duckdb'}")
    _write(engine, {n: data.frames[n] for n in BASE_MARTS})
    _write(engine, need_marts(data["customer_value"]["customer_id"].tolist()))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def loaded(warehouse) -> MonthData:
    with wh.begin(warehouse) as conn:
        return load_month(conn, DAY, staff=wallet_data()["staff"])


def _reconciled(engine, html: str, kind: str) -> list:
    doc = read_html(html)
    doc = dataclasses.replace(doc, figures=[f for f in doc.figures if f.figure.startswith(NEW)])
    with wh.begin(engine) as conn:
        return reconcile(conn, doc, report=kind)


def test_load_month_reads_offered_proposals_and_key_accounts_needs_only(loaded):
    assert not loaded.absent & set(pr.NEED_TABLES)  # (the coverage and lifecycle marts are not in this warehouse)
    props = loaded["proposals"]
    assert len(props) == 5 and not props["held_out"].astype(bool).any()
    assert set(loaded["customer_needs"]["need"]) == {"MATURITY", "SEASONAL", "PAYROLL_START"}  # not ids[2]'s
    assert len(loaded["customer_preferences"]) == 2  # the key accounts' (ids[2] is none)


@pytest.mark.parametrize(
    ("kind", "who"), [("proposals", "S1"), ("proposals", "S2"), ("key_account", "S1"), ("branch", "B1")]
)
def test_new_figures_reconcile_with_the_marts_and_a_wrong_one_is_found(warehouse, loaded, kind, who):
    html = _render(kind, loaded, who)
    results = _reconciled(warehouse, html, kind)
    assert results and all(r.ok for r in results), [
        (r.figure, r.row, r.report_value, r.warehouse_value, r.problem) for r in results if not r.ok
    ]
    if who in ("S1", "B1"):  # the full reports: every figure of the kind is on the page
        used = {r.figure for r in results}
        mine = {f for f, fig in figure_map().items() if fig.report == kind and f.startswith(NEW)}
        assert used == mine, sorted(mine - used)
    first = results[0]
    fid = re.escape(first.figure)
    wrong = re.sub(rf'(data-figure="{fid}" data-value=")([^"]*)"', r'\g<1>12345.5"', html, count=1)
    bad = [r for r in _reconciled(warehouse, wrong, kind) if not r.ok]
    assert [(r.figure, r.problem) for r in bad] == [(first.figure, "differs")]


@pytest.mark.parametrize("kind", ["key_account", "branch", "proposals"])
def test_a_warehouse_without_the_marts_says_no_data_yet(tmp_path, kind):
    data = wallet_data()
    engine = wh.make_engine(f"duckdb:///{tmp_path / 'w.duckdb'}")
    _write(engine, {n: data.frames[n] for n in BASE_MARTS})
    with wh.begin(engine) as conn:
        loaded = load_month(conn, DAY, staff=data["staff"])
    engine.dispose()
    from crm.reports import team

    # and the coverage marts (crm.reports.team) and the lifecycle marts (issue 20)
    assert loaded.absent == set(pr.NEED_TABLES) | set(team.TABLES) | set(LIFECYCLE_TABLES)
    who = "B1" if kind == "branch" else "S1"
    if kind == "proposals":
        assert pr.proposals_context(loaded, "S1")["rows"] == 0  # nothing to send
    html = _render(kind, loaded, who)
    text = _text(html)
    assert "尚无数据" in text
    assert not [f for f in read_html(html).figures if f.figure.startswith(NEW)]
    assert MISSING_WORDS.search(text) is None and identifier_words(html) == []


@pytest.mark.parametrize(
    ("kind", "who", "pages"), [("proposals", "S1", 1), ("key_account", "S1", 3), ("branch", "B1", 3)]
)
def test_pdf_renders_offline_without_half_empty_pages(tmp_path, kind, who, pages):
    pdf = render_pdf_document(_render(kind, np_data(), who))
    path = tmp_path / f"{kind}.pdf"
    path.write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert not MISSING_WORDS.search(text)
    assert pdf.pages <= pages
