"""A canonical text snapshot of one pipeline run over a fixed synthetic bank: what "behaviour unchanged" means.

    .venv/bin/python bench/snapshot.py --home DIR --out DIR [--customers 1500] [--seed 42]
                                       [--from 2024-02-26] [--to 2024-03-31] [--snapshot-only]

Run it on two checkouts (each first on PYTHONPATH) with the same arguments and ``diff -r`` the two --out
folders: identical folders mean the same warehouse, the same staged files and the same mail.

Left out or rewritten, by rule (nothing else; each rule is what two runs of one commit were found to differ by):

- every column named ``run_id`` or ending in ``_at`` (``recorded_at``, ``created_at``, ``rendered_at``,
  ``sent_at``, ``scanned_at``, ...), except ``arrived_at`` (``dq_arrivals``: a landing file's time stamp,
  which the generator sets from the business date): Dagster's random run id and the wall-clock time of a
  step;
- the hashes of rendered report files, whose bytes hold the wall-clock time they were rendered (``生成时间``
  and ``dcterms.created`` in the HTML, and so in the PDF): ``report_outbox.content_sha256``,
  ``report_outbox.latest_sha256``, ``leak_scan_files.sha256`` (its subject rows' hash goes too: the subject
  itself is compared in ``report_outbox.subject`` and outbox.csv);
- rewritten: in ``model_version`` (``credit_scores``, ``scorecard_drift``), the scorecard's wall-clock
  creation stamp ``YYYYMMDDTHHMMSSZ`` becomes ``<created>``; the trained month and the digest of the
  scorecard table before and after it are kept;
- rewritten: in every text value, the absolute path of --home becomes ``<home>`` (``ingest_files.raw_path``,
  ``report_outbox.html_path``/``pdf_path``/``eml_path`` differ only by where the run was made);

and the rows' order (rows are sorted by all their remaining values, columns by name), which no reader relies
on. Everything is read as text: DuckDB casts each value to VARCHAR (a double as its shortest round-trip
decimal); SQL NULL is written ``\\N``.

What it does:

1. generates the bank (``crm.synthetic.generate``, what ``crm generate`` calls) for every calendar day
   --from..--to into DIR/landing. The default range, 2024-02-26 .. 2024-03-31, holds two month ends
   (February and March), a quarter close (Q1) and whole weeks Monday..Sunday, so every job runs;
2. writes a fixed local masking key ring to DIR/masking-keys.json (locally a missing ring is created with a
   random key, and every token would differ run to run);
3. runs ``crm --home DIR run --from .. --to ..`` in a new process with CRM_ENV=local (DuckDB warehouse
   DIR/warehouse.duckdb, reports and .eml files on disk), CRM_EXECUTOR=in_process and a fresh local Dagster
   instance in DIR/dagster; its log goes to DIR/run.log, the console gets the runs' summary lines only;
4. writes into --out: ``warehouse/<schema>.<table>.csv`` for every table of the warehouse,
   ``staged/<path>.csv`` for every Parquet file under DIR/staged, and ``outbox.csv``: report, period,
   recipient_id, status (from the ``report_outbox`` table) and Subject of every .eml file in DIR/outbox.

The console shows counts only: no value from the data (the raw zone is never read; staged data is masked).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import email
import email.policy
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NULL = "\\N"
FIRST, LAST = "2024-02-26", "2024-03-31"
# the rule of the module docstring
KEPT_AT = {"arrived_at"}
RENDERED_HASHES = {
    ("report_outbox", "content_sha256"),
    ("report_outbox", "latest_sha256"),
    ("leak_scan_files", "sha256"),
}
STAMPED = {"model_version"}  # a scorecard version: <month>-<YYYYMMDDTHHMMSSZ>-<digest of its table>
STAMP_RE = r"[0-9]{8}T[0-9]{6}Z"


def left_out(table: str, column: str) -> bool:
    """Whether a column is left out of the snapshot."""
    return (
        column == "run_id" or (column.endswith("_at") and column not in KEPT_AT) or (table, column) in RENDERED_HASHES
    )


def _text(column: str) -> str:
    """SQL for a kept column's canonical text: as VARCHAR, the home path and a scorecard's creation stamp
    rewritten, NULL as \\N."""
    sql = f"replace(CAST({_quote(column)} AS VARCHAR), $home, '<home>')"
    if column in STAMPED:
        sql = f"regexp_replace({sql}, '{STAMP_RE}', '<created>')"
    return f"coalesce({sql}, $null) AS {_quote(column)}"


def fixed_ring(home: Path) -> None:
    """A fixed key ring where the local resource looks for one (a benchmark key, not a secret)."""
    from crm.privacy.tokens import LOCAL_KEY_FILE, KeyRing, save_ring

    key = hashlib.sha256(b"credit-crm bench/snapshot.py fixed masking key").digest()
    save_ring(KeyRing(keys={"k1": key}, current="k1"), home / LOCAL_KEY_FILE)


def run_pipeline(home: Path, first: str, last: str) -> tuple[int, float]:
    """``crm --home HOME run --from FIRST --to LAST`` in a new process; (exit code, seconds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "DAGSTER_"))}
    env.update(
        CRM_ENV="local",
        CRM_EXECUTOR="in_process",
        CRM_DAGSTER_DIR=str(home / "dagster"),
        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    cmd = [
        sys.executable,
        "-c",
        "import sys; from crm.cli import main; sys.argv[0] = 'crm'; main()",
        "--home",
        str(home),
        "run",
        "--from",
        first,
        "--to",
        last,
    ]
    log = home / "run.log"
    t0 = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True, check=False)
    seconds = time.perf_counter() - t0
    with log.open("a") as fh:
        fh.write(proc.stdout)
    for line in proc.stdout.splitlines():
        # the summary lines: job, partitions, state, run id, names of failed steps and checks (no data)
        if line.startswith(("  ", "running business dates")):
            print(f"  {line.strip()}")
    return proc.returncode, seconds


def _write_csv(path: Path, header: list[str], rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _canonical(con, source: str, table: str, columns: list[str], home: Path) -> tuple[list[str], list[tuple]]:
    """Header and rows of ``source`` (a relation), every kept column as text with the home path replaced,
    columns by name, rows sorted."""
    kept = sorted(c for c in columns if not left_out(table, c))
    if not kept:
        return [], []
    sel = ", ".join(_text(c) for c in kept)
    rows = con.execute(f"SELECT {sel} FROM {source} ORDER BY ALL", {"home": str(home), "null": NULL}).fetchall()
    return kept, rows


def snapshot_warehouse(home: Path, out: Path) -> tuple[int, int]:
    import duckdb

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        tables = con.execute(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY ALL"
        ).fetchall()
        n_rows = 0
        for schema, name, kind in tables:
            columns = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                    "AND table_catalog = current_database()",
                    [schema, name],
                ).fetchall()
            ]
            header, rows = _canonical(con, f"{_quote(schema)}.{_quote(name)}", name, columns, home)
            dropped = sorted(set(columns) - set(header))
            _write_csv(out / "warehouse" / f"{schema}.{name}.csv", header, rows)
            n_rows += len(rows)
            note = f"  (left out: {', '.join(dropped)})" if dropped else ""
            print(
                f"  {schema}.{name}{' [view]' if kind != 'BASE TABLE' else ''}: {len(rows):,} rows, "
                f"{len(header)} columns{note}"
            )
        return len(tables), n_rows
    finally:
        con.close()


def snapshot_staged(home: Path, out: Path) -> tuple[int, int]:
    import duckdb

    con = duckdb.connect()
    files = sorted((home / "staged").rglob("*.parquet"))
    n_rows, per_folder = 0, {}
    for path in files:
        rel = path.relative_to(home / "staged")
        source = f"read_parquet({_quote_literal(str(path))})"
        columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        header, rows = _canonical(con, source, rel.parts[0], columns, home)
        _write_csv(out / "staged" / rel.with_suffix(".csv"), header, rows)
        n_rows += len(rows)
        files_rows = per_folder.setdefault(rel.parts[0], [0, 0])
        files_rows[0] += 1
        files_rows[1] += len(rows)
    con.close()
    for folder, (n, r) in sorted(per_folder.items()):
        print(f"  staged/{folder}: {n} files, {r:,} rows")
    return len(files), n_rows


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def snapshot_outbox(home: Path, out: Path) -> int:
    """One row per .eml: its outbox key, the outbox row's status, its Subject."""
    import duckdb

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        status = {
            (r, p, i): s
            for r, p, i, s in con.execute(
                "SELECT report, CAST(period AS VARCHAR), recipient_id, status FROM report_outbox"
            ).fetchall()
        }
    finally:
        con.close()
    rows = []
    for path in sorted((home / "outbox").rglob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        key = (msg["X-CRM-Report"], msg["X-CRM-Period"], msg["X-CRM-Recipient"])
        rows.append((*key, status.get(key, NULL), str(msg["Subject"])))
    rows.sort()
    _write_csv(out / "outbox.csv", ["report", "period", "recipient_id", "status", "subject"], rows)
    return len(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True, help="CRM_HOME of the run (new or empty)")
    ap.add_argument("--out", type=Path, required=True, help="snapshot folder (new or empty)")
    ap.add_argument("--customers", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--from", dest="first", default=FIRST)
    ap.add_argument("--to", dest="last", default=LAST)
    ap.add_argument("--snapshot-only", action="store_true", help="HOME holds a finished run: only snapshot it")
    args = ap.parse_args()
    home, out = args.home.resolve(), args.out.resolve()
    if out.exists() and any(out.iterdir()):
        ap.error(f"--out {out} is not empty")
    import crm

    print(f"code: {Path(crm.__file__).resolve().parent.parent}")
    code = 0
    if not args.snapshot_only:
        if home.exists() and any(home.iterdir()):
            ap.error(f"--home {home} is not empty")
        from crm.synthetic import generate

        first, last = dt.date.fromisoformat(args.first), dt.date.fromisoformat(args.last)
        t0 = time.perf_counter()
        summary = generate(home / "landing", customers=args.customers, start=first, end=last, seed=args.seed)
        print(
            f"generated {args.customers:,} customers (seed {args.seed}), {first}..{last}: {summary['files']} "
            f"files, {sum(summary['rows'].values()):,} records in {time.perf_counter() - t0:.0f} s"
        )
        fixed_ring(home)
        code, seconds = run_pipeline(home, args.first, args.last)
        print(f"pipeline: exit {code} in {seconds:.0f} s (log: {home / 'run.log'})")
    out.mkdir(parents=True, exist_ok=True)
    print("warehouse")
    tables, rows = snapshot_warehouse(home, out)
    print(f"warehouse: {tables} tables, {rows:,} rows")
    print("staged")
    files, srows = snapshot_staged(home, out)
    print(f"staged: {files} files, {srows:,} rows")
    emls = snapshot_outbox(home, out)
    print(f"outbox: {emls} .eml files")
    print(f"snapshot in {out}")
    return code


if __name__ == "__main__":
    sys.exit(main())
