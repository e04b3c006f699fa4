"""Financial statements of corporate customers, consistent with their risk drivers.

Revenue follows the customer's growth trend with yearly noise (and falls in the lifecycle decline phase);
leverage and margins drift from the customer's structural values, deteriorating with risk. Every statement
satisfies total assets = total liabilities + equity exactly in cents. Interim statements (quarterly,
half-year) carry the balance sheet at period end and the year-to-date income statement and cash flows.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from crm.synthetic import cal, needs, params
from crm.synthetic.rand import logit, lookup, normal, sigmoid, uniform
from crm.synthetic.world import NS

REF_FY = params.REFERENCE_DATE.year - 1  # revenue0 is the revenue of this fiscal year
# period type by quarter end month (3, 6, 9, 12) and which sizes file it (probability)
SCHEDULE = {
    3: ("Q", {"L": 1.0, "M": 0.4, "S": 0.0, "X": 0.0}),
    6: ("H", {"L": 1.0, "M": 1.0, "S": 0.4, "X": 0.0}),
    9: ("Q", {"L": 1.0, "M": 0.4, "S": 0.0, "X": 0.0}),
    12: ("A", {"L": 1.0, "M": 1.0, "S": 1.0, "X": 0.7}),
}
LAG_DAYS = {"Q": (20, 45), "H": (30, 60), "A": (90, 150)}
CURRENT_ASSET_SHARE = {"C": 0.55, "F": 0.75, "E": 0.7, "K": 0.8, "D": 0.25, "B": 0.3, "G": 0.4, "I": 0.6}


def _year_factors(seed: int, c: NS, corp: NS, rows: np.ndarray, years: np.ndarray) -> tuple:
    """(log revenue, leverage, operating margin) of corporates ``rows`` (positions in corp) in ``years``."""
    uid = c.uid[corp.pos[rows]]
    t_dec_y = cal.year_of(np.minimum(c.t_dec[corp.pos[rows]], 10**5 * 3))
    lo, hi = int(min(years.min(initial=REF_FY), REF_FY)), int(max(years.max(initial=REF_FY), REF_FY))
    # cumulative log growth relative to REF_FY, year by year (a loop over at most a dozen years)
    cum = {REF_FY: np.zeros(len(rows))}
    for y in range(REF_FY + 1, hi + 1):
        g = corp.growth[rows] + 0.08 * normal(seed, "fs_growth", uid * 64 + (y - 2000)) - 0.18 * (y >= t_dec_y)
        cum[y] = cum[y - 1] + g
    for y in range(REF_FY - 1, lo - 1, -1):
        g = corp.growth[rows] + 0.08 * normal(seed, "fs_growth", uid * 64 + (y + 1 - 2000)) - 0.18 * (y + 1 >= t_dec_y)
        cum[y] = cum[y + 1] - g
    table = np.stack([cum[y] for y in range(lo, hi + 1)], axis=1)
    log_rev = np.log(corp.revenue0[rows]) + table[np.arange(len(rows)), np.asarray(years) - lo]
    # a growth spurt (issue 19) on top of the trend, at the fiscal year's middle; the loans do not follow it
    mid_year = np.array([cal.day(dt.date(int(y), 7, 1)) for y in range(lo, hi + 1)])[np.asarray(years) - lo]
    log_rev = log_rev + needs.boom_log(c, corp.pos[rows], mid_year)
    declining = years >= t_dec_y
    f = corp.f[rows]
    lev = sigmoid(
        logit(corp.lev[rows])
        + 0.04 * (years - REF_FY) * f
        + 0.12 * normal(seed, "fs_lev", uid * 64 + years - 2000)
        + 0.35 * declining
    )
    margin = corp.margin[rows] + 0.015 * normal(seed, "fs_margin", uid * 64 + years - 2000) - 0.05 * declining
    return log_rev, lev, margin


def build(seed: int, c: NS, corp: NS, first_received: int, last_received: int) -> dict:
    """Statements received in [first_received, last_received] (day numbers), as extract columns."""
    if len(corp.pos) == 0:
        return {}
    y0 = int(cal.year_of(first_received)) - 4
    y1 = int(cal.year_of(last_received))
    out = []
    len(corp.pos)
    onboard = c.onboard[corp.pos]
    churn = c.t_churn[corp.pos]
    uid = c.uid[corp.pos]
    for y in range(y0, y1 + 1):  # loop over years and quarter ends
        for qm, (ptype, share) in SCHEDULE.items():
            period_end = int(cal.month_end(cal.month_number(cal.date(0).replace(year=y, month=qm))))
            key = uid * 256 + (y - 2000) * 4 + qm // 3
            u = uniform(seed, "fs_files", key)
            files = u < lookup(corp.size, share)
            lo, hi = LAG_DAYS[ptype]
            natural = period_end + lo + (uniform(seed, "fs_lag", key) * (hi - lo)).astype(np.int64)
            # before the relationship: the bank collects the last three annual statements at onboarding
            pre = natural < onboard
            received = np.where(pre, onboard + 3 + (uniform(seed, "fs_onb_lag", key) * 20).astype(np.int64), natural)
            ok = files & (~pre | ((ptype == "A") & (period_end >= onboard - 3 * 366))) & (received < churn)
            ok &= (received >= first_received) & (received <= last_received) & (period_end >= corp.established)
            rows = np.flatnonzero(ok)
            if len(rows):
                out.append((rows, y, qm, ptype, period_end, received[rows], key[rows]))
    if not out:
        return {}
    rows = np.concatenate([o[0] for o in out])
    years = np.concatenate([np.full(len(o[0]), o[1]) for o in out])
    qms = np.concatenate([np.full(len(o[0]), o[2]) for o in out])
    ptype = np.concatenate([np.full(len(o[0]), o[3], dtype=object) for o in out])
    period_end = np.concatenate([np.full(len(o[0]), o[4]) for o in out])
    received = np.concatenate([o[5] for o in out])
    key = np.concatenate([o[6] for o in out])
    log_rev, lev, margin = _year_factors(seed, c, corp, rows, years)
    frac = qms / 12.0  # year-to-date share of the income statement
    season = np.where(ptype == "A", 1.0, np.exp(0.06 * normal(seed, "fs_season", key)))
    revenue_year = np.exp(log_rev)
    turnover = corp.turnover[rows] * np.exp(0.1 * normal(seed, "fs_turn", key))
    assets = np.round(revenue_year / turnover, 2)
    liabilities = np.round(assets * lev, 2)
    equity = np.round(assets - liabilities, 2)
    ind = corp.industry[rows]
    ca_share = lookup(ind, CURRENT_ASSET_SHARE, default=0.5) * np.exp(0.1 * normal(seed, "fs_ca", key))
    ca_share = np.clip(ca_share, 0.1, 0.92)
    current_assets = np.round(assets * ca_share, 2)
    u1, u2, u3 = (uniform(seed, "fs_" + t, key) for t in ("cash", "recv", "inv"))
    cash_s, recv_s, inv_s = 0.08 + 0.22 * u1, 0.2 + 0.25 * u2, 0.1 + 0.3 * u3
    tot = cash_s + recv_s + inv_s
    scale = np.where(tot > 0.95, 0.95 / tot, 1.0)
    # cash falls with risk (a liquidity squeeze)
    cash = np.round(current_assets * cash_s * scale * np.exp(-0.15 * np.clip(corp.f[rows], -2, 2)), 2)
    cash = np.minimum(cash, np.round(current_assets * cash_s * scale * 1.3, 2))
    receivables = np.round(current_assets * recv_s * scale, 2)
    inventory = np.round(current_assets * inv_s * scale, 2)
    fixed = np.round((assets - current_assets) * (0.5 + 0.35 * uniform(seed, "fs_fixed", key)), 2)
    short_debt = np.round(liabilities * (0.2 + 0.3 * uniform(seed, "fs_std", key)), 2)
    current_liab = np.round(
        np.minimum(short_debt + liabilities * (0.15 + 0.3 * uniform(seed, "fs_cl", key)), liabilities), 2
    )
    long_debt = np.round((liabilities - current_liab) * (0.3 + 0.6 * uniform(seed, "fs_ltd", key)), 2)
    revenue = np.round(revenue_year * frac * season, 2)
    gm = np.clip(corp.gross_margin[rows] + 0.02 * normal(seed, "fs_gm", key) + (margin - corp.margin[rows]), 0.01, 0.9)
    cost = np.round(revenue * (1 - gm), 2)
    op_profit = np.round(revenue * margin, 2)
    interest = np.round((short_debt + long_debt) * (0.035 + 0.03 * uniform(seed, "fs_rate", key)) * frac, 2)
    pre_tax = op_profit - interest
    net = np.round(np.where(pre_tax > 0, pre_tax * 0.75, pre_tax), 2)
    ocf = np.round(net * (0.6 + 0.8 * uniform(seed, "fs_ocf", key)) + revenue * 0.03 * normal(seed, "fs_ocfn", key), 2)
    icf = np.round(-assets * (0.01 + 0.07 * uniform(seed, "fs_icf", key)) * frac, 2)
    fcf = np.round(-(ocf + icf) * (0.3 + 0.7 * uniform(seed, "fs_fcf", key)), 2)
    audited = np.where(
        ptype == "A",
        uniform(seed, "fs_audit", key) < np.where(np.isin(corp.size[rows], ["L", "M"]), 0.95, 0.45),
        False,
    )
    cust = corp.pos[rows]
    period_m = cal.month_of(period_end)
    yyyymm = (cal.year_of(period_end) * 100 + period_m % 12 + 1).astype(np.int64)
    order = np.lexsort((ptype, period_end, cust, received))
    cols = dict(
        cust=cust,
        yyyymm=yyyymm,
        report_period=period_end,
        period_type=ptype,
        audited=audited,
        received=received,
        cash=cash,
        receivables=receivables,
        inventory=inventory,
        current_assets=current_assets,
        fixed_assets=fixed,
        total_assets=assets,
        short_term_debt=short_debt,
        current_liabilities=current_liab,
        long_term_debt=long_debt,
        total_liabilities=liabilities,
        equity=equity,
        revenue=revenue,
        cost_of_sales=cost,
        operating_profit=op_profit,
        interest_expense=interest,
        net_profit=net,
        operating_cash_flow=ocf,
        investing_cash_flow=icf,
        financing_cash_flow=fcf,
    )
    return {k: v[order] for k, v in cols.items()}


def annual_revenue(seed: int, c: NS, corp: NS, year: int) -> np.ndarray:
    """Revenue of fiscal year ``year`` for every corporate (the customer master's 上年营业收入)."""
    rows = np.arange(len(corp.pos))
    log_rev, _, _ = _year_factors(seed, c, corp, rows, np.full(len(rows), year))
    return np.round(np.exp(log_rev), 2)
