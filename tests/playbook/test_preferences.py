"""Preference profiles and segment summaries on hand-built frames: each dimension from its source, price
sensitivity from its three signals, and segment shares that reconcile with the per-customer rows."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from crm.playbook import load_config
from crm.playbook.needs import customer_needs
from crm.playbook.preferences import (
    COLUMNS,
    DIMENSIONS,
    customer_preferences,
    segment_needs,
    segment_preferences,
)
from tests.playbook.needs_build import ME, build, customer, loan, month, txns


@pytest.fixture(scope="module")
def config():
    return load_config()


def _interaction(cid, channel, when):
    return {"customer_id": cid, "channel": channel, "interaction_time": pd.Timestamp(when)}


def _survey(cid, rating, when=dt.date(2026, 3, 1)):
    return {"customer_id": cid, "rating_pricing": rating, "response_date": when}


def _opp(cid, outcome, reason=None, when=dt.date(2026, 4, 1)):
    return {
        "customer_id": cid,
        "outcome": outcome,
        "decline_reason": reason,
        "outcome_date": when,
        "offered_date": when,
    }


@pytest.fixture(scope="module")
def profile(config):
    far = dt.date(2030, 1, 1)
    loans = [
        # P1: the LPR loan is the larger contract; terms 6 and 72 months
        loan(
            "L1",
            "P1",
            maturity=dt.date(2024, 7, 15),
            contract=1e6,
            rate_type="FIX",
            repayment_method="EPI",
            guarantee_type="CR",
        ),
        loan("L2", "P1", maturity=far, contract=3e6, rate_type="LPR", repayment_method="IOB", guarantee_type="MO"),
        loan("L1s", "P1", maturity=dt.date(2024, 7, 15), contract=9e6, rate_type="FIX", status="S"),
    ]
    # twelve peers of P2's product and segment at 5%; P2 borrows at 3%: at or below the lower quartile
    loans += [loan(f"X{i}", f"PEER{i}", maturity=far, interest_rate=5.0) for i in range(12)]
    loans += [loan("L3", "P2", maturity=far, interest_rate=3.0)]
    inp = build(
        [customer(c) for c in ("P1", "P2", "P3", "P4")]
        + [customer(f"PEER{i}") for i in range(12)]
        + [customer("R1", "retail", branch_id="B2"), customer("GONE", status="C")],
        loans=loans,
        txn_rows=txns("P1", {k: 1.0 for k in range(12)}, channel="MOB")  # 10 a month
        + txns("P1", {k: 1.0 for k in range(6)}, channel="CNTR")
        + txns("P1", {12: 1.0}, channel="CNTR"),  # 13 months ago: outside the 12
        interactions=pd.DataFrame(
            [
                _interaction("P1", "VISIT", "2026-05-03 10:00"),
                _interaction("P1", "PHONE", "2026-05-04 10:00"),
                _interaction("P1", "PHONE", "2026-01-04 10:00"),
                _interaction("P1", "WECHAT", "2025-06-30 10:00"),  # before the 12 months
                _interaction("P1", "WECHAT", "2025-06-29 10:00"),
            ]
        ),
        surveys=pd.DataFrame(
            [_survey("P3", 2), _survey("P3", 3), _survey("P4", 5), _survey("P4", 1, dt.date(2025, 1, 1))]
        ),
        opportunities=pd.DataFrame([_opp("P1", "D", "PRICE"), _opp("P4", "A")]),
    )
    return inp, customer_preferences(inp, config)


def test_one_profile_per_active_customer(profile):
    _, p = profile
    assert list(p.columns) == COLUMNS
    assert "GONE" not in set(p["customer_id"]) and len(p) == 4 + 12 + 1


def test_loan_dimensions_follow_the_largest_contract(profile):
    _, p = profile
    r = p.set_index("customer_id").loc["P1"]
    assert (r["rate_type"], r["repayment_method"], r["collateral"], r["term_band"]) == ("LPR", "IOB", "MO", "LONG")
    assert r["loans_seen"] == 2  # the settled loan is not live
    assert p.set_index("customer_id").loc["P3", "rate_type"] is None


def test_channel_and_digital_share_over_12_months(profile):
    _, p = profile
    r = p.set_index("customer_id").loc["P1"]
    assert r["channel"] == "PHONE" and r["interactions_seen"] == 3
    assert r["digital_share"] == round(120 / 180, 4)


def test_price_sensitivity_from_declines_ratings_and_rates(profile):
    _, p = profile
    s = p.set_index("customer_id")["price_sensitivity"]
    assert s["P1"] == "HIGH"  # a PRICE decline (2 points)
    assert s["P2"] == "MEDIUM"  # low rate against 12 peers (1 point)
    assert s["P3"] == "MEDIUM"  # mean rating 2.5 (1 point)
    assert p.set_index("customer_id").loc["P3", "pricing_rating"] == 2.5
    assert s["P4"] == "LOW"  # rating 5 (the 2025 survey is outside the months) and an accepted offer
    assert p.set_index("customer_id").loc["P4", "surveys_seen"] == 1
    assert s["R1"] == "UNKNOWN"
    assert s["PEER0"] == "LOW"  # a loan in a group large enough, not below the quartile


def test_segment_preferences_reconcile_with_the_customers(profile):
    _, p = profile
    sp = segment_preferences(p)
    for (branch, seg, dim), g in sp.groupby(["branch_id", "segment", "dimension"]):
        assert abs(g["share"].sum() - 1.0) < 1e-5
        rows = p if branch == "ALL" else p[p["branch_id"] == branch]
        rows = rows[rows["segment"] == seg]
        counts = rows[dim].dropna().value_counts()
        assert dict(zip(g["value"], g["customers"], strict=True)) == counts.to_dict()
    assert set(sp["dimension"]) <= set(DIMENSIONS)
    assert set(sp["branch_id"]) == {"B1", "B2", "ALL"}


def test_segment_needs_reconcile_with_the_needs(config):
    far = ME + dt.timedelta(days=20)
    inp = build(
        [
            customer("A", branch_id="B1"),
            customer("B", branch_id="B1"),
            customer("C", branch_id="B2"),
            customer("D", "retail", branch_id="B2"),
            customer("Z", branch_id="B2", status="C"),
        ],
        loans=[
            loan("L1", "A", maturity=far),
            loan("L2", "C", maturity=far),
            loan("L3", "Z", maturity=far),
            loan("L4", "D", maturity=far),
        ],
        txn_rows=txns("A", {k: 1e6 for k in range(12)}, top_share=0.8),
    )
    needs = customer_needs(inp, config).needs
    sn = segment_needs(needs, inp.customers, config)
    for _, r in sn.iterrows():
        rows = needs if r["branch_id"] == "ALL" else needs[needs["branch_id"] == r["branch_id"]]
        rows = rows[(rows["segment"] == r["segment"]) & (rows["need"] == r["need"])]
        assert r["customers"] == rows["customer_id"].nunique()
        assert r["share"] == round(r["customers"] / r["segment_customers"], 6)
    b = sn.set_index(["branch_id", "segment", "need"])
    assert b.loc[("B1", "corporate", "MATURITY"), "segment_customers"] == 2
    assert b.loc[("ALL", "corporate", "MATURITY"), "customers"] == 2  # Z is closed
    assert b.loc[("B1", "corporate", "MATURITY"), "rank"] == 1  # tie with CONCENTRATION: need order
    assert b.loc[("B1", "corporate", "CONCENTRATION"), "rank"] == 2
    assert b.loc[("ALL", "retail", "MATURITY"), "share"] == 1.0
    assert month(0) == ME
