"""Row outcome: critical failures quarantine with every failing rule id, warnings pass, counts balance."""

import datetime as dt

import pandas as pd

from crm.quality.outcome import FILE_COLUMNS, INDEX_COLUMNS, SUMMARY_COLUMNS, decide, decide_all
from crm.quality.rules import rules_for, suite_version
from tests.quality.bank import BUSINESS_DATE


def _set(df, row, col, value):
    df.loc[df.index[row], col] = value


def test_accepted_plus_quarantined_is_parsed(raw):
    lo = raw["loans"]
    _set(lo, 0, "balance", -5.0)  # critical: negative
    _set(lo, 0, "overdue_days", 10)  # + warning on the same row: five class 1 with overdue days
    _set(lo, 1, "product_code", "ZZZ")  # critical
    _set(lo, 1, "customer_id", "100000009999")  # critical, same row
    _set(lo, 3, "overdue_days", 100)  # warning only: reported class 1
    out = decide("loans", raw, BUSINESS_DATE)
    assert len(out.accepted) + len(out.quarantined) == len(lo) == out.parsed
    assert out.quarantined["loan_id"].tolist() == ["L00000000000001", "L00000000000002"]
    assert out.accepted["loan_id"].tolist() == ["L00000000000003", "L00000000000004"]
    idx = out.quarantine_index
    assert list(idx.columns) == list(INDEX_COLUMNS)
    assert idx["_row_number"].tolist() == [1, 2]
    assert idx["rule_ids"].tolist() == [
        ["loans.balance.range", "loans.consistency.five_class_vs_overdue"],
        ["loans.fk.customer_id", "loans.product_code.code_set"],
    ]
    assert (idx["extract"] == "loans").all() and (idx["business_date"] == BUSINESS_DATE).all()
    assert (idx["_source_file"] == "LOAN_20260131_001.dat").all()
    files = out.files
    assert list(files.columns) == list(FILE_COLUMNS)
    assert files[["parsed", "accepted", "quarantined", "accepted_with_warnings"]].values.tolist() == [[4, 2, 2, 1]]
    assert files["balanced"].all()
    assert out.critical_failure_rate == 0.5
    s = out.summary.set_index("rule_id")
    assert list(out.summary.columns) == list(SUMMARY_COLUMNS)
    assert len(s) == len(rules_for("loans"))
    assert s.loc["loans.consistency.five_class_vs_overdue", "failed"] == 2
    assert s.loc["loans.consistency.five_class_vs_overdue", "severity"] == "warning"
    assert s.loc["loans.balance.range", ["evaluated", "failed", "success"]].tolist() == [4, 1, False]
    assert bool(s.loc["loans.balance.not_null", "success"]) is True
    assert out.suite_version == suite_version("loans")


def test_index_holds_no_raw_value(raw):
    _set(raw["customers"], 0, "id_number", "11010519491231002Y")
    _set(raw["customers"], 1, "mobile", "1391234567")
    out = decide("customers", raw, BUSINESS_DATE)
    assert len(out.quarantine_index) == 2
    text = out.quarantine_index.to_json(force_ascii=False) + out.summary.to_json(force_ascii=False)
    text += out.files.to_json(force_ascii=False)
    for value in ("11010519491231002Y", "1391234567", "张伟", "刘洋"):
        assert value not in text
    assert out.quarantined["id_number"].iloc[0] == "11010519491231002Y"  # raw rows stay in the restricted frame


def test_per_file_balance_with_two_files(raw):
    lo = raw["loans"]
    second = lo.copy()
    second["_source_file"] = "LOAN_20260131_002.dat"
    second["loan_id"] = second["loan_id"].str.replace("L0", "L9", n=1)  # other loans, ids of the same shape
    _set(second, 2, "currency", "EUR")
    raw["loans"] = pd.concat([lo, second], ignore_index=True)
    out = decide("loans", raw, BUSINESS_DATE)
    f = out.files.set_index("_source_file")
    assert f.loc["LOAN_20260131_001.dat", ["parsed", "accepted", "quarantined"]].tolist() == [4, 4, 0]
    assert f.loc["LOAN_20260131_002.dat", ["parsed", "accepted", "quarantined"]].tolist() == [4, 3, 1]
    assert out.quarantine_index[["_source_file", "_row_number"]].values.tolist() == [["LOAN_20260131_002.dat", 3]]


def test_skipped_rules_are_reported_as_not_evaluated(raw):
    del raw["customers"]
    out = decide("loans", raw, BUSINESS_DATE)
    row = out.summary.set_index("rule_id").loc["loans.fk.customer_id"]
    assert row["evaluated"] == 0 and row["failed"] == 0 and pd.isna(row["success"])
    assert len(out.accepted) == 4


def test_gx_engine_gives_the_same_outcome(raw):
    _set(raw["deposits"], 0, "card_number", "6217990000000129")
    _set(raw["deposits"], 1, "status", "X")
    _set(raw["deposits"], 2, "open_date", dt.date(2030, 1, 1))
    a = decide("deposits", raw, BUSINESS_DATE)
    b = decide("deposits", raw, BUSINESS_DATE, engine="gx")
    pd.testing.assert_frame_equal(a.quarantine_index, b.quarantine_index)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    assert len(a.quarantine_index) == 3


def test_decide_all_on_a_clean_bank(clean_raw):
    outs = decide_all(clean_raw, BUSINESS_DATE)
    assert set(outs) == set(clean_raw)
    for name, out in outs.items():
        assert len(out.quarantined) == 0 and len(out.accepted) == len(clean_raw[name])
        assert out.summary["success"].all()
        assert out.files["balanced"].all()
