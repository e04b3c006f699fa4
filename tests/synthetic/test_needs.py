"""Customers' needs in the synthetic bank (issue 19) and their truth: seasonal corporates' balances dip and
payments swell in their peak months year after year, payroll starts show as salary credits from their month,
large inflows appear in the month aggregates, concentrated corporates deal with one or two counterparties,
growing firms' turnover outgrows their loans, and the truth is deterministic for a seed.

The month-end extract frames are built from a bank object (the same functions write the TXN_MON and DEP_BAL
files), two years of month ends of a 1,000-customer bank: a few seconds."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm.synthetic import cal, params
from crm.synthetic import extracts as X
from crm.synthetic.bank import Bank
from crm.synthetic.truth import COLUMNS, NEEDS, needs_truth

N, SEED = 1000, 23
END = dt.date(2026, 11, 30)
M_END = cal.month_number(END)
MONTHS = 25  # month ends 2024-11 .. 2026-11


def _month_end(m: int) -> dt.date:
    return cal.date(int(cal.month_end(m)))


@pytest.fixture(scope="module")
def bank() -> Bank:
    return Bank(SEED, N, dt.date(2026, 11, 1), END, history_months=MONTHS - 1)


@pytest.fixture(scope="module")
def frames(bank) -> dict[str, pd.DataFrame]:
    months = range(M_END - MONTHS + 1, M_END + 1)
    tx = pd.concat([X.txn_monthly_month(bank, m) for m in months], ignore_index=True)
    bal = pd.concat([X.deposit_balances_month(bank, m) for m in months], ignore_index=True)
    for df in (tx, bal):
        df["m"] = [cal.month_number(d) for d in pd.to_datetime(df["snapshot_date"]).dt.date]
    return {"tx": tx, "bal": bal}


@pytest.fixture(scope="module")
def truths(bank) -> pd.DataFrame:
    """The truth at every month end of the last two years."""
    return pd.concat(
        [needs_truth(bank, _month_end(m)).assign(m=m) for m in range(M_END - 23, M_END + 1)], ignore_index=True
    )


def _pivot(df: pd.DataFrame, value: str = "amount") -> pd.DataFrame:
    return (
        df.groupby(["customer_id", "m"])[value]
        .sum()
        .unstack()
        .reindex(columns=range(M_END - MONTHS + 1, M_END + 1))
        .fillna(0.0)
    )


def test_truth_columns_and_counts(bank, truths):
    t = needs_truth(bank, END)
    assert tuple(t.columns) == COLUMNS
    assert set(t["need"]) <= set(NEEDS)
    counts = t.groupby("need").size()
    print("\nneeds at", END, counts.to_dict())
    for need in NEEDS:  # every need exists in a 1,000-customer bank over two years
        assert (truths["need"] == need).sum() > 0, need
    assert not t.duplicated(["customer_id", "need"]).any()
    assert set(t["customer_id"]) <= set(bank.c.cid)
    corp = t["is_corporate"]
    assert corp[t["need"].isin(["SEASONAL", "GROWTH", "CONCENTRATION"])].all()
    assert not corp[t["need"].isin(["PAYROLL_START", "LARGE_INFLOW", "MORTGAGE_END"])].any()
    mat = t[t["need"] == "MATURITY"]
    days = (mat["due_date"] - pd.Timestamp(END)).dt.days
    assert days.between(1, params.MATURITY_TRUTH_DAYS).all()
    with pytest.raises(ValueError):
        needs_truth(bank, dt.date(2026, 11, 29))


def test_truth_is_deterministic_for_a_seed(bank):
    again = Bank(SEED, N, dt.date(2026, 11, 1), END, history_months=MONTHS - 1)
    a, b = needs_truth(bank, END), needs_truth(again, END)
    pd.testing.assert_frame_equal(a, b)
    other = needs_truth(Bank(SEED + 1, N, dt.date(2026, 11, 1), END, history_months=MONTHS - 1), END)
    assert not a[["customer_id", "need"]].equals(other[["customer_id", "need"]])


def test_seasonal_balances_dip_and_payments_swell_in_the_peak_months_every_year(bank, frames):
    t = needs_truth(bank, END)
    seasonal = t[t["need"] == "SEASONAL"].set_index("customer_id")
    # customers with a year before the two years looked at (past the onboarding ramp) and not declining
    c = bank.c
    pos = np.flatnonzero(np.isin(c.cid, seasonal.index.to_numpy()))
    ok = (c.onboard[pos] < cal.month_start(M_END - 35)) & (c.t_dec[pos] > cal.month_start(M_END - 23))
    seasonal = seasonal.loc[c.cid[pos[ok]]]
    assert len(seasonal) >= 5  # issue 20: more exits (complaints, dissatisfaction, manager changes) leave fewer
    bal = _pivot(frames["bal"], "balance")
    tx = frames["tx"]
    pay = _pivot(tx[(tx["txn_type"] == "PAY") & (tx["direction"] == "D")])
    corp = set(bank.c.cid[bank.c.is_corp])

    def dips(cid: str, peaks: set[int]) -> tuple[list[bool], list[bool]]:
        """Per year (the last two 12-month windows): balance of the peak months below 75% of the other
        months' median, payments in the peak months above 1.5 x the other months' median."""
        bal_ok, pay_ok = [], []
        for lo in (M_END - 23, M_END - 11):
            months = list(range(lo, lo + 12))
            peak = [m for m in months if m % 12 + 1 in peaks]
            rest = [m for m in months if m % 12 + 1 not in peaks]
            b = bal.loc[cid] if cid in bal.index else pd.Series(0.0, index=bal.columns)
            p = pay.loc[cid] if cid in pay.index else pd.Series(0.0, index=pay.columns)
            bal_ok.append(b[peak].mean() < 0.75 * b[rest].median())
            pay_ok.append(p[peak].mean() > 1.5 * max(p[rest].median(), 1.0))
        return bal_ok, pay_ok

    res = {cid: dips(cid, {int(x) for x in r["peak_months"].split(",")}) for cid, r in seasonal.iterrows()}
    bal_years = np.mean([all(b) for b, _ in res.values()])
    pay_years = np.mean([all(p) for _, p in res.values()])
    # control: the other active corporates, tried against the same peaks
    settled = set(c.cid[(c.onboard < cal.month_start(M_END - 35)) & (c.t_dec > cal.month_start(M_END - 23))])
    others = [x for x in bal.index if x in corp and x in settled and x not in seasonal.index][:150]
    peaks = list(seasonal["peak_months"])
    ctrl = [dips(cid, {int(x) for x in peaks[i % len(peaks)].split(",")}) for i, cid in enumerate(others)]
    ctrl_bal = np.mean([all(b) for b, _ in ctrl])
    ctrl_pay = np.mean([all(p) for _, p in ctrl])
    print(f"\nseasonal {len(res)}: dip both years {bal_years:.2f} (control {ctrl_bal:.2f}), "
          f"payments swell both years {pay_years:.2f} (control {ctrl_pay:.2f})")  # fmt: skip
    assert bal_years >= 0.8 and ctrl_bal <= 0.2
    assert pay_years >= 0.8 and ctrl_pay <= 0.2


def test_payroll_starts_show_as_salary_credits_from_the_event_month(bank, frames, truths):
    starts = truths[truths["need"] == "PAYROLL_START"].drop_duplicates("customer_id")
    assert len(starts) >= 10
    tx = frames["tx"]
    sal = _pivot(tx[(tx["txn_type"] == "SAL") & (tx["direction"] == "C")])
    for _, r in starts.iterrows():
        first = cal.month_number(dt.date.fromisoformat(r["event_month"] + "-01"))
        row = sal.loc[r["customer_id"]]
        assert (row[row.index < first] == 0).all(), r["customer_id"]
        after = row[(row.index >= first) & (row.index <= r["m"])]
        assert (after > 0).all(), r["customer_id"]
        assert after.median() == pytest.approx(r["amount"], rel=0.01)
    # individuals' salary credits are regular: paid through us means a salary every month
    ind = ~sal.index.isin(bank.c.cid[bank.c.is_corp])
    paid = sal[ind]
    some = (paid > 0).sum(axis=1)
    assert (some > 0).sum() > 100


def test_large_inflows_appear_in_txn_monthly(bank, frames, truths):
    inflows = truths[truths["need"] == "LARGE_INFLOW"].drop_duplicates("customer_id")
    # with the 12 months before the inflow's month in the frames
    inflows = inflows[inflows["event_month"] >= str(cal.date(int(cal.month_start(M_END - 12))))[:7]]
    assert len(inflows) >= 8
    tx = frames["tx"]
    credits = _pivot(tx[tx["direction"] == "C"])
    multiples = []
    for _, r in inflows.iterrows():
        m = cal.month_number(dt.date.fromisoformat(r["event_month"] + "-01"))
        row = credits.loc[r["customer_id"]]
        assert row[m] >= r["amount"]
        before = row[(row.index < m) & (row.index >= m - 12)]
        multiples.append(row[m] / max(before.median(), 1.0))
    print(f"\nlarge inflows {len(multiples)}: month's credits / median month before: min {min(multiples):.1f}, "
          f"median {np.median(multiples):.1f}")  # fmt: skip
    assert np.median(multiples) >= 5 and np.mean(np.array(multiples) >= 3) >= 0.9


def test_concentrated_corporates_deal_with_one_or_two_counterparties(bank, frames):
    t = needs_truth(bank, END)
    conc = t[t["need"] == "CONCENTRATION"].set_index("customer_id")
    tx = frames["tx"]
    tx = tx[
        (tx["m"] > M_END - 12)
        & tx["txn_type"].isin(["TRF", "PAY"])
        & tx["customer_id"].isin(bank.c.cid[bank.c.is_corp])
    ]
    g = tx.groupby(["customer_id", "direction"])[["top_counterparty_amount", "amount"]].sum()
    share = (g["top_counterparty_amount"] / g["amount"]).unstack()
    for d in ("D", "C"):
        true = share.index.isin(conc.index[conc["direction"].isin([d, "B"])])
        other = ~share.index.isin(conc.index)
        a, b = share.loc[true, d].median(), share.loc[other, d].median()
        print(f"\nconcentration {d}: top share median {a:.2f} (others {b:.2f})")
        assert a > b + 0.1


def test_growing_firms_outgrow_their_limits(bank, frames):
    t = needs_truth(bank, END)
    growth = t[t["need"] == "GROWTH"]
    assert len(growth) >= 3
    tx = frames["tx"]
    corp = bank.c.cid[bank.c.is_corp]
    cr = _pivot(tx[(tx["direction"] == "C") & tx["customer_id"].isin(corp)])
    yoy = cr.loc[:, M_END - 11 :].sum(axis=1) / cr.loc[:, M_END - 23 : M_END - 12].sum(axis=1).clip(lower=1.0) - 1
    is_g = yoy.index.isin(growth["customer_id"])
    print(f"\ngrowth {is_g.sum()}: credit turnover year on year median {yoy[is_g].median():.2f} "
          f"(other corporates {yoy[~is_g].median():.2f})")  # fmt: skip
    assert yoy[is_g].median() > yoy[~is_g].median() + 0.3
    # the loans' contract amounts did not follow: loans started during the spurt grew no faster than the trend
    ln, c = bank.loans, bank.c
    pos = np.flatnonzero(np.isin(c.cid, growth["customer_id"].to_numpy()))
    rows = np.flatnonzero(np.isin(ln.cust, pos) & (ln.j > 0) & (ln.start >= c.boom_day[ln.cust]))
    if len(rows):
        prev = ln.pred[rows]
        ok = prev >= 0
        ratio = ln.amount[rows[ok]] / ln.amount[prev[ok]]
        assert (ratio < np.exp(params.GROWTH_RATE[0] * ln.term[rows[ok]] / 12)).all()
