"""Customer value rules on hand-made frames; expected values computed by hand in the comments."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from crm.value.value import contribution, lifecycle, load_config, loan_attributes, tiers, value_score


@pytest.fixture(scope="module")
def base_config():
    return load_config()


@pytest.fixture
def config(base_config):
    """The shipped config with the numbers the hand calculations use pinned explicitly."""
    cfg = copy.deepcopy(base_config)
    cc = cfg["contribution"]
    cc.update(
        default_loan_margin=0.015,
        default_term_bucket="1y",
        deposit_rate=0.012,
        ftp_deposit_rate=0.022,
        default_lgd=0.45,
        unscored_pd=0.04,
        cost_per_product=120.0,
        cost_per_loan=600.0,
        default_fee=0.0,
    )
    cc["ftp_loan"] = [
        {"bucket": "1y", "max_months": 12, "rate": 0.025},
        {"bucket": "3y", "max_months": 36, "rate": 0.028},
        {"bucket": "5y+", "max_months": 1200, "rate": 0.034},
    ]
    cc["lgd"] = {"CR": 0.45, "GU": 0.40, "MO": 0.25, "PL": 0.20}
    cc["fees"] = {"DEP": 0.0, "LOAN": 300.0, "SETL": 1500.0, "WMP": 500.0}
    cfg["value_score"].update(sme_sizes=["S", "X"], activity_column="txn_count_3m")
    cfg["value_score"]["weights"] = {
        "contribution": 0.40,
        "balances": 0.25,
        "cross_sell": 0.15,
        "tenure": 0.10,
        "activity": 0.10,
    }
    cfg["tiers"].update(
        strategic=85.0,
        key=70.0,
        growth=40.0,
        watch_grades=["C2", "C3", "D"],
        watch_five_class="2",
        key_account_grades=["A1", "A2", "A3", "B1", "B2", "B3", "C1"],
        ungraded_acceptable=True,
    )
    cfg["lifecycle"].update(new_months=12, mature_months=36, decline_change=-0.20)
    return cfg


def test_shipped_config_has_version_and_sections(base_config):
    assert base_config["version"]
    for section in ("contribution", "value_score", "tiers", "lifecycle"):
        assert section in base_config


def _c360(**cols):
    n = len(next(iter(cols.values())))
    base = {
        "customer_id": [f"C{i}" for i in range(n)],
        "segment": ["corporate"] * n,
        "enterprise_size": ["M"] * n,
        "loan_balance": [0.0] * n,
        "deposit_mtd_avg": [0.0] * n,
        "products_held": [0] * n,
        "loans": [0] * n,
        "product_families": [""] * n,
        "tenure_months": [24] * n,
        "status": ["A"] * n,
        "worst_five_class": [None] * n,
    }
    base.update(cols)
    return pd.DataFrame(base)


def test_contribution_key_account_by_hand(config):
    c360 = _c360(
        loan_balance=[1_000_000.0],
        deposit_mtd_avg=[500_000.0],
        products_held=[3],
        loans=[2],
        product_families=["DEP,LOAN,SETL"],
        loan_rate_pct=[4.35],
        loan_term_months=[24],
        guarantee_type=["MO"],
    )
    scores = pd.DataFrame({"customer_id": ["C0"], "pd": [0.02], "grade": ["B2"]})
    row = contribution(c360, scores, config).iloc[0]
    assert row["ftp_bucket"] == "3y"  # 24 months <= 36
    assert row["loan_nii"] == 15_500.00  # 1e6 x (4.35% - 2.8%)
    assert row["deposit_spread"] == 5_000.00  # 5e5 x (2.2% - 1.2%)
    assert row["fees"] == 1_800.00  # 0 + 300 + 1500
    assert row["expected_loss"] == 5_000.00  # 2% x 25% (MO) x 1e6
    assert row["servicing_cost"] == 1_560.00  # 3 x 120 + 2 x 600
    assert row["contribution"] == 15_740.00
    assert row["grade"] == "B2" and row["lgd_source"] == "guarantee_type" and row["margin_source"] == "loan_rate"


def test_contribution_defaults_without_rate_term_guarantee(config):
    c360 = _c360(loan_balance=[200_000.0, 0.0], products_held=[1, 1], loans=[1, 0], product_families=["LOAN", "WMP"])
    scores = pd.DataFrame({"customer_id": ["X"], "pd": [0.5]})  # neither customer scored
    out = contribution(c360, scores, config).set_index("customer_id")
    assert out.loc["C0", "loan_nii"] == 3_000.00  # 2e5 x 1.5% config margin
    assert out.loc["C0", "expected_loss"] == 3_600.00  # 4% unscored PD x 45% default LGD x 2e5
    assert out.loc["C0", "pd_source"] == "config_unscored" and out.loc["C0", "lgd_source"] == "config_default"
    assert out.loc["C1", "expected_loss"] == 0.0 and out.loc["C1", "fees"] == 500.0
    assert out.loc["C1", "contribution"] == 380.00  # 500 fee - 120 cost


def test_ftp_bucket_edges(config):
    c360 = _c360(loan_balance=[100.0] * 4, loan_term_months=[12, 13, 36, 400])
    out = contribution(c360, pd.DataFrame({"customer_id": [], "pd": []}), config)
    assert out["ftp_bucket"].tolist() == ["1y", "3y", "3y", "5y+"]


def test_contribution_identity_to_the_cent(config):
    rng = np.random.default_rng(7)
    n = 200
    c360 = _c360(
        loan_balance=rng.uniform(0, 5e6, n).round(2),
        deposit_mtd_avg=rng.uniform(0, 3e6, n).round(2),
        products_held=rng.integers(0, 6, n),
        loans=rng.integers(0, 4, n),
        product_families=rng.choice(["", "DEP", "DEP,LOAN", "LOAN,SETL,WMP", "FX"], n),
        loan_rate_pct=rng.uniform(3, 9, n).round(4),
        loan_term_months=rng.integers(1, 120, n),
        guarantee_type=rng.choice(["CR", "GU", "MO", "PL", None], n),
    )
    scores = pd.DataFrame({"customer_id": c360["customer_id"], "pd": rng.uniform(0.001, 0.3, n)})
    out = contribution(c360, scores, config)
    parts = out["loan_nii"] + out["deposit_spread"] + out["fees"] - out["expected_loss"] - out["servicing_cost"]
    cents = (parts * 100).round().astype("int64")
    assert (cents == (out["contribution"] * 100).round().astype("int64")).all()
    for col in ["loan_nii", "deposit_spread", "fees", "expected_loss", "servicing_cost", "contribution"]:
        assert ((out[col] * 100 - (out[col] * 100).round()).abs() < 1e-6).all()


def test_sme_classification_and_within_segment_ranks(config):
    frame = _c360(
        segment=["retail", "retail", "corporate", "corporate", "corporate", "corporate"],
        enterprise_size=[None, None, "L", "S", "X", "M"],
        contribution=[100.0, 50.0, 1.0, 1.0, 1.0, 1.0],
        loan_balance=[10.0, 20.0, 0, 0, 0, 0],
        products_held=[1, 2, 1, 1, 1, 1],
        tenure_months=[5, 10, 1, 1, 1, 1],
    )
    out = value_score(frame, config)
    assert out["value_segment"].tolist() == ["retail", "retail", "corporate", "sme", "sme", "corporate"]
    # No activity column -> weights .40/.25/.15/.10 renormalised by 0.90.
    # C0: contribution rank 1, others 0.5 -> (0.40 + 0.5 x 0.50) / 0.90 = 72.2222
    # C1: contribution rank 0.5, others 1 -> (0.20 + 0.50) / 0.90 = 77.7778
    assert out["value_score"].iloc[0] == pytest.approx(72.2222, abs=1e-4)
    assert out["value_score"].iloc[1] == pytest.approx(77.7778, abs=1e-4)
    # Ties share the average rank: two equal SMEs rank 0.75 on everything -> 75.
    assert out["value_score"].iloc[3] == pytest.approx(75.0)
    assert "rank_activity" not in out.columns


def test_activity_used_when_present(config):
    frame = _c360(
        segment=["retail", "retail"], enterprise_size=[None, None], contribution=[1.0, 1.0], txn_count_3m=[10, 0]
    )
    out = value_score(frame, config)
    # All ranks tie at 0.75 except activity (1 vs 0.5): 100 x (0.9 x 0.75 + 0.1 x 1) = 77.5; other 72.5.
    assert out["value_score"].tolist() == pytest.approx([77.5, 72.5])


def test_tier_thresholds_at_and_just_below(config):
    frame = pd.DataFrame(
        {
            "value_score": [85.0, 84.9999, 70.0, 69.9999, 40.0, 39.9999],
            "grade": ["A1"] * 6,
            "worst_five_class": ["1"] * 6,
        }
    )
    out = tiers(frame, config)
    assert out["tier"].tolist() == ["strategic", "key", "key", "growth", "growth", "standard"]
    assert out["key_account"].tolist() == [True, True, True, False, False, False]


def test_guanzhu_never_key_account(config):
    frame = pd.DataFrame(
        {
            "value_score": [95.0, 95.0, 95.0, 95.0, 95.0, 95.0],
            "grade": ["A1", "C2", "B1", None, "C1", "A1"],
            "worst_five_class": ["2", "1", "1", None, "1", "3"],
        }
    )
    out = tiers(frame, config)
    assert out["value_tier"].tolist() == ["strategic"] * 6
    assert out["tier"].tolist() == ["watch", "watch", "strategic", "strategic", "strategic", "watch"]
    assert out["key_account"].tolist() == [False, False, True, True, True, False]
    assert out["review_flag"].tolist() == [True, False, False, False, False, True]


def test_lifecycle_rules_in_order(config):
    frame = pd.DataFrame(
        {
            "status": ["A", "A", "A", "A", "D", "C", "A", "A", "A", "C"],
            "tenure_months": pd.array([11, 12, 35, 36, 5, 40, 40, 40, None, 3], dtype="Int64"),
            "deposit_change_3m": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.25, -0.20, 0.0, 0.0],
        }
    )
    out = lifecycle(frame, config)
    assert out["lifecycle_stage"].tolist() == [
        "new",
        "growth",
        "growth",
        "mature",
        "dormant",
        "churned",
        "decline",
        "mature",
        "unknown",
        "churned",
    ]


def test_lifecycle_without_trend_columns(config):
    out = lifecycle(pd.DataFrame({"status": ["A"], "tenure_months": [60]}), config)
    assert out["lifecycle_stage"].tolist() == ["mature"]


def test_loan_attributes_weighted():
    loans = pd.DataFrame(
        {
            "loan_id": ["L1", "L2", "L3"],
            "customer_id": ["C0", "C0", "C1"],
            "status": ["N", "O", "S"],
            "balance": [300.0, 100.0, 50.0],
            "interest_rate": [4.0, 8.0, 5.0],
            "start_date": ["2024-01-01", "2025-01-01", "2024-01-01"],
            "maturity_date": ["2027-01-01", "2026-01-01", "2025-01-01"],
            "guarantee_type": ["MO", "CR", "GU"],
        }
    )
    out = loan_attributes(loans).set_index("customer_id")
    assert list(out.index) == ["C0"]  # settled loan excluded
    assert out.loc["C0", "loan_rate_pct"] == pytest.approx(5.0)  # (300x4 + 100x8) / 400
    assert out.loc["C0", "loan_term_months"] == pytest.approx(30.0)  # (300x36 + 100x12) / 400
    assert out.loc["C0", "guarantee_type"] == "MO"


def test_trends_against_three_months_earlier():
    from crm.value.value import trends

    now = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "deposit_mtd_avg": [75.0, 10.0, 5.0, 1.0],
            "loan_balance": [0.0, 200.0, 0.0, 0.0],
        }
    )
    earlier = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "deposit_mtd_avg": [100.0, 0.0, 5.0], "loan_balance": [0.0, 100.0, 0.0]}
    )
    t = trends(now, earlier).set_index("customer_id")
    assert t.loc["a", "deposit_change_3m"] == pytest.approx(-0.25)
    assert np.isnan(t.loc["b", "deposit_change_3m"])  # 0 three months ago: no relative change
    assert t.loc["b", "balance_change_3m"] == pytest.approx(1.0)
    assert np.isnan(t.loc["d", "deposit_change_3m"])  # not a customer then
    assert trends(now, pd.DataFrame())["deposit_change_3m"].isna().all()


def test_customer_value_mart_from_the_month_inputs(config):
    """The chain the customer_value asset runs: loan attributes and trends merged in, contribution with the
    scores, value score, tiers and lifecycle; the mart's columns in order, one row per customer."""
    from crm.value.value import customer_value, mart_columns

    c360 = _c360(
        loan_balance=[1_000_000.0, 0.0, 50_000.0],
        deposit_mtd_avg=[500_000.0, 20_000.0, 0.0],
        products_held=[3, 1, 1],
        loans=[1, 0, 1],
        product_families=["DEP,LOAN,SETL", "DEP", "LOAN"],
        segment=["corporate", "retail", "retail"],
        branch_id=["B1"] * 3,
        manager_id=["S1", "S1", "S2"],
    )
    earlier = c360.assign(deposit_mtd_avg=[400_000.0, 40_000.0, 0.0])
    scores = pd.DataFrame(
        {"customer_id": ["C0", "C2"], "pd": [0.02, 0.10], "grade": ["B2", "C3"], "score": [650.0, 540.0]}
    )
    loans = pd.DataFrame(
        {
            "loan_id": ["L1", "L2"],
            "customer_id": ["C0", "C2"],
            "status": ["N", "N"],
            "balance": [1_000_000.0, 50_000.0],
            "interest_rate": [4.35, 6.0],
            "start_date": ["2025-01-01", "2025-06-01"],
            "maturity_date": ["2027-01-01", "2026-06-01"],
            "guarantee_type": ["MO", "CR"],
        }
    )
    out = customer_value(c360, earlier, scores, loans, config)
    assert out["customer_id"].tolist() == ["C0", "C1", "C2"]
    assert list(out.columns[:3]) == ["customer_id", "segment", "value_segment"]
    assert list(out.columns[-4:]) == ["deposit_change_3m", "balance_change_3m", "branch_id", "manager_id"]
    assert "score" not in out.columns and "loan_rate_pct" not in out.columns  # inputs, not the mart's
    assert out.loc[0, "deposit_change_3m"] == pytest.approx(0.25) and out.loc[1, "deposit_change_3m"] == -0.5
    assert out.loc[0, "grade"] == "B2" and out.loc[0, "margin_source"] == "loan_rate"
    row = out.iloc[0]
    assert row["contribution"] == pytest.approx(
        row["loan_nii"] + row["deposit_spread"] + row["fees"] - row["expected_loss"] - row["servicing_cost"]
    )
    assert out["lifecycle_stage"].notna().all() and out["tier"].notna().all()
    parts = pd.DataFrame(columns=["customer_id", "loan_nii", "contribution"])
    frame = pd.DataFrame(columns=["manager_id", "contribution", "customer_id", "rank_value", "tier", "extra"])
    assert mart_columns(frame, parts) == ["customer_id", "contribution", "rank_value", "tier", "manager_id"]
