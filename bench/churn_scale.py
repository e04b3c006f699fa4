"""The churn model's domain part on random histories of the bank's shape (no file reads): building the
development sample, the fit with its out-of-time test, scoring the last month end, and the peak memory.

    .venv/bin/python bench/churn_scale.py 100000

47 month ends; a fifth of the customers see their activity fade, then their deposits fall by 30% a month,
then they leave. Figures in docs/benchmarks.md ("Churn model").
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MONTHS = 47
AS_OF = dt.date(2026, 11, 30)


def history(n: int):
    import numpy as np
    import pandas as pd

    from crm.bank_calendar import month_end, months_before
    from crm.playbook.churn import ChurnHistory

    rng = np.random.default_rng(1)
    months = [month_end(months_before(AS_OF, k)) for k in range(MONTHS - 1, -1, -1)]
    ids = np.array([f"tok{i:09d}" for i in range(n)], dtype=object)
    decline = np.where(rng.random(n) < 0.2, rng.integers(3, MONTHS, n), 10_000)
    j = np.tile(np.arange(MONTHS), n)
    c = np.repeat(np.arange(n), MONTHS)
    gone = j >= decline[c] + 4
    dep = np.where(gone, 0.0, 20_000 * 0.7 ** np.clip(j - decline[c], 0, None) * np.exp(rng.normal(0, 0.2, n * MONTHS)))
    txn = np.where(gone, 0, rng.poisson(np.where(j >= decline[c] - 3, 1, 6)))
    monthly = pd.DataFrame(
        {
            "customer_id": pd.Categorical(ids[c]),
            "month_end": np.array(months, dtype=object)[j],
            "deposit_balance": dep,
            "loan_balance": 0.0,
            "txn_count": txn.astype(float),
        }
    )
    monthly = monthly[(dep > 0) | (txn > 0)]
    customers = pd.DataFrame({"customer_id": ids, "segment": "retail", "onboarding_date": dt.date(2019, 1, 1)})
    return ChurnHistory(monthly=monthly, months=months, customers=customers)


def main() -> None:
    from crm.playbook import load_config
    from crm.playbook.churn import draw_history, labelled_sample, scoring_rows, train_churn_model

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    t0 = time.perf_counter()
    h = history(n)
    print(f"built {len(h.monthly):,} customer-months in {time.perf_counter() - t0:.1f} s", flush=True)
    config = load_config()
    t1 = time.perf_counter()
    sample = labelled_sample(draw_history(h, int(config["churn"]["max_customers"])), config)
    t2 = time.perf_counter()
    print(f"sample {len(sample):,} rows in {t2 - t1:.1f} s", flush=True)
    model, train, validation = train_churn_model(sample, config)
    t3 = time.perf_counter()
    print(f"fit and out-of-time test {t3 - t2:.1f} s, OOT AUC {validation['oot']['auc']:.3f}", flush=True)
    del sample, train
    rows = scoring_rows(h, AS_OF, config)
    model.score(rows)
    t4 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"scoring {len(rows):,} customers in {t4 - t3:.1f} s; peak memory {peak:.2f} GiB")


if __name__ == "__main__":
    main()
