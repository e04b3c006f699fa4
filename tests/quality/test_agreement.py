"""The pandas and Great Expectations evaluators give identical failing rows, and GX results carry no raw value."""

import datetime as dt
import json
import sys

import pandas as pd
import pytest

from crm.contract import BY_NAME
from crm.quality.evaluate import evaluate_pandas, prepare
from crm.quality.gx import (
    build_suite,
    ephemeral_context,
    evaluate_gx,
    expectation_for,
    gx_frame,
    index_columns,
    result_format,
)
from crm.quality.rules import build_rules, rule_by_id
from tests.quality.bank import BUSINESS_DATE

SENTINELS = ["SENTINEL", "哨兵", "11010519491231002Y", "62179900000001299", "13999999990x", "SENTINELPATH"]


def _set(df, row, col, value):
    df.loc[df.index[row], col] = value


def inject_everything(raw):
    """Every defect kind at once, several in one row, and raw sentinel values in failing fields."""
    c, lo, dep = raw["customers"], raw["loans"], raw["deposits"]
    _set(c, 0, "id_number", "11010519491231002Y")  # bad check character (sentinel ID)
    _set(c, 0, "customer_name", "哨兵" * 20)  # 40 characters: too long (sentinel name)
    _set(c, 1, "mobile", "13999999990x")  # bad mobile format (sentinel)
    _set(c, 1, "education", "SENTINEL")  # unknown code (sentinel)
    _set(c, 2, "customer_id", c["customer_id"].iloc[3])  # duplicate key
    _set(c, 3, "gender", None)  # missing mandatory
    _set(lo, 0, "balance", -1.0)  # negative
    _set(lo, 1, "customer_id", "SENTINEL-C")  # orphan
    _set(lo, 2, "maturity_date", dt.date(2020, 1, 1))  # date order
    _set(lo, 3, "five_class", "1")
    _set(lo, 3, "overdue_days", 400)  # warning
    _set(lo, 3, "balance", 6_000_000.0)  # above the contract amount
    _set(dep, 0, "card_number", "62179900000001299")  # Luhn
    _set(dep, 1, "open_date", dt.date(2027, 1, 1))  # future, and after close and maturity
    _set(raw["corporates"], 0, "uscc", "91310115MA1FL2K3XA")
    _set(raw["staff"], 2, "email", "SENTINEL@@bank")
    _set(raw["surveys"], 0, "rating_digital", 6)
    _set(raw["financial_statements"], 0, "equity", 1.0)
    _set(raw["transactions"], 0, "txn_time", dt.datetime(2026, 2, 1, 8, 0))
    _set(raw["loans"], 0, "loan_id", "../SENTINELPATH")  # path-shaped id
    _set(raw["staff"], 0, "mobile", "13800138000\n")  # `$` would accept the trailing newline
    _set(raw["staff"], 1, "email", "li.qiang@bank.example.cn\nBcc: x@y.cn")  # header injection
    _set(raw["customers"], 2, "customer_name", "陈\u202e静")  # bidi override in a name: rejected
    _set(raw["interactions"], 1, "notes", "下月\r\n还款\u200b")  # in free text: counted, accepted
    te = raw["interactions"]["_type_errors"].astype(object)
    te.iloc[0] = "duration_minutes"
    te.iloc[1] = "_field_count"
    raw["interactions"]["_type_errors"] = te
    return raw


@pytest.fixture(scope="module")
def both(clean_raw):
    raw = inject_everything({k: v.copy() for k, v in clean_raw.items()})
    return raw, evaluate_pandas(raw, BUSINESS_DATE), evaluate_gx(raw, BUSINESS_DATE)


def test_pandas_and_gx_agree_row_for_row(both):
    _, pd_ev, gx_ev = both
    assert set(pd_ev) == set(gx_ev)
    total = 0
    for name in pd_ev:
        a, b = pd_ev[name].failed, gx_ev[name].failed
        assert list(a.columns) == list(b.columns), name
        pd.testing.assert_frame_equal(a, b, obj=name)
        assert pd_ev[name].skipped == gx_ev[name].skipped
        total += int(a.to_numpy().sum())
    assert total >= 25  # the injected defects were really found
    families = {r.family for ev in pd_ev.values() for r in ev.rules if ev.failed[r.id].any()}
    assert families == {
        "completeness",
        "type",
        "code_set",
        "range",
        "length",
        "uniqueness",
        "format",
        "text",
        "referential",
        "date_order",
        "consistency",
    }


def test_identifier_text_and_anchor_rules_in_both_engines(both):
    _, pd_ev, gx_ev = both
    expected = {
        ("loans", 0): "loans.loan_id.id_pattern",
        ("staff", 0): "staff.mobile.mobile_format",
        ("staff", 1): "staff.email.email_format",
        ("customers", 2): "customers.customer_name.control_chars",
        ("interactions", 1): "interactions.notes.control_chars",
    }
    for ev in (pd_ev, gx_ev):
        for (name, row), rule in expected.items():
            assert ev[name].failed[rule].iloc[row], (ev[name].engine, name, rule)
    assert rule_by_id("interactions.notes.control_chars").severity == "warning"
    assert rule_by_id("customers.customer_name.control_chars").severity == "critical"
    assert pd_ev["staff"].failed.loc[:, "staff.mobile.control_chars"].iloc[0]  # the newline is a control char too
    assert not pd_ev["loans"].failed["loans.loan_id.id_pattern"].iloc[1:].any()  # the other ids pass


@pytest.mark.parametrize(
    "value, ok",
    [
        ("a@b.cn", True),
        ("a@b.cn\n", False),
        ("a@b.cn\nBcc: x@y.cn", False),
        ("a@b.cn,c@d.cn", False),
        ("a@b.cn c@d.cn", False),
        ("a@b.cn;c@d.cn", False),
        ("<a@b.cn>", False),
    ],
)
def test_email_rule_is_anchored_at_the_very_end(value, ok):
    import re

    assert bool(re.search(rule_by_id("staff.email.email_format").params["regex"], value)) is ok


def test_every_rule_became_one_expectation(both):
    _, _, gx_ev = both
    for name, ev in gx_ev.items():
        results = ev.gx_result["results"]
        ids = sorted(r["expectation_config"]["meta"]["rule_id"] for r in results)
        assert ids == sorted(ev.failed.columns), name
        for r in results:
            assert r["result"]["unexpected_index_column_names"] == ["_row_number"]
            assert not {"unexpected_list", "partial_unexpected_list", "partial_unexpected_counts"} & set(r["result"])
    suite = build_suite("loans")
    assert len(suite.expectations) == len([r for r in build_rules() if r.extract == "loans"])
    assert suite.meta["suite_version"]


def test_gx_results_carry_no_raw_value(both):
    raw, _, gx_ev = both
    text = json.dumps({k: ev.gx_result for k, ev in gx_ev.items()}, ensure_ascii=False, default=str)
    for s in SENTINELS:
        assert s not in text, s
    # control: the same sentinel does reach a result when values are not excluded
    rule = rule_by_id("customers.education.code_set")
    df = prepare(raw["customers"], BY_NAME["customers"])
    batch_df = gx_frame(df, [rule], BUSINESS_DATE, raw, index_columns(df))
    ctx = ephemeral_context()
    batch = (
        ctx.data_sources.add_pandas("control")
        .add_dataframe_asset("c")
        .add_batch_definition_whole_dataframe("w")
        .get_batch(batch_parameters={"dataframe": batch_df})
    )
    leaky = batch.validate(
        expectation_for(rule),
        result_format={**result_format(["_row_number"]), "exclude_unexpected_values": False},
    )
    assert "SENTINEL" in json.dumps(leaky.to_json_dict(), ensure_ascii=False)


def test_agreement_with_several_files_in_one_frame(clean_raw):
    loans = clean_raw["loans"]
    second = loans.copy()
    second["_source_file"] = "LOAN_20260131_002.dat"
    second["loan_id"] = second["loan_id"].str.replace("L0", "L9", n=1)  # other loans, ids of the same shape
    _set(second, 1, "balance", None)
    frames = {**clean_raw, "loans": pd.concat([loans, second], ignore_index=True)}
    a = evaluate_pandas(frames, BUSINESS_DATE, extracts=["loans"])["loans"]
    b = evaluate_gx(frames, BUSINESS_DATE, extracts=["loans"])["loans"]
    pd.testing.assert_frame_equal(a.failed, b.failed)
    assert a.failed.any(axis=1).tolist() == [False] * 5 + [True] + [False] * 2
    first = b.gx_result["results"][0]["result"]
    assert first["unexpected_index_column_names"] == ["_source_file", "_row_number"]


def test_empty_frames(clean_raw):
    frames = {k: v.iloc[0:0] for k, v in clean_raw.items()}
    a = evaluate_pandas(frames, BUSINESS_DATE, extracts=["loans"])["loans"]
    b = evaluate_gx(frames, BUSINESS_DATE, extracts=["loans"])["loans"]
    assert a.rows == b.rows == 0
    pd.testing.assert_frame_equal(a.failed, b.failed)


def test_gx_is_imported_lazily():
    import subprocess

    code = "import sys, crm.quality, crm.quality.gx; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_gx_exceptions_are_not_mistaken_for_success():
    from crm.quality.gx import _exception_message, _failed_positions

    assert _exception_message({"raised_exception": False, "exception_message": None}) is None
    assert _exception_message({"MetricConfigurationID(...)": {"raised_exception": True, "exception_message": "boom"}})
    with pytest.raises(ValueError):
        _failed_positions({}, ["_row_number"], pd.Index([1, 2]))
    with pytest.raises(ValueError):
        _failed_positions(
            {"unexpected_count": 2, "unexpected_index_list": [{"_row_number": [1]}]},
            ["_row_number"],
            pd.Index([1, 2]),
        )


def test_narrow_batches_give_the_same_rows(both, monkeypatch):
    """Large frames are validated in one narrow batch per set of columns; the verdict is the same."""
    import crm.quality.gx as gx_module

    raw, pd_ev, _ = both
    monkeypatch.setattr(gx_module, "NARROW_BATCH_ROWS", 0)
    names = ["customers", "loans", "interactions"]
    narrow = evaluate_gx(raw, BUSINESS_DATE, extracts=names)
    for name in names:
        pd.testing.assert_frame_equal(narrow[name].failed, pd_ev[name].failed, obj=name)
        res = narrow[name].gx_result
        assert res["meta"]["batches"] > 1
        assert res["statistics"]["evaluated_expectations"] == len(pd_ev[name].failed.columns)
        assert res["meta"]["suite_version"] == build_suite(name).meta["suite_version"]
        assert res["success"] is False
