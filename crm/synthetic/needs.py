"""Customers' needs that are real in the data (issue 19): the latent state behind them, and its effect on the
balances and transactions.

Every customer's draws come from their own number (uid) on streams of their own, so the rest of the bank is
unchanged by them. Five kinds (``params`` "needs (issue 19)", ``docs/synthetic.md`` "Needs (issue 19)"):

- seasonal corporates: a yearly peak month (or two adjacent months) when the balances dip, turnover swells and
  debits are trade payments (:func:`balance_factor`, :func:`season_turnover`);
- growth spurts: corporates whose revenue and deposits grow fast for a few years while their loans' contract
  amounts do not follow (:func:`boom_log`);
- concentrated corporates: most counterparty transactions of a direction with one or two counterparties;
- salaries: individuals paid through us get a salary credit every month (the only individuals' SAL credits),
  some from a month on after none before (payroll starts);
- large inflows: an individual's one-off credit of many times their usual balance, spent over months.

:mod:`crm.synthetic.truth` reads the same state to say who has which need at a month end.
"""

from __future__ import annotations

import numpy as np

from crm.synthetic import cal, params
from crm.synthetic.rand import choice_index, normal, uniform
from crm.synthetic.world import NEVER, NS

EMPLOYED_OCCUPATIONS = ("1", "2", "3", "4", "6")
DIRECTIONS = np.array(["", "D", "C", "B"], dtype=object)  # conc_dir codes 0..3


def _window_day(seed: int, tag: str, uid: np.ndarray, window) -> np.ndarray:
    lo, hi = cal.day(window[0]), cal.day(window[1])
    return lo + (uniform(seed, tag, uid) * (hi - lo)).astype(np.int64)


def build(seed: int, c: NS, ind: NS, corp: NS, acc: NS) -> None:
    """Set every customer's latent needs on ``c`` (arrays over customers)."""
    n = len(c.uid)
    k = c.uid
    # ---- seasonal corporates
    c.season_peak = np.zeros(n, dtype=np.int64)  # first peak month (1..12), 0: none
    c.season_len = np.zeros(n, dtype=np.int64)
    c.season_dip = np.ones(n)
    c.season_turn = np.ones(n)
    ku = k[corp.pos]
    share = np.array([params.SEASONAL_SHARE.get(i, 0.0) for i in corp.industry])
    seasonal = uniform(seed, "nd_season", ku) < share
    peak = np.zeros(len(corp.pos), dtype=np.int64)
    um = uniform(seed, "nd_season_m", ku)
    for ind_code, months in params.SEASONAL_PEAK_MONTHS.items():  # a loop over a few industries
        m = seasonal & (corp.industry == ind_code)
        peak[m] = np.asarray(months)[(um[m] * len(months)).astype(np.int64)]
    pos = corp.pos[seasonal]
    c.season_peak[pos] = peak[seasonal]
    c.season_len[pos] = np.where(uniform(seed, "nd_season_l", k[pos]) < params.SEASONAL_TWO_MONTHS, 2, 1)
    lo, hi = params.SEASONAL_DIP
    c.season_dip[pos] = lo + (hi - lo) * uniform(seed, "nd_season_d", k[pos])
    lo, hi = params.SEASONAL_TURNOVER
    c.season_turn[pos] = lo + (hi - lo) * uniform(seed, "nd_season_t", k[pos])
    # ---- growth spurts
    c.boom_day = np.full(n, NEVER, dtype=np.int64)
    c.boom_rate = np.zeros(n)
    boom = uniform(seed, "nd_boom", ku) < params.GROWTH_SHARE
    pos = corp.pos[boom]
    c.boom_day[pos] = _window_day(seed, "nd_boom_t", k[pos], params.GROWTH_WINDOW)
    lo, hi = params.GROWTH_RATE
    c.boom_rate[pos] = lo + (hi - lo) * uniform(seed, "nd_boom_r", k[pos])
    # ---- concentrated counterparties
    c.conc_dir = np.zeros(n, dtype=np.int64)
    c.conc_top = np.zeros(n)
    conc = uniform(seed, "nd_conc", ku) < params.CONCENTRATION_SHARE
    pos = corp.pos[conc]
    codes, w = params.CONCENTRATION_DIRECTION
    c.conc_dir[pos] = (
        1
        + np.array([{"D": 0, "C": 1, "B": 2}[x] for x in codes])[choice_index(uniform(seed, "nd_conc_dir", k[pos]), w)]
    )
    lo, hi = params.CONCENTRATION_TOP
    c.conc_top[pos] = lo + (hi - lo) * uniform(seed, "nd_conc_top", k[pos])
    # ---- salaries: PAYROLL_SHARE of the employed are paid through us from their first full month; of the
    # others, PAYROLL_START_SHARE start being paid through us in a month of PAYROLL_START_WINDOW. A salary
    # stops when the customer declines (job change, moving away); valid only while their current account is open.
    c.pay_start = np.full(n, NEVER, dtype=np.int64)  # first day of the first month with a salary
    c.pay_day = np.zeros(n, dtype=np.int64)
    c.pay_amount = np.zeros(n)
    ki = k[ind.pos]
    employed = np.isin(ind.occupation, EMPLOYED_OCCUPATIONS)
    paid = employed & (uniform(seed, "nd_paid", ki) < params.PAYROLL_SHARE)
    starter = employed & ~paid & (uniform(seed, "nd_pay", ki) < params.PAYROLL_START_SHARE)
    p = ind.pos[paid | starter]
    day = np.where(
        paid[paid | starter],
        cal.month_start(cal.month_of(c.onboard[p] + 15) + 1),
        cal.month_start(cal.month_of(_window_day(seed, "nd_pay_t", k[p], params.PAYROLL_START_WINDOW))),
    )
    cur = c.cur_acc[p]
    ok = (
        (day >= c.onboard[p])
        & (day < np.minimum(c.t_dec[p], c.t_churn[p]))
        & (cur >= 0)
        & (acc.open[np.maximum(cur, 0)] <= day)
        & (acc.close[np.maximum(cur, 0)] > day)
    )
    p, first = p[ok], day[ok]
    c.pay_start[p] = first
    lo, hi = params.PAYROLL_DAY
    c.pay_day[p] = lo + (uniform(seed, "nd_pay_d", k[p]) * (hi - lo + 1)).astype(np.int64)
    lo, hi = params.PAYROLL_SALARY_SHARE
    income = np.zeros(n)
    income[ind.pos] = ind.income
    c.pay_amount[p] = np.round(income[p] / 12 * (lo + (hi - lo) * uniform(seed, "nd_pay_a", k[p])), 2)
    # ---- large inflows
    c.inflow_day = np.full(n, NEVER, dtype=np.int64)
    c.inflow_amount = np.zeros(n)
    has = uniform(seed, "nd_inflow", ki) < params.LARGE_INFLOW_SHARE
    p = ind.pos[has]
    day = _window_day(seed, "nd_inflow_t", k[p], params.LARGE_INFLOW_WINDOW)
    day = cal.month_start(cal.month_of(day)) + 21 + (uniform(seed, "nd_inflow_d", k[p]) * 7).astype(np.int64)
    cur = c.cur_acc[p]
    ok = (
        (day >= c.onboard[p] + 60)
        & (day < np.minimum(c.t_dec[p], c.t_churn[p]))
        & (cur >= 0)
        & (acc.open[np.maximum(cur, 0)] <= day)
        & (acc.close[np.maximum(cur, 0)] > day)
    )
    p, day = p[ok], day[ok]
    c.inflow_day[p] = day
    lo, hi = params.LARGE_INFLOW_MULTIPLE
    mult = np.exp(np.log(lo) + (np.log(hi) - np.log(lo)) * uniform(seed, "nd_inflow_a", k[p]))
    c.inflow_amount[p] = np.maximum(np.round(mult * c.dep_level[p], -3), params.LARGE_INFLOW_MIN)


# ============================================================================================ effects


def in_peak(c: NS, cust: np.ndarray, m) -> np.ndarray:
    """Whether month ``m`` (month number, scalar or per row) is a peak month of customers ``cust``."""
    cm = np.asarray(m, dtype=np.int64) % 12 + 1
    first = c.season_peak[cust]
    off = (cm - first) % 12
    return (first > 0) & (off < c.season_len[cust])


def season_dip(seed: int, c: NS, cust: np.ndarray, m) -> np.ndarray:
    """The month-end balance multiplier of customers ``cust`` in month ``m`` (1 outside their peak)."""
    m = np.broadcast_to(np.asarray(m, dtype=np.int64), cust.shape)
    year = m // 12
    z = normal(seed, "nd_season_y", c.uid[cust] * 256 + (year % 256))
    dip = np.minimum(c.season_dip[cust] * np.exp(params.SEASONAL_NOISE * z), 0.9)
    return np.where(in_peak(c, cust, m), dip, 1.0)


def boom_log(c: NS, cust: np.ndarray, days) -> np.ndarray:
    """Extra log revenue (and deposit level) of customers ``cust`` at ``days`` from their growth spurt."""
    t0 = c.boom_day[cust]
    years = np.clip(np.asarray(days, dtype=np.int64) - t0, 0, int(params.GROWTH_YEARS * 365.25)) / 365.25
    return c.boom_rate[cust] * years


def balance_factor(seed: int, c: NS, cust: np.ndarray, m: int) -> np.ndarray:
    """Multiplier of the dynamic accounts' month-end balances of customers ``cust`` in month ``m``: the
    seasonal dip (not once dormant) times the growth spurt."""
    me = int(cal.month_end(m))
    dorm = me >= c.t_dorm[cust]
    f = np.where(dorm, 1.0, season_dip(seed, c, cust, m))
    return f * np.exp(boom_log(c, cust, np.minimum(me, c.t_dorm[cust])))


def inflow_bump(c: NS, cust: np.ndarray, m: int) -> np.ndarray:
    """What remains of customers ``cust``'s large inflow on their current account at the end of month ``m``."""
    ev = c.inflow_day[cust]
    j = m - cal.month_of(np.minimum(ev, NEVER - 1))
    live = (ev < NEVER) & (j >= 0) & (j <= params.LARGE_INFLOW_MONTHS) & (int(cal.month_end(m)) < c.t_dorm[cust])
    return np.where(live, c.inflow_amount[cust] * params.LARGE_INFLOW_KEEP ** np.maximum(j, 0), 0.0)


def month_extras(seed: int, c: NS, acc: NS, rows: np.ndarray, m: int, D: int) -> NS:
    """Per bridge row (accounts ``rows`` in month ``m`` of ``D`` days), the day profile added to the balance by
    a large inflow and a salary (``X``, rows ``xrows`` only), the forced credits (day index and amount, -1 /
    0 when none: ``pay_d``, ``pay_amt``, ``ev_d``, ``ev_amt``), the month-end bumps before and after
    (``bump0``, ``bump1``), and the seasonal peak flag and turnover multiplier (``peak``, ``turn``)."""
    cust = acc.cust[rows]
    n = len(rows)
    ms, me = int(cal.month_start(m)), int(cal.month_end(m))
    cur = acc.slot[rows] == 0
    is_open = (acc.open[rows] <= ms) & (acc.close[rows] > me)
    bump0 = np.where(cur, inflow_bump(c, cust, m - 1), 0.0)
    bump1 = np.where(cur, inflow_bump(c, cust, m), 0.0)
    ev = c.inflow_day[cust]
    ev_here = cur & (ev >= ms) & (ev <= me) & is_open
    ev_d = np.where(ev_here, ev - ms, -1)
    ev_amt = np.where(ev_here, c.inflow_amount[cust], 0.0)
    pay_here = cur & (c.pay_start[cust] <= ms) & (me < np.minimum(c.t_dec[cust], c.t_dorm[cust])) & is_open
    pay_d = np.where(pay_here, np.minimum(c.pay_day[cust], D) - 1, -1)
    pay_amt = np.where(pay_here, c.pay_amount[cust], 0.0)
    xrows = np.flatnonzero((bump0 > 0) | (bump1 > 0) | pay_here)
    dd = np.arange(D)[None, :]
    b0, b1 = bump0[xrows, None], bump1[xrows, None]
    evd = ev_d[xrows, None]
    X = np.where(evd >= 0, np.where(dd >= evd, b1, 0.0), b0 + (b1 - b0) * (dd + 1) / D)
    pd_, pa = pay_d[xrows, None], pay_amt[xrows, None]
    spent = np.where(pd_ >= 0, pa * np.clip((D - 1 - dd) / np.maximum(D - 1 - pd_, 1), 0, 1), 0.0)
    X = X + np.where((pd_ >= 0) & (dd >= pd_), spent, 0.0)
    xpos = np.full(n, -1, dtype=np.int64)
    xpos[xrows] = np.arange(len(xrows))
    peak = in_peak(c, cust, m) & acc.dynamic[rows] & (ms < c.t_dorm[cust])
    dip = season_dip(seed, c, cust, m)
    turn = np.where(peak, c.season_turn[cust] / dip, 1.0)
    return NS(
        X=X, xrows=xrows, xpos=xpos, bump0=bump0, bump1=bump1, ev_d=ev_d, ev_amt=ev_amt, pay_d=pay_d,
        pay_amt=pay_amt, peak=peak, turn=turn,
    )  # fmt: skip
