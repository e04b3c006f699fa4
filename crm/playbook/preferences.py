"""Preference profiles per customer and per segment, and the segments' needs for branch heads.

:func:`customer_preferences`: one row per active customer (status not in ``[preferences] excluded_status``):

================== ==========================================================================================
rate_type          FIX / LPR of the customer's live loans (the value with the largest contract amount; ties
                   code order); null without a live loan. repayment_method and collateral (guarantee_type)
                   likewise.
term_band          SHORT (term <= ``short_months``), MEDIUM (<= ``medium_months``), LONG; term = whole months
                   from start to maturity; chosen like rate_type.
channel            the interaction channel used most in the last ``months`` months (ties code order); null
                   without an interaction.
digital_share      transactions through ``digital_channels`` / all transactions in the last ``months`` months
                   (txn_monthly counts); null without a transaction.
price_sensitivity  HIGH / MEDIUM / LOW / UNKNOWN from PRICE declines, the survey pricing rating and own
                   rates against peers (``[preferences.price]``).
pricing_rating     mean survey rating_pricing (1-5) of the last ``months`` months; surveys_seen how many.
loans_seen, interactions_seen, price_declines: the counts behind the profile.
================== ==========================================================================================

:func:`segment_preferences` and :func:`segment_needs` summarise them per branch and bank-wide (branch_id
``"ALL"``) and value segment (retail, sme, corporate). Shares of a dimension are over the segment's customers
with a known value of it (price_sensitivity: UNKNOWN is a value); a segment need's share is over the
segment's active customers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from crm.bank_calendar import months_before
from crm.playbook.needs import LIVE_LOANS, NEEDS, NeedsInputs

ALL = "ALL"
DIMENSIONS = ["rate_type", "term_band", "repayment_method", "collateral", "channel", "price_sensitivity"]
COLUMNS = [
    "customer_id",
    "segment",
    "rate_type",
    "term_band",
    "repayment_method",
    "collateral",
    "channel",
    "digital_share",
    "price_sensitivity",
    "pricing_rating",
    "loans_seen",
    "interactions_seen",
    "surveys_seen",
    "price_declines",
    "branch_id",
    "manager_id",
]
SEGMENT_NEED_COLUMNS = ["branch_id", "segment", "need", "customers", "segment_customers", "share", "rank"]
SEGMENT_PREFERENCE_COLUMNS = ["branch_id", "segment", "dimension", "value", "customers", "share"]


def _f(x: pd.Series) -> pd.Series:
    return pd.to_numeric(x, errors="coerce").astype("float64")


def _codes(x: pd.Series) -> np.ndarray:
    """Codes as an object array, missing as None (not NaN: the warehouse's text columns)."""
    return x.astype(object).where(x.notna(), None).to_numpy(dtype=object)


def active_customers(customers: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """The customers a profile is made for: one row each, status not in ``[preferences] excluded_status``."""
    c = customers.drop_duplicates("customer_id")
    if "status" in c.columns:
        c = c[~c["status"].astype(object).isin(config["preferences"]["excluded_status"]).to_numpy(bool)]
    return c.reset_index(drop=True)


def _top_value(codes: np.ndarray, n: int, values: pd.Series, weights) -> np.ndarray:
    """Per customer (``codes``: each row's position among the ``n`` customers, -1 for none) the value with the
    largest total weight (ties: the smallest value), None without one; missing values left out. One bincount
    over customer x value cells (a handful of values), no groupby of text."""
    out = np.full(n, None, dtype=object)
    v = values.astype(object).to_numpy()
    present = pd.notna(v) & (codes >= 0)
    if not present.any():
        return out
    kc = codes[present].astype("int64")
    vtext = np.asarray(v[present], dtype=str)
    vuniq = np.unique(vtext)  # sorted: code order breaks ties
    vc = np.searchsorted(vuniq, vtext)
    w = np.nan_to_num(np.asarray(weights, dtype="float64")[present], nan=0.0)
    cells = kc * len(vuniq) + vc
    size = n * len(vuniq)
    total = np.bincount(cells, weights=w, minlength=size).reshape(n, len(vuniq))
    seen = np.bincount(cells, minlength=size).reshape(n, len(vuniq)) > 0
    best = np.argmax(np.where(seen, total, -np.inf), axis=1)  # the first of equal maxima: the smallest code
    has = seen.any(axis=1)
    out[has] = vuniq.astype(object)[best[has]]
    return out


def _term_band(loans: pd.DataFrame, config: dict[str, Any]) -> pd.Series:
    from crm.value.contribution import term_months

    pc = config["preferences"]
    months = term_months(loans["start_date"], loans["maturity_date"])
    band = np.select(
        [months <= int(pc["short_months"]), months <= int(pc["medium_months"])], ["SHORT", "MEDIUM"], "LONG"
    )
    return pd.Series(band, index=loans.index, dtype=object).where(months.notna(), None)


def _window_start(as_of: dt.date, months: int) -> pd.Timestamp:
    """The first instant of the last ``months`` months up to ``as_of`` (the day after the month end ``months``
    before)."""
    return pd.Timestamp(months_before(as_of, months)) + pd.Timedelta(days=1)


def _in_window(values: pd.Series, as_of: dt.date, months: int) -> np.ndarray:
    t = pd.to_datetime(values, errors="coerce")
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    return ((t >= _window_start(as_of, months)) & (t < end)).fillna(False).to_numpy(bool)


def _low_rate(live: pd.DataFrame, codes: np.ndarray, segment: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    """Per customer (``segment``'s order; ``codes``: each live loan's customer position): 1.0 when at least half
    of their live loans' contract amount is in loans whose rate is below the ``low_rate_quantile`` of live loans
    of the same product code and value segment (groups of ``min_peers`` or more), 0.0 when not, NaN when they
    have no loan in such a group."""
    pc = config["preferences"]["price"]
    n = len(segment)
    out = np.full(n, np.nan)
    f = pd.DataFrame(
        {
            "c": codes,
            "product": live["product_code"].astype(object).to_numpy(),
            "segment": segment[codes],
            "rate": _f(live["interest_rate"]).to_numpy(),
            "w": _f(live["contract_amount"]).fillna(0.0).to_numpy(),
        }
    ).dropna(subset=["rate", "segment"])
    if f.empty:
        return out
    g = f.groupby(["product", "segment"])["rate"]
    f["n"] = g.transform("size")
    f["q"] = g.transform("quantile", float(pc["low_rate_quantile"]))
    f = f[f["n"] >= int(pc["min_peers"])]
    if f.empty:
        return out
    c = f["c"].to_numpy()
    w = np.bincount(c, weights=f["w"].to_numpy(), minlength=n)
    low_w = np.bincount(c, weights=np.where(f["rate"] < f["q"], f["w"], 0.0), minlength=n)
    seen = np.bincount(c, minlength=n) > 0
    out[seen] = ((low_w >= 0.5 * w) & (w > 0))[seen].astype("float64")
    return out


def customer_preferences(inputs: NeedsInputs, config: dict[str, Any], as_of: dt.date | None = None) -> pd.DataFrame:
    """The preference profile of every active customer (:data:`COLUMNS`; see the module docstring), from
    ``inputs`` (:class:`crm.playbook.needs.NeedsInputs`: customers, loans, txn_12m, interactions, surveys,
    opportunities)."""
    pc = config["preferences"]
    price = pc["price"]
    as_of = as_of or inputs.month_end
    months = int(pc["months"])
    c = active_customers(inputs.customers, config)
    ids = c["customer_id"].astype(object)
    out = pd.DataFrame({"customer_id": ids.to_numpy(), "segment": c["segment"].astype(object).to_numpy()})

    index = pd.Index(ids.to_numpy())
    n = len(index)
    loans = inputs.loans
    live = loans[loans["status"].astype(object).isin(LIVE_LOANS).to_numpy(bool)] if len(loans) else loans
    lc = index.get_indexer(live["customer_id"].astype(object)) if len(live) else np.zeros(0, dtype="int64")
    live, lc = (live[lc >= 0], lc[lc >= 0]) if len(live) else (live, lc)
    weight = _f(live["contract_amount"]).fillna(0.0).to_numpy() if len(live) else np.zeros(0)
    for col, source in (
        ("rate_type", "rate_type"),
        ("repayment_method", "repayment_method"),
        ("collateral", "guarantee_type"),
        ("term_band", None),
    ):
        if not len(live):
            out[col] = None
            continue
        values = _term_band(live, config) if source is None else live[source]
        out[col] = _top_value(lc, n, values, weight)
    out["loans_seen"] = np.bincount(lc, minlength=n).astype("int64")

    inter = inputs.interactions
    if inter is not None and len(inter):
        inter = inter[_in_window(inter["interaction_time"], as_of, months)]
        ic = index.get_indexer(inter["customer_id"].astype(object))
        out["channel"] = _top_value(ic, n, inter["channel"], np.ones(len(inter)))
        out["interactions_seen"] = np.bincount(ic[ic >= 0], minlength=n).astype("int64")
    else:
        out["channel"] = None
        out["interactions_seen"] = 0

    t = inputs.txn_12m
    if t is not None and len(t):
        t = t.drop_duplicates("customer_id").set_index("customer_id")
        n, d = ids.map(_f(t["txn_count"])), ids.map(_f(t["digital_count"]))
        out["digital_share"] = (d / n.where(n > 0)).round(4).to_numpy()
    else:
        out["digital_share"] = np.nan

    sv = inputs.surveys
    if sv is not None and len(sv):
        sv = sv[_in_window(sv["response_date"], as_of, months) & _f(sv["rating_pricing"]).notna().to_numpy(bool)]
        rating = _f(sv["rating_pricing"]).groupby(sv["customer_id"].to_numpy()).agg(["mean", "size"])
        out["pricing_rating"] = ids.map(rating["mean"]).round(4).to_numpy()
        out["surveys_seen"] = ids.map(rating["size"]).fillna(0).astype("int64").to_numpy()
    else:
        out["pricing_rating"] = np.nan
        out["surveys_seen"] = 0

    op = inputs.opportunities
    decided = pd.Series(0, index=ids.to_numpy())
    if op is not None and len(op):
        op = op[
            _in_window(op["outcome_date"], as_of, months) & op["outcome"].astype(object).isin(["A", "D"]).to_numpy(bool)
        ]
        decided = ids.map(op.groupby("customer_id").size()).fillna(0)
        price_d = op[
            (op["outcome"].astype(object) == "D").to_numpy(bool)
            & (op["decline_reason"].astype(object) == "PRICE").to_numpy(bool)
        ]
        out["price_declines"] = ids.map(price_d.groupby("customer_id").size()).fillna(0).astype("int64").to_numpy()
    else:
        out["price_declines"] = 0
    decided = np.asarray(decided, dtype="float64")

    seg = out["segment"].to_numpy(dtype=object)
    low_rate = _low_rate(live, lc, seg, config) if len(live) else np.full(n, np.nan)  # 1, 0, NaN
    rating = out["pricing_rating"].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        points = (
            int(price["decline_points"]) * (out["price_declines"].to_numpy() > 0)
            + int(price["rating_points"]) * (rating <= float(price["low_rating"]))
            - (rating >= float(price["high_rating"])).astype(int)
            + int(price["rate_points"]) * (low_rate == 1.0)
        )
    known = (decided > 0) | ~np.isnan(rating) | ~np.isnan(low_rate)
    out["price_sensitivity"] = np.select(
        [~known, points >= int(price["high_points"]), points >= int(price["medium_points"])],
        ["UNKNOWN", "HIGH", "MEDIUM"],
        "LOW",
    )
    for col in ("branch_id", "manager_id"):
        out[col] = c[col].to_numpy(dtype=object) if col in c.columns else None
    return out[COLUMNS]


def _scopes(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` twice: per branch, and bank-wide with branch_id ``ALL``."""
    return pd.concat([frame, frame.assign(branch_id=ALL)], ignore_index=True)


def segment_preferences(preferences: pd.DataFrame) -> pd.DataFrame:
    """Per branch (and ``ALL``), value segment, dimension (:data:`DIMENSIONS`) and value: customers and share
    (of the segment's customers with a known value of the dimension). Sorted by branch, segment, dimension,
    customers descending, value."""
    if preferences.empty:
        return pd.DataFrame(columns=SEGMENT_PREFERENCE_COLUMNS)
    keys = ["branch_id", "segment", "dimension"]
    base = preferences[["branch_id", "segment"]].astype(object)
    parts = []
    for dim in DIMENSIONS:  # six counts over (branch, segment, value) codes: no million-row melt of text
        f = base.assign(value=preferences[dim].astype(object))
        f = f[f["value"].notna().to_numpy(bool)]
        for scope in (f, f.assign(branch_id=ALL)):
            parts.append(
                scope.groupby(["branch_id", "segment", "value"], sort=False, dropna=False)
                .size()
                .rename("customers")
                .reset_index()
            )
        parts[-1]["dimension"] = parts[-2]["dimension"] = dim
    out = pd.concat(parts, ignore_index=True)
    out["share"] = (out["customers"] / out.groupby(keys)["customers"].transform("sum")).round(6)
    order = {d: i for i, d in enumerate(DIMENSIONS)}
    out = out.assign(_d=out["dimension"].map(order)).sort_values(
        ["branch_id", "segment", "_d", "customers", "value"], ascending=[True, True, True, False, True]
    )
    return out[SEGMENT_PREFERENCE_COLUMNS].reset_index(drop=True)


def segment_needs(needs: pd.DataFrame, customers: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """Per branch (and ``ALL``), value segment and need: customers with the need, segment_customers (the
    segment's active customers there), share, rank (1 = the segment's most common need there; ties: the order
    of :data:`crm.playbook.needs.NEEDS`). ``needs``: customer_needs rows; ``customers``: customer_id, segment,
    branch_id, status."""
    c = active_customers(customers, config)
    if c.empty:
        return pd.DataFrame(columns=SEGMENT_NEED_COLUMNS)
    base = _scopes(c[["customer_id", "branch_id", "segment"]])
    sizes = base.groupby(["branch_id", "segment"]).size().rename("segment_customers")
    n = needs[["customer_id", "need"]].drop_duplicates()
    n = n.merge(c[["customer_id", "branch_id", "segment"]], on="customer_id", how="inner")
    if n.empty:
        return pd.DataFrame(columns=SEGMENT_NEED_COLUMNS)
    counts = _scopes(n).groupby(["branch_id", "segment", "need"]).size().rename("customers").reset_index()
    counts = counts.join(sizes, on=["branch_id", "segment"])
    counts["share"] = (counts["customers"] / counts["segment_customers"]).round(6)
    order = {k: i for i, k in enumerate(NEEDS)}
    counts = counts.assign(_o=counts["need"].map(order)).sort_values(
        ["branch_id", "segment", "customers", "_o"], ascending=[True, True, False, True]
    )
    counts["rank"] = counts.groupby(["branch_id", "segment"]).cumcount() + 1
    return counts[SEGMENT_NEED_COLUMNS].reset_index(drop=True)
