from pathlib import Path

import pytest

from crm import contract
from crm.contract.docs import render_markdown
from crm.contract.model import Column, Extract

ROOT = Path(__file__).resolve().parents[2]

REQUIRED_EXTRACTS = {
    "branches", "staff", "customers", "corporates", "contacts", "related_parties", "loans", "repayments",
    "loan_performance", "deposits", "transactions", "product_holdings", "financial_statements",
    "bureau_records", "interactions", "service_requests", "surveys",
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
