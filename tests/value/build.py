"""Hand-made ValueInputs for the value tests: contract-shaped frames (the staged extracts' columns plus lineage)
with only the rows a test writes. Month end 2026-06-30: window 2025-07-31 .. 2026-06-30."""

from __future__ import annotations

import copy
import datetime as dt

import pandas as pd

from crm.contract.extracts import (
    BUREAU_RECORDS,
    CORPORATES,
    DEPOSIT_BALANCES,
    FEE_LEDGER,
    FINANCIAL_STATEMENTS,
    INTERACTIONS,
    LOAN_PERFORMANCE,
    LOANS,
    SERVICE_REQUESTS,
    TXN_MONTHLY,
)
from crm.value.inputs import ValueInputs, window_month_ends
from crm.value.value import load_config

ME = dt.date(2026, 6, 30)
MONTHS = window_month_ends(ME)
LINEAGE = ["_source_file", "_row_number", "_sha256"]


def staged(extract, rows: list[dict]) -> pd.DataFrame:
    """A staged frame of ``extract``: its contract columns plus lineage; each row names the file it came
    from (``<file_code>_<n>.dat``), its row number and a checksum unless given."""
    cols = [c.name for c in extract.columns] + LINEAGE
    out = []
    for n, r in enumerate(rows, start=1):
        row = {c: None for c in cols}
        row.update({"_source_file": f"{extract.file_code}_{n}.dat", "_row_number": n, "_sha256": f"sha{n:04d}"})
        row.update(r)
        out.append(row)
    return pd.DataFrame(out, columns=cols)


def c360(rows: list[dict]) -> pd.DataFrame:
    base = {
        "segment": "retail",
        "enterprise_size": None,
        "industry": None,
        "onboarding_date": dt.date(2020, 1, 1),
        "tenure_months": 60,
        "status": "A",
        "loan_balance": 0.0,
        "deposit_mtd_avg": 0.0,
        "products_held": 1,
        "worst_five_class": None,
        "branch_id": "B1",
        "manager_id": "S1",
    }
    return pd.DataFrame([{**base, **r} for r in rows])


def loan_months(loan_id: str, customer: str, balances: dict[dt.date, float], product="RCL", status="N") -> list[dict]:
    return [
        {
            "snapshot_date": d,
            "loan_id": loan_id,
            "customer_id": customer,
            "product_code": product,
            "balance": b,
            "overdue_days": 0,
            "overdue_amount": 0.0,
            "five_class": "1",
            "status": status if b > 0 else "S",
        }
        for d, b in balances.items()
    ]


def loan(loan_id, customer, rate, start, maturity, guarantee="CR", balance=0.0, status="N") -> dict:
    return {
        "loan_id": loan_id,
        "customer_id": customer,
        "interest_rate": rate,
        "start_date": start,
        "maturity_date": maturity,
        "guarantee_type": guarantee,
        "balance": balance,
        "status": status,
        "product_code": "RCL",
    }


def account_months(account, customer, avg: float, rate: float, months=MONTHS, product="CUR") -> list[dict]:
    return [
        {
            "snapshot_date": d,
            "account_id": account,
            "customer_id": customer,
            "product_type": product,
            "currency": "CNY",
            "balance": avg,
            "avg_balance": avg,
            "interest_rate": rate,
            "status": "A",
            "branch_id": "B1",
        }
        for d in months
    ]


def inputs(
    customers: pd.DataFrame,
    *,
    scores=None,
    loan_perf=(),
    loan_rates=(),
    loans=(),
    deposits=(),
    txns=(),
    fees=(),
    interactions=(),
    requests=(),
    bureau=(),
    corporates=(),
    statements=(),
    value_history=None,
    earlier=None,
    records_since=None,
    month_end=ME,
) -> ValueInputs:
    return ValueInputs(
        month_end=month_end,
        c360=customers,
        earlier=earlier if earlier is not None else pd.DataFrame(),
        scores=scores if scores is not None else pd.DataFrame(columns=["customer_id", "pd", "grade"]),
        value_history=value_history if value_history is not None else pd.DataFrame(),
        loans=staged(LOANS, list(loans)),
        loan_rates=staged(LOANS, list(loan_rates))[
            ["loan_id", "interest_rate", "start_date", "maturity_date", "guarantee_type", *LINEAGE]
        ],
        loan_performance=staged(LOAN_PERFORMANCE, list(loan_perf)),
        deposit_balances=staged(DEPOSIT_BALANCES, list(deposits)),
        txn_monthly=staged(TXN_MONTHLY, list(txns)),
        fee_ledger=staged(FEE_LEDGER, list(fees)),
        interactions=staged(INTERACTIONS, list(interactions)),
        service_requests=staged(SERVICE_REQUESTS, list(requests)),
        bureau_records=staged(BUREAU_RECORDS, list(bureau)),
        corporates=staged(CORPORATES, list(corporates)),
        statements=staged(FINANCIAL_STATEMENTS, list(statements)),
        records_since=records_since,
    )


def pinned_config() -> dict:
    """The shipped config with every number the hand calculations use pinned."""
    cfg = copy.deepcopy(load_config())
    cc = cfg["contribution"]
    cc.update(earning_statuses=["N", "O"], unscored_pd=0.04, default_lgd=0.45, ftp_deposit_fix_default_months=12)
    cc["lgd"] = {"CR": 0.45, "GU": 0.40, "MO": 0.25, "PL": 0.20}
    cc["ftp_loan"] = [
        {"bucket": "1y", "max_months": 12, "rate": 0.025},
        {"bucket": "3y", "max_months": 36, "rate": 0.028},
        {"bucket": "5y+", "max_months": 1200, "rate": 0.034},
    ]
    cc["ftp_deposit"] = {"CUR": 0.018, "NTC": 0.020, "AGR": 0.021}
    cc["ftp_deposit_fix"] = [
        {"bucket": "1y", "max_months": 12, "rate": 0.023},
        {"bucket": "5y", "max_months": 1200, "rate": 0.029},
    ]
    cfg["cost_to_serve"] = {
        "interactions": {
            "VISIT": {"unit_cost": 400.0, "column": "cost_visits"},
            "BRANCH": {"unit_cost": 200.0, "column": "cost_visits"},
            "VIDEO": {"unit_cost": 120.0, "column": "cost_visits"},
            "PHONE": {"unit_cost": 25.0, "column": "cost_calls"},
            "WECHAT": {"unit_cost": 10.0, "column": "cost_calls"},
        },
        "requests": {"P1": 300.0, "P2": 150.0, "P3": 80.0, "P4": 40.0},
        "transactions": {"CNTR": 12.0, "ATM": 2.0, "POS": 0.3, "NET": 0.3, "MOB": 0.2, "API": 0.1},
    }
    cfg["activity"] = {"digital_channels": ["MOB", "NET", "API"]}
    cfg["value_score"]["sme_sizes"] = ["S", "X"]
    cfg["value_score"]["weights"] = {"contribution": 0.35, "balances": 0.20, "cross_sell": 0.15, "tenure": 0.10}
    cfg["value_score"]["activity"] = {"txn_count_3m": 0.08, "digital_share_3m": 0.04, "months_active_12m": 0.08}
    cfg["value_score"]["industry"] = {"weight": 0.10, "segments": ["corporate", "sme"], "missing_position": 50.0}
    cfg["wallet"] = {
        "staleness_days": 365,
        "main_bank_share": 0.5,
        "winnable_share": 1.0,
        "assumed_rate": 0.05,
        "assumed_term_months": 60,
    }
    cfg["industry"] = {
        "min_peers": 5,
        "benchmark_file": "",
        "weights": {
            "revenue_rank": 0.30,
            "assets_rank": 0.20,
            "growth_rank": 0.20,
            "bench_revenue": 0.15,
            "bench_assets": 0.15,
        },
    }
    cfg["trend"] = {"new_months": 6, "score_points": 5.0, "contribution_change": 0.20, "min_base": 100.0}
    return cfg
