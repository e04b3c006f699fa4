"""Cross-sell, supply-chain leads, revisit plan and manager scorecards on hand-made frames."""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm.playbook import load_config
from crm.playbook.crosssell import lift_table, next_best, supply_chain_leads
from crm.playbook.managers import manager_scorecards
from crm.playbook.revisit import overdue_by_manager, revisit_plan

DAY = dt.date(2026, 10, 31)


@pytest.fixture
def config():
    cfg = copy.deepcopy(load_config())
    cfg["cross_sell"].update(
        top_n=2, min_support=2, min_lift=1.1, excluded_status=["C"], credit_families=["LOAN", "CARD", "SCF"]
    )
    cfg["cross_sell"]["segments"] = {"CARD": ["retail"], "SCF": ["sme", "corporate"]}
    cfg["revisit"].update(channels=["VISIT", "PHONE"], excluded_purposes=["COLLECT"], due_soon_days=14)
    cfg["revisit"]["interval_days"] = {"strategic": 30, "key": 90, "watch": 30, "growth": 180, "standard": 365}
    cfg["managers"]["npl_classes"] = ["3", "4", "5"]
    return cfg


def test_lift_by_hand():
    # 4 customers: A,B held together twice; A alone once; C alone once
    held = pd.DataFrame({"A": [1, 1, 1, 0], "B": [1, 1, 0, 0], "C": [0, 0, 0, 1]})
    lift = lift_table(held, min_support=1)
    # lift(A -> B) = n(AB) n / (n(A) n(B)) = 2 * 4 / (3 * 2) = 4/3; lift(B -> A) the same; A -> C = 0
    assert lift.loc["A", "B"] == pytest.approx(4 / 3)
    assert lift.loc["B", "A"] == pytest.approx(4 / 3)
    assert lift.loc["A", "C"] == 0
    assert np.isnan(lift.loc["A", "A"])
    assert lift_table(held, min_support=3).loc["B"].isna().all()  # B held by 2 < 3: no evidence


def test_next_best_excludes_held_ineligible_watch_and_closed(config):
    # retail segment: DEP+WMP together often, DEP+CARD together often
    fams = ["DEP,WMP", "DEP,WMP", "DEP,CARD", "DEP,CARD", "DEP", "DEP", "DEP", "DEP"]
    frame = pd.DataFrame(
        {
            "customer_id": [f"r{i}" for i in range(8)],
            "value_segment": "retail",
            "product_families": fams,
            "tier": ["growth"] * 5 + ["watch", "growth", "growth"],
            "status": ["A"] * 7 + ["C"],
        }
    )
    sugg, lifts = next_best(frame, config)
    got = {c: list(g.sort_values("rank")["product_family"]) for c, g in sugg.groupby("customer_id")}
    # lift(WMP -> DEP) = 2*8/(2*8) = 1: below min_lift, so WMP holders get only CARD? lift(WMP -> CARD) = 0
    assert "r0" not in got
    # DEP holders: lift(DEP -> WMP) = 2*8/(8*2) = 1.0 < 1.1: nothing from DEP alone
    assert "r4" not in got
    assert not set(sugg["product_family"]) & {"DEP"}
    # make DEP less common: co-occurrence then lifts WMP and CARD for DEP-only customers
    frame2 = pd.concat(
        [
            frame,
            pd.DataFrame(
                {
                    "customer_id": ["r8", "r9", "r10"],
                    "value_segment": "retail",
                    "product_families": ["FUND", "FUND", "FUND"],
                    "tier": "growth",
                    "status": "A",
                }
            ),
        ],
        ignore_index=True,
    )
    sugg2, _ = next_best(frame2, config)
    got2 = {c: list(g.sort_values("rank")["product_family"]) for c, g in sugg2.groupby("customer_id")}
    # n = 11, n(DEP) = 8, n(WMP) = 2, n(DEP,WMP) = 2: lift = 2*11/(8*2) = 1.375; CARD the same
    assert got2["r4"] == ["CARD", "WMP"]  # tie broken by family order (columns sorted)
    assert sugg2.loc[sugg2["customer_id"] == "r4", "score"].iloc[0] == pytest.approx(1.375)
    assert got2["r5"] == ["WMP"]  # on watch: no CARD (credit)
    assert "r7" not in got2  # closed
    assert got2["r0"] == ["CARD"]  # holds WMP; CARD through DEP
    # CARD is not offered to corporate customers even when lift says so
    corp = frame2.assign(value_segment="corporate")
    assert "CARD" not in set(next_best(corp, config)[0]["product_family"])


def test_supply_chain_leads(config):
    config["supply_chain"]["min_amount"] = 1_000_000.0
    links = pd.DataFrame(
        {
            "supplier": ["s1", "s2", "K", "K"],
            "buyer": ["K", "K", "b1", "N"],
            "amount": [1_000_000.0, 999_999.0, 5_000_000.0, 2_000_000.0],
            "supplier_is_customer": [True, False, True, True],
            "buyer_is_customer": [True, True, False, True],
        }
    )
    accounts = pd.DataFrame(
        {
            "customer_id": ["K", "N"],
            "segment": ["corporate", "corporate"],
            "key_account": [True, False],
            "manager_id": ["M1", "M2"],
        }
    )
    c360 = pd.DataFrame(
        {"customer_id": ["s1", "K"], "product_families": ["DEP,SCF", "DEP"], "manager_id": ["M3", "M1"]}
    )
    leads = supply_chain_leads(links, accounts, c360, config)
    assert list(zip(leads["counterparty_id"], leads["role"], strict=True)) == [
        ("b1", "buyer"),
        ("N", "buyer"),
        ("s1", "supplier"),
    ]
    assert leads.set_index("counterparty_id").loc["s1", "holds_scf"]
    assert leads.set_index("counterparty_id").loc["s1", "counterparty_manager_id"] == "M3"
    assert (leads["anchor_manager_id"] == "M1").all()


def _visit(cid, day, channel="VISIT", purpose="MARKET", planned=None):
    return {
        "customer_id": cid,
        "staff_id": "M1",
        "interaction_time": pd.Timestamp(day),
        "channel": channel,
        "purpose": purpose,
        "next_visit_date": planned,
    }


def test_revisit_plan_edges(config):
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "tier": ["strategic", "key", "key", "standard", "strategic"],
            "manager_id": "M1",
            "branch_id": "B1",
            "onboarding_date": dt.date(2020, 1, 1),
        }
    )
    interactions = pd.DataFrame(
        [
            _visit("a", DAY - dt.timedelta(days=30)),  # due exactly today: not overdue, due soon
            _visit("b", DAY - dt.timedelta(days=91)),  # due yesterday: 1 day overdue
            _visit("b", DAY - dt.timedelta(days=5), purpose="COLLECT"),  # collection call: not a visit
            _visit("c", DAY - dt.timedelta(days=10), channel="WECHAT"),  # channel not counted
            _visit("d", DAY - dt.timedelta(days=300), planned=dt.date(2026, 12, 1)),  # due in 65 days
            _visit("e", DAY + dt.timedelta(days=1)),  # after the as-of date: ignored
        ]
    )
    plan = revisit_plan(customers, interactions, DAY, config).set_index("customer_id")
    assert plan.loc["a", "status"] == "due_soon" and plan.loc["a", "days_overdue"] == 0
    assert plan.loc["b", "status"] == "overdue" and plan.loc["b", "days_overdue"] == 1
    assert plan.loc["c", "status"] == "no_visit" and plan.loc["e", "status"] == "no_visit"
    assert plan.loc["d", "status"] == "scheduled" and plan.loc["d", "due_date"] == dt.date(2027, 1, 4)
    assert plan.loc["d", "planned_date"] == dt.date(2026, 12, 1)
    m = overdue_by_manager(plan.reset_index()).iloc[0]
    assert (m["customers"], m["overdue"], m["no_visit"], m["due_soon"]) == (5, 1, 2, 1)
    assert m["compliance"] == pytest.approx(2 / 5)  # a and d
    # key tiers: a (ok), b (overdue), c (no visit), e (no visit) -> 1 of 4 covered
    assert m["key_coverage"] == pytest.approx(1 / 4)


def test_manager_scorecards(config):
    value = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "manager_id": ["M1", "M1", "M2"],
            "branch_id": ["B1", "B1", "B2"],
            "contribution": [100.0, 50.0, 10.0],
            "value_score": [90.0, 50.0, 20.0],
            "key_account": [True, False, False],
        }
    )
    c360 = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "loan_balance": [1000.0, 3000.0, 0.0],
            "deposit_mtd_avg": [10.0, 20.0, 30.0],
            "products_held": [3, 1, 2],
            "is_credit_customer": [True, True, False],
        }
    )
    loans = pd.DataFrame(
        {
            "customer_id": ["a", "b", "b"],
            "balance": [1000.0, 1000.0, 2000.0],
            "overdue_days": [0, 10, 100],
            "five_class": ["1", "2", "3"],
            "status": ["N", "O", "O"],
        }
    )
    revisits = pd.DataFrame(
        {"manager_id": ["M1"], "compliance": [0.5], "overdue": [1], "no_visit": [0], "key_coverage": [1.0]}
    )
    sat = pd.DataFrame(
        {
            "staff_id": ["M1", "M2"],
            "responses": [7, 2],
            "csat_mean": [4.2, np.nan],
            "nps": [10.0, np.nan],
            "suppressed": [False, True],
        }
    )
    sugg = pd.DataFrame({"customer_id": ["a", "a", "c"], "product_family": ["WMP", "FUND", "INS"]})
    watch = pd.DataFrame({"customer_id": ["b"], "manager_id": ["M1"], "severity": ["high"]})
    follow = pd.DataFrame(
        {"manager_id": ["M1", "M1", "M1", "M1"], "status": ["overdue", "open", "closed_on_time", "closed_late"]}
    )
    card = manager_scorecards(
        value,
        c360,
        loans,
        config,
        revisits=revisits,
        satisfaction=sat,
        suggestions=sugg,
        watch=watch,
        followups=follow,
    ).set_index("manager_id")
    m1, m2 = card.loc["M1"], card.loc["M2"]
    assert (m1["customers"], m1["credit_customers"], m1["key_accounts"]) == (2, 2, 1)
    assert m1["contribution"] == 150 and m1["loan_balance"] == 4000
    assert m1["overdue_balance"] == 3000 and m1["overdue_share"] == pytest.approx(0.75)
    assert m1["npl_balance"] == 2000 and m1["npl_share"] == pytest.approx(0.5)
    assert m1["products_per_customer"] == 2 and m1["cross_sell_suggestions"] == 2
    assert m1["revisit_compliance"] == 0.5 and m1["csat_mean"] == 4.2 and m1["high_warnings"] == 1
    assert np.isnan(m2["overdue_share"]) and m2["satisfaction_suppressed"] and m2["warned_customers"] == 0
    # warning follow-ups: open counts the overdue too; on time = 1 of the 3 decided (closed or overdue)
    assert (m1["followups_open"], m1["followups_overdue"]) == (2, 1)
    assert m1["followups_on_time_share"] == pytest.approx(1 / 3)
    assert m2["followups_open"] == 0 and np.isnan(m2["followups_on_time_share"])


def test_the_customers_of_cross_sell_and_revisits_from_the_month_marts():
    from crm.playbook.crosssell import cross_sell_customers
    from crm.playbook.revisit import revisit_customers

    value = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "value_segment": ["retail", "sme"],
            "tier": ["key", "growth"],
            "manager_id": ["S1", "S2"],
            "branch_id": ["B1", "B2"],
            "contribution": [1.0, 2.0],
        }
    )
    c360 = pd.DataFrame(
        {
            "customer_id": ["C1", "C9"],
            "product_families": ["DEP,LOAN", "DEP"],
            "status": ["A", "A"],
            "onboarding_date": [pd.Timestamp("2020-01-01"), pd.Timestamp("2021-01-01")],
        }
    )
    cs = cross_sell_customers(value, c360)
    assert list(cs.columns) == ["customer_id", "value_segment", "tier", "manager_id", "product_families", "status"]
    assert cs["customer_id"].tolist() == ["C1", "C2"] and pd.isna(cs.loc[1, "product_families"])
    rv = revisit_customers(value, c360)
    assert list(rv.columns) == ["customer_id", "tier", "manager_id", "branch_id", "onboarding_date"]
    assert rv.loc[0, "onboarding_date"] == pd.Timestamp("2020-01-01") and pd.isna(rv.loc[1, "onboarding_date"])
