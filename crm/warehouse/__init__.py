"""The warehouse: a SQLAlchemy URL (DuckDB file by default, PostgreSQL in production).

Tables are declared once with SQLAlchemy Core; ``schema`` puts them in a named schema (tests use one per
test). DuckDB allows a single writing process, so writes open a short-lived connection and retry while
another step holds the file lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

log = logging.getLogger(__name__)

metadata = sa.MetaData()

ingest_files = sa.Table(
    "ingest_files",
    metadata,
    sa.Column("file_name", sa.String(80), nullable=False),
    sa.Column("extract", sa.String(40), nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64)),
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("encoding", sa.String(16)),
    sa.Column("records", sa.BigInteger),
    sa.Column("control_column", sa.String(40)),
    sa.Column("control_sum", sa.String(32)),
    sa.Column("type_error_rows", sa.BigInteger),
    # accepted | unchanged (same file seen again) | superseded (a higher sequence exists) | rejected
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32)),  # machine code of a rejection: control_total, truncated, encoding ...
    sa.Column("error", sa.Text),
    sa.Column("raw_path", sa.Text),
    sa.Column("run_id", sa.String(64)),
    sa.Column("recorded_at", sa.DateTime(timezone=False), nullable=False),
    comment="Every extract file the ingest saw, once per time it was seen: history, never updated.",
)


def make_engine(url: str) -> sa.Engine:
    if url.startswith("duckdb"):
        return sa.create_engine(url, poolclass=sa.pool.NullPool)
    return sa.create_engine(url, pool_pre_ping=True)


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


@contextmanager
def begin(engine: sa.Engine, schema: str | None = None, *, wait_seconds: float = 120.0) -> Iterator[sa.Connection]:
    """A transaction; on DuckDB waits while another process holds the file lock."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            conn = engine.connect()
            break
        except sa.exc.DBAPIError as e:
            if not _is_lock_error(e) or time.monotonic() > deadline:
                raise
            log.info("warehouse is locked by another step; retrying in %.2fs", delay)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    try:
        if schema:
            conn = conn.execution_options(schema_translate_map={None: schema})
        with conn.begin():
            yield conn
    finally:
        conn.close()


def ensure_schema(engine: sa.Engine, schema: str | None = None) -> None:
    with begin(engine, schema) as conn:
        if schema:
            conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
        metadata.create_all(conn, checkfirst=True)
