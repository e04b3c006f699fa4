"""A zh_CN report is in its reader's language: the identifier-word finder catches program text (evidence in
English, codes, column names, rule families) and passes a clean report; the reports rendered from hand-built
contexts have none. The same check over a whole synthetic bank's reports: tests/test_report_language.py."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from crm import warehouse as wh
from crm.reports.dq import dq_context
from crm.reports.leakscan import scan_summary
from crm.reports.render import render_html
from tests.reports.language import ALLOWED, identifier_words, visible_text
from tests.reports.test_dq import fill
from tests.reports.test_notice import GENERATED, NOTICE, _contexts
from tests.reports.test_portfolio import SCRIPT, _data


def test_visible_text_leaves_out_markup_styles_scripts_and_attributes():
    html = (
        "<html><head><style>.code_set { color: red }</style><script>var interest_coverage = 1;</script></head>"
        '<body><p class="negative_ocf" title="worst">贷款 &amp; 存款</p><svg><text>轴标签</text></svg></body></html>'
    )
    text = visible_text(html)
    assert "贷款 & 存款" in text and "轴标签" in text
    assert not {"code_set", "interest_coverage", "negative_ocf", "worst"} & set(text.split())
    assert identifier_words(html) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # the cases: English evidence, ratio flags, reason codes, product codes, an industry letter
        (
            "EW01: worst days past due 0 -> 30, overdue amount 3656.21",
            ["EW01", "worst", "days", "past", "due", "overdue", "amount"],
        ),
        ("statement 2023: interest_coverage negative_ocf", ["statement", "interest_coverage", "negative_ocf"]),
        ("annual_income, balance, education", ["annual_income", "balance", "education"]),
        ("CARD,DEP,LOAN,PAYR", ["CARD", "DEP", "LOAN", "PAYR"]),
        # EW10's related party as a whole keyed token (its key version too)
        (
            "GUARANTOR k3.0f1e2d3c4b5a69788796a5b4c3d2e1f0: 95 days",
            ["GUARANTOR", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "days"],
        ),
        ("规则类别 code_set 完整性 completeness", ["code_set", "completeness"]),
        ("文件被整体拒收（control_total）", ["control_total"]),
        ("CSAT 渠道 SMS 短信", ["SMS"]),  # "code 中文": the code is still a word
    ],
)
def test_identifier_words_catch_program_text(text, words):
    assert identifier_words(f"<td>{text}</td>") == words


def test_what_is_meant_to_be_shown_passes():
    clean = (
        "<p>内部资料 Internal</p><td>CSAT</td><td>NPS 12.5</td><td>PD 1.20%</td><td>客户参考号 1a2b3c4d</td>"
        "<td>S000009</td><td>评级 B1 → B3</td><td>p 值 0.0001</td><td>LPR浮动利率</td><td>1.5 MB</td>"
        "<td>LOAN_20261031_001.dat</td><td>customers.mobile.mobile_format</td><td>员工信息（staff）</td>"
        "<td>手机银行/APP</td><td>GB 11643-1999</td><td>行业门类(GB/T 4754)</td><td>CCGOLD01</td>"
        "<td>最长逾期天数由 0 天升至 30 天，逾期金额 3,656.21 元</td>"
    )
    assert identifier_words(clean) == []
    # allowed only as a whole word and in its place: a longer word or a code in the wrong shape is found
    assert identifier_words("<td>CSATX NPS_score EW01 规格 GB 员工信息 staff 1a2b3c4d5</td>") == [
        "CSATX",
        "NPS_score",
        "EW01",
        "GB",
        "staff",
        "1a2b3c4d5",
    ]


def test_every_allowed_entry_says_why():
    assert all(pattern and len(why) > 10 for pattern, why in ALLOWED)


# ------------------------------------------------------------------------------------- rendered reports
DETAILS = json.dumps(
    [
        {"args": {"days_before": 0, "days_now": 30, "overdue_amount": 3656.21}, "rule_id": "EW01", "severity": "high"},
        {
            "args": {"days": 95, "five_class": "3", "related_ref": "c3d2e1f0", "relation": "GUARANTOR"},
            "rule_id": "EW10",
            "severity": "high",
        },
        {
            "args": {"flags": ["interest_coverage", "negative_ocf"], "period": "2023-12-31"},
            "rule_id": "EW07",
            "severity": "medium",
        },
    ],
    ensure_ascii=False,
    sort_keys=True,
)
EVIDENCE = (
    "EW01: worst days past due 0 -> 30, overdue amount 3656.21; EW07: statement 2023-12-31: interest_coverage "
    "negative_ocf; EW10: GUARANTOR c3d2e1f0: 95 days past due, class 3"
)


def _satisfaction_marts(data) -> None:
    """Rows of every satisfaction table the report prints, with the codes the marts hold."""
    day = data.month_end
    by = data.frames["satisfaction_by_dimension"]
    extra = pd.DataFrame(
        {
            "dimension": ["channel", "channel", "product_family", "tier", "tier"],
            "value": ["SMS", "WECHAT", "DEP", "key", "nan"],
            "sent": [10] * 5,
            "responses": [6] * 5,
            "response_rate": [0.6] * 5,
            "csat_mean": [4.0] * 5,
            "csat_ci_low": [3.5] * 5,
            "csat_ci_high": [4.5] * 5,
            "nps": [10.0] * 5,
            "nps_ci_low": [-20.0] * 5,
            "nps_ci_high": [40.0] * 5,
            "suppressed": [False] * 5,
            "csat_top2_share": [0.7] * 5,
            "month_end": [day] * 5,
        }
    )
    data.frames["satisfaction_by_dimension"] = pd.concat([by, extra], ignore_index=True)
    data.frames["satisfaction_by_dimension_quarter"] = data.frames["satisfaction_by_dimension"]
    drivers = pd.DataFrame(
        {"attribute": ["rating_digital"], "label": ["线上渠道体验"], "n": [40], "beta_std": [0.3], "pearson_r": [0.5]}
    ).assign(rank=1, month_end=day)
    themes = pd.DataFrame(
        {
            "theme": ["digital", "waiting"],
            "label": ["手机银行/APP", "等待时间/排队"],
            "comments": [3, 2],
            "comment_share": [0.3, 0.2],
            "complaints": [2, 1],
            "complaint_share": [0.5, 0.25],
        }
    ).assign(month_end=day)
    for q in ("", "_quarter"):
        data.frames[f"satisfaction_drivers{q}"] = drivers
        data.frames[f"complaint_themes{q}"] = themes
        data.frames[f"satisfaction_verbatims{q}"] = pd.DataFrame(
            {
                "branch_id": ["B1"],
                "channel": ["APP"],
                "product_family": ["LOAN"],
                "csat": [1],
                "nps": [2],
                "comment": ["等了很久"],
                "themes": ["waiting,digital"],
            }
        )
    data.frames["service_sla"] = pd.DataFrame(
        {
            "priority": ["P1", "P2"],
            "requests": [4, 5],
            "response_breach_rate": [0.25, 0.0],
            "resolution_breach_rate": [0.0, 0.2],
            "open_overdue": [0, 1],
        }
    )
    data.frames["sla_vs_satisfaction"] = pd.DataFrame(
        {
            "measure": ["csat_mean", "nps_mean", "nps"],
            "breach_n": [3] * 3,
            "breach_value": [3.0, 6.0, -20.0],
            "met_n": [9] * 3,
            "met_value": [4.2, 8.0, 30.0],
        }
    )


@pytest.fixture(scope="module")
def dq_ctx(tmp_path_factory):
    """A month of data-quality evidence (tests/reports/test_dq.py's), with a rejected file and a quarantined
    reader's row."""
    engine = wh.make_engine(f"duckdb:///{tmp_path_factory.mktemp('lang') / 'w.duckdb'}")
    wh.ensure_schema(engine)
    with wh.begin(engine) as conn:
        fill(conn)
    with wh.begin(engine) as conn:
        ctx = dq_context(
            conn,
            dt.date(2026, 10, 31),
            policy_version="2026.11-1",
            key_versions=["k1"],
            leak_scan=scan_summary(12, []),
            generated_at=GENERATED,
        )
    engine.dispose()
    ctx["undeliverable"] = [
        {
            "report": "key_account",
            "period": "2026-10",
            "recipient_id": "S000008",
            "reason": "quarantined",
            "detail": "staff.email.email_format (staff file STAFF_20261031_001.dat row 8)",
        },
        {"report": "data_quality", "period": "2026-10", "recipient_id": "row-12", "reason": "no_address", "detail": ""},
    ]
    ctx["purges"] = {
        "files": 1,
        "bytes": 2048,
        "by_extract": [
            {
                "zone": "raw/_quarantine",
                "extract": "loans",
                "files": 1,
                "bytes": 2048,
                "first_date": dt.date(2025, 9, 1),
                "last_date": dt.date(2025, 9, 1),
            }
        ],
        "reasons": ["raw zone retention: business date before 2025-09-30 (395 days)"],
    }
    return ctx


def _reports(empty_dq_context, dq_ctx) -> dict[str, tuple[str, dict]]:
    """Every report kind this branch owns, from hand-built contexts that carry the codes readers must not see:
    warnings with their details, satisfaction codes, a data-quality month with failures and rejections."""
    import tests.reports.test_notice as notice

    data = _data()
    c360 = data.frames["customer_360"]
    c360["display_name"] = c360["display_name"].replace({SCRIPT: "赵*"})  # markup in a name: test_portfolio's
    _satisfaction_marts(data)
    watch = data.frames["watch_list"].assign(evidence=EVIDENCE, details=DETAILS)
    data.frames["watch_list"] = watch
    original = notice._data
    notice._data = lambda: data  # the notice test's builder, on these richer marts
    try:
        contexts = _contexts(empty_dq_context)
    finally:
        notice._data = original
    template, digest = contexts["watch_digest"]
    digest = {**digest, "rows_list": [{**r, "evidence": EVIDENCE, "details": DETAILS} for r in digest["rows_list"]]}
    contexts["watch_digest"] = (template, digest)
    contexts["dq_report"] = ("dq_report", dq_ctx)
    contexts.pop("key_account")  # another engineer's template (tests/test_report_language.py covers every kind)
    return contexts


@pytest.mark.parametrize("incomplete", [[], NOTICE], ids=["clean", "incomplete"])
def test_reports_from_hand_built_contexts_have_no_identifier_words_in_zh_cn(empty_dq_context, dq_ctx, incomplete):
    found = {}
    for kind, (template, ctx) in _reports(empty_dq_context, dq_ctx).items():
        html = render_html(template, {**ctx, "generated_at": GENERATED, "incomplete": incomplete}, "zh_CN")
        words = identifier_words(html)
        if words:
            found[kind] = words
    assert not found, f"identifier words in zh_CN reports: {found}"


def test_the_reports_say_it_in_chinese(empty_dq_context, dq_ctx):
    """What the labels put in place of the codes (a few of each kind)."""
    reports = _reports(empty_dq_context, dq_ctx)
    html = {k: render_html(t, {**c, "generated_at": GENERATED}, "zh_CN") for k, (t, c) in reports.items()}
    for kind in ("branch", "watch_digest"):
        assert "新增逾期：最长逾期天数由 0 天升至 30 天，逾期金额 3,656.21 元" in html[kind], kind
        assert "担保人（客户参考号 c3d2e1f0）逾期 95 天，五级分类为次级" in html[kind], kind
        assert "利息保障倍数偏低、经营活动现金流连续为负" in html[kind], kind
    sat = html["satisfaction"]
    for label in (
        "短信",
        "企业微信",
        "存款",
        "重点客户",
        "未分层",
        "等待时间/排队、手机银行/APP",
        "紧急",
        "推荐意愿均值",
    ):
        assert label in sat, label
    dq = html["dq_report"]
    for label in (
        "完整性",
        "控制总数不符",
        "个人客户信息（customers）",
        "原始区隔离文件",
        "员工文件第 12 行",
        "保留 395 天",
    ):
        assert label in dq, label
    assert "customers.mobile.format" in dq  # the rule id stays, in its id column, for an auditor to search


def test_english_is_complete(empty_dq_context, dq_ctx):
    reports = _reports(empty_dq_context, dq_ctx)
    html = {k: render_html(t, {**c, "generated_at": GENERATED}, "en") for k, (t, c) in reports.items()}
    assert "New overdue: worst days past due up from 0 to 30, overdue amount CNY 3,656.21" in html["branch"]
    assert "Guarantor (ref. c3d2e1f0) 95 days past due, classified Substandard" in html["watch_digest"]
    for label in ("Text message", "WeCom", "Deposits", "Waiting and queues, Mobile banking app", "Urgent"):
        assert label in html["satisfaction"], label
    for label in ("Completeness", "control totals disagree", "Individual customers (customers)", "staff file row 12"):
        assert label in html["dq_report"], label


def test_the_old_evidence_fails_the_check(empty_dq_context, dq_ctx):
    """The check can fail: the English evidence the reports printed before (the watch list's ``evidence``
    column, shown as it was) is found."""
    _, digest = _reports(empty_dq_context, dq_ctx)["watch_digest"]
    old = render_html("watch_digest", {**digest, "generated_at": GENERATED}, "zh_CN").replace(
        "新增逾期：最长逾期天数由 0 天升至 30 天", EVIDENCE
    )
    words = identifier_words(old)
    assert {"EW01", "worst", "interest_coverage", "negative_ocf", "GUARANTOR"} <= set(words)
