"""The proposal engine on hand-built frames: each gate blocks what it should (and only that), the hold-out is
drawn on the eligible rows only with the configured share, balanced on segment and value, and stable across
reruns and row order; ranking follows strength x contribution x urgency; deadlines, amounts and the expected
contribution follow the configuration."""

from __future__ import annotations

import copy
import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from crm.playbook import load_config
from crm.playbook.holdout import held_out_one
from crm.playbook.proposals import COLUMNS, build_proposals, peer_fees, proposal_customers
from crm.value.value import load_config as value_config

M = dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def cfg():
    return load_config()


@pytest.fixture(scope="module")
def vcfg():
    return value_config()


def customer(cid: str, **kw) -> dict:
    row = {
        "customer_id": cid,
        "segment": "sme",
        "tier": "key",
        "key_account": True,
        "grade": "A2",
        "pd": 0.01,
        "lgd": 0.4,
        "txn_count_3m": 10,
        "manager_id": "M001",
        "branch_id": "B01",
        "status": "A",
        "product_families": "DEP,LOAN",
        "contract_amount": 1_000_000.0,
        "deposit_balance": 50_000.0,
        "deposit_mtd_avg": 50_000.0,
    }
    row.update(kw)
    return row


def need(cid: str, code: str, strength: float = 0.8, deadline=None, **evidence) -> dict:
    return {
        "customer_id": cid,
        "need": code,
        "strength": strength,
        "deadline": deadline,
        "evidence": json.dumps(evidence),
    }


def loan(cid: str, **kw) -> dict:
    row = {
        "loan_id": f"L{cid}",
        "customer_id": cid,
        "contract_amount": 1_000_000.0,
        "balance": 800_000.0,
        "interest_rate": 4.2,
        "rate_type": "FIX",
        "repayment_method": "IOB",
        "start_date": dt.date(2025, 12, 1),
        "maturity_date": dt.date(2026, 12, 1),
        "five_class": "1",
        "status": "N",
    }
    row.update(kw)
    return row


def run(cfg, vcfg, customers, needs, loans=(), warnings=None, prefs=None, leads=None, peer=None, month_end=M):
    return build_proposals(
        month_end,
        pd.DataFrame(customers),
        pd.DataFrame(needs, columns=["customer_id", "need", "strength", "deadline", "evidence"]),
        pd.DataFrame(prefs) if prefs is not None else None,
        pd.DataFrame(list(loans), columns=list(loan("x"))),
        pd.DataFrame(warnings) if warnings is not None else None,
        pd.DataFrame(leads) if leads is not None else None,
        cfg,
        vcfg,
        peer,
    )


def one(out: pd.DataFrame, cid: str, t: str) -> pd.Series:
    rows = out[(out["customer_id"] == cid) & (out["proposal_type"] == t)]
    assert len(rows) == 1, (cid, t, len(rows))
    return rows.iloc[0]


def test_columns_and_a_plain_renewal(cfg, vcfg):
    out = run(
        cfg,
        vcfg,
        [customer("a")],
        [need("a", "MATURITY", 0.9, dt.date(2026, 12, 1), amount=800_000, loans=1)],
        [loan("a")],
    )
    assert list(out.columns) == COLUMNS
    r = one(out, "a", "RENEW")
    assert r["eligible"] and r["gate_failed"] is None and r["product_family"] == "LOAN"
    assert json.loads(r["reasons"]) == ["MATURITY"] and json.loads(r["evidence"]) == {
        "MATURITY": {"amount": 800000, "loans": 1}
    }
    assert r["deadline"] == pd.Timestamp(2026, 12, 1) and r["deadline_kind"] == "MATURITY"
    assert r["offered_amount"] == 800_000.0
    # 800,000 x (4.2% own rate - 2.5% FTP of 12 months) - 800,000 x PD 1% x LGD 40%
    assert r["expected_contribution"] == pytest.approx(800_000 * (0.042 - 0.025) - 800_000 * 0.01 * 0.4)
    assert r["holdout_share"] == cfg["proposals"]["holdout"]["share"] and r["config_version"] == cfg["version"]


# --------------------------------------------------------------------------------------------------- gates


def gate_of(cfg, vcfg, cust, needs, loans=(), warnings=None, t="RENEW", cid="a"):
    return one(run(cfg, vcfg, cust, needs, loans, warnings), cid, t)["gate_failed"]


MAT = dict(amount=800_000, loans=1)


def test_status_gate(cfg, vcfg):
    assert gate_of(cfg, vcfg, [customer("a", status="C")], [need("a", "MATURITY", **MAT)], [loan("a")]) == "STATUS"
    assert gate_of(cfg, vcfg, [customer("a", status="D")], [need("a", "MATURITY", **MAT)], [loan("a")]) is None


def test_segment_gate(cfg, vcfg):
    assert gate_of(cfg, vcfg, [customer("a", segment="retail")], [need("a", "SEASONAL")], t="SEASONAL") == "SEGMENT"
    assert gate_of(cfg, vcfg, [customer("a", segment="sme")], [need("a", "SEASONAL")], t="SEASONAL") is None


def test_held_product_gate(cfg, vcfg):
    rich = dict(deposit_mtd_avg=2e6, segment="corporate")
    assert gate_of(cfg, vcfg, [customer("a", product_families="DEP,PAYR", **rich)], [], t="PAYROLL") == "HELD_PRODUCT"
    assert gate_of(cfg, vcfg, [customer("a", product_families="DEP,PAYRX", **rich)], [], t="PAYROLL") is None
    assert gate_of(cfg, vcfg, [customer("a", product_families="DEP", **rich)], [], t="PAYROLL") is None


def test_five_class_gate_is_stricter_for_credit(cfg, vcfg):
    n = [need("a", "MATURITY", **MAT), need("a", "LARGE_INFLOW", amount=500_000)]
    c = [customer("a", segment="retail", grade="B1")]
    out = run(cfg, vcfg, c, n, [loan("a", five_class="2")])
    assert one(out, "a", "RENEW")["gate_failed"] == "FIVE_CLASS"
    assert one(out, "a", "DEPOSIT")["gate_failed"] is None  # 关注 may still be offered a deposit
    out = run(cfg, vcfg, c, n, [loan("a", five_class="3")])
    assert one(out, "a", "DEPOSIT")["gate_failed"] == "FIVE_CLASS"
    # a settled loan's class does not count
    out = run(cfg, vcfg, c, n, [loan("a", five_class="1"), loan("a", loan_id="L2", five_class="4", status="S")])
    assert one(out, "a", "RENEW")["gate_failed"] is None


def test_grade_gate(cfg, vcfg):
    n = [need("a", "MATURITY", **MAT)]
    assert gate_of(cfg, vcfg, [customer("a", grade="C2")], n, [loan("a")]) == "GRADE"
    assert gate_of(cfg, vcfg, [customer("a", grade=None)], n, [loan("a")]) is None  # ungraded acceptable
    strict = copy.deepcopy(cfg)
    strict["proposals"]["gates"]["ungraded_acceptable"] = False
    assert gate_of(strict, vcfg, [customer("a", grade=None)], n, [loan("a")]) == "GRADE"
    # the grade gate is for credit: a C2 customer may be offered a deposit
    out = run(cfg, vcfg, [customer("a", grade="C2")], [need("a", "LARGE_INFLOW", amount=900_000)])
    assert one(out, "a", "DEPOSIT")["gate_failed"] is None


def test_warning_gate_by_severity(cfg, vcfg):
    n = [need("a", "MATURITY", **MAT), need("a", "LARGE_INFLOW", amount=900_000)]
    medium = [{"customer_id": "a", "rule_id": "EW06", "severity": "medium"}]
    out = run(cfg, vcfg, [customer("a")], n, [loan("a")], medium)
    assert one(out, "a", "RENEW")["gate_failed"] == "WARNING"
    assert one(out, "a", "DEPOSIT")["gate_failed"] is None
    high = [{"customer_id": "a", "rule_id": "EW01", "severity": "high"}]
    out = run(cfg, vcfg, [customer("a")], n, [loan("a")], high)
    assert one(out, "a", "DEPOSIT")["gate_failed"] == "WARNING"
    low = [
        {"customer_id": "a", "rule_id": "EW05", "severity": "low"},
        {"customer_id": "b", "rule_id": "EW01", "severity": "high"},
    ]
    out = run(cfg, vcfg, [customer("a")], n, [loan("a")], low)
    assert one(out, "a", "RENEW")["gate_failed"] is None


def test_policy_limit_gate_and_cap(cfg, vcfg):
    gc = cfg["proposals"]["gates"]
    # below the minimum amount of the segment
    small = [need("a", "MATURITY", amount=gc["min_offered_amount"]["sme"] - 1, loans=1)]
    assert gate_of(cfg, vcfg, [customer("a")], small, [loan("a")]) == "POLICY_LIMIT"
    # exposure after the offer above the segment's limit
    big = customer("a", contract_amount=gc["max_exposure"]["sme"] - 100_000.0)
    assert gate_of(cfg, vcfg, [big], [need("a", "MATURITY", **MAT)], [loan("a")]) == "POLICY_LIMIT"
    # the amount is capped at max_offered_amount (and the cap alone does not fail the gate)
    huge = [need("a", "HEADROOM", headroom=1e12)]
    r = one(run(cfg, vcfg, [customer("a", contract_amount=0.0)], huge), "a", "LIMIT_UP")
    assert r["offered_amount"] == gc["max_offered_amount"]["sme"] and r["gate_failed"] is None


def test_the_first_gate_in_order_is_reported(cfg, vcfg):
    c = [customer("a", status="C", grade="D")]
    w = [{"customer_id": "a", "rule_id": "EW01", "severity": "high"}]
    assert gate_of(cfg, vcfg, c, [need("a", "MATURITY", **MAT)], [loan("a", five_class="3")], w) == "STATUS"
    other = copy.deepcopy(cfg)
    other["proposals"]["gate_order"] = [
        "WARNING",
        "GRADE",
        "STATUS",
        "SEGMENT",
        "HELD_PRODUCT",
        "FIVE_CLASS",
        "POLICY_LIMIT",
    ]
    assert gate_of(other, vcfg, c, [need("a", "MATURITY", **MAT)], [loan("a", five_class="3")], w) == "WARNING"


# ---------------------------------------------------------------------------------------------- hold-out


def synthetic(n: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    ids = [f"k1.{i:032x}" for i in range(n)]
    seg = rng.choice(["retail", "sme", "corporate"], size=n, p=[0.6, 0.3, 0.1])
    amount = np.round(np.exp(rng.normal(13.0, 0.8, size=n)), 2)
    cust = [customer(c, segment=s, contract_amount=0.0) for c, s in zip(ids, seg, strict=True)]
    needs = [
        need(c, "HEADROOM", float(rng.uniform(0.2, 1.0)), headroom=float(a)) for c, a in zip(ids, amount, strict=True)
    ]
    return cust, needs


def test_holdout_share_balance_and_stability(cfg, vcfg):
    from scipy.stats import chi2_contingency

    c2 = copy.deepcopy(cfg)
    c2["proposals"]["holdout"]["share"] = 0.2
    cust, needs = synthetic(4000)
    out = run(c2, vcfg, cust, needs)
    el = out[out["eligible"]]
    assert len(el) > 3500
    share = el["held_out"].mean()
    assert abs(share - 0.2) < 3 * np.sqrt(0.2 * 0.8 / len(el))
    # balance: the segment mix and the value (amount, expected contribution) of held-out vs treated
    table = pd.crosstab(el["held_out"], el["segment"])
    assert chi2_contingency(table.to_numpy())[1] > 0.01
    for col in ("offered_amount", "expected_contribution", "strength"):
        h, t = el.loc[el["held_out"], col], el.loc[~el["held_out"], col]
        smd = abs(h.mean() - t.mean()) / np.sqrt((h.var() + t.var()) / 2)
        assert smd < 0.1, (col, smd)
    # the draw is the hashlib reference of (salt, month, type, token), only on eligible rows
    for _, r in el.head(50).iterrows():
        assert r["held_out"] == held_out_one(r["customer_id"], M, "LIMIT_UP", 0.2, c2["proposals"]["holdout"]["salt"])
    inel = out[~out["eligible"]]
    assert (~inel["held_out"]).all() and inel["holdout_draw"].isna().all() and (~inel["offered"]).all()
    # stable across reruns and row order; a new month draws afresh
    again = run(c2, vcfg, cust[::-1], needs[::-1])
    pd.testing.assert_frame_equal(out, again)
    nxt = run(c2, vcfg, cust, needs, month_end=dt.date(2026, 11, 30))
    both = (out["held_out"].to_numpy() & nxt["held_out"].to_numpy()).mean()
    assert abs(both - 0.04 * len(el) / len(out)) < 0.015
    assert (out["offered"] == (out["eligible"] & ~out["held_out"])).all()


# ------------------------------------------------------------------------------------ ranking and deadlines


def test_ranking_urgency_and_deadlines(cfg, vcfg):
    c0 = copy.deepcopy(cfg)
    c0["proposals"]["holdout"]["share"] = 0.0
    n = [
        need("a", "MATURITY", 0.8, dt.date(2026, 11, 10), amount=500_000, loans=1),  # 10 days: urgent
        need("a", "HEADROOM", 0.8, None, headroom=1_000_000),  # 0.5 utilisation: same drawn amount
        need("a", "LARGE_INFLOW", 0.5, dt.date(2026, 12, 30), amount=200_000),
        need("a", "MORTGAGE_END", 0.9, dt.date(2026, 12, 15), monthly_payment_freed=5_000),
    ]
    out = run(c0, vcfg, [customer("a", segment="retail", grade="B1", contract_amount=500_000.0)], n, [loan("a")])
    renew, limit, dep = one(out, "a", "RENEW"), one(out, "a", "LIMIT_UP"), one(out, "a", "DEPOSIT")
    assert renew["expected_contribution"] == pytest.approx(limit["expected_contribution"])
    assert renew["score"] > limit["score"] and renew["rank"] < limit["rank"]
    assert sorted(out["rank"].dropna().astype(int)) == list(range(1, out["offered"].sum() + 1))
    # the score is strength x contribution x urgency
    u = 1 + 1.0 * (1 - 10 / 90)
    assert renew["score"] == pytest.approx(0.8 * renew["expected_contribution"] * u, rel=1e-6)
    # several reasons: strongest strength, earliest deadline and its kind, the amount of the first need listed
    assert json.loads(dep["reasons"]) == ["LARGE_INFLOW", "MORTGAGE_END"]
    assert (
        dep["strength"] == 0.9
        and dep["deadline"] == pd.Timestamp(2026, 12, 15)
        and dep["deadline_kind"] == "LIFE_EVENT"
    )
    assert dep["offered_amount"] == 200_000 * cfg["proposals"]["sources"]["placement_share"]
    # held-out and ineligible proposals have no rank
    c1 = copy.deepcopy(cfg)
    c1["proposals"]["holdout"]["share"] = 0.999
    out = run(c1, vcfg, [customer("a", segment="retail", grade="B1")], n, [loan("a")])
    assert out["rank"].isna().all() and out["held_out"].all()


def test_sources_switches_supply_chain_and_services(cfg, vcfg):
    cust = [
        customer("a", txn_count_3m=1000),
        customer("b", segment="retail", grade="B1", deposit_balance=1e6, product_families="DEP"),
        customer("c", segment="corporate", deposit_mtd_avg=5e6, product_families="DEP"),
    ]
    prefs = [
        {"customer_id": "a", "rate_type": "LPR", "repayment_method": "IOB"},
        {"customer_id": "b", "rate_type": "FIX", "repayment_method": "EPI"},
    ]
    leads = [
        {
            "anchor_id": "k1.anchor-token-0001",
            "counterparty_id": "a",
            "role": "supplier",
            "amount": 5e6,
            "counterparty_is_customer": True,
        },
        {
            "anchor_id": "k1.anchor-token-0002",
            "counterparty_id": "c",
            "role": "buyer",
            "amount": 9e6,
            "counterparty_is_customer": False,
        },
    ]
    out = run(
        cfg,
        vcfg,
        cust,
        [need("a", "CONCENTRATION", 0.7, top_share=0.6)],
        [loan("a"), loan("b", loan_id="Lb")],
        prefs=prefs,
        leads=leads,
    )
    got = set(zip(out["customer_id"], out["proposal_type"], strict=True))
    assert ("a", "RATE_SWITCH") in got and ("a", "REPAY_SWITCH") not in got  # IOB is preferred and held
    assert ("b", "REPAY_SWITCH") in got and ("b", "RATE_SWITCH") not in got
    assert ("c", "SCF") not in got  # the counterparty is not a customer of the bank in that link
    scf = one(out, "a", "SCF")
    assert json.loads(scf["reasons"]) == ["CONCENTRATION", "SUPPLY_CHAIN"]
    ev = json.loads(scf["evidence"])["SUPPLY_CHAIN"]
    assert ev["anchor_ref"] == "ken-0001" and "anchor-token" not in scf["evidence"]  # never the whole token
    assert scf["offered_amount"] == 5e6 * cfg["proposals"]["sources"]["scf_share"]
    assert json.loads(one(out, "a", "SETTLE")["reasons"]) == ["CONCENTRATION", "VOLUME"]
    assert one(out, "a", "SETTLE")["offered_amount"] != one(out, "a", "SETTLE")["offered_amount"]  # NaN: a service
    assert {"DEPOSIT", "WEALTH"} <= set(out.loc[out["customer_id"] == "b", "proposal_type"])  # idle balance
    assert one(out, "c", "PAYROLL")["gate_failed"] is None
    sw = one(out, "a", "RATE_SWITCH")
    margin = 800_000 * (0.042 - 0.025)
    assert sw["expected_contribution"] == pytest.approx(margin * cfg["proposals"]["pricing"]["retention_share"])


def test_fees_from_peers_or_configuration(cfg, vcfg):
    cust = pd.DataFrame(
        [customer(f"p{i}", segment="corporate") for i in range(25)]
        + [customer("c", segment="corporate", deposit_mtd_avg=5e6)]
    )
    fees = pd.DataFrame(
        {
            "customer_id": [f"p{i}" for i in range(25)] + ["p0"],
            "product_family": "PAYR",
            "amount": [1000.0 * (i + 1) for i in range(25)] + [-1000.0],
            "fee_date": dt.date(2026, 6, 30),
        }
    )
    peer = peer_fees(fees, cust, M, cfg)
    row = peer[(peer["segment"] == "corporate") & (peer["proposal_type"] == "PAYROLL")].iloc[0]
    assert row["payers"] == 24 and row["annual_fee"] == pytest.approx(13_500.0)  # p0's fee reversed to 0
    out = run(cfg, vcfg, cust.to_dict("records"), [], peer=peer)
    assert one(out, "c", "PAYROLL")["expected_contribution"] == pytest.approx(13_500.0)
    few = copy.deepcopy(cfg)
    few["proposals"]["pricing"]["min_fee_payers"] = 100
    out = run(few, vcfg, cust.to_dict("records"), [], peer=peer)
    assert (
        one(out, "c", "PAYROLL")["expected_contribution"]
        == cfg["proposals"]["pricing"]["fee_per_year"]["PAYROLL"]["corporate"]
    )


def test_proposal_customers_joins_value_and_360():
    value = pd.DataFrame(
        {
            "customer_id": ["a"],
            "segment": ["corporate"],
            "value_segment": ["sme"],
            "tier": ["key"],
            "key_account": [True],
            "grade": ["A1"],
            "manager_id": ["M1"],
            "branch_id": ["B1"],
        }
    )
    c360 = pd.DataFrame({"customer_id": ["a"], "status": ["A"], "product_families": ["DEP"], "deposit_balance": [5.0]})
    c = proposal_customers(value, c360).iloc[0]
    assert c["segment"] == "sme" and c["status"] == "A" and c["deposit_balance"] == 5.0 and c["contract_amount"] is None


def test_value_gate_blocks_a_proposal_expected_to_lose_money():
    """The VALUE gate: a candidate whose expected contribution is below [proposals.gates]
    min_expected_contribution fails it (and only it); at the threshold it passes."""
    from crm.playbook.proposals import gates

    config = copy.deepcopy(load_config())
    config["proposals"]["gates"]["min_expected_contribution"] = 0.0
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "proposal_type": ["WEALTH", "WEALTH", "WEALTH"],
            "segment": ["retail", "retail", "retail"],
            "status": ["A", "A", "A"],
            "product_families": ["DEP", "DEP", "DEP"],
            "grade": [None, None, None],
            "offered_amount": [np.nan, np.nan, np.nan],
            "contract_amount": [0.0, 0.0, 0.0],
            "expected_contribution": [-0.01, 0.0, 120.0],
        }
    )
    loans = pd.DataFrame(columns=["customer_id", "five_class", "status", "balance", "maturity_date"])
    got = gates(frame, loans, None, config)
    assert got.tolist() == ["VALUE", None, None]
