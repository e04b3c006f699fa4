"""models/churn and marts/churn_scores materialised on a hand-made staged zone (400 customers, 30 month ends of
deposit balances and transactions in the first month-end files, a quarter of the customers whose activity fades,
then their deposits, then they leave) and a warehouse holding customer_value: a version saved and approved (local), its model card with the
out-of-time validation, the scores, the managers' lists ranked by value at risk, drift checks, and metadata
without customer tokens."""

from __future__ import annotations

import datetime as dt
import re

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from assets.scoring import churn_model, churn_scores
from crm.bank_calendar import month_end, months_before
from orchestration.resources import CrmHomeResource, ScoringResource, WarehouseResource

ME = dt.date(2026, 6, 30)
N, K = 400, 30


def _build(root):
    rng = np.random.default_rng(3)
    months = [month_end(months_before(ME, k)) for k in range(K - 1, -1, -1)]
    ids = [f"TK{i:05d}" for i in range(N)]
    decline = np.where(rng.random(N) < 0.25, rng.integers(3, K, N), 10_000)
    dep, txn = [], []
    for i, cid in enumerate(ids):
        level = 20_000 * np.exp(rng.normal(0, 0.5))
        for j, m in enumerate(months):
            gone = j >= decline[i] + 3
            bal = 0.0 if gone else level * (0.6 ** max(0, j - decline[i])) * np.exp(rng.normal(0, 0.1))
            count = 0 if gone else int(rng.poisson(1 if j >= decline[i] - 4 else 8))  # activity fades first
            if bal > 0:
                dep.append({"snapshot_date": m, "account_id": f"A{i}", "customer_id": cid, "balance": round(bal, 2)})
            if count:
                txn.append({"snapshot_date": m, "customer_id": cid, "txn_count": count})
    staged = root / "staged"
    for name, rows in (("deposit_balances", dep), ("txn_monthly", txn)):
        (staged / name).mkdir(parents=True)
        f = pd.DataFrame(rows)
        f[f["snapshot_date"] < ME].to_parquet(staged / name / f"{months[-2].isoformat()}.parquet", index=False)
        f[f["snapshot_date"] == ME].to_parquet(staged / name / f"{ME.isoformat()}.parquet", index=False)
    (staged / "customers").mkdir()
    pd.DataFrame(
        {
            "customer_id": ids,
            "onboarding_date": [dt.date(2018, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 1500, N)],
            "status": "N",
        }
    ).to_parquet(staged / "customers" / f"{ME.isoformat()}.parquet", index=False)
    value = pd.DataFrame(
        {
            "month_end": ME,
            "customer_id": ids,
            "branch_id": [f"B{i % 3}" for i in range(N)],
            "manager_id": [f"M{i % 8}" for i in range(N)],
            "contribution_annualised": rng.normal(3_000, 2_000, N).round(2),
        }
    )
    from crm.warehouse.marts import replace_partition

    with WarehouseResource(crm_home=str(root)).transaction() as conn:
        replace_partition(conn, "customer_value", value, {"month_end": ME})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("churn_home")
    _build(root)
    resources = {
        "crm_home": CrmHomeResource(root=str(root)),
        "warehouse": WarehouseResource(crm_home=str(root)),
        "scoring": ScoringResource(auto_approve_first=True),
    }
    result = dg.materialize(
        [churn_model, churn_scores],
        partition_key=f"{ME:%Y-%m}-01",
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
    )
    return root, result


def test_model_version_approved_with_its_out_of_time_card(run):
    root, result = run
    assert result.success
    (mat,) = result.asset_materializations_for_node("models__churn")
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert meta["oot_auc"] > meta["baseline_auc"]
    assert meta["train_months"] >= 1 and meta["test_months"] == 3
    approved = (root / "models" / "scorecard" / "churn" / "APPROVED").read_text().strip()
    assert approved == meta["version"]
    card = (root / "models" / "scorecard" / "churn" / approved / "model_card.html").read_text()
    assert "Out-of-time validation" in card and "Calibration by band" in card


def test_scores_lists_and_checks(run):
    root, result = run
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    scores = pd.read_sql("select * from churn_scores", url)
    lists = pd.read_sql("select * from retention_list", url)
    assert len(scores) and scores["churn_probability"].between(0, 1).all()
    assert len(lists) and lists["at_risk"].all()
    for _, g in lists.groupby("manager_id"):
        assert list(g.sort_values("rank")["value_at_risk"]) == sorted(g["value_at_risk"], reverse=True)
    checks = {e.check_name for e in result.get_asset_check_evaluations()}
    assert checks == {"churn_score_drift", "churn_characteristic_drift"}
    (mat,) = result.asset_materializations_for_node("marts__churn_scores")
    text = " ".join(str(v.value) for v in mat.metadata.values())
    assert not re.search(r"TK\d{5}", text)  # no customer token in the metadata


def test_production_never_approves_and_scores_nothing_without_an_approved_model(tmp_path):
    _build(tmp_path)
    resources = {
        "crm_home": CrmHomeResource(root=str(tmp_path)),
        "warehouse": WarehouseResource(crm_home=str(tmp_path)),
        "scoring": ScoringResource(auto_approve_first=False),
    }
    result = dg.materialize(
        [churn_model, churn_scores],
        partition_key=f"{ME:%Y-%m}-01",
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    registry = tmp_path / "models" / "scorecard" / "churn"
    assert [p for p in registry.iterdir() if p.is_dir()] and not (registry / "APPROVED").exists()
    (mat,) = result.asset_materializations_for_node("marts__churn_scores")
    assert mat.metadata["dagster/row_count"].value == 0
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(not e.passed and e.severity == dg.AssetCheckSeverity.WARN for e in evaluations)


def test_the_staged_read_draws_customers_and_cuts_months_in_the_scan(run):
    from crm.playbook.churn_inputs import load_churn_history

    root, _ = run
    full = load_churn_history(root / "staged", ME)
    assert full.monthly["customer_id"].nunique() == N and len(full.months) == K
    drawn = load_churn_history(root / "staged", ME, max_customers=100)
    ids = set(drawn.monthly["customer_id"])
    assert 60 <= len(ids) <= 140 and ids < set(full.monthly["customer_id"])
    assert drawn.monthly.groupby("customer_id").size().max() == K  # whole customers: all their months
    recent = load_churn_history(root / "staged", ME, months=7)
    assert len(recent.months) == 7 and max(recent.months) == ME


def test_versions_are_listed_and_approved_by_the_scorecard_commands(run):
    from click.testing import CliRunner

    from crm.cli import main

    root, _ = run
    runner = CliRunner()
    out = runner.invoke(main, ["--home", str(root), "scorecard", "versions", "--segment", "churn"])
    assert out.exit_code == 0, out.output
    approved = (root / "models" / "scorecard" / "churn" / "APPROVED").read_text().strip()
    assert f"* {approved}" in out.output and "out-of-time AUC" in out.output
    again = runner.invoke(
        main, ["--home", str(root), "scorecard", "approve", "--segment", "churn", "--version", approved]
    )
    assert again.exit_code == 0 and "churn: approved" in again.output
