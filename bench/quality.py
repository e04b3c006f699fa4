"""Data-quality validation: Great Expectations next to the same rules in plain vectorised pandas, one process.

    .venv/bin/python bench/quality.py [--customers 1000000] [--date 2026-01-31] [--defect-rate 0.001]
                                      [--no-initial-load] [--cache bench/out/quality] [--fresh]

Builds (or reuses from ``--cache``) one business date of an N-customer bank: the extract files of the date,
with row-level defects at ``--defect-rate`` so that rules do fail, ingested to raw Parquet by
:func:`crm.ingest.load.ingest_partition`, then read back with ``pd.read_parquet`` as the quality stage does.
Then, on the same frames and in one process, times per extract (a) :func:`crm.quality.evaluate.
evaluate_extract_pandas` and (b) :func:`crm.quality.gx.evaluate_extract_gx` (one ephemeral GX context for the
run, as :func:`crm.quality.gx.evaluate_gx` does; its creation is counted in the GX total), checks that both
give the same failing rows (count per rule, then row for row) and prints a table: rows, rules, failing rows,
seconds, rows/s, the ratio GX / pandas and peak RSS. The one-off ``import great_expectations`` is timed apart.

The files are those ``crm generate --start D --end D`` writes for the date (same seed, same bytes) except that
no *file-level* defect is planted: with one business date the generator forces one of each kind
(wrong control total, truncated, undecodable bytes) onto three of the big extracts, whose files ingest would
then reject. The first month-end of a run carries the 36-month loan-performance initial load (14 M of the 23
M records at 1 M customers, as in ``bench/ingest.py``); ``--no-initial-load`` writes that month only, as on
every later month end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import time
from pathlib import Path

import pandas as pd

from crm import contract
from crm.ingest.load import ingest_partition
from crm.quality.evaluate import evaluate_extract_pandas
from crm.quality.gx import ephemeral_context, evaluate_extract_gx
from crm.quality.rules import build_rules
from crm.synthetic import cal
from crm.synthetic.bank import Bank
from crm.synthetic.generate import _chunks, _with_row_defects
from crm.synthetic.rand import rng
from crm.synthetic.writer import write_chunks
from crm.warehouse import ensure_schema, make_engine
from crm.zones import raw_file


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_business_date(landing: Path, customers: int, day: dt.date, seed: int, rate: float, initial: bool) -> dict:
    """The extract files of ``day`` as ``generate(start=day, end=day)`` writes them, row defects only.
    Returns injected row defects per kind."""
    bank = Bank(seed, customers, day, day)
    t = cal.day(day)
    listings: list[pd.DataFrame] = []
    for e in contract.EXTRACTS:  # a loop over extracts
        if e.cadence != "daily" and not cal.is_month_end(day):
            continue
        chunks = _chunks(bank, e.name, t, initial)
        if rate > 0:
            chunks = _with_row_defects(
                chunks,
                e,
                rate,
                rng(seed, "defects", "rows", e.name, t),
                e.file_name(day.isoformat(), 1),
                day,
                listings,
            )
        write_chunks(chunks, e, day, landing / day.strftime("%Y%m%d"))
    found = pd.concat(listings, ignore_index=True) if listings else pd.DataFrame({"kind": []})
    return {k: int(v) for k, v in found["kind"].value_counts().sort_index().items()}


def build_bank(root: Path, customers: int, day: dt.date, seed: int, rate: float, initial: bool) -> dict:
    """Generate and ingest one business date into ``root`` unless a finished build is there."""
    marker = root / "bank.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        print(f"reusing {root} (generated in {info['generate_s']:.1f} s, ingested in {info['ingest_s']:.1f} s)")
        return info
    if root.exists():
        shutil.rmtree(root)
    landing, raw = root / "landing", root / "raw"
    t0 = time.perf_counter()
    injected = write_business_date(landing, customers, day, seed, rate, initial)
    gen_s = time.perf_counter() - t0
    engine = make_engine(f"duckdb:///{root / 'warehouse.duckdb'}")
    ensure_schema(engine)
    t0 = time.perf_counter()
    for e in contract.EXTRACTS:
        if e.cadence != "daily" and not cal.is_month_end(day):
            continue
        out = ingest_partition(e, day, landing=landing, raw=raw, engine=engine, run_id="bench-quality")
        if out.status != "accepted":
            raise RuntimeError(f"{e.name}: ingest {out.status}: {out.error}")
    ingest_s = time.perf_counter() - t0
    engine.dispose()
    shutil.rmtree(landing)  # the raw Parquet is all the benchmark reads
    info = {
        "customers": customers,
        "date": day.isoformat(),
        "seed": seed,
        "defect_rate": rate,
        "initial_load": initial,
        "injected": injected,
        "generate_s": gen_s,
        "ingest_s": ingest_s,
    }
    marker.write_text(json.dumps(info, indent=2) + "\n")
    print(f"generated in {gen_s:.1f} s, ingested in {ingest_s:.1f} s; injected row defects {injected}")
    return info


def load_frames(raw: Path, day: dt.date) -> dict[str, pd.DataFrame]:
    return {e.name: pd.read_parquet(p) for e in contract.EXTRACTS if (p := raw_file(raw, e.name, day)).exists()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--date", default="2026-01-31", help="a month-end business date")
    ap.add_argument("--defect-rate", type=float, default=0.001)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--no-initial-load",
        action="store_true",
        help="loan performance of the month only (not the 36-month initial load)",
    )
    ap.add_argument("--cache", default="bench/out/quality", help="where generated banks are kept and reused")
    ap.add_argument("--fresh", action="store_true", help="rebuild the bank even if cached")
    args = ap.parse_args()
    day = dt.date.fromisoformat(args.date)
    initial = not args.no_initial_load
    root = Path(args.cache) / (
        f"bank_{args.customers}_{day:%Y%m%d}_s{args.seed}_d{args.defect_rate:g}_{'initial' if initial else 'month'}"
    )
    if args.fresh and root.exists():
        shutil.rmtree(root)
    build_bank(root, args.customers, day, args.seed, args.defect_rate, initial)

    t0 = time.perf_counter()
    frames = load_frames(root / "raw", day)
    load_s = time.perf_counter() - t0
    total_rows = sum(len(f) for f in frames.values())
    rss_loaded = peak_rss_mib()
    print(
        f"\n{args.customers:,} customers, business date {day} ({'with' if initial else 'without'} the "
        f"loan-performance initial load): {len(frames)} extracts, {total_rows:,} rows read from raw Parquet "
        f"in {load_s:.1f} s; peak RSS {rss_loaded:,.0f} MiB"
    )

    rules = build_rules(list(frames))
    pd_ev, pd_s = {}, {}
    cache: dict = {}
    for name in frames:
        t = time.perf_counter()
        pd_ev[name] = evaluate_extract_pandas(name, frames, day, rules, cache)
        pd_s[name] = time.perf_counter() - t
    rss_pandas = peak_rss_mib()

    t = time.perf_counter()
    import great_expectations  # noqa: F401  (the one-off import, timed apart)

    import_s = time.perf_counter() - t
    t = time.perf_counter()
    context = ephemeral_context()
    context_s = time.perf_counter() - t
    gx_ev, gx_s = {}, {}
    cache = {}
    for name in frames:
        t = time.perf_counter()
        gx_ev[name] = evaluate_extract_gx(name, frames, day, rules, context, cache)
        gx_s[name] = time.perf_counter() - t
    rss_gx = peak_rss_mib()

    print(
        f"{'extract':<22}{'rows':>12}{'rules':>6}{'failing':>9}{'pandas s':>10}{'GX s':>9}{'GX/pd':>7}"
        f"{'pandas rows/s':>15}{'GX rows/s':>12}{'batches':>8}  agree"
    )
    disagree = []
    failing_total = 0
    for name, a in pd_ev.items():
        b = gx_ev[name]
        counts_equal = a.failed.sum().to_dict() == b.failed.sum().to_dict() and a.skipped == b.skipped
        rows_equal = counts_equal and a.failed.equals(b.failed)
        if not rows_equal:
            disagree.append(name)
        failing = int(a.failed.any(axis=1).sum())
        failing_total += failing
        n = a.rows
        batches = (b.gx_result or {}).get("meta", {}).get("batches", 1 if b.gx_result else 0)
        print(
            f"{name:<22}{n:>12,}{len(a.failed.columns):>6}{failing:>9,}{pd_s[name]:>10.2f}{gx_s[name]:>9.2f}"
            f"{gx_s[name] / pd_s[name]:>7.2f}{n / pd_s[name]:>15,.0f}{n / gx_s[name]:>12,.0f}{batches:>8}"
            f"  {'yes' if rows_equal else 'NO'}"
        )
    pandas_total = sum(pd_s.values())
    gx_total = context_s + sum(gx_s.values())
    n_rules = sum(len(ev.failed.columns) for ev in pd_ev.values())
    print(
        f"{'TOTAL':<22}{total_rows:>12,}{n_rules:>6}{failing_total:>9,}{pandas_total:>10.2f}{gx_total:>9.2f}"
        f"{gx_total / pandas_total:>7.2f}{total_rows / pandas_total:>15,.0f}{total_rows / gx_total:>12,.0f}"
    )
    print(
        f"GX: import great_expectations {import_s:.1f} s (once per process, not in the total), ephemeral "
        f"context {context_s:.2f} s (in the total)"
    )
    print(
        f"peak RSS: {rss_loaded:,.0f} MiB after loading, {rss_pandas:,.0f} MiB after pandas, {rss_gx:,.0f} MiB after GX"
    )
    print(
        f"GX / pandas = {gx_total / pandas_total:.2f}x; pandas {total_rows / pandas_total:,.0f} rows/s, "
        f"GX {total_rows / gx_total:,.0f} rows/s"
    )
    if disagree:
        raise SystemExit(f"pandas and GX disagree on failing rows of: {', '.join(disagree)}")
    print("pandas and GX agree: same failing rows for every rule of every extract")


if __name__ == "__main__":
    main()
