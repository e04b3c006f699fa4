"""What became of the proposals: take-up against the hold-out, uplift with its interval, and the conversion of
the opportunities the front office recorded. Configuration ``[proposals.takeup]``, ``[proposals.uplift]`` and
``[proposals.conversion]`` of ``config.toml``; docs/playbook.md ("Take-up, uplift and conversion").

Take-up (the shared definition, issue 19 spec): customer c, eligible for proposal type T in the month ending m
(cohort m), took it up when a product holding of c (the product_holdings snapshot of the window's last day,
any status) has ``open_date`` in (m, m + window_days] and ``product_family`` in ``[proposals.takeup.families]``
of T. The same measure for the treated group (eligible and offered) and the held-out group (eligible, held
out): an intention-to-treat comparison, whatever the front office then did.

Input frames:

- ``proposals``: rows of the proposals mart of ONE cohort (spec table 5): customer_id, proposal_type,
  eligible, held_out, segment, branch_id, manager_id (and month_end, or pass ``cohort``).
- ``holdings``: a product_holdings snapshot: customer_id, product_family, open_date (other columns ignored).
- ``takeup`` (for :func:`uplift`): proposal_takeup rows of several cohorts (spec table 6).
- ``opportunities``: the staged opportunities records (every record sent, any order of files: the latest
  per opportunity_id is its state, :func:`latest_opportunities`); ``customers``: customer_id, segment,
  branch_id (customer_value of the month end).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

TAKEUP_COLUMNS = [
    "customer_id",
    "proposal_type",
    "group",
    "took_up",
    "takeup_date",
    "product_family",
    "segment",
    "branch_id",
    "manager_id",
    "window_end",
    "month_end",
]
UPLIFT_COLUMNS = [
    "branch_id",
    "proposal_type",
    "cohorts",
    "treated_n",
    "treated_takeup",
    "treated_rate",
    "holdout_n",
    "holdout_takeup",
    "holdout_rate",
    "uplift",
    "ci_low",
    "ci_high",
    "significant",
    "reading",
    "method",
]
CONVERSION_COLUMNS = [
    "dimension",
    "value",
    "branch_id",
    "offered",
    "accepted",
    "declined",
    "pending",
    "lapsed",
    "conversion",
    "median_days_to_outcome",
    "p90_days_to_outcome",
]
_COUNTS = (
    "cohorts",
    "treated_n",
    "treated_takeup",
    "holdout_n",
    "holdout_takeup",
    "offered",
    "accepted",
    "declined",
    "pending",
    "lapsed",
)
_RATES = (
    "treated_rate",
    "holdout_rate",
    "uplift",
    "ci_low",
    "ci_high",
    "conversion",
    "median_days_to_outcome",
    "p90_days_to_outcome",
)


def _empty(columns: list[str]) -> pd.DataFrame:
    """An empty frame of ``columns`` with the types the non-empty one has (a first month without rows must not
    make a warehouse table of text columns)."""
    types = {
        c: "int64" if c in _COUNTS else "float64" if c in _RATES else "bool" if c == "significant" else object
        for c in columns
    }
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in types.items()})


ALL = "ALL"
UNKNOWN = "UNKNOWN"
METHOD = "newcombe_hybrid_score"
OUTCOMES = {"A": "accepted", "D": "declined", "P": "pending", "X": "lapsed"}
DECIDED = ("A", "D", "X")
READINGS = ("effective", "no_effect_seen", "too_few")


def _month_end(day: dt.date) -> dt.date:
    nxt = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def window_end(cohort: dt.date, config: dict[str, Any]) -> dt.date:
    """The last day of cohort ``cohort``'s take-up window: cohort + window_days."""
    return cohort + dt.timedelta(days=int(config["proposals"]["takeup"]["window_days"]))


def cohorts_closing(month_end: dt.date, config: dict[str, Any]) -> list[dt.date]:
    """The cohorts (month ends) whose take-up window ends in the calendar month of ``month_end`` (on or
    before it): proposal_takeup rows for them are written at ``month_end``. Oldest first."""
    first = month_end.replace(day=1)
    days = int(config["proposals"]["takeup"]["window_days"])
    out, m = [], _month_end(first - dt.timedelta(days=days + 1) - dt.timedelta(days=31))
    while m < month_end:
        if first <= m + dt.timedelta(days=days) <= month_end:
            out.append(m)
        m = _month_end(m + dt.timedelta(days=1))
    return out


# ------------------------------------------------------------------------------------------------- take-up


def takeup(
    proposals: pd.DataFrame, holdings: pd.DataFrame, config: dict[str, Any], cohort: dt.date | None = None
) -> pd.DataFrame:
    """proposal_takeup rows (spec table 6) of one cohort: one per eligible (customer_id, proposal_type), with
    ``group`` treated / holdout, ``took_up``, ``takeup_date`` (the first qualifying holding's open date) and
    ``product_family`` (its family; null when not taken up)."""
    tc = config["proposals"]["takeup"]
    if cohort is None:
        months = pd.to_datetime(proposals["month_end"]).dt.date.unique()
        if len(months) != 1:
            raise ValueError(f"takeup: one cohort at a time, got month ends {sorted(months)}")
        cohort = months[0]
    end = window_end(cohort, config)
    el = proposals[proposals["eligible"].astype(bool).to_numpy()]
    base = pd.DataFrame(
        {
            "customer_id": el["customer_id"].to_numpy(),
            "proposal_type": el["proposal_type"].to_numpy(),
            "group": np.where(el["held_out"].astype(bool).to_numpy(), "holdout", "treated"),
            "segment": el["segment"].to_numpy(),
            "branch_id": el["branch_id"].to_numpy(),
            "manager_id": el["manager_id"].to_numpy(),
        }
    )
    fams = pd.DataFrame(
        [(t, f) for t, fs in tc["families"].items() for f in fs], columns=["proposal_type", "product_family"]
    )
    unknown = sorted(set(base["proposal_type"]) - set(fams["proposal_type"]))
    if unknown:
        raise ValueError(f"[proposals.takeup.families] lists no family for proposal types {unknown}")
    h = holdings[["customer_id", "product_family", "open_date"]].copy()
    h["open_date"] = pd.to_datetime(h["open_date"], errors="coerce")
    inside = (h["open_date"] > pd.Timestamp(cohort)) & (h["open_date"] <= pd.Timestamp(end))
    h = h[inside.to_numpy() & h["customer_id"].isin(base["customer_id"]).to_numpy()]
    hits = (
        base[["customer_id", "proposal_type"]]
        .drop_duplicates()
        .merge(fams, on="proposal_type")
        .merge(h, on=["customer_id", "product_family"])
        .sort_values(["customer_id", "proposal_type", "open_date", "product_family"], kind="stable")
        .drop_duplicates(["customer_id", "proposal_type"])
    )
    out = base.merge(hits.rename(columns={"open_date": "takeup_date"}), on=["customer_id", "proposal_type"], how="left")
    out["took_up"] = out["takeup_date"].notna()
    out["takeup_date"] = out["takeup_date"].astype("datetime64[ns]")
    out["window_end"], out["month_end"] = end, cohort
    return out.sort_values(["customer_id", "proposal_type"]).reset_index(drop=True)[TAKEUP_COLUMNS]


# -------------------------------------------------------------------------------------------------- uplift


def _z(confidence: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2.0))


def wilson(x: np.ndarray, n: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (lower, upper) of x successes in n trials, vectorised; NaN where n = 0."""
    z = _z(confidence)
    x, n = np.asarray(x, dtype="float64"), np.asarray(n, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        den = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / den
        half = z / den * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def newcombe(
    x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval (1998, method 10) for p1 - p2 from the Wilson limits of each rate:
    d - sqrt((p1 - l1)^2 + (u2 - p2)^2), d + sqrt((u1 - p1)^2 + (p2 - l2)^2). Vectorised; NaN where a group
    is empty."""
    x1, n1, x2, n2 = (np.asarray(a, dtype="float64") for a in (x1, n1, x2, n2))
    l1, u1 = wilson(x1, n1, confidence)
    l2, u2 = wilson(x2, n2, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    return d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def uplift(takeup_rows: pd.DataFrame, month_end: dt.date, config: dict[str, Any]) -> pd.DataFrame:
    """proposal_uplift rows (spec table 7) at ``month_end``: per scope (``branch_id`` "ALL" and each branch)
    and proposal type, the take-up of the treated and held-out groups pooled over the cohorts whose window
    ended in the trailing ``[proposals.uplift] months`` months (window_end in (month_end - months,
    month_end]), the difference ``uplift`` with Newcombe's hybrid score interval, ``significant`` (the
    interval excludes 0) and ``reading`` (effective / no_effect_seen / too_few)."""
    uc = config["proposals"]["uplift"]
    if not len(takeup_rows):
        return _empty(UPLIFT_COLUMNS)
    t = takeup_rows
    we = pd.to_datetime(t["window_end"])
    start = pd.Timestamp(month_end) - pd.DateOffset(months=int(uc["months"]))
    t = t[((we > start) & (we <= pd.Timestamp(month_end))).to_numpy()]
    if not len(t):
        return _empty(UPLIFT_COLUMNS)
    frame = pd.DataFrame(
        {
            "proposal_type": t["proposal_type"].to_numpy(),
            "branch_id": t["branch_id"].astype("object").fillna(UNKNOWN).to_numpy(),
            "cohort": pd.to_datetime(t["month_end"]).to_numpy(),
            "treated": (t["group"] == "treated").to_numpy(),
            "took": t["took_up"].astype(bool).to_numpy(),
        }
    )
    frame["holdout"] = ~frame["treated"]
    frame["t_took"] = frame["treated"] & frame["took"]
    frame["h_took"] = frame["holdout"] & frame["took"]
    both = pd.concat([frame.assign(branch_id=ALL), frame], ignore_index=True)
    g = both.groupby(["branch_id", "proposal_type"], sort=True)
    out = pd.DataFrame(
        {
            "cohorts": g["cohort"].nunique(),
            "treated_n": g["treated"].sum(),
            "treated_takeup": g["t_took"].sum(),
            "holdout_n": g["holdout"].sum(),
            "holdout_takeup": g["h_took"].sum(),
        }
    ).reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["treated_rate"] = out["treated_takeup"] / out["treated_n"].where(out["treated_n"] > 0)
        out["holdout_rate"] = out["holdout_takeup"] / out["holdout_n"].where(out["holdout_n"] > 0)
    out["uplift"] = out["treated_rate"] - out["holdout_rate"]
    lo, hi = newcombe(
        out["treated_takeup"], out["treated_n"], out["holdout_takeup"], out["holdout_n"], float(uc["confidence"])
    )
    out["ci_low"], out["ci_high"] = lo, hi
    out["significant"] = ((out["ci_low"] > 0) | (out["ci_high"] < 0)).fillna(False).astype(bool)
    few = (
        (out["treated_n"] < int(uc["min_treated"]))
        | (out["holdout_n"] < int(uc["min_holdout"]))
        | ((out["treated_takeup"] + out["holdout_takeup"]) < int(uc["min_takeups"]))
    )
    out["reading"] = np.where(few, "too_few", np.where(out["ci_low"] > 0, "effective", "no_effect_seen"))
    out["method"] = METHOD
    for c in ("treated_rate", "holdout_rate", "uplift", "ci_low", "ci_high"):
        out[c] = out[c].astype("float64").round(6)
    order = out["branch_id"] != ALL
    return out.assign(_o=order).sort_values(["_o", "branch_id", "proposal_type"]).reset_index(drop=True)[UPLIFT_COLUMNS]


# ---------------------------------------------------------------------------------------------- conversion


def latest_opportunities(opportunities: pd.DataFrame) -> pd.DataFrame:
    """One row per opportunity_id: its latest record (the last business date it was sent, ``_business_date``
    when the frame has it; within a date, a decided outcome over pending, then the later outcome date, then
    the later row)."""
    o = opportunities.reset_index(drop=True)
    if not len(o):
        return o
    key = pd.DataFrame(
        {
            "opportunity_id": o["opportunity_id"],
            "_b": pd.to_datetime(o["_business_date"]) if "_business_date" in o.columns else pd.NaT,
            "_d": o["outcome"].isin(DECIDED),
            "_t": pd.to_datetime(o["outcome_date"], errors="coerce"),
            "_r": np.arange(len(o)),
        }
    )
    idx = key.sort_values(["opportunity_id", "_b", "_d", "_t", "_r"], na_position="first", kind="stable").index
    return (
        o.loc[idx].drop_duplicates("opportunity_id", keep="last").sort_values("opportunity_id").reset_index(drop=True)
    )


def opportunity_conversion(
    opportunities: pd.DataFrame, customers: pd.DataFrame, month_end: dt.date, config: dict[str, Any]
) -> pd.DataFrame:
    """opportunity_conversion rows (spec table 8) at ``month_end``: the latest state of the opportunities
    offered in the trailing ``[proposals.conversion] months`` months (offered_date in (month_end - months,
    month_end]), per ``dimension`` (proposal_type, product_family, segment, manager_id = the staff who offered,
    channel, source) and ``value``, for each branch (the customer's branch_id in ``customers``) and "ALL":
    offered, accepted, declined, pending, lapsed, conversion = accepted / decided (accepted + declined +
    lapsed; null with none decided), median and p90 days from offer to outcome of the decided ones. A value
    or branch that is not known is "UNKNOWN"."""
    cc = config["proposals"]["conversion"]
    latest = latest_opportunities(opportunities)
    if not len(latest):
        return _empty(CONVERSION_COLUMNS)
    offered = pd.to_datetime(latest["offered_date"])
    start = pd.Timestamp(month_end) - pd.DateOffset(months=int(cc["months"]))
    o = latest[((offered > start) & (offered <= pd.Timestamp(month_end))).to_numpy()].reset_index(drop=True)
    if not len(o):
        return _empty(CONVERSION_COLUMNS)
    cust = customers.drop_duplicates("customer_id").set_index("customer_id")
    base = pd.DataFrame(
        {
            "proposal_type": o["proposal_type"],
            "product_family": o["product_family"],
            "segment": o["customer_id"].map(cust["segment"]) if "segment" in cust.columns else None,
            "manager_id": o["staff_id"],
            "channel": o["channel"],
            "source": o["source"],
            "branch_id": o["customer_id"].map(cust["branch_id"]) if "branch_id" in cust.columns else None,
        }
    )
    base = base.astype("object").where(base.notna(), UNKNOWN)
    for code, name in OUTCOMES.items():
        base[name] = (o["outcome"] == code).to_numpy()
    decided = o["outcome"].isin(DECIDED).to_numpy()
    days = (pd.to_datetime(o["outcome_date"], errors="coerce") - pd.to_datetime(o["offered_date"])).dt.days
    base["days"] = days.where(decided).astype("float64")
    parts = []
    for dim in cc["dimensions"]:
        v = base[["branch_id", *OUTCOMES.values(), "days"]].assign(dimension=dim, value=base[dim].astype(str))
        parts += [v, v.assign(branch_id=ALL)]
    long = pd.concat(parts, ignore_index=True)
    g = long.groupby(["dimension", "value", "branch_id"], sort=True)
    out = g[list(OUTCOMES.values())].sum().astype("int64")
    out["offered"] = g.size()
    out["median_days_to_outcome"] = g["days"].median()
    out["p90_days_to_outcome"] = g["days"].quantile(0.9)
    out = out.reset_index()
    dec = out["accepted"] + out["declined"] + out["lapsed"]
    out["conversion"] = (out["accepted"] / dec.where(dec > 0)).round(6)
    order = {d: i for i, d in enumerate(cc["dimensions"])}
    out["_d"] = out["dimension"].map(order)
    out["_b"] = out["branch_id"] != ALL
    return out.sort_values(["_d", "_b", "branch_id", "value"]).reset_index(drop=True)[CONVERSION_COLUMNS]
