import datetime as dt

import dagster as dg
import pyarrow.parquet as pq
import pytest

from assets.ingest import ingest_assets
from crm import contract
from crm.ingest.fileformat import write_extract
from crm.zones import landing_dir
from orchestration.resources import CrmHomeResource, WarehouseResource
from tests.ingest.frames import loans_frame

D = dt.date(2026, 1, 31)
LOANS = contract.get("loans")
LOANS_ASSET = next(a for a in ingest_assets if a.key == dg.AssetKey(["raw", "loans"]))


@pytest.fixture
def resources(tmp_path, warehouse):
    home = tmp_path / "home"
    return {
        "crm_home": CrmHomeResource(root=str(home)),
        "warehouse": WarehouseResource(url=warehouse.url, schema_name=warehouse.schema or ""),
    }, home


def _materialize(resources, partition_key="2026-01-31"):
    return dg.materialize(
        [LOANS_ASSET],
        partition_key=partition_key,
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_accepted_file_materialises_with_passing_check(resources):
    res, home = resources
    write_extract(loans_frame(), LOANS, D, landing_dir(home / "landing", D))
    result = _materialize(res)
    assert result.success
    mats = result.asset_materializations_for_node(LOANS_ASSET.node_def.name)
    assert len(mats) == 1 and mats[0].metadata["dagster/row_count"].value == 4
    assert mats[0].metadata["files_accepted"].value == 1
    (check,) = result.get_asset_check_evaluations()
    assert check.passed and check.check_name == "file_accepted"
    assert pq.read_table(home / "raw" / "loans" / "2026-01-31.parquet").num_rows == 4


def test_rejected_file_fails_blocking_check_and_keeps_partition(resources):
    res, home = resources
    write_extract(loans_frame(), LOANS, D, landing_dir(home / "landing", D))
    assert _materialize(res).success
    good = pq.read_table(home / "raw" / "loans" / "2026-01-31.parquet")
    bad = write_extract(loans_frame(2), LOANS, D, landing_dir(home / "landing", D), sequence=2)
    bad.write_bytes(bad.read_bytes().replace(b"T|2|", b"T|3|"))
    result = _materialize(res)
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed
    assert "LOAN_20260131_002.dat" in check.metadata["rejected_files"].value
    assert check.metadata["reasons"].value == "control_total"
    assert result.asset_materializations_for_node(LOANS_ASSET.node_def.name) == []
    assert pq.read_table(home / "raw" / "loans" / "2026-01-31.parquet").equals(good)


def test_missing_file_materialises_nothing_and_warns(resources):
    res, _ = resources
    result = _materialize(res)
    assert result.success
    assert result.asset_materializations_for_node(LOANS_ASSET.node_def.name) == []
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["missing_business_dates"].value == "2026-01-31"
