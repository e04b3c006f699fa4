"""Marts are replaced per partition, idempotently, on DuckDB and PostgreSQL."""

import datetime as dt

import pandas as pd
import pytest

from crm.warehouse import begin
from crm.warehouse.marts import read_table, replace_partition


def test_replace_partition_is_idempotent_and_leaves_other_partitions(warehouse):
    jan, feb = dt.date(2026, 1, 31), dt.date(2026, 2, 28)
    a = pd.DataFrame({"month_end": [jan, jan], "customer_id": ["k1.a", "k1.b"], "pd": [0.01, 0.2]})
    b = pd.DataFrame({"month_end": [feb], "customer_id": ["k1.a"], "pd": [0.02]})
    with begin(warehouse.engine, warehouse.schema) as conn:
        replace_partition(conn, "scores_t", a, {"month_end": jan})
        replace_partition(conn, "scores_t", b, {"month_end": feb})
        replace_partition(conn, "scores_t", a.iloc[:1], {"month_end": jan})  # a rerun replaces, never adds
    with begin(warehouse.engine, warehouse.schema) as conn:
        rows = read_table(conn, "scores_t").sort_values(["month_end", "customer_id"])
        only_feb = read_table(conn, "scores_t", {"month_end": feb})
    assert rows["customer_id"].tolist() == ["k1.a", "k1.a"] and len(only_feb) == 1
    with begin(warehouse.engine, warehouse.schema) as conn, pytest.raises(ValueError, match="outside the partition"):
        replace_partition(conn, "scores_t", b, {"month_end": jan})


def test_a_new_column_is_added_to_an_existing_mart(warehouse):
    """Schema evolution: a later version of a mart with a new column loads; earlier rows read NULL there."""
    jan, feb = dt.date(2026, 1, 31), dt.date(2026, 2, 28)
    old = pd.DataFrame({"month_end": [jan], "customer_id": ["k1.a"], "pd": [0.01]})
    new = pd.DataFrame(
        {
            "month_end": [feb],
            "customer_id": ["k1.a"],
            "pd": [0.02],
            "change_3m": [-0.25],
            "flag": [True],
            "since": [dt.date(2026, 1, 1)],
            "label": ["x"],
        }
    )
    with begin(warehouse.engine, warehouse.schema) as conn:
        replace_partition(conn, "evolving_t", old, {"month_end": jan})
        replace_partition(conn, "evolving_t", new, {"month_end": feb})
    with begin(warehouse.engine, warehouse.schema) as conn:
        rows = read_table(conn, "evolving_t").sort_values("month_end").reset_index(drop=True)
    assert rows["change_3m"].isna().tolist() == [True, False] and rows.loc[1, "change_3m"] == -0.25
    assert bool(rows.loc[1, "flag"]) is True and rows.loc[1, "label"] == "x"
    assert pd.Timestamp(rows.loc[1, "since"]).date() == dt.date(2026, 1, 1)


def test_a_column_empty_in_the_first_partition_takes_later_values(warehouse):
    jan, feb = dt.date(2026, 1, 31), dt.date(2026, 2, 28)
    first = pd.DataFrame({"month_end": [jan], "customer_id": ["k1.a"], "related": [None]})
    later = pd.DataFrame({"month_end": [feb], "customer_id": ["k1.a"], "related": ["k1.b"]})
    with begin(warehouse.engine, warehouse.schema) as conn:
        replace_partition(conn, "sparse_t", first, {"month_end": jan})
        replace_partition(conn, "sparse_t", later, {"month_end": feb})
        rows = read_table(conn, "sparse_t").sort_values("month_end").reset_index(drop=True)
    assert rows["related"].isna().tolist() == [True, False] and rows.loc[1, "related"] == "k1.b"


def test_a_mart_whose_first_partition_is_empty_is_replaced_by_date_later(warehouse):
    """The first month of a mart can have no rows (no guarantee circle, no detractor's comment yet): its
    table still gets a DATE partition column, so the next month's replace compares dates with dates
    (PostgreSQL refused ``text = date`` and the month-end run failed)."""
    jan, feb = dt.date(2026, 1, 31), dt.date(2026, 2, 28)
    empty = pd.DataFrame({"members": pd.Series([], dtype=object), "size": pd.Series([], dtype="int64")})
    later = pd.DataFrame({"members": ["k1.a,k1.b"], "size": [2]})
    with begin(warehouse.engine, warehouse.schema) as conn:
        replace_partition(conn, "circles_t", empty.assign(month_end=jan), {"month_end": jan})
        replace_partition(conn, "circles_t", empty.assign(month_end=jan), {"month_end": jan})  # a rerun
        replace_partition(conn, "circles_t", later.assign(month_end=feb), {"month_end": feb})
        rows = read_table(conn, "circles_t")
        again = read_table(conn, "circles_t", {"month_end": feb})
    assert len(rows) == len(again) == 1
    assert pd.Timestamp(rows.loc[0, "month_end"]) == pd.Timestamp(feb)
    assert rows["month_end"].dtype.kind == "M" or isinstance(rows.loc[0, "month_end"], dt.date)


def test_read_month_columns_reads_only_the_columns_asked_that_the_mart_has(warehouse):
    from crm.warehouse.marts import read_month_columns

    jan, feb = dt.date(2026, 1, 31), dt.date(2026, 2, 28)
    frame = pd.DataFrame(
        {"month_end": [jan, feb], "customer_id": ["k1.a", "k1.b"], "value_score": [1.5, 2.5], "n": [3, 4]}
    )
    with begin(warehouse.engine, warehouse.schema) as conn:
        for day in (jan, feb):
            replace_partition(conn, "value_t", frame[frame["month_end"] == day], {"month_end": day})
    with begin(warehouse.engine, warehouse.schema) as conn:
        got = read_month_columns(conn, "value_t", feb, ["customer_id", "n", "not_there"])
        none = read_month_columns(conn, "never_written", feb, ["customer_id", "n"])
    assert list(got.columns) == ["customer_id", "n"] and got["n"].tolist() == [4] and got["n"].dtype == "int64"
    assert none.empty and list(none.columns) == ["customer_id", "n"]
