"""Churn risk: the label, the features as of an observation month end, the out-of-time validation and the
retention list. Plain pandas/numpy; every window, floor and threshold in ``crm/playbook/config.toml``
(``[churn]``, ``[retention.actions]``). The model itself is the credit scorecard's machinery
(:func:`crm.scoring.scorecard.fit_scorecard`: optimal binning, logistic regression, points, reason codes),
stored and approved like the scorecard (:mod:`crm.scoring.models`, segment ``churn``).

**History** (:class:`ChurnHistory`): one row per customer and month end of the month-end extracts (the first
month-end file carries 24 months of history): deposit balance (deposit_balances), loan balance
(loan_performance, loans not settled or written off) and transactions (txn_monthly counts); a month end the
extracts cover where a customer has no row counts as zero (nothing held, no activity). Besides: product
holdings (open and close dates), service requests (complaints, category ``CMPL``), surveys (CSAT, NPS),
coverage (lead-manager rows, role ``RM``, from and to dates), the customer master (segment, onboarding date)
and, where the run's daily snapshots give it, the customer status at month ends.

**Churned at a month end** ``t``: the customer's status is closed or dormant (``[churn] churned_statuses``, when
the status of ``t`` is known), or the deposit plus loan balance is below ``[churn] balance_floor``, or there was
no transaction in the ``[churn] inactive_months`` month ends up to ``t`` and no live loan (a borrower repaying
from elsewhere is not dormant).

**Label** at observation month end ``m``: the customer is active at ``m`` (not churned, some balance) and is
churned at some month end in ``(m, m + horizon]`` (``[churn] horizon_months``, 6). Observation months need the
``horizon`` following month ends in the history (else the outcome is unknown) and ``[churn] lookback_months``
before them (the 6-month features would be cut short).

**Features at m** (records dated after ``m`` never enter; see :func:`features_at`):
``deposit_change_3m``/``_6m`` and ``loan_change_3m``/``_6m`` (balance at m over the balance 3/6 month ends
earlier, minus 1; missing when there was none then), ``deposit_balance``, ``txn_3m`` (transactions in the
last 3 months), ``txn_change_3m`` (the last 3 months over the 3 before, minus 1), ``closures_6m`` (product
holdings closed in the last 6 months), ``complaints_6m`` (complaints opened in the last 6 months; missing when
the service-request extract does not cover the whole window: the delta extracts start with the run),
``csat_latest`` and ``nps_latest`` (the latest answer in the last 12 months; missing when none, its own bin),
``manager_changes_6m``/``_12m`` (lead-manager assignments starting in the window other than the customer's
first; missing when the coverage extract is absent), ``tenure_months`` and ``segment``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from crm.bank_calendar import month_end, months_before

FEATURES = [
    "deposit_change_3m",
    "deposit_change_6m",
    "loan_change_3m",
    "loan_change_6m",
    "deposit_balance",
    "txn_3m",
    "txn_change_3m",
    "closures_6m",
    "complaints_6m",
    "csat_latest",
    "nps_latest",
    "manager_changes_6m",
    "manager_changes_12m",
    "tenure_months",
    "segment",
]
CATEGORICAL = ["segment"]
# churn rises as balances and activity fall, with complaints, closures and manager changes, and falls with
# satisfaction: optbinning monotonic trends (event = churn)
MONOTONIC = {
    "deposit_change_3m": "descending",
    "deposit_change_6m": "descending",
    "txn_3m": "descending",
    "closures_6m": "ascending",
    "complaints_6m": "ascending",
    "csat_latest": "descending",
    "manager_changes_12m": "ascending",
}
TARGET = "churn"
# the churn model's versions live in the scorecard registry (crm.scoring.models) as the segment "churn":
# models/scorecard/churn/<version>, listed and approved by `crm scorecard versions|approve --segment churn`
MODEL_SEGMENT = "churn"
LEAD_ROLE = "RM"
COMPLAINT = "CMPL"


@dataclass
class ChurnHistory:
    """What the churn features and labels read (see the module docstring). ``monthly``: customer_id,
    month_end, deposit_balance, loan_balance, txn_count (one row per customer and month end; absent = 0);
    ``months``: the month ends the month-end extracts cover (sorted); ``customers``: customer_id, segment,
    onboarding_date; ``status``: customer_id, month_end, status (month ends with a known status); ``holdings``:
    customer_id, open_date, close_date; ``requests``: customer_id, opened_time, category; ``requests_since``:
    the first day the service-request extract covers (None: not at all); ``surveys``: customer_id,
    response_date, csat, nps; ``coverage``: customer_id, staff_id, role, from_date, to_date (None: no coverage
    extract)."""

    monthly: pd.DataFrame
    months: list[dt.date]
    customers: pd.DataFrame
    status: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["customer_id", "month_end", "status"]))
    holdings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["customer_id", "close_date"]))
    requests: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["customer_id", "opened_time", "category"])
    )
    requests_since: dt.date | None = None
    surveys: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["customer_id", "response_date", "csat", "nps"])
    )
    coverage: pd.DataFrame | None = None


class _Grid:
    """The history as customer x month matrices (customers in ``ids`` order, months in ``months`` order)."""

    def __init__(self, history: ChurnHistory):
        self.months = [month_end(m) for m in history.months]
        self.ids = pd.Index(sorted(set(history.customers["customer_id"]) | set(history.monthly["customer_id"])))
        n, k = len(self.ids), len(self.months)
        pos = {m: i for i, m in enumerate(self.months)}
        mo = history.monthly
        col = pd.to_datetime(mo["month_end"]).dt.date.map(pos)
        keep = col.notna().to_numpy()
        r = self.ids.get_indexer(mo["customer_id"])[keep]
        c = col[keep].astype(int).to_numpy()
        self.dep, self.loan, self.txn = (np.zeros((n, k)) for _ in range(3))
        for target, name in ((self.dep, "deposit_balance"), (self.loan, "loan_balance"), (self.txn, "txn_count")):
            np.add.at(target, (r, c), pd.to_numeric(mo[name], errors="coerce").fillna(0).to_numpy()[keep])


def _churned(grid: _Grid, history: ChurnHistory, config: dict[str, Any]) -> np.ndarray:
    """Customer x month: churned at that month end (module docstring)."""
    c = config["churn"]
    total = grid.dep + grid.loan
    churned = total < float(c["balance_floor"])
    k = int(c["inactive_months"])
    # transactions in the k month ends up to t (a window cut by the history's start is not judged)
    csum = np.cumsum(np.pad(grid.txn, ((0, 0), (1, 0))), axis=1)
    recent = np.full(grid.txn.shape, np.nan)
    if grid.txn.shape[1] >= k:
        recent[:, k - 1 :] = csum[:, k:] - csum[:, : grid.txn.shape[1] - k + 1]
    churned |= (recent == 0) & (grid.loan <= 0)
    st = history.status
    if len(st):
        st = st[st["status"].isin(list(c["churned_statuses"]))]
        pos = {m: i for i, m in enumerate(grid.months)}
        col = pd.to_datetime(st["month_end"]).dt.date.map(pos)
        row = grid.ids.get_indexer(st["customer_id"])
        ok = col.notna().to_numpy() & (row >= 0)
        churned[row[ok], col[ok].astype(int).to_numpy()] = True
    return churned


def _change(mat: np.ndarray, j: int, back: int) -> np.ndarray:
    """mat[:, j] / mat[:, j - back] - 1; missing without a positive value then."""
    if j - back < 0:
        return np.full(mat.shape[0], np.nan)
    before = mat[:, j - back]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(before > 0, mat[:, j] / np.where(before > 0, before, 1.0) - 1.0, np.nan)


def _count_in_window(ids: pd.Index, frame: pd.DataFrame, column: str, start: dt.date, end: dt.date) -> np.ndarray:
    """Per customer of ``ids``: rows of ``frame`` whose ``column`` date lies in ``(start, end]``."""
    if frame is None or not len(frame):
        return np.zeros(len(ids))
    d = pd.to_datetime(frame[column]).dt.normalize()
    sel = (d > pd.Timestamp(start)) & (d <= pd.Timestamp(end))
    counts = frame.loc[sel.to_numpy(), "customer_id"].value_counts()
    return counts.reindex(ids, fill_value=0).to_numpy(dtype=float)


def _latest_answer(ids: pd.Index, surveys: pd.DataFrame, column: str, start: dt.date, end: dt.date) -> np.ndarray:
    """Per customer: the latest non-missing ``column`` answered in ``(start, end]`` (NaN when none)."""
    if surveys is None or not len(surveys) or column not in surveys.columns:
        return np.full(len(ids), np.nan)
    s = surveys[["customer_id", "response_date", column]].dropna()
    d = pd.to_datetime(s["response_date"]).dt.normalize()
    s = s[((d > pd.Timestamp(start)) & (d <= pd.Timestamp(end))).to_numpy()]
    s = s.assign(_d=pd.to_datetime(s["response_date"])).sort_values(["customer_id", "_d"], kind="stable")
    last = s.drop_duplicates("customer_id", keep="last").set_index("customer_id")[column]
    return pd.to_numeric(last.reindex(ids), errors="coerce").to_numpy(dtype=float)


def _manager_changes(ids: pd.Index, coverage: pd.DataFrame | None, start: dt.date, end: dt.date) -> np.ndarray:
    """Per customer: lead-manager assignments starting in ``(start, end]`` other than the customer's first one
    (assignments starting after ``end`` are not seen); NaN for all without a coverage extract."""
    if coverage is None:
        return np.full(len(ids), np.nan)
    cov = coverage[coverage["role"] == LEAD_ROLE]
    f = pd.to_datetime(cov["from_date"]).dt.normalize()
    cov = cov.assign(_f=f)[(f <= pd.Timestamp(end)).to_numpy()]
    first = cov.groupby("customer_id")["_f"].transform("min")
    moves = cov[(cov["_f"] > first) & (cov["_f"] > pd.Timestamp(start))]
    moves = moves.drop_duplicates(["customer_id", "_f", "staff_id"])
    return moves["customer_id"].value_counts().reindex(ids, fill_value=0).to_numpy(dtype=float)


def features_at(history: ChurnHistory, m: dt.date, grid: _Grid | None = None) -> pd.DataFrame:
    """The features (:data:`FEATURES`) of every customer of the history at month end ``m`` (one row per
    customer, ``customer_id`` first). Only month ends up to ``m`` and records dated up to ``m`` are read."""
    grid = grid or _Grid(history)
    m = month_end(m)
    if m not in grid.months:
        raise ValueError(f"{m} is not a month end of the history ({grid.months[0]} .. {grid.months[-1]})")
    j = grid.months.index(m)
    ids = grid.ids
    six, twelve = month_end(months_before(m, 6)), month_end(months_before(m, 12))
    txn3 = grid.txn[:, max(0, j - 2) : j + 1].sum(axis=1)
    prior3 = grid.txn[:, j - 5 : j - 2].sum(axis=1) if j >= 5 else np.full(len(ids), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        txn_change = np.where(prior3 > 0, txn3 / np.where(prior3 > 0, prior3, 1.0) - 1.0, np.nan)
    covered = history.requests_since is not None and history.requests_since <= six + dt.timedelta(days=1)
    complaints = (
        _count_in_window(ids, history.requests[history.requests["category"] == COMPLAINT], "opened_time", six, m)
        if covered
        else np.full(len(ids), np.nan)
    )
    cust = history.customers.drop_duplicates("customer_id").set_index("customer_id").reindex(ids)
    onboard = pd.to_datetime(cust["onboarding_date"])
    tenure = ((pd.Timestamp(m) - onboard).dt.days / 30.4375).to_numpy(dtype=float)
    closed = history.holdings.dropna(subset=["close_date"]) if len(history.holdings) else history.holdings
    return pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "deposit_change_3m": _change(grid.dep, j, 3),
            "deposit_change_6m": _change(grid.dep, j, 6),
            "loan_change_3m": _change(grid.loan, j, 3),
            "loan_change_6m": _change(grid.loan, j, 6),
            "deposit_balance": grid.dep[:, j],
            "txn_3m": txn3,
            "txn_change_3m": txn_change,
            "closures_6m": _count_in_window(ids, closed, "close_date", six, m),
            "complaints_6m": complaints,
            "csat_latest": _latest_answer(ids, history.surveys, "csat", twelve, m),
            "nps_latest": _latest_answer(ids, history.surveys, "nps", twelve, m),
            "manager_changes_6m": _manager_changes(ids, history.coverage, six, m),
            "manager_changes_12m": _manager_changes(ids, history.coverage, twelve, m),
            "tenure_months": np.floor(tenure),
            "segment": cust["segment"].astype(object).where(cust["segment"].notna(), None).to_numpy(),
        }
    )


def observation_months(history: ChurnHistory, config: dict[str, Any]) -> list[dt.date]:
    """The month ends with ``lookback_months`` before them and ``horizon_months`` after them in the history."""
    c = config["churn"]
    months = [month_end(x) for x in history.months]
    lo, hi = int(c["lookback_months"]), int(c["horizon_months"])
    return months[lo : len(months) - hi] if len(months) > lo + hi else []


def labelled_sample(history: ChurnHistory, config: dict[str, Any], months: list[dt.date] | None = None) -> pd.DataFrame:
    """Customer x observation month rows: ``month_end``, ``customer_id``, the features and ``churn`` (1 =
    churned within the horizon), for the customers active at the month end (not churned, some balance).
    ``months``: the observation months (default :func:`observation_months`); a month without its full
    horizon in the history is refused."""
    grid = _Grid(history)
    churned = _churned(grid, history, config)
    horizon = int(config["churn"]["horizon_months"])
    months = observation_months(history, config) if months is None else [month_end(x) for x in months]
    frames = []
    for m in months:
        j = grid.months.index(m)
        if j + horizon >= len(grid.months):
            raise ValueError(f"{m}: the history lacks the {horizon} month ends after it (outcome unknown)")
        active = ~churned[:, j] & ((grid.dep[:, j] + grid.loan[:, j]) > 0)
        label = churned[:, j + 1 : j + horizon + 1].any(axis=1)
        f = features_at(history, m, grid)
        f.insert(0, "month_end", m)
        f[TARGET] = label.astype(int)
        frames.append(f[active])
    cols = ["month_end", "customer_id", *FEATURES, TARGET]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def _recent(history: ChurnHistory, m: dt.date, months: int) -> ChurnHistory:
    """The history cut to the ``months`` month ends up to ``m`` (what the features of ``m`` read) and none after."""
    keep = [x for x in history.months if month_end(x) <= m][-months:]
    mo = history.monthly
    dates = pd.to_datetime(mo["month_end"]).dt.date
    return replace(history, monthly=mo[dates.isin(set(keep)).to_numpy()], months=keep)


def scoring_rows(history: ChurnHistory, m: dt.date, config: dict[str, Any]) -> pd.DataFrame:
    """The customers to score at ``m`` (active: not churned, some balance) with their features. Only the month
    ends the features and the churn rules of ``m`` read are kept in memory (the lookback and one more)."""
    m = month_end(m)
    c = config["churn"]
    history = _recent(history, m, max(int(c["lookback_months"]), int(c["inactive_months"])) + 1)
    grid = _Grid(history)
    j = grid.months.index(month_end(m))
    churned = _churned(grid, history, config)
    active = ~churned[:, j] & ((grid.dep[:, j] + grid.loan[:, j]) > 0)
    return features_at(history, m, grid)[active].reset_index(drop=True)


def _drawn(ids: pd.Series, max_customers: int) -> set | None:
    """The customers drawn by a hash of their token down to ``max_customers`` (None: all of them)."""
    ids = pd.Series(ids).drop_duplicates()
    if len(ids) <= max_customers:
        return None
    h = pd.util.hash_pandas_object(ids, index=False).to_numpy() % np.uint64(1_000_000)
    return set(ids[h < np.uint64(round(1_000_000 * max_customers / len(ids)))])


def draw_history(history: ChurnHistory, max_customers: int) -> ChurnHistory:
    """The history of at most ``max_customers`` customers (the same draw as :func:`draw_customers`), so a large
    bank's development sample is built for the drawn customers only."""
    keep = _drawn(history.monthly["customer_id"], max_customers)
    if keep is None:
        return history
    return replace(
        history,
        monthly=history.monthly[history.monthly["customer_id"].isin(keep)],
        customers=history.customers[history.customers["customer_id"].isin(keep)],
    )


def draw_customers(sample: pd.DataFrame, max_customers: int) -> pd.DataFrame:
    """All the rows of at most ``max_customers`` customers, drawn by a hash of their token (the same every
    run); the whole sample when it has fewer."""
    keep = _drawn(sample["customer_id"], max_customers)
    return sample if keep is None else sample[sample["customer_id"].isin(keep)]


def time_split(sample: pd.DataFrame, config: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Out-of-time split: the last ``[churn.validation] test_months`` observation months are the test; the
    training months end ``horizon_months`` before the first test month, so every training label was known
    when the test period starts. Returns (train, test, description)."""
    c = config["churn"]
    months = sorted(sample["month_end"].unique())
    n_test = int(c["validation"]["test_months"])
    if len(months) <= n_test:
        raise ValueError(f"{len(months)} observation months: too few for {n_test} test months")
    test_months = months[-n_test:]
    cut = month_end(months_before(test_months[0], int(c["horizon_months"])))
    train_months = [m for m in months if m <= cut]
    if not train_months:
        raise ValueError(f"no training month on or before {cut} (first test month {test_months[0]})")
    train = sample[sample["month_end"].isin(train_months)]
    test = sample[sample["month_end"].isin(test_months)]
    info = {
        "train_months": len(train_months),
        "train_first": str(train_months[0]),
        "train_last": str(train_months[-1]),
        "test_months": len(test_months),
        "test_first": str(test_months[0]),
        "test_last": str(test_months[-1]),
        "train_rows": len(train),
        "test_rows": len(test),
        "train_customers": int(train["customer_id"].nunique()),
        "test_customers": int(test["customer_id"].nunique()),
        "train_churn_rate": float(train[TARGET].mean()) if len(train) else float("nan"),
        "test_churn_rate": float(test[TARGET].mean()) if len(test) else float("nan"),
    }
    return train, test, info


def scorecard_options(features: list[str]) -> dict:
    """``ScorecardConfig`` keyword arguments for the churn model's characteristics."""
    return {
        "monotonic": {k: v for k, v in MONOTONIC.items() if k in features},
        "categorical": [c for c in CATEGORICAL if c in features],
    }


def bands(p: np.ndarray | pd.Series, config: dict[str, Any]) -> np.ndarray:
    """Churn band per probability: the first ``[churn.bands]`` band whose upper bound is >= p."""
    spec = config["churn"]["bands"]
    names = np.array(list(spec["names"]), dtype=object)
    bounds = np.asarray(spec["upper"], dtype=float)
    idx = np.searchsorted(bounds, np.clip(np.asarray(p, dtype=float), 0.0, 1.0), side="left")
    return names[np.minimum(idx, len(names) - 1)]


def calibration_by_band(y: np.ndarray, p: np.ndarray, config: dict[str, Any]) -> pd.DataFrame:
    """Observed against predicted churn by band (rows, predicted mean, observed rate)."""
    frame = pd.DataFrame({"band": bands(p, config), "p": np.asarray(p, float), "y": np.asarray(y, float)})
    order = list(config["churn"]["bands"]["names"])
    out = frame.groupby("band").agg(rows=("p", "size"), predicted=("p", "mean"), observed=("y", "mean"))
    return out.reindex([b for b in order if b in out.index]).reset_index()


def evaluate(y: np.ndarray, p: np.ndarray, config: dict[str, Any]) -> dict:
    """AUC, KS, Brier score, the calibration by band and by decile of ``p`` against ``y``."""
    from crm.scoring.scorecard_metrics import auc_score, calibration_table, ks_statistic

    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    return {
        "auc": auc_score(y, p),
        "ks": ks_statistic(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "mean_predicted": float(p.mean()),
        "observed_rate": float(y.mean()),
        "by_band": calibration_by_band(y, p, config),
        "by_decile": calibration_table(y, p),
    }


def baseline_flag(sample: pd.DataFrame, config: dict[str, Any]) -> np.ndarray:
    """The naive rule: the deposit balance fell by ``[churn.validation] baseline_drop`` or more in 3 months."""
    drop = float(config["churn"]["validation"]["baseline_drop"])
    return (pd.to_numeric(sample["deposit_change_3m"], errors="coerce") <= -drop).to_numpy().astype(float)


def baseline_metrics(test: pd.DataFrame, config: dict[str, Any]) -> dict:
    """The naive rule on the test rows: AUC of the flag, its churn rate when flagged and not, its Brier
    score with the flag's training-free rates (the observed rate of each side), recall and precision."""
    from crm.scoring.scorecard_metrics import auc_score

    flag = baseline_flag(test, config)
    y = test[TARGET].to_numpy(dtype=float)
    rate_on = float(y[flag == 1].mean()) if (flag == 1).any() else 0.0
    rate_off = float(y[flag == 0].mean()) if (flag == 0).any() else 0.0
    p = np.where(flag == 1, rate_on, rate_off)
    return {
        "auc": auc_score(y, flag),
        "brier": float(np.mean((p - y) ** 2)),
        "flagged_share": float(flag.mean()),
        "recall": float(flag[y == 1].mean()) if (y == 1).any() else float("nan"),
        "precision": rate_on,
    }


def fit_churn_model(train: pd.DataFrame, config: dict[str, Any]):
    """The churn scorecard on the training rows (:func:`crm.scoring.scorecard.fit_scorecard`)."""
    from crm.scoring.scorecard import ScorecardConfig, fit_scorecard

    features = [f for f in FEATURES if f in train.columns]
    c = config["churn"]["model"]
    sc_config = ScorecardConfig(
        min_bin_size=float(c["min_bin_size"]),
        max_n_bins=int(c["max_n_bins"]),
        min_iv=float(c["min_iv"]),
        **scorecard_options(features),
    )
    return fit_scorecard(train[features + [TARGET]], TARGET, config=sc_config)


# --------------------------------------------------------------------------------------- scores and lists

SCORE_COLUMNS = [
    "month_end",
    "customer_id",
    "branch_id",
    "manager_id",
    "segment",
    "model_version",
    "churn_probability",
    "band",
    "reason_1",
    "reason_2",
    "reason_3",
    "reason_4",
    "contribution",
    "value_at_risk",
    "action",
    "at_risk",
]


def churn_scores(
    m: dt.date, rows: pd.DataFrame, scores: pd.DataFrame, value: pd.DataFrame, version: str, config: dict[str, Any]
) -> pd.DataFrame:
    """The ``churn_scores`` mart of month end ``m``: per scored customer (``rows``: customer_id and features;
    ``scores``: :meth:`Scorecard.score` of them, same order), the probability, band, reason codes, annualised
    contribution from ``value`` (customer_value: customer_id, contribution_annualised or contribution,
    branch_id, manager_id), value at risk = max(contribution, 0) x probability, the suggested action of the
    first reason (``[retention.actions]``, ``default`` otherwise) and ``at_risk`` (band among ``[churn]
    list_bands``). Customers without a customer_value row have no contribution (0) and no manager."""
    if not len(rows):  # typed empty frame
        floats = ("churn_probability", "contribution", "value_at_risk")
        return pd.DataFrame(
            {
                c: pd.Series(
                    dtype="datetime64[ns]"
                    if c == "month_end"
                    else "float64"
                    if c in floats
                    else "bool"
                    if c == "at_risk"
                    else object
                )
                for c in SCORE_COLUMNS
            }
        )
    contrib_col = "contribution_annualised" if "contribution_annualised" in value.columns else "contribution"
    v = value.drop_duplicates("customer_id").set_index("customer_id")
    ids = rows["customer_id"]
    contribution = pd.to_numeric(ids.map(v[contrib_col]) if contrib_col in v else 0.0, errors="coerce").fillna(0.0)
    p = scores["pd"].to_numpy(dtype=float)
    band = bands(p, config)
    actions = config["retention"]["actions"]
    reason_1 = scores["reason_1"].to_numpy(dtype=object)
    action = pd.Series(reason_1).map({k: v for k, v in actions.items() if k != "default"}).fillna(actions["default"])
    out = pd.DataFrame(
        {
            "month_end": m,
            "customer_id": ids.to_numpy(),
            "branch_id": ids.map(v["branch_id"]).to_numpy() if "branch_id" in v else None,
            "manager_id": ids.map(v["manager_id"]).to_numpy() if "manager_id" in v else None,
            "segment": rows["segment"].to_numpy(),
            "model_version": version,
            "churn_probability": np.round(p, 6),
            "band": band,
            **{f"reason_{i}": scores[f"reason_{i}"].to_numpy(dtype=object) for i in range(1, 5)},
            "contribution": np.round(contribution.to_numpy(dtype=float), 2),
            "value_at_risk": np.round(np.clip(contribution.to_numpy(dtype=float), 0, None) * p, 2),
            "action": action.to_numpy(dtype=object),
            "at_risk": np.isin(band, list(config["churn"]["list_bands"])),
        }
    )
    return out[SCORE_COLUMNS]


def retention_list(scores: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """Each manager's retention list: the at-risk customers with a manager, ranked within the manager by
    value at risk (largest first; ties by probability, then token), at most ``[churn] list_per_manager``
    each. Adds ``rank``."""
    at = scores[scores["at_risk"].astype(bool) & scores["manager_id"].notna()]
    at = at.sort_values(
        ["manager_id", "value_at_risk", "churn_probability", "customer_id"],
        ascending=[True, False, False, True],
        kind="stable",
    )
    at = at.assign(rank=at.groupby("manager_id").cumcount() + 1)
    return at[at["rank"] <= int(config["churn"]["list_per_manager"])].reset_index(drop=True)


OUTCOME_COLUMNS = [
    "month_end",
    "branch_id",
    "cohort",
    "active_then",
    "churned",
    "churn_rate",
    "listed",
    "stayed",
    "stayed_share",
]


def retention_outcomes(
    m: dt.date, listed_then: pd.DataFrame, scores_now: pd.DataFrame, scored_then: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per branch (and ``ALL``): of the customers scored at the earlier month end ``cohort`` (``scored_then``:
    churn_scores rows then), how many are no longer active now (not among ``scores_now``): the churn rate; of the
    customers on the managers' retention lists then (``listed_then``), how many stayed (still active now). The
    branch is the branch of the earlier month. Empty (typed) without an earlier list or scores."""
    frames = []
    now = set(scores_now["customer_id"]) if len(scores_now) else set()
    cohort = None
    for name, frame in (("active_then", scored_then), ("listed", listed_then)):
        if frame is None or not len(frame):
            continue
        cohort = frame["month_end"].iloc[0]
        f = frame[["customer_id", "branch_id"]].drop_duplicates("customer_id").assign(kind=name)
        f["gone"] = ~f["customer_id"].isin(now)
        frames.append(f)
    if not frames:  # typed, so that a first empty write creates the table with the right column types
        return pd.DataFrame(
            {
                "month_end": pd.Series(dtype="datetime64[ns]"),
                "branch_id": pd.Series(dtype=object),
                "cohort": pd.Series(dtype="datetime64[ns]"),
                **{c: pd.Series(dtype="int64") for c in ("active_then", "churned", "listed", "stayed")},
                **{c: pd.Series(dtype="float64") for c in ("churn_rate", "stayed_share")},
            }
        )[OUTCOME_COLUMNS]
    f = pd.concat(frames, ignore_index=True)
    f["branch_id"] = f["branch_id"].fillna("-")
    f = pd.concat([f, f.assign(branch_id="ALL")], ignore_index=True)
    g = f.groupby(["branch_id", "kind"]).agg(n=("customer_id", "size"), gone=("gone", "sum")).unstack("kind")
    out = pd.DataFrame(index=g.index)
    for kind in ("active_then", "listed"):
        n = g[("n", kind)] if ("n", kind) in g.columns else pd.Series(0, index=g.index)
        gone = g[("gone", kind)] if ("gone", kind) in g.columns else pd.Series(0, index=g.index)
        out[kind] = n.fillna(0).astype(int)
        out[f"{kind}_gone"] = gone.fillna(0).astype(int)
    out["churned"] = out.pop("active_then_gone")
    out["stayed"] = out["listed"] - out.pop("listed_gone")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["churn_rate"] = np.where(out["active_then"] > 0, out["churned"] / out["active_then"].clip(lower=1), np.nan)
        out["stayed_share"] = np.where(out["listed"] > 0, out["stayed"] / out["listed"].clip(lower=1), np.nan)
    out = out.reset_index().assign(month_end=m, cohort=cohort)
    return out[OUTCOME_COLUMNS]


# --------------------------------------------------------------------------------------- building the history


def _month_sums(frame: pd.DataFrame | None, value: str, where=None) -> pd.DataFrame:
    """customer_id, month_end, sum of ``value`` per customer and month end (a month end carried by two files:
    the rows of the later file, ``_file_day`` when present)."""
    if frame is None or not len(frame):
        return pd.DataFrame(columns=["customer_id", "month_end", value])
    f = frame if where is None else frame[where(frame)]
    f = f.assign(month_end=pd.to_datetime(f["snapshot_date"]).dt.date)
    if "_file_day" in f.columns:
        last = f.groupby("month_end")["_file_day"].transform("max")
        f = f[f["_file_day"] == last]
    out = f.groupby(["customer_id", "month_end"], sort=False)[value].sum().reset_index()
    return out


def history_from_frames(
    *,
    deposit_balances: pd.DataFrame,
    txn_monthly: pd.DataFrame,
    loan_performance: pd.DataFrame | None,
    customers: pd.DataFrame,
    corporates: pd.DataFrame | None = None,
    status: pd.DataFrame | None = None,
    holdings: pd.DataFrame | None = None,
    requests: pd.DataFrame | None = None,
    requests_since: dt.date | None = None,
    surveys: pd.DataFrame | None = None,
    coverage: pd.DataFrame | None = None,
) -> ChurnHistory:
    """A :class:`ChurnHistory` from the extracts' rows (raw or staged: the same columns). The month ends are
    those deposit_balances or txn_monthly carry. ``customers``/``corporates``: the masters of the as-of day
    (customer_id, onboarding_date; segment retail / corporate)."""
    dep = _month_sums(deposit_balances, "balance").rename(columns={"balance": "deposit_balance"})
    txn = _month_sums(txn_monthly, "txn_count")
    loan = _month_sums(
        loan_performance, "balance", (lambda f: ~f["status"].isin(["S", "W"])) if loan_performance is not None else None
    ).rename(columns={"balance": "loan_balance"})
    monthly = dep.merge(txn, on=["customer_id", "month_end"], how="outer").merge(
        loan, on=["customer_id", "month_end"], how="outer"
    )
    months = sorted(set(dep["month_end"]) | set(txn["month_end"]))
    masters = [customers[["customer_id", "onboarding_date"]].assign(segment="retail")]
    if corporates is not None and len(corporates):
        masters.append(corporates[["customer_id", "onboarding_date"]].assign(segment="corporate"))
    return ChurnHistory(
        monthly=monthly.astype({"deposit_balance": float, "txn_count": float, "loan_balance": float}).fillna(0.0),
        months=months,
        customers=pd.concat(masters, ignore_index=True).drop_duplicates("customer_id", keep="last"),
        status=status if status is not None else pd.DataFrame(columns=["customer_id", "month_end", "status"]),
        holdings=holdings if holdings is not None else pd.DataFrame(columns=["customer_id", "close_date"]),
        requests=requests if requests is not None else pd.DataFrame(columns=["customer_id", "opened_time", "category"]),
        requests_since=requests_since,
        surveys=surveys
        if surveys is not None
        else pd.DataFrame(columns=["customer_id", "response_date", "csat", "nps"]),
        coverage=coverage,
    )


def train_churn_model(sample: pd.DataFrame, config: dict[str, Any]):
    """Split the labelled sample out of time, fit the churn scorecard on the training months, evaluate it and
    the naive baseline on the test months, and attach that as ``model.validation`` (shown in the model card
    and saved in ``scorecard.json``). Returns (model, train rows, validation)."""
    train, test, split = time_split(sample, config)
    churners = int(train[TARGET].sum())
    minimum = int(config["churn"]["validation"]["min_churners"])
    if churners < minimum:
        raise ValueError(f"{churners} churners in the training months, fewer than {minimum}: no churn model")
    model = fit_churn_model(train, config)
    scored = model.score(test)
    ev = evaluate(test[TARGET].to_numpy(), scored["pd"].to_numpy(), config)
    validation = {
        "name": "churn scorecard",
        "baseline_name": f"deposits fell {float(config['churn']['validation']['baseline_drop']):.0%} in 3 months",
        "split": split,
        "oot": {k: v for k, v in ev.items() if k not in ("by_band", "by_decile")},
        "baseline": baseline_metrics(test, config),
        "by_band": ev["by_band"].to_dict("records"),
        "by_decile": ev["by_decile"].to_dict("records"),
    }
    model.validation = validation
    model.metrics.update({"oot_auc": ev["auc"], "oot_ks": ev["ks"], "oot_brier": ev["brier"]})
    return model, train, validation
