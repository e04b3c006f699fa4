"""What the asset modules share (they never import each other): the month-end asset decorator, the owners,
and the warehouse I/O of one month of a mart through the warehouse resource (one transaction per call; the
reading and writing themselves are :mod:`crm.warehouse.marts`)."""

from __future__ import annotations

import warnings

import dagster as dg
import pandas as pd

from orchestration.partitions import monthly_partitions
from orchestration.resources import WarehouseResource

OWNERS = ["team:data-engineering"]
# single-run backfills (many business dates in one step) are what we want; the API is marked beta.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)


def month_end_asset(layer: str, name: str, *, deps, description: str, kinds=("python", "duckdb"), tags=None, **more):
    """The decorator of a month-end asset of ``layer`` (``marts``, ``models``, ``reports`` ...): monthly
    partitions, one run for a range (single-run backfill), owners, kinds and tags of the layer (plus
    ``tags``); internal sensitivity."""
    return dg.asset(
        key=dg.AssetKey([layer, name]),
        group_name=layer,
        partitions_def=monthly_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=deps,
        kinds=set(kinds),
        owners=OWNERS,
        tags={"layer": layer, "sensitivity": "internal", **(tags or {})},
        description=description,
        **more,
    )


def write_mart(warehouse: WarehouseResource, name: str, frame: pd.DataFrame, partition: dict) -> int:
    """Replace one partition of mart ``name`` by ``frame`` (:func:`crm.warehouse.marts.replace_partition`)."""
    from crm.warehouse.marts import replace_partition

    with warehouse.transaction() as conn:
        return replace_partition(conn, name, frame, partition)


def month_rows(warehouse: WarehouseResource, name: str, day, columns: list[str]) -> pd.DataFrame:
    """This month's rows of a mart, or an empty frame when the mart has never been written."""
    from crm.warehouse.marts import read_month

    with warehouse.transaction() as conn:
        return read_month(conn, name, day, columns)


def mart_reader(warehouse: WarehouseResource):
    """A reader of one month of a mart, ``(name, month_end, columns) -> frame`` (``columns`` None: all; else
    only those the mart has), an empty frame when the mart has never been written; one transaction per call.
    What :func:`crm.value.inputs.load_inputs` takes for the warehouse's marts."""
    from crm.warehouse.marts import read_month, read_month_columns

    def read(name: str, day, columns: list[str] | None = None) -> pd.DataFrame:
        with warehouse.transaction() as conn:
            if columns is None:
                return read_month(conn, name, day)
            return read_month_columns(conn, name, day, columns)

    return read


def latest_month_rows(warehouse: WarehouseResource, name: str, day, *, before: bool = False) -> pd.DataFrame:
    """The rows of the latest month end on or before ``day`` (strictly before with ``before``) of a mart, or an
    empty frame when there is none (or the mart has never been written)."""
    from crm.warehouse.marts import read_latest_month

    with warehouse.transaction() as conn:
        return read_latest_month(conn, name, day, before=before)
