"""Marts layer: what relationship managers, risk officers and reports read, per month-end, from staged data
only (tokens and masked values; no raw personal data).

Each mart is partitioned by month (key ``YYYY-MM-01``, business date the month's last day), reads the staged
partitions of that date, calls a plain function of :mod:`crm.scoring` and replaces its month in a warehouse
table (idempotent). Monthly assets depend on the daily staged assets of the month (Dagster maps a month to its
days); they read the month-end date's partitions.
"""

from pathlib import Path

import dagster as dg
import pandas as pd

from orchestration.partitions import business_date_for, monthly_partitions
from orchestration.resources import CrmHomeResource, WarehouseResource

OWNERS = ["team:data-engineering"]


def staged(home_staged: Path, extract: str, day) -> pd.DataFrame:
    """The staged partition of ``extract`` for ``day``; a clear error when it is not there."""
    path = home_staged / extract / f"{day.isoformat()}.parquet"
    if not path.exists():
        raise FileNotFoundError(
            f"staged/{extract} has no partition for {day} ({path}): run the daily pipeline for that date first"
        )
    return pd.read_parquet(path)


def staged_until(home_staged: Path, extract: str, day) -> pd.DataFrame:
    """Every staged partition of a delta extract on or before ``day``."""
    files = [p for p in sorted((home_staged / extract).glob("*.parquet")) if p.stem <= day.isoformat()]
    if not files:
        raise FileNotFoundError(f"staged/{extract} has no partition on or before {day}")
    return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)


def write_mart(warehouse: WarehouseResource, name: str, frame: pd.DataFrame, partition: dict) -> int:
    from crm.warehouse import begin
    from crm.warehouse.marts import replace_partition

    engine = warehouse.engine()
    try:
        with begin(engine, warehouse.schema) as conn:
            return replace_partition(conn, name, frame, partition)
    finally:
        engine.dispose()


def _keys(*names: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(["staged", n]) for n in names]


@dg.asset(
    key=dg.AssetKey(["marts", "customer_360"]),
    group_name="marts",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=_keys("customers", "corporates", "loans", "deposits", "product_holdings", "related_parties",
               "bureau_records", "branches", "staff"),
    kinds={"python", "duckdb"},
    owners=OWNERS,
    tags={"layer": "marts", "sensitivity": "internal"},
    description="Customer 360 at month end: one row per customer with a loan, a guarantee or a deposit: masked "
    "profile, branch and manager, products held, exposure (loans, overdue, worst class), guarantees given and "
    "received, deposits and the latest credit-bureau summary. Warehouse table customer_360 (month_end). "
    "Sensitivity: internal (tokens and masked values).",
)
def customer_360(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.scoring.customer360 import customer_360 as build

    home = crm_home.home()
    rows, customers = 0, 0
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        frames = {n: staged(home.staged, n, day) for n in ("customers", "corporates", "loans", "deposits",
                                                           "product_holdings", "related_parties", "branches",
                                                           "staff")}
        frames["bureau_records"] = staged_until(home.staged, "bureau_records", day)
        view = build(day, **frames).rename(columns={"business_date": "month_end"})
        rows += write_mart(warehouse, "customer_360", view, {"month_end": day})
        customers += int(view["is_credit_customer"].sum())
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "credit_customers": customers,
                                          "months": len(context.partition_keys)})


mart_assets = [customer_360]
MART_KEYS = [a.key for a in mart_assets]
