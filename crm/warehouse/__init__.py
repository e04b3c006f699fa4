"""The warehouse: a SQLAlchemy URL (DuckDB file by default, PostgreSQL in production).

Tables are declared once with SQLAlchemy Core; ``schema`` puts them in a named schema (tests use one per
test). DuckDB allows a single writing process, so writes open a short-lived connection and retry while
another step holds the file lock.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pandas as pd
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


# ---------------------------------------------------------------------------------------- data quality
# Evidence for auditors. Every table is history: rows are appended per run and never updated, so "what was
# checked on date D, by which suite version, and where did every row go" has one answer per run. The current
# state of a partition is the rows of its latest run (see docs/auditors.md for the queries). No table holds a
# value from the data: rows are named by source file and row number only.

dq_rules = sa.Table(
    "dq_rules",
    metadata,
    sa.Column("suite_version", sa.String(16), nullable=False),
    sa.Column("rule_id", sa.String(120), nullable=False),
    sa.Column("extract", sa.String(40), nullable=False),
    sa.Column("family", sa.String(20), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("columns", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=False), nullable=False),
    comment="The rule catalogue of each suite version (per extract), recorded the first time it was used.",
)

dq_rule_results = sa.Table(
    "dq_rule_results",
    metadata,
    sa.Column("run_id", sa.String(64)),
    sa.Column("partition_key", sa.String(10), nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("extract", sa.String(40), nullable=False),
    sa.Column("source_files", sa.Text),
    sa.Column("file_sha256", sa.Text),
    sa.Column("suite_version", sa.String(16), nullable=False),
    sa.Column("engine", sa.String(10), nullable=False),
    sa.Column("rule_id", sa.String(120), nullable=False),
    sa.Column("family", sa.String(20), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("success", sa.Boolean),  # null: not evaluated (see skipped_reason)
    sa.Column("evaluated", sa.BigInteger, nullable=False),
    sa.Column("failed", sa.BigInteger, nullable=False),
    sa.Column("skipped_reason", sa.Text),
    sa.Column("recorded_at", sa.DateTime(timezone=False), nullable=False),
    comment="One row per run, partition, extract and rule: the verdict of the suite. History, never updated.",
)

dq_file_outcomes = sa.Table(
    "dq_file_outcomes",
    metadata,
    sa.Column("run_id", sa.String(64)),
    sa.Column("extract", sa.String(40), nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("source_file", sa.String(80)),
    sa.Column("sha256", sa.String(64)),
    sa.Column("suite_version", sa.String(16), nullable=False),
    sa.Column("parsed", sa.BigInteger, nullable=False),
    sa.Column("accepted", sa.BigInteger, nullable=False),
    sa.Column("quarantined", sa.BigInteger, nullable=False),
    sa.Column("accepted_with_warnings", sa.BigInteger, nullable=False),
    sa.Column("balanced", sa.Boolean, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=False), nullable=False),
    comment="Per run and source file: parsed = accepted + quarantined. History, never updated.",
)

dq_quarantine = sa.Table(
    "dq_quarantine",
    metadata,
    sa.Column("run_id", sa.String(64)),
    sa.Column("extract", sa.String(40), nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("source_file", sa.String(80)),
    sa.Column("sha256", sa.String(64)),
    sa.Column("row_number", sa.BigInteger, nullable=False),
    sa.Column("rule_ids", sa.Text, nullable=False),  # every failing rule, comma-separated, sorted
    sa.Column("recorded_at", sa.DateTime(timezone=False), nullable=False),
    comment="The quarantine index: which row of which file was held back, and why. No raw value: the rows "
    "themselves stay in the restricted raw zone. History, never updated.",
)

dq_partition_gates = sa.Table(
    "dq_partition_gates",
    metadata,
    sa.Column("run_id", sa.String(64)),
    sa.Column("extract", sa.String(40), nullable=False),
    sa.Column("partition_key", sa.String(10), nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("parsed", sa.BigInteger, nullable=False),
    sa.Column("quarantined", sa.BigInteger, nullable=False),
    sa.Column("share_threshold", sa.Float, nullable=False),  # 0.02 = 2 % of the parsed rows
    sa.Column("rows_threshold", sa.BigInteger, nullable=False),
    # True when quarantined > share_threshold * parsed AND quarantined > rows_threshold, or rows are unaccounted
    sa.Column("blocked", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(40)),  # quarantine_over_threshold | rows_unaccounted | null
    sa.Column("recorded_at", sa.DateTime(timezone=False), nullable=False),
    comment="The blocking verdict of each staged partition, per run: its checks stop downstream work when "
    "blocked. The current verdict of a partition is its latest row by recorded_at. History, never updated.",
)

dq_text_cleaning = sa.Table(
    "dq_text_cleaning",
    metadata,
    sa.Column("run_id", sa.String(64)),
    sa.Column("extract", sa.String(40), nullable=False),
    sa.Column("partition_key", sa.String(10), nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("column_name", sa.String(40), nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),  # accepted rows whose text was cleaned
    sa.Column("characters", sa.BigInteger, nullable=False),  # control/format characters replaced or removed
    sa.Column("recorded_at", sa.DateTime(timezone=False), nullable=False),
    comment="Free-text columns (text policy 'strip'): per run, partition and column, how many control and "
    "format characters were taken out of accepted rows before staging (line breaks and tabs became a space). "
    "No value. History, never updated.",
)

dq_arrivals = sa.Table(
    "dq_arrivals",
    metadata,
    sa.Column("run_id", sa.String(64)),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("extract", sa.String(40), nullable=False),
    sa.Column("expected_by", sa.DateTime(timezone=False), nullable=False),  # bank time (Asia/Shanghai)
    sa.Column("file_name", sa.String(80)),
    sa.Column("arrived_at", sa.DateTime(timezone=False)),  # bank time, from the .ok flag
    sa.Column("status", sa.String(10), nullable=False),  # on_time | late | missing | pending
    sa.Column("recorded_at", sa.DateTime(timezone=False), nullable=False),
    comment="Expected extracts of each business date and when (or whether) they arrived. History.",
)


raw_purges = sa.Table(
    "raw_purges",
    metadata,
    sa.Column("run_id", sa.String(64)),
    sa.Column("extract", sa.String(40), nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("zone", sa.String(20), nullable=False),  # raw | raw/_quarantine
    sa.Column("file", sa.String(80), nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("purged_at", sa.DateTime(timezone=False), nullable=False),
    comment="Raw-zone partitions deleted by the retention job, and why. History, never updated.",
)

retention_purges = sa.Table(
    "retention_purges",
    metadata,
    sa.Column("run_id", sa.String(64)),  # the retention run (or "cli")
    sa.Column("zone", sa.String(20), nullable=False),  # reports | outbox | dq | dagster
    sa.Column("item", sa.Text, nullable=False),  # path relative to the zone folder, or the Dagster run id
    sa.Column("judged_by", sa.Date, nullable=False),  # the period end or date in the path; a run's end date
    sa.Column("retention_days", sa.Integer, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),  # freed on disk (a database's rows are not counted)
    sa.Column("purged_at", sa.DateTime(timezone=False), nullable=False),
    comment="Files of reports/, outbox/, dq/ and Dagster runs deleted by the retention job (crm.retention). "
    "History, never updated; no data value.",
)


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url``. A PostgreSQL URL without a driver (``postgresql://`` or ``postgres://``) is
    given psycopg 3 (``postgresql+psycopg://``), the driver the COPY loads need; SQLAlchemy alone would pick
    psycopg2.

    On DuckDB, SQLAlchemy's NUMERIC values pass as ``Decimal`` both ways: duckdb_engine declares no native
    decimal support, so SQLAlchemy would send a ``Decimal`` parameter as a float and turn a result back into
    a ``Decimal`` through a float, losing cents from 16 significant digits on (a balance of
    8821447814506964.77 was stored as ...964.48 and read as ...964.00); the duckdb driver takes and gives
    ``Decimal`` exactly."""
    if url.startswith("duckdb"):
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        engine.dialect.supports_native_decimal = True
        return engine
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            url = "postgresql+psycopg://" + url[len(bare) :]
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
    """Create ``schema`` (if given) and every declared table missing from it. On PostgreSQL the transaction
    first takes an advisory lock, so steps that start together on a new warehouse create its tables one
    after the other (two concurrent ``CREATE TABLE`` of one name collide in the catalogue); DuckDB allows one
    writing process anyway."""
    with begin(engine, schema) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('crm.warehouse.ensure_schema'))"))
        if schema:
            conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
        metadata.create_all(conn, checkfirst=True)


def schema_of(conn: sa.Connection) -> str | None:
    """The schema the connection's tables live in (PostgreSQL tests and deployments may set one), or None."""
    return (conn.get_execution_options().get("schema_translate_map") or {}).get(None)


def has_table(conn: sa.Connection, name: str) -> bool:
    """Whether the table ``name`` exists in the connection's schema."""
    return sa.inspect(conn).has_table(name, schema=schema_of(conn))


def uses_copy(conn: sa.Connection) -> bool:
    """Whether loads on ``conn`` go through ``COPY ... FROM STDIN``: PostgreSQL through psycopg 3."""
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def _copy_values(series: pd.Series) -> list:
    """The column as Python values for psycopg, every missing value (None, NaN, NaT, pd.NA) as None.

    ``tolist`` gives Python scalars for numpy columns (int, float, bool) and ``pd.Timestamp`` (a ``datetime``)
    for datetime columns; psycopg's text dumpers write them, and escape tabs, newlines and backslashes."""
    values = series.tolist()
    missing = series.isna().to_numpy()
    if missing.any():
        values = [None if m else v for v, m in zip(values, missing, strict=True)]
    return values


def copy_frame(conn: sa.Connection, name: str, frame: pd.DataFrame, integer_columns: Iterable[str] = ()) -> int:
    """Write the rows of ``frame`` into the existing table ``name`` (in the connection's schema) with
    ``COPY ... FROM STDIN`` (text format) on the psycopg 3 connection under ``conn``, so the rows belong to the
    caller's transaction. Only the frame's columns are named; the table's other columns take their default.
    ``integer_columns``: columns of an integer type in the table; a float column of the frame going into one is
    rounded to integers first (COPY does not read ``3.0`` as an integer; an INSERT would have cast it).
    Returns the number of rows."""
    from psycopg import sql

    if frame.empty:
        return 0
    integer = set(integer_columns)
    schema = schema_of(conn)
    target = sql.Identifier(schema, name) if schema else sql.Identifier(name)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        target, sql.SQL(", ").join(sql.Identifier(str(c)) for c in frame.columns)
    )
    columns = []
    for col in frame.columns:
        series = frame[col]
        if col in integer and series.dtype.kind == "f":
            series = series.round().astype("Int64")
        columns.append(_copy_values(series))
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in zip(*columns, strict=True):
            copy.write_row(row)
    return len(frame)


def append_frame(conn: sa.Connection, table: sa.Table, df: pd.DataFrame) -> int:
    """Append the rows of ``df`` (columns named as the table's; missing ones null) inside the caller's
    transaction. DuckDB reads the frame directly (one INSERT ... SELECT); PostgreSQL through psycopg 3 gets
    one ``COPY ... FROM STDIN`` (:func:`copy_frame`); any other database one executemany. Returns the number
    of rows."""
    if df.empty:
        return 0
    cols = [c.name for c in table.columns]
    frame = df.reindex(columns=cols)
    if conn.dialect.name == "duckdb":
        raw = conn.connection.driver_connection
        view = f"_append_{uuid.uuid4().hex}"
        schema = schema_of(conn)
        target = f'"{schema}"."{table.name}"' if schema else f'"{table.name}"'
        names = ", ".join(f'"{c}"' for c in cols)
        raw.register(view, frame)
        try:
            raw.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {view}")
        finally:
            raw.unregister(view)
    elif uses_copy(conn):
        copy_frame(conn, table.name, frame, [c.name for c in table.columns if isinstance(c.type, sa.Integer)])
    else:
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        conn.execute(sa.insert(table), records)
    return len(frame)
