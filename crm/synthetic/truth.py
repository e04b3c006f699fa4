"""The truth of customers' needs in the synthetic bank (issue 19): who REALLY has which need at a month end.

Computed from the generator's latent state and schedules (:mod:`crm.synthetic.needs`, the loans), never from
the extracts, so tests can measure the pipeline's needs signals (crm/playbook/needs.py) against it and the
generator's front office can offer proposals to customers whose need is real. Vectorised; the loan state of
the month end comes from the bank's cache, so calling it once per month end is cheap.

One row per (customer, need); the need codes are the spec's (``docs/synthetic.md`` "Needs (issue 19)"):

| need | true at the month end m when |
|---|---|
| MATURITY | a live loan's maturity is in (m, m + 90 days], housing loans aside (they end: MORTGAGE_END) |
| SEASONAL | a seasonal corporate (a yearly peak) with at least 13 months with us, active |
| GROWTH | a corporate a year into its growth spurt (until half a year after it), or whose revenue of this fiscal year or the last grew >= 20%; active, not declining, with a live loan |
| CONCENTRATION | a concentrated corporate with at least 13 months with us, active |
| PAYROLL_START | an individual whose salary started being paid through us in the last 3 months (new customers too) |
| MORTGAGE_END | a housing loan (RHL) settled in the last 183 days or live and maturing in the next 183 |
| LARGE_INFLOW | an individual's large one-off credit in the last 2 months |

HEADROOM has no generator-side truth: the generator has no latent credit appetite, only the policy
capacity the pipeline computes from the same data (revenue, income, exposure), so it is left out.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from crm.synthetic import cal, loans, needs, params, statements

NEEDS = ("MATURITY", "SEASONAL", "GROWTH", "CONCENTRATION", "PAYROLL_START", "MORTGAGE_END", "LARGE_INFLOW")
COLUMNS = (
    "customer_id",
    "need",
    "is_corporate",
    "due_date",  # MATURITY: first maturity; MORTGAGE_END: loan end; SEASONAL: first day of the next peak
    "event_month",  # PAYROLL_START, LARGE_INFLOW: the event's month; GROWTH: the spurt's first month (YYYY-MM)
    "peak_months",  # SEASONAL: the peak's calendar months, e.g. "3,4"
    "offer_month",  # SEASONAL: the calendar month two months before the peak (offer then)
    "amount",  # MATURITY, MORTGAGE_END: contract amounts; GROWTH: live limits; PAYROLL_START: salary a month;
    # LARGE_INFLOW: the credit
    "ratio",  # GROWTH: extra growth a year (a spurt) or the revenue's growth; CONCENTRATION: share with the top
    # two; LARGE_INFLOW: multiple of the deposit level
    "direction",  # CONCENTRATION: D payments, C receipts, B both
    "loans",  # MATURITY, MORTGAGE_END: number of loans
    "months_with_us",  # every need: full months since onboarding at the month end (how much history the data has)
)


def _month(days: np.ndarray) -> np.ndarray:
    return np.asarray(cal.month_of(days).astype("datetime64[M]").astype(str), dtype=object)


FLOATS = ("amount", "ratio")
INTS = ("offer_month", "loans", "months_with_us")


def _frame(need: str, cust: np.ndarray, bank, m: int, **cols) -> dict:
    n = len(cust)
    data = {"customer_id": bank.c.cid[cust].astype(object), "need": np.full(n, need, dtype=object)}
    data["is_corporate"] = bank.c.is_corp[cust]
    cols.setdefault("months_with_us", m - cal.month_of(bank.c.onboard[cust]) - 1)
    for k in COLUMNS[3:]:
        if k == "due_date":
            empty = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        elif k in FLOATS:
            empty = np.full(n, np.nan)
        elif k in INTS:
            empty = np.full(n, -1, dtype=np.int64)
        else:
            empty = np.full(n, None, dtype=object)
        data[k] = np.asarray(cols[k]) if k in cols else empty
    return data


def needs_truth(bank, month_end: dt.date):
    """The customers who really have each need at ``month_end`` (a month's last day), one row per (customer,
    need), columns ``COLUMNS``; sorted by need and customer."""
    import pandas as pd

    c, ln = bank.c, bank.loans
    m = cal.month_number(month_end)
    me = int(cal.month_end(m))
    if cal.day(month_end) != me:
        raise ValueError(f"{month_end} is not a month end")
    n = len(c.uid)
    active = (c.onboard <= me) & (c.t_churn > me) & (c.t_dorm > me)
    long_enough = c.onboard <= int(cal.month_end(m - params.NEEDS_HISTORY_MONTHS))
    frames = []
    st = bank.loan_state(me)
    rows = st.rows
    live = rows[~st.ended]

    def per_customer(r: np.ndarray, first_day: np.ndarray):
        cust = ln.cust[r]
        amount = np.bincount(cust, weights=ln.amount[r], minlength=n)
        count = np.bincount(cust, minlength=n)
        first = np.full(n, cal.NEVER, dtype=np.int64)
        np.minimum.at(first, cust, first_day)
        who = np.flatnonzero(count > 0)
        return who, amount[who], count[who], first[who]

    # MATURITY
    r = live[
        (ln.maturity[live] > me)
        & (ln.maturity[live] <= me + params.MATURITY_TRUTH_DAYS)
        & ~np.isin(ln.product[live], params.MATURITY_TRUTH_EXCLUDED)
    ]
    who, amount, count, first = per_customer(r, ln.maturity[r])
    frames.append(
        _frame("MATURITY", who, bank, m, due_date=cal.to_datetime64(first), amount=amount, loans=count.astype(np.int64))
    )
    # MORTGAGE_END: settled in the last half year, or live and maturing in the next
    h = params.MORTGAGE_END_TRUTH_DAYS
    rhl = np.flatnonzero((ln.product == "RHL") & (ln.start <= me) & (ln.kind != loans.KIND_CANCELLED))
    past = (ln.kind[rhl] == loans.KIND_SETTLED) & (ln.end_day[rhl] > me - h) & (ln.end_day[rhl] <= me)
    ahead = (ln.end_day[rhl] > me) & (ln.maturity[rhl] > me) & (ln.maturity[rhl] <= me + h)
    r = rhl[past | ahead]
    who, amount, count, first = per_customer(r, np.where(ln.end_day[r] <= me, ln.end_day[r], ln.maturity[r]))
    keep = c.t_churn[who] > me
    frames.append(
        _frame(
            "MORTGAGE_END",
            who[keep],
            bank,
            m,
            due_date=cal.to_datetime64(first[keep]),
            amount=amount[keep],
            loans=count[keep].astype(np.int64),
        )
    )
    # SEASONAL
    who = np.flatnonzero((c.season_peak > 0) & active & long_enough)
    peak, span = c.season_peak[who], c.season_len[who]
    cm = m % 12 + 1  # calendar month of m
    ahead_m = (peak - cm - 1) % 12 + 1  # months from m to the next first peak month (1..12)
    frames.append(
        _frame(
            "SEASONAL",
            who,
            bank,
            m,
            due_date=cal.to_datetime64(cal.month_start(m + ahead_m)),
            peak_months=np.where(span == 2, peak.astype(str) + "," + (peak % 12 + 1).astype(str), peak.astype(str)),
            offer_month=(peak - 3) % 12 + 1,
        )
    )
    # GROWTH: a year into the spurt until half a year after it, or the revenue of this fiscal year or the last
    # up by GROWTH_TRUTH_REVENUE on the year before; active, not declining, with a live loan (the loans'
    # amounts follow neither)
    spurt = (c.boom_day + int(params.GROWTH_TRUTH_MONTHS * 30.44) <= me) & (
        me <= c.boom_day + int(params.GROWTH_YEARS * 365.25) + 183
    )
    y = month_end.year
    rev = {k: statements.annual_revenue(bank.seed, c, bank.corp, k) for k in (y - 2, y - 1, y)}
    rev_growth = np.zeros(n)
    rev_growth[bank.corp.pos] = np.maximum(rev[y] / rev[y - 1], rev[y - 1] / rev[y - 2]) - 1
    grew = rev_growth >= params.GROWTH_TRUTH_REVENUE
    limits = np.bincount(ln.cust[live], weights=ln.amount[live], minlength=n)
    who = np.flatnonzero((spurt | grew) & active & (c.t_dec > me) & (limits > 0))
    frames.append(
        _frame(
            "GROWTH",
            who,
            bank,
            m,
            event_month=np.where(spurt[who], _month(np.minimum(c.boom_day[who], cal.NEVER - 1)), None),
            amount=limits[who],
            ratio=np.where(spurt[who], np.expm1(c.boom_rate[who]), rev_growth[who]),
        )
    )
    # CONCENTRATION
    who = np.flatnonzero((c.conc_dir > 0) & active & long_enough)
    frames.append(
        _frame("CONCENTRATION", who, bank, m, ratio=c.conc_top[who], direction=needs.DIRECTIONS[c.conc_dir[who]])
    )
    # PAYROLL_START
    pm = cal.month_of(c.pay_start)
    who = np.flatnonzero(
        (c.pay_start < cal.NEVER) & (pm <= m) & (pm > m - params.PAYROLL_START_TRUTH_MONTHS) & active & (c.t_dec > me)
    )
    frames.append(_frame("PAYROLL_START", who, bank, m, event_month=_month(c.pay_start[who]), amount=c.pay_amount[who]))
    # LARGE_INFLOW
    im = cal.month_of(np.minimum(c.inflow_day, cal.NEVER - 1))
    who = np.flatnonzero(
        (c.inflow_day <= me) & (im > m - params.LARGE_INFLOW_TRUTH_MONTHS) & (c.t_churn > me) & (c.onboard <= me)
    )
    frames.append(
        _frame(
            "LARGE_INFLOW",
            who,
            bank,
            m,
            event_month=_month(c.inflow_day[who]),
            amount=c.inflow_amount[who],
            ratio=c.inflow_amount[who] / c.dep_level[who],
        )
    )
    out = pd.DataFrame({k: np.concatenate([f[k] for f in frames]) for k in COLUMNS})
    for k in INTS:
        out[k] = out[k].astype("Int64").mask(out[k] < 0)
    return out.sort_values(["need", "customer_id"], kind="stable").reset_index(drop=True)
