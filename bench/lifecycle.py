"""Lifecycle transitions, stage actions and referrals alone at N customers, on frames shaped as the marts and
extracts they read (random, fixed seed): no Dagster, no warehouse.

    .venv/bin/python bench/lifecycle.py [--customers 1000000] [--seed 7]

Inputs (rough shapes, not calibrated): this month's and last month's customer_value stages (5% of the customers
change stage, 1% new, 0.5% gone), 200 branches, three segments; last month's stage_actions for 3% of the
customers; 3 interactions a customer (random purposes and channels over 120 days); opportunities for 5%; 2%
of the customers referred; a survey answer for 30%. Prints the seconds of each step, rows and the peak
resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
M = dt.date(2026, 10, 31)
STAGES = np.array(["new", "growth", "mature", "decline", "dormant", "churned", "unknown"])


def _vmhwm() -> str:
    try:
        with open("/proc/self/status") as fh:
            return next(line.split(":")[1].strip() for line in fh if line.startswith("VmHWM"))
    except (OSError, StopIteration):
        return "?"


def main() -> None:
    from crm.playbook import load_config
    from crm.playbook.lifecycle import action_counts, customer_stages, stage_actions, transition_matrix
    from crm.playbook.referrals import (
        nps_categories,
        referral_customers,
        referral_summary,
        referral_value,
        referrers,
    )

    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    n, rng = args.customers, np.random.default_rng(args.seed)
    config = load_config()
    ids = np.array([f"c{i:09d}" for i in range(n)], dtype=object)
    stage = STAGES[rng.choice(7, n, p=[0.05, 0.25, 0.5, 0.08, 0.07, 0.03, 0.02])]
    value = pd.DataFrame(
        {
            "customer_id": ids,
            "lifecycle_stage": stage,
            "branch_id": np.array([f"B{i:03d}" for i in range(200)], dtype=object)[rng.integers(0, 200, n)],
            "value_segment": np.array(["retail", "sme", "corporate"], dtype=object)[
                rng.choice(3, n, p=[0.6, 0.3, 0.1])
            ],
            "manager_id": np.array([f"S{i:05d}" for i in range(3000)], dtype=object)[rng.integers(0, 3000, n)],
            "contribution": rng.gamma(2.0, 3000.0, n),
            "value_score": rng.uniform(0, 100, n),
        }
    )
    prev = value.sample(frac=0.995, random_state=1).copy()
    flip = rng.random(len(prev)) < 0.05
    prev.loc[flip, "lifecycle_stage"] = STAGES[rng.integers(0, 7, int(flip.sum()))]
    prev = prev[rng.random(len(prev)) > 0.01]
    prev_day = dt.date(2026, 9, 30)
    previous = prev[["customer_id", "lifecycle_stage"]].assign(stage_since=dt.date(2025, 3, 31))
    onboarding = pd.DataFrame(
        {"customer_id": ids, "onboarding_date": pd.Timestamp(M) - pd.to_timedelta(rng.integers(0, 4000, n), unit="D")}
    )
    k = 3 * n
    interactions = pd.DataFrame(
        {
            "customer_id": ids[rng.integers(0, n, k)],
            "interaction_time": pd.Timestamp(M) - pd.to_timedelta(rng.integers(0, 120 * 1440, k), unit="min"),
            "channel": np.array(["VISIT", "BRANCH", "PHONE", "WECHAT", "VIDEO"], dtype=object)[rng.integers(0, 5, k)],
            "purpose": np.array(["REVIEW", "MARKET", "SERVICE", "ONBOARD", "RETAIN", "CARE"], dtype=object)[
                rng.integers(0, 6, k)
            ],
        }
    )
    o = n // 20
    opportunities = pd.DataFrame(
        {
            "opportunity_id": [f"o{i}" for i in range(o)],
            "customer_id": ids[rng.integers(0, n, o)],
            "offered_date": pd.Timestamp(M) - pd.to_timedelta(rng.integers(0, 90, o), unit="D"),
            "proposal_type": "DEPOSIT",
        }
    )
    timings = {}

    t0 = time.perf_counter()
    stages = customer_stages(value, M, previous=previous)
    timings["customer_stages"] = (time.perf_counter() - t0, len(stages))
    t0 = time.perf_counter()
    matrix = transition_matrix(value, prev)
    timings["transition_matrix"] = (time.perf_counter() - t0, len(matrix))
    old = customer_stages(prev, prev_day, previous=previous.assign(lifecycle_stage="growth"))
    carried = stage_actions(
        old.head(n // 30).assign(entered=True), None, onboarding, interactions, None, prev_day, config
    )
    t0 = time.perf_counter()
    actions = stage_actions(stages, carried, onboarding, interactions, opportunities, M, config)
    counts = action_counts(actions, M)
    timings["stage_actions"] = (time.perf_counter() - t0, len(actions))
    timings["stage_action_counts"] = (0.0, len(counts))

    r = n // 50
    refs = pd.DataFrame(
        {
            "referral_id": [f"r{i}" for i in range(r)],
            "referrer_customer_id": ids[rng.integers(0, n, r)],
            "referred_customer_id": ids[rng.choice(n, r, replace=False)],
            "referral_date": pd.Timestamp(M) - pd.to_timedelta(rng.integers(0, 700, r), unit="D"),
        }
    )
    s = int(n * 0.3)
    surveys = pd.DataFrame(
        {
            "survey_id": [f"s{i}" for i in range(s)],
            "customer_id": ids[rng.integers(0, n, s)],
            "response_date": pd.Timestamp(M) - pd.to_timedelta(rng.integers(0, 365, s), unit="D"),
            "nps": rng.integers(0, 11, s),
        }
    )
    from crm.satisfaction.analytics import load_config as satisfaction_config

    t0 = time.perf_counter()
    nps = nps_categories(surveys, M, satisfaction_config()["nps"])
    by_referrer = referrers(refs, value, nps, M, config)
    customers = referral_customers(value, onboarding, refs, M, config)
    cohorts = referral_value(value, onboarding, refs, M, config, customers=customers)
    summary = referral_summary(value, onboarding, refs, nps, cohorts, M, config, customers=customers)
    timings["referrals"] = (time.perf_counter() - t0, len(by_referrer) + len(cohorts) + len(summary))

    print(f"customers {n:,}, interactions {k:,}, referrals {r:,}, surveys {s:,}")
    for name, (sec, rows) in timings.items():
        print(f"{name:22s} {sec:8.2f} s  {rows:>12,} rows")
    print(f"total {sum(v[0] for v in timings.values()):.2f} s; peak RSS {_vmhwm()}")


if __name__ == "__main__":
    main()
