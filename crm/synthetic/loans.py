"""Loan lines, loans and their month-by-month delinquency (roll-rate Markov chain), and the state of every
loan on any date: balance, instalments in arrears, overdue days and amounts, five-category class, status.

A line is a product a customer uses; short-term products renew (a new loan, new ids) at maturity while the
customer is in good standing. The state ``s`` of a loan after its due date in month ``m`` is the number of
instalments in arrears (after maturity: months since the oldest unpaid instalment fell due, plus one).
"""

from __future__ import annotations

import numpy as np

from crm.synthetic import cal, ids, params
from crm.synthetic.rand import choice_index, hash64, normal, sigmoid, uniform
from crm.synthetic.world import NS

PRODUCT_CODES = tuple(params.PRODUCTS)
METHOD_CODES = ("EPI", "EPP", "IOB", "BUL")
KIND_ALIVE, KIND_SETTLED, KIND_WRITTEN_OFF, KIND_CANCELLED = 0, 1, 2, 3
_U32 = 1.0 / 4294967296.0
_U16 = 1.0 / 65536.0


def lpr(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = np.array([cal.day(d) for d, _, _ in params.LPR])
    one = np.array([a for _, a, _ in params.LPR])
    five = np.array([b for _, _, b in params.LPR])
    i = np.searchsorted(starts, days, side="right") - 1
    i = np.clip(i, 0, len(starts) - 1)
    return one[i], five[i]


def build_loans(seed: int, c: NS, ind: NS, corp: NS, end_day: int) -> NS:
    n = len(c.uid)
    prods = PRODUCT_CODES
    want = np.zeros((n, len(prods)), dtype=bool)
    age_onb = np.zeros(n)
    age_onb[ind.pos] = (c.onboard[ind.pos] - ind.birth) / 365.25
    for j, p in enumerate(prods):  # loop over 7 products
        u = uniform(seed, "line_" + p, c.uid)
        prob = np.zeros(n)
        if p in params.LINE_PROBABILITY_INDIVIDUAL:
            pi = np.full(len(ind.pos), params.LINE_PROBABILITY_INDIVIDUAL[p])
            if p == "RHL":
                pi = np.where(age_onb[ind.pos] < 55, pi, 0.02)
            if p == "RBL":
                pi = np.where(ind.self_employed, params.LINE_PROBABILITY_SELF_EMPLOYED_RBL, pi)
            prob[ind.pos] = pi
        else:
            pc = np.full(len(corp.pos), params.LINE_PROBABILITY_CORPORATE[p])
            big = np.isin(corp.size, ["L", "M"])
            if p == "CFA":
                pc = np.where(big, 0.45, pc)
            if p == "CTF":
                pc = np.where(np.isin(corp.industry, ["C", "F", "G"]), 0.3, 0.05)
            prob[corp.pos] = pc
        want[:, j] = u < prob
    want &= np.cumsum(want, axis=1) <= 3
    cust, prod = np.nonzero(want)  # row-major: by customer, then product order
    line_no = np.cumsum(np.ones(len(cust), dtype=np.int64)) - 1
    first_of_cust = np.r_[True, cust[1:] != cust[:-1]] if len(cust) else np.zeros(0, dtype=bool)
    starts_idx = np.maximum.accumulate(np.where(first_of_cust, np.arange(len(cust)), 0)) if len(cust) else line_no
    line_no = line_no - starts_idx
    line_uid = c.uid[cust] * 4 + line_no
    nl = len(cust)
    spec = [params.PRODUCTS[p] for p in prods]
    t0 = c.onboard[cust]
    lag_first = np.minimum(-np.log(1 - uniform(seed, "line_lag0", line_uid)) * 30, 180)
    lag_other = (0.1 + 6 * uniform(seed, "line_lag", line_uid)) * 365.25
    first_start = t0 + np.where(line_no == 0, lag_first, lag_other).astype(np.int64)
    term = np.zeros(nl, dtype=np.int64)
    gap = np.zeros(nl, dtype=np.int64)
    renew = np.zeros(nl)
    method = np.empty(nl, dtype=object)
    guarantee = np.empty(nl, dtype=object)
    spread = np.zeros(nl)
    mult = np.zeros(nl)
    rate_fix = np.zeros(nl, dtype=bool)
    for j, sp in enumerate(spec):  # loop over products
        m = prod == j
        k = line_uid[m]
        terms, tw = sp["terms"]
        term[m] = np.asarray(terms)[choice_index(uniform(seed, "line_term", k), tw)]
        gap[m] = (uniform(seed, "line_gap", k) * (sp["gap"] + 1)).astype(np.int64)
        renew[m] = sp["renew"]
        mc, mw = sp["methods"]
        method[m] = np.asarray(mc, dtype=object)[choice_index(uniform(seed, "line_method", k), mw)]
        gc, gw = sp["guarantees"]
        guarantee[m] = np.asarray(gc, dtype=object)[choice_index(uniform(seed, "line_guar", k), gw)]
        lo, hi = sp["spread"]
        spread[m] = (
            lo + (hi - lo) * uniform(seed, "line_spread", k) + sp["risk_spread"] * np.clip(c.eta[cust[m]], -2, 3)
        )
        mlo, mhi = sp["mult"]
        mult[m] = mlo + (mhi - mlo) * uniform(seed, "line_mult", k)
        rate_fix[m] = uniform(seed, "line_fix", k) < sp["fix"]
    # chains of renewals: start_j = first + j * (term + gap) months, while renewing and before churn/horizon
    step = term + gap
    u = uniform(seed, "line_renew", line_uid)
    with np.errstate(divide="ignore"):
        k_geo = np.where(renew > 0, 1 + np.floor(np.log(1 - u) / np.log(np.maximum(renew, 1e-9))), 1)
    k_geo = np.minimum(k_geo, 60).astype(np.int64)
    cap = np.minimum(c.t_churn[cust], cal.day(params.LOAN_HORIZON))
    months_avail = cal.month_of(cap) - cal.month_of(first_start)
    k_cap = np.where(first_start <= cap, months_avail // step + 1, 0)
    k_n = np.minimum(k_geo, k_cap)
    li = np.repeat(np.arange(nl), k_n)
    grp_start = np.repeat(np.cumsum(k_n) - k_n, k_n)
    jj = np.arange(len(li)) - grp_start
    start = cal.add_months(first_start[li], jj * step[li])
    maturity = cal.add_months(start, term[li])
    keep = (maturity >= cal.month_start(cal.month_number(params.SIM_START))) & (start <= end_day)
    li, jj, start, maturity = li[keep], jj[keep], start[keep], maturity[keep]
    # predecessor (previous loan of the same line, if kept)
    same_line_prev = np.r_[False, li[1:] == li[:-1]] if len(li) else np.zeros(0, dtype=bool)
    pred = np.where(same_line_prev, np.arange(len(li)) - 1, -1)
    cust_row = cust[li]
    uid = line_uid[li] * 64 + np.minimum(jj, 63)
    prod_l = prod[li]
    pcode = np.asarray(prods, dtype=object)[prod_l]
    income_or_rev = np.zeros(len(li))
    ind_pos_of = np.full(n, -1)
    ind_pos_of[ind.pos] = np.arange(len(ind.pos))
    corp_pos_of = np.full(n, -1)
    corp_pos_of[corp.pos] = np.arange(len(corp.pos))
    is_corp = c.is_corp[cust_row]
    income_or_rev[~is_corp] = ind.income[ind_pos_of[cust_row[~is_corp]]]
    cp = corp_pos_of[cust_row[is_corp]]
    years = (start[is_corp] - cal.day(params.REFERENCE_DATE)) / 365.25
    income_or_rev[is_corp] = corp.revenue0[cp] * (1 + corp.growth[cp]) ** years
    amount = mult[li] * income_or_rev * (1 + 0.05 * np.minimum(jj, 10))
    lo = np.array([params.PRODUCTS[p]["bounds"][0] for p in prods])[prod_l]
    hi = np.array([params.PRODUCTS[p]["bounds"][1] for p in prods])[prod_l]
    unit = np.where(pcode == "RCL", 1000.0, 10000.0)
    amount = np.clip(np.round(amount / unit) * unit, lo, hi)
    l1, l5 = lpr(start)
    base = np.where(np.array([params.PRODUCTS[p]["lpr"] == "5Y" for p in prods])[prod_l], l5, l1)
    rate = np.round(np.clip(base + spread[li], 2.6, 24.0), 4)
    meth = method[li]
    is_bul = meth == "BUL"
    n_inst = np.where(is_bul, 1, term[li])
    fm = np.where(is_bul, cal.month_of(maturity), cal.month_of(start) + 1)
    dd = np.where(is_bul, cal.day_of_month(maturity), cal.day_of_month(start))
    eta_p = np.array([params.PRODUCTS[p]["eta"] for p in prods])[prod_l]
    eta = c.eta[cust_row] + eta_p + 0.3 * normal(seed, "loan_eta", uid)
    loans = NS(
        uid=uid,
        cust=cust_row,
        line=li,
        j=jj,
        pred=pred,
        product=pcode,
        prod_idx=prod_l,
        start=start,
        maturity=maturity,
        term=term[li],
        n_inst=n_inst,
        fm=fm,
        dd=dd,
        method=meth,
        is_bul=is_bul,
        guarantee=guarantee[li],
        amount=amount,
        rate=rate,
        rate_type=np.where(rate_fix[li], "FIX", "LPR"),
        eta=eta,
        misreport=uniform(seed, "loan_misreport", uid) < params.MISREPORT_RATE,
        conservative=(uniform(seed, "loan_conservative", uid) < params.CONSERVATIVE_RATE) & (eta > 1.0),
        prepay=np.array([params.PRODUCTS[p]["prepay"] for p in prods])[prod_l],
    )
    # line-level amount of the first loan and maturity of a non-renewing line (independent of the range kept)
    first_is_corp = c.is_corp[cust]
    base0 = np.zeros(nl)
    base0[~first_is_corp] = ind.income[ind_pos_of[cust[~first_is_corp]]]
    cp0 = corp_pos_of[cust[first_is_corp]]
    yrs0 = (first_start[first_is_corp] - cal.day(params.REFERENCE_DATE)) / 365.25
    base0[first_is_corp] = corp.revenue0[cp0] * (1 + corp.growth[cp0]) ** yrs0
    lo0 = np.array([params.PRODUCTS[p]["bounds"][0] for p in prods])[prod]
    hi0 = np.array([params.PRODUCTS[p]["bounds"][1] for p in prods])[prod]
    unit0 = np.where(np.asarray(prods, dtype=object)[prod] == "RCL", 1000.0, 10000.0)
    loans.line_amount0 = np.clip(np.round(mult * base0 / unit0) * unit0, lo0, hi0)
    loans.line_maturity0 = cal.add_months(first_start, term)
    loans.line_renews = renew > 0
    loans.line_uid = line_uid
    loans.line_cust = cust
    loans.line_prod = np.asarray(prods, dtype=object)[prod]
    loans.line_first = first_start
    loans.line_guarantee = guarantee
    # index customers -> their loans (loans sorted by customer already: lines are by customer)
    order = np.argsort(cust_row, kind="stable")
    loans.by_cust_order = order
    loans.by_cust_start = np.searchsorted(cust_row[order], np.arange(n), side="left")
    loans.by_cust_end = np.searchsorted(cust_row[order], np.arange(n), side="right")
    return loans


def loan_ids(loans: NS, rows: np.ndarray) -> np.ndarray:
    """借据号, formatted on demand from the loan number (never '9' as second character)."""
    return ids.zero_pad("L", loans.uid[rows], 14)


def contract_ids(loans: NS, rows: np.ndarray) -> np.ndarray:
    """合同号: HT + year of signing + loan number."""
    return ids.zero_pad("HT", cal.year_of(loans.start[rows]) * 10**14 + loans.uid[rows] % 10**14, 18)


# ============================================================================================ simulation


def _u_pair(seed: int, stream: str, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three uniforms from one hash: 32 bits, 16 bits, 16 bits."""
    h = hash64(seed, stream, keys)
    a = (h >> np.uint64(32)).astype(np.float64) * _U32
    b = ((h >> np.uint64(16)) & np.uint64(0xFFFF)).astype(np.float64) * _U16
    c = (h & np.uint64(0xFFFF)).astype(np.float64) * _U16
    return a, b, c


def simulate(seed: int, loans: NS, c: NS, end_month: int, store_from: int) -> None:
    """Run the roll-rate chain from SIM_START to ``end_month``; keep states from ``store_from``."""
    sim0 = cal.month_number(params.SIM_START)
    store_from = max(store_from, sim0)
    n = len(loans.uid)
    n_store = max(0, end_month - store_from + 1)
    S = np.zeros((n, n_store), dtype=np.int8)
    s = np.zeros(n, dtype=np.int64)
    kind = np.zeros(n, dtype=np.int8)
    end_m = np.full(n, 10**6, dtype=np.int64)
    restr_m = np.full(n, 10**6, dtype=np.int64)
    start_m = cal.month_of(loans.start)
    roll = np.array([0.0] + list(params.ROLL[1:]))
    cure = np.array([0.0] + list(params.CURE[1:]))
    t_dec_m = cal.month_of(c.t_dec[loans.cust])
    cust_uid = c.uid[loans.cust]
    has_pred = loans.pred >= 0
    for m in range(sim0, end_month + 1):  # loop over months
        act = np.flatnonzero((kind == KIND_ALIVE) & (loans.fm <= m) & (start_m <= m))
        if len(act):
            key = loans.uid[act] * 4096 + (m - sim0)
            u_l, u_pick, u_aux = _u_pair(seed, "pay", key)
            u_c, _, _ = _u_pair(seed, "pay_c", cust_uid[act] * 4096 + (m - sim0))
            u = np.where(u_pick < params.SHARED_SHOCK, u_c, u_l)
            eta = loans.eta[act] + params.DECLINE_RISK * (m >= t_dec_m[act])
            sp = s[act]
            idx = m - loans.fm[act] + 1
            n_inst = loans.n_inst[act]
            due_now = idx <= n_inst
            sc = np.minimum(sp, 12)
            p_roll = np.where(sp > 0, sigmoid(roll[sc] + params.ROLL_SLOPE * eta), sigmoid(params.MISS_INTERCEPT + eta))
            p_cure = np.where(sp > 0, (1 - p_roll) * sigmoid(cure[sc] - params.CURE_SLOPE * eta), 1 - p_roll)
            rolls = u < p_roll
            cures = (~rolls) & (u < p_roll + p_cure)
            stays = ~rolls & ~cures
            # after maturity nobody pays a single instalment: the arrears roll or cure
            rolls |= stays & ~due_now
            stays &= due_now
            new = np.where(rolls, sp + 1, np.where(cures, 0, sp))
            # restructuring of cures from 3+ months in arrears
            restr = cures & (sp >= 3) & (u_aux < params.RESTRUCTURE_RATE)
            restr_m[act[restr]] = np.minimum(restr_m[act[restr]], m)
            s[act] = new
            # endings
            wo = (new >= params.WRITE_OFF_FROM) & ((u_aux < params.WRITE_OFF_RATE) | (new >= params.WRITE_OFF_FORCE))
            settled = (new == 0) & (idx >= n_inst)
            prepaid = (new == 0) & (idx < n_inst) & (u_aux < loans.prepay[act]) & ~restr
            kind[act[wo]] = KIND_WRITTEN_OFF
            kind[act[settled | prepaid]] = KIND_SETTLED
            end_m[act[wo | settled | prepaid]] = m
        # renewals (after this month's payments): a loan whose predecessor is not settled (still in arrears, written off, cancelled) never starts
        begins = np.flatnonzero((start_m == m) & has_pred)
        if len(begins):
            p = loans.pred[begins]
            bad = kind[p] != KIND_SETTLED
            kind[begins[bad]] = KIND_CANCELLED
            end_m[begins[bad]] = m
        if m >= store_from:
            S[:, m - store_from] = np.minimum(s, 127)
    loans.S = S
    loans.store_from = store_from
    loans.kind = kind
    loans.end_m = end_m
    loans.restr_m = restr_m
    loans.prepaid = (kind == KIND_SETTLED) & (end_m - loans.fm + 1 < loans.n_inst)
    due_end = cal.on_day(np.minimum(end_m, 10**5), loans.dd)
    loans.end_day = np.where(kind == KIND_ALIVE, cal.NEVER, np.where(kind == KIND_CANCELLED, -1, due_end))
    loans.final_s = s


def state_in_month(loans: NS, rows: np.ndarray, m: int) -> np.ndarray:
    """Stored state after the due date of month ``m`` (0 before the loan's first due)."""
    col = m - loans.store_from
    if col < 0:
        return np.zeros(len(rows), dtype=np.int64)
    return loans.S[rows, col].astype(np.int64)


# ============================================================================================ schedule


def sched_balance(loans: NS, rows: np.ndarray, paid: np.ndarray) -> np.ndarray:
    """Outstanding principal after ``paid`` instalments."""
    P = loans.amount[rows]
    n = loans.n_inst[rows]
    r = loans.rate[rows] / 1200.0
    meth = loans.method[rows]
    paid = np.clip(paid, 0, n)
    with np.errstate(over="ignore", invalid="ignore"):
        g_n = (1 + r) ** n
        epi = P * (g_n - (1 + r) ** paid) / (g_n - 1)
    epp = P * (1 - paid / n)
    bullet = np.where(paid >= n, 0.0, P)
    out = np.where(meth == "EPI", epi, np.where(meth == "EPP", epp, bullet))
    return np.round(np.maximum(out, 0.0), 2)


def instalment(loans: NS, rows: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(principal, interest) of instalment ``j`` (1-based)."""
    before = sched_balance(loans, rows, j - 1)
    after = sched_balance(loans, rows, j)
    r = loans.rate[rows] / 1200.0
    months = np.where(loans.is_bul[rows], loans.term[rows], 1)
    return np.round(before - after, 2), np.round(before * r * months, 2)


def late_days(seed: int, loans: NS, rows: np.ndarray, m: int) -> np.ndarray:
    """Days an on-time-in-the-month payment was late (0 = paid on the due date); at most to month end."""
    u = uniform(seed, "late", loans.uid[rows] * 4096 + (m - cal.month_number(params.SIM_START)))
    p = params.LATE_GRACE_RATE * np.exp(0.5 * np.clip(loans.eta[rows], -3, 3))
    days = 1 + (u / np.maximum(p, 1e-9) * 7).astype(np.int64)
    due = cal.on_day(np.full(len(rows), m), loans.dd[rows])
    room = cal.month_end(m) - due
    return np.where(u < p, np.minimum(days, room), 0)


# ============================================================================================ state on a date


def five_class_rule(overdue_days: np.ndarray) -> np.ndarray:
    od = np.asarray(overdue_days)
    return np.select([od > 360, od > 270, od > 90, od > 0], [5, 4, 3, 2], 1)


def state_on(seed: int, loans: NS, t: int, rows: np.ndarray | None = None) -> NS:
    """Every loan visible in the snapshot of day ``t`` (started, not cancelled, not ended before the month)."""
    m = int(cal.month_of(t))
    if rows is None:
        ms = cal.month_start(m)
        rows = np.flatnonzero((loans.start <= t) & (loans.kind != KIND_CANCELLED) & (loans.end_day >= ms))
    due = cal.on_day(np.full(len(rows), m), loans.dd[rows])
    past_due = t >= due
    s_now = state_in_month(loans, rows, m)
    s_prev = state_in_month(loans, rows, m - 1)
    a = np.where(past_due, s_now, s_prev)
    fm = loans.fm[rows]
    n = loans.n_inst[rows]
    idx = np.where(past_due, m - fm + 1, m - fm)  # instalments fallen due by t
    # paid late within the month: in arrears by one from the due date to the payment date
    late = late_days(seed, loans, rows, m)
    in_grace = past_due & (s_now == 0) & (late > 0) & (t < due + late) & (idx >= 1) & (idx <= n)
    a = np.where(in_grace, s_prev + 1, a)
    paid = np.clip(idx - a, 0, n)
    balance = sched_balance(loans, rows, paid)
    due_bal = sched_balance(loans, rows, np.clip(idx, 0, n))
    overdue_principal = np.maximum(balance - due_bal, 0.0)
    oldest_month = fm + paid
    oldest_due = cal.on_day(oldest_month, loans.dd[rows])
    overdue_days = np.where(a > 0, np.maximum(t - oldest_due + 1, 1), 0)
    r = loans.rate[rows] / 1200.0
    overdue_interest = np.round(
        np.where(
            a > 0,
            balance * r * np.minimum(a, 36) * 1.0 + overdue_principal * 0.0005 * overdue_days * 0.5,
            0.0,
        ),
        2,
    )
    end_day = loans.end_day[rows]
    kind = loans.kind[rows]
    ended = (end_day <= t) & (kind != KIND_ALIVE)
    settled = ended & (kind == KIND_SETTLED)
    wo = ended & (kind == KIND_WRITTEN_OFF)
    balance = np.where(ended, 0.0, balance)
    overdue_principal = np.where(ended, 0.0, overdue_principal)
    overdue_interest = np.where(ended, 0.0, overdue_interest)
    # written off: overdue days frozen at the write-off date
    end_m = np.minimum(loans.end_m[rows], 10**5)
    paid_wo = np.clip(end_m - fm + 1 - loans.final_s[rows], 0, n)
    wo_days = np.where(wo, np.maximum(end_day - cal.on_day(fm + paid_wo, loans.dd[rows]) + 1, 1), 0)
    overdue_days = np.where(settled, 0, np.where(wo, wo_days, overdue_days))
    rule = five_class_rule(overdue_days)
    restructured = loans.restr_m[rows] <= m
    rule_adj = np.where(restructured & ~ended, np.maximum(rule, 2), rule)
    reported = np.where(loans.misreport[rows] & (overdue_days > 0) & ~ended, np.maximum(rule_adj - 1, 1), rule_adj)
    reported = np.where(loans.conservative[rows] & (overdue_days == 0) & ~ended, np.maximum(reported, 2), reported)
    reported = np.where(wo, 5, np.where(settled, 1, reported))
    status = np.where(wo, "W", np.where(settled, "S", np.where(overdue_days > 0, "O", "N"))).astype(object)
    return NS(
        rows=rows,
        arrears=np.where(ended, 0, a),
        balance=balance,
        overdue_days=overdue_days,
        overdue_principal=np.round(overdue_principal, 2),
        overdue_interest=overdue_interest,
        five_class=reported,
        rule_class=rule,
        restructured=restructured,
        status=status,
        ended=ended,
    )


def rows_alive_in_month(loans: NS, m: int) -> np.ndarray:
    """Loans alive at some point of month ``m`` (for the month-end performance snapshot)."""
    ms = cal.month_start(m)
    me = cal.month_end(m)
    return np.flatnonzero((loans.start <= me) & (loans.kind != KIND_CANCELLED) & (loans.end_day >= ms))


# ============================================================================================ repayments


def repayments_on(seed: int, loans: NS, t: int) -> dict:
    """Instalments that fell due on ``t`` (paid or not) and instalments paid on ``t`` after their due date."""
    m = int(cal.month_of(t))
    due_m = cal.on_day(np.full(len(loans.uid), m), loans.dd)
    cand = np.flatnonzero(
        (loans.fm <= m)
        & (loans.kind != KIND_CANCELLED)
        & (loans.start < t)
        & (due_m <= t)
        & (due_m >= t - 7)
        & ((loans.end_m >= m) | (loans.kind == KIND_ALIVE))
    )
    due = due_m[cand]
    s_prev = state_in_month(loans, cand, m - 1)
    s_now = state_in_month(loans, cand, m)
    late = late_days(seed, loans, cand, m)
    idx = m - loans.fm[cand] + 1
    n = loans.n_inst[cand]
    wo_now = (loans.kind[cand] == KIND_WRITTEN_OFF) & (loans.end_m[cand] == m)
    pays = (s_now == 0) & ~wo_now  # everything due is paid (on time or cured) this month
    pay_day = due + np.where(pays, late, 0)
    stay = (s_prev >= 1) & (s_now == s_prev) & (idx <= n) & ~wo_now
    prepaid = (loans.kind[cand] == KIND_SETTLED) & (loans.end_m[cand] == m) & (idx < n)
    recs = []
    # (1) the instalment due today
    r1 = (due == t) & (idx <= n)
    paid1 = r1 & pays & (late == 0)
    recs.append(
        dict(
            row=cand[r1],
            period=idx[r1],
            kind=np.zeros(r1.sum(), np.int64),
            paid=paid1[r1],
            due=due[r1],
            prepay=prepaid[r1] & paid1[r1],
        )
    )
    # (2) today's instalment paid late within the month
    r2 = pays & (late > 0) & (pay_day == t) & (idx <= n)
    recs.append(
        dict(
            row=cand[r2],
            period=idx[r2],
            kind=np.ones(r2.sum(), np.int64),
            paid=np.ones(r2.sum(), bool),
            due=due[r2],
            prepay=np.zeros(r2.sum(), bool),
        )
    )
    # (3) arrears paid today: all of them on a cure, the oldest one when paying one instalment
    paid_prev = np.clip(idx - 1 - s_prev, 0, n)
    last_unpaid = np.minimum(idx - 1, n)
    cure = (s_prev >= 1) & pays & (pay_day == t)
    one = stay & (due == t)
    count = np.where(cure, np.maximum(last_unpaid - paid_prev, 0), np.where(one, 1, 0))
    gi = np.repeat(np.arange(len(cand)), count)
    off = np.arange(len(gi)) - np.repeat(np.cumsum(count) - count, count)
    period = paid_prev[gi] + 1 + off
    pdue = cal.on_day(loans.fm[cand[gi]] + period - 1, loans.dd[cand[gi]])
    recs.append(
        dict(
            row=cand[gi],
            period=period,
            kind=np.ones(len(gi), np.int64),
            paid=np.ones(len(gi), bool),
            due=pdue,
            prepay=np.zeros(len(gi), bool),
        )
    )
    row = np.concatenate([r["row"] for r in recs]).astype(np.int64)
    period = np.concatenate([r["period"] for r in recs]).astype(np.int64)
    kind = np.concatenate([r["kind"] for r in recs])
    paid = np.concatenate([r["paid"] for r in recs])
    due_date = np.concatenate([r["due"] for r in recs]).astype(np.int64)
    prepay = np.concatenate([r["prepay"] for r in recs])
    order = np.lexsort((kind, period, row))
    row, period, kind, paid, due_date, prepay = (
        row[order],
        period[order],
        kind[order],
        paid[order],
        due_date[order],
        prepay[order],
    )
    p_due, i_due = instalment(loans, row, period)
    days_late = np.where(paid, np.maximum(t - due_date, 0), 0)
    remaining = sched_balance(loans, row, period)
    p_paid = np.where(paid, p_due + np.where(prepay, remaining, 0.0), 0.0)
    i_paid = np.where(paid, i_due, 0.0)
    penalty = np.where(paid & (days_late > 0), np.round((p_due + i_due) * 0.0005 * days_late, 2), 0.0)
    u = uniform(seed, "repay_channel", loans.uid[row] * 1024 + period)
    channel = np.where(
        ~paid,
        None,
        np.where(
            days_late == 0,
            np.where(u < 0.85, "AUTO", "MOB"),
            np.where(u < 0.5, "MOB", np.where(u < 0.8, "CNTR", "NET")),
        ),
    ).astype(object)
    rid = "RP" + ids.zero_pad("", (loans.uid[row] * 1000 + np.minimum(period, 999)) * 10 + kind, 18)
    return dict(
        row=row,
        repayment_id=rid,
        period=period,
        due_date=due_date,
        paid=paid,
        p_due=p_due,
        i_due=i_due,
        p_paid=np.round(p_paid, 2),
        i_paid=np.round(i_paid, 2),
        penalty=penalty,
        days_late=days_late,
        channel=channel,
        pay_day=np.full(len(row), t),
    )
