"""Bulk loads: awkward values survive ``append_frame`` and ``replace_partition`` unchanged on DuckDB and
PostgreSQL, reloads are idempotent, and PostgreSQL is loaded with ``COPY ... FROM STDIN``, not inserts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa

from crm.warehouse import append_frame, begin, make_engine
from crm.warehouse.marts import read_table, replace_partition

MONTH_END = dt.date(2026, 1, 31)
NAN = float("nan")

# (id, big, amount, share, note, day, stamp, flag): the expected values, None = NULL. The frame built from them
# holds NaN / NaT / pd.NA where a value is missing; `note` has a float NaN in one row and None in another.
ROWS = [
    (
        1,
        2**62 + 1,
        1.5,
        Decimal("1234.5678"),
        "tab\there",
        dt.date(2026, 1, 31),
        dt.datetime(2026, 1, 31, 23, 59, 59, 999999),
        True,
    ),
    (2, None, None, None, None, None, None, None),
    (
        3,
        9_007_199_254_740_993,
        -0.0,
        Decimal("-0.0001"),
        "line1\nline2\r\nline3",
        dt.date(1999, 12, 31),
        dt.datetime(2000, 2, 29, 0, 0, 0, 1),
        False,
    ),
    (
        4,
        -(2**63) + 1,
        1e-300,
        Decimal("0"),
        "back\\slash \\N \\. \\t",
        dt.date(2026, 2, 1),
        dt.datetime(2026, 2, 1, 8, 0),
        True,
    ),
    (
        5,
        0,
        123456789.125,
        Decimal("1.5"),
        "客户经理：张三，信贷 “关注” 类",
        dt.date(2026, 1, 1),
        dt.datetime(2026, 1, 1),
        None,
    ),
    (6, 42, 2.5, Decimal("-99.9900"), "", dt.date(2026, 1, 30), None, False),  # "" is not NULL
    (7, None, NAN, None, NAN, None, None, True),  # NaN in a float and in a text column -> NULL
    (
        8,
        7,
        0.1,
        Decimal("3.1416"),
        "quotes ' \" and ; and , and |",
        dt.date(2026, 1, 29),
        dt.datetime(2026, 1, 29, 12, 30, 15, 250000),
        True,
    ),
]
NAMES = ["id", "big", "amount", "share", "note", "day", "stamp", "flag"]


def _expected(rows=ROWS) -> list[tuple]:
    def clean(v):
        return None if isinstance(v, float) and np.isnan(v) else v

    return [tuple(clean(v) for v in row) for row in rows]


def _frame(rows=ROWS) -> pd.DataFrame:
    """Column by column from Python values (a frame built from the rows would pass the big integers through
    float64 and lose their last digits)."""
    col = dict(zip(NAMES, map(list, zip(*rows, strict=True)), strict=True))
    return pd.DataFrame(
        {
            "id": pd.Series(col["id"], dtype="int64"),
            "big": pd.array(col["big"], dtype="Int64"),
            "amount": pd.Series(col["amount"], dtype="float64"),
            "share": pd.Series(col["share"], dtype=object),
            "note": pd.Series(col["note"], dtype=object),
            "day": pd.Series(col["day"], dtype=object),
            "stamp": pd.to_datetime(pd.Series(col["stamp"], dtype=object)),
            "flag": pd.array(col["flag"], dtype="boolean"),
        }
    )


def test_frame_holds_the_missing_values_the_loads_must_turn_into_null():
    """Guards the fixture itself: NaN, NaT, pd.NA and None all appear in the frame that is loaded."""
    df = _frame()
    assert np.isnan(df.loc[6, "amount"]) and df["big"].isna().sum() == 2 and df["stamp"].isna().sum() == 3
    assert df.loc[0, "big"] == 2**62 + 1 and df["stamp"].dtype.kind == "M" and df["day"].dtype == object
    assert df.loc[1, "note"] is None and isinstance(df.loc[6, "note"], float) and df["flag"].isna().sum() == 2


def _awkward_table() -> sa.Table:
    return sa.Table(
        "awkward_t",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger, nullable=False),
        sa.Column("big", sa.BigInteger),
        sa.Column("amount", sa.Float(53)),
        sa.Column("share", sa.Numeric(18, 4)),
        sa.Column("note", sa.Text),
        sa.Column("day", sa.Date),
        sa.Column("stamp", sa.DateTime(timezone=False)),
        sa.Column("flag", sa.Boolean),
    )


def test_append_frame_round_trips_awkward_values(warehouse):
    table = _awkward_table()
    with begin(warehouse.engine, warehouse.schema) as conn:
        table.create(conn)
        assert append_frame(conn, table, _frame()) == len(ROWS)
    with begin(warehouse.engine, warehouse.schema) as conn:
        got = [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c.id))]
    assert got == _expected()
    assert isinstance(got[0][3], Decimal) and got[0][3] == Decimal("1234.5678")


def test_append_frame_fills_columns_the_frame_lacks_with_null(warehouse):
    table = _awkward_table()
    with begin(warehouse.engine, warehouse.schema) as conn:
        table.create(conn)
        append_frame(conn, table, _frame()[["id", "note"]])
        got = [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c.id))]
    assert got == [(r[0], None, None, None, r[4], None, None, None) for r in _expected()]


def _mart_frame() -> pd.DataFrame:
    """The awkward frame as a mart partition (no decimal column: pandas creates TEXT for it on PostgreSQL
    and DuckDB a DECIMAL, so it is not the same value on both)."""
    return _frame().drop(columns="share").assign(month_end=MONTH_END)


def _select(conn: sa.Connection, warehouse, name: str, columns: list[str], month_end: dt.date) -> list[tuple]:
    """The partition's rows as the driver returns them (pandas would widen a BIGINT with NULLs to float)."""
    names = ", ".join(f'"{c}"' for c in columns)
    query = f"SELECT {names} FROM {_target(warehouse, name)} WHERE month_end = :d ORDER BY id"
    return [tuple(r) for r in conn.execute(sa.text(query), {"d": month_end})]


def test_replace_partition_round_trips_awkward_values_and_reloads_idempotently(warehouse):
    cols = [c for c in NAMES if c != "share"]
    expected = [row[:3] + row[4:] for row in _expected()]
    other = _mart_frame().assign(month_end=dt.date(2026, 2, 28)).head(2)
    with begin(warehouse.engine, warehouse.schema) as conn:
        assert replace_partition(conn, "awkward_mart", _mart_frame(), {"month_end": MONTH_END}) == len(ROWS)
        replace_partition(conn, "awkward_mart", other, {"month_end": dt.date(2026, 2, 28)})
        first = _select(conn, warehouse, "awkward_mart", cols, MONTH_END)
    assert first == expected
    for _ in range(2):  # reloading the partition, twice, leaves the same rows and no duplicates
        with begin(warehouse.engine, warehouse.schema) as conn:
            replace_partition(conn, "awkward_mart", _mart_frame(), {"month_end": MONTH_END})
    with begin(warehouse.engine, warehouse.schema) as conn:
        again = _select(conn, warehouse, "awkward_mart", cols, MONTH_END)
        total = conn.execute(sa.text(f"SELECT count(*) FROM {_target(warehouse, 'awkward_mart')}")).scalar()
        types = {
            c["name"]: str(c["type"]) for c in sa.inspect(conn).get_columns("awkward_mart", schema=warehouse.schema)
        }
    assert again == expected
    assert total == len(ROWS) + len(other)
    # created from the frame's columns: the date column is a DATE, the timestamps a TIMESTAMP
    assert types["day"] == "DATE" and types["month_end"] == "DATE" and types["stamp"].startswith("TIMESTAMP")


def _target(warehouse, name: str) -> str:
    return f'"{warehouse.schema}"."{name}"' if warehouse.schema else f'"{name}"'


def test_replace_partition_rounds_floats_into_an_existing_integer_column(warehouse):
    """A column created as an integer and later delivered as floats (a NaN made pandas widen it) loads:
    an INSERT casts 3.0 to 3, and so must COPY's path."""
    first = pd.DataFrame({"month_end": [MONTH_END] * 2, "n": [1, 2]})
    later = pd.DataFrame({"month_end": [MONTH_END] * 2, "n": [3.0, np.nan]})
    with begin(warehouse.engine, warehouse.schema) as conn:
        replace_partition(conn, "int_mart", first, {"month_end": MONTH_END})
        replace_partition(conn, "int_mart", later, {"month_end": MONTH_END})
        rows = read_table(conn, "int_mart").sort_values("n")
    assert rows["n"].isna().tolist() == [False, True] and int(rows["n"].iloc[0]) == 3


class _Spy:
    """Records what psycopg cursors are asked to do while installed."""

    def __init__(self, monkeypatch):
        self.copies: list[str] = []
        self.executed: list[str] = []
        self.executemany = 0
        real_copy, real_execute, real_many = psycopg.Cursor.copy, psycopg.Cursor.execute, psycopg.Cursor.executemany
        spy = self

        def copy(cursor, statement, *args, **kwargs):
            spy.copies.append(statement.as_string(cursor) if hasattr(statement, "as_string") else str(statement))
            return real_copy(cursor, statement, *args, **kwargs)

        def execute(cursor, query, *args, **kwargs):
            spy.executed.append(query.as_string(cursor) if hasattr(query, "as_string") else str(query))
            return real_execute(cursor, query, *args, **kwargs)

        def executemany(cursor, *args, **kwargs):
            spy.executemany += 1
            return real_many(cursor, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "copy", copy)
        monkeypatch.setattr(psycopg.Cursor, "execute", execute)
        monkeypatch.setattr(psycopg.Cursor, "executemany", executemany)

    @property
    def inserts(self) -> list[str]:
        return [q for q in self.executed if q.lstrip().upper().startswith("INSERT")]


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_postgres_loads_use_copy_not_inserts(warehouse, monkeypatch):
    table = _awkward_table()
    with begin(warehouse.engine, warehouse.schema) as conn:
        table.create(conn)
    spy = _Spy(monkeypatch)
    big = pd.concat([_frame()] * 500, ignore_index=True)  # 4,000 rows: more than one insert batch would take
    with begin(warehouse.engine, warehouse.schema) as conn:
        append_frame(conn, table, big)
        replace_partition(
            conn, "awkward_mart", pd.concat([_mart_frame()] * 500, ignore_index=True), {"month_end": MONTH_END}
        )
    assert spy.copies == [
        f'COPY "{warehouse.schema}"."awkward_t" ("id", "big", "amount", "share", "note", "day", "stamp", "flag") '
        "FROM STDIN",
        f'COPY "{warehouse.schema}"."awkward_mart" ("id", "big", "amount", "note", "day", "stamp", "flag", '
        '"month_end") FROM STDIN',
    ]
    assert spy.executemany == 0 and spy.inserts == []
    with begin(warehouse.engine, warehouse.schema) as conn:
        counts = [
            conn.execute(sa.text(f"SELECT count(*) FROM {_target(warehouse, t)}")).scalar()
            for t in ("awkward_t", "awkward_mart")
        ]
    assert counts == [4000, 4000]


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_a_failed_load_rolls_back_with_the_callers_transaction(warehouse):
    """COPY runs on the connection of the SQLAlchemy transaction: an error later in it undoes the rows."""
    table = _awkward_table()
    with begin(warehouse.engine, warehouse.schema) as conn:
        table.create(conn)
    with pytest.raises(RuntimeError), begin(warehouse.engine, warehouse.schema) as conn:
        append_frame(conn, table, _frame())
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == len(ROWS)
        raise RuntimeError("a later step of the same transaction failed")
    with begin(warehouse.engine, warehouse.schema) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_postgres_keeps_every_digit_of_a_decimal(warehouse):
    """COPY writes a Decimal as its text. (DuckDB's path reads Decimal objects of an object column through
    a double: 12345678901234.5678 comes back as ...5684, so the shared round trip keeps to 8 digits.)"""
    table = _awkward_table()
    wide = [Decimal("12345678901234.5678"), Decimal("-99999999999999.9999")]
    with begin(warehouse.engine, warehouse.schema) as conn:
        table.create(conn)
        append_frame(conn, table, pd.DataFrame({"id": [1, 2], "share": pd.Series(wide, dtype=object)}))
        got = conn.execute(sa.select(table.c.share).order_by(table.c.id)).scalars().all()
    assert got == wide


def test_a_postgresql_url_without_a_driver_gets_psycopg_3():
    for url in ("postgresql://u@db.example:5432/crm", "postgres://u@db.example/crm"):
        engine = make_engine(url)
        assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
        engine.dispose()
