"""``read_table`` gives the same pandas types and values on DuckDB and PostgreSQL: integer columns exact
(``int64``, or ``Int64`` with NULLs, never float64), DECIMAL/NUMERIC amounts as the double nearest to the
stored value (exactly as written up to 15 significant digits), DOUBLE amounts bit for bit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import sqlalchemy as sa

from crm.warehouse import begin
from crm.warehouse.marts import read_table, replace_partition

MONTH_END = dt.date(2026, 1, 31)
BIG = 2**62 + 1  # float64 would read 4611686018427387904


def test_integer_columns_with_nulls_read_as_nullable_int64_and_exact(warehouse):
    frame = pd.DataFrame(
        {
            "month_end": [MONTH_END] * 3,
            "customer_id": ["k1.a", "k1.b", "k1.c"],
            "loans": pd.Series([2, 0, 5], dtype="int64"),  # no NULL
            "overdue_days": pd.array([None, 91, BIG], dtype="Int64"),  # a NULL
            "unused": pd.array([None, None, None], dtype="Int64"),  # only NULLs
        }
    )
    with begin(warehouse.engine, warehouse.schema) as conn:
        replace_partition(conn, "int_types_mart", frame, {"month_end": MONTH_END})
    with begin(warehouse.engine, warehouse.schema) as conn:
        got = read_table(conn, "int_types_mart").sort_values("customer_id").reset_index(drop=True)
        empty = read_table(conn, "int_types_mart", {"month_end": dt.date(2026, 2, 28)})
    assert got["loans"].dtype == "int64" and got["loans"].tolist() == [2, 0, 5]
    assert got["overdue_days"].dtype == "Int64" and got["unused"].dtype == "Int64"
    assert got["overdue_days"].isna().tolist() == [True, False, False]
    assert int(got.loc[2, "overdue_days"]) == BIG and got["unused"].isna().all()
    assert empty.empty and empty["loans"].dtype == "int64" and empty["overdue_days"].dtype == "int64"


def test_smallint_integer_and_bigint_columns_read_alike_on_both_engines(warehouse):
    """A table declared with SQLAlchemy (DuckDB's ``.df()`` alone gives Int16/Int32 for the smaller types)."""
    table = sa.Table(
        "declared_ints",
        sa.MetaData(),
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("small", sa.SmallInteger),
        sa.Column("normal", sa.Integer),
        sa.Column("big", sa.BigInteger),
    )
    with begin(warehouse.engine, warehouse.schema) as conn:
        table.create(conn)
        conn.execute(
            sa.insert(table),
            [
                {"id": 1, "small": 7, "normal": 2**31 - 1, "big": BIG},
                {"id": 2, "small": None, "normal": None, "big": None},
            ],
        )
        got = read_table(conn, "declared_ints").sort_values("id").reset_index(drop=True)
    assert got.dtypes.astype(str).to_dict() == {"id": "int64", "small": "Int64", "normal": "Int64", "big": "Int64"}
    assert got.loc[0, ["small", "normal", "big"]].tolist() == [7, 2**31 - 1, BIG]


AMOUNTS = ["98765432109.87", "9999999999999.99", "-1234567.89", "0.01", "0.10", "123456789012.35"]
WIDE = "9876543210987654.21"  # 18 significant digits: more than any float64 holds


def test_numeric_amounts_read_back_exactly_as_written(warehouse):
    """NUMERIC(18,2) amounts: float64 on both engines, each the nearest double (DuckDB's ``.df()`` alone
    divides the scaled integer and misses it for some 16+ digit values), so up to 15 significant digits the
    amount reads back exactly as written and both engines agree on every value."""
    table = sa.Table(
        "numeric_amounts",
        sa.MetaData(),
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("balance", sa.Numeric(18, 2)),
    )
    values = [*AMOUNTS, WIDE, None]
    with begin(warehouse.engine, warehouse.schema) as conn:
        table.create(conn)
        conn.execute(
            sa.insert(table), [{"id": i, "balance": None if v is None else Decimal(v)} for i, v in enumerate(values)]
        )
        got = read_table(conn, "numeric_amounts").sort_values("id").reset_index(drop=True)
    assert got["balance"].dtype == "float64" and np.isnan(got.loc[len(values) - 1, "balance"])
    read = got["balance"].tolist()
    assert [Decimal(repr(x)) for x in read[: len(AMOUNTS)]] == [Decimal(v) for v in AMOUNTS]
    assert [round(x, 2) for x in read[: len(AMOUNTS)]] == [float(v) for v in AMOUNTS]
    assert read[len(AMOUNTS)] == float(Decimal(WIDE))  # the nearest double, the same on both engines


def test_many_numeric_amounts_are_the_nearest_double(warehouse):
    """Random 2-decimal amounts of 10 to 18 digits, stored as NUMERIC(18,2): every one reads as
    ``float(Decimal(stored))``; those of 15 digits or fewer read as written."""
    rng = np.random.default_rng(7)
    digits = rng.integers(10, 19, 2000)  # as many amounts of 10, 11, ... 18 digits
    cents = [int(rng.integers(10 ** (d - 1), 10**d, dtype=np.int64)) for d in digits]
    written = [Decimal(c).scaleb(-2) for c in cents]
    table = sa.Table(
        "numeric_many",
        sa.MetaData(),
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("amount", sa.Numeric(18, 2)),
    )
    with begin(warehouse.engine, warehouse.schema) as conn:
        table.create(conn)
        conn.execute(sa.insert(table), [{"id": i, "amount": v} for i, v in enumerate(written)])
        got = read_table(conn, "numeric_many").sort_values("id")["amount"].tolist()
    assert got == [float(v) for v in written]
    short = [(x, v) for x, v in zip(got, written, strict=True) if len(v.as_tuple().digits) <= 15]
    assert len(short) > 1000 and all(Decimal(repr(x)) == v for x, v in short)


def test_double_amounts_in_a_mart_read_back_bit_for_bit(warehouse):
    """The marts hold money as DOUBLE (the contract's decimals are float64): large balances with cents come
    back as the very doubles written."""
    amounts = [float(v) for v in AMOUNTS] + [float(WIDE), 0.1 + 0.2, np.nan]
    frame = pd.DataFrame({"month_end": [MONTH_END] * len(amounts), "id": range(len(amounts)), "balance": amounts})
    with begin(warehouse.engine, warehouse.schema) as conn:
        replace_partition(conn, "double_amounts", frame, {"month_end": MONTH_END})
        got = read_table(conn, "double_amounts", {"month_end": MONTH_END}).sort_values("id")
    assert got["balance"].dtype == "float64"
    np.testing.assert_array_equal(got["balance"].to_numpy(), np.array(amounts))


def test_numeric_values_pass_through_sqlalchemy_as_exact_decimals(warehouse):
    """Written and read with SQLAlchemy Core, a NUMERIC amount is the same ``Decimal`` on both engines, also
    beyond 15 digits (duckdb_engine alone would pass it through a float both ways)."""
    table = sa.Table(
        "numeric_exact",
        sa.MetaData(),
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("balance", sa.Numeric(18, 2)),
    )
    values = [Decimal(v) for v in [*AMOUNTS, WIDE, "8821447814506964.77"]]
    with begin(warehouse.engine, warehouse.schema) as conn:
        table.create(conn)
        conn.execute(sa.insert(table), [{"id": i, "balance": v} for i, v in enumerate(values)])
    with begin(warehouse.engine, warehouse.schema) as conn:
        got = conn.execute(sa.select(table.c.balance).order_by(table.c.id)).scalars().all()
        text = (
            conn.execute(
                sa.text(f"SELECT CAST(balance AS VARCHAR(40)) FROM {_name(warehouse, 'numeric_exact')} ORDER BY id")
            )
            .scalars()
            .all()
        )
    assert got == values and all(isinstance(v, Decimal) for v in got)
    assert [Decimal(t) for t in text] == values  # stored exactly, not only read back so


def _name(warehouse, table: str) -> str:
    return f'"{warehouse.schema}"."{table}"' if warehouse.schema else f'"{table}"'


def test_read_table_follows_other_queries_on_the_same_connection(warehouse):
    """As ``crm.warehouse.marts.read_month`` calls it: after an inspection on the same connection, in the transaction
    that wrote the rows."""
    frame = pd.DataFrame({"month_end": [MONTH_END], "customer_id": ["k1.a"], "n": pd.array([None], dtype="Int64")})
    with begin(warehouse.engine, warehouse.schema) as conn:
        replace_partition(conn, "after_inspect", frame, {"month_end": MONTH_END})
        assert sa.inspect(conn).has_table("after_inspect", schema=warehouse.schema)
        got = read_table(conn, "after_inspect", {"month_end": MONTH_END})
    assert len(got) == 1 and got["n"].dtype == "Int64"
