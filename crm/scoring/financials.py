"""Financial ratios of corporate customers from their statements, with trends and deterioration flags.

Input: the staged ``financial_statements`` (one row per statement; amounts in yuan; ``period_type`` Q 季报,
H 半年报, A 年报). Output: one row per usable statement.

Conventions, stated:

- **Balance identity.** A statement with |total_assets − (total_liabilities + equity)| > 1 yuan is excluded
  (and so is one missing any of the three totals): its figures cannot be trusted. Both are counted.
- **Restatements.** When a customer sends the same (period type, report period) twice, the one received last
  (then the larger ``statement_id``) is used; the others are counted as superseded.
- **Year-to-date income statements.** Interim statements carry the balance sheet at period end and the
  income statement and cash flows from 1 January to period end (docs/synthetic.md; the statutory fiscal year
  is the calendar year). Flow-over-stock ratios (ROA, ROE, operating cash flow to debt) are annualised by
  ``12 / months elapsed``: a March quarterly x4, a June half-year x2, a September quarterly x4/3, annual x1.
  Flow-over-flow ratios (interest coverage, growth) need no annualising.
- **Ratios** use period-end balances (not averages): ``debt_to_asset`` = total_liabilities / total_assets;
  ``current_ratio`` = current_assets / current_liabilities; ``quick_ratio`` = (current_assets − inventory) /
  current_liabilities (missing inventory: missing); ``interest_coverage`` = operating_profit /
  interest_expense (the extract's operating profit is before interest, as in the generator's statements);
  ``roa`` = annualised net_profit / total_assets; ``roe`` = annualised net_profit / equity, missing when
  equity <= 0 (a ratio on negative equity has no meaning); ``ocf_to_debt`` = annualised operating_cash_flow /
  total_liabilities. A zero or missing denominator gives NaN, never inf.
- **Growth** against the statement of the same customer, the same period type and the report period one year
  earlier (both year-to-date, so like for like): ``revenue_growth`` = revenue / revenue a year earlier − 1;
  ``profit_growth`` = (net_profit − net_profit a year earlier) / |net_profit a year earlier|.
- **Trend** against the previous statement of the same customer and period type (``prev_report_period``):
  ``debt_to_asset_change`` (a fraction: 0.05 = 5 points), ``current_ratio_change``, ``roa_change``.
- **Deterioration flags** (booleans; a missing input never raises a flag), thresholds in ``THRESHOLDS``:
  ``flag_leverage_up`` debt_to_asset up more than 5 points on the previous statement; ``flag_liquidity``
  current ratio below 1 and lower than on the previous statement; ``flag_interest_coverage`` coverage below
  1.5 (interest expense > 0); ``flag_negative_ocf`` operating cash flow negative on this and the previous
  statement; ``flag_revenue_decline`` revenue down more than 15% on a year earlier. ``flag_count`` sums them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

THRESHOLDS = {
    "identity_tolerance": 1.0,  # yuan: |assets - (liabilities + equity)| above this excludes a statement
    "leverage_up": 0.05,  # debt_to_asset rise on the previous statement of the same type (5 points)
    "current_ratio_floor": 1.0,  # current ratio below this, and falling, flags liquidity
    "interest_coverage_floor": 1.5,  # operating profit / interest expense below this flags
    "revenue_decline": -0.15,  # revenue growth on a year earlier below this flags
}
FLAGS = ["flag_leverage_up", "flag_liquidity", "flag_interest_coverage", "flag_negative_ocf", "flag_revenue_decline"]
RATIOS = ["debt_to_asset", "current_ratio", "quick_ratio", "interest_coverage", "roa", "roe", "ocf_to_debt"]
_NUMERIC = [
    "inventory",
    "current_assets",
    "total_assets",
    "current_liabilities",
    "total_liabilities",
    "equity",
    "revenue",
    "operating_profit",
    "interest_expense",
    "net_profit",
    "operating_cash_flow",
]
_KEY = ["customer_id", "period_type"]


def _div(num, den) -> np.ndarray:
    """num / den with NaN where the denominator is zero or missing (never inf)."""
    n = np.asarray(num, dtype=float)
    d = np.asarray(den, dtype=float)
    ok = np.isfinite(d) & (d != 0)
    out = np.full(np.broadcast(n, d).shape, np.nan)
    np.divide(n, d, out=out, where=ok)
    out[~np.isfinite(out)] = np.nan
    return out


def ratios(statements: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Ratios, growth, trend and flags per statement, and counts (in, excluded, out).

    Output columns: ``statement_id``, ``customer_id``, ``report_period``, ``period_type``, ``audited``,
    ``received_date``, ``months`` (year-to-date months), ``annualisation``, the ratios (``debt_to_asset``,
    ``current_ratio``, ``quick_ratio``, ``interest_coverage``, ``roa``, ``roe``, ``ocf_to_debt``),
    ``revenue``, ``net_profit``, ``operating_cash_flow``, ``revenue_growth``, ``profit_growth``,
    ``prev_report_period``, ``debt_to_asset_change``, ``current_ratio_change``, ``roa_change``, the five
    ``flag_*`` booleans and ``flag_count``. Sorted by customer, period type, report period.

    Counts: ``statements_in``, ``excluded_identity`` (balance identity off by more than 1 yuan),
    ``excluded_missing_totals``, ``superseded`` (older copies of a restated period), ``statements_out``,
    ``customers``, ``flagged`` (statements with at least one flag).
    """
    s = statements.copy()
    n_in = len(s)
    for col in _NUMERIC:
        s[col] = pd.to_numeric(s[col], errors="coerce").astype(float) if col in s.columns else np.nan
    s["report_period"] = pd.to_datetime(s["report_period"])
    s["received_date"] = pd.to_datetime(s["received_date"]) if "received_date" in s.columns else pd.NaT

    totals = s[["total_assets", "total_liabilities", "equity"]]
    missing = totals.isna().any(axis=1).to_numpy()
    gap = (s["total_assets"] - (s["total_liabilities"] + s["equity"])).abs().to_numpy()
    bad_identity = ~missing & (gap > THRESHOLDS["identity_tolerance"])
    s = s.loc[~missing & ~bad_identity]

    s = s.sort_values(_KEY + ["report_period", "received_date", "statement_id"], kind="stable")
    dup = s.duplicated(_KEY + ["report_period"], keep="last")
    superseded = int(dup.sum())
    s = s.loc[~dup].reset_index(drop=True)

    annual = (s["period_type"].astype("string") == "A").fillna(False).to_numpy(bool)
    months = np.where(annual, 12, s["report_period"].dt.month.to_numpy())
    factor = 12.0 / months

    out = pd.DataFrame(
        {
            "statement_id": s["statement_id"].to_numpy(),
            "customer_id": s["customer_id"].to_numpy(),
            "report_period": s["report_period"].dt.date.to_numpy(),
            "period_type": s["period_type"].to_numpy(),
            "audited": s["audited"].to_numpy() if "audited" in s.columns else None,
            "received_date": s["received_date"].dt.date.to_numpy(),
            "months": months.astype(np.int64),
            "annualisation": factor,
        }
    )
    out["debt_to_asset"] = _div(s["total_liabilities"], s["total_assets"])
    out["current_ratio"] = _div(s["current_assets"], s["current_liabilities"])
    out["quick_ratio"] = _div(s["current_assets"] - s["inventory"], s["current_liabilities"])
    out["interest_coverage"] = _div(s["operating_profit"], s["interest_expense"])
    out["roa"] = _div(s["net_profit"] * factor, s["total_assets"])
    equity = s["equity"].to_numpy(float)
    out["roe"] = _div(s["net_profit"] * factor, np.where(equity > 0, equity, np.nan))
    out["ocf_to_debt"] = _div(s["operating_cash_flow"] * factor, s["total_liabilities"])
    out["revenue"] = s["revenue"].to_numpy(float)
    out["net_profit"] = s["net_profit"].to_numpy(float)
    out["operating_cash_flow"] = s["operating_cash_flow"].to_numpy(float)

    # the same period one year earlier (same customer and period type), like for like year-to-date
    year_ago = out[["customer_id", "period_type", "report_period", "revenue", "net_profit"]].rename(
        columns={"revenue": "revenue_ya", "net_profit": "net_profit_ya"}
    )
    year_ago["report_period"] = (pd.to_datetime(year_ago["report_period"]) + pd.offsets.DateOffset(years=1)).dt.date
    ya = out[["customer_id", "period_type", "report_period"]].merge(
        year_ago, on=["customer_id", "period_type", "report_period"], how="left", validate="one_to_one"
    )
    out["revenue_growth"] = _div(out["revenue"], ya["revenue_ya"]) - 1.0
    out["profit_growth"] = _div(
        out["net_profit"] - ya["net_profit_ya"].to_numpy(float), np.abs(ya["net_profit_ya"].to_numpy(float))
    )

    # the previous statement of the same customer and period type (rows are sorted by period within the key)
    g = out.groupby(_KEY, sort=False)
    prev = g[["report_period", "debt_to_asset", "current_ratio", "roa", "operating_cash_flow"]].shift(1)
    out["prev_report_period"] = prev["report_period"].to_numpy()
    out["debt_to_asset_change"] = out["debt_to_asset"] - prev["debt_to_asset"].to_numpy(float)
    out["current_ratio_change"] = out["current_ratio"] - prev["current_ratio"].to_numpy(float)
    out["roa_change"] = out["roa"] - prev["roa"].to_numpy(float)

    t = THRESHOLDS
    ic = out["interest_coverage"].to_numpy(float)
    out["flag_leverage_up"] = (out["debt_to_asset_change"] > t["leverage_up"]).to_numpy(bool)
    out["flag_liquidity"] = (
        (out["current_ratio"] < t["current_ratio_floor"]) & (out["current_ratio_change"] < 0)
    ).to_numpy(bool)
    out["flag_interest_coverage"] = np.isfinite(ic) & (ic < t["interest_coverage_floor"])
    out["flag_negative_ocf"] = (
        (out["operating_cash_flow"] < 0) & (prev["operating_cash_flow"].to_numpy(float) < 0)
    ).to_numpy(bool)
    out["flag_revenue_decline"] = (out["revenue_growth"] < t["revenue_decline"]).to_numpy(bool)
    out["flag_count"] = out[FLAGS].sum(axis=1).astype(np.int64)

    counts = {
        "statements_in": int(n_in),
        "excluded_identity": int(bad_identity.sum()),
        "excluded_missing_totals": int(missing.sum()),
        "superseded": superseded,
        "statements_out": int(len(out)),
        "customers": int(out["customer_id"].nunique()),
        "flagged": int((out["flag_count"] > 0).sum()),
        "thresholds": dict(THRESHOLDS),
    }
    return out, counts


def latest_by_customer(ratios_df: pd.DataFrame) -> pd.DataFrame:
    """Each customer's latest annual statement, else its latest statement of any type (one row per customer).

    Latest = greatest ``report_period``, then ``received_date``, then ``statement_id``."""
    r = ratios_df.assign(
        _annual=(ratios_df["period_type"].astype("string") == "A").fillna(False).to_numpy(bool),
        _period=pd.to_datetime(ratios_df["report_period"]),
        _received=pd.to_datetime(ratios_df["received_date"]),
    )
    r = r.sort_values(["customer_id", "_annual", "_period", "_received", "statement_id"], kind="stable")
    last = r.drop_duplicates("customer_id", keep="last")
    return last.drop(columns=["_annual", "_period", "_received"]).reset_index(drop=True)
