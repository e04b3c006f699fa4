"""Privacy: tokenising, masking, generalising and scrubbing one business date of an N-customer bank, on one
core.

    .venv/bin/python bench/privacy.py [--customers 1000000] [--date 2026-01-31] [--cache bench/out/quality]

Reuses (or builds, with ``bench/quality.py``'s builder) the raw Parquet of one business date, then applies
the privacy policy (:func:`crm.privacy.apply.protect`) to every extract in one process with Arrow and DuckDB
limited to one thread, and prints rows, seconds and rows/s per extract, for the customers and their contacts
together (the target: at least 200,000 rows/s), and for everything. Names for free-text scrubbing are
looked up as the staged assets do (:func:`crm.privacy.names.row_names`) and timed with the extract.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quality import build_bank  # noqa: E402
from crm import contract  # noqa: E402
from crm.privacy.apply import protect  # noqa: E402
from crm.privacy.names import row_names  # noqa: E402
from crm.privacy.tokens import new_ring  # noqa: E402
from crm.zones import raw_file  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2026, 1, 31))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cache", type=Path, default=Path("bench/out/quality"))
    args = ap.parse_args()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    root = args.cache / f"bank_{args.customers}_{args.date:%Y%m%d}_s{args.seed}_d0.001_month"
    build_bank(root, args.customers, args.date, args.seed, 0.001, initial=False)
    raw = root / "raw"
    ring = new_ring()
    print(f"{args.customers:,} customers, business date {args.date}, one core (Arrow and DuckDB: 1 thread)")
    print(f"{'extract':22} {'rows':>12} {'seconds':>9} {'rows/s':>12}")
    totals = {"all": [0, 0.0], "customers+contacts": [0, 0.0]}
    for e in contract.EXTRACTS:
        path = raw_file(raw, e.name, args.date)
        if not path.exists():
            continue
        frame = pd.read_parquet(path)
        t0 = time.perf_counter()
        names = row_names(frame, e.name, raw, args.date)
        out = protect(frame, e.name, ring, args.date, names=names)
        sec = time.perf_counter() - t0
        assert len(out) == len(frame)
        print(f"{e.name:22} {len(frame):>12,} {sec:>9.2f} {len(frame) / sec if sec else 0:>12,.0f}")
        totals["all"][0] += len(frame)
        totals["all"][1] += sec
        if e.name in ("customers", "contacts"):
            totals["customers+contacts"][0] += len(frame)
            totals["customers+contacts"][1] += sec
    for label, (rows, sec) in totals.items():
        print(f"{label:22} {rows:>12,} {sec:>9.2f} {rows / sec:>12,.0f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
