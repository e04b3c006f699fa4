"""Referrals on a hand-built bank: NPS categories of referrers, cohort-matched value of referred customers."""

import datetime as dt

import pandas as pd
import pytest

from crm.playbook import load_config
from crm.playbook.referrals import nps_categories, referral_summary, referral_value, referrers
from crm.satisfaction.analytics import load_config as satisfaction_config

DAY = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def bank():
    # P1 promoter (nps 9) refers R1, R2; D1 detractor (nps 6) refers R3; X1 passive (nps 8), no referral.
    # Cohorts: 2026-03 (R1, R2 referred; N1, N2 not), 2026-04 (R3 referred; N3 not), 2020-01 the referrers.
    value = pd.DataFrame(
        {
            "customer_id": ["P1", "D1", "X1", "R1", "R2", "R3", "N1", "N2", "N3"],
            "branch_id": ["B1", "B2", "B1", "B1", "B1", "B2", "B1", "B1", "B2"],
            "manager_id": ["M1", "M2", "M1", "M1", "M1", "M2", "M1", "M1", "M2"],
            "contribution": [5000.0, 3000.0, 1000.0, 900.0, 700.0, 400.0, 300.0, 500.0, 600.0],
            "value_score": [80.0, 60.0, 40.0, 50.0, 30.0, 20.0, 10.0, 30.0, 40.0],
        }
    )
    onboarding = pd.DataFrame(
        {
            "customer_id": value["customer_id"],
            "onboarding_date": pd.to_datetime(
                ["2020-01-05"] * 3
                + ["2026-03-03", "2026-03-20", "2026-04-02", "2026-03-10", "2026-03-11", "2026-04-15"]
            ).date,
        }
    )
    referrals = pd.DataFrame(
        {
            "referral_id": ["F1", "F2", "F3"],
            "referrer_customer_id": ["P1", "P1", "D1"],
            "referred_customer_id": ["R1", "R2", "R3"],
            "referral_date": [dt.date(2026, 3, 3), dt.date(2026, 3, 20), dt.date(2026, 4, 2)],
            "channel": ["BRANCH"] * 3,
        }
    )
    surveys = pd.DataFrame(
        {
            "survey_id": ["S1", "S2", "S3", "S4", "S5"],
            "customer_id": ["P1", "P1", "D1", "X1", "X1"],
            "response_date": [dt.date(2025, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 2, 1), dt.date(2026, 2, 1), None],
            "nps": [3, 9, 6, 8, 0],  # P1's latest answer (9) counts; X1's unanswered survey does not
        }
    )
    return value, onboarding, referrals, surveys


def test_nps_category_at_the_cut_offs(bank):
    nps = nps_categories(bank[3], DAY, satisfaction_config()["nps"]).set_index("customer_id")["nps_category"]
    assert nps.to_dict() == {"D1": "detractor", "P1": "promoter", "X1": "passive"}


def test_referrers_and_value_of_referred(bank):
    value, onboarding, referrals, surveys = bank
    config = load_config()
    nps = nps_categories(surveys, DAY, satisfaction_config()["nps"])
    r = referrers(referrals, value, nps, DAY, config).set_index("customer_id")
    assert r.loc["P1", "referrals"] == 2 and r.loc["P1", "nps_category"] == "promoter"
    assert r.loc["P1", "referred_contribution"] == 1600.0 and r.loc["D1", "nps_category"] == "detractor"
    cohorts = referral_value(value, onboarding, referrals, DAY, config)
    bank_rows = cohorts[cohorts["branch_id"] == "ALL"].set_index("cohort")
    march = bank_rows.loc[pd.Timestamp("2026-03-01")]
    assert march["referred_customers"] == 2 and march["referred_contribution_mean"] == 800.0
    assert march["non_referred_contribution_mean"] == 400.0
    s = referral_summary(value, onboarding, referrals, nps, cohorts, DAY, config).set_index("branch_id")
    bank_s = s.loc["ALL"]
    # cohort-matched: referred (900+700+400)/3; non-referred 400 (weight 2) and 600 (weight 1)
    assert bank_s["referred_contribution_mean"] == pytest.approx(2000 / 3)
    assert bank_s["matched_non_referred_contribution_mean"] == pytest.approx((400 * 2 + 600) / 3)
    assert bank_s["referred_contribution_difference"] == pytest.approx(2000 / 3 - 1400 / 3)
    assert bank_s["new_customers"] == 6 and bank_s["new_referred"] == 3 and bank_s["referred_share_new"] == 0.5
    assert bank_s["referrals_per_promoter"] == 2 and bank_s["referrals_per_detractor"] == 1
    assert bank_s["referrals_per_passive"] == 0 and bank_s["promoters_referring"] == 1
    assert s.loc["B2", "new_referred"] == 1 and s.loc["B2", "detractors"] == 1


def test_no_referrals_gives_typed_empty_frames(bank):
    value, onboarding, _, surveys = bank
    config = load_config()
    empty = pd.DataFrame(columns=["referral_id", "referrer_customer_id", "referred_customer_id", "referral_date"])
    nps = nps_categories(surveys, DAY, satisfaction_config()["nps"])
    assert referrers(empty, value, nps, DAY, config).empty
    cohorts = referral_value(value, onboarding, empty, DAY, config)
    assert cohorts.empty
    s = referral_summary(value, onboarding, empty, nps, cohorts, DAY, config).set_index("branch_id")
    assert s.loc["ALL", "new_referred"] == 0 and s.loc["ALL", "referred_share_new"] == 0
