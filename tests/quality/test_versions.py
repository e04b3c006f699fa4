"""Contract versions end to end at the library level: an extract the bank sends only from a date, and a column
added to an extract in the middle of a date range (``since``).

The contract copy: ``branches`` gains a mandatory ``head_branch_id`` from :data:`SINCE` (an identifier, with a
length, a text rule and a reference to ``branches.branch_id``: native and derived rules alike), and a test-only
extract ``collateral`` is sent from :data:`SINCE`. Before it, arrivals do not expect the extract, files have the
layout without the column, the column is null and its rules do not judge those rows; from it, a file without
the column fails the field-count rule; the pandas and Great Expectations engines agree on every date, one date
at a time and several dates in one GX validation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from crm import contract
from crm.contract import BY_NAME, EXTRACTS, Column, Extract, ForeignKey
from crm.ingest.fileformat import read_extract, write_extract
from crm.ingest.load import ingest_partition
from crm.quality.arrivals import arrivals, expected_extracts
from crm.quality.evaluate import evaluate_extract_pandas
from crm.quality.gx import evaluate_days_gx, evaluate_extract_gx
from crm.quality.outcome import decide_from
from crm.quality.rules import rules_of
from tests.quality.bank import frames_by_hand

SINCE = dt.date(2026, 2, 2)
DAYS = [SINCE - dt.timedelta(days=2), SINCE - dt.timedelta(days=1), SINCE, SINCE + dt.timedelta(days=1)]
NEW = "head_branch_id"
NEW_RULES = {
    f"branches.{NEW}.not_null",
    f"branches.{NEW}.max_length",
    f"branches.{NEW}.id_pattern",
    f"branches.{NEW}.control_chars",
    f"branches.fk.{NEW}",
}

COLLATERAL = Extract(
    name="collateral",
    file_code="COLLAT",
    title="押品信息",
    description="Collateral (test only): sent from SINCE.",
    columns=(Column("collateral_id", "string", "押品编号", nullable=False, id_kind="loan", text="reject"),),
    key=("collateral_id",),
    since=SINCE,
)


@pytest.fixture
def branches(monkeypatch) -> Extract:
    """``branches`` with a mandatory column sent from SINCE, in the contract for the test's duration."""
    e = BY_NAME["branches"]
    column = Column(
        NEW, "string", "总行对口机构", nullable=False, id_kind="branch", max_length=10, text="reject", since=SINCE
    )
    versioned = dataclasses.replace(
        e, columns=(*e.columns, column), references=(*e.references, ForeignKey((NEW,), "branches", ("branch_id",)))
    )
    monkeypatch.setitem(contract.BY_NAME, "branches", versioned)
    return versioned


def _frame(with_column: bool) -> pd.DataFrame:
    df = frames_by_hand()["branches"]
    if with_column:
        df[NEW] = ["0000", "0000", "0100"]
    return df


def _raw(tmp_path, extract: Extract, day: dt.date, *, with_column: bool) -> pd.DataFrame:
    """Write a file of ``day`` (with or without the new column) and parse it with the versioned contract."""
    df = _frame(with_column)
    layout = extract if with_column else extract.as_of(SINCE - dt.timedelta(days=1))
    path = write_extract(df[layout.column_names], layout, day, tmp_path / day.strftime("%Y%m%d"))
    return read_extract(path, extract).table.to_pandas()


# ---------------------------------------------------------------------------------------------- arrivals


def test_an_extract_is_expected_only_from_its_since(tmp_path):
    now = dt.datetime(2026, 3, 1)  # every cut-off has passed: an expected file not there is "missing"
    contract_and_new = (*EXTRACTS, COLLATERAL)
    for day in DAYS:
        frame = arrivals(tmp_path, day, now=now, extracts=contract_and_new)
        expected = day >= SINCE
        assert ("collateral" in set(frame["extract"])) is expected, day
        assert (COLLATERAL in expected_extracts(day, contract_and_new)) is expected, day
        assert set(frame["extract"]) - {"collateral"} == {e.name for e in expected_extracts(day)}
        if expected:
            assert frame.loc[frame["extract"] == "collateral", "status"].item() == "missing"


def test_ingest_reports_an_extract_not_sent_yet_apart_from_a_missing_file(tmp_path):
    for day in DAYS:
        outcome = ingest_partition(COLLATERAL, day, landing=tmp_path, raw=tmp_path / "raw", engine=None)
        assert outcome.status == ("missing" if day >= SINCE else "not_sent"), day


# ---------------------------------------------------------------------------------------------- layouts


def test_the_layout_of_a_business_date_leaves_later_columns_out(branches):
    before, after = branches.as_of(SINCE - dt.timedelta(days=1)), branches.as_of(SINCE)
    assert (
        before.column_names == BY_NAME["branches"].column_names[:-1] == [c for c in branches.column_names if c != NEW]
    )
    assert after is branches and NEW in after.column_names
    assert before.file_code == branches.file_code and before.key == branches.key


def test_a_file_before_the_column_s_since_parses_with_the_column_null(tmp_path, branches):
    raw = _raw(tmp_path, branches, SINCE - dt.timedelta(days=1), with_column=False)
    assert list(raw.columns[: len(branches.columns)]) == branches.column_names  # contract order
    assert raw[NEW].isna().all()
    assert raw["_type_errors"].isna().all()  # no field-count error
    path = next((tmp_path / (SINCE - dt.timedelta(days=1)).strftime("%Y%m%d")).glob("*.dat"))
    assert read_extract(path, branches).table.schema.field(NEW).type == pa.string()


def test_a_file_from_the_since_must_carry_the_column(tmp_path, branches):
    raw = _raw(tmp_path, branches, SINCE, with_column=False)
    assert (raw["_type_errors"] == "_field_count").all()
    ok = _raw(tmp_path / "ok", branches, SINCE, with_column=True)
    assert ok["_type_errors"].isna().all() and ok[NEW].notna().all()
    # and a file dated before the since that already has the column has one field too many
    early = _raw(tmp_path / "early", branches, SINCE - dt.timedelta(days=1), with_column=True)
    assert (early["_type_errors"] == "_field_count").all()


# ---------------------------------------------------------------------------------------------- rules


def test_the_rules_of_a_later_column_apply_from_its_since(branches):
    rules = {r.id: r for r in rules_of(branches)}
    assert {rid for rid, r in rules.items() if r.since} == NEW_RULES
    assert all(rules[rid].since == SINCE and f"on or after {SINCE}" in rules[rid].description for rid in NEW_RULES)
    assert (
        f"{len(branches.columns) - 1} in files dated before {SINCE}" in rules["branches.record.field_count"].description
    )
    assert "since" not in rules["branches.branch_id.not_null"].definition()  # older rules keep their definition
    assert (
        rules["branches.branch_id.not_null"]
        == {r.id: r for r in rules_of(BY_NAME["branches"].as_of(DAYS[0]))}["branches.branch_id.not_null"]
    )


def _days(tmp_path, branches) -> dict[dt.date, pd.DataFrame]:
    """Two dates before the since (no column), the since (with the column, one row missing it: a mandatory
    field left empty), and the day after sent without the column (every record fails the field count)."""
    out = {}
    for day in DAYS:
        raw = _raw(tmp_path, branches, day, with_column=day == SINCE)
        if day == SINCE:
            raw.loc[1, NEW] = None
        out[day] = raw
    return out


@pytest.mark.parametrize("engine", ["pandas", "gx"])
def test_rows_before_the_since_are_accepted_and_the_rows_after_judged(tmp_path, branches, engine):
    rules = rules_of(branches)
    evaluate = evaluate_extract_pandas if engine == "pandas" else evaluate_extract_gx
    for day, raw in _days(tmp_path, branches).items():
        ev = evaluate("branches", {"branches": raw}, day, rules)
        outcome = decide_from(raw, ev, day)
        if day < SINCE:
            assert set(ev.skipped) == NEW_RULES, day
            assert all(reason.startswith(f"not in force before {SINCE}") for reason in ev.skipped.values())
            assert not NEW_RULES & set(ev.failed.columns)
            assert len(outcome.quarantined) == 0 and len(outcome.accepted) == len(raw), day
        elif day == SINCE:
            assert not ev.skipped
            assert ev.failed[f"branches.{NEW}.not_null"].tolist() == [False, True, False]
            assert outcome.quarantine_index["rule_ids"].tolist() == [[f"branches.{NEW}.not_null"]]
        else:  # sent without the column after its since: the field-count rule rejects every record
            assert ev.failed["branches.record.field_count"].all()
            assert len(outcome.quarantined) == len(raw)


def test_both_engines_agree_one_date_at_a_time_and_several_in_one_validation(tmp_path, branches):
    rules = rules_of(branches)
    days = _days(tmp_path, branches)
    together, gx_result = evaluate_days_gx("branches", {d: {"branches": raw} for d, raw in days.items()}, rules)
    for day, raw in days.items():
        frames = {"branches": raw}
        pd_ev = evaluate_extract_pandas("branches", frames, day, rules)
        gx_ev = evaluate_extract_gx("branches", frames, day, rules)
        for ev in (gx_ev, together[day]):
            pd.testing.assert_frame_equal(pd_ev.failed, ev.failed, obj=f"{day} {ev.engine}")
            assert pd_ev.skipped == ev.skipped
    # in the validation of all four dates, the mandatory rule judged the rows from the since only: the one left
    # empty on the since, and those of the file sent without the column (all null after the field-count error)
    by_rule = {r["expectation_config"]["meta"]["rule_id"]: r for r in gx_result["results"]}
    not_null = by_rule[f"branches.{NEW}.not_null"]["result"]
    assert not_null["element_count"] == len(days[SINCE]) + len(days[DAYS[-1]])
    assert not_null["unexpected_count"] == 1 + len(days[DAYS[-1]])
    # the result, row conditions and all, renders in the auditors' data-quality site
    from crm.reports.dq_site import publish

    index = publish(tmp_path / "dq", [(gx_result, f"{DAYS[0]:%Y%m%d}-{DAYS[-1]:%Y%m%d}")], "run-1")
    assert index.exists() and any((tmp_path / "dq" / "site" / "validations").rglob("*.html"))
