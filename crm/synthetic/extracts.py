"""One builder per extract: the bank's data for one business date as a DataFrame in contract column order.

Types follow the writer's expectations: strings as object (None = null), ints as nullable Int64, decimals as
float64 (NaN = null), dates and timestamps as datetime64[ns] (NaT = null).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from crm import contract
from crm.synthetic import (
    bureau,
    cal,
    deposits,
    events,
    fees,
    holdings,
    ids,
    loans,
    marketing,
    params,
    service,
    statements,
)
from crm.synthetic.bank import Bank
from crm.synthetic.coverage import manager_at, manager_id_at
from crm.synthetic.coverage import snapshot as coverage_rows
from crm.synthetic.rand import uniform
from crm.synthetic.world import NEVER, NS


def D(days, valid=None) -> np.ndarray:
    days = np.asarray(days, dtype=np.int64)
    ok = (days > -25000) & (days < NEVER) if valid is None else np.asarray(valid, bool) & (days < NEVER)
    return cal.to_datetime64(np.where(ok, days, 0), ok)


def TS(seconds, valid=None) -> np.ndarray:
    s = np.asarray(seconds, dtype=np.int64)
    ok = np.ones(len(s), bool) if valid is None else np.asarray(valid, bool)
    return cal.seconds_to_datetime64(np.where(ok, s, 0), ok)


def I(values, valid=None) -> pd.arrays.IntegerArray:  # noqa: E743
    v = np.asarray(values)
    mask = np.zeros(len(v), bool) if valid is None else ~np.asarray(valid, bool)
    return pd.arrays.IntegerArray(np.where(mask, 0, v).astype(np.int64), mask)


def S(values) -> np.ndarray:
    return np.asarray(values, dtype=object)


def F(values, valid=None) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return v if valid is None else np.where(np.asarray(valid, bool), v, np.nan)


def frame(name: str, cols: dict) -> pd.DataFrame:
    ex = contract.get(name)
    missing = [c for c in ex.column_names if c not in cols]
    if missing:
        raise KeyError(f"{name}: builder misses {missing}")
    return pd.DataFrame({c: cols[c] for c in ex.column_names})


# ============================================================================================ organisation


def branches(bank: Bank, t: int) -> pd.DataFrame:
    b = bank.org.branches
    r = np.flatnonzero(b.opened <= t)
    return frame(
        "branches",
        dict(
            branch_id=S(b.branch_id[r]),
            branch_name=S(b.branch_name[r]),
            parent_branch_id=S(b.parent_branch_id[r]),
            branch_level=S(b.branch_level[r]),
            province=S(b.province[r]),
            city=S(b.city[r]),
            opened_date=D(b.opened[r]),
            status=S(b.status[r]),
        ),
    )


def staff(bank: Bank, t: int) -> pd.DataFrame:
    s = bank.org.staff
    r = np.flatnonzero(s.hire <= t)
    status = np.where(s.leave[r] <= t, "L", "A").astype(object)  # leavers: from their leave day
    return frame(
        "staff",
        dict(
            staff_id=S(s.staff_id[r]),
            staff_name=S(s.staff_name[r]),
            role=S(s.role[r]),
            branch_id=S(s.branch_id[r]),
            email=S(s.email[r]),
            mobile=S(s.mobile[r]),
            hire_date=D(s.hire[r]),
            status=S(status),
        ),
    )


# ============================================================================================ customers


def customers(bank: Bank, t: int) -> pd.DataFrame:
    c, ind = bank.c, bank.ind
    r = np.flatnonzero(c.onboard[ind.pos] <= t)
    pos = ind.pos[r]
    st = bank.customer_status(t)
    k = c.uid[pos]
    income_known = uniform(bank.seed, "cust_inc_known", k) > 0.04
    edu_known = uniform(bank.seed, "cust_edu_known", k) > 0.05
    addr_known = uniform(bank.seed, "cust_addr_known", k) > 0.02
    return frame(
        "customers",
        dict(
            customer_id=S(c.cid[pos]),
            customer_name=S(ind.name[r]),
            id_type=S(np.full(len(r), "01", dtype=object)),
            id_number=S(ind.id_number[r]),
            gender=S(np.where(ind.male[r], "1", "2")),
            birth_date=D(ind.birth[r]),
            mobile=S(ind.mobile[r]),
            address=S(np.where(addr_known, ind.address[r], None)),
            province=S(np.where(addr_known, ind.province[r], None)),
            city=S(np.where(addr_known, ind.city[r], None)),
            occupation=S(ind.occupation[r]),
            employer=S(ind.employer[r]),
            annual_income=F(ind.income[r], income_known),
            education=S(np.where(edu_known, ind.education[r], None)),
            marital_status=S(ind.marital[r]),
            branch_id=S(c.branch_id[pos]),
            manager_id=S(manager_id_at(bank, pos, t)),
            onboarding_date=D(c.onboard[pos]),
            status=S(st.status[pos]),
        ),
    )


def corporates(bank: Bank, t: int) -> pd.DataFrame:
    c, corp = bank.c, bank.corp
    r = np.flatnonzero(c.onboard[corp.pos] <= t)
    pos = corp.pos[r]
    st = bank.customer_status(t)
    year = int(cal.year_of(t)) - 1
    rev = statements.annual_revenue(bank.seed, c, corp, year)[r] if len(r) else np.zeros(0)
    k = c.uid[pos]
    emp_known = uniform(bank.seed, "corp_emp_known", k) > 0.03
    return frame(
        "corporates",
        dict(
            customer_id=S(c.cid[pos]),
            company_name=S(corp.name[r]),
            uscc=S(corp.uscc[r]),
            legal_rep_name=S(corp.rep_name[r]),
            legal_rep_id_number=S(corp.rep_id[r]),
            industry=S(corp.industry[r]),
            enterprise_size=S(corp.size[r]),
            registered_capital=F(corp.reg_cap[r]),
            established_date=D(corp.established[r]),
            registered_address=S(corp.address[r]),
            province=S(corp.province[r]),
            city=S(corp.city[r]),
            employees=I(corp.employees[r], emp_known),
            annual_revenue=F(rev),
            branch_id=S(c.branch_id[pos]),
            manager_id=S(manager_id_at(bank, pos, t)),
            onboarding_date=D(c.onboard[pos]),
            status=S(st.status[pos]),
        ),
    )


def contacts(bank: Bank, t: int) -> pd.DataFrame:
    ct = bank.contacts
    r = np.flatnonzero(bank.c.onboard[ct.cust] <= t)
    return frame(
        "contacts",
        dict(
            contact_id=S("CT" + ids.zero_pad("", ct.key[r], 13)),
            customer_id=S(bank.c.cid[ct.cust[r]]),
            contact_type=S(ct.contact_type[r]),
            relationship=S(ct.relationship[r]),
            contact_name=S(ct.name[r]),
            contact_id_number=S(ct.id_number[r]),
            contact_mobile=S(ct.mobile[r]),
            is_primary=S(np.where(ct.primary[r], "Y", "N")),
        ),
    )


def related_parties(bank: Bank, t: int) -> pd.DataFrame:
    rp, c = bank.related, bank.c
    r = np.flatnonzero((c.onboard[rp.cust] <= t) & (rp.start <= t))
    rel = rp.related[r]
    known = (rel >= 0) & (c.onboard[np.maximum(rel, 0)] <= t)
    return frame(
        "related_parties",
        dict(
            relation_id=S("RL" + ids.zero_pad("", rp.key[r], 14)),
            customer_id=S(c.cid[rp.cust[r]]),
            relation_type=S(rp.relation_type[r]),
            party_type=S(rp.party_type[r]),
            related_customer_id=S(np.where(known, c.cid[np.maximum(rel, 0)], None)),
            related_name=S(rp.name[r]),
            related_cert_number=S(rp.cert[r]),
            share_ratio=F(rp.share[r]),
            amount=F(rp.amount[r]),
            start_date=D(rp.start[r]),
            end_date=D(rp.end[r], rp.end[r] <= t),
        ),
    )


# ============================================================================================ loans


def loans_snapshot(bank: Bank, t: int) -> pd.DataFrame:
    ln, c = bank.loans, bank.c
    st = bank.loan_state(t)
    r = st.rows
    return frame(
        "loans",
        dict(
            loan_id=S(loans.loan_ids(ln, r)),
            contract_id=S(loans.contract_ids(ln, r)),
            customer_id=S(c.cid[ln.cust[r]]),
            product_code=S(ln.product[r]),
            currency=S(np.full(len(r), "CNY", dtype=object)),
            contract_amount=F(ln.amount[r]),
            balance=F(st.balance),
            interest_rate=F(ln.rate[r]),
            rate_type=S(ln.rate_type[r]),
            start_date=D(ln.start[r]),
            maturity_date=D(ln.maturity[r]),
            repayment_method=S(ln.method[r]),
            guarantee_type=S(ln.guarantee[r]),
            five_class=S(st.five_class.astype(str)),
            overdue_days=I(st.overdue_days),
            overdue_principal=F(st.overdue_principal),
            overdue_interest=F(st.overdue_interest),
            restructured=S(np.where(st.restructured, "Y", "N")),
            status=S(st.status),
            repay_card_no=S(c.card[ln.cust[r]]),
            branch_id=S(c.branch_id[ln.cust[r]]),
        ),
    )


def repayments(bank: Bank, t: int) -> pd.DataFrame:
    ln, c = bank.loans, bank.c
    rp = loans.repayments_on(bank.seed, ln, t)
    r = rp["row"]
    return frame(
        "repayments",
        dict(
            repayment_id=S(rp["repayment_id"]),
            loan_id=S(loans.loan_ids(ln, r)),
            customer_id=S(c.cid[ln.cust[r]]),
            period_no=I(rp["period"]),
            due_date=D(rp["due_date"]),
            paid_date=D(rp["pay_day"], rp["paid"]),
            principal_due=F(rp["p_due"]),
            interest_due=F(rp["i_due"]),
            principal_paid=F(rp["p_paid"]),
            interest_paid=F(rp["i_paid"]),
            penalty_paid=F(rp["penalty"]),
            days_late=I(rp["days_late"]),
            channel=S(rp["channel"]),
        ),
    )


def loan_performance_month(bank: Bank, m: int) -> pd.DataFrame:
    ln, c = bank.loans, bank.c
    me = int(cal.month_end(m))
    rows = loans.rows_alive_in_month(ln, m)
    st = loans.state_on(bank.seed, ln, me, rows)
    r = st.rows
    return frame(
        "loan_performance",
        dict(
            snapshot_date=D(np.full(len(r), me)),
            loan_id=S(loans.loan_ids(ln, r)),
            customer_id=S(c.cid[ln.cust[r]]),
            product_code=S(ln.product[r]),
            balance=F(st.balance),
            overdue_days=I(st.overdue_days),
            overdue_amount=F(np.round(st.overdue_principal + st.overdue_interest, 2)),
            five_class=S(st.five_class.astype(str)),
            status=S(st.status),
        ),
    )


def loan_performance(bank: Bank, t: int, first: bool) -> Iterator[pd.DataFrame]:
    """Month chunks: the 36 previous month-ends first when this is the first file, then this month."""
    m = int(cal.month_of(t))
    months = range(m - params.HISTORY_MONTHS, m + 1) if first else range(m, m + 1)
    for mm in months:
        yield loan_performance_month(bank, mm)


# ============================================================================================ deposits


def _deposit_state(bank: Bank, t: int) -> dict:
    acc, _c = bank.acc, bank.c
    m = int(cal.month_of(t))
    br = bank.bridge(m)
    d = t - br.ms
    keep = acc.open[br.rows] <= t
    rows = br.rows[keep]
    bal = br.balance(d)[keep]
    mtd = br.mtd_average(d)[keep]
    return dict(rows=rows, balance=bal, mtd=mtd, bridge_rows=br.rows, bridge_balance=br.balance(d))


def _deposit_view(bank: Bank, t: int) -> dict:
    """Every account of the deposits snapshot of day ``t``: balance, month-to-date average, own rate, status."""
    acc, c = bank.acc, bank.c
    ds = _deposit_state(bank, t)
    r = ds["rows"]
    rate = deposits.account_rate(acc, r, t)
    fix = acc.slot[r] == deposits.SLOT_FIX
    closed = acc.close[r] <= t
    cust = acc.cust[r]
    st = bank.customer_status(t)
    dormant = t >= c.t_dorm[cust] + params.ACCOUNT_DORMANT_DAYS
    frozen = (st.overdue_days[cust] > 180) & (uniform(bank.seed, "acct_frozen", acc.uid[r]) < 0.3)
    status = np.where(closed, "C", np.where(frozen, "F", np.where(dormant, "D", "A"))).astype(object)
    return dict(
        rows=r, cust=cust, balance=ds["balance"], mtd=ds["mtd"], rate=rate, fix=fix, closed=closed, status=status
    )


def deposits_snapshot(bank: Bank, t: int) -> pd.DataFrame:
    acc, c = bank.acc, bank.c
    v = _deposit_view(bank, t)
    r, fix, closed, cust = v["rows"], v["fix"], v["closed"], v["cust"]
    maturity = np.where(fix, deposits.fix_maturity(acc, r, t), -1)
    maturity = np.where(fix & closed, np.minimum(maturity, acc.close[r]), maturity)
    return frame(
        "deposits",
        dict(
            account_id=S(deposits.account_ids(acc, r)),
            customer_id=S(c.cid[cust]),
            card_number=S(acc.card[r]),
            product_type=S(acc.product[r]),
            currency=S(acc.currency[r]),
            open_date=D(acc.open[r]),
            maturity_date=D(maturity, maturity >= 0),
            close_date=D(acc.close[r], closed),
            balance=F(v["balance"]),
            mtd_avg_balance=F(v["mtd"]),
            interest_rate=F(v["rate"]),
            status=S(v["status"]),
            branch_id=S(c.branch_id[cust]),
        ),
    )


def deposit_balances_month(bank: Bank, m: int) -> pd.DataFrame:
    """The month end of month ``m``: the deposits snapshot of that day reduced to balance, average, rate."""
    acc, c = bank.acc, bank.c
    me = int(cal.month_end(m))
    v = _deposit_view(bank, me)
    r, cust = v["rows"], v["cust"]
    return frame(
        "deposit_balances",
        dict(
            snapshot_date=D(np.full(len(r), me)),
            account_id=S(deposits.account_ids(acc, r)),
            customer_id=S(c.cid[cust]),
            product_type=S(acc.product[r]),
            currency=S(acc.currency[r]),
            balance=F(v["balance"]),
            avg_balance=F(v["mtd"]),
            interest_rate=F(v["rate"]),
            status=S(v["status"]),
            branch_id=S(c.branch_id[cust]),
        ),
    )


def _history_months(bank: Bank, t: int, first: bool, months: int) -> range:
    m = int(cal.month_of(t))
    return range(m - months, m + 1) if first else range(m, m + 1)


def deposit_balances(bank: Bank, t: int, first: bool) -> Iterator[pd.DataFrame]:
    """Month chunks: the preceding month-ends first when this is the first file (the initial load)."""
    for mm in _history_months(bank, t, first, bank.history_months):
        yield deposit_balances_month(bank, mm)


def transactions(bank: Bank, t: int) -> pd.DataFrame:
    br = bank.bridge(int(cal.month_of(t)))
    tx = deposits.day_transactions(bank.seed, bank.c, bank.acc, br, t, bank.names)
    return frame(
        "transactions",
        {k: (F(v) if k in ("amount", "balance_after") else v if k == "txn_time" else S(v)) for k, v in tx.items()},
    )


def txn_monthly_month(bank: Bank, m: int) -> pd.DataFrame:
    a = bank.txn_month(m)
    me = int(cal.month_end(m))
    has_cp = a.top_cents >= 0
    return frame(
        "txn_monthly",
        dict(
            snapshot_date=D(np.full(len(a.cust), me)),
            customer_id=S(bank.c.cid[a.cust]),
            txn_type=S(np.asarray(deposits.TXN_TYPES, dtype=object)[a.ttype]),
            channel=S(np.asarray(deposits.TXN_CHANNELS, dtype=object)[a.channel]),
            direction=S(np.where(a.credit, "C", "D")),
            txn_count=I(a.count),
            amount=F(a.cents / 100.0),
            counterparty_count=I(a.cp_count),
            top_counterparty_amount=F(np.maximum(a.top_cents, 0) / 100.0, has_cp),
        ),
    )


def txn_monthly(bank: Bank, t: int, first: bool) -> Iterator[pd.DataFrame]:
    """Month chunks: the preceding months first when this is the first file (the initial load)."""
    for mm in _history_months(bank, t, first, bank.history_months):
        yield txn_monthly_month(bank, mm)


def product_holdings(bank: Bank, t: int) -> pd.DataFrame:
    h, c = bank.holdings, bank.c
    r = np.flatnonzero((c.onboard[h.cust] <= t) & (h.open <= t) & (h.close > t - params.HOLDING_HISTORY_DAYS))
    ds = _deposit_state(bank, t)
    bridge_pos = np.full(len(bank.acc.uid), -1)
    bridge_pos[ds["bridge_rows"]] = np.arange(len(ds["bridge_rows"]))
    bb = ds["bridge_balance"]
    st = bank.loan_state(t)
    loan_pos = np.full(len(bank.loans.uid), -1)
    loan_pos[st.rows] = np.arange(len(st.rows))
    dep = {"map": lambda a: np.where(bridge_pos[a] >= 0, bb[np.maximum(bridge_pos[a], 0)], 0.0)}
    lnb = {"map": lambda x: np.where(loan_pos[x] >= 0, st.balance[np.maximum(loan_pos[x], 0)], 0.0)}
    amount = holdings.amounts_on(bank.seed, h, r, t, dep, lnb)
    closed = h.close[r] <= t
    return frame(
        "product_holdings",
        dict(
            holding_id=S("HD" + ids.zero_pad("", h.key[r], 17)),
            customer_id=S(c.cid[h.cust[r]]),
            product_family=S(h.family[r]),
            product_code=S(h.code_vocab[h.code_idx[r]]),
            open_date=D(h.open[r]),
            close_date=D(h.close[r], closed),
            amount=F(amount),
            status=S(np.where(closed, "C", "A")),
        ),
    )


def fee_frame(bank: Bank, f) -> pd.DataFrame:
    c = bank.c
    uid = c.uid[f.cust]
    base_ev = f.ev % fees.REVERSAL
    fee_type = np.asarray([fees.EVENTS[k][0] for k in range(len(fees.EVENTS))], dtype=object)[base_ev]
    acc_ok = f.acc_row >= 0
    acc_id = np.where(acc_ok, deposits.account_ids(bank.acc, np.maximum(f.acc_row, 0)), None)
    return frame(
        "fee_ledger",
        dict(
            fee_id=S(fees.fee_ids(f.day, uid, f.ev, f.seq)),
            customer_id=S(c.cid[f.cust]),
            product_family=S(f.family),
            product_code=S(f.product),
            fee_type=S(fee_type),
            amount=F(f.amount),
            fee_date=D(f.day),
            account_id=S(acc_id),
            reversal_of=S(f.reversal_of),
            branch_id=S(c.branch_id[f.cust]),
        ),
    )


def fee_ledger(bank: Bank, t: int, first: bool, since: int | None = None) -> Iterator[pd.DataFrame]:
    """The fee records booked on ``t``; the first file carries those of the preceding months (the initial load,
    in month chunks); ``since``: every day from it to ``t`` (a month-ends-only bank)."""
    if first:
        months = min(params.FEE_HISTORY_MONTHS, bank.history_months)
        lo = min(int(cal.add_months(np.array([t + 1]), -months)[0]), t)
        floor = lo
    else:
        lo = t if since is None else since
        floor = None
    if since is not None:
        lo = min(lo, since)
    day = lo
    while day <= t:  # a loop over days, a frame a month
        m_end = min(int(cal.month_end(cal.month_of(day))), t)
        parts = [fees.records(bank, d, floor) for d in range(day, m_end + 1)]
        f = {k: np.concatenate([getattr(p, k) for p in parts]) for k in parts[0].__dict__}
        yield fee_frame(bank, NS(**f))
        day = m_end + 1


# ============================================================================================ statements, bureau


def financial_statements(bank: Bank, t: int, first: bool) -> pd.DataFrame:
    m = int(cal.month_of(t))
    lo = (
        int(cal.add_months(np.array([t + 1]), -12 * params.STATEMENT_HISTORY_YEARS)[0])
        if first
        else int(cal.month_start(m))
    )
    fs = statements.build(bank.seed, bank.c, bank.corp, lo, t)
    if not fs:
        return frame("financial_statements", {c: S([]) for c in contract.get("financial_statements").column_names})
    c = bank.c
    cust = fs["cust"]
    sid = "FS" + ids.zero_pad("", c.uid[cust] * 10**6 + fs["yyyymm"], 17) + fs["period_type"]
    cols = {
        k: F(v)
        for k, v in fs.items()
        if k not in ("cust", "yyyymm", "report_period", "period_type", "audited", "received")
    }
    return frame(
        "financial_statements",
        dict(
            statement_id=S(sid),
            customer_id=S(c.cid[cust]),
            report_period=D(fs["report_period"]),
            period_type=S(fs["period_type"]),
            audited=S(np.where(fs["audited"], "Y", "N")),
            received_date=D(fs["received"]),
            **cols,
        ),
    )


def bureau_records(bank: Bank, t: int, first: bool = False, since: int | None = None) -> Iterator[pd.DataFrame]:
    """The pulls of day ``t``; the first file carries those of the preceding months (the initial load, in month
    chunks, the same pull model day by day); ``since``: every day from it to ``t``."""
    lo = t
    if first:
        lo = int(cal.add_months(np.array([t]), -bank.history_months)[0])
    if since is not None:
        lo = min(lo, since)
    day = lo
    while day <= t:  # a loop over days, a frame a month
        m_end = min(int(cal.month_end(cal.month_of(day))), t)
        frames = [bureau_day(bank, d) for d in range(day, m_end + 1)]
        yield pd.concat([f for f in frames if len(f)] or frames[-1:], ignore_index=True)
        day = m_end + 1


def bureau_day(bank: Bank, t: int) -> pd.DataFrame:
    b = bureau.bureau(bank, t)
    c = bank.c
    return frame(
        "bureau_records",
        dict(
            report_id=S(b.report_id),
            customer_id=S(c.cid[b.rows]),
            query_date=D(np.full(len(b.rows), t)),
            query_reason=S(b.reason),
            first_credit_date=D(b.first_credit, b.first_credit >= 0),
            external_loan_count=I(b.ext_count),
            external_loan_balance=F(b.ext_bal),
            card_credit_limit=F(b.card_limit),
            card_utilisation=F(b.util),
            external_guarantee_amount=F(b.guar),
            inquiries_3m=I(b.inq3),
            inquiries_12m=I(np.maximum(b.inq12, b.inq3)),
            overdue_count_24m=I(b.od24),
            worst_overdue_months_24m=I(b.worst),
            current_overdue_amount=F(b.cur_overdue),
            has_bad_debt=S(np.where(b.bad_debt, "Y", "N")),
        ),
    )


# ============================================================================================ service


def interactions(bank: Bank, t: int) -> pd.DataFrame:
    iv = bank.interactions(t)
    c = bank.c
    return frame(
        "interactions",
        dict(
            interaction_id=S(iv.interaction_id),
            customer_id=S(c.cid[iv.rows]),
            staff_id=S(bank.org.staff.staff_id[iv.staff]),
            interaction_time=TS(iv.time),
            channel=S(iv.channel),
            purpose=S(iv.purpose),
            duration_minutes=I(iv.duration, iv.duration_known),
            notes=S(iv.notes),
            next_visit_date=D(iv.next_visit, iv.next_visit >= 0),
        ),
    )


def service_requests(bank: Bank, t: int) -> pd.DataFrame:
    sr = events.sr_records(bank, t)
    c = bank.c
    if len(sr.rows) == 0:
        return frame("service_requests", {k: S([]) for k in contract.get("service_requests").column_names})
    staff_id = bank.org.staff.staff_id[sr.staff]
    return frame(
        "service_requests",
        dict(
            request_id=S(sr.request_id),
            customer_id=S(c.cid[sr.rows]),
            opened_time=TS(sr.opened),
            channel=S(sr.channel),
            category=S(sr.category),
            priority=S(sr.priority),
            assigned_staff_id=S(np.where(sr.responded | (sr.channel == "RM"), staff_id, None)),
            first_response_time=TS(sr.first_resp, sr.responded),
            resolved_time=TS(sr.resolved, sr.is_resolved),
            status=S(sr.status),
            description=S(sr.description),
        ),
    )


def surveys(bank: Bank, t: int) -> pd.DataFrame:
    sv = events.surveys(bank, t)
    c = bank.c
    resp = sv.responded
    if len(sv.rows):  # the manager serving on the day (surveys after loans and the periodic ones)
        sv.staff = np.where(sv.staff == c.manager[sv.rows], manager_at(bank, sv.rows, t), sv.staff)
    return frame(
        "surveys",
        dict(
            survey_id=S(sv.survey_id),
            customer_id=S(c.cid[sv.rows]),
            staff_id=S(bank.org.staff.staff_id[sv.staff]),
            channel=S(sv.channel),
            trigger=S(sv.trigger),
            related_id=S(sv.related),
            product_family=S(sv.family),
            sent_date=D(np.full(len(sv.rows), t)),
            response_date=D(np.full(len(sv.rows), t), resp),
            csat=I(sv.csat, resp),
            nps=I(sv.nps, resp),
            rating_responsiveness=I(sv.r_resp, resp),
            rating_professionalism=I(sv.r_prof, resp),
            rating_product=I(sv.r_prod, resp),
            rating_pricing=I(sv.r_price, resp),
            rating_digital=I(sv.r_dig, resp),
            comment=S(sv.comment),
        ),
    )


def opportunities(bank: Bank, t: int) -> pd.DataFrame:
    """Proposals offered on ``t`` and proposals whose outcome was reached on ``t``, each in its state at the end
    of the day (the front office of :mod:`crm.synthetic.marketing`)."""
    rec = bank.front_office.records
    sel = marketing.records_on(bank, t)
    r, decided = sel.rows, sel.decided
    outcome = np.where(decided, marketing.OUTCOMES[rec.outcome[r]], "P").astype(object)
    accepted = outcome == "A"
    return frame(
        "opportunities",
        dict(
            opportunity_id=S(marketing.opportunity_ids(bank, rec, r)),
            customer_id=S(bank.c.cid[rec.cust[r]]),
            proposal_type=S(marketing.types_of(rec.tcode[r])),
            product_family=S(rec.family[r]),
            product_code=S(rec.product[r]),
            source=S(np.asarray(marketing.SOURCES, dtype=object)[rec.source[r]]),
            offered_date=D(rec.offer[r]),
            channel=S(rec.channel[r]),
            staff_id=S(manager_id_at(bank, rec.cust[r], rec.offer[r])),
            offered_amount=F(rec.amount[r]),
            outcome=S(outcome),
            outcome_date=D(rec.outcome_day[r], decided),
            contract_id=S(np.where(accepted, rec.contract[r], None)),
            decline_reason=S(np.where(decided & (outcome == "D"), rec.reason[r], None)),
        ),
    )


def coverage(bank: Bank, t: int) -> pd.DataFrame:
    """Month-end snapshot of the coverage teams (:mod:`crm.synthetic.coverage`): the lead managers' tenures
    and the teams of key-account-like customers, active at ``t`` or ended in the preceding 24 months."""
    c = bank.c
    cv = coverage_rows(bank, t)
    return frame(
        "coverage",
        dict(
            snapshot_date=D(np.full(len(cv.cust), t)),
            coverage_id=S(
                np.char.add("CV", np.char.zfill((c.uid[cv.cust] * 10 + cv.slot).astype(str), 16)).astype(object)
            ),
            customer_id=S(c.cid[cv.cust]),
            staff_id=S(bank.org.staff.staff_id[cv.staff]),
            role=S(cv.role),
            from_date=D(cv.start),
            to_date=D(cv.end, cv.end < NEVER),
        ),
    )


def referrals(bank: Bank, t: int) -> pd.DataFrame:
    """Referrals of the customers who open their relationship on ``t`` (crm.synthetic.service.referrals_on)."""
    rf = service.referrals_on(bank, t)
    c = bank.c
    has_staff = rf.staff >= 0
    staff_id = np.where(has_staff, bank.org.staff.staff_id[np.maximum(rf.staff, 0)], None)
    return frame(
        "referrals",
        dict(
            referral_id=S(rf.referral_id),
            referrer_customer_id=S(c.cid[rf.referrer]),
            referred_customer_id=S(c.cid[rf.rows]),
            referral_date=D(np.full(len(rf.rows), t)),
            channel=S(rf.channel),
            staff_id=S(staff_id),
        ),
    )


DAILY = {
    "branches": branches,
    "staff": staff,
    "customers": customers,
    "corporates": corporates,
    "contacts": contacts,
    "related_parties": related_parties,
    "loans": loans_snapshot,
    "repayments": repayments,
    "deposits": deposits_snapshot,
    "transactions": transactions,
    "product_holdings": product_holdings,
    "interactions": interactions,
    "service_requests": service_requests,
    "surveys": surveys,
    "opportunities": opportunities,
    "coverage": coverage,
    "referrals": referrals,
}
