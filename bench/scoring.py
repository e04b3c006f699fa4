"""Scorecard scoring throughput: fit a scorecard on N synthetic rows with about ten characteristics, then
score M rows (points per characteristic, score, PD, grade, four reason codes), on one process.

    .venv/bin/python bench/scoring.py [--fit-rows 100000] [--rows 1000000] [--seed 7]

Prints the fit time and hold-out AUC, then rows, seconds and rows/s for scoring (the target: 1,000,000 rows
in under 60 s). The data is a synthetic application table whose bad probability is a known logistic
function of the characteristics (no personal data).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crm.scoring.scorecard import ScorecardConfig, fit_scorecard  # noqa: E402

PURPOSE = {"car": 0.3, "house": -0.6, "education": 0.5, "furniture": 0.0, "business": 0.2, "other": 0.1}
CHECKING = {"<0": 0.9, "0<=X<200": 0.4, ">=200": -0.2, "no checking": -0.7}
HOUSING = {"own": -0.3, "rent": 0.2, "free": 0.1}


def synthetic(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    util = rng.beta(2, 3, n) * 1.3
    duration = rng.choice([6, 12, 18, 24, 36, 48, 60], n)
    age = rng.integers(19, 76, n)
    income = rng.lognormal(10, 0.5, n)
    tenure = rng.exponential(5, n)
    dpd = rng.choice([0, 0, 0, 0, 5, 15, 35, 65], n)
    enquiries = rng.poisson(1.2, n)
    purpose = rng.choice(list(PURPOSE), n)
    checking = rng.choice(list(CHECKING), n, p=[0.3, 0.25, 0.1, 0.35])
    housing = rng.choice(list(HOUSING), n, p=[0.5, 0.35, 0.15])
    logit = (
        -2.8
        + 2.0 * util
        + 0.03 * (duration - 24)
        - 0.03 * (age - 40)
        - 0.5 * np.log(income / 20000)
        - 0.05 * tenure
        + 0.02 * dpd
        + 0.15 * enquiries
        + pd.Series(purpose).map(PURPOSE).to_numpy()
        + pd.Series(checking).map(CHECKING).to_numpy()
        + pd.Series(housing).map(HOUSING).to_numpy()
    )
    bad = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    income[rng.random(n) < 0.03] = np.nan
    return pd.DataFrame(
        {
            "card_utilisation": util,
            "duration": duration,
            "age": age,
            "income": income,
            "tenure_years": tenure,
            "max_dpd_12m": dpd,
            "enquiries_6m": enquiries,
            "purpose": purpose,
            "checking_status": checking,
            "housing": housing,
            "noise": rng.normal(size=n),
            "bad": bad,
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit-rows", type=int, default=100_000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--bank",
        type=Path,
        default=None,
        help="also time the pipeline's month-end scoring on this raw zone (e.g. the 1M-customer bank "
        "bench/quality.py builds: bench/out/quality/bank_1000000_20260131_s7_d0.001_initial/raw)",
    )
    ap.add_argument("--month-end", default="2026-01-31", help="the bank's business date (with --bank)")
    args = ap.parse_args()

    dev = synthetic(args.fit_rows, args.seed)
    config = ScorecardConfig(
        monotonic={
            "card_utilisation": "ascending",
            "max_dpd_12m": "ascending",
            "enquiries_6m": "ascending",
            "age": "descending",
        }
    )
    t0 = time.perf_counter()
    sc = fit_scorecard(dev, "bad", config=config)
    fit_s = time.perf_counter() - t0
    print(
        f"fit: {args.fit_rows:,} rows, {len(sc.features)} of {dev.shape[1] - 1} characteristics selected, "
        f"{fit_s:.1f} s; hold-out AUC {sc.metrics['auc']:.3f} KS {sc.metrics['ks']:.3f} "
        f"Gini {sc.metrics['gini']:.3f}"
    )

    current = synthetic(args.rows, args.seed + 1).drop(columns=["bad"])
    t0 = time.perf_counter()
    out = sc.score(current)
    sec = time.perf_counter() - t0
    assert len(out) == args.rows and out["pd"].between(0, 1).all()
    print(f"{'step':10} {'rows':>12} {'seconds':>9} {'rows/s':>12}")
    print(f"{'score':10} {args.rows:>12,} {sec:>9.2f} {args.rows / sec:>12,.0f}")
    print(f"target: {args.rows:,} rows in under 60 s: {'met' if sec < 60 * args.rows / 1_000_000 else 'MISSED'}")
    if args.bank:
        pipeline(args.bank, pd.Timestamp(args.month_end))


def pipeline(raw: Path, end: pd.Timestamp) -> None:
    """The month-end scoring path of ``marts/credit_scores`` on a bank's loan performance: read the history,
    keep the 13 month-ends the characteristics need, compute them at the last month-end per customer, and
    score them with a scorecard fitted on the behavioural characteristics of the development sample (the
    customer master's attributes are not in the raw zone's form here: their join is a merge on the token)."""
    from crm.scoring import sample as S

    t_all = time.perf_counter()
    t0 = time.perf_counter()
    perf = S.load_performance(raw)
    load_s = time.perf_counter() - t0
    dev_perf = perf[perf["snapshot_date"] > end - pd.DateOffset(months=30)]
    cm = S.customer_month_features(S.loan_month_features(dev_perf))
    dev = cm[cm["outcome_known"] & cm["lookback_full"] & (cm["max_dpd_now"].fillna(0) <= S.POPULATION_MAX_DPD)]
    dev = dev.sample(min(len(dev), 300_000), random_state=1)
    card = fit_scorecard(dev[S.BEHAVIOUR + ["bad"]], "bad", config=ScorecardConfig(monotonic=S.MONOTONIC))
    t0 = time.perf_counter()
    window = perf[perf["snapshot_date"] > end - pd.DateOffset(months=13)]
    at = S.customer_month_features(S.loan_month_features(window, at=end))
    feat_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = card.score(at[S.BEHAVIOUR])
    score_s = time.perf_counter() - t0
    print(
        f"pipeline scoring at {end:%Y-%m-%d}: history {len(perf):,} loan-months read in {load_s:.1f} s; "
        f"development sample AUC {card.metrics['auc']:.3f} (behavioural characteristics only)"
    )
    print(f"{'step':22} {'rows':>12} {'seconds':>9}")
    print(f"{'characteristics':22} {len(at):>12,} {feat_s:>9.2f}")
    print(f"{'score':22} {len(out):>12,} {score_s:>9.2f}")
    total = load_s + feat_s + score_s
    print(
        f"{'read + features + score':22} {len(out):>12,} {total:>9.2f}  (target under 60 s: "
        f"{'met' if total < 60 else 'MISSED'}; whole run incl. training {time.perf_counter() - t_all:.1f} s)"
    )


if __name__ == "__main__":
    main()
