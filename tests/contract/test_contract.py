from pathlib import Path

import pytest

from crm import contract
from crm.contract.docs import render_markdown
from crm.contract.model import Column, Extract

ROOT = Path(__file__).resolve().parents[2]

VALUE_HISTORY = {"deposit_balances", "txn_monthly", "fee_ledger"}  # issue 18, sent from 2024-01-01
REQUIRED_EXTRACTS = {
    "branches",
    "staff",
    "customers",
    "corporates",
    "contacts",
    "related_parties",
    "loans",
    "repayments",
    "loan_performance",
    "deposits",
    "transactions",
    "product_holdings",
    "financial_statements",
    "bureau_records",
    "interactions",
    "service_requests",
    "surveys",
    *VALUE_HISTORY,
}


def test_every_required_extract_is_declared():
    assert set(contract.BY_NAME) >= REQUIRED_EXTRACTS
    assert len({e.file_code for e in contract.EXTRACTS}) == len(contract.EXTRACTS)


def test_every_extract_has_key_and_mandatory_key_columns():
    for e in contract.EXTRACTS:
        assert e.key
        for k in e.key:
            assert not e.column(k).nullable, f"{e.name}.{k} is a key and must be mandatory"


def test_personal_columns_are_c2():
    personal = {"id_number", "mobile", "person_name", "card_number", "email", "birth_date"}
    for e in contract.EXTRACTS:
        for c in e.columns:
            if c.semantic in personal:
                assert c.pii == "C2", f"{e.name}.{c.name}"


def test_declaration_errors_are_caught():
    with pytest.raises(ValueError, match="key column"):
        Extract("x", "X", "x", "x", (Column("a", "string", "a"),), key=("b",))
    with pytest.raises(ValueError, match="control-sum column must be decimal"):
        Extract("x", "X", "x", "x", (Column("a", "string", "a"),), key=("a",), control_sum_column="a")


def test_committed_contract_docs_are_current():
    committed = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    assert committed == render_markdown(), "docs/contract.md is stale: run `crm contract docs`"


def test_since_declaration_errors_are_caught():
    import datetime as dt

    day = dt.date(2026, 7, 1)
    a = Column("a", "string", "a", text="reject")
    with pytest.raises(ValueError, match="since must be a date"):
        Column("b", "string", "b", text="reject", since="2026-07-01")
    with pytest.raises(ValueError, match="since must be a date"):
        Column("b", "string", "b", text="reject", since=dt.datetime(2026, 7, 1))
    with pytest.raises(ValueError, match="key, control-sum or business-date column"):
        Extract("x", "X", "x", "x", (Column("a", "string", "a", since=day),), key=("a",))
    with pytest.raises(ValueError, match="key, control-sum or business-date column"):
        Extract("x", "X", "x", "x", (a, Column("m", "decimal", "m", since=day)), key=("a",), control_sum_column="m")
    with pytest.raises(ValueError, match="after its extract's"):
        Extract("x", "X", "x", "x", (a, Column("b", "int", "b", since=day)), key=("a",), since=day)
    e = Extract("x", "X", "x", "x", (a, Column("b", "int", "b", since=day)), key=("a",), since=dt.date(2026, 1, 1))
    assert not e.sent_on(dt.date(2025, 12, 31)) and e.sent_on(dt.date(2026, 1, 1))
    assert e.as_of(day - dt.timedelta(days=1)).column_names == ["a"] and e.as_of(day) is e
    assert [(d, c.name) for d, c in e.changes] == [(day, "b")]


def test_todays_contract_versions_are_the_value_history_extracts_and_the_2025_extracts():
    """Every extract and column of today's bank is sent from the start but the three extracts of the value
    history, sent from 2024-01-01, and the opportunities, coverage teams and referrals, sent from 2025-01-01 (no column is added later):
    arrivals expect them from then on."""
    import datetime as dt

    for e in contract.EXTRACTS:
        assert not e.changes, e.name
        since = {
            **dict.fromkeys(VALUE_HISTORY, dt.date(2024, 1, 1)),
            **dict.fromkeys(("opportunities", "coverage", "referrals"), dt.date(2025, 1, 1)),
        }
        assert e.since == since.get(e.name), e.name


def test_contract_docs_show_since_and_history():
    import dataclasses
    import datetime as dt

    day = dt.date(2026, 7, 1)
    branches = contract.get("branches")
    new_column = Column("swift_code", "string", "SWIFT代码", max_length=11, text="reject", since=day)
    versioned = dataclasses.replace(branches, columns=(*branches.columns, new_column))
    new_extract = dataclasses.replace(
        contract.get("staff"),
        name="collateral",
        file_code="COLLAT",
        title="押品信息",
        references=(),
        since=dt.date(2026, 9, 1),
    )
    text = render_markdown((versioned, new_extract))
    assert "| [`collateral`](#押品信息--collateral) | `COLLAT` | 押品信息 | snapshot | daily from 2026-09-01 |" in text
    assert "- Sent: every business date, from business date 2026-09-01 (not expected before)" in text
    assert (
        f"- Columns added later: `swift_code` from 2026-07-01. A file dated before a column's date has the "
        f"layout without it ({len(branches.columns)} fields before 2026-07-01)" in text
    )
    assert "| text | since |" in text and "| reject | 2026-07-01 |" in text
    assert (
        "| 2026-07-01 | column `branches.swift_code` (SWIFT代码) |\n| 2026-09-01 | extract `collateral` (押品信息) |"
        in text
    )
    assert "## Changes to the contract" in text and "History: none yet" not in text
    today = render_markdown()
    assert "## Changes to the contract" in today and "History: none yet" not in today and " since |" not in today
    assert "| 2024-01-01 | extract `deposit_balances` (存款账户月末余额) |" in today
    assert "- Sent: on the last day of each month, from business date 2024-01-01 (not expected before)" in today
