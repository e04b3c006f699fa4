"""Hand-made inputs of the needs and preference tests: contract-shaped frames (tests/value/build.py's
``staged``) with only the rows a test writes. Month end 2026-06-30."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from crm.bank_calendar import month_end, months_before
from crm.contract.extracts import DEPOSIT_BALANCES, FINANCIAL_STATEMENTS, LOANS, TXN_MONTHLY
from crm.playbook import load_config
from crm.playbook.needs import NeedsInputs, needs_inputs
from tests.value.build import staged

ME = dt.date(2026, 6, 30)


def month(k: int) -> dt.date:
    """The month end ``k`` months before ME (0: ME)."""
    return month_end(months_before(ME, k))


def customer(cid: str, segment: str = "corporate", **more) -> dict:
    return {
        "customer_id": cid,
        "segment": segment,
        "status": "A",
        "branch_id": "B1",
        "manager_id": "S1",
        "key_account": False,
        "annual_income": None,
        "enterprise_size": "M" if segment != "retail" else None,
        "annual_revenue": None,
        "external_loan_balance": 0.0,
        "debt_service_annual": 0.0,
        **more,
    }


def loan(lid: str, cid: str, *, maturity: dt.date, balance=100000.0, contract=None, product="CWC", **more) -> dict:
    return {
        "loan_id": lid,
        "customer_id": cid,
        "product_code": product,
        "contract_amount": contract if contract is not None else balance,
        "balance": balance,
        "interest_rate": 4.0,
        "rate_type": "LPR",
        "start_date": dt.date(2024, 1, 15),
        "maturity_date": maturity,
        "repayment_method": "IOB",
        "guarantee_type": "MO",
        "five_class": "1",
        "overdue_days": 0,
        "status": "N",
        **more,
    }


def deposits(cid: str, balances: dict[int, float]) -> list[dict]:
    """deposit_balances rows: {months before ME: balance}."""
    return [
        {
            "snapshot_date": month(k),
            "account_id": f"A{cid}",
            "customer_id": cid,
            "product_type": "CUR",
            "balance": b,
            "avg_balance": b,
            "interest_rate": 0.2,
            "status": "A",
            "currency": "CNY",
            "branch_id": "B1",
        }
        for k, b in balances.items()
    ]


def txns(
    cid: str,
    amounts: dict[int, float],
    *,
    txn_type="PAY",
    direction="D",
    channel="NET",
    top_share=None,
    counterparties=5,
    count=10,
) -> list[dict]:
    """txn_monthly rows: {months before ME: amount}."""
    return [
        {
            "snapshot_date": month(k),
            "customer_id": cid,
            "txn_type": txn_type,
            "channel": channel,
            "direction": direction,
            "txn_count": count,
            "amount": a,
            "counterparty_count": counterparties,
            "top_counterparty_amount": None if top_share is None else round(a * top_share, 2),
        }
        for k, a in amounts.items()
    ]


def build(
    customers: list[dict],
    *,
    loans=(),
    loan_history=(),
    deposit_rows=(),
    txn_rows=(),
    statements=(),
    limits_before=None,
    config=None,
    **more,
) -> NeedsInputs:
    cfg = config or load_config()
    hist = staged(LOANS, list(loan_history))
    if len(loan_history):
        hist["snapshot_date"] = [r["snapshot_date"] for r in loan_history]
    return needs_inputs(
        ME,
        cfg,
        customers=pd.DataFrame(customers),
        loans=staged(LOANS, list(loans)),
        deposit_balances=staged(DEPOSIT_BALANCES, list(deposit_rows)),
        txn_monthly=staged(TXN_MONTHLY, list(txn_rows)),
        loan_history=hist if len(loan_history) else None,
        statements=staged(FINANCIAL_STATEMENTS, list(statements)),
        limits_before=limits_before,
        **more,
    )
