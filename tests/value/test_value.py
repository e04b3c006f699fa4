"""Customer value rules on hand-made frames: value score, tiers, lifecycle, trends and the mart's shape;
expected values computed by hand in the comments. Contribution: test_contribution.py; share of wallet and
industry position: test_position.py."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm.value.value import MART_COLUMNS, MONTH_COLUMNS, customer_value, lifecycle, load_config, tiers, value_score
from tests.value.build import ME, MONTHS, account_months, c360, inputs, pinned_config


@pytest.fixture(scope="module")
def base_config():
    return load_config()


@pytest.fixture
def config():
    """The shipped config with the numbers the hand calculations use pinned explicitly."""
    cfg = pinned_config()
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
    assert base_config["version"] == "2026.12-1"
    for section in ("contribution", "cost_to_serve", "activity", "value_score", "wallet", "industry", "trend"):
        assert section in base_config
    for section in ("tiers", "lifecycle"):
        assert section in base_config
    cc = base_config["contribution"]
    # no flat fee per product, no flat customer deposit rate, no flat loan margin, no cost per product remain
    for gone in ("fees", "default_fee", "deposit_rate", "ftp_deposit_rate", "default_loan_margin", "cost_per_product"):
        assert gone not in cc


def test_shipped_config_prices_every_code_of_the_contract(base_config):
    from crm.contract.codes import CODE_SETS

    cts = base_config["cost_to_serve"]
    assert set(cts["interactions"]) == set(CODE_SETS["interaction_channel"])
    assert set(cts["requests"]) == set(CODE_SETS["priority"])
    assert set(cts["transactions"]) == set(CODE_SETS["txn_channel"])
    assert set(base_config["contribution"]["ftp_deposit"]) | {"FIX"} == set(CODE_SETS["deposit_product"])
    assert set(base_config["contribution"]["lgd"]) == set(CODE_SETS["guarantee_type"])
    assert set(base_config["activity"]["digital_channels"]) <= set(CODE_SETS["txn_channel"])


def _c360(**cols):
    n = len(next(iter(cols.values())))
    base = {
        "customer_id": [f"C{i}" for i in range(n)],
        "segment": ["corporate"] * n,
        "enterprise_size": ["M"] * n,
        "loan_balance": [0.0] * n,
        "deposit_mtd_avg": [0.0] * n,
        "products_held": [0] * n,
        "tenure_months": [24] * n,
        "status": ["A"] * n,
        "worst_five_class": [None] * n,
        "txn_count_3m": [0] * n,
        "digital_share_3m": [np.nan] * n,
        "months_active_12m": [0] * n,
    }
    base.update(cols)
    return pd.DataFrame(base)


def test_sme_classification_and_within_segment_ranks(config):
    frame = _c360(
        segment=["retail", "retail", "corporate", "corporate", "corporate", "corporate"],
        enterprise_size=[None, None, "L", "S", "X", "M"],
        contribution_annualised=[100.0, 50.0, 1.0, 1.0, 1.0, 1.0],
        loan_balance=[10.0, 20.0, 0, 0, 0, 0],
        products_held=[1, 2, 1, 1, 1, 1],
        tenure_months=[5, 10, 1, 1, 1, 1],
    )
    out = value_score(frame, config)
    assert out["value_segment"].tolist() == ["retail", "retail", "corporate", "sme", "sme", "corporate"]
    # weights .35 contribution, .20 balances, .15 cross-sell, .10 tenure, .08 + .04 + .08 activity = 1.00;
    # activity ties at .75 except digital share (no transactions: NaN ranks 0).
    # C0: contribution 1, balances/cross-sell/tenure .5, activity .75 .75 0 -> .35 + .225 + .12 = 69.5
    # C1: contribution .5, others 1 -> .175 + .45 + .12 = 74.5
    assert out["value_score"].iloc[0] == pytest.approx(69.5)
    assert out["value_score"].iloc[1] == pytest.approx(74.5)
    # SMEs (industry weight .10 applies, no position: missing_position 50): tie at .75 but digital share
    # -> (.96 x .75 + .10 x .5) / 1.10 = 70
    assert out["value_score"].iloc[3] == pytest.approx(100 * (0.96 * 0.75 + 0.05) / 1.1, abs=1e-4)
    assert {"rank_txn_count_3m", "rank_digital_share_3m", "rank_months_active_12m"} <= set(out.columns)


def test_activity_ranks_enter_the_score(config):
    frame = _c360(
        segment=["retail", "retail"],
        enterprise_size=[None, None],
        contribution_annualised=[1.0, 1.0],
        txn_count_3m=[10, 0],
        digital_share_3m=[0.5, np.nan],
        months_active_12m=[3, 3],
    )
    out = value_score(frame, config)
    # ties at .75 on contribution, balances, cross-sell, tenure, months active (weights .88);
    # transactions 1 vs .5 (.08); digital share 1 vs 0 (.04)
    assert out["value_score"].tolist() == pytest.approx([100 * (0.88 * 0.75 + 0.08 + 0.04), 100 * (0.88 * 0.75 + 0.04)])


def test_configured_activity_feature_missing_raises(config):
    frame = _c360(segment=["retail"], enterprise_size=[None], contribution_annualised=[1.0]).drop(
        columns="months_active_12m"
    )
    with pytest.raises(ValueError, match="months_active_12m"):
        value_score(frame, config)


def test_industry_position_weighs_in_corporate_and_sme_only(config):
    frame = _c360(
        segment=["corporate", "corporate", "corporate", "retail"],
        enterprise_size=["S", "S", "S", None],
        contribution_annualised=[1.0] * 4,
        industry_position=[80.0, 20.0, np.nan, np.nan],
        digital_share_3m=[0.1] * 4,
    )
    out = value_score(frame, config)
    # the three SMEs tie on everything else (rank 2/3): 100 x (1.00 x 2/3 + .10 x position / 100) / 1.10
    assert out["value_score"].iloc[0] == pytest.approx(100 * (2 / 3 + 0.08) / 1.1, abs=1e-4)
    assert out["value_score"].iloc[1] == pytest.approx(100 * (2 / 3 + 0.02) / 1.1, abs=1e-4)
    assert out["value_score"].iloc[2] == pytest.approx(100 * (2 / 3 + 0.05) / 1.1, abs=1e-4)  # missing: 50
    assert np.isnan(out["rank_industry"].iloc[3]) and out["value_score"].iloc[3] == pytest.approx(100.0)


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


def _history(scores: dict[str, float], when: dt.date) -> pd.DataFrame:
    return pd.DataFrame(
        {"month_end": when, "customer_id": list(scores), "value_score": list(scores.values()), "contribution": 0.0}
    )


def test_trend_from_value_history_and_monthly_parts(config):
    """U: deposit spread doubles in the last 3 months; D: value score down 10 points against 3 month ends
    before; F: steady; N: onboarded 4 months ago."""
    c = c360(
        [
            {"customer_id": "U"},
            {"customer_id": "D"},
            {"customer_id": "F"},
            {"customer_id": "N", "onboarding_date": dt.date(2026, 3, 1), "tenure_months": 3},
        ]
    )
    dep = account_months("AU", "U", 120_000.0, 0.30, months=MONTHS[:-3])  # 150.00 a month
    dep += account_months("AU", "U", 240_000.0, 0.30, months=MONTHS[-3:])  # 300.00 a month
    dep += account_months("AD", "D", 120_000.0, 0.30) + account_months("AF", "F", 120_000.0, 0.30)
    dep += account_months("AN", "N", 120_000.0, 0.30, months=MONTHS[-4:])
    history = pd.concat(
        [
            _history({"D": 200.0, "F": 0.0}, dt.date(2026, 3, 31)),  # D: impossible-high earlier score
            _history({"D": -50.0}, dt.date(2026, 2, 28)),  # another month end: not the one 3 months before
        ]
    )
    result = customer_value(inputs(c, deposits=dep, value_history=history), config)
    v = result.value.set_index("customer_id")
    # U: last 3 months 900 against 450 before: +100%
    assert v.loc["U", "contribution_change_3m"] == pytest.approx(1.0)
    assert np.isnan(v.loc["U", "value_score_change_3m"]) and v.loc["U", "value_trend"] == "up"
    assert v.loc["D", "contribution_change_3m"] == 0.0
    assert v.loc["D", "value_score_change_3m"] == pytest.approx(v.loc["D", "value_score"] - 200.0)
    assert v.loc["D", "value_trend"] == "down"  # the value score wins over a flat contribution
    assert v.loc["F", "value_trend"] == "up"  # value score up from 0 (score_points 5)
    assert np.isnan(v.loc["N", "contribution_change_3m"]) and v.loc["N", "value_trend"] == "new"


def test_customer_value_mart_columns_and_month_frame(config):
    c = c360([{"customer_id": "A", "loan_balance": 0.0, "deposit_mtd_avg": 10.0}, {"customer_id": "B"}])
    earlier = c.assign(deposit_mtd_avg=[20.0, 0.0])
    result = customer_value(inputs(c, deposits=account_months("DA", "A", 10_000.0, 0.3), earlier=earlier), config)
    v = result.value
    assert v["customer_id"].tolist() == ["A", "B"]
    ranks = [col for col in v.columns if col.startswith("rank_")]
    assert list(v.columns) == [col for col in MART_COLUMNS if not col.startswith("rank_") or col in ranks][
        : MART_COLUMNS.index("rank_contribution")
    ] + ranks + [col for col in MART_COLUMNS[MART_COLUMNS.index("value_tier") :]]
    assert v.loc[0, "deposit_change_3m"] == pytest.approx(-0.5) and v.loc[0, "lifecycle_stage"] == "decline"
    assert list(result.monthly.columns) == MONTH_COLUMNS
    assert (result.monthly["month"] <= ME).all() and len(result.monthly) == 24
    assert v["config_version"].eq(config["version"]).all()
