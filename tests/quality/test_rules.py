"""Rules are generated from the contract: every constrained column has its rule, ids are stable and unique."""

import dataclasses

import pytest

from crm.contract import CODE_SETS, EXTRACTS
from crm.quality import rules as R
from crm.quality.rules import build_rules, rule_by_id, rules_for, suite_version

IDS = {r.id: r for r in build_rules()}


def test_every_constrained_column_has_its_rule():
    missing = []
    for e in EXTRACTS:
        for c in e.columns:
            want = []
            if not c.nullable:
                want.append(f"{e.name}.{c.name}.not_null")
            if c.type != "string":
                want.append(f"{e.name}.{c.name}.type")
            if c.code_set:
                want.append(f"{e.name}.{c.name}.code_set")
            if c.min_value is not None or c.max_value is not None:
                want.append(f"{e.name}.{c.name}.range")
            if c.max_length is not None:
                want.append(f"{e.name}.{c.name}.max_length")
            semantic = {
                "id_number": "gb11643",
                "uscc": "gb32100",
                "mobile": "mobile_format",
                "email": "email_format",
            }
            if c.semantic in semantic:
                want.append(f"{e.name}.{c.name}.{semantic[c.semantic]}")
            if c.semantic == "card_number":
                want.append(f"{e.name}.{c.name}.luhn")
            missing += [w for w in want if w not in IDS]
        for fk in e.references:
            if f"{e.name}.fk.{'+'.join(fk.columns)}" not in IDS:
                missing.append(f"{e.name}.fk.{fk.columns}")
        for rid in (f"{e.name}.key.unique", f"{e.name}.record.field_count"):
            if rid not in IDS:
                missing.append(rid)
    assert not missing


def test_rule_parameters_follow_the_contract():
    for e in EXTRACTS:
        for c in e.columns:
            if c.code_set:
                assert IDS[f"{e.name}.{c.name}.code_set"].params["values"] == sorted(CODE_SETS[c.code_set])
            if c.max_length:
                assert IDS[f"{e.name}.{c.name}.max_length"].params["max_length"] == c.max_length
            if c.min_value is not None or c.max_value is not None:
                p = IDS[f"{e.name}.{c.name}.range"].params
                assert (p["min_value"], p["max_value"]) == (c.min_value, c.max_value)
        assert IDS[f"{e.name}.key.unique"].columns == e.key


def test_named_rules_of_the_issue_exist():
    for rid in [
        "loans.balance.not_null",
        "customers.id_number.gb11643",
        "corporates.uscc.gb32100",
        "loans.repay_card_no.luhn",
        "deposits.card_number.luhn",
        "customers.mobile.mobile_format",
        "loans.fk.customer_id",
        "deposits.fk.customer_id",
        "contacts.fk.customer_id",
        "surveys.fk.customer_id",
        "customers.fk.branch_id",
        "customers.fk.manager_id",
        "corporates.fk.manager_id",
        "loans.date_order.start_before_maturity",
        "deposits.date_order.open_before_close",
        "loans.date_order.start_not_after_business_date",
        "transactions.date_order.txn_not_after_business_date",
        "customers.date_order.onboarding_not_after_business_date",
        "loans.consistency.balance_within_contract",
        "loans.consistency.five_class_vs_overdue",
        "financial_statements.consistency.balance_sheet_identity",
        "surveys.csat.range",
        "surveys.nps.range",
        "loans.balance.range",
    ]:
        assert rid in IDS, rid
    assert IDS["loans.consistency.five_class_vs_overdue"].severity == "warning"
    assert IDS["customers.id_number.gb11643"].params["when"] == {"id_type": "01"}
    assert "when" not in IDS["contacts.contact_id_number.gb11643"].params
    assert IDS["loans.fk.customer_id"].params["targets"] == ["customers", "corporates"]
    assert IDS["surveys.nps.range"].params == {"min_value": 0, "max_value": 10}


def test_rule_fields_are_complete_and_valid():
    cols = {e.name: set(e.column_names) | {"_type_errors"} for e in EXTRACTS}
    for r in build_rules():
        assert r.id.startswith(r.extract + ".")
        assert r.family in R.FAMILIES
        assert r.severity in R.SEVERITIES
        assert len(r.description) > 20 and r.description.strip() == r.description
        assert r.columns and set(r.columns) <= cols[r.extract], r.id
    assert len(IDS) == len(build_rules())
    assert [r.id for r in build_rules()] == sorted(IDS)
    assert {r.family for r in build_rules()} == set(R.FAMILIES)
    assert set(R.DEFECT_FAMILY.values()) <= set(R.FAMILIES)


def test_rules_for_and_lookup():
    loans = rules_for("loans")
    assert loans and all(r.extract == "loans" for r in loans)
    assert rule_by_id("loans.balance.not_null").columns == ("balance",)
    with pytest.raises(KeyError):
        rules_for("nope")


def test_suite_version_is_a_deterministic_hash_of_the_definitions():
    v = suite_version()
    assert v == suite_version() and len(v) == 16
    assert suite_version("loans") == suite_version("loans", build_rules())
    assert suite_version("loans") != suite_version("customers")
    changed = [
        dataclasses.replace(r, severity="warning") if r.id == "loans.balance.range" else r for r in build_rules()
    ]
    assert suite_version("loans", changed) != suite_version("loans")
    assert suite_version("customers", changed) == suite_version("customers")  # other extracts unaffected
    assert suite_version("loans", list(reversed(rules_for("loans")))) == suite_version("loans")
