"""The whole pipeline, end to end, for banks of several sizes: how its cost grows with the bank.

    .venv/bin/python bench/e2e.py [--customers 10000 100000 1000000] [--date 2026-01-31] [--seed 7]
                                  [--out bench/out/e2e]

For each size: generate the bank's extracts for one month-end business date (``crm generate --start D --end
D``: every daily extract of the date, the month-end extracts with the loan-performance initial load of 36
months and the financial statements), then run the pipeline as ``crm run --date D`` does (the daily and the
month-end jobs, in a fresh local Dagster instance and a fresh DuckDB warehouse: ingest, data quality with
Great Expectations, masking, customer 360, risk, scorecard training and scoring, value, warnings, cross-sell,
revisits, satisfaction, manager scorecards). Reports are not rendered here: their cost is per recipient and
page, measured by ``bench/reports.py``.

Prints per asset the step time (from the instance's event log), the total wall time, the peak resident memory
of the whole process tree (this process, the forkserver and every step process, sampled every 0.5 s from
/proc), rows per second over the records of the date's files, and DuckDB's bare ``read_csv`` parse of the
same files as a floor. Then the ratios between consecutive sizes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.proc import tree_rss_kib  # noqa: E402  (after the path)


class PeakSampler(threading.Thread):
    def __init__(self, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak, self.peak_at, self._done = interval, 0, 0.0, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            kib = tree_rss_kib(os.getpid())
            if kib > self.peak:
                self.peak, self.peak_at = kib, time.time()
            self._done.wait(self.interval)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def duckdb_floor(landing: Path, day: dt.date) -> tuple[float, int]:
    """DuckDB's bare parse of the date's files (seconds, records), as in bench/ingest.py."""
    import duckdb

    from bench.ingest import DUCK_TYPES
    from crm.contract import EXTRACTS

    con = duckdb.connect()
    seconds, records = 0.0, 0
    folder = landing / day.strftime("%Y%m%d")
    for e in EXTRACTS:
        cols = ", ".join(f"'{c.name}': '{DUCK_TYPES[c.type]}'" for c in e.columns)
        for path in sorted(folder.glob(f"{e.file_code}_*.dat")):
            # as bench/ingest.py, with the dialect given (no sniffing: it fails on some small files)
            sql = (
                f"CREATE OR REPLACE TEMP TABLE t AS SELECT * FROM read_csv('{path}', delim='|', quote='\"', "
                f"escape='\"', header=false, skip=1, auto_detect=false, columns={{{cols}}}, "
                "ignore_errors=true, timestampformat='%Y-%m-%d %H:%M:%S')"
            )
            t = time.perf_counter()
            con.execute(sql)
            seconds += time.perf_counter() - t
            records += con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
    return seconds, records


def run_size(customers: int, day: dt.date, seed: int, out: Path) -> dict:
    from crm.synthetic import generate

    root = out / f"bank_{customers}"
    if root.exists():
        shutil.rmtree(root)
    home, dagster_dir = root / "home", root / "dagster"
    t0 = time.perf_counter()
    generate(home / "landing", customers=customers, start=day, end=day, seed=seed, progress=True)
    gen_s = time.perf_counter() - t0
    floor_s, records = duckdb_floor(home / "landing", day)

    os.environ.update(CRM_HOME=str(home), CRM_DAGSTER_DIR=str(dagster_dir), CRM_ENV="local")
    os.environ.pop("DAGSTER_HOME", None)
    import dagster as dg

    from orchestration.runner import configure_dagster_home, run_dates

    configure_dagster_home()
    sampler = PeakSampler()
    sampler.start()
    t0 = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        summaries = run_dates(day, day, instance=instance, skip=("monthly_reports", "quarterly_satisfaction"))
        wall = time.perf_counter() - t0
        steps: dict[str, float] = {}
        spans: dict[str, tuple[float, float]] = {}
        for s in summaries:
            starts = {}
            for entry in instance.all_logs(s.run_id):
                ev = entry.dagster_event
                if ev is None:
                    continue
                if ev.event_type_value == "STEP_START":
                    starts[ev.step_key] = entry.timestamp
                elif ev.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and ev.step_key in starts:
                    key = ev.step_key.replace("__", "/")
                    steps[key] = entry.timestamp - starts[ev.step_key]
                    spans[key] = (starts[ev.step_key], entry.timestamp)
    peak = sampler.stop()
    # the steps running when the process tree peaked (a step's process outlives its STEP_SUCCESS event briefly)
    at_peak = sorted(k for k, (a, b) in spans.items() if a - 1 <= sampler.peak_at <= b + 1)
    return {
        "customers": customers,
        "generate_s": gen_s,
        "records": records,
        "duckdb_floor_s": floor_s,
        "wall_s": wall,
        "peak_mib": peak / 1024,
        "steps": steps,
        "steps_at_peak": at_peak,
        "ok": all(s.success for s in summaries),
        "runs": [(s.job, s.success) for s in summaries],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--date", default="2026-01-31")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path("bench/out/e2e"))
    ap.add_argument("--keep", action="store_true", help="keep each bank's folder (default: removed after)")
    args = ap.parse_args()
    day = dt.date.fromisoformat(args.date)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.customers:
        # each size in its own process: the definitions (and the step processes' forkserver) read CRM_HOME
        # when first loaded
        result_file = args.out.resolve() / f"result_{n}.json"
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--_one",
                str(n),
                day.isoformat(),
                str(args.seed),
                str(args.out.resolve()),
                str(result_file),
            ],
            check=False,
        )
        if not result_file.exists():
            print(f"{n:,} customers: the run did not finish (see its output above)")
            results.append({"customers": n, "ok": False})
            continue
        r = json.loads(result_file.read_text())
        results.append(r)
        print(
            f"\n{n:,} customers, business date {day}: {r['records']:,} records; generated in "
            f"{r['generate_s']:.1f} s; runs {r['runs']}"
        )
        for key, sec in sorted(r["steps"].items(), key=lambda kv: -kv[1])[:25]:
            print(f"  {key:<44}{sec:>9.1f} s")
        print(
            f"  total wall {r['wall_s']:.1f} s, {r['records'] / r['wall_s']:,.0f} records/s; peak RSS of the "
            f"process tree {r['peak_mib']:,.0f} MiB; DuckDB bare parse {r['duckdb_floor_s']:.1f} s "
            f"({r['wall_s'] / r['duckdb_floor_s']:.1f}x)"
        )
        print(f"  steps running at the peak: {', '.join(r.get('steps_at_peak') or ['none'])}")
        if not args.keep:
            shutil.rmtree(args.out / f"bank_{n}", ignore_errors=True)
    done = [r for r in results if "wall_s" in r]
    if len(done) > 1:
        print("\nscaling")
        for a, b in zip(done, done[1:], strict=False):
            print(
                f"  {a['customers']:,} -> {b['customers']:,} customers ({b['customers'] / a['customers']:.0f}x): "
                f"time {b['wall_s'] / a['wall_s']:.2f}x, records {b['records'] / a['records']:.2f}x, peak memory "
                f"{b['peak_mib'] / a['peak_mib']:.2f}x"
            )
    sys.exit(0 if all(r["ok"] for r in results) else 1)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--_one":
        _, _, n, d, seed, out, result_path = sys.argv
        Path(result_path).write_text(json.dumps(run_size(int(n), dt.date.fromisoformat(d), int(seed), Path(out))))
    else:
        main()
