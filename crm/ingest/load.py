"""Load one extract for one business date from landing/ into the raw zone, recording every file seen.

Rules:
- Only files with their ``.ok`` flag count as arrived. The highest sequence for a date wins (a restatement).
- The file is parsed and checked completely before anything is written (:func:`read_extract`).
- Parquet goes to ``raw/<extract>/<YYYY-MM-DD>.parquet`` (:func:`crm.zones.raw_file`) atomically
  (:func:`crm.atomic.write_parquet`: temporary file, then rename).
- A rejected file changes nothing in raw/: the partition keeps its last good state.
- Seeing the same file again (same name and checksum, raw partition present) rewrites nothing.
- Every file seen is appended to the ``ingest_files`` table with its outcome.
- Paths are built by :func:`crm.zones.safe_path`: a landed file that a symlink leads out of ``landing/`` is
  neither read nor hashed; as the latest file it is recorded ``rejected`` with reason ``unsafe_path`` (the
  partition keeps its last good state). A raw partition path that a symlink leads out of ``raw/`` raises
  :class:`crm.zones.UnsafePathError`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from crm.atomic import write_parquet
from crm.contract import Extract
from crm.ingest.fileformat import ExtractRejected, FileName, _format_sum, read_extract, sha256_file
from crm.warehouse import begin, ingest_files
from crm.zones import UnsafePathError, landing_dir, landing_name, raw_file, safe_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LandedFile:
    path: Path
    name: FileName

    @property
    def ok_flag(self) -> Path:
        return self.path.with_suffix(".ok")


@dataclass
class IngestOutcome:
    extract: str
    business_date: dt.date
    status: str  # accepted | unchanged | rejected | missing | not_sent (no file, dated before the extract's since)
    file_name: str | None = None
    sequence: int | None = None
    sha256: str | None = None
    records: int | None = None
    type_error_rows: int | None = None
    reason: str | None = None
    error: str | None = None
    raw_path: Path | None = None
    superseded: list[str] = field(default_factory=list)

    def metadata(self) -> dict:
        """Counts, names and checksums only: never a value from the file."""
        out = {"status": self.status, "business_date": self.business_date.isoformat()}
        for k in ("file_name", "sequence", "sha256", "records", "type_error_rows", "reason", "error"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        if self.superseded:
            out["superseded"] = ", ".join(self.superseded)
        return out


def unsafe_landed(landing: Path, landed: LandedFile) -> str | None:
    """Why ``landed`` may not be read (a symlink leads it, or its folder, out of ``landing``), or None."""
    try:
        safe_path(landing, landed.path.parent.name, landed.path.name, origin=f"landing file {landed.path.name}")
    except UnsafePathError as e:
        return str(e)
    return None


def find_landed(landing: Path, extract: Extract, business_date: dt.date) -> list[LandedFile]:
    """Arrived files (with ``.ok``) of this extract and date, lowest sequence first."""
    try:
        folder = landing_dir(landing, business_date)
    except UnsafePathError:  # the date folder leads out of landing/: its files are refused one by one
        folder = landing / landing_name(business_date)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.glob(f"{extract.file_code}_{business_date:%Y%m%d}_*.dat"):
        fn = FileName.parse(p.name)
        if fn and fn.file_code == extract.file_code and p.with_suffix(".ok").exists():
            found.append(LandedFile(p, fn))
    return sorted(found, key=lambda f: f.name.sequence)


def _last_loaded(conn: sa.Connection, extract: Extract, business_date: dt.date):
    t = ingest_files
    return conn.execute(
        sa.select(t.c.file_name, t.c.sha256, t.c.sequence, t.c.records, t.c.type_error_rows)
        .where(
            t.c.extract == extract.name, t.c.business_date == business_date, t.c.status.in_(("accepted", "unchanged"))
        )
        .order_by(t.c.recorded_at.desc(), t.c.sequence.desc())
        .limit(1)
    ).first()


def seen_files(conn: sa.Connection, file_names) -> set[str]:
    """Which of these file names the registry has already recorded (any status)."""
    names = sorted(set(file_names))
    seen: set[str] = set()
    for i in range(0, len(names), 1000):
        chunk = names[i : i + 1000]
        rows = conn.execute(sa.select(ingest_files.c.file_name).where(ingest_files.c.file_name.in_(chunk)).distinct())
        seen.update(r[0] for r in rows)
    return seen


def _dictionary_columns(extract: Extract) -> list[str]:
    """Low-cardinality columns worth dictionary encoding: codes, dates and the per-file lineage."""
    coded = [c.name for c in extract.columns if c.code_set or c.type == "date"]
    return [*coded, "_source_file", "_sha256", "_business_date"]


def ingest_partition(
    extract: Extract,
    business_date: dt.date,
    *,
    landing: Path,
    raw: Path,
    engine: sa.Engine,
    schema: str | None = None,
    run_id: str | None = None,
) -> IngestOutcome:
    landed = find_landed(landing, extract, business_date)
    if not landed:
        return IngestOutcome(extract.name, business_date, "missing" if extract.sent_on(business_date) else "not_sent")
    unsafe = {f.path.name: why for f in landed if (why := unsafe_landed(landing, f))}
    latest = landed[-1]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    target = raw_file(raw, extract.name, business_date)
    base = {
        "extract": extract.name,
        "business_date": business_date,
        "run_id": run_id,
        "recorded_at": now,
    }

    with begin(engine, schema) as conn:
        already = seen_files(conn, [f.path.name for f in landed[:-1]])
        superseded = [f for f in landed[:-1] if f.path.name not in already]
        previous = _last_loaded(conn, extract, business_date)
    rows = [
        {
            **base,
            "file_name": f.path.name,
            "sequence": f.name.sequence,
            "sha256": None if f.path.name in unsafe else sha256_file(f.path),
            "size_bytes": None if f.path.name in unsafe else f.path.stat().st_size,
            "status": "superseded",
            "error": f"a higher sequence ({latest.name.sequence:03d}) exists for this date",
        }
        for f in superseded
    ]
    outcome = IngestOutcome(
        extract.name,
        business_date,
        "accepted",
        latest.path.name,
        latest.name.sequence,
        superseded=[f.path.name for f in superseded],
    )
    if latest.path.name in unsafe:  # not read, not hashed: the partition keeps its last good state
        outcome.status, outcome.reason, outcome.error = "rejected", "unsafe_path", unsafe[latest.path.name]
        log.error("rejected %s", outcome.error)
        rows.append(
            {
                **base,
                "file_name": latest.path.name,
                "sequence": latest.name.sequence,
                "status": "rejected",
                "reason": "unsafe_path",
                "error": outcome.error,
            }
        )
        _record(engine, schema, rows)
        return outcome
    size = latest.path.stat().st_size

    sha = sha256_file(latest.path) if previous is not None else None
    if previous is not None and previous.file_name == latest.path.name and previous.sha256 == sha and target.exists():
        outcome.status, outcome.sha256, outcome.raw_path = "unchanged", sha, target
        outcome.records, outcome.type_error_rows = previous.records, previous.type_error_rows
        rows.append(
            {
                **base,
                "file_name": latest.path.name,
                "sequence": latest.name.sequence,
                "sha256": sha,
                "size_bytes": size,
                "status": "unchanged",
                "raw_path": str(target),
                "records": previous.records,
                "type_error_rows": previous.type_error_rows,
                "error": "same file as the loaded one; raw partition left as it is",
            }
        )
    else:
        try:
            parsed = read_extract(latest.path, extract)
        except ExtractRejected as e:
            outcome.status, outcome.reason, outcome.error = "rejected", e.reason, str(e)
            outcome.sha256 = sha or sha256_file(latest.path)
            log.error("rejected %s", e)
            rows.append(
                {
                    **base,
                    "file_name": latest.path.name,
                    "sequence": latest.name.sequence,
                    "sha256": outcome.sha256,
                    "size_bytes": size,
                    "status": "rejected",
                    "reason": e.reason,
                    "error": str(e),
                }
            )
        else:
            write_parquet(parsed.table, target, _dictionary_columns(extract))
            h = parsed.header
            outcome.sha256, outcome.records = parsed.sha256, parsed.records
            outcome.type_error_rows, outcome.raw_path = parsed.type_error_rows, target
            scale = extract.column(h.control_column).scale if h.control_column else 2
            rows.append(
                {
                    **base,
                    "file_name": parsed.file_name,
                    "sequence": h.sequence,
                    "sha256": parsed.sha256,
                    "size_bytes": parsed.size_bytes,
                    "encoding": h.encoding,
                    "records": parsed.records,
                    "control_column": h.control_column,
                    "control_sum": _format_sum(h.control_sum, scale),
                    "type_error_rows": parsed.type_error_rows,
                    "status": "accepted",
                    "raw_path": str(target),
                }
            )
    _record(engine, schema, rows)
    return outcome


def _record(engine: sa.Engine, schema: str | None, rows: list[dict]) -> None:
    columns = [c.name for c in ingest_files.columns]
    with begin(engine, schema) as conn:
        conn.execute(sa.insert(ingest_files), [{c: r.get(c) for c in columns} for r in rows])
