"""The figures of a month end's ``customer_value`` mart for run metadata and logs: counts, sums and shares,
never an identifier, a name or any other value of one customer."""

from __future__ import annotations

import pandas as pd


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def value_figures(value: pd.DataFrame, monthly: pd.DataFrame | None = None) -> dict[str, object]:
    """The month's figures of the ``customer_value`` mart (``value``) and of ``customer_value_month``:

    - ``customers``, ``key_accounts``, ``watch``, ``tiers`` (count per tier);
    - ``total_contribution`` and its parts (yuan, over the window), ``customers_with_negative_contribution``;
    - ``bureau_fresh_share``: share of customers with a bureau pull within the staleness window
      (``bureau_query_date`` set);
    - ``main_bank_share``: share of the customers whose main bank is known (``main_bank`` not NA) for whom it
      is this bank; ``main_bank_known``: how many those are;
    - ``month_rows``: rows of customer_value_month.
    """
    n = len(value)
    out: dict[str, object] = {
        "customers": n,
        "key_accounts": int(value["key_account"].fillna(False).astype(bool).sum()) if "key_account" in value else 0,
        "watch": int(value["watch"].fillna(False).astype(bool).sum()) if "watch" in value else 0,
    }
    if "tier" in value:
        out["tiers"] = ", ".join(f"{k}: {v}" for k, v in value["tier"].value_counts().sort_index().items())
    for col in ("contribution", "loan_nii", "deposit_spread", "fees", "expected_loss", "servicing_cost"):
        if col in value:
            out[f"total_{col}"] = round(float(pd.to_numeric(value[col], errors="coerce").sum()), 2)
    if "contribution" in value:
        out["customers_with_negative_contribution"] = int((pd.to_numeric(value["contribution"]) < 0).sum())
    if "bureau_query_date" in value:
        out["bureau_fresh_share"] = _share(int(value["bureau_query_date"].notna().sum()), n)
    if "main_bank" in value:
        known = value["main_bank"].dropna()
        out["main_bank_known"] = len(known)
        out["main_bank_share"] = _share(int(known.astype(bool).sum()), len(known))
    if monthly is not None:
        out["month_rows"] = len(monthly)
    return out
