"""Deposit accounts, daily balances, month-to-date averages and the transactions that explain them.

Month-end balance levels are closed-form (customer deposit level x lifecycle factor x account noise). Within a
month the balance is a bridge between the previous and this month-end level: it changes only on the
account's active days (hash of account and day), and on the last active day it lands exactly on the month-end
level. A day's transactions are built so that they sum to that day's balance change, so ``balance_after`` of
the last transaction of an account-day equals the end-of-day balance in the deposits snapshot.
"""

from __future__ import annotations

import numpy as np

from crm.synthetic import cal, ids, needs, params, vocab
from crm.synthetic.rand import choice_index, hash64, lookup, normal, poisson_from_uniform, uniform
from crm.synthetic.world import NEVER, NS, lifecycle_factor

SLOT_CUR, SLOT_FIX, SLOT_NTC, SLOT_AGR, SLOT_USD = 0, 1, 2, 3, 4
SLOT_PRODUCT = np.array(["CUR", "FIX", "NTC", "AGR", "CUR"], dtype=object)
SLOT_CURRENCY = np.array(["CNY", "CNY", "CNY", "CNY", "USD"], dtype=object)
DYNAMIC_SLOTS = (SLOT_CUR, SLOT_AGR, SLOT_USD)
FIX_TERMS = np.array([3, 6, 12, 24, 36])
FIX_TERM_ADJ = np.array([-0.4, -0.2, 0.0, 0.1, 0.35])
USD_CNY = 7.1


def build_accounts(seed: int, c: NS, ind: NS, corp: NS) -> NS:
    n = len(c.uid)
    k = c.uid
    is_corp = c.is_corp
    big = np.zeros(n, dtype=bool)
    big[corp.pos] = np.isin(corp.size, ["L", "M"])
    trade = np.zeros(n, dtype=bool)
    trade[corp.pos] = np.isin(corp.industry, ["C", "F"])
    has = np.zeros((n, 5), dtype=bool)
    has[:, SLOT_CUR] = True
    has[:, SLOT_FIX] = uniform(seed, "acct_fix", k) < np.where(is_corp, 0.25, 0.35)
    has[:, SLOT_NTC] = uniform(seed, "acct_ntc", k) < np.where(is_corp, 0.10, 0.05)
    has[:, SLOT_AGR] = is_corp & (uniform(seed, "acct_agr", k) < np.where(big, 0.5, 0.15))
    has[:, SLOT_USD] = is_corp & trade & (uniform(seed, "acct_usd", k) < 0.12)
    cust, slot = np.nonzero(has)
    uid = c.uid[cust] * 8 + slot
    t0 = c.onboard[cust]
    open_day = np.where(slot == SLOT_CUR, t0, t0 + 7 + (uniform(seed, "acct_open", uid) * 4 * 365).astype(np.int64))
    term = FIX_TERMS[choice_index(uniform(seed, "acct_term", uid), [0.15, 0.2, 0.35, 0.15, 0.15])]
    rollover = uniform(seed, "acct_roll", uid) < 0.7
    natural_close = np.full(len(uid), NEVER, dtype=np.int64)
    fix = slot == SLOT_FIX
    natural_close[fix & ~rollover] = cal.add_months(open_day[fix & ~rollover], term[fix & ~rollover])
    ntc = slot == SLOT_NTC
    ntc_close = uniform(seed, "acct_ntc_close", uid) < 0.6
    natural_close[ntc & ntc_close] = open_day[ntc & ntc_close] + (
        30 + uniform(seed, "acct_ntc_days", uid[ntc & ntc_close]) * 540
    ).astype(np.int64)
    churn_close = np.where(
        c.t_churn[cust] < NEVER,
        c.t_churn[cust] + (uniform(seed, "acct_churn", uid) * 10).astype(np.int64),
        NEVER,
    )
    close_day = np.minimum(natural_close, churn_close)
    keep = open_day < close_day
    cust, slot, uid, open_day, close_day, term, rollover = (
        cust[keep],
        slot[keep],
        uid[keep],
        open_day[keep],
        close_day[keep],
        term[keep],
        rollover[keep],
    )
    level = c.dep_level[cust]
    principal = np.where(
        slot == SLOT_FIX,
        np.maximum(np.round(level * (0.3 + 1.2 * uniform(seed, "acct_pr", uid)), -3), 1000.0),
        np.maximum(np.round(level * (0.2 + 0.8 * uniform(seed, "acct_pr", uid)), -3), 1000.0),
    )
    share = np.select([slot == SLOT_AGR, slot == SLOT_USD], [1.5, 0.3 / USD_CNY], 1.0)
    branch_num = c.branch_id[cust].astype(np.int64)
    card = np.full(len(uid), None, dtype=object)
    ic = (slot == SLOT_CUR) & ~c.is_corp[cust]
    card[ic] = ids.card_numbers(
        uniform(seed, "acct_bin", uid[ic]),
        hash64(seed, "acct_card", uid[ic]).astype(np.int64) & 0x7FFFFFFFFFFF,
        19,
    )
    acc = NS(
        uid=uid,
        cust=cust,
        slot=slot,
        open=open_day,
        close=close_day,
        term=term,
        rollover=rollover,
        principal=principal,
        share=share,
        branch_num=branch_num,
        card=card,
        product=SLOT_PRODUCT[slot],
        currency=SLOT_CURRENCY[slot],
        dynamic=np.isin(slot, DYNAMIC_SLOTS),
    )
    acc.rate_spread = rate_spreads(seed, c, corp, acc)
    # each individual's debit card (repayment account of their loans)
    c.card = np.full(len(c.uid), None, dtype=object)
    c.card[cust[ic]] = card[ic]
    c.has_card = np.zeros(len(c.uid), dtype=bool)
    c.has_card[cust[ic]] = True
    # each customer's current account (where fees are debited), -1 when none
    c.cur_acc = np.full(len(c.uid), -1, dtype=np.int64)
    cur = np.flatnonzero(slot == SLOT_CUR)
    c.cur_acc[cust[cur]] = cur
    return acc


def rate_spreads(seed: int, c: NS, corp: NS, acc: NS) -> np.ndarray:
    """Each account's own spread over the board rate (percentage points, fixed for the account's life):
    a negotiated premium or a discount (``params.DEPOSIT_RATE_PREMIUM``, ``DEPOSIT_RATE_DISCOUNT``)."""
    n = len(c.uid)
    size = np.full(n, "", dtype=object)
    size[corp.pos] = corp.size
    cust = acc.cust
    is_corp = c.is_corp[cust]
    csize = size[cust]
    large = np.where(is_corp, params.LARGE_DEPOSIT["C"], params.LARGE_DEPOSIT["I"])
    amount = np.where(acc.slot == SLOT_FIX, acc.principal, acc.share * c.dep_level[cust])
    big_corp = np.isin(csize, ["L", "M"])
    product = acc.product
    negotiated = np.select(
        [acc.slot == SLOT_USD, product == "FIX", product == "NTC", product == "AGR"],
        [False, (amount >= large) | big_corp, (amount >= large) | big_corp, True],
        big_corp,
    )
    u = uniform(seed, "dep_rate_spread", acc.uid)
    lo_p, hi_p = (lookup(product, {k: v[i] for k, v in params.DEPOSIT_RATE_PREMIUM.items()}) for i in (0, 1))
    lo_d, hi_d = (lookup(product, {k: v[i] for k, v in params.DEPOSIT_RATE_DISCOUNT.items()}) for i in (0, 1))
    size_f = np.where(is_corp, lookup(csize, params.DEPOSIT_PREMIUM_SIZE, default=0.5), 1.0)
    premium = (lo_p + (hi_p - lo_p) * u) * size_f
    discount = -(lo_d + (hi_d - lo_d) * u)
    return np.round(np.where(negotiated, premium, discount), 4)


def board_rate(product: np.ndarray, days: np.ndarray) -> np.ndarray:
    """The board rate of each product on each day (``params.DEPOSIT_BOARD_RATES``)."""
    years = cal.year_of(days)
    limits = np.array([y for y, _ in params.DEPOSIT_BOARD_RATES])
    i = np.minimum(np.searchsorted(limits, years, side="left"), len(limits) - 1)
    out = np.zeros(len(product))
    for j, (_, table) in enumerate(params.DEPOSIT_BOARD_RATES):  # a loop over the years of the table
        m = i == j
        if m.any():
            out[m] = lookup(product[m], table)
    return out


def fix_term_start(acc: NS, rows: np.ndarray, t: int) -> np.ndarray:
    """The day the current term of each time deposit began as of ``t`` (opening or the last roll-over)."""
    o = acc.open[rows]
    term = acc.term[rows]
    elapsed = np.maximum(cal.month_of(t) - cal.month_of(o), 0)
    k = elapsed // term + 1
    mat = cal.add_months(o, k * term)
    start = np.where(mat <= t, mat, cal.add_months(o, (k - 1) * term))
    return np.where(acc.rollover[rows], np.minimum(start, t), o)


def account_rate(acc: NS, rows: np.ndarray, t: int) -> np.ndarray:
    """The executed rate (% a year) of accounts ``rows`` on day ``t``: the board rate of the pricing day (a
    time deposit's current term start, else ``t``) + the term adjustment + the account's own spread."""
    product = acc.product[rows]
    fix = acc.slot[rows] == SLOT_FIX
    pricing_day = np.where(fix, fix_term_start(acc, rows, t), t)
    base = board_rate(product, pricing_day)
    term_adj = FIX_TERM_ADJ[np.searchsorted(FIX_TERMS, acc.term[rows])]
    rate = base + np.where(fix, term_adj, 0.0) + acc.rate_spread[rows]
    rate = np.where(acc.currency[rows] == "USD", params.USD_DEPOSIT_RATE, rate)
    return np.round(np.maximum(rate, params.DEPOSIT_RATE_FLOOR), 4)


def account_ids(acc: NS, rows: np.ndarray) -> np.ndarray:
    """Account numbers, formatted on demand: 60 + sub-branch + account number."""
    return ids.zero_pad("60", acc.branch_num[rows] * 10**12 + acc.uid[rows], 16)


def fix_maturity(acc: NS, rows: np.ndarray, t: int) -> np.ndarray:
    """Maturity date of fixed deposits as of ``t``: the next one for rolled-over deposits."""
    o = acc.open[rows]
    term = acc.term[rows]
    elapsed = np.maximum(cal.month_of(t) - cal.month_of(o), 0)
    k = elapsed // term + 1
    mat = cal.add_months(o, k * term)
    mat = np.where(mat <= t, cal.add_months(o, (k + 1) * term), mat)
    first = cal.add_months(o, term)
    return np.where(acc.rollover[rows], mat, first)


def month_end_level(seed: int, c: NS, acc: NS, rows: np.ndarray, m: int) -> np.ndarray:
    """Balance at the end of month ``m`` (0 when not open at that day)."""
    me = int(cal.month_end(m))
    cust = acc.cust[rows]
    days = np.full(len(rows), me)
    dorm_m = cal.month_of(np.minimum(c.t_dorm[cust], 10**5 * 30))
    noise_m = np.minimum(m, dorm_m)  # dormant balances stop moving
    z = normal(seed, "dep_month", acc.uid[rows] * 4096 + (noise_m - 540))
    dyn = acc.share[rows] * c.dep_level[cust] * lifecycle_factor(c, cust, days) * np.exp(0.25 * z - 0.03)
    # needs (issue 19): the seasonal dip and the growth spurt, and what is left of a large inflow
    dyn = dyn * needs.balance_factor(seed, c, cust, m)
    dyn = dyn + np.where(acc.slot[rows] == SLOT_CUR, needs.inflow_bump(c, cust, m), 0.0)
    val = np.where(acc.dynamic[rows], dyn, acc.principal[rows])
    is_open = (acc.open[rows] <= me) & (acc.close[rows] > me)
    return np.where(is_open, np.round(val, 2), 0.0)


def activity_prob(c: NS, acc: NS, rows: np.ndarray, days: np.ndarray) -> np.ndarray:
    cust = acc.cust[rows]
    p = c.activity[cust] * np.where(acc.slot[rows] == SLOT_CUR, 1.0, 0.35)
    wd = cal.weekday(days)
    p = p * np.where(wd >= 5, np.where(c.is_corp[cust], 0.15, 0.8), 1.0)
    declining = days >= c.t_dec[cust]
    p = np.where(declining, p * 0.5, p)
    p = np.where(days >= c.t_dorm[cust], 0.0, p)
    return np.where(acc.dynamic[rows], p, 0.0)


class MonthBridge:
    """Daily end-of-day balances of all accounts open in month ``m`` (rows x days)."""

    def __init__(self, seed: int, c: NS, acc: NS, m: int):
        self.m = m
        ms, me = int(cal.month_start(m)), int(cal.month_end(m))
        D = me - ms + 1
        self.ms, self.D = ms, D
        rows = np.flatnonzero((acc.open <= me) & (acc.close >= ms))
        self.rows = rows
        n = len(rows)
        v0 = month_end_level(seed, c, acc, rows, m - 1)
        v1 = month_end_level(seed, c, acc, rows, m)
        self.v0 = v0
        # needs (issue 19): salaries and large inflows (forced credits, a day profile on top of the bridge),
        # seasonal peaks (turnover, payments)
        x = needs.month_extras(seed, c, acc, rows, m, D)
        self.x = x
        v0b, v1b = v0 - x.bump0, v1 - x.bump1
        self.base_scale = np.maximum(np.maximum(v0b, v1b), 200.0)
        o = acc.open[rows] - ms  # day index of opening (may be < 0)
        cl = acc.close[rows] - ms  # day index of closing (may be >= D)
        active = np.zeros((n, D), dtype=bool)
        uid = acc.uid[rows]
        for d in range(D):  # loop over the days of the month
            day = ms + d
            p = activity_prob(c, acc, rows, np.full(n, day))
            active[:, d] = uniform(seed, "dep_act", uid * 65536 + (day - 18000)) < p
        interest_day = cal.month_number(cal.date(ms)) % 12 + 1 in params.INTEREST_MONTHS
        if interest_day:  # interest is credited to every live current account on the 21st
            d21 = 20
            live = acc.dynamic[rows] & (v0 > 0) & (c.t_dorm[acc.cust[rows]] > ms + d21)
            active[live, d21] = True
        self.interest_day = 20 if interest_day else -1
        for fd in (x.pay_d, x.ev_d):
            r_f = np.flatnonzero(fd >= 0)
            active[r_f, fd[r_f]] = True
        dd = np.arange(D)
        inside = (dd[None, :] >= o[:, None]) & (dd[None, :] <= cl[:, None])
        active &= inside
        r_open = np.flatnonzero((o >= 0) & (o < D))
        active[r_open, o[r_open]] = True
        r_close = np.flatnonzero((cl >= 0) & (cl < D))
        active[r_close, cl[r_close]] = True
        # the month-end level must be reached: force one active day when it moves and nothing happened
        none = ~active.any(axis=1) & (np.abs(v1 - v0) >= 0.005)
        r_none = np.flatnonzero(none)
        if len(r_none):
            last_day = np.minimum(cl[r_none], D - 1)
            active[r_none, last_day] = True
        # last active day of the month lands on v1 (or 0 on the closing day)
        last = D - 1 - np.argmax(active[:, ::-1], axis=1)
        ar, ad = np.nonzero(active)
        scale = np.maximum(np.maximum(v0b, v1b), 100.0)[ar]
        z = normal(seed, "dep_day", uid[ar] * 65536 + (ms + ad - 18000))
        frac = (ad + 1) / D
        val = v0b[ar] + (v1b[ar] - v0b[ar]) * frac + 0.15 * scale * z
        xa = x.xpos[ar]
        if len(x.xrows):
            val = val + np.where(xa >= 0, x.X[np.maximum(xa, 0), ad], 0.0)
        val = np.maximum(np.round(val, 2), 0.0)
        is_last = ad == last[ar]
        val = np.where(acc.dynamic[rows][ar], val, acc.principal[rows][ar])
        val = np.where(is_last, v1[ar], val)
        val = np.where(ad == cl[ar], 0.0, val)
        vals = np.full((n, D), np.nan)
        vals[ar, ad] = val
        idx = np.where(active, dd[None, :].astype(np.int16), np.int16(-1))
        idx = np.maximum.accumulate(idx, axis=1)
        np.nan_to_num(vals, copy=False)
        B = np.where(idx >= 0, np.take_along_axis(vals, np.maximum(idx, 0).astype(np.intp), axis=1), v0[:, None])
        del vals, idx
        B = np.where(dd[None, :] < o[:, None], 0.0, B)
        self.B = B
        self.active = active

    def balance(self, d_index: int) -> np.ndarray:
        return self.B[:, d_index]

    def prev_balance(self, d_index: int) -> np.ndarray:
        return self.v0 if d_index == 0 else self.B[:, d_index - 1]

    def mtd_average(self, d_index: int) -> np.ndarray:
        return np.round(self.B[:, : d_index + 1].sum(axis=1) / (d_index + 1), 2)


CREDIT_TYPES_I = (("SAL", "TRF", "CSH", "TRF"), (0.35, 0.45, 0.1, 0.1))
DEBIT_TYPES_I = (("CON", "TRF", "CSH", "LRP", "FEE"), (0.5, 0.28, 0.1, 0.1, 0.02))
CREDIT_TYPES_C = (("PAY", "TRF", "CSH"), (0.62, 0.33, 0.05))
DEBIT_TYPES_C = (("PAY", "TRF", "SAL", "FEE", "LRP", "CSH"), (0.42, 0.28, 0.1, 0.03, 0.07, 0.1))
REMARKS = {
    "SAL": ("工资", "代发工资", "绩效奖金", "工资{m}月"),
    "TRF": ("转账", "往来款", "生活费", "房租", "还款", "借款", "转账汇款"),
    "CSH": ("现金存入", "现金支取", "ATM取款", "柜面取现"),
    "CON": ("消费", "快捷支付", "网上购物", "扫码支付", "餐饮消费"),
    "LRP": ("贷款还款", "按揭还款", "归还贷款本息"),
    "INT": ("结息", "活期结息"),
    "FEE": ("短信服务费", "年费", "账户管理费", "跨行转账手续费"),
    "PAY": ("货款", "采购款", "服务费", "工程款", "运费", "材料款"),
}
CHANNELS = {
    "SAL": (("API", "NET"), (0.7, 0.3)),
    "TRF": (("MOB", "NET", "CNTR", "API"), (0.6, 0.2, 0.1, 0.1)),
    "CSH": (("CNTR", "ATM"), (0.4, 0.6)),
    "CON": (("POS", "MOB", "NET"), (0.35, 0.55, 0.1)),
    "LRP": (("CNTR", "MOB", "NET"), (0.2, 0.6, 0.2)),
    "INT": (("CNTR",), (1.0,)),
    "FEE": (("CNTR",), (1.0,)),
    "PAY": (("NET", "API", "CNTR"), (0.5, 0.4, 0.1)),
}


TXN_TYPES = ("SAL", "TRF", "CSH", "CON", "LRP", "INT", "FEE", "PAY")
TXN_CHANNELS = ("CNTR", "NET", "MOB", "ATM", "POS", "API")
TXN_TYPE_ARR = np.asarray(TXN_TYPES, dtype=object)
TXN_CHANNEL_ARR = np.asarray(TXN_CHANNELS, dtype=object)


def day_core(seed: int, c: NS, acc: NS, bridge: MonthBridge, t: int) -> NS:
    """The numbers of the transactions posted on day ``t`` (no text): one entry per transaction, in
    (account, time) order. ``cp`` identifies the counterparty account (-1: none; own accounts negative)."""
    d = t - bridge.ms
    rows_b = np.flatnonzero(bridge.active[:, d])
    rows = bridge.rows[rows_b]
    prev = bridge.prev_balance(d)[rows_b]
    now = bridge.balance(d)[rows_b]
    delta = np.round(now - prev, 2)
    uid = acc.uid[rows]
    key = uid * 65536 + (t - 18000)
    cust = acc.cust[rows]
    corp = c.is_corp[cust]
    lam = np.where(corp, 1.5, 0.5)
    k = 1 + np.minimum(poisson_from_uniform(uniform(seed, "txn_k", key), lam, 8), 5)
    # static accounts (fixed and notice deposits) move only on opening and closing: one transaction
    k = np.where(acc.dynamic[rows], k, 1)
    interest = np.zeros(len(rows), dtype=bool)
    if d == bridge.interest_day:  # the first transaction of the day is the quarterly interest credit
        interest = acc.dynamic[rows] & (prev > 0)
        k = np.where(interest, np.maximum(k, 2), k)
    # needs (issue 19): a salary or a large inflow is the first transaction of its day
    x = bridge.x
    salary = x.pay_d[rows_b] == d
    inflow = x.ev_d[rows_b] == d
    forced = salary | inflow
    forced_amt = np.where(salary, x.pay_amt[rows_b], x.ev_amt[rows_b])
    k = np.where(forced, np.maximum(k, 2), k)
    gi = np.repeat(np.arange(len(rows)), k)
    pos = np.arange(len(gi)) - np.repeat(np.cumsum(k) - k, k)
    last = pos == k[gi] - 1
    tkey = key[gi] * 8 + pos
    scale_r = np.maximum(np.maximum(prev, now), 200.0)
    # accounts with a salary or an inflow on top: the bridge's own level; seasonal peaks: more turnover
    scale_r = np.where(x.xpos[rows_b] >= 0, bridge.base_scale[rows_b], scale_r) * x.turn[rows_b]
    free_amt = np.round(scale_r[gi] * 0.08 * np.exp(0.9 * normal(seed, "txn_amt", tkey)), 2)
    free_amt = np.maximum(free_amt, 1.0)
    free_dir = np.where(uniform(seed, "txn_dir", tkey) < 0.5, 1.0, -1.0)
    is_int = interest[gi] & (pos == 0)
    free_amt = np.where(is_int, np.maximum(np.round(prev[gi] * params.QUARTER_INTEREST, 2), 0.01), free_amt)
    free_dir = np.where(is_int, 1.0, free_dir)
    is_forced = forced[gi] & (pos == 0)
    free_amt = np.where(is_forced, forced_amt[gi], free_amt)
    free_dir = np.where(is_forced, 1.0, free_dir)
    signed = np.where(last, 0.0, free_amt * free_dir)
    free_sum = np.bincount(gi, weights=signed, minlength=len(rows))
    # the last transaction of the account-day makes the day's net movement exact
    signed = np.where(last, np.round(delta - free_sum, 2)[gi], signed)
    amount = np.round(np.abs(signed), 2)
    keep = amount >= 0.01
    gi, pos, tkey, signed, amount, is_int, is_forced = (
        gi[keep],
        pos[keep],
        tkey[keep],
        signed[keep],
        amount[keep],
        is_int[keep],
        is_forced[keep],
    )
    credit = signed > 0
    # credits first, then debits: the running balance never goes below the end-of-day balance (>= 0)
    order = np.lexsort((pos, ~credit, gi))
    gi, pos, tkey, signed, amount, credit, is_int, is_forced = (
        gi[order],
        pos[order],
        tkey[order],
        signed[order],
        amount[order],
        credit[order],
        is_int[order],
        is_forced[order],
    )
    cum = np.cumsum(signed)
    grp_first = np.r_[True, gi[1:] != gi[:-1]] if len(gi) else np.zeros(0, dtype=bool)
    first_idx = np.maximum.accumulate(np.where(grp_first, np.arange(len(gi)), 0)) if len(gi) else np.zeros(0, np.int64)
    offset = (cum - signed)[first_idx] if len(gi) else cum
    balance_after = np.round(prev[gi] + (cum - offset), 2)
    # times: sorted within the account-day
    is_corp = corp[gi]
    hour_u = uniform(seed, "txn_time", tkey)
    secs = np.where(is_corp, 8.5 * 3600 + hour_u * 9 * 3600, 7 * 3600 + hour_u**0.9 * 16 * 3600).astype(np.int64)
    secs = secs[np.lexsort((secs, gi))]
    acc_rows = rows[gi]
    cust_rows = acc.cust[acc_rows]
    dyn = acc.dynamic[acc_rows]
    ut = uniform(seed, "txn_type", tkey)
    code = {v: i for i, v in enumerate(TXN_TYPES)}
    ti = np.zeros(len(gi), dtype=np.int64)  # type codes (index into TXN_TYPES)
    for is_c in (False, True):
        for cr in (False, True):
            m = (is_corp == is_c) & (credit == cr)
            tt, w = (CREDIT_TYPES_C if cr else DEBIT_TYPES_C) if is_c else (CREDIT_TYPES_I if cr else DEBIT_TYPES_I)
            ti[m] = np.asarray([code[x] for x in tt])[choice_index(ut[m], w)]
    # salary comes early in the month; static deposits move by transfer
    late = cal.day_of_month(np.array([t]))[0] > 16
    ti = np.where((ti == code["SAL"]) & ~is_corp & late, code["TRF"], ti)
    ti = np.where(~dyn, code["TRF"], ti)
    ti = np.where(is_int, code["INT"], ti)
    # needs (issue 19): an individual's salary credits are their monthly salary only (needs.month_extras), the
    # forced salary and inflow credits, trade payments in a seasonal peak
    ti = np.where((ti == code["SAL"]) & ~is_corp, code["TRF"], ti)
    ti = np.where(is_forced, np.where(salary[gi], code["SAL"], code["TRF"]), ti)
    peak = bridge.x.peak[rows_b][gi] & ~credit & ~is_int & ~is_forced
    ti = np.where(peak & (uniform(seed, "txn_season", tkey) < params.SEASONAL_PAY_SHARE), code["PAY"], ti)
    ttype = TXN_TYPE_ARR[ti]
    uc = uniform(seed, "txn_channel", tkey)
    chan_code = {v: i for i, v in enumerate(TXN_CHANNELS)}
    ci = np.zeros(len(gi), dtype=np.int64)  # channel codes (index into TXN_CHANNELS)
    for tt in CHANNELS:  # a loop over transaction types
        m = ti == code[tt]
        ch, w = CHANNELS[tt]
        ci[m] = np.asarray([chan_code[x] for x in ch])[choice_index(uc[m], w)]
    ci = np.where(~is_corp & (ci == chan_code["API"]), chan_code["NET"], ci)
    channel = TXN_CHANNEL_ARR[ci]
    # counterparties: a regular one of the customer's pool, or a one-off
    needs_cp = np.isin(ti, [code["TRF"], code["PAY"], code["SAL"]])
    seg = np.where(is_corp, "C", "I")
    sal = ti == code["SAL"]
    sal_c = sal & is_corp
    pool = np.where(sal_c, params.CP_POOL["SAL_C"], np.where(is_corp, params.CP_POOL["C"], params.CP_POOL["I"]))
    recurring = uniform(seed, "txn_cp_rec", tkey) < lookup(seg, params.CP_RECURRING)
    recurring |= sal & ~is_corp  # an employee's salary comes from the employer
    idx = (pool * uniform(seed, "txn_cp_idx", tkey) ** 2).astype(np.int64)
    idx = np.where(sal & ~is_corp, 0, idx + np.where(sal_c, 64, 0))
    # needs (issue 19): concentrated corporates deal mostly with their first two counterparties
    cdir = c.conc_dir[cust_rows]
    conc = (cdir > 0) & np.isin(ti, [code["TRF"], code["PAY"]]) & ((cdir == 3) | ((cdir == 2) == credit))
    u_conc = uniform(seed, "txn_conc", tkey)
    conc &= u_conc < c.conc_top[cust_rows]
    recurring |= conc
    first = u_conc < c.conc_top[cust_rows] * params.CONCENTRATION_FIRST
    idx = np.where(conc, np.where(first, 0, 1), idx)
    one_off = hash64(seed, "txn_cp", tkey).astype(np.int64) & 0x7FFFFFFFFFFF
    regular = hash64(seed, "txn_cp_pool", c.uid[cust_rows] * 256 + idx).astype(np.int64) & 0x7FFFFFFFFFFF
    cp_key = np.where(recurring, regular, one_off)
    own = ~dyn  # own-account transfers for static deposits
    cp = np.where(own, np.where(c.has_card[cust_rows], -2 - cust_rows, -1), np.where(needs_cp, cp_key, -1))
    return NS(
        acc_rows=acc_rows,
        cust_rows=cust_rows,
        pos=pos,
        tkey=tkey,
        credit=credit,
        amount=amount,
        balance_after=balance_after,
        secs=secs,
        ttype=ttype,
        channel=channel,
        ti=ti,
        ci=ci,
        is_corp=is_corp,
        needs_cp=needs_cp,
        cp_key=cp_key,
        own=own,
        cp=cp,
    )


def day_transactions(seed: int, c: NS, acc: NS, bridge: MonthBridge, t: int, names: NS) -> dict:
    """Transactions posted on day ``t``: columns as arrays, in (account, time) order."""
    x = day_core(seed, c, acc, bridge, t)
    ttype, tkey, cust_rows, acc_rows, is_corp = x.ttype, x.tkey, x.cust_rows, x.acc_rows, x.is_corp
    remark = np.empty(len(ttype), dtype=object)
    ur = uniform(seed, "txn_remark", tkey)
    for tt in CHANNELS:
        m = ttype == tt
        rm = np.asarray(REMARKS[tt], dtype=object)
        remark[m] = rm[(ur[m] * len(rm)).astype(np.int64)]
    month_txt = str(int(cal.month_of(t)) % 12 + 1)
    remark = np.where(remark == "工资{m}月", "工资" + month_txt + "月", remark).astype(object)
    needs_cp, cp_key = x.needs_cp, x.cp_key
    cp_is_company = np.where(
        ttype == "PAY", True, np.where(ttype == "SAL", ~is_corp, uniform(seed, "txn_cpc", cp_key) < 0.2)
    )
    pn = names.person[cp_key % len(names.person)]
    cn = names.company[cp_key % len(names.company)]
    cp_name = np.where(needs_cp, np.where(cp_is_company, cn, pn), None)
    cp_name = np.where(ttype == "CON", names.merchant[cp_key % len(names.merchant)], cp_name)
    cp_acct = np.where(
        needs_cp, ids.card_numbers(uniform(seed, "txn_cp_bin", cp_key), cp_key, 19, ids.OTHER_BINS), None
    )
    cp_name = np.where(x.own, names.holder[cust_rows], cp_name)
    cp_acct = np.where(x.own, c.card[cust_rows], cp_acct)
    # a few remarks name the counterparty (free text with personal data)
    pii = needs_cp & ~cp_is_company & (uniform(seed, "txn_pii", tkey) < 0.03)
    remark = np.where(pii, "转账给" + np.where(pii, pn, ""), remark)
    txn_id = cal.date(t).strftime("%Y%m%d") + ids.zero_pad("", acc.uid[acc_rows] * 1000 + x.pos, 15)
    return dict(
        txn_id=txn_id,
        account_id=account_ids(acc, acc_rows),
        customer_id=c.cid[cust_rows],
        txn_time=cal.seconds_to_datetime64(t * 86400 + x.secs),
        direction=np.where(x.credit, "C", "D").astype(object),
        amount=x.amount,
        balance_after=x.balance_after,
        channel=x.channel,
        txn_type=ttype.astype(object),
        counterparty_name=cp_name,
        counterparty_account=cp_acct,
        remark=remark,
    )


def month_aggregates(seed: int, c: NS, acc: NS, bridge: MonthBridge) -> NS:
    """The month's transactions of every customer per (type, channel, direction): count, amount, distinct
    counterparty accounts and the amount exchanged with the largest one (NaN when none). Aggregates the daily
    model day by day, so it equals the sum of the month's daily transactions exactly."""
    parts = []
    for d in range(bridge.D):  # a loop over the days of the month
        if not bridge.active[:, d].any():
            continue
        x = day_core(seed, c, acc, bridge, bridge.ms + d)
        if len(x.amount) == 0:
            continue
        g = ((x.cust_rows * 8 + x.ti) * 8 + x.ci) * 2 + x.credit.astype(np.int64)
        parts.append((g, np.round(x.amount * 100).astype(np.int64), x.cp))
    if not parts:
        z = np.zeros(0, dtype=np.int64)
        return NS(cust=z, ttype=z, channel=z, credit=z.astype(bool), count=z, cents=z, cp_count=z, top_cents=z)
    g = np.concatenate([p[0] for p in parts])
    cents = np.concatenate([p[1] for p in parts])
    cp = np.concatenate([p[2] for p in parts])
    keys, inv = np.unique(g, return_inverse=True)
    count = np.bincount(inv, minlength=len(keys))
    total = np.bincount(inv, weights=cents, minlength=len(keys)).round().astype(np.int64)
    has = cp != -1
    pair_g, pair_cp, pair_c = inv[has], cp[has], cents[has]
    cp_count = np.zeros(len(keys), dtype=np.int64)
    top = np.full(len(keys), -1, dtype=np.int64)
    if len(pair_g):
        order = np.lexsort((pair_cp, pair_g))
        pg, pc, pa = pair_g[order], pair_cp[order], pair_c[order]
        new = np.r_[True, (pg[1:] != pg[:-1]) | (pc[1:] != pc[:-1])]
        pair_id = np.cumsum(new) - 1
        psum = np.bincount(pair_id, weights=pa).round().astype(np.int64)
        pair_group = pg[new]
        cp_count = np.bincount(pair_group, minlength=len(keys))
        np.maximum.at(top, pair_group, psum)
    credit = (keys % 2).astype(bool)
    ci = (keys // 2) % 8
    ti = (keys // 16) % 8
    cust = keys // 128
    return NS(
        cust=cust, ttype=ti, channel=ci, credit=credit, count=count, cents=total, cp_count=cp_count, top_cents=top
    )


def counterparty_vocab(seed: int, c: NS, ind: NS, corp: NS, n: int = 4096) -> NS:
    """Names used for transaction counterparties (people and companies that are not necessarily customers)."""
    k = np.arange(n) + 10**9
    male = uniform(seed, "cp_male", k) < 0.5
    person, _ = vocab.person_names(
        uniform(seed, "cp_sn", k), uniform(seed, "cp_g1", k), uniform(seed, "cp_g2", k), male
    )
    from crm.synthetic.profiles import company_names

    prefs = np.asarray([p for p, _ in vocab.BRANCH_CITIES], dtype=np.int64)[
        (uniform(seed, "cp_city", k) * 20).astype(int)
    ]
    ind_codes = vocab.INDUSTRY_CODES[choice_index(uniform(seed, "cp_ind", k), vocab.INDUSTRY_WEIGHTS)]
    company = company_names(seed, "cp_co", k, prefs, ind_codes)
    holder = np.empty(len(c.uid), dtype=object)
    holder[ind.pos] = ind.name
    holder[corp.pos] = corp.name
    return NS(person=person, company=company, merchant=vocab.MERCHANTS, holder=holder)
