"""Generator and ingest throughput on month-end extracts, next to DuckDB's bare ``read_csv`` parse.

    .venv/bin/python bench/ingest.py --customers 100000 1000000 [--date 2026-01-31] [--work bench/out]

For each bank size: generate the month-end business date's extracts (timed), then for every file time
(a) our ingest: checksum, header/trailer controls, strict decoding, typed parse, lineage, Parquet to raw/
(:func:`crm.ingest.load.ingest_partition`, file registry in DuckDB) and (b) DuckDB parsing the same file
into a table with the contract's column types (the floor). Prints a table and the ratio ingest / DuckDB.
UTF-8 only: DuckDB cannot read GB18030 without an extension it would download.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import time
from pathlib import Path

import duckdb

from crm.contract import BY_FILE_CODE, Extract
from crm.ingest.fileformat import FileName
from crm.ingest.load import ingest_partition
from crm.synthetic import generate
from crm.warehouse import ensure_schema, make_engine
from crm.zones import landing_dir

DUCK_TYPES = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "decimal": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "bool": "VARCHAR",
}


def duckdb_parse_seconds(con: duckdb.DuckDBPyConnection, path: Path, extract: Extract) -> float:
    cols = ", ".join(f"'{c.name}': '{DUCK_TYPES[c.type]}'" for c in extract.columns)
    # skip the header record; the trailer has too few fields and is dropped by ignore_errors
    sql = (
        f"CREATE OR REPLACE TEMP TABLE t AS SELECT * FROM read_csv('{path}', delim='|', quote='\"', "
        f"header=false, skip=1, columns={{{cols}}}, ignore_errors=true, timestampformat='%Y-%m-%d %H:%M:%S')"
    )
    t = time.perf_counter()
    con.execute(sql)
    return time.perf_counter() - t


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(customers: int, day: dt.date, work: Path) -> dict:
    root = work / f"bank_{customers}"
    if root.exists():
        shutil.rmtree(root)
    landing = root / "landing"
    t = time.perf_counter()
    generate(landing, customers=customers, start=day, end=day, seed=7, progress=True)
    gen_s = time.perf_counter() - t
    files = sorted(landing_dir(landing, day).glob("*.dat"))
    size = sum(f.stat().st_size for f in files)

    engine = make_engine(f"duckdb:///{root / 'warehouse.duckdb'}")
    ensure_schema(engine)
    con = duckdb.connect()
    rows_total = ingest_total = duck_total = 0.0
    print(
        f"\n{customers:,} customers, business date {day}: generated {len(files)} files, "
        f"{size / 2**20:,.0f} MiB in {gen_s:,.1f} s"
    )
    print(f"{'file':<34}{'rows':>12}{'MiB':>8}{'ingest s':>10}{'duckdb s':>10}{'ratio':>7}{'rows/s':>12}")
    for f in files:
        extract = BY_FILE_CODE[FileName.parse(f.name).file_code]
        t = time.perf_counter()
        out = ingest_partition(extract, day, landing=landing, raw=root / "raw", engine=engine, run_id="bench")
        ing = time.perf_counter() - t
        assert out.status == "accepted", out.error
        duck = duckdb_parse_seconds(con, f, extract)
        rows_total += out.records
        ingest_total += ing
        duck_total += duck
        print(
            f"{f.name:<34}{out.records:>12,}{f.stat().st_size / 2**20:>8.1f}{ing:>10.2f}{duck:>10.2f}"
            f"{ing / duck if duck else 0:>7.2f}{out.records / ing if ing else 0:>12,.0f}"
        )
    print(
        f"{'TOTAL':<34}{rows_total:>12,.0f}{size / 2**20:>8.0f}{ingest_total:>10.2f}{duck_total:>10.2f}"
        f"{ingest_total / duck_total:>7.2f}{rows_total / ingest_total:>12,.0f}"
    )
    print(
        f"generator: {rows_total / gen_s:,.0f} rows/s; ingest: {rows_total / ingest_total:,.0f} rows/s; "
        f"DuckDB parse: {rows_total / duck_total:,.0f} rows/s; ingest/DuckDB = {ingest_total / duck_total:.2f}x; "
        f"peak RSS so far {peak_rss_mib():,.0f} MiB"
    )
    engine.dispose()
    return {
        "customers": customers,
        "files": len(files),
        "mib": size / 2**20,
        "rows": rows_total,
        "generate_s": gen_s,
        "ingest_s": ingest_total,
        "duckdb_s": duck_total,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--date", default="2026-01-31", help="a month-end business date")
    ap.add_argument("--work", default="bench/out")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()
    work = Path(args.work)
    results = [bench(n, dt.date.fromisoformat(args.date), work) for n in args.customers]
    print("\nsummary")
    print(
        f"{'customers':>10}{'files':>7}{'MiB':>8}{'rows':>13}{'gen s':>9}{'gen rows/s':>12}{'ingest s':>10}"
        f"{'ingest rows/s':>15}{'duckdb s':>10}{'ratio':>7}"
    )
    for r in results:
        print(
            f"{r['customers']:>10,}{r['files']:>7}{r['mib']:>8.0f}{r['rows']:>13,.0f}{r['generate_s']:>9.1f}"
            f"{r['rows'] / r['generate_s']:>12,.0f}{r['ingest_s']:>10.1f}{r['rows'] / r['ingest_s']:>15,.0f}"
            f"{r['duckdb_s']:>10.1f}{r['ingest_s'] / r['duckdb_s']:>7.2f}"
        )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
