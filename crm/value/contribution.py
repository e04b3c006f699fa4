"""Contribution from history: every record of the window priced, then summed per customer and month.

The record functions (``loan_records``, ``deposit_records``, ``fee_records``, ``interaction_records``,
``request_records``, ``transaction_records``) each return the staged rows they used, with ``_month`` (index
0..11 in the window, oldest first), the figures behind the amount and the unrounded amount of every component
the row feeds (yuan). :func:`monthly_parts` sums them per customer and month, rounds each component to the cent
(half away from zero) and keeps the months the customer held a relationship. The same functions feed the trace
(:mod:`crm.value.trace`), so a traced record is priced exactly as the mart prices it.

Formulas (config keys under ``[contribution]`` and ``[cost_to_serve]``):

- loan NII = month-end balance (loan_performance, status in ``earning_statuses``) x (own rate - FTP rate of the
  term bucket) / 12; own rate and term from ``loan_rates`` (then the month-end ``loans`` snapshot). A loan
  without a known rate or term is priced at the balance-weighted mean margin of the window's known-rate
  loan-months of the same product_code (``margin_source`` "product_mean"), or 0 when the product has none
  (``margin_source`` "none"); both are counted (``rate_fallback_months``).
- deposit spread = avg_balance x (FTP credit of the product (FIX: of its term) - own interest_rate) / 12.
- fees = fee_ledger amounts by fee_date month (reversals, negative, included).
- expected loss = PD x LGD (guarantee type) x month-end balance / 12.
- cost to serve = interactions x unit cost by channel + service requests x unit cost by priority +
  txn_monthly txn_count x unit cost by channel.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

LINEAGE = ["_source_file", "_row_number", "_sha256"]
# the components a month carries, in cents; servicing cost is the sum of the four cost columns
PARTS = [
    "loan_nii",
    "deposit_spread",
    "fees",
    "expected_loss",
    "cost_visits",
    "cost_calls",
    "cost_requests",
    "cost_transactions",
]
COSTS = ["cost_visits", "cost_calls", "cost_requests", "cost_transactions"]
COMPONENTS = ["loan_nii", "deposit_spread", "fees", "expected_loss", "servicing_cost"]


def _lineage(frame: pd.DataFrame) -> list[str]:
    return [c for c in LINEAGE if c in frame.columns]


def month_index(dates: pd.Series, months: list[dt.date]) -> pd.Series:
    """The window index (0 = oldest month) of each date's calendar month; -1 outside the window."""
    d = pd.to_datetime(dates, errors="coerce")
    first = pd.Timestamp(months[0])
    idx = (d.dt.year - first.year) * 12 + (d.dt.month - first.month)
    idx = idx.where(d.notna(), -1).astype("int64")
    return idx.where((idx >= 0) & (idx < len(months)), -1)


def _in_window(
    frame: pd.DataFrame, date_col: str, months: list[dt.date], keep: list[str], lineage: bool = True
) -> pd.DataFrame:
    """The ``keep`` columns (those present) and lineage of the rows of ``frame`` whose ``date_col`` falls in
    the window, with ``_month``; a fresh frame with a RangeIndex. ``lineage`` False leaves the lineage out
    (the marts do not need it; the trace does)."""
    sub = frame[[c for c in keep if c in frame.columns] + (_lineage(frame) if lineage else [])]
    m = month_index(sub[date_col], months).to_numpy() if len(sub) else np.zeros(0, dtype="int64")
    inside = m >= 0
    sub = sub.loc[inside] if not inside.all() else sub.copy()
    sub.index = pd.RangeIndex(len(sub))
    sub["_month"] = m[inside]
    return sub


def _bucket(term: pd.Series, curve: list[dict[str, Any]]) -> tuple[pd.Series, pd.Series]:
    """(bucket, rate) of each term (months) on a curve of {bucket, max_months, rate}; NaN term -> NaN/None."""
    table = pd.DataFrame(curve).sort_values("max_months").reset_index(drop=True)
    t = pd.to_numeric(term, errors="coerce").to_numpy(dtype="float64")
    idx = np.minimum(np.searchsorted(table["max_months"].to_numpy(dtype="float64"), t, side="left"), len(table) - 1)
    known = ~np.isnan(t)
    bucket = pd.Series(np.where(known, table["bucket"].to_numpy(dtype=object)[idx], None), index=term.index)
    rate = pd.Series(np.where(known, table["rate"].to_numpy(dtype="float64")[idx], np.nan), index=term.index)
    return bucket, rate


def term_months(start: pd.Series, end: pd.Series) -> pd.Series:
    """Whole calendar months from ``start`` to ``end`` ((years x 12 + months), day of month ignored)."""
    s, e = pd.to_datetime(start, errors="coerce"), pd.to_datetime(end, errors="coerce")
    return ((e.dt.year - s.dt.year) * 12 + (e.dt.month - s.dt.month)).astype("float64")


def loan_terms(loan_rates: pd.DataFrame, loans: pd.DataFrame | None) -> pd.DataFrame:
    """One row per loan_id: interest_rate (percent), start_date, maturity_date, guarantee_type, from
    ``loan_rates`` first and the month-end ``loans`` snapshot for loans it lacks."""
    cols = ["loan_id", "interest_rate", "start_date", "maturity_date", "guarantee_type"]
    frames = [f[[c for c in cols if c in f.columns]] for f in (loan_rates, loans) if f is not None and len(f)]
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True).drop_duplicates("loan_id", keep="first")
    for c in cols:
        if c not in out.columns:
            out[c] = None
    return out[cols]


def customer_pd(customers: pd.Series, scores: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """PD per customer from the scores frame, or ``unscored_pd`` (pd_source "scores" / "config_unscored")."""
    sc = scores.drop_duplicates("customer_id").set_index("customer_id") if len(scores) else None
    pd_ = pd.Series(np.nan, index=customers.index, dtype="float64")
    if sc is not None and "pd" in sc.columns:
        pd_ = pd.to_numeric(customers.map(sc["pd"]), errors="coerce").astype("float64")
    return pd.DataFrame(
        {
            "pd": pd_.fillna(float(config["contribution"]["unscored_pd"])),
            "pd_source": np.where(pd_.notna(), "scores", "config_unscored"),
        },
        index=customers.index,
    )


def loan_records(
    loan_performance: pd.DataFrame,
    loan_rates: pd.DataFrame,
    loans: pd.DataFrame | None,
    scores: pd.DataFrame,
    months: list[dt.date],
    config: dict[str, Any],
    lineage: bool = True,
) -> pd.DataFrame:
    """The earning loan-months of the window with loan_nii and expected_loss (yuan, unrounded)."""
    cc = config["contribution"]
    keep = ["customer_id", "loan_id", "product_code", "snapshot_date", "balance", "status"]
    lp = _in_window(loan_performance, "snapshot_date", months, keep, lineage)
    lp = lp[lp["status"].astype(str).isin(cc["earning_statuses"]).to_numpy()]
    lp["balance"] = pd.to_numeric(lp["balance"], errors="coerce").fillna(0.0).astype("float64")
    terms = loan_terms(loan_rates, loans)
    lp = lp.merge(terms, on="loan_id", how="left", validate="many_to_one")
    lp.index = pd.RangeIndex(len(lp))
    rate = pd.to_numeric(lp["interest_rate"], errors="coerce").astype("float64") / 100.0
    lp["term_months"] = term_months(lp["start_date"], lp["maturity_date"])
    lp["ftp_bucket"], lp["ftp_rate"] = _bucket(lp["term_months"], cc["ftp_loan"])
    margin = rate - lp["ftp_rate"]
    known = margin.notna()
    # fallback: the balance-weighted mean margin of the product's known-rate loan-months of the window
    w = lp["balance"].where(known, 0.0)
    num = (margin.fillna(0.0) * w).groupby(lp["product_code"]).sum()
    den = w.groupby(lp["product_code"]).sum()
    product_margin = (num / den.where(den > 0)).astype("float64")
    fallback = lp["product_code"].map(product_margin).astype("float64")
    lp["margin"] = margin.where(known, fallback).fillna(0.0)
    lp["margin_source"] = np.where(known, "own_rate", np.where(fallback.notna(), "product_mean", "none"))
    lp["loan_nii"] = lp["balance"] * lp["margin"] / 12.0
    pds = customer_pd(lp["customer_id"], scores, config)
    lp["pd"], lp["pd_source"] = pds["pd"], pds["pd_source"]
    lgd = lp["guarantee_type"].map(cc["lgd"]).astype("float64")
    lp["lgd_source"] = np.where(lgd.notna(), "guarantee_type", "config_default")
    lp["lgd"] = lgd.fillna(float(cc["default_lgd"]))
    lp["expected_loss"] = lp["pd"] * lp["lgd"] * lp["balance"] / 12.0
    return lp


def deposit_records(
    deposit_balances: pd.DataFrame, months: list[dt.date], config: dict[str, Any], lineage: bool = True
) -> pd.DataFrame:
    """The window's account-months with deposit_spread (yuan, unrounded)."""
    cc = config["contribution"]
    keep = ["customer_id", "account_id", "snapshot_date", "product_type", "avg_balance", "interest_rate", "term_months"]
    db = _in_window(deposit_balances, "snapshot_date", months, keep, lineage)
    product = db["product_type"].astype(str)
    flat = {k: float(v) for k, v in cc["ftp_deposit"].items()}
    unknown = sorted(set(product) - set(flat) - {"FIX"})
    if unknown:
        raise ValueError(f"deposit product types without an FTP credit in [contribution.ftp_deposit]: {unknown}")
    term = (
        pd.to_numeric(db["term_months"], errors="coerce")
        if "term_months" in db.columns
        else pd.Series(np.nan, index=db.index)
    )
    term = term.fillna(float(cc["ftp_deposit_fix_default_months"]))
    fix_bucket, fix_rate = _bucket(term, cc["ftp_deposit_fix"])
    is_fix = product == "FIX"
    db["ftp_bucket"] = np.where(is_fix, fix_bucket, product)
    db["ftp_rate"] = np.where(is_fix, fix_rate, product.map(flat)).astype("float64")
    db["avg_balance"] = pd.to_numeric(db["avg_balance"], errors="coerce").fillna(0.0).astype("float64")
    own = pd.to_numeric(db["interest_rate"], errors="coerce").fillna(0.0).astype("float64") / 100.0
    db["spread"] = db["ftp_rate"] - own
    db["deposit_spread"] = db["avg_balance"] * db["spread"] / 12.0
    return db


def fee_records(fee_ledger: pd.DataFrame, months: list[dt.date], lineage: bool = True) -> pd.DataFrame:
    """The window's fee records (fee_date in the window) with ``fees`` = amount (reversals negative)."""
    keep = ["customer_id", "fee_id", "fee_date", "product_family", "fee_type", "amount", "reversal_of"]
    fl = _in_window(fee_ledger, "fee_date", months, keep, lineage)
    fl["fees"] = pd.to_numeric(fl["amount"], errors="coerce").fillna(0.0).astype("float64")
    return fl


def _unit_cost(codes: pd.Series, table: dict[str, float], what: str) -> pd.Series:
    """The unit cost of each code (factorised: one lookup per distinct code); an unlisted code raises."""
    idx, uniques = pd.factorize(codes.astype(object), use_na_sentinel=False)
    names = [str(u) for u in uniques]
    unknown = sorted(set(names) - set(table))
    if unknown:
        raise ValueError(f"{what}: codes without a unit cost in the configuration: {unknown}")
    return pd.Series(np.array([table[n] for n in names], dtype="float64")[idx], index=codes.index)


def _from(frame: pd.DataFrame, column: str, since: dt.date | None) -> pd.DataFrame:
    """The rows of ``frame`` whose ``column`` is on or after ``since`` (all when None), renumbered."""
    if since is None or not len(frame):
        return frame
    out = frame[(pd.to_datetime(frame[column]) >= pd.Timestamp(since)).to_numpy()]
    out.index = pd.RangeIndex(len(out))
    return out


def interaction_records(
    interactions: pd.DataFrame,
    months: list[dt.date],
    config: dict[str, Any],
    since: dt.date | None,
    lineage: bool = True,
) -> pd.DataFrame:
    """The window's interactions (from ``since`` on) with unit_cost, priced into cost_visits / cost_calls."""
    table = config["cost_to_serve"]["interactions"]
    keep = ["customer_id", "interaction_id", "interaction_time", "channel", "purpose"]
    it = _in_window(interactions, "interaction_time", months, keep, lineage)
    it = _from(it, "interaction_time", since)
    it["unit_cost"] = _unit_cost(it["channel"], {k: float(v["unit_cost"]) for k, v in table.items()}, "interactions")
    column = it["channel"].astype(str).map({k: v["column"] for k, v in table.items()})
    for col in ("cost_visits", "cost_calls"):
        it[col] = it["unit_cost"].where(column == col, 0.0)
    bad = sorted(set(column) - {"cost_visits", "cost_calls"})
    if bad:
        raise ValueError(f"[cost_to_serve.interactions] column must be cost_visits or cost_calls, not {bad}")
    return it


def request_records(
    requests: pd.DataFrame,
    months: list[dt.date],
    config: dict[str, Any],
    since: dt.date | None,
    lineage: bool = True,
) -> pd.DataFrame:
    """The service requests opened in the window (from ``since`` on; latest record per request_id) with
    cost_requests = the unit cost of its priority."""
    sr = requests.drop_duplicates("request_id", keep="last") if len(requests) else requests
    keep = ["customer_id", "request_id", "opened_time", "priority", "category"]
    sr = _in_window(sr, "opened_time", months, keep, lineage)
    sr = _from(sr, "opened_time", since)
    table = {k: float(v) for k, v in config["cost_to_serve"]["requests"].items()}
    sr["cost_requests"] = _unit_cost(sr["priority"], table, "service_requests")
    return sr


def transaction_records(
    txn_monthly: pd.DataFrame, months: list[dt.date], config: dict[str, Any], lineage: bool = True
) -> pd.DataFrame:
    """The window's txn_monthly rows with cost_transactions = txn_count x unit cost of the channel."""
    keep = ["customer_id", "snapshot_date", "txn_type", "channel", "direction", "txn_count"]
    tm = _in_window(txn_monthly, "snapshot_date", months, keep, lineage)
    tm["txn_count"] = pd.to_numeric(tm["txn_count"], errors="coerce").fillna(0).astype("int64")
    table = {k: float(v) for k, v in config["cost_to_serve"]["transactions"].items()}
    tm["unit_cost"] = _unit_cost(tm["channel"], table, "txn_monthly")
    tm["cost_transactions"] = tm["txn_count"] * tm["unit_cost"]
    return tm


def cents(amount: np.ndarray) -> np.ndarray:
    """Yuan to whole cents, half away from zero (int64)."""
    a = np.asarray(amount, dtype="float64") * 100.0
    return (np.sign(a) * np.floor(np.abs(a) + 0.5 + 1e-9)).astype("int64")


@dataclass
class Records:
    """Every priced record of the window (see the record functions)."""

    loans: pd.DataFrame
    deposits: pd.DataFrame
    fees: pd.DataFrame
    interactions: pd.DataFrame
    requests: pd.DataFrame
    transactions: pd.DataFrame

    def feeds(self) -> list[tuple[pd.DataFrame, list[str]]]:
        return [
            (self.loans, ["loan_nii", "expected_loss"]),
            (self.deposits, ["deposit_spread"]),
            (self.fees, ["fees"]),
            (self.interactions, ["cost_visits", "cost_calls"]),
            (self.requests, ["cost_requests"]),
            (self.transactions, ["cost_transactions"]),
        ]


def price_records(inputs: Any, months: list[dt.date], config: dict[str, Any], lineage: bool = True) -> Records:
    """Every record of ``inputs`` (a :class:`crm.value.inputs.ValueInputs`) of the window, priced; with
    their lineage columns unless ``lineage`` is False."""
    return Records(
        loans=loan_records(
            inputs.loan_performance, inputs.loan_rates, inputs.loans, inputs.scores, months, config, lineage
        ),
        deposits=deposit_records(inputs.deposit_balances, months, config, lineage),
        fees=fee_records(inputs.fee_ledger, months, lineage),
        interactions=interaction_records(inputs.interactions, months, config, inputs.records_since, lineage),
        requests=request_records(inputs.service_requests, months, config, inputs.records_since, lineage),
        transactions=transaction_records(inputs.txn_monthly, months, config, lineage),
    )


def held_from(c360: pd.DataFrame, months: list[dt.date]) -> np.ndarray:
    """Per customer of ``c360``, the window index of its first held month: the onboarding month, 0 when
    onboarded before the window or when the onboarding date is unknown (int64 array)."""
    if "onboarding_date" not in c360.columns:
        return np.zeros(len(c360), dtype="int64")
    d = pd.to_datetime(c360["onboarding_date"], errors="coerce")
    first = pd.Timestamp(months[0])
    idx = ((d.dt.year - first.year) * 12 + (d.dt.month - first.month)).fillna(0)
    return np.clip(idx.to_numpy(dtype="int64"), 0, len(months) - 1)


def customer_codes(customers: pd.Index, frame: pd.DataFrame) -> np.ndarray:
    """The position of each record's customer in ``customers`` (-1 when absent), kept on the frame as
    ``_code`` so that later steps do not look it up again."""
    if "_code" not in frame.columns:
        frame["_code"] = customers.get_indexer(frame["customer_id"]) if len(frame) else np.zeros(0, dtype="int64")
    return frame["_code"].to_numpy(dtype="int64")


def monthly_cents(
    customers: pd.Index, start: np.ndarray, records: Records, n_months: int
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, int]]:
    """Per component a (customers x months) int64 array of cents: the sum of the month's records, rounded
    once. Records of customers not in ``customers`` or of months before the customer's first held month
    (``start``) are left out and counted. Returns (cents, held mask, counts)."""
    n = len(customers)
    held = np.arange(n_months)[None, :] >= start[:, None]
    out = {p: np.zeros((n, n_months), dtype="int64") for p in PARTS}
    counts = {"records_not_in_c360": 0, "records_before_onboarding": 0}
    for frame, parts in records.feeds():
        if frame.empty:
            continue
        code = customer_codes(customers, frame)
        month = frame["_month"].to_numpy(dtype="int64")
        ok = code >= 0
        counts["records_not_in_c360"] += int((~ok).sum())
        ok_held = ok.copy()
        ok_held[ok] = month[ok] >= start[code[ok]]
        counts["records_before_onboarding"] += int((ok & ~ok_held).sum())
        flat = code[ok_held] * n_months + month[ok_held]
        for p in parts:
            sums = np.bincount(flat, weights=frame[p].to_numpy(dtype="float64")[ok_held], minlength=n * n_months)
            out[p] = cents(sums).reshape(n, n_months)
    return out, held, counts
