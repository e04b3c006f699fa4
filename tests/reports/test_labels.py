"""crm.reports.labels: code labels, reason codes and early-warning evidence as sentences, in both languages."""

from __future__ import annotations

import json
import re

import pytest

from crm.contract.codes import CODE_SETS
from crm.reports import labels as L
from crm.reports.fmt import LOCALES, Formatter
from crm.reports.i18n import catalogue, translator

ZH, EN = translator("zh_CN"), translator("en")
FZ, FE = Formatter("zh_CN"), Formatter("en")


def test_code_label_and_codes_label():
    assert L.code_label("industry", "C", ZH) == "制造业"
    assert L.code_label("industry", "C", EN) == "Manufacturing"
    assert L.code_label("five_class", 2.0, ZH) == "关注"  # a class code read as a number
    assert L.code_label("industry", None, ZH) == L.code_label("industry", float("nan"), ZH) == "—"
    assert L.code_label("industry", "Z9", ZH) == "Z9"  # unknown: the code, never an error
    assert L.code_label("no_such_set", "X", ZH) == "X"
    assert L.code_label("tier", "key", ZH) == "重点客户"  # read from the portfolio catalogue (one label)
    assert L.codes_label("product_family", "CARD,DEP,LOAN", ZH) == "信用卡、存款、贷款"
    assert L.codes_label("product_family", "CARD,DEP,LOAN", EN) == "Credit card, Deposits, Loans"
    assert L.codes_label("product_family", ["PAYR"], ZH) == "代发工资"
    assert L.codes_label("product_family", "", ZH) == L.codes_label("product_family", None, ZH) == "—"


def test_every_contract_code_has_a_label_in_both_languages():
    keys = catalogue()
    for code_set, codes in CODE_SETS.items():
        for code, zh in codes.items():
            prefix = L.ALIASES.get(code_set, f"code.{code_set}.")
            assert prefix + code in keys, (code_set, code)
            if prefix.startswith("code."):
                assert keys[prefix + code]["zh_CN"] == zh, (code_set, code)


def test_every_scorecard_characteristic_has_a_reason_label():
    from crm.scoring.sample import FEATURES

    for features in FEATURES.values():
        for f in features:
            assert L.reason_label(f, ZH) != f, f
            assert L.reason_label(f, EN) != f, f
    assert L.reason_label("annual_income", ZH) == "年收入"
    assert L.reason_label("some_new_column", ZH) == "some_new_column"
    assert L.reason_label(None, ZH) == "—"


def test_ratio_flags_and_dq_families_are_labelled():
    from crm.quality.rules import FAMILIES
    from crm.scoring.financials import FLAGS

    for flag in FLAGS:
        assert L.code_label("ratio_flag", flag.removeprefix("flag_"), ZH) != flag.removeprefix("flag_")
    for family in FAMILIES:
        assert L.code_label("dq_family", family, ZH) != family


def test_warning_sentences_zh_and_en():
    ew01 = {"days_before": 0, "days_now": 30, "overdue_amount": 3656.21}
    assert L.warning_sentence("EW01", ew01, FZ, ZH) == "最长逾期天数由 0 天升至 30 天，逾期金额 3,656.21 元"
    assert L.warning_sentence("EW01", json.dumps(ew01), FE, EN) == (
        "worst days past due up from 0 to 30, overdue amount CNY 3,656.21"
    )
    ew07 = {"period": "2023-12-31", "flags": ["interest_coverage", "negative_ocf"]}
    assert (
        L.warning_sentence("EW07", ew07, FZ, ZH) == "2023年12月31日财务报表：利息保障倍数偏低、经营活动现金流连续为负"
    )
    ew10 = {"relation": "GUARANTOR", "related_ref": "1a2b3c4d", "days": 45, "five_class": "3"}
    assert L.warning_sentence("EW10", ew10, FZ, ZH) == "担保人（客户参考号 1a2b3c4d）逾期 45 天，五级分类为次级"
    assert (
        L.warning_sentence("EW10", ew10, FE, EN) == "Guarantor (ref. 1a2b3c4d) 45 days past due, classified Substandard"
    )
    # a missing number is a dash, never "None" or "nan"
    assert (
        L.warning_sentence("EW04", {"score_before": None, "score_now": 580}, FZ, ZH) == "信用评分由 — 分降至 580.0 分"
    )
    assert L.warning_sentence("EW99", {}, FZ, ZH) == "EW99"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_rule_has_a_sentence_with_its_fields(locale):
    t = translator(locale)
    for rule_id, fields in L.EVIDENCE_FIELDS.items():
        text = catalogue()[f"ew.evidence.{rule_id}"][locale]
        assert set(re.findall(r"{(\w+)}", text)) == set(fields), rule_id
        assert L.warning_sentence(rule_id, {}, Formatter(locale), t)  # every field missing: still a sentence
        assert t(f"rule.{rule_id}")


def test_watch_list_details():
    details = json.dumps(
        [
            {"rule_id": "EW02", "severity": "high", "args": {"days_before": 30, "days_now": 61}},
            {"rule_id": "EW04", "severity": "medium", "args": {"score_before": 612.3, "score_now": 580}},
        ]
    )
    out = L.warning_sentences(details, FZ, ZH)
    assert [(s["rule_id"], s["rule_label"], s["severity_label"]) for s in out] == [
        ("EW02", "逾期加深", "高"),
        ("EW04", "评分下降", "中"),
    ]
    assert L.evidence_text(details, FZ, ZH) == (
        "逾期加深：最长逾期天数由 30 天升至 61 天；评分下降：信用评分由 612.3 分降至 580.0 分"
    )
    assert L.warning_sentences(None, FZ, ZH) == [] and L.evidence_text("", FZ, ZH) == "—"
    assert L.rules_text("EW01,EW10", ZH) == "新增逾期、关联方/担保人风险"


def test_account_labels():
    profile = {"industry": "C", "product_families": "CARD,DEP", "tier": "key", "worst_five_class": "2", "city": "x"}
    assert L.account_labels(profile, ZH) == {
        "industry_label": "制造业",
        "families_label": "信用卡、存款",
        "tier_label": "重点客户",
        "five_class_label": "关注",
    }
