"""The proposal engine and its outcomes alone at N customers, on frames shaped as the marts and snapshots
they read (random, fixed seed): no Dagster, no warehouse.

    .venv/bin/python bench/proposals.py [--customers 1000000] [--seed 7]

Inputs per customer (shares are rough portfolio shapes, not calibrated): value segment (60% retail, 30% SME,
10% corporate), one live loan for 40% of them, 1.5 needs a customer on average over the eight need codes
(evidence as JSON text), a preference profile, 3% early warnings, supply-chain leads for 1% of the firms.
Then :func:`crm.playbook.proposals.build_proposals`, :func:`crm.playbook.outcomes.takeup` of the result
against holdings opened for 10% of the customers, :func:`uplift` and :func:`opportunity_conversion` of 5% of
the customers' opportunities. Prints the seconds of each step, the rows and the peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

import numpy as np
import pandas as pd

M = dt.date(2026, 10, 31)
NEEDS = ["MATURITY", "HEADROOM", "SEASONAL", "GROWTH", "CONCENTRATION", "PAYROLL_START", "MORTGAGE_END", "LARGE_INFLOW"]


def _vmhwm() -> str:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "n/a"


def frames(n: int, seed: int):
    rng = np.random.default_rng(seed)
    ids = np.array([f"k1.{i:032x}" for i in range(n)], dtype=object)
    seg = rng.choice(["retail", "sme", "corporate"], size=n, p=[0.6, 0.3, 0.1])
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "segment": seg,
            "tier": rng.choice(["strategic", "key", "growth", "standard", "watch"], size=n),
            "key_account": rng.random(n) < 0.05,
            "grade": rng.choice(["A1", "A3", "B2", "C1", "C2", None], size=n),
            "pd": rng.uniform(0.002, 0.08, n),
            "lgd": rng.uniform(0.2, 0.45, n),
            "txn_count_3m": rng.poisson(80, n),
            "manager_id": rng.integers(0, 2000, n).astype(str),
            "branch_id": rng.integers(0, 50, n).astype(str),
            "status": rng.choice(["A", "D", "C"], size=n, p=[0.95, 0.04, 0.01]),
            "product_families": rng.choice(["DEP", "DEP,LOAN", "DEP,LOAN,PAYR", "DEP,SETL,WMP"], size=n),
            "contract_amount": np.round(np.exp(rng.normal(12.5, 1.2, n)), 2),
            "deposit_balance": np.round(np.exp(rng.normal(11.0, 1.5, n)), 2),
            "deposit_mtd_avg": np.round(np.exp(rng.normal(11.0, 1.5, n)), 2),
        }
    )
    k = int(1.5 * n)
    who = rng.integers(0, n, k)
    code = rng.choice(NEEDS, size=k)
    amount = np.round(np.exp(rng.normal(12.0, 1.0, k)), 2)
    evidence = pd.Series(
        [
            json.dumps(
                {
                    "amount": float(a),
                    "contract_amount": float(a),
                    "headroom": float(a),
                    "limits": float(a),
                    "growth": 0.3,
                }
            )
            for a in amount[:1000]
        ]
    )
    needs = pd.DataFrame(
        {
            "customer_id": ids[who],
            "need": code,
            "strength": rng.uniform(0.2, 1.0, k),
            "deadline": pd.Timestamp(M) + pd.to_timedelta(rng.integers(1, 120, k), unit="D"),
            "evidence": evidence.to_numpy()[np.arange(k) % len(evidence)],
        }
    ).drop_duplicates(["customer_id", "need"])
    nl = int(0.4 * n)
    loans = pd.DataFrame(
        {
            "loan_id": [f"L{i}" for i in range(nl)],
            "customer_id": ids[rng.permutation(n)[:nl]],
            "contract_amount": np.round(np.exp(rng.normal(12.5, 1.0, nl)), 2),
            "balance": np.round(np.exp(rng.normal(12.0, 1.0, nl)), 2),
            "interest_rate": rng.uniform(3.0, 6.0, nl),
            "rate_type": rng.choice(["FIX", "LPR"], nl),
            "repayment_method": rng.choice(["EPI", "EPP", "IOB", "BUL"], nl),
            "start_date": dt.date(2025, 6, 1),
            "maturity_date": dt.date(2027, 6, 1),
            "five_class": rng.choice(["1", "2", "3"], nl, p=[0.95, 0.04, 0.01]),
            "status": rng.choice(["N", "O"], nl, p=[0.97, 0.03]),
        }
    )
    prefs = pd.DataFrame(
        {
            "customer_id": ids,
            "rate_type": rng.choice(["FIX", "LPR"], n),
            "repayment_method": rng.choice(["EPI", "IOB"], n),
        }
    )
    nw = int(0.03 * n)
    warnings = pd.DataFrame(
        {
            "customer_id": ids[rng.integers(0, n, nw)],
            "rule_id": "EW01",
            "severity": rng.choice(["high", "medium", "low"], nw),
        }
    )
    firms = ids[seg != "retail"]
    nlead = max(1, int(0.01 * len(firms)))
    leads = pd.DataFrame(
        {
            "anchor_id": firms[rng.integers(0, len(firms), nlead)],
            "counterparty_id": firms[rng.integers(0, len(firms), nlead)],
            "role": "supplier",
            "amount": np.round(np.exp(rng.normal(15.0, 1.0, nlead)), 2),
            "counterparty_is_customer": True,
        }
    )
    return customers, needs, prefs, loans, warnings, leads


def main() -> None:
    from crm.playbook import load_config
    from crm.playbook.outcomes import opportunity_conversion, takeup, uplift
    from crm.playbook.proposals import build_proposals
    from crm.value.value import load_config as value_config

    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    cfg, vcfg = load_config(), value_config()
    t0 = time.perf_counter()
    customers, needs, prefs, loans, warnings, leads = frames(a.customers, a.seed)
    t1 = time.perf_counter()
    print(f"inputs: {a.customers} customers, {len(needs)} needs, {len(loans)} loans: {t1 - t0:.1f} s")
    props = build_proposals(M, customers, needs, prefs, loans, warnings, leads, cfg, vcfg)
    t2 = time.perf_counter()
    print(
        f"build_proposals: {t2 - t1:.1f} s, {len(props)} rows, {int(props['eligible'].sum())} eligible, "
        f"{int(props['held_out'].sum())} held out, {int(props['offered'].sum())} offered"
    )
    rng = np.random.default_rng(a.seed + 1)
    nh = len(customers) // 10
    holdings = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy()[rng.integers(0, len(customers), nh)],
            "product_family": rng.choice(["LOAN", "DEP", "WMP", "PAYR", "SETL", "SCF"], nh),
            "open_date": pd.Timestamp(M) + pd.to_timedelta(rng.integers(-30, 90, nh), unit="D"),
        }
    )
    rows = takeup(props, holdings, cfg, M)
    t3 = time.perf_counter()
    print(f"takeup: {t3 - t2:.1f} s, {len(rows)} rows, {int(rows['took_up'].sum())} took up")
    lift = uplift(rows, M + dt.timedelta(days=61), cfg)
    t4 = time.perf_counter()
    print(f"uplift: {t4 - t3:.1f} s, {len(lift)} rows")
    no = len(customers) // 20
    opps = pd.DataFrame(
        {
            "opportunity_id": [f"OP{i:020d}" for i in range(no)],
            "customer_id": customers["customer_id"].to_numpy()[rng.integers(0, len(customers), no)],
            "proposal_type": rng.choice(list(cfg["proposals"]["types"]), no),
            "product_family": "LOAN",
            "source": rng.choice(["SYS", "RM", "CUST"], no),
            "offered_date": pd.Timestamp(M) - pd.to_timedelta(rng.integers(0, 400, no), unit="D"),
            "channel": rng.choice(["VISIT", "PHONE", "WECHAT"], no),
            "staff_id": rng.integers(0, 2000, no).astype(str),
            "outcome": rng.choice(["P", "A", "D", "X"], no),
        }
    )
    opps["outcome_date"] = (opps["offered_date"] + pd.to_timedelta(rng.integers(1, 60, no), unit="D")).where(
        opps["outcome"] != "P"
    )
    conv = opportunity_conversion(opps, customers, M, cfg)
    t5 = time.perf_counter()
    print(f"opportunity_conversion: {t5 - t4:.1f} s, {no} opportunities, {len(conv)} rows")
    print(f"total (without inputs): {t5 - t1:.1f} s; peak resident memory (VmHWM): {_vmhwm()}")


if __name__ == "__main__":
    main()
