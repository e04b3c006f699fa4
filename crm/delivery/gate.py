"""The send gate: a message is sent only if a passing leak scan covers exactly the bytes it carries.

The leak scans (the month's reports, the auditors' report after it is rendered, the weekly digests) record
the SHA-256 of every file and every e-mail subject they scanned in ``leak_scan_files`` (append-only), with
whether that scan passed. Delivery hashes the very bytes it puts into a message (the HTML, the PDF, the
subject) inside the message builder and asks :func:`coverage`: a part whose bytes no passing scan covers is
not sent, and its outbox row becomes ``held`` with the reason (:class:`Held`). Because the check is made on
the bytes read for the message, nothing can change between the check and the send: a file rewritten after
its scan has other bytes, hence another hash, hence no passing scan.

- ``method`` ``values``: the bytes were scanned against the raw zone's personal values (names, ID numbers,
  mobiles, cards, e-mails, addresses); ``structural``: the content was built only from validated
  identifiers and constant text, with no data value (e.g. a run-failure notice), and is recorded as such by
  the code that built it.
- ``source``: what was scanned, never its content: a path relative to ``CRM_HOME/reports``
  (``2026-01/key_account/S000009.html``, :func:`source_label`) or a label such as
  ``subject:key_account:2026-01:S000009`` (:func:`subject_label`).
- The verdict on some bytes is their **latest** scan (``scanned_at``; on a tie, a failing scan wins): a
  later failing scan of the same bytes (the raw zone gained the value they hold) withdraws the coverage.

Plain Python and SQLAlchemy Core; runs on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from crm.warehouse import append_frame, begin, metadata

VALUES, STRUCTURAL = "values", "structural"
METHODS = (VALUES, STRUCTURAL)
_SHA = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 500

leak_scan_files = sa.Table(
    "leak_scan_files",
    metadata,
    sa.Column("sha256", sa.String(64), nullable=False),  # of the exact bytes scanned
    sa.Column("source", sa.Text, nullable=False),  # relative path or label; never content
    sa.Column("period", sa.String(20)),  # 2026-01, 2026-Q1, 2026-W05
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("findings", sa.Integer, nullable=False),  # personal values found in these bytes
    sa.Column("method", sa.String(16), nullable=False),  # values | structural
    sa.Column("run_id", sa.String(64)),
    sa.Column("scanned_at", sa.DateTime(timezone=False), nullable=False),  # naive UTC
    sa.Index("ix_leak_scan_files_sha256", "sha256"),
    comment="Send gate: the SHA-256 of every file and subject a leak scan covered, and its verdict.",
)


class Held(Exception):
    """Raised by a message builder: a part of the message is not covered by a passing scan. ``reason`` is
    what the outbox row's ``last_error`` says (sources and verdicts, never content)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def subject_bytes(subject: str) -> bytes:
    """The bytes of a subject as the gate hashes them (UTF-8)."""
    return subject.encode("utf-8")


def subject_label(report: str, period: str, recipient_id: str) -> str:
    """The ``source`` of an outbox row's subject: ``subject:<report>:<period>:<recipient_id>``."""
    return f"subject:{report}:{period}:{recipient_id}"


def source_label(path: str | Path, root: str | Path | None) -> str:
    """The ``source`` of a file: its path relative to ``root`` (POSIX separators) when it lies under it,
    else the path as given."""
    p = Path(path)
    if root is not None:
        try:
            return p.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return p.as_posix()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def ensure_gate(conn: sa.Connection) -> None:
    """Create ``leak_scan_files`` if missing (in the connection's schema)."""
    leak_scan_files.create(conn, checkfirst=True)


def record_scans(conn: sa.Connection, rows: list[dict]) -> int:
    """Append scan results inside the caller's transaction; returns the number of rows.

    Each row: ``sha256`` (64 lower-case hex digits), ``source`` (non-empty), ``passed`` (bool),
    ``findings`` (int >= 0; a passing scan has none), ``method`` (``values`` or ``structural``), and
    optionally ``period``, ``run_id``, ``scanned_at`` (naive UTC; default now). ``ValueError`` on a malformed
    row (nothing is written then). The table must exist: ``crm.warehouse.ensure_schema`` (which every
    warehouse resource runs) or :func:`ensure_gate` creates it."""
    if not rows:
        return 0
    now = _now()
    clean = []
    for i, r in enumerate(rows):
        sha, source, method = r.get("sha256"), r.get("source"), r.get("method", VALUES)
        passed, findings = r.get("passed"), r.get("findings", 0)
        if not isinstance(sha, str) or not _SHA.match(sha):
            raise ValueError(f"scan row {i}: sha256 must be 64 lower-case hex digits")
        if not isinstance(source, str) or not source:
            raise ValueError(f"scan row {i}: source must be a non-empty text")
        if method not in METHODS:
            raise ValueError(f"scan row {i}: method must be one of {', '.join(METHODS)}")
        if not isinstance(passed, bool) or not isinstance(findings, int) or findings < 0:
            raise ValueError(f"scan row {i}: passed must be a bool and findings an int >= 0")
        if passed and findings:
            raise ValueError(f"scan row {i}: a scan with findings cannot pass")
        clean.append(
            {
                "sha256": sha,
                "source": source,
                "period": r.get("period"),
                "passed": passed,
                "findings": findings,
                "method": method,
                "run_id": r.get("run_id"),
                "scanned_at": r.get("scanned_at") or now,
            }
        )
    return append_frame(conn, leak_scan_files, pd.DataFrame(clean))


def _has_table(conn: sa.Connection) -> bool:
    from crm.warehouse import schema_of

    return sa.inspect(conn).has_table(leak_scan_files.name, schema=schema_of(conn))


def coverage(conn: sa.Connection, sha256s: Iterable[str]) -> dict[str, bool]:
    """The verdict on each of ``sha256s`` that was ever scanned: True when its latest scan passed (a passing
    scan of those exact bytes exists and none failed after it), False when its latest scan failed. A hash
    that was never scanned is missing from the result."""
    wanted = sorted(set(sha256s))
    if not wanted or not _has_table(conn):
        return {}
    t = leak_scan_files.c
    latest: dict[str, tuple[dt.datetime, bool]] = {}
    for i in range(0, len(wanted), _CHUNK):
        stmt = sa.select(t.sha256, t.passed, t.scanned_at).where(t.sha256.in_(wanted[i : i + _CHUNK]))
        for sha, passed, at in conn.execute(stmt):
            seen = latest.get(sha)
            if seen is None or at > seen[0]:
                latest[sha] = (at, bool(passed))
            elif at == seen[0]:
                latest[sha] = (at, seen[1] and bool(passed))  # a tie: a failing scan wins
    return {sha: v[1] for sha, v in latest.items()}


def scanned_sources(conn: sa.Connection, sources: Iterable[str]) -> set[str]:
    """Which of ``sources`` some scan has recorded (with any bytes)."""
    wanted = sorted(set(sources))
    if not wanted or not _has_table(conn):
        return set()
    t = leak_scan_files.c
    out: set[str] = set()
    for i in range(0, len(wanted), _CHUNK):
        out.update(
            s for (s,) in conn.execute(sa.select(t.source).where(t.source.in_(wanted[i : i + _CHUNK])).distinct())
        )
    return out


@dataclass(frozen=True)
class SendGate:
    """The check a message builder makes on the bytes it is about to send. ``root``: the folder that file
    sources are relative to (``CRM_HOME/reports``), as the scans record them."""

    engine: sa.Engine
    schema: str | None = None
    root: Path | None = None

    def label(self, path: str | Path) -> str:
        return source_label(path, self.root)

    def require(self, parts: Mapping[str, bytes]) -> dict[str, str]:
        """``parts``: source label -> the exact bytes going into the message. Returns label -> SHA-256 when a
        passing scan covers every part; raises :class:`Held` naming each part that is not covered and why:
        ``the scan of <source> found personal data`` (its latest scan failed), ``<source> changed since it
        was scanned`` (never scanned with these bytes, but with others), ``<source> was never scanned``."""
        hashes = {label: sha256_of(data) for label, data in parts.items()}
        with begin(self.engine, self.schema) as conn:
            verdict = coverage(conn, hashes.values())
            uncovered = [label for label, sha in hashes.items() if sha not in verdict]
            known = scanned_sources(conn, uncovered) if uncovered else set()
        reasons = []
        for label, sha in hashes.items():
            if verdict.get(sha) is True:
                continue
            if sha in verdict:
                reasons.append(f"the scan of {label} found personal data")
            elif label in known:
                reasons.append(f"{label} changed since it was scanned")
            else:
                reasons.append(f"{label} was never scanned")
        if reasons:
            raise Held("; ".join(reasons))
        return hashes


__all__ = [
    "METHODS",
    "STRUCTURAL",
    "VALUES",
    "Held",
    "SendGate",
    "coverage",
    "ensure_gate",
    "leak_scan_files",
    "record_scans",
    "scanned_sources",
    "sha256_of",
    "source_label",
    "subject_bytes",
    "subject_label",
]
