"""Behavioural scorecard characteristics and the development sample, from the month-end loan performance
history (staged: customer ids are tokens).

Unit: a **customer at an observation month-end** ``m``. Population: customers with at least one loan open at
``m`` (status N or O) and none more than 30 days past due at ``m`` (a customer already in serious arrears is
not scored for default: it has defaulted or is about to). Target (``bad`` = 1): any of the customer's loans
more than 90 days past due at any month-end in ``(m, m + 12]``. Exclusions, stated: observation months
without 12 following month-ends in the history (the outcome is not known yet) and the first 12 month-ends of
the history (the 12-month characteristics would be cut short there, unlike at scoring time); loans settled or
written off at ``m``. A loan that settles inside the window without going 90+ days past due counts as good.

Characteristics at ``m`` (all computed from month-ends up to ``m`` only, vectorised over a loan x month
matrix):

- ``max_dpd_now``: the worst days past due over the customer's loans at ``m``;
- ``max_dpd_6m``, ``max_dpd_12m``: the worst over the last 6 and 12 month-ends;
- ``months_in_arrears_12m``: month-ends in the last 12 with any loan past due;
- ``n_loans``: loans open at ``m``; ``balance``: their total balance;
- ``balance_change_12m``: total balance at ``m`` over that 12 month-ends earlier, for loans open then
  (amortisation pace; missing when there was no balance then);
- ``secured_share``: share of the balance in housing loans (``RHL``) or fixed-asset loans (``CFA``);
- customer attributes from the staged customer master: for individuals ``annual_income``, ``age_band``,
  ``occupation``, ``education``, ``marital_status``; for corporates ``enterprise_size``, ``industry``,
  ``registered_capital``, ``employees``.

Segments: ``retail`` (customers in the individual master) and ``corporate`` (in the corporate master).

Size: above :data:`DEV_SAMPLE_CUSTOMERS` customers in the history, the development sample draws whole
customers at random (by a hash of their token, so every run draws the same ones) down to that number; their
customer-months are the sample. Scoring always covers every customer.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from crm.zones import partitions

BEHAVIOUR = [
    "max_dpd_now",
    "max_dpd_6m",
    "max_dpd_12m",
    "months_in_arrears_12m",
    "n_loans",
    "balance",
    "balance_change_12m",
    "secured_share",
]
RETAIL = ["annual_income", "age_band", "occupation", "education", "marital_status"]
CORPORATE = ["enterprise_size", "industry", "registered_capital", "employees"]
CATEGORICAL = ["age_band", "occupation", "education", "marital_status", "enterprise_size", "industry"]
FEATURES = {"retail": BEHAVIOUR + RETAIL, "corporate": BEHAVIOUR + CORPORATE}
# the bad rate rises with past arrears: bins must follow (optbinning monotonic trends)
MONOTONIC = {
    "max_dpd_now": "ascending",
    "max_dpd_6m": "ascending",
    "max_dpd_12m": "ascending",
    "months_in_arrears_12m": "ascending",
}
OUTCOME_MONTHS = 12


def segment_features(segment: str, columns) -> list[str]:
    """The characteristics of ``segment`` (:data:`FEATURES`) that are among ``columns``, in order."""
    present = set(columns)
    return [f for f in FEATURES[segment] if f in present]


def binning_options(features: list[str]) -> dict:
    """The binning of ``features`` for the scorecard (``ScorecardConfig`` keyword arguments): ``monotonic``
    trends (:data:`MONOTONIC`) and ``categorical`` characteristics (:data:`CATEGORICAL`) among them."""
    return {
        "monotonic": {k: v for k, v in MONOTONIC.items() if k in features},
        "categorical": [c for c in CATEGORICAL if c in features],
    }


BAD_DPD = 90
POPULATION_MAX_DPD = 30


# at most this many customers in a development sample: a 1,000,000-customer bank has 4.2 M customer-months in
# its population, far more than eleven binned characteristics need, and building them all took 10 GiB
DEV_SAMPLE_CUSTOMERS = 250_000
_PERF_COLUMNS = ["snapshot_date", "loan_id", "customer_id", "product_code", "balance", "overdue_days", "status"]
_HASH_BUCKETS = 1_000_000


def _perf_files(staged: Path) -> list[str]:
    files = partitions(staged, "loan_performance")
    if not files:
        raise FileNotFoundError(f"no staged loan_performance partitions under {staged}")
    return [str(f) for f in files]


def _where(since: dt.date | None, until: dt.date | None, share: float) -> tuple[str, list]:
    cond, params = ["TRUE"], []
    if since is not None:
        cond.append("snapshot_date > ?")
        params.append(since)
    if until is not None:
        cond.append("snapshot_date <= ?")
        params.append(until)
    if share < 1:  # whole customers, by a hash of their token (keyed, so the draw is uniform)
        cond.append(f"hash(customer_id) % {_HASH_BUCKETS} < {max(1, round(share * _HASH_BUCKETS))}")
    return " AND ".join(cond), params


def load_performance(
    staged: Path, *, since: dt.date | None = None, until: dt.date | None = None, share: float = 1.0
) -> pd.DataFrame:
    """The month-end snapshots in the staged loan performance partitions, one row per (month-end, loan); a
    restated month's latest partition wins. Only month-ends in ``(since, until]`` when given, and only a
    ``share`` of the customers (all of a drawn customer's rows) when below 1. Read by DuckDB from the Parquet
    files, filtered there: only the rows asked for reach pandas."""
    files = _perf_files(staged)
    where, params = _where(since, until, share)
    cols = ", ".join(c for c in _PERF_COLUMNS if c != "snapshot_date")
    sql = (
        f"SELECT CAST(snapshot_date AS TIMESTAMP) AS snapshot_date, {cols} "
        f"FROM read_parquet(?, union_by_name = true) WHERE {where}"
    )
    con = _connect()
    try:
        table = con.sql(sql, params=[files, *params]).to_arrow_table()  # files in order, rows in file order
    finally:
        con.close()
    frame = table.to_pandas()  # repeated ids become shared Python strings (pyarrow deduplicates them)
    del table
    frame["snapshot_date"] = frame["snapshot_date"].astype("datetime64[ns]")
    return frame.drop_duplicates(["snapshot_date", "loan_id"], keep="last")


def _connect():
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = true")
    return con


def customer_count(staged: Path, until: dt.date | None = None) -> int:
    """Distinct customers in the loan performance history up to ``until`` (DuckDB, from the files)."""
    where, params = _where(None, until, 1.0)
    con = _connect()
    try:
        return int(
            con.execute(
                f"SELECT count(DISTINCT customer_id) FROM read_parquet(?, union_by_name = true) WHERE {where}",
                [_perf_files(staged), *params],
            ).fetchone()[0]
        )
    finally:
        con.close()


def _matrices(perf: pd.DataFrame):
    """Loan x month matrices (month-ends sorted) of days past due, balance and open status, with each
    loan's customer and product (from its latest month-end). One hash pass per key (``factorize``)."""
    li, loans = pd.factorize(perf["loan_id"].to_numpy(), sort=False)
    mcodes, mvals = pd.factorize(perf["snapshot_date"].to_numpy(), sort=True)
    months, mi = np.asarray(mvals), mcodes
    shape = (len(loans), len(months))
    dpd = np.full(shape, np.nan)
    bal = np.full(shape, np.nan)
    open_ = np.zeros(shape, dtype=bool)
    dpd[li, mi] = perf["overdue_days"].to_numpy(dtype=float)
    bal[li, mi] = perf["balance"].to_numpy(dtype=float)
    open_[li, mi] = perf["status"].isin(["N", "O"]).to_numpy()
    order = np.argsort(perf["snapshot_date"].to_numpy(), kind="stable")
    last = np.empty(len(loans), dtype=np.int64)
    last[li[order]] = order  # assignment in date order: each loan keeps its latest row
    owner = perf["customer_id"].to_numpy()[last]
    product = perf["product_code"].to_numpy()[last]
    return months, np.asarray(loans), owner, product, dpd, bal, open_


def _rolling_max(a: np.ndarray, window: int) -> np.ndarray:
    """Max over the last ``window`` columns (inclusive), NaN ignored; NaN where all are NaN."""
    out = np.full(a.shape, np.nan)
    filled = np.where(np.isnan(a), -np.inf, a)
    for k in range(window):  # a loop over a dozen months, not over rows
        shifted = np.full(a.shape, -np.inf)
        shifted[:, k:] = filled[:, : a.shape[1] - k] if k else filled
        out = np.fmax(out, np.where(np.isinf(shifted), np.nan, shifted))
    return out


def loan_month_features(perf: pd.DataFrame, at: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per (loan, month-end): days past due now, worst over 6 and 12 month-ends, arrears months over 12,
    balance now and 12 month-ends earlier, open flag, and the outcome (worst over the next 12), long form;
    only the month-end ``at`` when given (scoring needs one month, training all of them)."""
    months, loans, owner, product, dpd, bal, open_ = _matrices(perf)
    n_months = len(months)
    max6, max12 = _rolling_max(dpd, 6), _rolling_max(dpd, 12)
    arrears = np.nan_to_num(dpd) > 0
    cum = np.concatenate([np.zeros((len(loans), 1)), np.cumsum(arrears, axis=1)], axis=1)
    lo = np.maximum(np.arange(n_months) - 11, 0)
    in_arrears_12 = cum[:, np.arange(n_months) + 1] - cum[:, lo]
    bal_12 = np.full(bal.shape, np.nan)
    bal_12[:, 12:] = bal[:, :-12] if n_months > 12 else bal_12[:, 12:]
    # outcome: worst days past due over the next 12 month-ends; known only with 12 month-ends to come
    future = np.full(dpd.shape, np.nan)
    rev = _rolling_max(dpd[:, ::-1], OUTCOME_MONTHS)[:, ::-1]  # worst over [m, m+11]
    future[:, :-1] = rev[:, 1:]  # worst over (m, m+12]
    known = np.zeros(n_months, dtype=bool)
    known[: max(n_months - OUTCOME_MONTHS, 0)] = True
    if at is not None:
        keep = np.zeros(n_months, dtype=bool)
        keep[months == np.datetime64(at, "ns")] = True
        li, mi = np.nonzero(open_ & keep)
    else:
        li, mi = np.nonzero(open_)
    return pd.DataFrame(
        {
            "loan_id": loans[li],
            "customer_id": owner[li],
            "product_code": product[li],
            "month_end": months[mi],
            "dpd": dpd[li, mi],
            "max_dpd_6m": max6[li, mi],
            "max_dpd_12m": max12[li, mi],
            "arrears_months_12m": in_arrears_12[li, mi],
            "balance": bal[li, mi],
            "balance_12m_ago": bal_12[li, mi],
            "future_max_dpd": future[li, mi],
            "outcome_known": known[mi],
            "lookback_full": mi >= 12,
        }
    )


def customer_month_features(loan_months: pd.DataFrame) -> pd.DataFrame:
    """Per (customer, month-end): the behavioural characteristics and the outcome."""
    lm = loan_months.assign(
        secured_balance=np.where(loan_months["product_code"].isin(["RHL", "CFA"]), loan_months["balance"], 0.0),
        arrears_now=(loan_months["dpd"].fillna(0) > 0),
    )
    g = lm.groupby(["customer_id", "month_end"], sort=False)
    out = g.agg(
        max_dpd_now=("dpd", "max"),
        max_dpd_6m=("max_dpd_6m", "max"),
        max_dpd_12m=("max_dpd_12m", "max"),
        months_in_arrears_12m=("arrears_months_12m", "max"),
        n_loans=("loan_id", "size"),
        balance=("balance", "sum"),
        balance_12m_ago=("balance_12m_ago", "sum"),
        secured=("secured_balance", "sum"),
        future_max_dpd=("future_max_dpd", "max"),
        outcome_known=("outcome_known", "all"),
        lookback_full=("lookback_full", "all"),
    ).reset_index()
    out["balance_change_12m"] = np.where(
        out["balance_12m_ago"] > 0, out["balance"] / out["balance_12m_ago"].where(out["balance_12m_ago"] > 0), np.nan
    )
    out["secured_share"] = np.where(out["balance"] > 0, out["secured"] / out["balance"].where(out["balance"] > 0), 0.0)
    out["bad"] = (out["future_max_dpd"] > BAD_DPD).astype("int8")
    return out.drop(columns=["balance_12m_ago", "secured"])


def attributes(staged: Path, day: dt.date | None = None) -> dict[str, pd.DataFrame]:
    """The customer masters' attributes (latest staged partition on or before ``day``), by segment."""
    out = {}
    for segment, extract, cols in (("retail", "customers", RETAIL), ("corporate", "corporates", CORPORATE)):
        files = partitions(staged, extract, until=day)
        if not files:
            out[segment] = pd.DataFrame(columns=["customer_id", *cols])
            continue
        out[segment] = pd.read_parquet(files[-1], columns=["customer_id", *cols]).drop_duplicates("customer_id")
    return out


def with_segments(features: pd.DataFrame, attrs: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Split customer-month rows by segment and join the segment's attributes."""
    out = {}
    for segment, frame in attrs.items():
        joined = features.merge(frame, on="customer_id", how="inner")
        for c in CATEGORICAL:
            if c in joined:
                joined[c] = joined[c].astype(str)
        out[segment] = joined
    return out


def development_sample(
    staged: Path, as_of: dt.date | None = None, max_customers: int | None = DEV_SAMPLE_CUSTOMERS
) -> dict[str, pd.DataFrame]:
    """Segment -> rows of the development sample (population and outcome window as stated above), from the
    history up to ``as_of`` (all of it when None): a model trained as of a month-end sees nothing later. Above
    ``max_customers`` customers (None: no limit), a random share of the customers is drawn, whole customers by
    a hash of their token, the same draw on every run; ``attrs["customers"]`` and ``attrs["drawn_share"]``
    of each frame say how many customers the history has and which share was drawn."""
    customers = customer_count(staged, as_of)
    share = 1.0 if max_customers is None or customers <= max_customers else max_customers / customers
    perf = load_performance(staged, until=as_of, share=share)
    features = customer_month_features(loan_month_features(perf))
    del perf
    population = features[
        features["outcome_known"]
        & features["lookback_full"]
        & (features["max_dpd_now"].fillna(0) <= POPULATION_MAX_DPD)
    ]
    out = with_segments(population, attributes(staged, as_of))
    for frame in out.values():
        frame.attrs.update(customers=customers, drawn_share=share)
    return out


def scoring_population(staged: Path, month_end: dt.date) -> dict[str, pd.DataFrame]:
    """Segment -> customers to score at ``month_end``: every customer with an open loan then, whatever its
    arrears (a customer past 30 days gets a score too; it is outside the development population, which the
    model card states)."""
    end = pd.Timestamp(month_end)
    # 13 month-ends are enough: 12 for the look-back windows and the balance 12 month-ends earlier
    perf = load_performance(staged, since=(end - pd.DateOffset(months=13)).date(), until=month_end)
    at = customer_month_features(loan_month_features(perf, at=end))
    return with_segments(at, attributes(staged, month_end))
