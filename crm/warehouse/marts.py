"""Marts: tables people query (scores, ratios, groups, reconciliations), loaded idempotently per partition.

:func:`replace_partition` deletes the rows of one partition (e.g. ``month_end = 2026-01-31``) and inserts the
new ones in the caller's transaction, creating the table from the frame's columns the first time. DuckDB
reads the frame directly; PostgreSQL (psycopg 3) gets one ``COPY ... FROM STDIN`` (:func:`crm.warehouse.copy_frame`);
any other database a multi-row insert through pandas.
"""

from __future__ import annotations

import uuid

import pandas as pd
import sqlalchemy as sa

from crm.warehouse import copy_frame, has_table, schema_of, uses_copy


def _quoted(conn: sa.Connection, name: str) -> str:
    schema = schema_of(conn)
    return f'"{schema}"."{name}"' if schema else f'"{name}"'


def replace_partition(conn: sa.Connection, name: str, frame: pd.DataFrame, partition: dict[str, object]) -> int:
    """Replace the rows of ``name`` where every ``partition`` column equals its value by ``frame`` (whose
    partition columns must hold those values). Returns the rows inserted."""
    for col, value in partition.items():
        if col not in frame.columns:
            raise KeyError(f"{name}: partition column {col!r} missing from the frame")
        if len(frame) and not (frame[col] == value).all():
            raise ValueError(f"{name}: rows outside the partition {col} = {value!r}")
    where = " AND ".join(f'"{c}" = :{c}' for c in partition)
    target = _quoted(conn, name)
    existing = _add_new_columns(conn, name, frame)
    if conn.dialect.name == "duckdb":
        raw = conn.connection.driver_connection
        view = f"_mart_{uuid.uuid4().hex}"
        # an object column with no value would make a column of type NULL, which no later value fits: text,
        # or, for a partition column of an empty frame, the type of the partition's value
        empty = [c for c in frame.columns if frame[c].dtype == object and frame[c].isna().all()]
        if empty:
            frame = frame.astype({c: _empty_dtype(partition.get(c)) for c in empty})
        raw.register(view, frame)
        try:
            raw.execute(f"CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM {view} WHERE false")
            conn.execute(sa.text(f"DELETE FROM {target} WHERE {where}"), partition)
            raw.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {view}")
        finally:
            raw.unregister(view)
        return len(frame)
    schema = schema_of(conn)
    types = _sql_types(frame, partition)
    if existing is None:  # the first load creates the table from the frame's columns
        frame.head(0).to_sql(name, conn, schema=schema, if_exists="append", index=False, dtype=types)
    conn.execute(sa.text(f"DELETE FROM {target} WHERE {where}"), partition)
    if uses_copy(conn):
        integer = [c["name"] for c in existing or [] if isinstance(c["type"], sa.Integer)]
        return copy_frame(conn, name, frame, integer)
    frame.to_sql(
        name, conn, schema=schema, if_exists="append", index=False, method="multi", chunksize=2000, dtype=types
    )
    return len(frame)


def _column_type(series: pd.Series) -> str:
    """A portable SQL type for a new column of ``series`` (DuckDB and PostgreSQL both accept these)."""
    import datetime as dt

    kind = series.dtype.kind
    if kind == "b" or str(series.dtype) == "boolean":
        return "BOOLEAN"
    if kind in "iu":
        return "BIGINT"
    if kind == "f":
        return "DOUBLE PRECISION"
    if kind == "M":
        return "TIMESTAMP"
    first = series.dropna().head(1)
    if len(first) and isinstance(first.iloc[0], dt.date) and not isinstance(first.iloc[0], dt.datetime):
        return "DATE"
    return "TEXT"


def _add_new_columns(conn: sa.Connection, name: str, frame: pd.DataFrame) -> list[dict] | None:
    """Schema evolution of an existing mart: columns of ``frame`` the table lacks are added (nullable; earlier
    partitions read NULL there). Columns the frame lacks stay and get NULL in the new rows. Returns the table's
    columns as they were before (SQLAlchemy inspector entries), or None when there is no such table yet."""
    existing = (
        sa.inspect(conn).get_columns(name, schema=schema_of(conn))
        if sa.inspect(conn).has_table(name, schema=schema_of(conn))
        else None
    )
    if existing is None:
        return None
    have = {c["name"] for c in existing}
    for col in frame.columns:
        if col not in have:
            conn.execute(sa.text(f'ALTER TABLE {_quoted(conn, name)} ADD COLUMN "{col}" {_column_type(frame[col])}'))
    return existing


def _sql_types(frame: pd.DataFrame, partition: dict[str, object] | None = None) -> dict[str, object]:
    """Column types pandas would not infer: dates held as ``datetime.date`` objects (pandas makes TEXT), and
    the partition columns of an empty frame, typed by the partition's value (a first month with no rows
    must not make ``month_end`` a TEXT column that no later ``month_end = <date>`` matches)."""
    import datetime as dt

    out = {}
    for col in frame.columns:
        if frame[col].dtype == object:
            first = frame[col].dropna().head(1)
            if len(first) and isinstance(first.iloc[0], dt.date) and not isinstance(first.iloc[0], dt.datetime):
                out[col] = sa.Date()
            elif not len(first) and col in (partition or {}):
                value = partition[col]
                if isinstance(value, dt.datetime):
                    out[col] = sa.DateTime()
                elif isinstance(value, dt.date):
                    out[col] = sa.Date()
    return out


def _empty_dtype(value: object):
    """The pandas dtype DuckDB reads as the SQL type of a partition value (text when it is not a date)."""
    import datetime as dt

    import pyarrow as pa

    if isinstance(value, dt.datetime):
        return "datetime64[us]"
    if isinstance(value, dt.date):
        return pd.ArrowDtype(pa.date32())
    return "string"


# DuckDB's integer types that fit an int64 (its ``.df()`` gives Int16/Int32 for the smaller ones)
_DUCKDB_INTEGERS = {"tinyint", "smallint", "integer", "bigint", "utinyint", "usmallint", "uinteger"}


def read_table(
    conn: sa.Connection, name: str, where: dict[str, object] | None = None, columns: list[str] | None = None
) -> pd.DataFrame:
    """The rows of ``name`` where every ``where`` column equals its value, with the table's columns (only those
    of ``columns`` the table has, in that order, when given). DuckDB hands the result to pandas
    column by column (``.df()``: a million-row mart in about a second); other databases go through
    ``pd.read_sql``.

    Integer and decimal columns come back alike from both engines:

    - an integer column (SMALLINT, INTEGER, BIGINT) is ``int64``, or pandas' nullable ``Int64`` when it holds a
      NULL, with every value exact (``pd.read_sql`` alone would make it ``float64``, which rounds integers
      above 2**53, and DuckDB gives ``Int32`` for an INTEGER);
    - a DECIMAL/NUMERIC column is ``float64``, each value the double nearest to the stored decimal (what
      callers compute with; ``pd.read_sql`` gives that, DuckDB's ``.df()`` divides the scaled integer and
      misses the nearest double for some values of 16 or more significant digits, so DuckDB casts in SQL).
      An amount with up to 15 significant digits (below 10**13 with cents) reads back exactly as written.
      The marts hold money as DOUBLE, read back bit for bit.
    """
    if conn.dialect.name == "duckdb":
        clause = (" WHERE " + " AND ".join(f'"{c}" = ${c}' for c in where)) if where else ""
        raw = conn.connection.driver_connection
        kinds = {d[0]: d[1].id for d in raw.execute(f"SELECT * FROM {_quoted(conn, name)} LIMIT 0").description}
        if columns is not None:
            kinds = {c: kinds[c] for c in columns if c in kinds}
        columns = (
            ", ".join(f'CAST("{c}" AS DOUBLE) AS "{c}"' if k == "decimal" else f'"{c}"' for c, k in kinds.items())
            if "decimal" in kinds.values() or columns is not None
            else "*"
        )
        frame = raw.execute(f"SELECT {columns} FROM {_quoted(conn, name)}{clause}", dict(where or {})).df()
        return _exact_integers(frame, [c for c, k in kinds.items() if k in _DUCKDB_INTEGERS])
    clause = (" WHERE " + " AND ".join(f'"{c}" = :{c}' for c in where)) if where else ""
    select = "*"
    if columns is not None:
        have = {c["name"] for c in sa.inspect(conn).get_columns(name, schema=schema_of(conn))}
        select = ", ".join(f'"{c}"' for c in columns if c in have)
    result = conn.execute(sa.text(f"SELECT {select} FROM {_quoted(conn, name)}{clause}"), where or {})
    columns, rows = list(result.keys()), result.fetchall()
    frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)  # as pd.read_sql builds it
    types = {c["name"]: c["type"] for c in sa.inspect(conn).get_columns(name, schema=schema_of(conn))}
    integers = [c for c in columns if isinstance(types.get(c), sa.Integer)]
    for col in integers:  # from the Python ints, not from the float64 column pandas made of them
        i = columns.index(col)
        frame[col] = pd.array([row[i] for row in rows], dtype="Int64")
    for col in columns:  # NUMERIC and DOUBLE: float64 also when every value is NULL (pandas: object)
        if isinstance(types.get(col), sa.Numeric) and not isinstance(types.get(col), sa.Integer):
            frame[col] = frame[col].astype("float64")
    return _exact_integers(frame, integers)


def _exact_integers(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``columns`` as ``int64``, or ``Int64`` where a value is missing."""
    for col in columns:
        series = frame[col]
        dtype = "Int64" if series.isna().any() else "int64"
        if series.dtype != dtype:
            frame[col] = series.astype(dtype)
    return frame


def read_month(conn: sa.Connection, name: str, month_end: object, columns: list[str] | None = None) -> pd.DataFrame:
    """The rows of mart ``name`` of one month end, or an empty frame (with ``columns``) when the mart has
    never been written (e.g. a bank too small for a scorecard has no ``credit_scores``)."""
    if not has_table(conn, name):
        return pd.DataFrame(columns=columns or [])
    return read_table(conn, name, {"month_end": month_end})


def read_month_columns(conn: sa.Connection, name: str, month_end: object, columns: list[str]) -> pd.DataFrame:
    """The rows of mart ``name`` of one month end with only those of ``columns`` the mart has (a month of a
    million-row mart without its other columns), or an empty frame with ``columns`` when the mart has never
    been written."""
    if not has_table(conn, name):
        return pd.DataFrame(columns=columns)
    return read_table(conn, name, {"month_end": month_end}, columns)


def read_latest_month(conn: sa.Connection, name: str, day: object, *, before: bool = False) -> pd.DataFrame:
    """The rows of the latest month end on or before ``day`` (strictly before with ``before``) of mart
    ``name``, or an empty frame when there is none (or the mart has never been written)."""
    if not has_table(conn, name):
        return pd.DataFrame()
    op = "<" if before else "<="
    last = conn.execute(
        sa.text(f"SELECT max(month_end) FROM {_quoted(conn, name)} WHERE month_end {op} :d"), {"d": day}
    ).scalar()
    return read_table(conn, name, {"month_end": last}) if last is not None else pd.DataFrame()
