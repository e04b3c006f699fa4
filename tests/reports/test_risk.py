"""The risk officers' report on hand-made marts: the branch cut (a branch's officer sees its sub-branches, the
head office the bank), every section's figures, the HTML in zh_CN and en, the leak scan over the outputs, and
every figure of the HTML recomputed by its query (crm/reports/figures_risk.toml) on DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import subprocess
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from crm import warehouse as wh
from crm.reports.data import MonthData
from crm.reports.leakscan import pdf_text, scan_texts
from crm.reports.plan import BANK, REPORT_KINDS, risk_plan
from crm.reports.recipients import recipients
from crm.reports.render import render_html, render_pdf_document
from crm.reports.risk import load_risk_month, risk_context
from crm.warehouse.marts import replace_partition

DAY = dt.date(2026, 10, 31)
GENERATED = dt.datetime(2026, 11, 1, 10)
SCRIPT = "<script>alert(1)</script>"
FIGURES = Path(__file__).resolve().parents[2] / "crm" / "reports" / "figures_risk.toml"


def _id(n: int) -> str:
    return f"k1.{n:032x}"


C1, C2, C3, C4, C5, C6 = (_id(i) for i in (0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6))
P1, P2 = _id(0x1001), _id(0x1002)  # related parties that are not customers
# the raw values behind the masked names: they must never reach a report
RAW = {"customer_name": ["张三丰", "李四光"], "id_number": ["110101199003077777"], "mobile": ["13800138000"]}


def _branches() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "branch_id": ["0000", "0100", "0101", "0102", "0200", "0201", "0300"],
            "branch_name": ["总行", "上海分行", "浦东支行", "徐汇支行", "北京分行", "海淀支行", "广州分行"],
            "parent_branch_id": [None, "0000", "0100", "0100", "0000", "0200", "0000"],
            "branch_level": ["HO", "BR", "SB", "SB", "BR", "SB", "BR"],
        }
    )


def _staff() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "staff_id": ["S1", "S2", "S3", "S4", "S5", "S6"],
            "staff_name": ["赵*", "钱*", "孙*", "周*", "吴*", "郑*"],
            "role": ["RO", "RO", "RO", "RO", "RM", "BH"],
            "branch_id": ["0100", "0000", "0300", "0200", "0101", "0101"],
            "status": ["A", "A", "A", "L", "A", "A"],
        }
    )


def _marts() -> dict[str, pd.DataFrame]:
    """One month of the risk marts. Shanghai (0100: sub-branches 0101, 0102) holds C1, C2, C3 and C6 (deposits
    only); Beijing (0200) C4 and C5; Guangzhou (0300) nobody."""
    c360 = pd.DataFrame(
        {
            "customer_id": [C1, C2, C3, C4, C5, C6],
            "segment": ["corporate", "corporate", "retail", "corporate", "corporate", "retail"],
            "display_name": [
                "甲制造有限公司",
                "乙贸易有限公司",
                "张*",
                f"丙{SCRIPT}建设有限公司",
                "丁科技有限公司",
                "李*",
            ],
            "industry": ["C", "F", None, "E", "I", None],
            "branch_id": ["0101", "0102", "0101", "0201", "0201", "0101"],
            "parent_branch_id": ["0100", "0100", "0100", "0200", "0200", "0100"],
            "branch_name": ["浦东支行", "徐汇支行", "浦东支行", "海淀支行", "海淀支行", "浦东支行"],
            "manager_id": ["S5"] * 6,
            "manager_name": ["吴*"] * 6,
            "loans": [2, 1, 1, 1, 1, 0],
            "loan_balance": [5_000_000.0, 3_000_000.0, 500_000.0, 8_000_000.0, 2_000_000.0, None],
            "max_overdue_days": [0.0, 40.0, 95.0, 10.0, 0.0, None],
            "worst_five_class": ["2", "1", "2", "1", "1", None],
            "inquiries_3m": [2.0, 1.0, 6.0, 0.0, 1.0, None],
            "external_loan_balance": [900_000.0, 0.0, 50_000.0, 0.0, 0.0, None],
        }
    )
    fc = pd.DataFrame(
        {
            "loan_id": ["L1", "L2", "L3", "L4", "L5"],
            "customer_id": [C2, C3, C1, C4, C1],
            "status": ["O", "O", "N", "O", "N"],
            "balance": [3_000_000.0, 500_000.0, 1_000_000.0, 8_000_000.0, 200_000.0],
            "overdue_days": [40, 95, 0, 10, 0],
            "restructured": ["N", "N", "N", "N", "Y"],
            "reported_class": [1, 2, 2, 1, 1],
            "rule_class": [2, 3, 1, 2, 2],
            "difference": [1, 1, -1, 1, 1],
            "direction": ["reported better than rule"] * 2
            + ["reported worse (conservative)"]
            + ["reported better than rule"] * 2,
            "reason": ["x"] * 5,
        }
    )
    flags = [
        "flag_leverage_up",
        "flag_liquidity",
        "flag_interest_coverage",
        "flag_negative_ocf",
        "flag_revenue_decline",
    ]

    def st(cid, sid, period, ptype, received, prev, raised, ratios=(0.5, 1.2, 3.0)):
        row = {
            "statement_id": sid,
            "customer_id": cid,
            "report_period": dt.date.fromisoformat(period),
            "period_type": ptype,
            "received_date": dt.date.fromisoformat(received),
            "prev_report_period": dt.date.fromisoformat(prev) if prev else None,
            "debt_to_asset": ratios[0],
            "current_ratio": ratios[1],
            "interest_coverage": ratios[2],
        }
        row |= {f: f.removeprefix("flag_") in raised for f in flags}
        row["flag_count"] = len(raised)
        return row

    ratios = pd.DataFrame(
        [
            st(C1, "S-1-22", "2022-12-31", "A", "2023-04-30", None, []),
            st(
                C1,
                "S-1-23",
                "2023-12-31",
                "A",
                "2024-04-30",
                "2022-12-31",
                ["leverage_up", "interest_coverage"],
                (0.72, 0.9, 1.1),
            ),  # fmt: skip
            st(C2, "S-2-22", "2022-12-31", "A", "2023-04-30", None, ["liquidity"]),
            st(C2, "S-2-23", "2023-12-31", "A", "2024-04-30", "2022-12-31", ["liquidity"]),
            st(C4, "S-4-23", "2023-06-30", "H", "2023-08-30", None, ["revenue_decline"]),
            # received last, but not the latest period: C5's latest statement (2023) raised nothing
            st(C5, "S-5-22", "2022-12-31", "A", "2024-05-20", None, ["leverage_up", "liquidity", "negative_ocf"]),
            st(C5, "S-5-23", "2023-12-31", "A", "2024-04-30", "2022-12-31", []),
        ]
    )
    groups = pd.DataFrame(
        {
            "node": [C1, C2, P1, C4, C5, C3, P2],
            "group_id": ["G1"] * 3 + ["G2"] * 2 + ["G3"] * 2,
            "group_size": [3, 3, 3, 2, 2, 2, 2],
            "is_customer": [True, True, False, True, True, True, False],
            "group_customers": [2, 2, 2, 2, 2, 1, 1],
        }
    )
    exposure = pd.DataFrame(
        {
            "group_id": ["G2", "G1", "G3"],
            "customers": [2, 2, 1],
            "borrowers": [2, 2, 1],
            "balance": [10_000_000.0, 8_000_000.0, 500_000.0],
            "share_of_total": [10 / 18.5, 8 / 18.5, 0.5 / 18.5],
        }
    )
    circles = pd.DataFrame(
        {
            "circle_id": ["C1", "C2"],
            "length": [2, 2],
            "members": [f"{C1},{C4}", f"{C5},{P1}"],
            "customers": [2, 1],
            "amount": [1_000_000.0, 300_000.0],
        }
    )

    def ew(cid, rule, sev, args):
        return {"customer_id": cid, "rule_id": rule, "severity": sev, "evidence_args": json.dumps(args)}

    warnings = pd.DataFrame(
        [
            ew(C2, "EW01", "high", {"days_before": 0, "days_now": 40, "overdue_amount": 12000.5}),
            ew(C3, "EW02", "high", {"days_before": 65, "days_now": 95}),
            ew(C3, "EW08", "low", {"inquiries_before": 1, "inquiries_now": 6}),
            ew(
                C1,
                "EW09",
                "medium",
                {"loans_before": 1, "loans_now": 2, "balance_before": 100000, "balance_now": 900000},
            ),
            ew(C1, "EW07", "medium", {"period": "2023-12-31", "flags": ["leverage_up", "interest_coverage"]}),
            ew(C4, "EW10", "high", {"relation": "GUARANTOR", "related_ref": C1[-8:], "days": 95, "five_class": "3"}),
        ]
    )
    return {
        "customer_360": c360,
        "five_class_differences": fc,
        "financial_ratios": ratios,
        "party_groups": groups,
        "group_exposure": exposure,
        "guarantee_circles": circles,
        "early_warnings": warnings,
    }


def _data() -> MonthData:
    frames = {k: v.assign(month_end=DAY) for k, v in _marts().items()}
    return MonthData(DAY, {**frames, "branches": _branches(), "staff": _staff()})


def _ctx(branch: str | None) -> dict:
    return risk_context(_data(), branch) | {"generated_at": GENERATED, "incomplete": []}


# ------------------------------------------------------------------------------------------- context
def test_a_branch_officer_reads_the_branch_and_its_sub_branches_only():
    ctx = _ctx("0100")
    s = ctx["totals"]
    assert ctx["branch_name"] == "上海分行" and ctx["scope"] == "branch" and ctx["rows"] == 4
    assert ctx["figure_params"] == {"month_end": "2026-10-31", "branch_id": "0100"}
    assert (s["loan_balance"], s["borrowers"]) == (8_500_000.0, 3)
    # five-category: reported better first (largest gap, then balance), the conservative one last
    assert [r["loan_id"] for r in ctx["five_class"]["rows"]] == ["L1", "L2", "L5", "L3"]
    assert [r["basis"] for r in ctx["five_class"]["rows"]] == ["overdue", "overdue", "restructured", "current"]
    assert ctx["five_class"]["by_direction"] == [
        {"direction": "better", "loans": 3, "balance": 3_700_000.0},
        {"direction": "worse", "loans": 1, "balance": 1_000_000.0},
    ]
    # ratios: C1 rose from 0 to 2 flags; C2 stayed at 1; C4 and C5 are Beijing's
    (r,) = ctx["ratios"]["rows"]
    assert (r["ref"], r["flags_before"], r["flags_now"], r["new_flags"]) == (
        C1[-8:],
        0,
        2,
        ["leverage_up", "interest_coverage"],
    )
    assert {f["flag"]: f["customers"] for f in ctx["ratios"]["by_flag"]} == {
        "leverage_up": 1,
        "liquidity": 0,
        "interest_coverage": 1,
        "negative_ocf": 0,
        "revenue_decline": 0,
    }
    # G1 (C1, C2; C2 overdue) and the circle C1 -> C4 (C4 overdue, in Beijing); G2 has no Shanghai member
    (g,) = ctx["groups"]["rows"]
    assert (g["group_id"], g["troubled"], g["troubled_balance"], g["balance"]) == ("G1", 1, 3_000_000.0, 8_000_000.0)
    assert g["lead"]["ref"] == C1[-8:] and [p["ref"] for p in g["troubled_names"]] == [C2[-8:]]
    (c,) = ctx["circles"]["rows"]
    assert (c["circle_id"], c["troubled"]) == ("C1", 1) and [p["ref"] for p in c["chain"]] == [C1[-8:], C4[-8:]]
    assert [(b["ref"], [w["rule_id"] for w in b["warnings"]]) for b in ctx["bureau"]["rows"]] == [
        (C1[-8:], ["EW09"]),
        (C3[-8:], ["EW08"]),
    ]
    assert [h["ref"] for h in ctx["high"]["rows"]] == [C2[-8:], C3[-8:]]
    assert [w["rule_id"] for w in ctx["high"]["rows"][1]["warnings"]] == ["EW02", "EW08"]  # high first
    # concentration: corporate loans C 5m, F 3m; obligors: group G1 (8m) and C3 (G3 has one customer)
    assert [(i["industry"], i["share"]) for i in ctx["industries"]] == [("C", 0.625), ("F", 0.375)]
    assert s["industry_hhi"] == pytest.approx(0.625**2 + 0.375**2) and s["corporate_balance"] == 8_000_000.0
    assert [(o["key"], o["kind"], o["borrowers"]) for o in ctx["obligors"]["rows"]] == [
        ("G1", "group", 2),
        (C3[-8:], "customer", 1),
    ]
    assert s["top_obligor_share"] == pytest.approx(8 / 8.5)
    assert s["obligor_hhi"] == pytest.approx((8 / 8.5) ** 2 + (0.5 / 8.5) ** 2)
    assert (s["fc_better_loans"], s["ratio_customers"], s["groups_in_trouble"], s["circles_in_trouble"]) == (3, 1, 1, 1)
    assert (s["bureau_customers"], s["high_customers"]) == (2, 2)
    # nobody from Beijing
    text = json.dumps(ctx, default=str, ensure_ascii=False)
    assert C5[-8:] not in text and "丁" not in text and "L4" not in text


def test_the_head_office_reads_the_bank():
    ctx = _ctx(None)
    s = ctx["totals"]
    assert ctx["scope"] == "bank" and ctx["rows"] == 6 and ctx["figure_params"]["branch_id"] is None
    assert (s["loan_balance"], s["borrowers"], s["fc_better_loans"]) == (18_500_000.0, 5, 4)
    assert [r["loan_id"] for r in ctx["five_class"]["rows"]] == ["L4", "L1", "L2", "L5", "L3"]
    assert [r["ref"] for r in ctx["ratios"]["rows"]] == [C1[-8:], C4[-8:]]  # C5's latest period raised nothing
    assert [g["group_id"] for g in ctx["groups"]["rows"]] == ["G2", "G1"]  # by group balance
    # every circle with a member in the scope, those in trouble first; the tile counts those
    assert [(c["circle_id"], c["troubled"]) for c in ctx["circles"]["rows"]] == [("C1", 1), ("C2", 0)]
    assert s["circles_in_trouble"] == 1 and [p["ref"] for p in ctx["circles"]["rows"][1]["chain"]] == [C5[-8:], None]
    assert ctx["circles"]["summary"] == [
        {"key": "all", "circles": 2, "amount": 1_300_000.0},
        {"key": "in_trouble", "circles": 1, "amount": 1_000_000.0},
    ]
    assert [o["key"] for o in ctx["obligors"]["rows"]] == ["G2", "G1", C3[-8:]]
    assert s["top_obligor_share"] == pytest.approx(10 / 18.5) and s["high_customers"] == 3


def test_an_empty_branch_is_an_empty_report():
    ctx = _ctx("0300")
    assert ctx["rows"] == 0 and ctx["totals"]["loan_balance"] == 0.0 and ctx["obligors"]["rows"] == []
    assert ctx["totals"]["industry_hhi"] is None


# ------------------------------------------------------------------------------------------- recipients, plan
def test_risk_officers_receive_the_risk_report_head_office_bank_wide(tmp_path):
    r = recipients(_staff(), _branches())
    risk = r[r["report"] == "risk"]
    assert {(x.recipient_id, x.scope) for x in risk.itertuples()} == {("S1", "0100"), ("S2", "bank"), ("S3", "0300")}
    assert REPORT_KINDS["risk"].readers == ("RO",) and REPORT_KINDS["risk"].cadence == "month"
    planned = {p.recipient_id: p for p in risk_plan(_data(), r, tmp_path, "zh_CN", GENERATED)}
    assert set(planned) == {"S1", "S2", "S3"}  # one report each, the leaver S4 none
    assert planned["S1"].subject == "【风险管理月报】2026年10月 · 上海分行" and planned["S1"].rows == 4
    assert planned["S2"].subject == "【风险管理月报】2026年10月 · 全行" and planned["S2"].rows == 6
    assert planned["S2"].job.context["branch_id"] is None
    assert planned["S3"].rows == 0 and planned["S3"].job is None  # nobody booked in Guangzhou: skipped_empty
    assert planned["S1"].job.html_path == tmp_path / "2026-10" / "risk" / "S1.html"
    assert all(p.mail and p.recipient_id != BANK for p in planned.values())
    en = risk_plan(_data(), r, tmp_path, "en", GENERATED)
    assert {p.subject for p in en} >= {
        "[Risk report] October 2026 · 上海分行",
        "[Risk report] October 2026 · Bank-wide",
    }


# ------------------------------------------------------------------------------------------- HTML, PDF
class _Figures(HTMLParser):
    """Every figure of a report's HTML: (figure id, data-row of its table row or None, data-value), and the
    figure parameters of the head."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[str | None] = []
        self.found: list[tuple[str, str | None, str]] = []
        self.params: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and a.get("name") == "crm:figure-params":
            self.params = json.loads(a["content"])
        if tag == "tr":
            self.rows.append(a.get("data-row"))
        if "data-figure" in a:
            self.found.append((a["data-figure"], self.rows[-1] if tag == "td" else None, a.get("data-value") or ""))

    def handle_endtag(self, tag):
        if tag == "tr":
            self.rows.pop()


def _figures(html: str) -> _Figures:
    p = _Figures()
    p.feed(html)
    return p


def _value(html: str, figure: str, row: str | None = None) -> str:
    """The printed text of a figure (a tile's value or a table cell)."""
    cell = rf'data-figure="{re.escape(figure)}" data-value="[^"]*">([^<]*)<'
    if row is None:
        m = re.search(cell, html)
    else:
        trs = re.findall(rf'<tr data-row="{re.escape(row)}">(.*?)</tr>', html, re.S)
        m = next((x for x in (re.search(cell, tr) for tr in trs) if x), None)
    assert m, (figure, row)
    return m.group(1)


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_html_shows_every_section_with_figures(locale):
    html = render_html("risk", _ctx("0100"), locale)
    zh = locale == "zh_CN"
    assert (
        "<title>风险管理月报 · 2026年10月</title>" if zh else "<title>Monthly risk report · October 2026</title>"
    ) in html
    assert _figures(html).params == {"month_end": "2026-10-31", "branch_id": "0100"}
    assert _value(html, "risk.loan_balance") == ("850.00" if zh else "8.50")  # the unit in the label
    assert ("贷款余额（万元）" if zh else "Loan balance (CNY mn)") in html
    assert _value(html, "risk.fc_better_loans") == "3" and _value(html, "risk.borrowers") == "3"
    assert _value(html, "risk.fc_better_balance") == ("370.00 万元" if zh else "CNY 3.70 mn")
    assert _value(html, "risk.industry_hhi") == "0.531" and _value(html, "risk.top_industry_share") == "62.5%"
    assert _value(html, "risk.top_obligor_share") == "94.1%"
    assert _value(html, "risk.fc_balance", "L1") == ("300.00" if zh else "3.00")
    assert _value(html, "risk.fc_overdue_days", "L2") == "95"
    assert _value(html, "risk.fc_direction_loans", "better") == "3"
    assert _value(html, "risk.ratio_flags_now", C1[-8:]) == "2"
    assert _value(html, "risk.ratio_debt_to_asset", C1[-8:]) == "72.0%"
    assert _value(html, "risk.group_troubled", "G1") == "1"
    assert _value(html, "risk.circle_amount", "in_trouble") == ("100.00" if zh else "1.00")
    assert _value(html, "risk.circle_count", "all") == "1" == _value(html, "risk.circle_count", "in_trouble")
    assert (
        _value(html, "risk.bureau_rule_customers", "EW08") == "1" == _value(html, "risk.bureau_rule_customers", "EW09")
    )
    assert _value(html, "risk.high_warnings", C3[-8:]) == "2"
    assert _value(html, "risk.industry_share", "C") == "62.5%"
    assert _value(html, "risk.obligor_share", "G1") == "94.1%"
    # words, not codes: classes, flags, industries, rules and the warnings' evidence as sentences
    if zh:  # no program word: codes are labels, rule ids are names (the markup in a name is data)
        from tests.reports.language import identifier_words

        assert set(identifier_words(html)) <= {"script", "alert"}, identifier_words(html)
        for text in (
            "五级分类差异复核",
            "报送优于规则（待复核）",
            "关注",
            "次级",
            "重组贷款",
            "资产负债率明显上升",
            "制造业",
            "批发和零售业",
            f"甲制造有限公司（{C1[-8:]}）所在集团",
            "新增逾期：最长逾期天数由 0 天升至 40 天，逾期金额 12,000.50 元",
            "近 3 个月征信查询次数由 1 次增至 6 次",
            "他行贷款由 1 笔变为 2 笔",
            f"甲制造有限公司（{C1[-8:]}） → 丙&lt;script&gt;alert(1)&lt;/script&gt;建设有限公司（{C4[-8:]}）",
        ):
            assert text in html, text
    else:
        for text in (
            "Five-category classes to review",
            "Substandard",
            "Restructured",
            "debt-to-asset ratio up sharply",
            "Manufacturing",
            f"Group of 甲制造有限公司 ({C1[-8:]})",
            "New overdue: worst days past due up from 0 to 40, overdue amount CNY 12,000.50",
        ):
            assert text in html, text
        # the only Chinese of the English report is data: names of customers, branches and managers
        text = _visible_text(html)
        data = _marts()["customer_360"]
        for value in [*data["display_name"], *data["manager_name"], *_branches()["branch_name"], "内部资料"]:
            text = text.replace(str(value).replace("<", "&lt;").replace(">", "&gt;"), "")
        assert not re.findall(r"[\u4e00-\u9fff]+", text), "Chinese words in the English report"
    # customers are masked names and short references, never a token
    for token in (C1, C2, C3, C4, C5, C6, P1, P2):
        assert token not in html
    assert "非本行客户" not in html and "not a customer" not in html  # circle C2 (with P1) is not Shanghai's
    assert SCRIPT not in html


def _visible_text(html: str) -> str:
    body = html.split("<body", 1)[1].split("<script", 1)[0]
    return re.sub(r"<[^>]+>", " ", body)


def test_numbers_in_tiles_and_tables_are_all_figures():
    """Every numeric cell of every table and every tile value carries a figure id of figures_risk.toml."""
    html = render_html("risk", _ctx(None), "zh_CN")
    known = set(tomllib.loads(FIGURES.read_text(encoding="utf-8")))
    used = {f for f, _, _ in _figures(html).found}
    assert used == known  # the hand-made bank has a case of every figure
    assert not re.search(r'<td class="num">', html), "a number in a table that is not a figure"
    assert html.count('<div class="value"><span class="fig"') == 8 == html.count('<div class="tile')


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_pdf_renders_and_the_leak_scan_finds_nothing(locale, tmp_path):
    html = render_html("risk", _ctx(None), locale)
    pdf = render_pdf_document(html)
    path = tmp_path / "risk.pdf"
    path.write_bytes(pdf.data)
    (tmp_path / "risk.html").write_text(html, encoding="utf-8")
    texts = {"risk.html": html, "risk.pdf": pdf_text(path)}
    forbidden = RAW | {"token": [C1, C2, C3, C4, C5, C6, P1, P2]}
    assert scan_texts(texts, forbidden) == []
    assert 2 <= pdf.pages <= 4
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert SCRIPT in re.sub(r"\s", "", text)  # markup in a name is printed as text
    assert ("风险管理月报" if locale == "zh_CN" else "Monthly risk report") in text
    # the bank's circle C2: a customer guarantees a party that is not one, who is named as such
    assert ("非本行客户" if locale == "zh_CN" else "not a customer") in html


# ------------------------------------------------------------------------------------------- reconciliation
def _write_marts(warehouse) -> None:
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        for name, frame in _marts().items():
            replace_partition(conn, name, frame.assign(month_end=DAY), {"month_end": DAY})


def _query(conn: sa.Connection, sql: str, params: dict) -> list[tuple]:
    if conn.dialect.name == "postgresql":  # the figures name tables without a schema
        schema = wh.schema_of(conn)
        if schema:
            conn.execute(sa.text(f'SET LOCAL search_path TO "{schema}"'))
    return [tuple(r) for r in conn.execute(sa.text(sql), params).fetchall()]


def _same(shown: str, expected) -> bool:
    if expected is None or shown == "":
        return expected is None and shown == ""
    return math.isclose(float(shown), float(expected), rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("branch", [None, "0100", "0200"])
def test_every_figure_is_recomputed_by_its_query(warehouse, branch):
    """The report read back from the warehouse (DuckDB and PostgreSQL): every figure of its HTML equals what
    its query in figures_risk.toml returns for the report's figure parameters."""
    _write_marts(warehouse)
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        data = load_risk_month(conn, DAY, _staff(), _branches())
    html = render_html("risk", risk_context(data, branch) | {"generated_at": GENERATED, "incomplete": []}, "en")
    found = _figures(html)
    figures = tomllib.loads(FIGURES.read_text(encoding="utf-8"))
    results: dict[str, list[tuple]] = {}
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        for fid, spec in figures.items():
            assert spec["report"] == "risk" and spec["kind"] in ("scalar", "table") and spec["label"]["en"]
            results[fid] = _query(conn, spec["sql"], found.params)
    wrong = []
    for fid, row, shown in found.found:
        rows = results[fid]
        if figures[fid]["kind"] == "scalar":
            expected = rows[0][0]
        else:
            by_row = {str(r[0]): r[1] for r in rows}
            if row not in by_row:
                wrong.append((fid, row, shown, "no such row"))
                continue
            expected = by_row[row]
        if not _same(shown, expected):
            wrong.append((fid, row, shown, expected))
    assert len(found.found) > 40 and not wrong, wrong


def test_a_quarantined_risk_officer_is_rendered_and_recorded_undeliverable(tmp_path):
    """As for every reader: a risk officer whose staff row was quarantined still has the report rendered (kept
    on file) and an undeliverable reason naming the rules and the staff file's row, never a value; one whose
    staff id cannot name a file gets no rendering, under row-<n>."""
    from crm.reports.plan import complete
    from crm.reports.recipients import quarantined_recipients, servable, with_quarantined

    from .test_recipients import FILE, NAME, _quarantine

    raw, reports = tmp_path / "raw", tmp_path / "reports"
    reports.mkdir()
    base = {"status": "A", "_rule_ids": "staff.email.email_format"}
    _quarantine(
        raw,
        [
            {**base, "staff_id": "S7", "role": "RO\u200b", "branch_id": "0200", "_row_number": 7},
            {**base, "staff_id": "../S8", "role": "RO", "branch_id": "0000", "_row_number": 8},
        ],
    )
    everyone = with_quarantined(
        recipients(_staff(), _branches()), quarantined_recipients(raw, DAY, reports, _branches())
    )
    planned = complete(
        risk_plan(_data(), servable(everyone), reports, "zh_CN", GENERATED),
        everyone,
        [],
        period="2026-10",
        reports={"risk": "risk"},
    )
    by = {p.recipient_id: p for p in planned}
    assert set(by) == {"S1", "S2", "S3", "S7", "row-8"}
    assert by["S7"].undeliverable == f"quarantined: staff.email.email_format (staff file {FILE} row 7)"
    assert by["S7"].job is not None and by["S7"].job.context["branch_id"] == "0200" and by["S7"].rows == 2
    assert by["row-8"].job is None and by["row-8"].undeliverable.startswith("unusable staff id:")
    assert by["S1"].undeliverable is None
    assert NAME not in json.dumps([p.undeliverable for p in planned])


def test_the_same_marts_in_another_row_order_give_the_same_bytes(tmp_path):
    """Rows come back from a warehouse in no set order (DuckDB and PostgreSQL differ): the report sums them in
    the order of their keys, so the unrounded figures in the HTML, and so the HTML, do not depend on it."""
    htmls = []
    for n, shuffle in enumerate((False, True)):
        engine = wh.make_engine(f"duckdb:///{tmp_path / f'w{n}.duckdb'}")
        try:
            with wh.begin(engine) as conn:
                for name, frame in _marts().items():
                    if name == "customer_360":  # balances whose float sum depends on the order of addition
                        frame = frame.assign(loan_balance=[0.1, 0.7, 0.2, 1e8 / 3, 0.3, None])
                    if shuffle:
                        frame = frame.sample(frac=1.0, random_state=7).iloc[::-1]
                    replace_partition(conn, name, frame.assign(month_end=DAY), {"month_end": DAY})
            with wh.begin(engine) as conn:
                data = load_risk_month(conn, DAY, _staff(), _branches())
        finally:
            engine.dispose()
        htmls.append(render_html("risk", risk_context(data, None) | {"generated_at": GENERATED, "incomplete": []}))
    assert htmls[0] == htmls[1]
