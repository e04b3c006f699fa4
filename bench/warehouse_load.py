"""Loading a frame into the PostgreSQL warehouse: ``append_frame`` and ``replace_partition``, rows per second.

    .venv/bin/python bench/warehouse_load.py [--rows 200000] [--repeat 3]
                                             [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Builds two deterministic frames of ``--rows`` rows:

- ``dq_file_outcomes`` (12 columns: text, date, bigint, boolean, timestamp), loaded with
  :func:`crm.warehouse.append_frame` into the declared table;
- a mart of 10 columns (date, text with Chinese and a tab in some rows, bigint, double with NaN, boolean,
  timestamp, nullable text), loaded with :func:`crm.warehouse.marts.replace_partition` into a table it
  creates (the second and later repeats replace the same partition).

Each load runs in its own transaction in a throwaway schema (dropped at the end), ``--repeat`` times; the
best time per load is printed with rows/s. Needs a reachable PostgreSQL (``--url``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crm import warehouse as wh  # noqa: E402
from crm.warehouse.marts import replace_partition  # noqa: E402


def outcomes_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    parsed = rng.integers(1_000, 2_000_000, n)
    quarantined = rng.integers(0, 500, n)
    return pd.DataFrame(
        {
            "run_id": [f"run-{i % 97:04d}" for i in range(n)],
            "extract": rng.choice(["loans", "customers", "deposits", "transactions"], n),
            "business_date": [dt.date(2026, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 365, n)],
            "source_file": [f"LOAN_20260131_{i % 1000:03d}.dat" for i in range(n)],
            "sha256": [f"{i:064x}" for i in range(n)],
            "suite_version": "v3",
            "parsed": parsed,
            "accepted": parsed - quarantined,
            "quarantined": quarantined,
            "accepted_with_warnings": rng.integers(0, 50, n),
            "balanced": rng.random(n) > 0.01,
            "recorded_at": pd.Timestamp("2026-02-01 08:00:00") + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
        }
    )


MONTH_END = dt.date(2026, 1, 31)


def mart_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    pd_ = rng.random(n) / 10
    pd_[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "month_end": [MONTH_END] * n,
            "customer_id": [f"k1.{i:012x}" for i in range(n)],
            "manager": [f"经理{i % 300:03d}" for i in range(n)],
            "score": rng.integers(300, 900, n),
            "pd": pd_,
            "grade": rng.choice(["A", "B", "C", "D\tE"], n),
            "key_account": rng.random(n) > 0.9,
            "balance": rng.random(n) * 1e7,
            "scored_at": pd.Timestamp("2026-02-01 02:00:00") + pd.to_timedelta(rng.integers(0, 3_600, n), unit="s"),
            "note": np.where(rng.random(n) > 0.7, "逾期\n复核", None),
        }
    )


def best_of(repeat: int, load) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        load()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()

    engine = wh.make_engine(args.url)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    wh.ensure_schema(engine, schema)
    outcomes, mart = outcomes_frame(args.rows), mart_frame(args.rows)
    try:

        def append() -> None:
            with wh.begin(engine, schema) as conn:
                conn.execute(sa.delete(wh.dq_file_outcomes))
                wh.append_frame(conn, wh.dq_file_outcomes, outcomes)

        def replace() -> None:
            with wh.begin(engine, schema) as conn:
                replace_partition(conn, "bench_mart", mart, {"month_end": MONTH_END})

        for name, load, frame in (
            ("append_frame(dq_file_outcomes)", append, outcomes),
            ("replace_partition(bench_mart)", replace, mart),
        ):
            seconds = best_of(args.repeat, load)
            print(
                f"{name:34s} {len(frame):>9,} rows x {frame.shape[1]:>2} cols  {seconds:7.2f} s  "
                f"{len(frame) / seconds:>10,.0f} rows/s  (best of {args.repeat})"
            )
        with wh.begin(engine, schema) as conn:
            counts = [
                conn.execute(sa.text(f'SELECT count(*) FROM "{schema}"."{t}"')).scalar()
                for t in ("dq_file_outcomes", "bench_mart")
            ]
        assert counts == [args.rows, args.rows], counts
    finally:
        with wh.begin(engine) as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


if __name__ == "__main__":
    main()
