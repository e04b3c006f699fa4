"""The month-end marts of an N-customer bank, through the real Dagster assets, one process.

    .venv/bin/python bench/marts.py [--customers 1000000] [--date 2026-01-31] [--seed 7]
                                    [--cache bench/out/marts] [--fresh]

Builds (or reuses from ``--cache``) what the marts read, as ``crm generate`` would write it for one bank:

- every extract of the month end ``--date`` and of the month end before it (the comparison date of the
  early-warning rules); each extract's first file carries its initial load as an installation's first files
  do (loan performance 36 month-ends, deposit balances and monthly transactions 24, the bureau's pulls of 24
  months, the fee ledger 12 months): the 12-month window customer value reads;
- the transactions and fee-ledger extracts of every day of the 90 days up to the month end (the window of the
  behaviour rule; the fees of the window's last months);

ingested to raw Parquet by :func:`crm.ingest.load.ingest_partition` and staged with the privacy policy
(:func:`crm.privacy.apply.protect`, free text scrubbed of names). Staging here skips the data-quality
validation, which ``bench/quality.py`` measures; the staged files are what the marts read either way.

Then materialises, in one process (``dg.materialize``, steps in order), every month-end mart of the pipeline
for the month: customer_360, five_class_reconciliation, financial_ratios, related_party_groups,
satisfaction, credit_scores, customer_value, early_warnings, cross_sell, revisit_plan, manager_scorecards,
customer_needs.
No scorecard is trained (the bank has two month ends, not the 13-month development window), so credit_scores
materialises with no rows and customer value uses the configured PD for unscored borrowers; the scoring path
at 1,000,000 customers is measured by ``bench/scoring.py --bank`` (35.1 s, docs/benchmarks.md).

Prints the time per asset (from the step events), the total, rows written and the peak resident memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MARTS = [
    "marts/customer_360",
    "marts/five_class_reconciliation",
    "marts/financial_ratios",
    "marts/related_party_groups",
    "marts/satisfaction",
    "marts/credit_scores",
    "marts/customer_value",
    "marts/early_warnings",
    "marts/cross_sell",
    "marts/revisit_plan",
    "marts/manager_scorecards",
    "marts/customer_needs",
]


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: reset by exec, unlike ru_maxrss, which a child started
    with subprocess keeps from its parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


STAGE_PIECE_ROWS = 5_000_000  # a raw partition of more rows is staged in pieces of this many


def previous_month_end(day: dt.date) -> dt.date:
    return day.replace(day=1) - dt.timedelta(days=1)


def build(root: Path, customers: int, day: dt.date, seed: int, resume: bool = False) -> dict:
    """Generate, ingest and stage the bank into ``root`` (a CRM_HOME) unless a finished build is there.
    ``resume``: keep what an interrupted build left (the landing files once all are generated, raw and staged
    partitions already written) and do the rest."""
    marker = root / "bank.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        print(
            f"reusing {root} (generated {info['generate_s']:.0f} s, ingested {info['ingest_s']:.0f} s, "
            f"staged {info['stage_s']:.0f} s)"
        )
        return info
    if root.exists() and not resume:
        shutil.rmtree(root)
    from tqdm import tqdm

    from crm import contract
    from crm.atomic import write_frame
    from crm.ingest.load import ingest_partition
    from crm.privacy.apply import protect
    from crm.privacy.names import row_names
    from crm.privacy.tokens import ensure_local_ring
    from crm.synthetic import cal
    from crm.synthetic.bank import Bank
    from crm.synthetic.generate import _chunks
    from crm.synthetic.writer import write_chunks
    from crm.warehouse import ensure_schema, make_engine
    from crm.zones import CrmHome, raw_file, staged_file

    home = CrmHome(root).ensure()
    before = previous_month_end(day)
    first_txn = day - dt.timedelta(days=89)
    files = [(d, e) for d in (before, day) for e in contract.EXTRACTS if e.sent_on(d)]
    files += [
        (first_txn + dt.timedelta(days=i), contract.get(name))
        for name in ("transactions", "fee_ledger")
        for i in range((day - first_txn).days + 1)
    ]
    files = sorted({(d, e.name): (d, e) for d, e in files}.values(), key=lambda x: (x[0], x[1].name))
    # each extract's first file carries its initial load, as an installation's first files do
    first: dict[str, dt.date] = {}
    for d, e in files:
        first.setdefault(e.name, d)

    t0 = time.perf_counter()
    generated = (root / "generated.json").exists()
    if resume and not generated and all(raw_file(home.raw, e.name, d).exists() for d, e in files):
        generated = True  # an earlier build got past generating and ingesting (its time is in its log)
        (root / "generated.json").write_text(json.dumps({"generate_s": float("nan")}) + "\n")
    if not generated:
        bank = Bank(seed, customers, min(first_txn, before), day)
        for d, e in tqdm(files, desc="generating", unit="file"):
            write_chunks(
                _chunks(bank, e.name, cal.day(d), d == first[e.name]), e, d, home.landing / d.strftime("%Y%m%d")
            )
        del bank
        (root / "generated.json").write_text(json.dumps({"generate_s": time.perf_counter() - t0}) + "\n")
    gen_s = json.loads((root / "generated.json").read_text())["generate_s"]

    engine = make_engine(home.warehouse_url)
    ensure_schema(engine)
    t0 = time.perf_counter()
    for d, e in tqdm(files, desc="ingesting", unit="file"):
        if resume and raw_file(home.raw, e.name, d).exists():
            continue
        out = ingest_partition(e, d, landing=home.landing, raw=home.raw, engine=engine, run_id="bench-marts")
        if out.status != "accepted":
            raise RuntimeError(f"{e.name} {d}: ingest {out.status}: {out.error}")
    ingest_s = time.perf_counter() - t0
    engine.dispose()
    shutil.rmtree(home.landing)
    home.landing.mkdir()
    (root / "ingested.json").write_text(json.dumps({"ingest_s": ingest_s}) + "\n")

    import pandas as pd

    ring, _, _ = ensure_local_ring(home.root)
    t0 = time.perf_counter()
    import pyarrow.parquet as pq

    from crm.atomic import PartWriter

    for d, e in tqdm(files, desc="staging", unit="file"):
        target = staged_file(home.staged, e.name, d)
        if resume and target.exists():
            continue
        source = pq.ParquetFile(raw_file(home.raw, e.name, d))
        if source.metadata.num_rows <= STAGE_PIECE_ROWS:
            frame = pd.read_parquet(raw_file(home.raw, e.name, d))
            frame = frame.drop(columns=[c for c in ("_type_errors",) if c in frame.columns])
            staged = protect(frame, e.name, ring, d, names=row_names(frame, e.name, home.raw, d))
            write_frame(staged.reset_index(drop=True), target)
            continue
        # an initial load of tens of millions of rows: staged piece by piece (what the pipeline's staging does)
        writer = PartWriter(target)
        for batch in source.iter_batches(batch_size=STAGE_PIECE_ROWS):
            frame = batch.to_pandas()
            frame = frame.drop(columns=[c for c in ("_type_errors",) if c in frame.columns])
            writer.add(
                protect(frame, e.name, ring, d, names=row_names(frame, e.name, home.raw, d)).reset_index(drop=True)
            )
        writer.finish()
    stage_s = time.perf_counter() - t0
    info = {
        "customers": customers,
        "date": day.isoformat(),
        "comparison_date": before.isoformat(),
        "seed": seed,
        "files": len(files),
        "generate_s": gen_s,
        "ingest_s": ingest_s,
        "stage_s": stage_s,
    }
    marker.write_text(json.dumps(info, indent=2) + "\n")
    print(f"generated {len(files)} files in {gen_s:.1f} s, ingested in {ingest_s:.1f} s, staged in {stage_s:.1f} s")
    return info


def run_marts(root: Path, day: dt.date) -> None:
    os.environ["CRM_HOME"] = str(root)
    os.environ.pop("CRM_WAREHOUSE_URL", None)
    import dagster as dg

    from assets import all_assets
    from orchestration.resources import resources_for

    keys = [dg.AssetKey.from_user_string(k) for k in MARTS]
    t0 = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            all_assets,
            selection=keys,
            partition_key=day.replace(day=1).isoformat(),
            resources=resources_for(),
            instance=instance,
            raise_on_error=False,
        )
        total = time.perf_counter() - t0
        logs = instance.all_logs(result.run_id)
    starts, rows = {}, {}
    print(f"\n{'asset':<36}{'seconds':>10}{'rows':>14}")
    for entry in logs:
        e = entry.dagster_event
        if e is None:
            continue
        if e.event_type_value == "STEP_START":
            starts[e.step_key] = entry.timestamp
        elif e.event_type_value == "ASSET_MATERIALIZATION":
            m = e.event_specific_data.materialization
            rows[m.asset_key.to_user_string()] = m.metadata.get("dagster/row_count")
        elif e.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            key = e.step_key.replace("__", "/")
            n = rows.get(key)
            print(
                f"{key:<36}{entry.timestamp - starts[e.step_key]:>10.1f}{(f'{n.value:,}' if n else ''):>14}"
                f"{'' if e.event_type_value == 'STEP_SUCCESS' else '  FAILED'}"
            )
            if e.event_type_value == "STEP_FAILURE":
                print(e.event_specific_data.error.to_string()[:2000])
    print(f"{'total (materialize, one process)':<36}{total:>10.1f}")
    print(f"peak RSS {peak_rss_mib():,.0f} MiB; success: {result.success}")
    if not result.success:
        sys.exit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--date", default="2026-01-31", help="a month-end business date")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cache", default="bench/out/marts")
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--resume", action="store_true", help="go on with an interrupted build")
    args = ap.parse_args()
    day = dt.date.fromisoformat(args.date)
    root = (Path(args.cache) / f"bank_{args.customers}_{day:%Y%m%d}_s{args.seed}").resolve()
    if args.fresh and root.exists():
        shutil.rmtree(root)
    build(root, args.customers, day, args.seed, resume=args.resume)
    print(f"after the build: peak RSS {peak_rss_mib():,.0f} MiB (the marts run below is a fresh process)")
    # the marts in a child process so that its peak memory is its own
    import subprocess

    proc = subprocess.run([sys.executable, __file__, "--_run", str(root), day.isoformat()], check=False)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--_run":
        run_marts(Path(sys.argv[2]), dt.date.fromisoformat(sys.argv[3]))
    else:
        main()
