"""Fee and commission income (中间业务收入): the fee ledger's records of a day.

Fees follow the customer's products and activity (``params.FEE_*``):

- at a loan's start: an arrangement fee of its contract amount (supply-chain loans: the SCF service fee);
- at a product's sale: wealth-management commission (amount x rate x term), fund subscription fee, insurance
  first-year commission; on anniversaries: credit-card annual fees (unless waived), insurance renewal
  commission, individuals' debit-card annual fee (unless the month's average balance is high enough);
- at each month end: account management fees of corporate current accounts, settlement fees from the month's
  transfers and trade payments sent (per channel, bounded per transaction), cash-management service fees,
  payroll service fees from the month's salary payments (SAL debits), credit-card instalment fees, fund
  trailing commission, FX fees; financial advisory fees for some large corporates once a year;
- reversals: a share of the records is reversed 1 to ``FEE_REVERSAL_LAG`` days later (negative amount naming
  the reversed record).

Corporate fees carry a negotiated factor per customer and loan fees one per loan, so two customers with the
same products pay different fees. Everything is keyed by (customer, event, day), so a day's records do not
depend on which other days are generated.
"""

from __future__ import annotations

import numpy as np

from crm.synthetic import cal, deposits, holdings, ids, params
from crm.synthetic import loans as L
from crm.synthetic.rand import lookup, normal, uniform
from crm.synthetic.world import NS

# event code -> (fee_type, product_family); reversal records use 50 + the code
EVENTS = {
    0: ("ACCT", "DEP"),  # corporate account management
    1: ("ACCT", "DEP"),  # individual debit card annual fee
    2: ("SETL", None),  # settlement (family SETL with a settlement holding, else DEP)
    3: ("CASH", "SETL"),
    4: ("LOAN", "LOAN"),
    5: ("SCF", "SCF"),
    6: ("CARD", "CARD"),  # annual fee
    7: ("CARD", "CARD"),  # instalment fee
    8: ("WMP", "WMP"),
    9: ("FUND", "FUND"),  # subscription
    10: ("FUND", "FUND"),  # trailing commission
    11: ("INS", "INS"),  # first year
    12: ("INS", "INS"),  # renewal
    13: ("PAYR", "PAYR"),
    14: ("FX", "FX"),
    15: ("ADV", "SETL"),
}
REVERSAL = 50
_SRC_CARD, _SRC_WMP, _SRC_FUND, _SRC_INS, _SRC_PAYR, _SRC_SETL, _SRC_FX, _SRC_SCF = 3, 4, 5, 6, 7, 8, 9, 10


def _part(cust, ev, seq, amount, product, acc_row, family=None):
    n = len(cust)
    fam = np.full(n, EVENTS[ev][1], dtype=object) if family is None else np.asarray(family, dtype=object)
    return dict(
        cust=np.asarray(cust, np.int64),
        ev=np.full(n, ev, np.int64),
        seq=np.asarray(seq, np.int64) if np.ndim(seq) else np.full(n, seq, np.int64),
        amount=np.round(np.asarray(amount, float), 2),
        product=np.asarray(product, dtype=object) if np.ndim(product) else np.full(n, product, dtype=object),
        acc_row=np.asarray(acc_row, np.int64),
        family=fam,
    )


def _holding_seq(h: NS, rows: np.ndarray) -> np.ndarray:
    """A fee's sequence number per holding: 0 for the holdings of the customer's profile, 1 + the month index for
    the products the front office sold (crm.synthetic.marketing), so that two funds of a customer have two ids."""
    from crm.synthetic.marketing import NEW_HOLDING_KEY

    k = h.key[rows] % 10**15
    return np.where(k >= NEW_HOLDING_KEY, k % 1024 + 1, 0)


def _anniversary(open_day: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """(is an anniversary on d, years since opening) of each opening day."""
    dm = int(cal.month_of(d)) - cal.month_of(open_day)
    k = dm // 12
    hit = (dm > 0) & (dm % 12 == 0) & (cal.add_months(open_day, k * 12) == d)
    return hit, k


def _negotiated(seed: int, c: NS, cust: np.ndarray) -> np.ndarray:
    """The customer's negotiated fee factor (corporates; 1 for individuals)."""
    z = normal(seed, "fee_nego", c.uid[cust])
    return np.where(c.is_corp[cust], np.exp(params.FEE_NEGOTIATION * z), 1.0)


def _open_at(h: NS, d: int) -> np.ndarray:
    return (h.open <= d) & (h.close > d)


def originals(bank, d: int) -> NS:
    """The fee records booked on day ``d`` (without reversals)."""
    c, ln, h, acc, seed = bank.c, bank.loans, bank.holdings, bank.acc, bank.seed
    parts = []
    me = bool(cal.is_month_end(cal.date(d)))
    size = bank.size
    # ---- loan starts: arrangement fee, or the SCF service fee of supply-chain loans
    r = np.flatnonzero((ln.start == d) & (ln.kind != L.KIND_CANCELLED) & (c.onboard[ln.cust] <= d))
    if len(r):
        nego = np.exp(params.FEE_NEGOTIATION * normal(seed, "fee_loan", ln.uid[r]))
        rate = lookup(ln.product[r], params.FEE_LOAN_ARRANGEMENT, default=0.0)
        scf = ln.product[r] == "CSC"
        rate = np.where(scf, params.FEE_SCF_SERVICE, rate)
        amt = ln.amount[r] * rate * nego
        cust = ln.cust[r]
        seq = ln.uid[r] % 256
        k = ~scf & (rate > 0)
        parts.append(_part(cust[k], 4, seq[k], amt[k], ln.product[r][k] + "01", c.cur_acc[cust[k]]))
        parts.append(_part(cust[scf], 5, seq[scf], amt[scf], bank.scf_code[ln.line[r][scf]], c.cur_acc[cust[scf]]))
    # ---- product sales
    src = h.source
    opened = np.flatnonzero((h.open == d) & np.isin(src, [_SRC_WMP, _SRC_FUND, _SRC_INS]) & (c.onboard[h.cust] <= d))
    if len(opened):
        code = h.code_vocab[h.code_idx[opened]]
        cust = h.cust[opened]
        s = src[opened]
        years = np.clip((h.close[opened] - h.open[opened]) / 365.0, 0.08, 1.0)
        wmp = s == _SRC_WMP
        seq = _holding_seq(h, opened)
        parts.append(
            _part(
                cust[wmp],
                8,
                seq[wmp],
                h.base[opened][wmp] * params.FEE_WMP_RATE * years[wmp],
                code[wmp],
                c.cur_acc[cust[wmp]],
            )
        )
        fund = s == _SRC_FUND
        disc = uniform(seed, "fee_fund_disc", h.key[opened]) < params.FEE_FUND_DISCOUNT[0]
        fee = h.base[opened] * params.FEE_FUND_SUBSCRIPTION * np.where(disc, params.FEE_FUND_DISCOUNT[1], 1.0)
        parts.append(_part(cust[fund], 9, seq[fund], fee[fund], code[fund], c.cur_acc[cust[fund]]))
        ins = s == _SRC_INS
        parts.append(
            _part(cust[ins], 11, 0, h.base[opened][ins] * params.FEE_INS_FIRST_YEAR, code[ins], c.cur_acc[cust[ins]])
        )
    # ---- anniversaries: card annual fees, insurance renewals, debit card annual fees
    cand = np.flatnonzero(np.isin(src, [_SRC_CARD, _SRC_INS]) & (h.open < d) & (h.close > d))
    if len(cand):
        hit, k = _anniversary(h.open[cand], d)
        cand, k = cand[hit], k[hit]
        code = h.code_vocab[h.code_idx[cand]]
        cust = h.cust[cand]
        card = src[cand] == _SRC_CARD
        waived = uniform(seed, "fee_card_waive", h.key[cand] * 64 + k) < lookup(code, params.FEE_CARD_WAIVER, 0.0)
        annual = lookup(code, params.FEE_CARD_ANNUAL, 0.0)
        m = card & ~waived & (annual > 0)
        parts.append(_part(cust[m], 6, 0, annual[m], code[m], c.cur_acc[cust[m]]))
        ins = ~card
        parts.append(
            _part(cust[ins], 12, 0, h.base[cand][ins] * params.FEE_INS_RENEWAL, code[ins], c.cur_acc[cust[ins]])
        )
    cur = np.flatnonzero((acc.slot == deposits.SLOT_CUR) & c.has_card[acc.cust] & (acc.open < d) & (acc.close > d))
    if len(cur):
        hit, _ = _anniversary(acc.open[cur], d)
        cur = cur[hit]
        if len(cur):
            br = bank.bridge(int(cal.month_of(d)))
            pos = np.searchsorted(br.rows, cur)
            avg = br.mtd_average(d - br.ms)[pos]
            cur = cur[avg < params.FEE_DEBIT_CARD_WAIVER]
            parts.append(_part(acc.cust[cur], 1, 0, np.full(len(cur), params.FEE_DEBIT_CARD_ANNUAL), "DCUR", cur))
    # ---- financial advisory mandates of large corporates (once a year at most)
    big = np.flatnonzero(size == "L")
    if len(big):
        y = int(cal.year_of(d))
        key = c.uid[big] * 64 + (y % 64)
        day = cal.day(cal.date(0).replace(year=y)) + (uniform(seed, "fee_adv_day", key) * 360).astype(np.int64)
        m = (day == d) & (uniform(seed, "fee_adv", key) < params.FEE_ADVISORY_RATE) & (c.onboard[big] <= d)
        m &= c.t_churn[big] > d
        b = big[m]
        amt = np.minimum(bank.revenue[b] * params.FEE_ADVISORY_SHARE * _negotiated(seed, c, b), params.FEE_ADVISORY_MAX)
        parts.append(_part(b, 15, 0, amt, "ADV01", c.cur_acc[b]))
    if me:
        parts.extend(_month_end(bank, d))
    if not parts:
        return _empty()
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    keep = out["amount"] >= 0.01
    out = {k: v[keep] for k, v in out.items()}
    out["day"] = np.full(len(out["cust"]), d, np.int64)
    return NS(**out)


def _month_end(bank, d: int) -> list[dict]:
    c, h, acc, seed = bank.c, bank.holdings, bank.acc, bank.seed
    m = int(cal.month_of(d))
    parts = []
    size = bank.size
    # account management: corporate current accounts (CNY and USD) open at the month end
    r = np.flatnonzero(c.is_corp[acc.cust] & np.isin(acc.slot, [deposits.SLOT_CUR, deposits.SLOT_USD]))
    r = r[(acc.open[r] <= d) & (acc.close[r] > d)]
    cust = acc.cust[r]
    fee = lookup(size[cust], params.FEE_ACCT_MONTHLY, 0.0) * _negotiated(seed, c, cust)
    parts.append(_part(cust, 0, acc.slot[r], fee, np.where(acc.currency[r] == "USD", "DCURUSD", "DCUR"), r))
    # activity-based: settlement, cash management, payroll
    a = bank.txn_month(m)
    held = {}
    for src in (_SRC_SETL, _SRC_PAYR):
        hr = np.flatnonzero((h.source == src) & _open_at(h, d))
        code = np.full(len(c.uid), None, dtype=object)
        code[h.cust[hr]] = h.code_vocab[h.code_idx[hr]]
        held[src] = code
    chan = np.asarray(deposits.TXN_CHANNELS, dtype=object)[a.channel]
    ttype = np.asarray(deposits.TXN_TYPES, dtype=object)[a.ttype]
    sent = ~a.credit & np.isin(ttype, ["TRF", "PAY"])
    rate = lookup(chan, params.FEE_SETTLEMENT_RATE, 0.0)
    lo = lookup(chan, {k: v[0] for k, v in params.FEE_SETTLEMENT_BOUNDS.items()}, 0.0)
    hi = lookup(chan, {k: v[1] for k, v in params.FEE_SETTLEMENT_BOUNDS.items()}, 0.0)
    corp = c.is_corp[a.cust]
    charged = sent & (rate > 0) & (corp | np.isin(chan, params.FEE_SETTLEMENT_INDIVIDUAL_CHANNELS))
    fee = np.clip(a.cents / 100.0 * rate, a.count * lo, a.count * hi)
    per_cust = np.bincount(a.cust[charged], weights=fee[charged], minlength=len(c.uid))
    cs = np.flatnonzero(per_cust > 0)
    amt = per_cust[cs] * _negotiated(seed, c, cs)
    setl_code = held[_SRC_SETL][cs]
    has_setl = np.not_equal(setl_code, None)
    parts.append(
        _part(cs, 2, 0, amt, np.where(has_setl, setl_code, "DCUR"), c.cur_acc[cs], np.where(has_setl, "SETL", "DEP"))
    )
    # cash management service (CMS01 holders): flat by size + per trade payment sent
    cms = np.flatnonzero(held[_SRC_SETL] == "CMS01")
    pay = ~a.credit & (ttype == "PAY")
    pay_count = np.bincount(a.cust[pay], weights=a.count[pay], minlength=len(c.uid))
    fee = lookup(size[cms], params.FEE_CASH_MANAGEMENT, 0.0) + params.FEE_CASH_MANAGEMENT_PER_PAYMENT * pay_count[cms]
    parts.append(_part(cms, 3, 0, fee * _negotiated(seed, c, cms), "CMS01", c.cur_acc[cms]))
    # payroll service: the employer's salary payments of the month
    sal = ~a.credit & (ttype == "SAL") & corp
    sal_amt = np.bincount(a.cust[sal], weights=a.cents[sal] / 100.0, minlength=len(c.uid))
    pr = np.flatnonzero((held[_SRC_PAYR] == "PAYR01") & (sal_amt > 0))
    fee = np.maximum(sal_amt[pr] * params.FEE_PAYROLL_RATE * _negotiated(seed, c, pr), params.FEE_PAYROLL_MIN)
    parts.append(_part(pr, 13, 0, fee, "PAYR01", c.cur_acc[pr]))
    # holdings valued at the month end: card instalments, fund trailing commission, FX
    hr = np.flatnonzero(np.isin(h.source, [_SRC_CARD, _SRC_FUND, _SRC_FX]) & _open_at(h, d) & (c.onboard[h.cust] <= d))
    value = holdings.amounts_on(seed, h, hr, d, {"map": None}, {"map": None})
    src = h.source[hr]
    code = h.code_vocab[h.code_idx[hr]]
    cust = h.cust[hr]
    util = bank.card_util[cust]
    inst = (src == _SRC_CARD) & (
        uniform(seed, "fee_card_inst", h.key[hr]) < params.FEE_CARD_INSTALMENT_USERS * np.clip(util / 50.0, 0.3, 2.0)
    )
    parts.append(
        _part(cust[inst], 7, 0, value[inst] * params.FEE_CARD_INSTALMENT_RATE, code[inst], c.cur_acc[cust[inst]])
    )
    fund = src == _SRC_FUND
    parts.append(
        _part(
            cust[fund],
            10,
            _holding_seq(h, hr[fund]),
            value[fund] * params.FEE_FUND_TRAILING / 12,
            code[fund],
            c.cur_acc[cust[fund]],
        )
    )
    fx = src == _SRC_FX
    vol = h.base[hr] / 12 * np.exp(0.3 * normal(seed, "fee_fx_vol", h.key[hr] * 4096 + (m % 4096)))
    fee = vol * lookup(code, params.FEE_FX_RATE, 0.0) * _negotiated(seed, c, cust)
    usd = np.full(len(c.uid), -1, dtype=np.int64)
    u_rows = np.flatnonzero(acc.slot == deposits.SLOT_USD)
    usd[acc.cust[u_rows]] = u_rows
    parts.append(_part(cust[fx], 14, 0, fee[fx], code[fx], usd[cust[fx]]))
    return parts


def _empty() -> NS:
    z = np.zeros(0, dtype=np.int64)
    return NS(
        cust=z,
        ev=z,
        seq=z,
        amount=np.zeros(0),
        product=np.zeros(0, dtype=object),
        acc_row=z,
        family=np.zeros(0, dtype=object),
        day=z,
    )


def fee_ids(day: np.ndarray, uid: np.ndarray, ev: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """FE + booking date (8 digits) + 12 digits (customer number, event, sequence)."""
    day = np.asarray(day, np.int64)
    days, inv = np.unique(day, return_inverse=True)
    ymd = np.asarray([cal.date(x).strftime("%Y%m%d") for x in days], dtype=object)[inv.ravel()]  # per distinct day
    return "FE" + ymd + ids.zero_pad("", uid * 100_000 + ev * 1000 + seq % 1000, 12)


def records(bank, t: int, floor: int | None = None) -> NS:
    """The fee records booked on day ``t``: the day's originals and the reversals of earlier records that fall
    on ``t``. ``floor``: reversals of records booked before it are left out (the start of an initial load)."""
    o = bank.fees(t)
    parts = [dict(o.__dict__, reversal_of=np.full(len(o.cust), None, dtype=object), rev=np.zeros(len(o.cust), bool))]
    for d in range(t - params.FEE_REVERSAL_LAG, t):
        if floor is not None and d < floor:
            continue
        e = bank.fees(d)
        if len(e.cust) == 0:
            continue
        key = (bank.c.uid[e.cust] * 100 + e.ev) * 1000 + e.seq
        u = uniform(bank.seed, "fee_rev", key * 65536 + (d - 18000))
        lag = 1 + (uniform(bank.seed, "fee_rev_lag", key * 65536 + (d - 18000)) * params.FEE_REVERSAL_LAG).astype(
            np.int64
        )
        m = (u < params.FEE_REVERSAL_RATE) & (d + lag == t)
        if not m.any():
            continue
        sel = {k: v[m] for k, v in e.__dict__.items()}
        orig_id = fee_ids(sel["day"], bank.c.uid[sel["cust"]], sel["ev"], sel["seq"])
        sel["amount"] = -sel["amount"]
        sel["ev"] = sel["ev"] + REVERSAL
        sel["day"] = np.full(m.sum(), t, np.int64)
        sel["reversal_of"] = orig_id
        sel["rev"] = np.ones(m.sum(), bool)
        parts.append(sel)
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return NS(**out)
