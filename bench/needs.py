"""What the needs step of a month end costs (the marts/customer_needs asset's work): time and peak memory.

    .venv/bin/python bench/needs.py [--customers 200000] [--out bench/out/value_inputs] [--fresh]

Reuses the staged zone of ``bench/value_inputs.py`` (the same folder and shape: 24 month ends of deposit
balances and monthly transaction aggregates in the first month-end file, then one file per month end, loans
snapshots of the month ends, daily interactions; built if missing). Then, in a fresh process, does what the
asset does for 2024-12-31: reads the inputs (crm.playbook.inputs.load_needs_inputs, the month-end history
aggregated in DuckDB), computes the needs, the preference profiles and the segment summaries, and prints the
seconds of each part, the rows, and the peak resident memory (VmHWM) before and after.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.value_inputs import DAY, build, hwm_mib  # noqa: E402


def measure(staged: Path) -> dict:
    import numpy as np
    import pandas as pd

    from crm.playbook import load_config
    from crm.playbook.inputs import load_needs_inputs
    from crm.playbook.needs import customer_needs
    from crm.playbook.preferences import customer_preferences, segment_needs, segment_preferences

    tokens = pd.read_parquet(staged / "txn_monthly" / f"{DAY.isoformat()}.parquet", columns=["customer_id"])
    ids = tokens["customer_id"].unique()
    n = len(ids)
    segment = np.where(np.arange(n) < n // 10, np.where(np.arange(n) % 3 == 0, "corporate", "sme"), "retail")
    value = pd.DataFrame(
        {
            "customer_id": ids,
            "month_end": DAY,
            "value_segment": segment,
            "branch_id": np.array([f"{i % 60:04d}" for i in range(n)], dtype=object),
            "manager_id": np.array([f"S{i % 3000:06d}" for i in range(n)], dtype=object),
            "key_account": False,
            "external_loan_balance": 0.0,
            "debt_service_annual": 0.0,
        }
    )
    c360 = pd.DataFrame(
        {
            "customer_id": ids,
            "month_end": DAY,
            "status": "A",
            "annual_income": np.where(segment == "retail", 120000.0, np.nan),
            "enterprise_size": np.where(segment == "retail", None, "M"),
        }
    )
    config = load_config()
    marts = {"customer_value": value, "customer_360": c360}
    del tokens
    before = hwm_mib()
    t0 = time.perf_counter()
    inputs = load_needs_inputs(staged, DAY, marts, config)
    t1 = time.perf_counter()
    result = customer_needs(inputs, config)
    t2 = time.perf_counter()
    prefs = customer_preferences(inputs, config)
    t3 = time.perf_counter()
    sn = segment_needs(result.needs, inputs.customers, config)
    sp = segment_preferences(prefs)
    t4 = time.perf_counter()
    return {
        "customers": n,
        "flows_rows": len(inputs.flows),
        "read_seconds": round(t1 - t0, 1),
        "needs_seconds": round(t2 - t1, 1),
        "preferences_seconds": round(t3 - t2, 1),
        "segments_seconds": round(t4 - t3, 1),
        "total_seconds": round(t4 - t0, 1),
        "needs": result.needs["need"].value_counts().to_dict(),
        "profiles": len(prefs),
        "segment_rows": [len(sn), len(sp)],
        "peak_rss_mib_before": round(before),
        "peak_rss_mib_after": round(hwm_mib()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--out", type=Path, default=Path("bench/out/value_inputs"))
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the measuring child process
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    staged = args.out / f"{args.customers}" / "staged"
    if args.fresh or not staged.exists():
        import shutil

        shutil.rmtree(staged.parent, ignore_errors=True)
        t = time.perf_counter()
        build(staged, args.customers)
        print(f"staged zone of {args.customers:,} customers written in {time.perf_counter() - t:.0f} s")
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(staged)], check=True, capture_output=True, text=True
    ).stdout
    print(json.dumps(json.loads(out.strip().splitlines()[-1]), indent=2))


if __name__ == "__main__":
    main()
