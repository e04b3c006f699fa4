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
    logit = (-2.8 + 2.0 * util + 0.03 * (duration - 24) - 0.03 * (age - 40) - 0.5 * np.log(income / 20000)
             - 0.05 * tenure + 0.02 * dpd + 0.15 * enquiries
             + pd.Series(purpose).map(PURPOSE).to_numpy() + pd.Series(checking).map(CHECKING).to_numpy()
             + pd.Series(housing).map(HOUSING).to_numpy())
    bad = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    income[rng.random(n) < 0.03] = np.nan
    return pd.DataFrame({
        "card_utilisation": util, "duration": duration, "age": age, "income": income, "tenure_years": tenure,
        "max_dpd_12m": dpd, "enquiries_6m": enquiries, "purpose": purpose, "checking_status": checking,
        "housing": housing, "noise": rng.normal(size=n), "bad": bad,
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit-rows", type=int, default=100_000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    dev = synthetic(args.fit_rows, args.seed)
    config = ScorecardConfig(monotonic={"card_utilisation": "ascending", "max_dpd_12m": "ascending",
                                        "enquiries_6m": "ascending", "age": "descending"})
    t0 = time.perf_counter()
    sc = fit_scorecard(dev, "bad", config=config)
    fit_s = time.perf_counter() - t0
    print(f"fit: {args.fit_rows:,} rows, {len(sc.features)} of {dev.shape[1] - 1} characteristics selected, "
          f"{fit_s:.1f} s; hold-out AUC {sc.metrics['auc']:.3f} KS {sc.metrics['ks']:.3f} "
          f"Gini {sc.metrics['gini']:.3f}")

    current = synthetic(args.rows, args.seed + 1).drop(columns=["bad"])
    t0 = time.perf_counter()
    out = sc.score(current)
    sec = time.perf_counter() - t0
    assert len(out) == args.rows and out["pd"].between(0, 1).all()
    print(f"{'step':10} {'rows':>12} {'seconds':>9} {'rows/s':>12}")
    print(f"{'score':10} {args.rows:>12,} {sec:>9.2f} {args.rows / sec:>12,.0f}")
    print(f"target: {args.rows:,} rows in under 60 s: {'met' if sec < 60 * args.rows / 1_000_000 else 'MISSED'}")


if __name__ == "__main__":
    main()
