"""Manager scorecards: one row per relationship manager (the customer's ``manager_id``) at a month end.

Columns: portfolio size (customers, credit customers) and value (contribution, mean value score, loan balance,
average deposits), key accounts and their revisit coverage, revisit compliance, CSAT/NPS of the surveys the
manager triggered (suppressed below the satisfaction configuration's minimum responses), cross-sell depth
(mean product families held) and open suggestions, overdue and non-performing shares of the loan balance,
warned customers, warning follow-ups (crm.playbook.followups: open or overdue, overdue, and the share closed on
time of those decided, i.e. closed or overdue). Shares are of the manager's own portfolio; a manager with no loan balance has NaN shares.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

COLUMNS = [
    "manager_id",
    "branch_id",
    "customers",
    "credit_customers",
    "contribution",
    "value_score_mean",
    "loan_balance",
    "deposit_avg",
    "key_accounts",
    "key_account_coverage",
    "revisit_compliance",
    "revisits_overdue",
    "responses",
    "csat_mean",
    "nps",
    "satisfaction_suppressed",
    "products_per_customer",
    "cross_sell_suggestions",
    "overdue_balance",
    "overdue_share",
    "npl_balance",
    "npl_share",
    "warned_customers",
    "high_warnings",
    "followups_open",
    "followups_overdue",
    "followups_on_time_share",
]


def loan_quality(loans: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """Per customer from the loans snapshot (open loans N/O): ``overdue_balance`` (balance of loans past due)
    and ``npl_balance`` (balance of loans in the non-performing classes)."""
    live = loans[loans["status"].astype("string").isin(["N", "O"]).fillna(False).to_numpy(bool)]
    bal = pd.to_numeric(live["balance"], errors="coerce").fillna(0.0)
    over = pd.to_numeric(live["overdue_days"], errors="coerce").fillna(0) > 0
    npl = live["five_class"].astype("string").isin(config["managers"]["npl_classes"]).fillna(False)
    return (
        pd.DataFrame({"overdue_balance": bal.where(over, 0.0), "npl_balance": bal.where(npl, 0.0)})
        .groupby(live["customer_id"])
        .sum()
    )


def manager_scorecards(
    value: pd.DataFrame,
    c360: pd.DataFrame,
    loans: pd.DataFrame,
    config: dict[str, Any],
    *,
    revisits: pd.DataFrame | None = None,
    satisfaction: pd.DataFrame | None = None,
    suggestions: pd.DataFrame | None = None,
    watch: pd.DataFrame | None = None,
    followups: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``value``: customer_value rows; ``c360``: customer_360 rows; ``loans``: the month-end loans snapshot;
    ``revisits``: :func:`crm.playbook.revisit.overdue_by_manager`; ``satisfaction``:
    :func:`crm.satisfaction.analytics.satisfaction_by` over ``staff_id``; ``suggestions``: cross-sell rows;
    ``watch``: :func:`crm.playbook.warnings.watch_list`; ``followups``: the month's warning_followups rows
    (counted under the customer's manager of the month, ``manager_id``)."""
    c = (
        value[["customer_id", "manager_id", "branch_id", "contribution", "value_score", "key_account"]]
        .merge(
            c360[["customer_id", "loan_balance", "deposit_mtd_avg", "products_held", "is_credit_customer"]],
            on="customer_id",
            how="left",
        )
        .merge(loan_quality(loans, config), left_on="customer_id", right_index=True, how="left")
    )
    for col in ("overdue_balance", "npl_balance", "loan_balance", "deposit_mtd_avg", "products_held"):
        c[col] = pd.to_numeric(c[col], errors="coerce").fillna(0.0)
    g = c.groupby("manager_id", dropna=False)
    out = pd.DataFrame(
        {
            "branch_id": g["branch_id"].agg(lambda s: s.mode().iloc[0] if len(s.mode()) else None),
            "customers": g.size(),
            "credit_customers": g["is_credit_customer"].sum(),
            "contribution": g["contribution"].sum().round(2),
            "value_score_mean": g["value_score"].mean().round(2),
            "loan_balance": g["loan_balance"].sum().round(2),
            "deposit_avg": g["deposit_mtd_avg"].sum().round(2),
            "key_accounts": g["key_account"].sum(),
            "products_per_customer": g["products_held"].mean().round(3),
            "overdue_balance": g["overdue_balance"].sum().round(2),
            "npl_balance": g["npl_balance"].sum().round(2),
        }
    )
    lb = out["loan_balance"].where(out["loan_balance"] > 0)
    out["overdue_share"] = out["overdue_balance"] / lb
    out["npl_share"] = out["npl_balance"] / lb
    if revisits is not None and len(revisits):
        r = revisits.set_index("manager_id")
        out["revisit_compliance"] = r["compliance"].reindex(out.index)
        out["revisits_overdue"] = (r["overdue"] + r["no_visit"]).reindex(out.index)
        out["key_account_coverage"] = r["key_coverage"].reindex(out.index)
    if satisfaction is not None and len(satisfaction):
        s = satisfaction.set_index("staff_id")
        out["responses"] = s["responses"].reindex(out.index)
        out["csat_mean"] = s["csat_mean"].reindex(out.index)
        out["nps"] = s["nps"].reindex(out.index)
        out["satisfaction_suppressed"] = s["suppressed"].reindex(out.index)
    if suggestions is not None and len(suggestions):
        mgr = value.drop_duplicates("customer_id").set_index("customer_id")["manager_id"]
        out["cross_sell_suggestions"] = suggestions["customer_id"].map(mgr).value_counts().reindex(out.index)
    if watch is not None and len(watch):
        out["warned_customers"] = watch.groupby("manager_id").size().reindex(out.index)
        out["high_warnings"] = watch[watch["severity"] == "high"].groupby("manager_id").size().reindex(out.index)
    if followups is not None and len(followups):
        from crm.playbook.followups import by_owner

        f = by_owner(followups, "manager_id")
        for col in ("followups_open", "followups_overdue", "followups_on_time_share"):
            out[col] = f[col].reindex(out.index)
    for col in (
        "revisits_overdue",
        "responses",
        "cross_sell_suggestions",
        "warned_customers",
        "high_warnings",
        "followups_open",
        "followups_overdue",
    ):
        out[col] = out[col].fillna(0).astype(np.int64) if col in out.columns else 0
    for col in COLUMNS[1:]:
        if col not in out.columns:
            out[col] = np.nan
    return out.reset_index()[COLUMNS].sort_values("manager_id").reset_index(drop=True)
