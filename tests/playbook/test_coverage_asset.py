"""marts/coverage materialised on hand-written staged partitions and a warehouse holding customer_value: the six
tables with month_end and config_version, typed, idempotent, counts-only metadata, no raw contact value."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from assets.playbook import coverage
from crm.playbook import load_config
from orchestration.resources import CrmHomeResource, WarehouseResource

ME = dt.date(2026, 3, 31)
TABLES = (
    "coverage_teams",
    "manager_changes",
    "key_account_coverage",
    "relationship_map",
    "service_delivery",
    "key_account_findings",
)


def _write(root, extract, day, frame):
    folder = root / "staged" / extract
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / f"{day.isoformat()}.parquet", index=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("coverage_home")
    t = pd.Timestamp
    _write(
        root,
        "coverage",
        ME,
        pd.DataFrame(
            {
                "snapshot_date": [t(ME)] * 5,
                "coverage_id": [f"CV{i:016d}" for i in range(5)],
                "customer_id": [
                    "tokKEY00000001",
                    "tokKEY00000001",
                    "tokKEY00000001",
                    "tokKEY00000002",
                    "tokSTD00000003",
                ],
                "staff_id": ["S000001", "S000009", "S000002", "S000003", "S000001"],
                "role": ["RM", "RM", "PS", "RM", "RM"],
                "from_date": [t("2025-10-01"), t("2020-01-01"), t("2024-01-01"), t("2021-01-01"), t("2022-01-01")],
                "to_date": [pd.NaT, t("2025-09-30"), pd.NaT, pd.NaT, pd.NaT],
            }
        ),
    )
    _write(
        root,
        "contacts",
        ME,
        pd.DataFrame(
            {
                "contact_id": ["C1"],
                "customer_id": ["tokKEY00000001"],
                "contact_type": ["FINANCE"],
                "relationship": ["CFO"],
                "contact_name": ["王*"],
                "contact_id_number": ["tokRAWID"],
                "contact_id_number_masked": ["310***9999"],
                "contact_mobile": ["tokRAWMOB"],
                "contact_mobile_masked": ["138****1111"],
                "is_primary": [True],
            }
        ),
    )
    _write(
        root,
        "related_parties",
        ME,
        pd.DataFrame(
            {
                "relation_id": ["R1"],
                "customer_id": ["tokKEY00000001"],
                "relation_type": ["GUARANTOR"],
                "party_type": ["C"],
                "related_customer_id": ["tokKEY00000002"],
                "related_name": ["某*"],
                "related_cert_number": ["tokCERT"],
                "related_cert_number_masked": ["913***0001"],
                "share_ratio": [None],
                "amount": [2_000_000.0],
                "start_date": [t("2024-01-01")],
                "end_date": [pd.NaT],
            }
        ),
    )
    _write(
        root,
        "interactions",
        dt.date(2026, 2, 10),
        pd.DataFrame(
            {
                "interaction_id": ["I1", "I2"],
                "customer_id": ["tokKEY00000001", "tokKEY00000002"],
                "staff_id": ["S000001", "S000003"],
                "interaction_time": [t("2026-02-10 10:00"), t("2026-02-10 11:00")],
                "channel": ["VISIT", "PHONE"],
                "purpose": ["BRIEF", "SERVICE"],
                "duration_minutes": [60, 10],
                "notes": ["", ""],
                "next_visit_date": [pd.NaT, pd.NaT],
            }
        ),
    )
    value = pd.DataFrame(
        {
            "customer_id": ["tokKEY00000001", "tokKEY00000002", "tokSTD00000003"],
            "tier": ["key", "strategic", "standard"],
            "key_account": [True, True, False],
            "manager_id": ["S000001", "S000003", "S000001"],
            "branch_id": ["B01", "B01", "B01"],
            "month_end": [ME] * 3,
        }
    )
    from crm.warehouse.marts import replace_partition

    with WarehouseResource(crm_home=str(root)).transaction() as conn:
        replace_partition(conn, "customer_value", value, {"month_end": ME})
    return root


def _run(home):
    resources = {"crm_home": CrmHomeResource(root=str(home)), "warehouse": WarehouseResource(crm_home=str(home))}
    return dg.materialize(
        [coverage], partition_key=f"{ME:%Y-%m}-01", resources=resources, instance=dg.DagsterInstance.ephemeral()
    )


def test_the_asset_writes_its_tables_idempotently_with_counts_only(home):
    result = _run(home)
    assert result.success
    (mat,) = result.asset_materializations_for_node("marts__coverage")
    meta = {k: v.value for k, v in mat.metadata.items()}
    url = f"duckdb:///{home / 'warehouse.duckdb'}"
    tables = {name: pd.read_sql(f"select * from {name}", url) for name in TABLES}
    version = load_config()["version"]
    for name, frame in tables.items():
        assert len(frame), name
        assert (frame["config_version"] == version).all(), name
    summary = tables["key_account_coverage"].set_index("customer_id")
    assert summary.loc["tokKEY00000001", "missing_roles"] == "RO"  # key: RM, PS, RO required
    assert summary.loc["tokKEY00000002", "missing_roles"] == "CO,PS,RO,CA"
    assert summary.loc["tokKEY00000001", "manager_changes_12m"] == 1
    # tokKEY00000002 guarantees tokKEY00000001: it backs one, one stands behind the other
    assert summary.loc["tokKEY00000002", "downstream"] == 1 and summary.loc["tokKEY00000001", "upstream"] == 1
    assert summary.loc["tokKEY00000002", "guarantees_given"] == 1 and summary.loc["tokKEY00000001", "guarantors"] == 1
    changes = tables["manager_changes"].set_index("customer_id")
    assert set(changes.index) == {"tokKEY00000001", "tokKEY00000002", "tokSTD00000003"}  # every customer
    assert meta["key_accounts"] == 2 and meta["incomplete_teams"] == 2
    assert meta["findings"].startswith("missing_role: 5")
    first = tables["key_account_findings"]["finding"].iloc[0]
    assert first == "missing_role"
    text = " ".join(str(v) for v in meta.values()) + " ".join(f.astype(str).to_string() for f in tables.values())
    for raw in ("tokRAWID", "tokRAWMOB", "310***", "138****", "tokCERT", "913***"):
        assert raw not in text
    assert "tok" not in " ".join(str(v) for v in meta.values())  # no token in the metadata
    _run(home)
    for name, frame in tables.items():
        assert len(pd.read_sql(f"select * from {name}", url)) == len(frame), name


def test_a_month_before_the_coverage_extract_has_no_team_and_every_key_account_incomplete(tmp_path):
    """Before 2025-01-01 there is no coverage snapshot (nor, here, contacts or interactions): the asset still
    writes its tables (teams empty, every key account's team incomplete), with a warning in the log."""
    t = pd.Timestamp
    _write(
        tmp_path,
        "related_parties",
        ME,
        pd.DataFrame(
            {
                "relation_id": pd.Series(dtype=object),
                "customer_id": pd.Series(dtype=object),
                "relation_type": pd.Series(dtype=object),
                "party_type": pd.Series(dtype=object),
                "related_customer_id": pd.Series(dtype=object),
                "related_name": pd.Series(dtype=object),
                "related_cert_number": pd.Series(dtype=object),
                "share_ratio": pd.Series(dtype=float),
                "amount": pd.Series(dtype=float),
                "start_date": pd.Series(dtype="datetime64[ns]"),
                "end_date": pd.Series(dtype="datetime64[ns]"),
            }
        ),
    )
    value = pd.DataFrame(
        {
            "customer_id": ["tokKEY00000001"],
            "tier": ["key"],
            "key_account": [True],
            "manager_id": ["S000001"],
            "branch_id": ["B01"],
            "month_end": [ME],
        }
    )
    from crm.warehouse.marts import replace_partition

    with WarehouseResource(crm_home=str(tmp_path)).transaction() as conn:
        replace_partition(conn, "customer_value", value, {"month_end": ME})
    assert _run(tmp_path).success
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    summary = pd.read_sql("select * from key_account_coverage", url)
    assert summary["missing_roles"].tolist() == ["RM,PS,RO"] and summary["team_size"].tolist() == [0]
    assert t(pd.read_sql("select * from service_delivery", url)["period_start"].iloc[0]) == t("2026-01-01")
