"""Portfolio reports on hand-made marts: who gets what (nobody sees another portfolio), empty reports, and
markup in names printed as text in the HTML and the PDF."""

from __future__ import annotations

import datetime as dt
import subprocess

import pandas as pd
import pytest

from crm.reports.data import MonthData, branch_context, key_account_context, satisfaction_context
from crm.reports.job import JobResult
from crm.reports.plan import BANK, outbox_items, portfolio_plan
from crm.reports.recipients import recipients
from crm.reports.render import render_html, render_pdf_document

DAY = dt.date(2026, 10, 31)
SCRIPT = "<script>alert(1)</script>"


def _staff() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "staff_id": ["S1", "S2", "S3", "S4", "S5", "S6", "S7"],
            "staff_name": ["张*", "李*", "王**", "赵*", "钱*", "孙*", "周*"],
            "role": ["RM", "RM", "BH", "AU", "RM", "BH", "DE"],
            "branch_id": ["B1", "B2", "B1", "HO", "B1", "HO", "HO"],
            "status": ["A", "A", "A", "A", "L", "A", "A"],
        }
    )


def _branches() -> pd.DataFrame:
    return pd.DataFrame({"branch_id": ["HO", "B1", "B2"], "branch_level": ["HO", "SB", "SB"]})


def _data() -> MonthData:
    ids = [f"k1.{i:032x}" for i in range(6)]
    value = pd.DataFrame(
        {
            "customer_id": ids,
            "manager_id": ["S1", "S1", "S1", "S2", "S2", "S1"],
            "branch_id": ["B1", "B1", "B1", "B2", "B2", "B1"],
            "segment": ["retail"] * 6,
            "value_segment": ["retail"] * 6,
            "tier": ["strategic", "key", "watch", "key", "growth", "standard"],
            "key_account": [True, True, False, True, False, False],
            "value_score": [95.0, 80, 20, 75, 50, 30],
            "lifecycle_stage": ["mature"] * 6,
            "pd": [0.01] * 6,
            "loan_nii": [100.0] * 6,
            "deposit_spread": [10.0] * 6,
            "fees": [5.0] * 6,
            "expected_loss": [1.0] * 6,
            "servicing_cost": [2.0] * 6,
            "contribution": [112.0] * 6,
        }
    )
    c360 = pd.DataFrame(
        {
            "customer_id": ids,
            "display_name": [SCRIPT, "李*", "王*", "陈*", "刘*", "杨*"],
            "branch_id": value["branch_id"],
            "branch_name": ["一支行", "一支行", "一支行", "二支行", "二支行", "一支行"],
            "city": ["上海市"] * 6,
            "tenure_months": [40] * 6,
            "products_held": [3] * 6,
            "product_families": ["DEP,LOAN"] * 6,
            "loans": [1] * 6,
            "loan_balance": [1000.0] * 6,
            "contract_amount": [2000.0] * 6,
            "overdue_principal": [0.0] * 6,
            "max_overdue_days": [0] * 6,
            "worst_five_class": ["1"] * 6,
            "guarantees_received": [0.0] * 6,
            "guarantees_given": [0.0] * 6,
            "deposit_balance": [50.0] * 6,
            "deposit_mtd_avg": [40.0] * 6,
        }
    )
    cards = pd.DataFrame(
        {
            "manager_id": ["S1", "S2"],
            "branch_id": ["B1", "B2"],
            "customers": [4, 2],
            "credit_customers": [4, 2],
            "key_accounts": [2, 1],
            "loan_balance": [4000.0, 2000.0],
            "npl_balance": [0.0, 0.0],
            "overdue_balance": [0.0, 0.0],
            "contribution": [448.0, 224.0],
            "warned_customers": [1, 0],
        }
    )
    watch = pd.DataFrame(
        {
            "customer_id": [ids[2], ids[3]],
            "manager_id": ["S1", "S2"],
            "branch_id": ["B1", "B2"],
            "severity": ["high", "high"],
            "rule_ids": ["EW01", "EW02"],
            "evidence": ["e", "f"],
            "rank_in_manager": [1, 1],
        }
    )
    by_dim = pd.DataFrame(
        {
            "dimension": ["all", "branch_id", "branch_id"],
            "value": ["all", "B1", "B2"],
            "sent": [20, 12, 8],
            "responses": [10, 6, 4],
            "response_rate": [0.5, 0.5, 0.5],
            "csat_mean": [4.0, 4.2, None],
            "csat_ci_low": [3.5, 3.6, None],
            "csat_ci_high": [4.5, 4.8, None],
            "nps": [10.0, 20.0, None],
            "nps_ci_low": [-20.0, -10.0, None],
            "nps_ci_high": [40.0, 50.0, None],
            "suppressed": [False, False, True],
            "csat_top2_share": [0.7, 0.8, None],
            "month_end": [DAY] * 3,
        }
    )
    return MonthData(
        DAY,
        {
            "customer_value": value,
            "customer_360": c360,
            "manager_scorecards": cards,
            "watch_list": watch,
            "satisfaction_by_dimension": by_dim,
            "staff": _staff(),
        },
    )


def test_recipients_from_the_staff_directory():
    r = recipients(_staff(), _branches())
    got = {(x.report, x.recipient_id, x.scope) for x in r.itertuples()}
    assert got == {
        ("key_account", "S1", "B1"),
        ("proposals", "S1", "B1"),
        ("watch_digest", "S1", "B1"),
        ("key_account", "S2", "B2"),
        ("proposals", "S2", "B2"),
        ("watch_digest", "S2", "B2"),
        ("branch", "S3", "B1"),
        ("satisfaction", "S3", "B1"),
        ("data_quality", "S4", "bank"),
        ("branch", "S6", "HO"),
        ("satisfaction", "S6", "bank"),
    }  # S5 left the bank; S7 is not a reader


def test_nobody_sees_another_portfolio():
    data = _data()
    mine = key_account_context(data, "S1")
    refs = {a["profile"]["ref"] for a in mine["accounts"]} | {w["ref"] for w in mine["watch"]}
    value = data["customer_value"]
    others = set(value.loc[value["manager_id"] != "S1", "customer_id"].str[-8:])
    assert refs and not refs & others
    assert mine["customers"] == 4 and [a["profile"]["ref"] for a in mine["accounts"]] == [
        value["customer_id"][0][-8:],
        value["customer_id"][1][-8:],
    ]  # key accounts by value score
    branch = branch_context(data, "B2")
    assert [m["manager_id"] for m in branch["managers"]] == ["S2"]
    assert {k["ref"] for k in branch["key_accounts"]} == {value["customer_id"][3][-8:]}
    assert [w["ref"] for w in branch["warnings"]] == [value["customer_id"][3][-8:]]
    sat = satisfaction_context(data, branch_id="B1")
    assert sat["overall"]["value"] == "B1" and sat["rows"] == 6 and "branch_id" not in sat["dimensions"]


def test_empty_report_is_planned_but_not_rendered(tmp_path):
    data = _data()
    staff = pd.concat(
        [
            _staff(),
            pd.DataFrame(
                {"staff_id": ["S8"], "staff_name": ["吴*"], "role": ["RM"], "branch_id": ["B1"], "status": ["A"]}
            ),
        ]
    )
    planned = portfolio_plan(data, recipients(staff, _branches()), tmp_path, "zh_CN", dt.datetime(2026, 11, 1, 10))
    by = {(p.report, p.recipient_id): p for p in planned}
    assert by[("key_account", "S8")].rows == 0 and by[("key_account", "S8")].job is None
    assert by[("key_account", "S1")].job is not None and by[("satisfaction", BANK)].mail is False
    results = [JobResult(p.job_id, True, p.job.html_path, p.job.pdf_path) for p in planned if p.job]
    items = {(i.report, i.recipient_id): i for i in outbox_items(planned, results, dt.datetime(2026, 11, 1, 2))}
    assert items[("key_account", "S8")].rows == 0 and items[("key_account", "S8")].pdf_path is None
    assert ("satisfaction", BANK) not in items  # on file, not mailed
    assert items[("key_account", "S1")].subject.startswith("【重点客户月报】2026年10月")


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_markup_in_a_name_is_text_in_html_and_pdf(locale, tmp_path):
    ctx = key_account_context(_data(), "S1") | {"generated_at": dt.datetime(2026, 11, 1, 10)}
    html = render_html("key_account", ctx, locale)
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    pdf = render_pdf_document(html)
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert SCRIPT in text.replace(" ", "")  # printed as the literal characters
    assert pdf.pages <= 2  # the cards share pages with the summary: no page per key account


def test_key_accounts_most_urgent_first_once_per_line_and_on_cards():
    data = _data()
    ids = data["customer_value"]["customer_id"].tolist()
    # S1's key accounts: ids[0] (value 95, no warning) and ids[1] (value 80, a medium warning): the warned one
    # comes first although it is worth less
    data.frames["early_warnings"] = pd.DataFrame(
        {"customer_id": [ids[1]], "rule_id": ["EW04"], "severity": ["medium"], "evidence_args": ['{"drop": 40}']}
    )
    ctx = key_account_context(data, "S1")
    assert [r["ref"] for r in ctx["account_rows"]] == [ids[1][-8:], ids[0][-8:]]
    assert [a["profile"]["ref"] for a in ctx["accounts"]] == [ids[1][-8:], ids[0][-8:]]
    assert ctx["account_rows"][0]["warnings"] == 1 and ctx["account_rows"][0]["top_severity"] == "medium"
    assert ctx["account_rows"][1]["warnings"] == 0 and ctx["account_rows"][1]["top_severity"] is None
    assert ctx["figure_params"] == {"month_end": "2026-10-31", "manager_id": "S1", "leader_percentile": 0.9}


def test_urgency_orders_by_severity_then_days_past_due_then_class_then_value():
    from crm.reports.data import urgency_order

    keys = pd.DataFrame(
        {
            "customer_id": list("abcdef"),
            "max_overdue_days": [0, 30, 0, 0, 5, 0],
            "worst_five_class": ["1", "2", "3", "1", "1", "1"],
            "value_score": [10.0, 1, 1, 99, 1, 50],
        }
    )
    warnings = pd.DataFrame({"customer_id": ["f", "f", "e"], "severity": ["low", "high", "medium"]})
    out = urgency_order(keys, warnings)
    # f (high), e (medium), then without a warning: b (30 days), c (class 3), d (value 99), a (value 10)
    assert out["customer_id"].tolist() == ["f", "e", "b", "c", "d", "a"]
    assert out["warnings"].tolist() == [2, 1, 0, 0, 0, 0]
    assert out["top_severity"].tolist()[:2] == ["high", "medium"]


def test_key_account_html_summary_table_cards_and_figures():
    import re

    ctx = key_account_context(_data(), "S1") | {"generated_at": dt.datetime(2026, 11, 1, 10)}
    html = render_html("key_account", ctx, "zh_CN")
    assert '<table class="sortable fixed">' in html and html.count('class="account-card"') == 2
    assert "break-before: page" not in html.split("account-card")[1]  # cards share pages
    # every tile names its figure; the summary table's numbers name theirs, per row
    assert len(re.findall(r'<div class="value"><span class="fig" data-figure="ka\.', html)) == 12
    assert re.search(
        r'<tr data-row="[0-9a-f]{8}">.*data-figure="ka\.accounts\.loan_balance" data-value="1000\.0"', html
    )
    assert 'data-figure="ka.loan_balance" data-value="4000.0"' in html
    # a figure inside a sentence stays markup (not escaped into text)
    assert "&lt;span" not in html
