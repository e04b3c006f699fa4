"""Financial ratios on hand-made statements with hand-computed values."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm.scoring.financials import FLAGS, RATIOS, latest_by_customer, ratios

COLS = [
    "statement_id",
    "customer_id",
    "report_period",
    "period_type",
    "audited",
    "received_date",
    "current_assets",
    "inventory",
    "total_assets",
    "current_liabilities",
    "total_liabilities",
    "equity",
    "revenue",
    "operating_profit",
    "interest_expense",
    "net_profit",
    "operating_cash_flow",
]
D = dt.date


def _stmts():
    rows = [
        # id, cust, period, type, audited, received, CA, inv, TA, CL, TL, E, rev, OP, int, NP, OCF
        (
            "A23",
            "k1.a",
            D(2023, 12, 31),
            "A",
            "Y",
            D(2024, 4, 20),
            500,
            100,
            1000,
            250,
            600,
            400,
            2000,
            120,
            40,
            60,
            30,
        ),
        # first copy of the 2024 annual, restated later: superseded
        ("A24x", "k1.a", D(2024, 12, 31), "A", "N", D(2025, 4, 10), 1, 1, 1000, 1, 700, 300, 1, 1, 1, 1, 1),
        (
            "A24",
            "k1.a",
            D(2024, 12, 31),
            "A",
            "Y",
            D(2025, 4, 25),
            400,
            100,
            1000,
            500,
            700,
            300,
            1600,
            50,
            40,
            20,
            -10,
        ),
        ("A25", "k1.a", D(2025, 12, 31), "A", "Y", D(2026, 4, 25), 420, 80, 1000, 480, 690, 310, 1700, 90, 30, -40, -5),
        # interim statements: year-to-date income statements
        ("H23", "k1.a", D(2023, 6, 30), "H", "N", D(2023, 8, 1), 450, 90, 1000, 300, 600, 400, 800, 60, 20, 30, 10),
        ("H24", "k1.a", D(2024, 6, 30), "H", "N", D(2024, 8, 1), 450, 90, 1000, 300, 650, 350, 900, 50, 20, 40, 10),
        ("Q24a", "k1.a", D(2024, 3, 31), "Q", "N", D(2024, 4, 30), 450, 90, 900, 300, 600, 300, 400, 30, 10, 15, 5),
        ("Q24c", "k1.a", D(2024, 9, 30), "Q", "N", D(2024, 10, 30), 450, 90, 900, 300, 600, 300, 1300, 80, 30, 45, 20),
        ("Q25a", "k1.a", D(2025, 3, 31), "Q", "N", D(2025, 4, 30), 450, 90, 900, 300, 600, 300, 500, 30, 10, 15, 5),
        # identity failures: off by 2 yuan (excluded), off by 0.5 yuan (kept)
        ("B1", "k1.b", D(2024, 12, 31), "A", "Y", D(2025, 4, 1), 500, 100, 1000, 250, 500, 498, 100, 10, 5, 5, 5),
        ("B2", "k1.b", D(2025, 12, 31), "A", "Y", D(2026, 4, 1), 500, 100, 1000, 250, 500, 499.5, 100, 10, 5, 5, 5),
        # a quarterly after the latest annual: the annual is still the customer's latest
        ("B3", "k1.b", D(2026, 3, 31), "Q", "N", D(2026, 4, 30), 500, 100, 1000, 250, 500, 500, 30, 3, 1, 2, 1),
        # zero denominators and negative equity
        ("C1", "k1.c", D(2025, 12, 31), "A", "N", D(2026, 4, 1), 0, 0, 0, 0, 0, 0, 0, 10, 0, 5, 5),
        ("C2", "k1.c", D(2025, 6, 30), "H", "N", D(2025, 8, 1), 100, None, 100, 200, 150, -50, 50, -5, 10, -8, -3),
        # a customer with interim statements only
        ("D1", "k1.d", D(2025, 3, 31), "Q", "N", D(2025, 4, 30), 100, 10, 200, 50, 100, 100, 30, 3, 1, 2, 1),
        ("D2", "k1.d", D(2025, 9, 30), "Q", "N", D(2025, 10, 30), 100, 10, 200, 50, 100, 100, 90, 9, 3, 6, 3),
        # a statement without total liabilities: cannot be checked, excluded
        ("E1", "k1.e", D(2025, 12, 31), "A", "N", D(2026, 4, 1), 1, 1, 100, 1, None, 50, 1, 1, 1, 1, 1),
    ]
    return pd.DataFrame(rows, columns=COLS)


@pytest.fixture(scope="module")
def result():
    return ratios(_stmts())


def test_ratios_on_a_hand_made_annual_statement(result):
    r = result[0].set_index("statement_id")
    a = r.loc["A23"]
    assert a["debt_to_asset"] == pytest.approx(0.6)
    assert a["current_ratio"] == pytest.approx(2.0)
    assert a["quick_ratio"] == pytest.approx((500 - 100) / 250)
    assert a["interest_coverage"] == pytest.approx(3.0)
    assert a["roa"] == pytest.approx(0.06)
    assert a["roe"] == pytest.approx(0.15)
    assert a["ocf_to_debt"] == pytest.approx(0.05)
    assert a["months"] == 12 and a["annualisation"] == 1.0


def test_interim_statements_are_annualised_by_months_elapsed(result):
    r = result[0].set_index("statement_id")
    assert r.loc["H24", "annualisation"] == 2.0 and r.loc["H24", "roa"] == pytest.approx(40 * 2 / 1000)
    assert r.loc["Q24a", "roa"] == pytest.approx(15 * 4 / 900)
    # a September quarterly carries nine months: x 12/9, not x 4
    assert r.loc["Q24c", "months"] == 9
    assert r.loc["Q24c", "roa"] == pytest.approx(45 * 12 / 9 / 900)
    assert r.loc["Q24c", "ocf_to_debt"] == pytest.approx(20 * 12 / 9 / 600)
    assert r.loc["Q24c", "interest_coverage"] == pytest.approx(80 / 30)  # flow over flow: not annualised


def test_identity_failures_excluded_and_counted(result):
    r, counts = result
    ids = set(r["statement_id"])
    assert "B1" not in ids and "B2" in ids and "E1" not in ids
    assert counts["statements_in"] == 17
    assert counts["excluded_identity"] == 1 and counts["excluded_missing_totals"] == 1
    assert counts["superseded"] == 1 and "A24x" not in ids
    assert counts["statements_out"] == 17 - 3 == len(r)


def test_zero_denominators_give_nan_never_inf(result):
    r = result[0].set_index("statement_id")
    c1 = r.loc["C1"]
    for col in ("debt_to_asset", "current_ratio", "quick_ratio", "interest_coverage", "roa", "roe", "ocf_to_debt"):
        assert np.isnan(c1[col]), col
    c2 = r.loc["C2"]
    assert np.isnan(c2["roe"])  # negative equity
    assert np.isnan(c2["quick_ratio"])  # inventory unknown
    assert c2["debt_to_asset"] == pytest.approx(1.5)
    num = result[0][RATIOS + ["revenue_growth", "profit_growth", "debt_to_asset_change"]].to_numpy(float)
    assert not np.isinf(num).any()


def test_growth_against_the_same_period_a_year_earlier(result):
    r = result[0].set_index("statement_id")
    assert r.loc["A24", "revenue_growth"] == pytest.approx(1600 / 2000 - 1)
    assert r.loc["A24", "profit_growth"] == pytest.approx((20 - 60) / 60)
    assert r.loc["A25", "profit_growth"] == pytest.approx((-40 - 20) / 20)
    assert r.loc["H24", "revenue_growth"] == pytest.approx(900 / 800 - 1)
    assert r.loc["Q25a", "revenue_growth"] == pytest.approx(500 / 400 - 1)  # March against March
    assert np.isnan(r.loc["Q24c", "revenue_growth"])  # no September quarterly a year earlier
    assert np.isnan(r.loc["A23", "revenue_growth"])
    # trend: the previous statement of the same type
    assert r.loc["Q24c", "prev_report_period"] == D(2024, 3, 31)
    assert r.loc["A24", "debt_to_asset_change"] == pytest.approx(0.1)


def test_deterioration_flags(result):
    r = result[0].set_index("statement_id")
    a24 = r.loc["A24"]
    assert a24["flag_leverage_up"]  # 0.6 -> 0.7
    assert a24["flag_liquidity"]  # current ratio 0.8, down from 2.0
    assert a24["flag_interest_coverage"]  # 50 / 40 = 1.25
    assert not a24["flag_negative_ocf"]  # the previous annual's cash flow was positive
    assert a24["flag_revenue_decline"]  # -20%
    assert a24["flag_count"] == 4
    a25 = r.loc["A25"]
    assert a25["flag_negative_ocf"] and not a25["flag_leverage_up"] and not a25["flag_revenue_decline"]
    assert not a25["flag_liquidity"]  # below 1 but not falling (0.8 -> 0.875)
    assert r.loc["A23", "flag_count"] == 0
    assert not r.loc["C1", "flag_interest_coverage"]  # no interest expense: no coverage, no flag
    assert r.loc["C2", "flag_interest_coverage"]  # operating loss against interest
    assert (r["flag_count"] == r[FLAGS].sum(axis=1)).all()
    assert result[1]["flagged"] == int((r["flag_count"] > 0).sum())


def test_latest_by_customer(result):
    latest = latest_by_customer(result[0]).set_index("customer_id")["statement_id"]
    assert latest.to_dict() == {"k1.a": "A25", "k1.b": "B2", "k1.c": "C1", "k1.d": "D2"}
