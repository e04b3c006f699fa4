"""Customer 360: one row per credit customer (individual or corporate) at a business date, from staged data
only (customer ids are tokens, names and numbers masked).

Columns: who (segment, masked name, masked ID or the company's credit code, age band or size and industry,
city), the relationship (branch, its parent branch ``parent_branch_id``, manager, onboarding date, tenure in
months, status), products held (open holdings and their families), exposure here (loans, balance, contract
amount, overdue principal, worst days past due and reported five-category class), guarantees (received:
guarantors of the customer's loans; given: amounts the customer guarantees for others), deposits (balance,
month-to-date average, accounts) and the latest credit-bureau summary on or before the date (inquiries in 3
and 12 months, external debt, card utilisation, worst overdue months in 24 months, current overdue amount).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

BUREAU = [
    "inquiries_3m",
    "inquiries_12m",
    "external_loan_count",
    "external_loan_balance",
    "card_utilisation",
    "overdue_count_24m",
    "worst_overdue_months_24m",
    "current_overdue_amount",
    "has_bad_debt",
]


def _profiles(customers: pd.DataFrame, corporates: pd.DataFrame) -> pd.DataFrame:
    ind = pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "segment": "retail",
            "display_name": customers["customer_name"],
            "id_masked": customers.get("id_number_masked"),
            "age_band": customers.get("age_band"),
            "occupation": customers.get("occupation"),
            "annual_income": customers.get("annual_income"),
            "enterprise_size": None,
            "industry": None,
            "city": customers["city"],
            "branch_id": customers["branch_id"],
            "manager_id": customers["manager_id"],
            "onboarding_date": customers["onboarding_date"],
            "status": customers["status"],
        }
    )
    corp = pd.DataFrame(
        {
            "customer_id": corporates["customer_id"],
            "segment": "corporate",
            "display_name": corporates["company_name"],
            "id_masked": corporates["uscc"],  # a company's code is public
            "age_band": None,
            "occupation": None,
            "annual_income": None,
            "enterprise_size": corporates["enterprise_size"],
            "industry": corporates["industry"],
            "city": corporates["city"],
            "branch_id": corporates["branch_id"],
            "manager_id": corporates["manager_id"],
            "onboarding_date": corporates["onboarding_date"],
            "status": corporates["status"],
        }
    )
    return pd.concat([ind, corp], ignore_index=True).drop_duplicates("customer_id")


def _families(held: pd.DataFrame) -> pd.Series:
    """Per customer, the distinct product families held, sorted and comma-separated ("DEP,LOAN,WMP"). Built
    one family at a time over a customer x family indicator table (about ten families), not per customer."""
    pairs = held[["customer_id", "product_family"]].dropna().drop_duplicates()
    pairs = pairs.assign(product_family=pairs["product_family"].astype(str))
    has = pairs.groupby(["customer_id", "product_family"]).size().unstack(fill_value=0) > 0
    out = pd.Series("", index=has.index, dtype=object)
    for fam in sorted(has.columns):
        col = has[fam].to_numpy()
        out = out.where(~col, out.where(out == "", out + ",") + fam)
    return out


def customer_360(
    day: dt.date,
    *,
    customers: pd.DataFrame,
    corporates: pd.DataFrame,
    loans: pd.DataFrame,
    deposits: pd.DataFrame,
    product_holdings: pd.DataFrame,
    related_parties: pd.DataFrame,
    bureau_records: pd.DataFrame,
    branches: pd.DataFrame,
    staff: pd.DataFrame,
) -> pd.DataFrame:
    """The 360 view at ``day`` for every customer of the masters that has a loan, a guarantee or a deposit."""
    out = _profiles(customers, corporates)
    # the parent branch (a sub-branch's branch): a branch's risk officer reads the customers of its sub-branches
    cols = ["branch_id", "branch_name"] + (["parent_branch_id"] if "parent_branch_id" in branches.columns else [])
    out = out.merge(branches[cols].drop_duplicates("branch_id"), on="branch_id", how="left")
    if "parent_branch_id" not in out.columns:
        out["parent_branch_id"] = None
    managers = (
        staff[["staff_id", "staff_name"]]
        .drop_duplicates("staff_id")
        .rename(columns={"staff_id": "manager_id", "staff_name": "manager_name"})
    )
    out = out.merge(managers, on="manager_id", how="left")
    onboard = pd.to_datetime(out["onboarding_date"])
    ts = pd.Timestamp(day)
    out["tenure_months"] = ((ts.year - onboard.dt.year) * 12 + (ts.month - onboard.dt.month)).astype("Int64")

    held = product_holdings[product_holdings["status"].astype(str) == "A"]  # A: held, C: closed
    ph = held.groupby("customer_id").agg(products_held=("holding_id", "size"))
    ph["product_families"] = _families(held).reindex(ph.index)
    live = loans[loans["status"].isin(["N", "O"])]
    # the class codes "1".."5" compared as numbers (a string max runs per customer in Python)
    live = live.assign(_class=pd.to_numeric(live["five_class"], errors="coerce"))
    lo = live.groupby("customer_id").agg(
        loans=("loan_id", "size"),
        loan_balance=("balance", "sum"),
        contract_amount=("contract_amount", "sum"),
        overdue_principal=("overdue_principal", "sum"),
        max_overdue_days=("overdue_days", "max"),
        worst_five_class=("_class", "max"),
    )
    lo["worst_five_class"] = (
        lo["worst_five_class"]
        .astype("Int64")
        .astype("string")
        .astype(object)
        .where(lo["worst_five_class"].notna(), None)
    )
    guar = related_parties[related_parties["relation_type"] == "GUARANTOR"]
    received = guar.groupby("customer_id")["amount"].sum().rename("guarantees_received")
    given = (
        guar.dropna(subset=["related_customer_id"])
        .groupby("related_customer_id")["amount"]
        .sum()
        .rename("guarantees_given")
    )
    given.index.name = "customer_id"
    open_dep = deposits[deposits["status"].astype(str) != "C"]  # closed accounts (销户) are not held
    dep = open_dep.groupby("customer_id").agg(
        deposit_accounts=("account_id", "size"),
        deposit_balance=("balance", "sum"),
        deposit_mtd_avg=("mtd_avg_balance", "sum"),
    )
    bureau = bureau_records.copy()
    bureau["query_date"] = pd.to_datetime(bureau["query_date"])
    bureau = bureau[bureau["query_date"] <= ts].sort_values(["customer_id", "query_date", "report_id"])
    latest = bureau.drop_duplicates("customer_id", keep="last").set_index("customer_id")
    latest = latest[[c for c in BUREAU if c in latest.columns] + ["query_date"]].rename(
        columns={"query_date": "bureau_query_date"}
    )
    out = out.set_index("customer_id")
    out = out.join([ph, lo, received, given, dep, latest], how="left")
    for col in ("products_held", "loans", "deposit_accounts"):
        out[col] = out[col].fillna(0).astype("int64")
    for col in (
        "loan_balance",
        "contract_amount",
        "overdue_principal",
        "guarantees_received",
        "guarantees_given",
        "deposit_balance",
        "deposit_mtd_avg",
    ):
        out[col] = out[col].fillna(0.0)
    out["is_credit_customer"] = (out["loans"] > 0) | (out["guarantees_received"] > 0) | (out["guarantees_given"] > 0)
    out = out[out["is_credit_customer"] | (out["deposit_accounts"] > 0)].reset_index()
    out.insert(0, "business_date", day)
    return out
