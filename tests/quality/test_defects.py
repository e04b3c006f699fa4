"""Each defect kind, injected by hand into a clean bank, is caught by a rule of the right family, and only
the damaged rows fail. Evaluated with the pandas evaluator (test_agreement proves GX gives the same rows)."""

import datetime as dt

import pytest

from crm.contract import BY_NAME
from crm.ingest.fileformat import read_extract, write_extract
from crm.quality.evaluate import evaluate_pandas
from crm.quality.rules import DEFECT_FAMILY, rule_by_id
from tests.quality.bank import BUSINESS_DATE, frames_by_hand


def failing(evaluations, extract=None):
    """{(extract, row position): {rule ids}} of every failing row."""
    out = {}
    for name, ev in evaluations.items():
        if extract and name != extract:
            continue
        f = ev.failed
        for rule in f.columns[f.any(axis=0).to_numpy()]:
            for pos in ev.failing_rows(rule):
                out.setdefault((name, int(pos)), set()).add(rule)
    return out


def test_the_clean_bank_is_clean(clean_raw):
    ev = evaluate_pandas(clean_raw, BUSINESS_DATE)
    assert set(ev) == set(BY_NAME)
    assert failing(ev) == {}
    assert all(not e.skipped for e in ev.values())


def _set(df, row, col, value):
    df.loc[df.index[row], col] = value


DEFECTS = {
    # kind: (extract, row, column, value, expected rule ids on that row)
    "bad_check_digit": [
        (
            "customers",
            0,
            "id_number",
            lambda v: v[:-1] + ("0" if v[-1] != "0" else "1"),
            {"customers.id_number.gb11643"},
        ),
        (
            "corporates",
            1,
            "uscc",
            lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"),
            {"corporates.uscc.gb32100"},
        ),
        (
            "deposits",
            0,
            "card_number",
            lambda v: v[:-1] + str((int(v[-1]) + 1) % 10),
            {"deposits.card_number.luhn"},
        ),
        (
            "contacts",
            0,
            "contact_id_number",
            lambda v: v[:-1] + ("0" if v[-1] != "0" else "1"),
            {"contacts.contact_id_number.gb11643"},
        ),
        ("staff", 0, "mobile", lambda v: "12" + v[2:], {"staff.mobile.mobile_format"}),
    ],
    "missing_mandatory": [
        ("loans", 1, "balance", None, {"loans.balance.not_null"}),
        ("customers", 2, "mobile", None, {"customers.mobile.not_null"}),
        ("branches", 1, "opened_date", None, {"branches.opened_date.not_null"}),
    ],
    "unknown_code": [
        ("loans", 0, "product_code", "XXX", {"loans.product_code.code_set"}),
        ("customers", 1, "education", "99", {"customers.education.code_set"}),
    ],
    "negative_amount": [
        ("deposits", 2, "balance", -0.01, {"deposits.balance.range"}),
        ("loans", 2, "overdue_interest", -5.0, {"loans.overdue_interest.range"}),
    ],
    "orphan": [
        ("loans", 3, "customer_id", "100000009999", {"loans.fk.customer_id"}),
        ("transactions", 0, "account_id", "600101000000000999", {"transactions.fk.account_id"}),
        ("customers", 1, "manager_id", "S000999", {"customers.fk.manager_id"}),
        (
            "financial_statements",
            0,
            "customer_id",
            "100000000001",
            {"financial_statements.fk.customer_id"},
        ),  # not a corp
    ],
    "date_order": [
        ("loans", 0, "maturity_date", dt.date(2019, 1, 1), {"loans.date_order.start_before_maturity"}),
        (
            "loans",
            1,
            "maturity_date",
            dt.date(2025, 12, 1),
            {"loans.date_order.start_before_maturity"},
        ),  # same day
        ("deposits", 1, "close_date", dt.date(2024, 1, 1), {"deposits.date_order.open_before_close"}),
        (
            "customers",
            3,
            "onboarding_date",
            dt.date(2026, 2, 1),
            {"customers.date_order.onboarding_not_after_business_date"},
        ),
    ],
}


@pytest.mark.parametrize("kind", sorted(DEFECTS))
def test_each_defect_kind_is_caught_by_its_family(raw, kind):
    expected = {}
    for extract, row, col, value, rules in DEFECTS[kind]:
        df = raw[extract]
        _set(df, row, col, value(df[col].iloc[row]) if callable(value) else value)
        expected[(extract, row)] = rules
        assert {rule_by_id(r).family for r in rules} == {DEFECT_FAMILY[kind]}
    got = failing(evaluate_pandas(raw, BUSINESS_DATE))
    assert got == expected


def test_duplicate_key_fails_every_row_of_the_key(raw):
    _set(raw["loans"], 2, "loan_id", raw["loans"]["loan_id"].iloc[0])
    lp = raw["loan_performance"]
    _set(lp, 0, "snapshot_date", lp["snapshot_date"].iloc[1])  # (snapshot_date, loan_id) now twice
    got = failing(evaluate_pandas(raw, BUSINESS_DATE))
    assert got == {
        ("loans", 0): {"loans.key.unique"},
        ("loans", 2): {"loans.key.unique"},
        ("loan_performance", 0): {"loan_performance.key.unique"},
        ("loan_performance", 1): {"loan_performance.key.unique"},
    }
    assert DEFECT_FAMILY["duplicate_key"] == "uniqueness"


def test_bank_rules(raw):
    _set(raw["loans"], 0, "balance", 1_000_000.01)  # above the contract amount by one cent
    _set(raw["loans"], 2, "overdue_days", 271)  # reported 次级 (3), the rule says at least 可疑 (4)
    _set(raw["loan_performance"], 2, "overdue_days", 91)  # reported 3: fine
    _set(raw["financial_statements"], 1, "equity", 4_999_998.0)  # assets - liabilities - equity = 2 yuan
    _set(raw["surveys"], 0, "nps", 11)
    _set(raw["surveys"], 0, "csat", 0)
    _set(raw["customers"], 0, "birth_date", dt.date(1985, 3, 13))  # ID says 1985-03-12
    _set(raw["customers"], 1, "gender", "1")  # ID says female
    _set(raw["customers"], 3, "id_number", "NOTANID01")  # passport (02): no GB 11643 check
    _set(raw["service_requests"], 0, "resolved_time", dt.datetime(2026, 1, 30, 9, 30))
    got = failing(evaluate_pandas(raw, BUSINESS_DATE))
    assert got == {
        ("loans", 0): {"loans.consistency.balance_within_contract"},
        ("loans", 2): {"loans.consistency.five_class_vs_overdue"},
        ("financial_statements", 1): {"financial_statements.consistency.balance_sheet_identity"},
        ("surveys", 0): {"surveys.nps.range", "surveys.csat.range"},
        ("customers", 0): {"customers.consistency.birth_date_matches_id"},
        ("customers", 1): {"customers.consistency.gender_matches_id"},
        ("service_requests", 0): {"service_requests.date_order.first_response_before_resolved"},
    }


def test_five_class_thresholds(raw):
    loans = raw["loans"].iloc[[0] * 10].reset_index(drop=True)
    loans["loan_id"] = [f"L{i:014d}" for i in range(10)]
    cases = [
        (0, "1", False),
        (1, "1", True),
        (1, "2", False),
        (90, "2", False),
        (91, "2", True),
        (270, "3", False),
        (271, "3", True),
        (360, "4", False),
        (361, "4", True),
        (361, "5", False),
    ]
    loans["overdue_days"] = [c[0] for c in cases]
    loans["five_class"] = [c[1] for c in cases]
    raw["loans"] = loans
    ev = evaluate_pandas(raw, BUSINESS_DATE, extracts=["loans"])["loans"]
    assert ev.failed["loans.consistency.five_class_vs_overdue"].tolist() == [c[2] for c in cases]


def test_not_after_business_date_is_day_level_for_timestamps(raw):
    _set(raw["transactions"], 1, "txn_time", dt.datetime(2026, 2, 1, 0, 0, 0))
    got = failing(evaluate_pandas(raw, BUSINESS_DATE))
    assert got == {("transactions", 1): {"transactions.date_order.txn_not_after_business_date"}}


def test_type_errors_and_field_count_from_a_real_file(tmp_path):
    e = BY_NAME["customers"]
    path = write_extract(frames_by_hand()["customers"], e, BUSINESS_DATE, tmp_path)
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b"|1985-03-12|", b"|1985-13-45|")  # record 1: birth date does not parse
    lines[2] = lines[2] + b"|extra"  # record 2: one field too many
    path.write_bytes(b"\n".join(lines))
    table = read_extract(path, e).table.to_pandas()
    assert table["_type_errors"].tolist()[:2] == ["birth_date", "_field_count"]
    frames = {"customers": table}
    ev = evaluate_pandas(frames, BUSINESS_DATE)["customers"]
    got = failing({"customers": ev})
    assert got[("customers", 0)] == {"customers.birth_date.type", "customers.birth_date.not_null"}
    # a record with the wrong field count has no value at all: its mandatory fields are missing too
    assert "customers.record.field_count" in got[("customers", 1)]
    assert {r for r in got[("customers", 1)] if rule_by_id(r).family not in ("type", "completeness")} == set()
    assert set(got) == {("customers", 0), ("customers", 1)}
    # references to absent extracts are skipped, not failed
    assert set(ev.skipped) == {"customers.fk.branch_id", "customers.fk.manager_id"}


def test_customer_master_needs_both_customer_extracts(raw):
    del raw["corporates"]
    ev = evaluate_pandas(raw, BUSINESS_DATE, extracts=["loans", "financial_statements"])
    assert "loans.fk.customer_id" in ev["loans"].skipped
    assert "loans.fk.customer_id" not in ev["loans"].failed.columns
    assert "financial_statements.fk.customer_id" in ev["financial_statements"].skipped
