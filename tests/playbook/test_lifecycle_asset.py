"""marts/lifecycle and marts/referrals materialised over three month ends on a hand-built warehouse and
staged folder: the tables with month_end and config_version, actions carried and closed, counts only in the
metadata, a rerun replaces its partition."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from assets.playbook import lifecycle, referrals
from crm.zones import staged_file
from orchestration.resources import CrmHomeResource, WarehouseResource

MONTHS = [dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31)]
STAGES = {  # customer -> stage per month
    "CUST01": ["mature", "decline", "decline"],
    "CUST02": [None, "new", "new"],
    "CUST03": ["growth", "growth", "dormant"],
}


def _write_staged(root, extract, day, frame):
    path = staged_file(root / "staged", extract, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    from crm.warehouse.marts import replace_partition

    root = tmp_path_factory.mktemp("lifecycle")
    wh = WarehouseResource(crm_home=str(root))
    for k, day in enumerate(MONTHS):
        rows = [(c, s[k]) for c, s in STAGES.items() if s[k]]
        value = pd.DataFrame(
            {
                "customer_id": [c for c, _ in rows],
                "lifecycle_stage": [s for _, s in rows],
                "branch_id": "B01",
                "value_segment": "retail",
                "manager_id": "M01",
                "contribution": 100.0,
                "value_score": 50.0,
                "month_end": day,
            }
        )
        c360 = pd.DataFrame(
            {
                "customer_id": value["customer_id"],
                "onboarding_date": [
                    dt.date(2026, 2, 5) if c == "CUST02" else dt.date(2019, 1, 1) for c in value["customer_id"]
                ],
                "month_end": day,
            }
        )
        with wh.transaction() as conn:
            replace_partition(conn, "customer_value", value, {"month_end": day})
            replace_partition(conn, "customer_360", c360, {"month_end": day})
    _write_staged(
        root,
        "interactions",
        dt.date(2026, 3, 10),
        pd.DataFrame(
            {
                "interaction_id": ["I1", "I2"],
                "customer_id": ["CUST01", "CUST02"],
                "staff_id": ["M01", "M01"],
                "interaction_time": pd.to_datetime(["2026-03-10 10:00", "2026-03-10 11:00"]),
                "channel": ["PHONE", "PHONE"],  # CUST02's onboarding visit by phone does not count
                "purpose": ["RETAIN", "ONBOARD"],
            }
        ),
    )
    _write_staged(
        root,
        "referrals",
        dt.date(2026, 2, 5),
        pd.DataFrame(
            {
                "referral_id": ["R1"],
                "referrer_customer_id": ["CUST01"],
                "referred_customer_id": ["CUST02"],
                "referral_date": [dt.date(2026, 2, 5)],
                "channel": ["BRANCH"],
                "staff_id": ["M01"],
            }
        ),
    )
    _write_staged(
        root,
        "surveys",
        dt.date(2026, 1, 15),
        pd.DataFrame(
            {"survey_id": ["S1"], "customer_id": ["CUST01"], "response_date": [dt.date(2026, 1, 16)], "nps": [10]}
        ),
    )
    return root


def _run(home, assets, day):
    resources = {"crm_home": CrmHomeResource(root=str(home)), "warehouse": WarehouseResource(crm_home=str(home))}
    result = dg.materialize(
        assets, partition_key=f"{day:%Y-%m}-01", resources=resources, instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    return result


def test_three_month_ends(home):
    for day in MONTHS:
        result = _run(home, [lifecycle, referrals], day)
    url = f"duckdb:///{home / 'warehouse.duckdb'}"
    actions = pd.read_sql("select * from stage_actions where month_end = '2026-03-31'", url)
    got = {(r.customer_id, r.action): r.status for r in actions.itertuples()}
    assert got == {
        ("CUST01", "RETENTION_CALL"): "on_time",  # entered decline 02-28, due 03-14, RETAIN call 03-10
        ("CUST02", "ONBOARD_VISIT"): "overdue",  # onboarded 02-05, due 03-07; the phone call does not count
        ("CUST02", "PRODUCT_REVIEW"): "open",  # due 05-06
        ("CUST03", "REACTIVATION_OFFER"): "open",  # entered dormant 03-31
    }
    matrix = pd.read_sql("select * from stage_transitions where month_end = '2026-02-28'", url)
    bank = matrix[matrix["dimension"] == "bank"].set_index(["from_stage", "to_stage"])["customers"]
    assert bank.to_dict() == {("(none)", "new"): 1, ("growth", "growth"): 1, ("mature", "decline"): 1}
    stages = pd.read_sql("select * from customer_stages where month_end = '2026-03-31'", url).set_index("customer_id")
    assert stages.loc["CUST01", "months_in_stage"] == 1 and stages.loc["CUST03", "months_in_stage"] == 0
    summary = pd.read_sql("select * from referral_summary where month_end = '2026-03-31'", url).set_index("branch_id")
    assert summary.loc["ALL", "promoters_referring"] == 1 and summary.loc["ALL", "new_referred"] == 1
    (mat,) = result.asset_materializations_for_node("marts__lifecycle")
    text = " ".join(str(v.value) for v in mat.metadata.values())
    assert "CUST" not in text
    _run(home, [lifecycle], MONTHS[-1])  # a rerun replaces its partition
    again = pd.read_sql("select * from stage_actions where month_end = '2026-03-31'", url)
    assert len(again) == len(actions)
