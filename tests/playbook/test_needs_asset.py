"""marts/customer_needs materialised on the staged partitions of test_needs_inputs and a warehouse holding
customer_value and customer_360: the four tables with month_end and config_version, metadata of counts only."""

from __future__ import annotations

import re

import dagster as dg
import pandas as pd
import pytest

from assets.playbook import customer_needs
from crm.playbook import load_config
from orchestration.resources import CrmHomeResource, WarehouseResource
from tests.playbook.needs_build import ME
from tests.playbook.test_needs_inputs import _marts, staged  # noqa: F401  (the module fixture)


@pytest.fixture(scope="module")
def home(staged):  # noqa: F811
    root = staged.parent
    wh = WarehouseResource(crm_home=str(root))
    from crm.warehouse.marts import replace_partition

    for name, frame in _marts().items():
        with wh.transaction() as conn:
            replace_partition(conn, name, frame, {"month_end": ME})
    return root


def test_the_asset_writes_the_four_tables_and_counts_only(home):
    resources = {"crm_home": CrmHomeResource(root=str(home)), "warehouse": WarehouseResource(crm_home=str(home))}
    result = dg.materialize(
        [customer_needs], partition_key=f"{ME:%Y-%m}-01", resources=resources, instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    (mat,) = result.asset_materializations_for_node("marts__customer_needs")
    meta = {k: v.value for k, v in mat.metadata.items()}
    version = load_config()["version"]
    url = f"duckdb:///{home / 'warehouse.duckdb'}"
    tables = {
        t: pd.read_sql(f"select * from {t}", url)
        for t in ("customer_needs", "customer_preferences", "segment_needs", "segment_preferences")
    }
    for name, frame in tables.items():
        assert len(frame), name
        assert (frame["config_version"] == version).all() and (
            pd.to_datetime(frame["month_end"]) == pd.Timestamp(ME)
        ).all()
    needs = tables["customer_needs"]
    assert pd.api.types.is_datetime64_any_dtype(needs["deadline"])  # a timestamp column, never text
    assert meta["needs"] == len(needs) and meta["profiles"] == len(tables["customer_preferences"]) == 4
    assert "SEASONAL: 1" in meta["by_need"] and meta["config_version"] == version
    text = " ".join(str(v) for v in meta.values())
    assert not re.search(r"\b(SEASON|EMP|HOME|BIG)\b", text)  # no customer id in the metadata
    # a rerun replaces the partition
    dg.materialize(
        [customer_needs], partition_key=f"{ME:%Y-%m}-01", resources=resources, instance=dg.DagsterInstance.ephemeral()
    )
    assert len(pd.read_sql("select * from customer_needs", url)) == len(needs)
