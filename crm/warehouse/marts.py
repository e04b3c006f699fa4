"""Marts: tables people query (scores, ratios, groups, reconciliations), loaded idempotently per partition.

:func:`replace_partition` deletes the rows of one partition (e.g. ``month_end = 2026-01-31``) and inserts the
new ones in the caller's transaction, creating the table from the frame's columns the first time. DuckDB
reads the frame directly; PostgreSQL gets a multi-row insert through pandas.
"""

from __future__ import annotations

import uuid

import pandas as pd
import sqlalchemy as sa

from crm.warehouse import _schema_of


def _quoted(conn: sa.Connection, name: str) -> str:
    schema = _schema_of(conn)
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
    if conn.dialect.name == "duckdb":
        raw = conn.connection.driver_connection
        view = f"_mart_{uuid.uuid4().hex}"
        raw.register(view, frame)
        try:
            raw.execute(f"CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM {view} WHERE false")
            conn.execute(sa.text(f"DELETE FROM {target} WHERE {where}"), partition)
            raw.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {view}")
        finally:
            raw.unregister(view)
        return len(frame)
    schema = _schema_of(conn)
    types = _sql_types(frame)
    frame.head(0).to_sql(name, conn, schema=schema, if_exists="append", index=False, dtype=types)
    conn.execute(sa.text(f"DELETE FROM {target} WHERE {where}"), partition)
    frame.to_sql(name, conn, schema=schema, if_exists="append", index=False, method="multi", chunksize=2000,
                 dtype=types)
    return len(frame)


def _sql_types(frame: pd.DataFrame) -> dict[str, object]:
    """Column types pandas would not infer: dates held as ``datetime.date`` objects (pandas makes TEXT)."""
    import datetime as dt

    out = {}
    for col in frame.columns:
        if frame[col].dtype == object:
            first = frame[col].dropna().head(1)
            if len(first) and isinstance(first.iloc[0], dt.date) and not isinstance(first.iloc[0], dt.datetime):
                out[col] = sa.Date()
    return out


def read_table(conn: sa.Connection, name: str, where: dict[str, object] | None = None) -> pd.DataFrame:
    clause = (" WHERE " + " AND ".join(f'"{c}" = :{c}' for c in where)) if where else ""
    return pd.read_sql(sa.text(f"SELECT * FROM {_quoted(conn, name)}{clause}"), conn, params=where or {})
