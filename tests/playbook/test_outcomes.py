"""Take-up against the window and families of the configuration, Newcombe's interval (published values and
coverage in a simulation with a fixed seed), uplift's readings (effective for a real effect, no effect seen
for none, too few for small groups), and opportunity conversion reconciled with the records, the latest
record per opportunity being its state."""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm.playbook import load_config
from crm.playbook.outcomes import (
    CONVERSION_COLUMNS,
    TAKEUP_COLUMNS,
    UPLIFT_COLUMNS,
    cohorts_closing,
    latest_opportunities,
    newcombe,
    opportunity_conversion,
    takeup,
    uplift,
    wilson,
)

COHORT = dt.date(2026, 8, 31)


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def prop(cid, t="RENEW", eligible=True, held=False, branch="B01"):
    return {
        "customer_id": cid,
        "proposal_type": t,
        "eligible": eligible,
        "held_out": held,
        "segment": "sme",
        "branch_id": branch,
        "manager_id": "M1",
        "month_end": COHORT,
    }


def hold(cid, fam, day):
    return {
        "holding_id": f"H{cid}{fam}{day}",
        "customer_id": cid,
        "product_family": fam,
        "open_date": day,
        "status": "A",
    }


def test_cohorts_closing(cfg):
    assert cohorts_closing(dt.date(2026, 10, 31), cfg) == [dt.date(2026, 8, 31)]  # Aug 31 + 60 = Oct 30
    assert cohorts_closing(dt.date(2026, 11, 30), cfg) == [dt.date(2026, 9, 30)]
    assert cohorts_closing(dt.date(2027, 2, 28), cfg) == []  # Dec 31 + 60 = Mar 1
    assert cohorts_closing(dt.date(2027, 3, 31), cfg) == [dt.date(2026, 12, 31)]
    c = copy.deepcopy(cfg)
    c["proposals"]["takeup"]["window_days"] = 30
    assert cohorts_closing(dt.date(2027, 3, 31), c) == [dt.date(2027, 1, 31), dt.date(2027, 2, 28)]
    # every month end is the cohort of exactly one closing month
    ends = pd.date_range("2025-01-31", "2027-12-31", freq="ME").date
    closing = [m for e in ends for m in cohorts_closing(e, cfg)]
    assert len(closing) == len(set(closing)) and set(ends[:-3]) <= set(closing)


def test_takeup_window_families_and_groups(cfg):
    props = pd.DataFrame(
        [
            prop("a"),  # opens a loan the day after the month end: took up
            prop("b"),  # opened on the month end itself: before the window
            prop("c", held=True),  # held out, opens on the window's last day: took up (holdout group)
            prop("d"),  # opens the day after the window
            prop("e"),  # opens a deposit, not a loan
            prop("f", eligible=False),  # not eligible: not in the cohort
            prop("g", t="WEALTH"),  # a fund counts for wealth; the earliest of two
        ]
    )
    end = COHORT + dt.timedelta(days=60)
    holdings = pd.DataFrame(
        [
            hold("a", "LOAN", dt.date(2026, 9, 1)),
            hold("b", "LOAN", COHORT),
            hold("c", "LOAN", end),
            hold("d", "LOAN", end + dt.timedelta(days=1)),
            hold("e", "DEP", dt.date(2026, 9, 5)),
            hold("f", "LOAN", dt.date(2026, 9, 5)),
            hold("g", "WMP", dt.date(2026, 10, 5)),
            hold("g", "FUND", dt.date(2026, 9, 20)),
        ]
    )
    out = takeup(props, holdings, cfg)
    assert list(out.columns) == TAKEUP_COLUMNS
    got = out.set_index("customer_id")
    assert set(got.index) == set("abcdeg")
    assert got["took_up"].to_dict() == {"a": True, "b": False, "c": True, "d": False, "e": False, "g": True}
    assert got.loc["c", "group"] == "holdout" and got.loc["a", "group"] == "treated"
    assert got.loc["g", "takeup_date"] == pd.Timestamp(2026, 9, 20) and got.loc["g", "product_family"] == "FUND"
    assert got.loc["a", "product_family"] == "LOAN" and pd.isna(got.loc["b", "product_family"])
    assert (got["window_end"] == end).all() and (got["month_end"] == COHORT).all()


def test_wilson_and_newcombe_match_published_values():
    # Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10
    lo, hi = newcombe([56, 9, 0], [70, 10, 10], [48, 3, 0], [80, 10, 10])
    assert np.round(lo, 4).tolist() == [0.0524, 0.1705, -0.2775]
    assert np.round(hi, 4).tolist() == [0.3339, 0.8090, 0.2775]
    lo, hi = wilson([0, 10], [10, 10])
    assert round(float(hi[0]), 4) == 0.2775 and round(float(lo[1]), 4) == 0.7225


def test_newcombe_covers_the_true_difference_in_a_simulation():
    rng = np.random.default_rng(19)
    reps = 4000
    for p1, n1, p2, n2 in ((0.30, 900, 0.20, 100), (0.05, 2000, 0.05, 250), (0.5, 300, 0.35, 60)):
        x1, x2 = rng.binomial(n1, p1, reps), rng.binomial(n2, p2, reps)
        lo, hi = newcombe(x1, np.full(reps, n1), x2, np.full(reps, n2))
        cover = ((lo <= p1 - p2) & (p1 - p2 <= hi)).mean()
        assert 0.93 <= cover <= 0.97, (p1, n1, p2, n2, cover)


def simulated_takeup(rates: dict[str, tuple[float, float]], n_treated: int, n_holdout: int, seed: int = 5):
    """proposal_takeup rows of three cohorts over two branches with take-up rates (treated, holdout) by type."""
    rng = np.random.default_rng(seed)
    parts = []
    for t, (pt, ph) in rates.items():
        for k, cohort in enumerate((dt.date(2026, 6, 30), dt.date(2026, 7, 31), dt.date(2026, 8, 31))):
            for group, n, p in (("treated", n_treated, pt), ("holdout", n_holdout, ph)):
                parts.append(
                    pd.DataFrame(
                        {
                            "customer_id": [f"{t}{k}{group}{i}" for i in range(n)],
                            "proposal_type": t,
                            "group": group,
                            "took_up": rng.random(n) < p,
                            "branch_id": rng.choice(["B01", "B02"], n),
                            "month_end": cohort,
                            "window_end": cohort + dt.timedelta(days=60),
                        }
                    )
                )
    return pd.concat(parts, ignore_index=True)


def test_uplift_readings(cfg):
    rows = simulated_takeup({"RENEW": (0.30, 0.15), "RATE_SWITCH": (0.10, 0.10)}, 1000, 120)
    rows = pd.concat([rows, simulated_takeup({"SCF": (0.5, 0.1)}, 20, 3, seed=6)], ignore_index=True)
    out = uplift(rows, dt.date(2026, 10, 31), cfg)
    assert list(out.columns) == UPLIFT_COLUMNS
    bank = out[out["branch_id"] == "ALL"].set_index("proposal_type")
    renew, placebo, scf = bank.loc["RENEW"], bank.loc["RATE_SWITCH"], bank.loc["SCF"]
    assert renew["cohorts"] == 3 and renew["treated_n"] == 3000 and renew["holdout_n"] == 360
    assert renew["ci_low"] > 0 and renew["significant"] and renew["reading"] == "effective"
    assert renew["ci_low"] <= 0.15 <= renew["ci_high"]
    assert placebo["ci_low"] < 0 < placebo["ci_high"] and not placebo["significant"]
    assert placebo["reading"] == "no_effect_seen"
    assert scf["reading"] == "too_few"  # 9 held out < min_holdout
    assert renew["method"] == "newcombe_hybrid_score"
    # branches add up to the bank
    per = out[out["branch_id"] != "ALL"].groupby("proposal_type")[["treated_n", "holdout_takeup"]].sum()
    assert (per["treated_n"] == bank["treated_n"]).all() and (per["holdout_takeup"] == bank["holdout_takeup"]).all()
    # the rates are the counts'
    assert renew["treated_rate"] == pytest.approx(renew["treated_takeup"] / renew["treated_n"], abs=1e-6)
    assert renew["uplift"] == pytest.approx(renew["treated_rate"] - renew["holdout_rate"], abs=2e-6)


def test_uplift_pools_the_trailing_months_only(cfg):
    rows = simulated_takeup({"RENEW": (0.3, 0.1)}, 200, 50)
    # windows end on 2026-08-29, 09-29 and 10-30
    assert uplift(rows, dt.date(2027, 10, 31), cfg).empty  # every window ended 12 months or more before
    out = uplift(rows, dt.date(2027, 9, 30), cfg)  # only the August cohort's window (Oct 30, 2026) is inside
    assert out.loc[out["branch_id"] == "ALL", "cohorts"].tolist() == [1]
    assert uplift(rows, dt.date(2026, 9, 30), cfg)["cohorts"].max() == 2  # August's window not closed yet


# ---------------------------------------------------------------------------------------------- conversion

M = dt.date(2026, 10, 31)


def opp(
    oid,
    outcome,
    day,
    *,
    offered=dt.date(2026, 9, 1),
    outcome_date=None,
    t="RENEW",
    staff="S1",
    cid="a",
    channel="VISIT",
    source="SYS",
):
    return {
        "opportunity_id": oid,
        "customer_id": cid,
        "proposal_type": t,
        "product_family": "LOAN" if t == "RENEW" else "DEP",
        "product_code": None,
        "source": source,
        "offered_date": offered,
        "channel": channel,
        "staff_id": staff,
        "offered_amount": 1000.0,
        "outcome": outcome,
        "outcome_date": outcome_date,
        "contract_id": None,
        "decline_reason": None,
        "_business_date": day,
    }


@pytest.fixture()
def records():
    d = dt.date
    return pd.DataFrame(
        [
            # O1: offered, then accepted after 10 days (latest wins even when the files come in another order)
            opp("O1", "A", d(2026, 9, 11), outcome_date=d(2026, 9, 11)),
            opp("O1", "P", d(2026, 9, 1)),
            # O2: offered, declined after 30 days
            opp("O2", "P", d(2026, 9, 1), t="DEPOSIT", cid="b"),
            opp("O2", "D", d(2026, 10, 1), outcome_date=d(2026, 10, 1), t="DEPOSIT", cid="b"),
            # O3: still pending
            opp("O3", "P", d(2026, 10, 20), offered=d(2026, 10, 20), staff="S2", cid="c"),
            # O4: lapsed after 60 days
            opp("O4", "P", d(2026, 8, 1), offered=d(2026, 8, 1), staff="S2"),
            opp("O4", "X", d(2026, 9, 30), offered=d(2026, 8, 1), outcome_date=d(2026, 9, 30), staff="S2"),
            # O5: offered more than 12 months before: left out
            opp("O5", "A", d(2025, 10, 20), offered=d(2025, 10, 1), outcome_date=d(2025, 10, 20)),
            # O6: accepted after 5 days, a customer not in the value mart
            opp("O6", "A", d(2026, 9, 6), outcome_date=d(2026, 9, 6), cid="zz", channel="PHONE", source="RM"),
        ]
    )


CUSTOMERS = pd.DataFrame(
    {"customer_id": ["a", "b", "c"], "segment": ["sme", "retail", "sme"], "branch_id": ["B01", "B02", "B01"]}
)


def test_latest_record_per_opportunity_wins(records):
    latest = latest_opportunities(records.sample(frac=1.0, random_state=3)).set_index("opportunity_id")
    assert latest["outcome"].to_dict() == {"O1": "A", "O2": "D", "O3": "P", "O4": "X", "O5": "A", "O6": "A"}
    # the same business date: the decided record over the pending one
    same = pd.DataFrame(
        [opp("O7", "A", dt.date(2026, 9, 3), outcome_date=dt.date(2026, 9, 3)), opp("O7", "P", dt.date(2026, 9, 3))]
    )
    assert latest_opportunities(same)["outcome"].tolist() == ["A"]


def test_conversion_reconciles_with_the_records(cfg, records):
    out = opportunity_conversion(records, CUSTOMERS, M, cfg)
    assert list(out.columns) == CONVERSION_COLUMNS
    bank = out[out["branch_id"] == "ALL"]
    # every dimension's bank rows add up to the 5 opportunities offered in the 12 months
    for dim, rows in bank.groupby("dimension"):
        assert rows["offered"].sum() == 5, dim
        assert (rows[["accepted", "declined", "pending", "lapsed"]].sum(axis=1) == rows["offered"]).all()
    assert set(bank["dimension"]) == set(cfg["proposals"]["conversion"]["dimensions"])
    renew = bank[(bank["dimension"] == "proposal_type") & (bank["value"] == "RENEW")].iloc[0]
    assert (renew["offered"], renew["accepted"], renew["pending"], renew["lapsed"]) == (4, 2, 1, 1)
    assert renew["conversion"] == pytest.approx(2 / 3)  # accepted / decided
    assert renew["median_days_to_outcome"] == 10.0  # 5, 10, 60
    assert renew["p90_days_to_outcome"] == pytest.approx(10 + 0.8 * 50)
    s2 = bank[(bank["dimension"] == "manager_id") & (bank["value"] == "S2")].iloc[0]
    assert (s2["offered"], s2["lapsed"], s2["pending"], s2["conversion"]) == (2, 1, 1, 0.0)
    seg = bank[bank["dimension"] == "segment"].set_index("value")["offered"].to_dict()
    assert seg == {"sme": 3, "retail": 1, "UNKNOWN": 1}
    # per branch: the customer's branch; branches and UNKNOWN add up to ALL
    per = out[(out["branch_id"] != "ALL") & (out["dimension"] == "source")]
    assert per["offered"].sum() == 5 and set(per["branch_id"]) == {"B01", "B02", "UNKNOWN"}
    none_decided = out[(out["dimension"] == "manager_id") & (out["value"] == "S2") & (out["branch_id"] == "B01")].iloc[
        0
    ]
    assert none_decided["offered"] == 2 and none_decided["conversion"] == 0.0
    pending_only = out[(out["dimension"] == "proposal_type") & (out["branch_id"] == "B01") & (out["value"] == "RENEW")]
    assert pending_only["offered"].iloc[0] == 3


def test_conversion_without_decisions_has_no_rate(cfg):
    out = opportunity_conversion(pd.DataFrame([opp("O1", "P", dt.date(2026, 10, 1))]), CUSTOMERS, M, cfg)
    assert out["conversion"].isna().all() and out["median_days_to_outcome"].isna().all()
    assert opportunity_conversion(pd.DataFrame(columns=list(opp("x", "P", M))), CUSTOMERS, M, cfg).empty
