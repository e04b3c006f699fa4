"""Needs signals on hand-built frames: each fires on a customer that has the need and not on one just past
the threshold; seasonal needs repeated peaks; missing history does not fire and is counted; evidence holds
numbers, dates and codes only."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pandas as pd
import pytest

from crm.playbook import load_config
from crm.playbook.needs import EVIDENCE, MART_COLUMNS, NEEDS, customer_needs
from tests.playbook.needs_build import ME, build, customer, deposits, loan, month, txns


@pytest.fixture(scope="module")
def config():
    return load_config()


def _fired(result, need):
    rows = result.needs[result.needs["need"] == need]
    return rows.set_index("customer_id")


def _ev(rows, cid):
    return json.loads(rows.loc[cid, "evidence"])


# ------------------------------------------------------------------------------------------------ MATURITY


def test_maturity_bands_and_the_90_day_edge(config):
    d = lambda n: ME + dt.timedelta(days=n)  # noqa: E731
    inp = build(
        [customer(c) for c in ("M30", "M60", "M90", "M91", "SETTLED", "MORTGAGE", "PAST")],
        loans=[
            loan("L1", "M30", maturity=d(30)),
            loan("L2", "M60", maturity=d(31), balance=50000.0),
            loan("L2b", "M60", maturity=d(80), balance=70000.0),
            loan("L3", "M90", maturity=d(90)),
            loan("L4", "M91", maturity=d(91)),
            loan("L5", "SETTLED", maturity=d(20), status="S"),
            loan("L6", "MORTGAGE", maturity=d(20), product="RHL"),
            loan("L7", "PAST", maturity=d(0)),
        ],
    )
    got = _fired(customer_needs(inp, config), "MATURITY")
    assert set(got.index) == {"M30", "M60", "M90"}
    assert _ev(got, "M30")["band_days"] == 30 and got.loc["M30", "strength"] == 1.0
    e = _ev(got, "M60")
    assert e == {
        "amount": 120000.0,
        "band_days": 60,
        "contract_amount": 120000.0,
        "days": 31,
        "first_maturity": d(31).isoformat(),
        "loans": 2,
    }
    assert got.loc["M60", "deadline"] == d(31)
    assert _ev(got, "M90")["band_days"] == 90 and got.loc["M90", "strength"] == 0.6


# ------------------------------------------------------------------------------------------------ HEADROOM


def test_headroom_from_revenue_and_income_at_the_share_edge(config):
    far = dt.date(2028, 1, 1)
    inp = build(
        [
            # capacity 100M x 0.2 (size M) = 20M; exposure 5M: headroom 15M >= 0.3 x 20M
            customer("ROOM", annual_revenue=100_000_000.0),
            # exposure 14M + 0.1M external: headroom 5.9M < 6M
            customer("TIGHT", annual_revenue=100_000_000.0, external_loan_balance=100000.0),
            # exposure 14M: headroom exactly 6M = 0.3 x capacity
            customer("EDGE", annual_revenue=100_000_000.0),
            # income 200k x 5 = 1M, but DSTI room 100k a year repays 441,589.22 over 60 months at 5%, on top of
            # the 10k borrowed
            customer("RICH", "retail", annual_income=200000.0),
            # the same without a loan here: no limit to raise
            customer("NOLOAN", "retail", annual_income=200000.0),
            # no revenue, no income, no line: capacity unknown
            customer("UNKNOWN"),
        ],
        loans=[
            loan("L1", "ROOM", maturity=far, balance=5_000_000.0),
            loan("L2", "TIGHT", maturity=far, balance=14_000_000.0),
            loan("L3", "EDGE", maturity=far, balance=14_000_000.0),
            loan("L4", "RICH", maturity=far, balance=10000.0, repayment_method="EPI"),
        ],
    )
    res = customer_needs(inp, config)
    got = _fired(res, "HEADROOM")
    assert set(got.index) == {"ROOM", "EDGE", "RICH"}
    assert _ev(got, "ROOM") == {
        "basis": "REVENUE",
        "capacity": 20_000_000.0,
        "exposure": 5_000_000.0,
        "headroom": 15_000_000.0,
        "unused": 0.0,
    }
    assert got.loc["ROOM", "strength"] == 0.75
    assert _ev(got, "RICH")["basis"] == "INCOME" and _ev(got, "RICH")["capacity"] == 451589.22
    assert res.lacking["HEADROOM"] == 1  # UNKNOWN


def test_headroom_from_unused_lines(config):
    far = dt.date(2028, 1, 1)
    inp = build(
        [customer("LINE"), customer("USED")],
        loans=[
            loan("L1", "LINE", maturity=far, contract=5_000_000.0, balance=1_000_000.0),
            loan("L2", "USED", maturity=far, contract=5_000_000.0, balance=4_000_000.0),
        ],
    )
    got = _fired(customer_needs(inp, config), "HEADROOM")
    assert set(got.index) == {"LINE"}
    assert _ev(got, "LINE")["basis"] == "LINES" and _ev(got, "LINE")["unused"] == 4_000_000.0


# ------------------------------------------------------------------------------------------------ SEASONAL


def _seasonal_flows(cid, peaks_by_k, months=25, base=100000.0):
    return txns(cid, {k: (base * 3 if k in peaks_by_k else base) for k in range(months)})


def _ks(cal_months, months=25):
    """The k (months before ME) whose calendar month is in ``cal_months``."""
    return {k for k in range(months) if month(k).month in cal_months}


def test_seasonal_needs_the_peak_repeated_in_every_year(config):
    odd = {k for k in _ks({9}) if month(k).year == 2025}  # one September only
    inp = build(
        [customer(c) for c in ("SEASON", "ODD", "SHORT", "FLAT")] + [customer("RETAIL", "retail")],
        txn_rows=_seasonal_flows("SEASON", _ks({9, 10}))
        + _seasonal_flows("ODD", odd)
        + _seasonal_flows("SHORT", _ks({9, 10}, 12), months=12)
        + _seasonal_flows("FLAT", set())
        + _seasonal_flows("RETAIL", _ks({9, 10})),
    )
    res = customer_needs(inp, config)
    got = _fired(res, "SEASONAL")
    assert set(got.index) == {"SEASON"}
    e = _ev(got, "SEASON")
    assert e["peak_months"] == [9, 10]
    assert e["offer_month"] == "2026-07"  # two months before September
    assert e["peak_ratio"] == 3.0 and e["months_seen"] == 25 and e["basis"] == "OUTFLOWS"
    assert e["amount"] == 200000.0  # 300,000 a season month against 100,000 around it
    assert got.loc["SEASON", "deadline"] == dt.date(2026, 7, 1)
    assert got.loc["SEASON", "strength"] == 1.0
    assert res.lacking["SEASONAL"] == 1  # SHORT: 12 months (RETAIL is not in scope)
    assert res.in_scope["SEASONAL"] == 4


def test_seasonal_13_months_is_enough_when_the_peak_month_repeats(config):
    # 13 month ends: June 2025 .. June 2026; June peaks both years; offer month April (next year)
    inp = build([customer("JUNE")], txn_rows=_seasonal_flows("JUNE", {0, 12}, months=13))
    got = _fired(customer_needs(inp, config), "SEASONAL")
    assert _ev(got, "JUNE")["peak_months"] == [6] and _ev(got, "JUNE")["offer_month"] == "2027-04"


def test_seasonal_trough_of_balances_and_the_ratio_edge(config):
    cfg = copy.deepcopy(config)
    balances = {k: (50000.0 if month(k).month == 12 else 100000.0) for k in range(25)}
    edge = {k: (200000.0 if month(k).month == 3 else 100000.0) for k in range(25)}  # exactly 2
    below = {k: (199000.0 if month(k).month == 3 else 100000.0) for k in range(25)}
    inp = build(
        [customer("TROUGH"), customer("EDGE"), customer("BELOW")],
        deposit_rows=deposits("TROUGH", balances),
        txn_rows=txns("EDGE", edge) + txns("BELOW", below),
        config=cfg,
    )
    got = _fired(customer_needs(inp, cfg), "SEASONAL")
    assert set(got.index) == {"TROUGH", "EDGE"}
    e = _ev(got, "TROUGH")
    assert e["peak_months"] == [12] and e["basis"] == "BALANCES" and e["trough_ratio"] == 0.5
    assert e["amount"] == 50000.0  # the balance 50,000 below its neighbourhood
    assert e["offer_month"] == "2026-10"


def test_seasonal_follows_the_trend_of_a_shrinking_business(config):
    # outflows falling to an eighth over the two years, each September at 2.5 times its neighbourhood: against
    # the two years' median the recent September is no peak (2.5 x a level below the median), against its
    # neighbours it is; the same trend without the Septembers is not seasonal
    trend = {k: 100000.0 * 8 ** (k / 24) for k in range(25)}
    season = {k: v * (2.5 if month(k).month == 9 else 1) for k, v in trend.items()}
    inp = build([customer("FALLING"), customer("SEASONAL")], txn_rows=txns("FALLING", trend) + txns("SEASONAL", season))
    got = _fired(customer_needs(inp, config), "SEASONAL")
    assert set(got.index) == {"SEASONAL"} and _ev(got, "SEASONAL")["peak_months"] == [9]
    cfg = copy.deepcopy(config)
    cfg["needs"]["seasonal"]["baseline_months"] = 24  # every other month: the overall median, the recent peak lost
    assert _fired(customer_needs(inp, cfg), "SEASONAL").empty


# ------------------------------------------------------------------------------------------------ GROWTH


def _statement(cid, year, revenue):
    return {
        "statement_id": f"FS{cid}{year}",
        "customer_id": cid,
        "report_period": dt.date(year, 12, 31),
        "period_type": "A",
        "received_date": dt.date(year + 1, 4, 30),
        "revenue": revenue,
    }


def test_growth_when_limits_do_not_follow(config):
    far = dt.date(2028, 1, 1)
    inp = build(
        [customer(c) for c in ("GROW", "FOLLOWED", "SLOW", "NOPRIOR")],
        loans=[
            loan("L1", "GROW", maturity=far, balance=1e6, contract=2e6),
            loan("L2", "FOLLOWED", maturity=far, balance=1e6, contract=2.6e6),
            loan("L3", "SLOW", maturity=far, balance=1e6, contract=2e6),
        ],
        statements=[
            _statement("GROW", 2024, 10e6),
            _statement("GROW", 2025, 12e6),  # +20%: the edge
            _statement("FOLLOWED", 2024, 10e6),
            _statement("FOLLOWED", 2025, 13e6),
            _statement("SLOW", 2024, 10e6),
            _statement("SLOW", 2025, 11.9e6),
            _statement("NOPRIOR", 2025, 50e6),
        ],
        limits_before=pd.DataFrame({"customer_id": ["GROW", "FOLLOWED", "SLOW"], "limits": [2e6, 2e6, 2e6]}),
    )
    res = customer_needs(inp, config)
    got = _fired(res, "GROWTH")
    assert set(got.index) == {"GROW"}
    e = _ev(got, "GROW")
    assert e["source"] == "REVENUE" and e["growth"] == 0.2 and e["limit_growth"] == 0.0
    assert e["limits"] == 2e6 and e["limits_before"] == 2e6
    assert res.lacking["GROWTH"] == 1  # NOPRIOR


def test_growth_from_turnover_needs_two_complete_years_and_a_limit(config):
    far = dt.date(2028, 1, 1)
    grow = {k: (1.5e6 if k < 12 else 1e6) for k in range(24)}
    inp = build(
        [customer("TURN"), customer("YEAR"), customer("NOLOAN"), customer("BOTH")],
        loans=[loan(f"L{c}", c, maturity=far, contract=1e6) for c in ("TURN", "YEAR", "BOTH")],
        txn_rows=txns("TURN", grow, direction="C")
        + txns("YEAR", {k: 1.5e6 for k in range(13)}, direction="C")
        + txns("NOLOAN", grow, direction="C")
        + txns("BOTH", grow, direction="C"),
        # BOTH: turnover +50% but revenue +10%: both known, both must show it
        statements=[_statement("BOTH", 2024, 10e6), _statement("BOTH", 2025, 11e6)],
        limits_before=pd.DataFrame({"customer_id": ["TURN", "YEAR", "BOTH"], "limits": [1e6, 1e6, 1e6]}),
    )
    res = customer_needs(inp, config)
    got = _fired(res, "GROWTH")
    assert set(got.index) == {"TURN"}
    assert _ev(got, "TURN")["source"] == "TURNOVER" and _ev(got, "TURN")["turnover_12m"] == 18e6
    assert res.lacking["GROWTH"] == 1  # YEAR


def test_growth_does_not_fire_without_the_limits_of_a_year_ago(config):
    inp = build(
        [customer("TURN")],
        loans=[loan("L1", "TURN", maturity=dt.date(2028, 1, 1))],
        txn_rows=txns("TURN", {k: (1.5e6 if k < 12 else 1e6) for k in range(24)}, direction="C"),
    )
    res = customer_needs(inp, config)
    assert _fired(res, "GROWTH").empty and res.lacking["GROWTH"] == 1


# ------------------------------------------------------------------------------------------- CONCENTRATION


def test_concentration_share_edge(config):
    months = range(12)
    inp = build(
        [customer("ONE"), customer("MANY"), customer("SMALL"), customer("FEW")],
        txn_rows=txns("ONE", {k: 100000.0 for k in months}, top_share=0.75, counterparties=3)
        + txns("ONE", {k: 100000.0 for k in months}, direction="C", top_share=0.2)
        + txns("MANY", {k: 100000.0 for k in months}, top_share=0.74)
        + txns("SMALL", {k: 10000.0 for k in months}, top_share=0.9)
        # 9 payments a month: 108 < 120 transactions in the year, too few to call concentrated
        + txns("FEW", {k: 100000.0 for k in months}, top_share=0.9, count=9),
    )
    got = _fired(customer_needs(inp, config), "CONCENTRATION")
    assert set(got.index) == {"ONE"}
    assert _ev(got, "ONE") == {
        "amount": 1_200_000.0,
        "counterparties": 3,
        "direction": "D",
        "months": 12,
        "top_share": 0.75,
        "transactions": 120,
    }


# ------------------------------------------------------------------------------------------- PAYROLL_START


def test_payroll_start_after_none_and_history_needed(config):
    dep = lambda cid: deposits(cid, {k: 5000.0 for k in range(13)})  # noqa: E731
    inp = build(
        [customer(c, "retail") for c in ("NEW", "ALWAYS", "NOHIST", "SMALL")],
        deposit_rows=dep("NEW") + dep("ALWAYS") + dep("SMALL") + deposits("NOHIST", {0: 5000.0, 1: 5000.0}),
        txn_rows=txns("NEW", {0: 8000.0, 1: 8000.0}, txn_type="SAL", direction="C")
        + txns("ALWAYS", {k: 8000.0 for k in range(12)}, txn_type="SAL", direction="C")
        + txns("NOHIST", {0: 8000.0, 1: 8000.0}, txn_type="SAL", direction="C")
        + txns("SMALL", {0: 999.0}, txn_type="SAL", direction="C"),
    )
    res = customer_needs(inp, config)
    got = _fired(res, "PAYROLL_START")
    assert set(got.index) == {"NEW"}
    assert _ev(got, "NEW") == {"first_month": "2026-05", "monthly_amount": 8000.0, "months": 2}
    assert res.lacking["PAYROLL_START"] == 1


# ------------------------------------------------------------------------------------------- MORTGAGE_END


def test_mortgage_end_ahead_and_settled(config):
    hist = [
        {
            **loan(
                "H1",
                "SETTLED",
                maturity=dt.date(2030, 1, 1),
                balance=120000.0,
                product="RHL",
                repayment_method="EPI",
                interest_rate=0.0,
            ),
            "snapshot_date": month(3),
        },
        {
            **loan("H1", "SETTLED", maturity=dt.date(2030, 1, 1), balance=0.0, product="RHL", status="S"),
            "snapshot_date": month(2),
        },
        {
            **loan("H2", "LONGAGO", maturity=dt.date(2030, 1, 1), balance=80000.0, product="RHL"),
            "snapshot_date": month(8),
        },
    ]
    inp = build(
        [customer(c, "retail") for c in ("SOON", "LATER", "SETTLED", "LONGAGO", "EDGE")],
        loans=[
            loan("R1", "SOON", maturity=dt.date(2026, 9, 15), balance=3000.0, product="RHL", interest_rate=0.0),
            loan("R2", "LATER", maturity=dt.date(2027, 1, 31), balance=30000.0, product="RHL"),
            loan("R3", "EDGE", maturity=dt.date(2026, 12, 31), balance=30000.0, product="RHL"),
        ],
        loan_history=hist,
    )
    got = _fired(customer_needs(inp, config), "MORTGAGE_END")
    assert set(got.index) == {"SOON", "SETTLED", "EDGE"}
    e = _ev(got, "SOON")
    assert e == {"ended": 0, "loan_end": "2026-09-15", "loans": 1, "monthly_payment_freed": 1000.0}
    assert got.loc["SOON", "deadline"] == dt.date(2026, 9, 15)
    s = _ev(got, "SETTLED")
    assert s["ended"] == 1 and s["loan_end"] == month(2).isoformat()
    assert s["monthly_payment_freed"] == round(120000.0 / 46, 2)  # at 0%: 2026-03 .. 2030-01 left
    assert got.loc["SETTLED", "deadline"] is None


# ------------------------------------------------------------------------------------------- LARGE_INFLOW


def test_large_inflow_multiple_edge_and_history(config):
    base = {k: 10000.0 for k in range(1, 13)}
    inp = build(
        [customer(c, "retail") for c in ("BIG", "EDGE", "BELOW", "NOHIST")],
        txn_rows=txns("BIG", {**base, 0: 100000.0}, txn_type="TRF", direction="C")
        + txns("EDGE", {**{k: 20000.0 for k in range(1, 13)}, 0: 120000.0}, txn_type="TRF", direction="C")
        + txns("BELOW", {**{k: 20000.0 for k in range(1, 13)}, 0: 119000.0}, txn_type="TRF", direction="C")
        + txns("NOHIST", {0: 100000.0, 1: 1000.0}, txn_type="TRF", direction="C"),
    )
    res = customer_needs(inp, config)
    got = _fired(res, "LARGE_INFLOW")
    assert set(got.index) == {"BIG", "EDGE"}
    assert _ev(got, "BIG") == {"amount": 100000.0, "median_month": 10000.0, "month": "2026-06", "multiple": 10.0}
    assert got.loc["BIG", "deadline"] == ME + dt.timedelta(days=60)
    assert res.lacking["LARGE_INFLOW"] == 1


# ------------------------------------------------------------------------------------------- all of them


def test_customer_needs_columns_order_closed_customers_and_evidence_without_personal_values(config):
    inp = build(
        [customer("C1", annual_revenue=100_000_000.0, key_account=True), customer("GONE", status="C")],
        loans=[
            loan("LOAN-SECRET-1", "C1", maturity=ME + dt.timedelta(days=10)),
            loan("LOAN-SECRET-2", "GONE", maturity=ME + dt.timedelta(days=10)),
        ],
        txn_rows=_seasonal_flows("C1", _ks({9, 10})),
    )
    res = customer_needs(inp, config)
    out = res.needs
    assert list(out.columns) == MART_COLUMNS
    assert set(out["customer_id"]) == {"C1"}  # closed customers get no need
    assert list(out["need"]) == [n for n in NEEDS if n in set(out["need"])]
    assert {"MATURITY", "HEADROOM", "SEASONAL"} <= set(out["need"])
    assert out["key_account"].all() and (out["branch_id"] == "B1").all()
    for _, r in out.iterrows():
        ev = json.loads(r["evidence"])
        assert set(ev) <= set(EVIDENCE[r["need"]])
        text = r["evidence"]
        assert "C1" not in text and "SECRET" not in text and "S1" not in text and "B1" not in text
        for v in ev.values():
            assert v is None or isinstance(v, (int, float, list)) or (isinstance(v, str) and len(v) <= 10)
        assert 0.0 <= r["strength"] <= 1.0
