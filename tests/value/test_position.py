"""Share of wallet, main bank, debt service and industry position on hand-computed figures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm.value.value import customer_value
from tests.value.build import ME, MONTHS, c360, inputs, loan, loan_months, pinned_config

D = dt.date


@pytest.fixture
def config():
    return pinned_config()


def _pull(report, customer, day, balance, count):
    return {
        "report_id": report,
        "customer_id": customer,
        "query_date": day,
        "query_reason": "02",
        "external_loan_count": count,
        "external_loan_balance": balance,
        "inquiries_3m": 0,
        "inquiries_12m": 0,
        "overdue_count_24m": 0,
        "worst_overdue_months_24m": 0,
        "current_overdue_amount": 0.0,
        "has_bad_debt": "N",
    }


def test_wallet_share_main_bank_and_dsti(config):
    c = c360(
        [
            {"customer_id": "W", "annual_income": 400_000.0},  # ours 300k, external 100k (2 loans)
            {"customer_id": "S"},  # only a stale pull (400 days): unknown
            {"customer_id": "Z"},  # no debt anywhere: main bank by the no-external-debt rule
            {"customer_id": "X", "annual_income": 1_000_000.0},  # ours 100k, external 300k: 25%
            {"customer_id": "K", "segment": "corporate", "enterprise_size": "M", "annual_income": 1e6},
        ]
    )
    lp = loan_months("LW", "W", {ME: 300_000.0}) + loan_months("LX", "X", {ME: 100_000.0})
    lp += loan_months("LK", "K", {ME: 50_000.0})
    rates = [
        loan("LW", "W", 6.0, D(2025, 6, 30), D(2028, 6, 30)),  # 24 months remain at the month end
        loan("LX", "X", 4.8, D(2024, 1, 1), D(2027, 6, 30)),
        loan("LK", "K", 4.8, D(2024, 1, 1), D(2027, 6, 30)),
    ]
    bureau = [
        _pull("B0", "W", D(2025, 1, 5), 900_000.0, 7),  # older pull of W: not the latest
        _pull("B1", "W", D(2026, 5, 20), 100_000.0, 2),
        _pull("B2", "S", ME - dt.timedelta(days=400), 50_000.0, 1),
        _pull("B3", "Z", D(2026, 6, 1), 0.0, 0),
        _pull("B4", "X", D(2026, 6, 30), 300_000.0, 1),
        _pull("B5", "K", D(2026, 6, 30), 0.0, 0),
        _pull("B6", "X", D(2026, 7, 2), 0.0, 0),  # after the month end: not used
    ]
    v = customer_value(inputs(c, loan_perf=lp, loan_rates=rates, bureau=bureau), config).value.set_index("customer_id")
    w = v.loc["W"]
    assert w["bureau_query_date"] == D(2026, 5, 20) and w["bureau_age_days"] == 41
    assert w["external_loan_balance"] == 100_000.0 and w["external_loan_count"] == 2
    assert w["total_debt"] == 400_000.0 and w["wallet_share"] == pytest.approx(0.75)
    assert w["main_bank"] == True  # noqa: E712 (nullable boolean)
    assert w["wallet_headroom"] == 100_000.0
    # ours: 300k at 6% over 24 months: 13,296.18 a month x 12 = 159,554.20;
    # external: 100k at the assumed 5% over 60 months: 1,887.12 a month x 12 = 22,645.48
    assert w["debt_service_annual"] == pytest.approx(182_199.68, abs=0.01)
    assert w["dsti"] == pytest.approx(182_199.68 / 400_000.0, abs=1e-6)
    s = v.loc["S"]
    assert pd.isna(s["main_bank"]) and np.isnan(s["wallet_share"]) and pd.isna(s["bureau_query_date"])
    assert np.isnan(s["total_debt"]) and np.isnan(s["dsti"])
    z = v.loc["Z"]
    assert z["main_bank"] == True and np.isnan(z["wallet_share"]) and z["total_debt"] == 0.0  # noqa: E712
    x = v.loc["X"]
    assert x["wallet_share"] == pytest.approx(0.25) and x["main_bank"] == False  # noqa: E712
    assert x["bureau_query_date"] == D(2026, 6, 30)
    k = v.loc["K"]
    assert k["wallet_share"] == pytest.approx(1.0) and k["main_bank"] == True  # noqa: E712
    assert np.isnan(k["dsti"])  # corporates: no DSTI
    assert v["main_bank"].dtype == "boolean"


def _statement(sid, customer, period, received, revenue, ptype="A"):
    return {
        "statement_id": sid,
        "customer_id": customer,
        "report_period": period,
        "period_type": ptype,
        "audited": "Y",
        "received_date": received,
        "total_assets": 2 * revenue,
        "total_liabilities": revenue,
        "equity": revenue,
        "revenue": revenue,
    }


def _corporate(customer, industry, province, size="S"):
    return {"customer_id": customer, "industry": industry, "province": province, "enterprise_size": size}


def test_industry_ranks_fallback_and_benchmark(config, tmp_path):
    """Five manufacturers (C) in 浙江 rank among themselves; the one in 江苏 has no 5 peers there and ranks
    among all six; the only F company ranks alone."""
    bench = tmp_path / "bench.csv"
    bench.write_text(
        "# illustrative\nversion,industry,enterprise_size,revenue_median,total_assets_median\n"
        "test-1,C,M,20000000,40000000\n"
    )
    config["industry"]["benchmark_file"] = str(bench)
    revenue = {"Z1": 10e6, "Z2": 20e6, "Z3": 30e6, "Z4": 40e6, "Z5": 50e6, "J1": 25e6, "F1": 8e6}
    corps = [_corporate(k, "C", "浙江", "M" if k == "Z3" else "S") for k in ("Z1", "Z2", "Z3", "Z4", "Z5")]
    corps += [_corporate("J1", "C", "江苏"), _corporate("F1", "F", "浙江")]
    c = c360(
        [
            {"customer_id": r["customer_id"], "segment": "corporate", "enterprise_size": r["enterprise_size"]}
            for r in corps
        ]
        + [{"customer_id": "P"}]
    )
    st = [_statement(f"S{k}", k, D(2025, 12, 31), D(2026, 4, 30), rev) for k, rev in revenue.items()]
    st += [
        _statement("SZ1p", "Z1", D(2024, 12, 31), D(2025, 4, 30), 8e6),  # growth +25%
        _statement("SZ2p", "Z2", D(2024, 12, 31), D(2025, 4, 30), 25e6),  # growth -20%
        _statement("SZ1q", "Z1", D(2026, 3, 31), D(2026, 5, 10), 3e6, ptype="Q"),  # later, not annual
        _statement("SZ5r", "Z5", D(2025, 12, 31), D(2026, 7, 15), 99e6),  # received after the month end
    ]
    v = customer_value(inputs(c, corporates=corps, statements=st), config).value.set_index("customer_id")
    z = v.loc[["Z1", "Z2", "Z3", "Z4", "Z5"]]
    assert z["industry_region"].tolist() == ["浙江"] * 5 and z["industry_peers"].tolist() == [5] * 5
    assert z["industry_rank_revenue"].tolist() == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert z["revenue"].tolist() == [10e6, 20e6, 30e6, 40e6, 50e6]
    assert z.loc["Z1", "revenue_growth"] == pytest.approx(0.25) and z.loc["Z2", "revenue_growth"] == pytest.approx(-0.2)
    assert z.loc[["Z1", "Z2"], "industry_rank_growth"].tolist() == [1.0, 0.5]
    j = v.loc["J1"]
    assert pd.isna(j["industry_region"]) and j["industry_peers"] == 6
    assert j["industry_rank_revenue"] == pytest.approx(0.5)  # 3rd of 10, 20, 25, 30, 40, 50
    assert v.loc["F1", "industry_peers"] == 1 and v.loc["F1", "industry_rank_revenue"] == 1.0
    # benchmark: Z3 (C, M): revenue 30m / 20m, assets 60m / 40m
    assert v.loc["Z3", "bench_revenue_ratio"] == pytest.approx(1.5) and v.loc["Z3", "bench_assets_ratio"] == 1.5
    assert v.loc["Z3", "benchmark_version"] == "test-1" and pd.isna(v.loc["Z1", "benchmark_version"])
    # position Z3: (.30 x .6 + .20 x .6 + .15 x 1.5/2.5 + .15 x 1.5/2.5) / .80 = 60 (growth unknown: left out)
    assert v.loc["Z3", "industry_position"] == pytest.approx(60.0)
    # Z1: (.30 x .2 + .20 x .2 + .20 x 1.0) / .70, no benchmark for C x S
    assert v.loc["Z1", "industry_position"] == pytest.approx(100 * 0.3 / 0.7, abs=1e-4)
    p = v.loc["P"]
    assert pd.isna(p["industry"]) and np.isnan(p["industry_position"]) and pd.isna(p["rank_industry"])
    assert v.loc["Z1", "rank_industry"] == pytest.approx(v.loc["Z1", "industry_position"] / 100)


def test_shipped_benchmark_table_is_marked_illustrative():
    from crm.value.position import load_benchmarks
    from crm.value.value import load_config

    table = load_benchmarks(load_config())
    assert len(table) == 16 * 4 and table["version"].str.startswith("illustrative").all()
    text = (Path(__file__).parents[2] / "crm" / "value" / "industry_benchmarks.csv").read_text(encoding="utf-8")
    assert "NOT OFFICIAL STATISTICS" in text


def test_wallet_uses_the_month_end_balance(config):
    """Our balance for the share of wallet is the month-end balance, not a balance earlier in the window."""
    c = c360([{"customer_id": "E"}])
    lp = loan_months("LE", "E", {MONTHS[0]: 500_000.0, ME: 100_000.0})
    bureau = [_pull("B1", "E", D(2026, 6, 1), 100_000.0, 1)]
    v = customer_value(inputs(c, loan_perf=lp, bureau=bureau), config).value.iloc[0]
    assert v["wallet_share"] == pytest.approx(0.5) and v["total_debt"] == 200_000.0
