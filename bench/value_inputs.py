"""What reading a month end's value inputs costs (crm.value.inputs.load_inputs): time and peak memory.

    .venv/bin/python bench/value_inputs.py [--customers 100000] [--out bench/out/value_inputs] [--fresh] [--value]

Writes a staged zone of the shape the pipeline keeps (one Parquet file per extract and business date, lineage
columns, customer tokens of the real length) for an installation whose first files are those of January
2024 (the month-end extracts' first file carrying the 24 preceding month ends, the fee ledger's the 12
preceding months, the bureau's the pulls of 24 months), up to 31 December 2024; then, in a fresh process,
reads the value inputs of 2024-12-31 and prints the rows per input, the time and the peak resident memory
of that process (before and after the read). ``--value``: instead, what the customer_value asset does (the
bank-wide inputs once, the window's records a shard of customers at a time, the value computed): time, shards
and peak memory.

Volumes per customer (roughly the synthetic bank's): 0.6 loans, 1.5 deposit accounts, 6 monthly transaction
aggregates per month, 2 fees per month, 0.5 interactions and 0.1 service requests per month, 2 bureau pulls
in 24 months, 1 corporate in 10 with 4 statements a year. The loans snapshot is written only for the month
ends and the installation's first day (what the reader opens); interactions, requests, fees and bureau pulls
as one file per calendar day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DAY = dt.date(2024, 12, 31)
FIRST = dt.date(2024, 1, 1)


def _month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    from crm.value.inputs import window_month_ends

    return [m for m in window_month_ends(last, 60) if m >= first]


def build(staged: Path, n: int, seed: int = 7) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    tokens = np.array([f"k1.{i:032x}" for i in rng.integers(0, 2**62, n)], dtype=object)

    def write(extract: str, day: dt.date, cols: dict) -> None:
        rows = len(next(iter(cols.values())))
        name = f"{extract.upper()}_{day:%Y%m%d}_001.dat"
        table = pa.table(
            {
                **cols,
                # one value per file: dictionary-encoded (a plain string column of 150M rows overflows its offsets)
                "_source_file": pa.DictionaryArray.from_arrays(np.zeros(rows, dtype="int32"), pa.array([name])),
                "_sha256": pa.DictionaryArray.from_arrays(np.zeros(rows, dtype="int32"), pa.array(["ab" * 32])),
                "_row_number": np.arange(1, rows + 1, dtype="int64"),
                "_business_date": pa.repeat(pa.scalar(day, pa.date32()), rows),
            }
        )
        (staged / extract).mkdir(parents=True, exist_ok=True)
        pq.write_table(table, staged / extract / f"{day.isoformat()}.parquet")

    def dates(values: list[dt.date], k: int) -> pa.Array:
        return pa.array(np.repeat(np.array(values, dtype="datetime64[D]"), k), pa.date32())

    # loans: 0.6 per customer
    nl = int(n * 0.6)
    loan_ids = np.array([f"L{i:014d}" for i in range(nl)], dtype=object)
    owner = tokens[rng.integers(0, n, nl)]
    rate = np.round(rng.uniform(3.0, 8.0, nl), 4)
    start = pa.array(np.datetime64("2020-01-01") + rng.integers(0, 1500, nl).astype("timedelta64[D]"), pa.date32())
    maturity = pa.array(np.datetime64("2026-01-01") + rng.integers(0, 3000, nl).astype("timedelta64[D]"), pa.date32())
    guarantee = rng.choice(["CR", "GU", "MO", "PL"], nl)
    for day in [FIRST, *_month_ends(FIRST, DAY)]:
        write(
            "loans",
            day,
            {
                "loan_id": loan_ids,
                "customer_id": owner,
                "product_code": rng.choice(["RHL", "RBL", "CWC"], nl),
                "balance": np.round(rng.uniform(1e4, 1e6, nl), 2),
                "interest_rate": rate,
                "start_date": start,
                "maturity_date": maturity,
                "guarantee_type": guarantee,
                "five_class": np.repeat("1", nl),
                "status": np.repeat("N", nl),
                "branch_id": np.repeat("0101", nl),
            },
        )
    # month-end snapshots: the first file carries the 24 preceding month ends
    accounts = int(n * 1.5)
    acc_ids = np.array([f"{600101000000000000 + i}" for i in range(accounts)], dtype=object)
    acc_owner = tokens[rng.integers(0, n, accounts)]
    first_me = _month_ends(FIRST, DAY)[0]
    for day in _month_ends(FIRST, DAY):
        months = _month_ends(dt.date(2022, 1, 1), day) if day == first_me else [day]
        k = len(months)
        write(
            "loan_performance",
            day,
            {
                "snapshot_date": dates(months, nl),
                "loan_id": np.tile(loan_ids, k),
                "customer_id": np.tile(owner, k),
                "product_code": np.tile(np.repeat("RHL", nl), k),
                "balance": np.round(rng.uniform(1e4, 1e6, nl * k), 2),
                "overdue_days": np.zeros(nl * k, dtype="int64"),
                "five_class": np.repeat("1", nl * k),
                "status": np.repeat("N", nl * k),
            },
        )
        write(
            "deposit_balances",
            day,
            {
                "snapshot_date": dates(months, accounts),
                "account_id": np.tile(acc_ids, k),
                "customer_id": np.tile(acc_owner, k),
                "product_type": np.tile(np.where(np.arange(accounts) % 3 == 0, "FIX", "CUR"), k),
                "currency": np.repeat("CNY", accounts * k),
                "balance": np.round(rng.uniform(0, 2e5, accounts * k), 2),
                "avg_balance": np.round(rng.uniform(0, 2e5, accounts * k), 2),
                "interest_rate": np.tile(np.where(np.arange(accounts) % 3 == 0, 1.5, 0.2), k),
                "status": np.repeat("A", accounts * k),
                "branch_id": np.repeat("0101", accounts * k),
            },
        )
        rows = n * 6
        write(
            "txn_monthly",
            day,
            {
                "snapshot_date": dates(months, rows),
                "customer_id": np.tile(np.repeat(tokens, 6), k),
                "txn_type": np.tile(np.tile(["CON", "PAY", "TRF"], 2 * n), k),
                "channel": np.tile(np.repeat(["MOB", "API"], 3 * n), k),
                "direction": np.tile(np.tile(["D", "C"], 3 * n), k),
                "txn_count": rng.integers(1, 30, rows * k),
                "amount": np.round(rng.uniform(10, 1e5, rows * k), 2),
                "counterparty_count": rng.integers(0, 5, rows * k),
                "top_counterparty_amount": np.round(rng.uniform(0, 10, rows * k), 2),
            },
        )
        corp = n // 10
        write(
            "financial_statements",
            day,
            {
                "statement_id": np.array([f"FS{day:%Y%m}{i:010d}" for i in range(corp // 3)], dtype=object),
                "customer_id": tokens[: corp // 3],
                "report_period": dates([day], corp // 3),
                "received_date": dates([day], corp // 3),
                "revenue": rng.uniform(1e6, 1e8, corp // 3),
                "total_assets": rng.uniform(1e6, 1e8, corp // 3),
            },
        )
    # daily deltas
    day, seq = FIRST, 0
    while day <= DAY:
        first = day == FIRST
        span = 365 if first else 1  # the fee ledger's first file: the 12 preceding months
        nf = int(n * 2 * 12 / 365 * span)
        fee_days = [day - dt.timedelta(days=int(d)) for d in rng.integers(0, span, nf)] if first else [day] * nf
        write(
            "fee_ledger",
            day,
            {
                "fee_id": np.array([f"FE{seq + i:020d}" for i in range(nf)], dtype=object),
                "customer_id": tokens[rng.integers(0, n, nf)],
                "product_family": np.repeat("DEP", nf),
                "fee_type": rng.choice(["ACCT", "SETL", "WMP"], nf),
                "amount": np.round(rng.uniform(1, 500, nf), 2),
                "fee_date": pa.array(np.array(fee_days, dtype="datetime64[D]"), pa.date32()),
                "branch_id": np.repeat("0101", nf),
            },
        )
        seq += nf
        ni = int(n * 0.5 * 12 / 365)
        when = np.datetime64(day) + rng.integers(0, 86400, ni).astype("timedelta64[s]")
        write(
            "interactions",
            day,
            {
                "interaction_id": np.array([f"V{day:%Y%m%d}{i:012d}" for i in range(ni)], dtype=object),
                "customer_id": tokens[rng.integers(0, n, ni)],
                "staff_id": np.repeat("S000001", ni),
                "interaction_time": pa.array(when, pa.timestamp("s")),
                "channel": rng.choice(["VISIT", "PHONE", "WECHAT"], ni),
                "duration_minutes": rng.integers(5, 90, ni),
                "notes": np.repeat("客户表示下月还款" * 4, ni),
            },
        )
        ns = int(n * 0.1 * 12 / 365)
        write(
            "service_requests",
            day,
            {
                "request_id": np.array([f"SR{day:%Y%m%d}{i:012d}" for i in range(ns)], dtype=object),
                "customer_id": tokens[rng.integers(0, n, ns)],
                "opened_time": pa.array(np.datetime64(day) + np.zeros(ns, "timedelta64[s]"), pa.timestamp("s")),
                "channel": rng.choice(["APP", "PHONE"], ns),
                "priority": rng.choice(["P1", "P2", "P3", "P4"], ns),
                "status": np.repeat("OPEN", ns),
                "description": np.repeat("咨询理财产品" * 4, ns),
            },
        )
        nb = n * 2 if first else int(n / 365)
        back = rng.integers(0, 730, nb) if first else np.zeros(nb, dtype="int64")
        write(
            "bureau_records",
            day,
            {
                "report_id": np.array([f"CR{day:%Y%m%d}{i:014d}" for i in range(nb)], dtype=object),
                "customer_id": tokens[rng.integers(0, n, nb)],
                "query_date": pa.array(np.datetime64(day) - back.astype("timedelta64[D]"), pa.date32()),
                "external_loan_count": rng.integers(0, 4, nb),
                "external_loan_balance": np.round(rng.uniform(0, 1e6, nb), 2),
            },
        )
        day += dt.timedelta(days=1)
    corp = n // 10
    write(
        "corporates",
        DAY,
        {
            "customer_id": tokens[:corp],
            "industry": rng.choice(["C", "F", "I"], corp),
            "enterprise_size": rng.choice(["S", "M", "L", "X"], corp),
            "province": np.repeat("上海市", corp),
        },
    )
    (staged.parent / "tokens.json").write_text(json.dumps({"customers": n}))


def hwm_mib() -> float:
    """The process's peak resident memory so far (VmHWM: reset by exec, unlike ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_value(staged: Path) -> dict:
    """What the customer_value asset does with these inputs: the marts and bank-wide inputs once, the window's
    records a shard of customers at a time ([compute] customers_per_shard), the value computed."""
    import pandas as pd

    from crm.value.inputs import load_inputs, load_record_shards, shard_count
    from crm.value.value import customer_value, load_config

    tokens = pd.read_parquet(staged / "txn_monthly" / f"{DAY.isoformat()}.parquet", columns=["customer_id"])
    c360 = pd.DataFrame({"customer_id": tokens["customer_id"].unique(), "month_end": DAY, "segment": "retail"})
    config = load_config()
    before = hwm_mib()
    t = time.perf_counter()
    inputs = load_inputs(staged, DAY, {"customer_360": c360}, records=False)
    shards = shard_count(len(inputs.c360), config["compute"]["customers_per_shard"])
    result = customer_value(inputs, config, load_record_shards(staged, DAY, shards))
    return {
        "seconds": round(time.perf_counter() - t, 1),
        "customers": len(result.value),
        "shards": shards,
        "customer_months": len(result.monthly),
        "total_contribution": round(float(result.value["contribution"].sum()), 2),
        "peak_rss_mib_before": round(before),
        "peak_rss_mib_after": round(hwm_mib()),
    }


def measure(staged: Path) -> dict:
    import pandas as pd

    from crm.value.inputs import load_inputs

    tokens = pd.read_parquet(staged / "txn_monthly" / f"{DAY.isoformat()}.parquet", columns=["customer_id"])
    c360 = pd.DataFrame({"customer_id": tokens["customer_id"].unique(), "month_end": DAY, "segment": "retail"})
    marts = {"customer_360": c360}
    before = hwm_mib()
    t = time.perf_counter()
    got = load_inputs(staged, DAY, marts)
    seconds = time.perf_counter() - t
    frames = {k: v for k, v in vars(got).items() if isinstance(v, pd.DataFrame)}
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mib_before": round(before),
        "peak_rss_mib_after": round(hwm_mib()),
        "frames_mib": round(sum(f.memory_usage(deep=True).sum() for f in frames.values()) / 2**20),
        "rows": {k: len(v) for k, v in frames.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=Path("bench/out/value_inputs"))
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument(
        "--value", action="store_true", help="measure the asset's path: bank-wide inputs once, records by shard, value"
    )
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the measuring child process
    ap.add_argument("--measure-value", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.measure:
        print(json.dumps(measure(a.measure)))
        return
    if a.measure_value:
        print(json.dumps(measure_value(a.measure_value)))
        return
    staged = a.out / f"{a.customers}" / "staged"
    if a.fresh and staged.exists():
        shutil.rmtree(staged.parent)
    if not staged.exists():
        t = time.perf_counter()
        build(staged, a.customers)
        print(f"wrote {staged} in {time.perf_counter() - t:.0f} s")
    size = sum(p.stat().st_size for p in staged.rglob("*.parquet"))
    files = len(list(staged.rglob("*.parquet")))
    print(f"staged zone: {files} files, {size / 2**20:.0f} MiB")
    flag = "--measure-value" if a.value else "--measure"
    out = subprocess.run(
        [sys.executable, __file__, flag, str(staged)], check=True, capture_output=True, text=True
    ).stdout
    print(json.dumps(json.loads(out.splitlines()[-1]), indent=2))


if __name__ == "__main__":
    main()
