"""Credit-bureau pulls (人行征信查询) of the synthetic bank: which customers are queried on a day and why (loan
and card approvals, post-loan reviews, guarantor checks, own queries), and the contents of each report: the
bank's own loan history from the simulated loans plus an external part (other lenders' loans, overdue
months, inquiries, card utilisation, guarantees) drifting quarter by quarter.

Keyed like the other daily events (:func:`crm.synthetic.events.event_key`), so a day's pulls do not depend on
which other days are generated.
"""

from __future__ import annotations

import numpy as np

from crm.synthetic import cal, ids, params
from crm.synthetic.events import event_key
from crm.synthetic.rand import hash64, lookup, normal, poisson_from_uniform, sigmoid, uniform
from crm.synthetic.world import NS


def bureau(bank, t: int) -> NS:
    c, ln, seed = bank.c, bank.loans, bank.seed
    parts = []
    # 01 loan approval: a few days before each loan starts (also renewals the bank later declined)
    lag = 2 + (uniform(seed, "cr_lag", ln.uid) * 24).astype(np.int64)
    q = np.flatnonzero(np.maximum(ln.start - lag, c.onboard[ln.cust]) == t)
    parts.append((ln.cust[q], "01", ln.j[q] % 10))
    # 02 post-loan review: yearly (individuals), half-yearly (corporates), monthly while in arrears
    st = bank.customer_status(t)
    has_loan = st.alive_loans > 0
    period = np.where(c.is_corp, 182, 365)
    period = np.where(st.arrears > 0, 30, period)
    offset = (hash64(seed, "cr_review", c.uid) % 365).astype(np.int64)
    due = has_loan & ((t - offset) % period == 0) & (c.onboard <= t)
    r = np.flatnonzero(due)
    parts.append((r, "02", np.zeros(len(r), np.int64)))
    # 03 credit card approval
    h = bank.holdings
    cards = np.flatnonzero(h.source == 3)
    lagc = 3 + (uniform(seed, "cr_card_lag", h.key[cards]) * 12).astype(np.int64)
    q = cards[np.maximum(h.open[cards] - lagc, c.onboard[h.cust[cards]]) == t]
    parts.append((h.cust[q], "03", np.zeros(len(q), np.int64)))
    # 04 guarantor check: guarantors that are customers, when the guarantee starts
    rp = bank.related
    gq = np.maximum(rp.start - 1, c.onboard[np.maximum(rp.related, 0)])
    g = np.flatnonzero((rp.relation_type == "GUARANTOR") & (rp.related >= 0) & (gq == t))
    parts.append((rp.related[g], "04", rp.k[g] % 10))
    # 05 own query by individuals (rare)
    ind_alive = bank.ind.pos[c.onboard[bank.ind.pos] <= t]
    own = ind_alive[uniform(seed, "cr_self", event_key(c.uid[ind_alive], t)) < 0.002 / 30]
    parts.append((own, "05", np.zeros(len(own), np.int64)))
    rows = np.concatenate([p[0] for p in parts]).astype(np.int64)
    reason = np.concatenate([np.full(len(p[0]), p[1], dtype=object) for p in parts])
    seq = np.concatenate([p[2] for p in parts]).astype(np.int64)
    # one report per customer, reason and sequence
    rid = (
        "CR"
        + cal.date(t).strftime("%Y%m%d")
        + ids.zero_pad("", c.uid[rows] * 1000 + reason.astype(np.int64) * 10 + seq, 14)
    )
    _, first = np.unique(rid, return_index=True)
    first = np.sort(first)
    rows, reason, rid = rows[first], reason[first], rid[first]
    return report_contents(bank, t, rows, reason, rid)


def report_contents(bank, t: int, rows: np.ndarray, reason: np.ndarray, rid: np.ndarray) -> NS:
    c, ln, seed = bank.c, bank.loans, bank.seed
    n = len(rows)
    uid = c.uid[rows]
    qtr = int(cal.month_of(t)) // 3
    kq = uid * 4096 + qtr
    is_corp = c.is_corp[rows]
    ipos = np.searchsorted(bank.ind.pos, rows)
    cpos = np.searchsorted(bank.corp.pos, rows)
    ipos_c = np.minimum(ipos, max(len(bank.ind.pos) - 1, 0))
    cpos_c = np.minimum(cpos, max(len(bank.corp.pos) - 1, 0))
    ind_, corp_ = bank.ind, bank.corp

    def pick(ind_values, corp_values, default=0.0):
        iv = ind_values[ipos_c] if len(bank.ind.pos) else np.full(n, default)
        cv = corp_values[cpos_c] if len(bank.corp.pos) else np.full(n, default)
        return np.where(is_corp, cv, iv)

    # own-bank history from the simulated loans: months in arrears in the last 24 months, worst arrears
    m = int(cal.month_of(t))
    od_own = np.zeros(n)
    worst_own = np.zeros(n)
    written_off = np.zeros(n, dtype=bool)
    cur_overdue = np.zeros(n)
    st = bank.loan_state(t)
    overdue_by_cust = np.zeros(len(c.uid))
    np.add.at(overdue_by_cust, ln.cust[st.rows], st.overdue_principal + st.overdue_interest)
    cur_overdue = overdue_by_cust[rows]
    starts = ln.by_cust_start[rows]
    ends = ln.by_cust_end[rows]
    cnt = ends - starts
    lr = ln.by_cust_order[np.repeat(starts, cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))]
    owner = np.repeat(np.arange(n), cnt)
    lo = max(m - 24, ln.store_from)
    if len(lr) and m - ln.store_from >= 0:
        window = ln.S[lr, lo - ln.store_from : m - ln.store_from + 1].astype(np.int64)
        # only months already reported: up to the previous month
        window = window[:, :-1] if window.shape[1] > 1 else window[:, :0]
        if window.size:
            np.add.at(od_own, owner, (window > 0).sum(axis=1))
            np.maximum.at(worst_own, owner, window.max(axis=1))
    wo = (ln.kind[lr] == 2) & (ln.end_day[lr] <= t)
    np.logical_or.at(written_off, owner, wo)
    # external (other lenders) part, drifting quarter by quarter
    od_ext = poisson_from_uniform(uniform(seed, "cr_od", kq), pick(ind_.od_lambda, corp_.od_lambda), 20)
    worst_ext = np.where(
        od_ext > 0, np.minimum(1 + poisson_from_uniform(uniform(seed, "cr_worst", kq), 0.3 * od_ext, 6), 7), 0
    )
    inq12_ext = poisson_from_uniform(uniform(seed, "cr_inq", kq), pick(ind_.inq_lambda, corp_.inq_lambda), 30)
    inq3_ext = np.round(inq12_ext * (0.15 + 0.3 * uniform(seed, "cr_inq3", kq))).astype(np.int64)
    # own applications in the windows (including this one)
    own_starts = ln.start[lr]
    own12 = np.zeros(n)
    own3 = np.zeros(n)
    np.add.at(own12, owner, (own_starts > t - 340) & (own_starts <= t + 26))
    np.add.at(own3, owner, (own_starts > t - 70) & (own_starts <= t + 26))
    drift = np.exp(0.15 * normal(seed, "cr_drift", kq))
    ext_bal, ext_count = external_loans(bank, t, rows, st, is_corp, pick, drift, kq)
    card_limit = np.where(is_corp, np.nan, pick(ind_.card_limit, np.zeros(len(corp_.pos))))
    util = np.where(
        is_corp | (card_limit <= 0),
        np.nan,
        np.round(
            np.clip(pick(ind_.util, np.zeros(len(corp_.pos))) * np.exp(0.2 * normal(seed, "cr_util", kq)), 0, 200),
            2,
        ),
    )
    card_limit = np.where(card_limit <= 0, np.nan, card_limit)
    guar = np.where(
        is_corp,
        np.round(pick(np.zeros(len(ind_.pos)), corp_.revenue0 * 0.2 * corp_.guar_ratio) * drift, -2),
        np.where(uniform(seed, "cr_iguar", kq) < 0.05, 50_000.0, 0.0),
    )
    first_credit = np.where(
        is_corp,
        pick(np.zeros(len(ind_.pos), np.int64), corp_.established)
        + (uniform(seed, "cr_fc", uid) * 4 * 365).astype(np.int64),
        pick(ind_.birth, np.zeros(len(corp_.pos), np.int64))
        + ((22 + 8 * uniform(seed, "cr_fc", uid)) * 365.25).astype(np.int64),
    )
    # the first credit predates the relationship and the query (a first loan at this bank is not yet reported)
    first_credit = np.minimum(first_credit, np.minimum(c.onboard[rows], t) - 1)
    thin = ~is_corp & (uniform(seed, "cr_thin", uid) < 0.06)
    ext_overdue = np.where((od_ext > 0) & (uniform(seed, "cr_curod", kq) < 0.1), np.round(ext_bal * 0.05, 2), 0.0)
    bad_debt = written_off | (pick(ind_.d_od, corp_.d_od) > 2.6)
    return NS(
        rows=rows,
        report_id=rid,
        reason=reason,
        first_credit=np.where(thin, -1, first_credit),
        ext_count=ext_count,
        ext_bal=ext_bal,
        card_limit=card_limit,
        util=util,
        guar=guar,
        inq3=inq3_ext + own3.astype(np.int64),
        inq12=inq12_ext + own12.astype(np.int64),
        od24=od_ext + od_own.astype(np.int64),
        worst=np.minimum(np.maximum(worst_ext, worst_own), 7).astype(np.int64),
        cur_overdue=np.round(cur_overdue + ext_overdue, 2),
        bad_debt=bad_debt,
    )


def wallet_share(bank, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(only_us, s) of customers ``rows``: whether we are their only lender, and the share of their borrowing
    they hold with us otherwise (``params.WALLET_*``)."""
    c, seed = bank.c, bank.seed
    uid = c.uid[rows]
    is_corp = c.is_corp[rows]
    seg = np.where(is_corp, "C", "I")
    only_us = uniform(seed, "wallet_only", uid) < lookup(seg, params.WALLET_ONLY_US)
    driver = bank.debt_driver[rows]
    s = sigmoid(
        lookup(seg, params.WALLET_SHARE_MEAN)
        + params.WALLET_SHARE_SD * normal(seed, "wallet_share", uid)
        - params.WALLET_DTI * driver
    )
    return only_us, s


def external_loans(bank, t: int, rows, st, is_corp, pick, drift, kq) -> tuple[np.ndarray, np.ndarray]:
    """Balance and number of the customers' loans with other lenders on day ``t``: our exposure (balance on
    ``t``, or before the first loan 60% of the lines' amounts) x (1 - s) / s, none when we are the only lender;
    customers without a line with us borrow elsewhere only (income or revenue based, as before)."""
    c, ln, seed, ind_, corp_ = bank.c, bank.loans, bank.seed, bank.ind, bank.corp
    n_all = len(c.uid)
    ours = np.zeros(n_all)
    np.add.at(ours, ln.cust[st.rows], st.balance)
    ours = ours[rows]
    ref = bank.line_reference[rows]
    exposure = np.where(ours > 0, ours, ref)
    only_us, s = wallet_share(bank, rows)
    multiple = np.minimum((1 - s) / s, params.WALLET_MAX_EXTERNAL_MULTIPLE)
    corp_debt = corp_.revenue0 * corp_.lev * 0.3 if len(corp_.pos) else np.zeros(0)
    standalone = pick(ind_.ext_debt, corp_debt)
    ext = np.where(exposure > 0, np.where(only_us, 0.0, exposure * multiple), standalone)
    ext = np.round(ext * drift, 2)
    ext = np.where(ext < 1000, 0.0, ext)
    unit = np.where(is_corp, lookup(bank.size[rows], params.EXTERNAL_LOAN_UNIT, 1e6), params.EXTERNAL_LOAN_UNIT["I"])
    count = 1 + np.floor(np.log2(1 + ext / unit)).astype(np.int64)
    count = count + np.round(normal(seed, "cr_cnt", kq) * 0.6).astype(np.int64)
    count = np.where(ext > 0, np.clip(count, 1, 20), 0)
    return ext, count
