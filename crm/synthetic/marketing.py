"""The bank's front office: what the staff do with the proposal list, and what the customers then take up.

At every month end ``m`` from ``params.MARKETING_FIRST_MONTH_END`` to the last month end before the range's end,
for each proposal type the generator lists its own candidates (from what it knows of the customers: their
latent deposit level, employees, supply-chain links, products held, lifecycle), plus false positives drawn
among the customers who do not need the product, and the placebo type RATE_SWITCH for a share of the
borrowers. It holds some out with :mod:`crm.playbook.holdout` (``held_out_many``: ``held_out``'s draw for the
month's types in one query) on the customers' keyed tokens, with the
key ring the pipeline uses (``generate(..., masking_key=...)``; without one a fixed generator ring, with which
the pipeline's split does not match), and the share and salt of ``[proposals.holdout]``. The manager offers
the others in the first weeks of the next month (an ``opportunities`` record, source SYS); the customer accepts
with a probability that depends on the fit (the need real or not), declines (with a reason) or lets it lapse.
An accepted offer becomes a product holding opened on the acceptance day (its id is the record's contract_id);
an accepted RATE_SWITCH changes an existing loan's rate type (the contract named is that loan's), so the offer
changes no take-up. Customers also open products without any offer (organic take-up, more often when the
need is real), some asking for it themselves (source CUST); managers make a few offers of their own (RM).

Non-credit types only: WEALTH (WMP / FUND), PAYROLL (PAYR), SETTLE (SETL), SCF, and the placebo RATE_SWITCH.
RENEW, LIMIT_UP, SEASONAL, REPAY_SWITCH and DEPOSIT are not simulated (docs/synthetic.md says why).

Everything is drawn from counter-based streams keyed by (customer, month, type), month by month in order (a
month's list sees the products opened after the earlier months' offers), so a business date's files depend
only on the bank, the key ring and the hold-out settings, not on the range generated.
"""

from __future__ import annotations

import hashlib

import numpy as np

from crm.synthetic import cal, holdings, ids, params
from crm.synthetic import loans as L
from crm.synthetic.rand import choice_index, sigmoid, uniform
from crm.synthetic.world import NEVER, NS, lifecycle_factor

TYPES = ("WEALTH", "PAYROLL", "SETTLE", "SCF", "RATE_SWITCH")
TYPE_CODE = {t: i + 1 for i, t in enumerate(TYPES)}  # in opportunity ids and draw keys
PLACEBO = "RATE_SWITCH"
SOURCES = ("SYS", "RM", "CUST")
OUTCOMES = np.array(["P", "A", "D", "X"], dtype=object)
O_ACCEPTED, O_DECLINED, O_LAPSED = 1, 2, 3
DECLINE_CODES = tuple(params.MARKETING_DECLINE_WEIGHTS)
# new holdings: key = family code x 10**15 + NEW_HOLDING_KEY + customer number x 1024 + month index (the base
# holdings' keys stay far below it)
NEW_HOLDING_KEY = 9 * 10**14
_RING_SEED = b"crm.synthetic: the front office's fixed key ring"
_FAMILY = holdings.FAMILY_CODE
# holding source codes of the holdings module (fees and amounts read them)
_SOURCE = {"WMP": 4, "FUND": 5, "PAYR": 7, "SETL": 8, "SCF": 10}


def generator_ring():
    """The fixed key ring used when the generator is given none: the pipeline's tokens (made with its own
    ring) differ, so its hold-out split does not match the front office's (the measured uplift is then ~0)."""
    from crm.privacy.tokens import KeyRing

    return KeyRing(keys={"k1": hashlib.sha256(_RING_SEED).digest()}, current="k1")


def resolve_ring(masking_key):
    """A KeyRing from ``masking_key``: None (the generator's ring), a KeyRing, or a spec ``load_ring`` takes
    (a key file's path or 64+ hex digits)."""
    from crm.privacy.tokens import KeyRing, load_ring

    if masking_key is None:
        return generator_ring()
    if isinstance(masking_key, KeyRing):
        return masking_key
    return load_ring(str(masking_key))


def holdout_settings(share: float | None = None, salt: str | None = None) -> tuple[float, str]:
    """The hold-out share and salt: ``[proposals.holdout]`` of the playbook configuration unless given."""
    from crm.playbook import load_config

    cfg = load_config()["proposals"]["holdout"]
    return float(cfg["share"] if share is None else share), str(cfg["salt"] if salt is None else salt)


def price_sensitivity(c: NS) -> np.ndarray:
    """Each customer's sensitivity to price (0..1): riskier customers pay more and rate pricing lower in surveys,
    like those with a low disposition to be satisfied; corporates negotiate more."""
    return sigmoid(0.8 * np.clip(c.eta, -2, 2) - 1.5 * c.quality_pref + np.where(c.is_corp, 0.3, 0.0))


def month_ends(end_day: int) -> range:
    """Month numbers of the month ends whose proposals the front office works: from the first one through the
    last month end before ``end_day``."""
    first = cal.month_number(params.MARKETING_FIRST_MONTH_END)
    last = int(cal.month_of(end_day)) - 1
    return range(first, last + 1)


def _weighted_pick(u: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row, the index chosen by ``u`` among the row's ``weights`` (rows x options)."""
    cdf = np.cumsum(weights, axis=1)
    cdf = cdf / cdf[:, -1:]
    return np.minimum((u[:, None] >= cdf).sum(axis=1), weights.shape[1] - 1)


class _Book:
    """Records and holdings accumulated month by month."""

    def __init__(self):
        self.rec: dict[str, list] = {
            k: []
            for k in (
                "cust",
                "tcode",
                "source",
                "offer",
                "outcome",
                "outcome_day",
                "contract",
                "reason",
                "channel",
                "amount",
                "product",
                "family",
            )
        }
        self.hold: dict[str, list] = {
            k: [] for k in ("cust", "family", "code", "open", "close", "source", "base", "key")
        }
        self.cand: dict[str, list] = {k: [] for k in ("month_end", "cust", "tcode", "need", "held")}

    def add(self, part: dict, into: dict) -> None:
        for k, v in part.items():
            into[k].append(np.asarray(v))

    @staticmethod
    def cat(d: dict, dtypes: dict) -> NS:
        return NS(**{k: (np.concatenate(v) if v else np.zeros(0, dtype=dtypes.get(k, np.int64))) for k, v in d.items()})


def simulate(bank, ring, share: float, salt: str) -> NS:
    """Run the front office over the bank's month ends; returns the opportunity records (``records``), the
    lists with their hold-out (``candidates``) and the holdings the offers and organic demand opened
    (``holdings``, in the layout of :func:`crm.synthetic.holdings.build_holdings`' parts)."""
    from crm.playbook.holdout import held_out_many
    from crm.privacy.tokens import tokenise

    c, seed, h, ln = bank.c, bank.seed, bank.holdings, bank.loans
    n = len(c.uid)
    book = _Book()
    months = month_ends(bank.end_day)
    if len(months) == 0:
        return _finish(book)
    tokens = np.asarray(tokenise(c.cid, "customer", ring).astype(object), dtype=object)
    rows_all = np.arange(n)
    is_corp = c.is_corp
    seg = np.where(is_corp, "C", "I")
    employees = np.zeros(n, dtype=np.int64)
    employees[bank.corp.pos] = bank.corp.employees
    price_sens = price_sensitivity(c)
    # supply-chain links that make supply-chain finance a real need
    rp = bank.related
    link = np.flatnonzero(
        np.isin(rp.relation_type, ["SUPPLIER", "BUYER"]) & (rp.amount >= params.MARKETING_SCF_MIN_VOLUME)
    )
    link_volume = np.nan_to_num(rp.amount[link])
    # the base holdings by family code, and the loans that can be switched
    # family code of each base holding from its source (holdings.build_holdings: one family per source)
    by_source = np.full(16, -1, dtype=np.int64)
    for fam, src in {"DEP": 1, "LOAN": 2, "CARD": 3, "INS": 6, "FX": 9, **_SOURCE}.items():  # ten families
        by_source[src] = _FAMILY[fam]
    h_fam = by_source[h.source.astype(np.int64)]
    h_cust, h_open, h_close = h.cust, h.open, h.close
    loan_ok = ln.kind != L.KIND_CANCELLED
    busy = {tp: np.full(n, -1, dtype=np.int64) for tp in TYPES}  # not offered again before this day
    pending = {tp: np.full(n, -1, dtype=np.int64) for tp in TYPES}  # an offer open until this day
    m0 = months[0]
    for m in months:  # a loop over the month ends (at most a few dozen)
        t = int(cal.month_end(m))
        mi = m - m0
        me = cal.date(t)
        active = (c.onboard <= t) & (c.t_churn > t)
        live = (h_open <= t) & (h_close > t)
        has = {f: np.bincount(h_cust[live & (h_fam == code)], minlength=n) > 0 for f, code in _FAMILY.items()}
        level = c.dep_level * lifecycle_factor(c, rows_all, np.full(n, t))
        linked = np.zeros(n, dtype=bool)
        volume = np.zeros(n)
        lk = link[(rp.start[link] <= t) & (rp.end[link] > t)]
        linked[rp.cust[lk]] = True
        np.maximum.at(volume, rp.cust[lk], link_volume[np.searchsorted(link, lk)])
        live_loan = np.flatnonzero(loan_ok & (ln.start <= t) & (ln.end_day > t))
        first_loan = np.full(n, -1, dtype=np.int64)
        first_loan[ln.cust[live_loan[::-1]]] = live_loan[::-1]  # the customer's earliest live loan
        # each type's population (who could take it up) and who of them really needs it
        pops = {
            "WEALTH": active & ~has["WMP"] & ~has["FUND"],
            "PAYROLL": active & is_corp & ~has["PAYR"],
            "SETTLE": active & is_corp & ~has["SETL"],
            "SCF": active & is_corp & ~has["SCF"],
            PLACEBO: active & (first_loan >= 0),
        }
        needs = {
            "WEALTH": level
            >= np.where(is_corp, params.MARKETING_WEALTH_LEVEL["C"], params.MARKETING_WEALTH_LEVEL["I"]),
            "PAYROLL": employees >= params.MARKETING_PAYROLL_MIN_EMPLOYEES,
            "SETTLE": t < c.t_dec,
            "SCF": linked,
            PLACEBO: np.zeros(n, dtype=bool),
        }
        ctx = NS(
            t=t,
            mi=mi,
            seg=seg,
            price_sens=price_sens,
            level=level,
            volume=volume,
            first_loan=first_loan,
            book=book,
            busy=busy,
            pending=pending,
        )
        # the month's lists of every type first (a list reads the products held at the month end), then one
        # hold-out draw for all of them
        lists = {}
        for tp in TYPES:  # a loop over the five proposal types
            pop = pops[tp]
            need = pop & needs[tp]
            p = np.flatnonzero(pop)  # draws for the population only (counter-based: the same values)
            key = c.uid[p] * 4096 + mi * 8 + TYPE_CODE[tp]
            free = busy[tp][p] < t
            u_list = uniform(seed, "mk_list", key)
            if tp == PLACEBO:
                listed = free & (u_list < params.MARKETING_PLACEBO_SHARE)
            else:
                listed = (need[p] | (u_list < params.MARKETING_FALSE_POSITIVE[tp])) & free
            lists[tp] = (p, need, key, free, listed, p[listed])
        all_cand = np.concatenate([v[5] for v in lists.values()])
        all_type = np.concatenate([np.full(len(v[5]), tp, dtype=object) for tp, v in lists.items()])
        all_held = held_out_many(tokens[all_cand].tolist(), all_type.tolist(), me, share, salt)
        at = 0
        for tp, (p, need, key, free, listed, cand) in lists.items():  # a loop over the five proposal types
            k = TYPE_CODE[tp]
            held = all_held[at : at + len(cand)]
            at += len(cand)
            book.add(
                dict(
                    month_end=np.full(len(cand), t), cust=cand, tcode=np.full(len(cand), k), need=need[cand], held=held
                ),
                book.cand,
            )
            accepted = np.zeros(n, dtype=bool)
            offered = cand[~held]
            accepted[_offer(bank, ctx, tp, offered, need[offered], 0)] = True
            if tp == PLACEBO:
                continue
            rm = p[~listed & ~need[p] & free & (uniform(seed, "mk_rm", key) < params.MARKETING_RM_SHARE)]
            accepted[_offer(bank, ctx, tp, rm, need[rm], 1)] = True
            # organic take-up: the same chance whether offered or held out (an accepted offer takes its place)
            p_org = np.where(need[p], params.MARKETING_ORGANIC["need"], params.MARKETING_ORGANIC["no_need"])
            org = p[~accepted[p] & (pending[tp][p] < t) & (uniform(seed, "mk_organic", key) < p_org)]
            _organic(bank, ctx, tp, org)
    return _finish(book)


def _finish(book: _Book) -> NS:
    rec = _Book.cat(
        book.rec,
        {k: object for k in ("contract", "reason", "channel", "product", "family")} | {"amount": np.float64},
    )
    order = np.lexsort((rec.source, rec.tcode, rec.cust, rec.offer))
    rec = NS(**{k: v[order] for k, v in rec.__dict__.items()})
    hold = _Book.cat(book.hold, {"family": object, "code": object, "base": np.float64})
    cand = _Book.cat(book.cand, {"need": bool, "held": bool})
    return NS(records=rec, holdings=hold, candidates=cand)


def _product(bank, ctx, tp: str, rows: np.ndarray, day: np.ndarray, key: np.ndarray):
    """(family, product code, holding base amount, offered amount, close day) of product ``tp`` for ``rows``
    opened on ``day``."""
    c, seed = bank.c, bank.seed
    m = len(rows)
    u = uniform(seed, "mk_product", key)
    close = np.minimum(c.t_churn[rows], NEVER)
    nan = np.full(m, np.nan)
    if tp == "WEALTH":
        fund = ~c.is_corp[rows] & (u < 0.3)
        amount = np.maximum(np.round(ctx.level[rows] * (0.3 + 0.4 * uniform(seed, "mk_amount", key)), -4), 10_000.0)
        term = np.asarray([3, 6, 12])[choice_index(uniform(seed, "mk_term", key), [0.3, 0.4, 0.3])]
        wm_code = (
            "WM" + cal.year_of(day).astype(str).astype(object) + ids.zero_pad("", (c.uid[rows] * 7 + ctx.mi) % 10**4, 4)
        )
        fund_code = holdings.FUND_CODES[(uniform(seed, "mk_fund", key) * len(holdings.FUND_CODES)).astype(int)]
        family = np.where(fund, "FUND", "WMP").astype(object)
        code = np.where(fund, fund_code, wm_code).astype(object)
        close = np.where(fund, close, np.minimum(cal.add_months(day, term), close))
        return family, code, amount, amount, close
    if tp == "PAYROLL":
        return np.full(m, "PAYR", object), np.full(m, "PAYR01", object), nan, nan, close
    if tp == "SETTLE":
        big = np.isin(bank.size[rows], ["L", "M"])
        return np.full(m, "SETL", object), np.where(big, "CMS01", "SETL01").astype(object), nan, nan, close
    if tp == "SCF":
        amount = np.maximum(np.round(ctx.volume[rows] * 0.15, -4), 100_000.0)
        code = np.where(u < 0.6, "SCFAR01", "SCFPO01").astype(object)
        return np.full(m, "SCF", object), code, amount, amount, close
    raise ValueError(tp)


def _codes(values: np.ndarray, mapping: dict) -> np.ndarray:
    """``mapping`` of each value (a few distinct values: mapped once each)."""
    uniq, inv = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    return np.asarray([mapping[u] for u in uniq], dtype=np.int64)[inv.ravel()]  # a loop over distinct values


def _open_holdings(bank, ctx, tp: str, rows: np.ndarray, day: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Open the product for ``rows`` on ``day``; returns the holding ids."""
    family, code, base, _, close = _product(bank, ctx, tp, rows, day, key)
    fam_code = _codes(family, _FAMILY)
    hkey = fam_code * 10**15 + NEW_HOLDING_KEY + bank.c.uid[rows] * 1024 + ctx.mi
    src = _codes(family, _SOURCE).astype(np.int8)
    ctx.book.add(
        dict(cust=rows, family=family, code=code, open=day, close=close, source=src, base=base, key=hkey),
        ctx.book.hold,
    )
    return "HD" + ids.zero_pad("", hkey, 17)


def _channels(bank, ctx, key: np.ndarray, rows: np.ndarray) -> np.ndarray:
    u = uniform(bank.seed, "mk_channel", key)
    out = np.empty(len(rows), dtype=object)
    for s, (codes, weights) in params.MARKETING_CHANNELS.items():  # two segments
        m = ctx.seg[rows] == s
        out[m] = np.asarray(codes, dtype=object)[choice_index(u[m], weights)]
    return out


def _offer(bank, ctx, tp: str, rows: np.ndarray, need: np.ndarray, source: int) -> np.ndarray:
    """Offer ``tp`` to ``rows`` (source 0 SYS, 1 RM); record the offers, open the accepted products, and
    return the customers who accepted."""
    if len(rows) == 0:
        return rows
    c, seed, ln = bank.c, bank.seed, bank.loans
    t, mi = ctx.t, ctx.mi
    k = TYPE_CODE[tp]
    key = (c.uid[rows] * 4096 + mi * 8 + k) * 4 + source
    offer = t + 1 + (uniform(seed, "mk_offer_day", key) * params.MARKETING_OFFER_DAYS).astype(np.int64)
    ps = ctx.price_sens[rows]
    fit = "placebo" if tp == PLACEBO else None
    p_acc = np.where(need, params.MARKETING_ACCEPT["need"], params.MARKETING_ACCEPT[fit or "no_need"]) * (
        1 + params.MARKETING_PRICE_EFFECT * (0.5 - ps)
    )
    u = uniform(seed, "mk_outcome", key)
    acc = u < p_acc
    dec = ~acc & (u < p_acc + (1 - p_acc) * params.MARKETING_DECLINE_SHARE)
    ud = uniform(seed, "mk_delay", key)
    a_lo, a_hi = params.MARKETING_ACCEPT_DAYS
    d_lo, d_hi = params.MARKETING_DECLINE_DAYS
    out_day = np.where(
        acc,
        offer + a_lo + (ud * (a_hi - a_lo + 1)).astype(np.int64),
        np.where(dec, offer + d_lo + (ud * (d_hi - d_lo + 1)).astype(np.int64), offer + params.MARKETING_LAPSE_DAYS),
    )
    # a customer who leaves before accepting lets the offer lapse
    gone = acc & (out_day >= c.t_churn[rows])
    acc &= ~gone
    out_day = np.where(gone, offer + params.MARKETING_LAPSE_DAYS, out_day)
    outcome = np.where(acc, O_ACCEPTED, np.where(dec, O_DECLINED, O_LAPSED))
    # decline reasons: PRICE grows with price sensitivity, NONEED when the need is not real
    w = np.tile(np.asarray(list(params.MARKETING_DECLINE_WEIGHTS.values())), (len(rows), 1))
    w[:, DECLINE_CODES.index("PRICE")] += params.MARKETING_DECLINE_PRICE_SLOPE * ps
    w[:, DECLINE_CODES.index("NONEED")] += np.where(need, 0.0, params.MARKETING_DECLINE_NONEED_EXTRA)
    reason = np.asarray(DECLINE_CODES, dtype=object)[_weighted_pick(uniform(seed, "mk_reason", key), w)]
    reason = np.where(outcome == O_DECLINED, reason, None).astype(object)
    contract = np.full(len(rows), None, dtype=object)
    a = np.flatnonzero(acc)
    if tp == PLACEBO:
        loan = ctx.first_loan[rows]
        family = np.full(len(rows), "LOAN", object)
        product = (ln.product[loan] + "01").astype(object)
        amount = ln.amount[loan].astype(np.float64)
        contract[a] = L.contract_ids(ln, loan[a])
    else:
        family, product, _, amount, _ = _product(bank, ctx, tp, rows, out_day, key)
        contract[a] = _open_holdings(bank, ctx, tp, rows[a], out_day[a], key[a])
        family = family.astype(object)
    ctx.busy[tp][rows] = np.where(acc, out_day, out_day + params.MARKETING_COOLDOWN_DAYS)
    ctx.pending[tp][rows] = out_day
    ctx.book.add(
        dict(
            cust=rows,
            tcode=np.full(len(rows), k),
            source=np.full(len(rows), source),
            offer=offer,
            outcome=outcome,
            outcome_day=out_day,
            contract=contract,
            reason=reason,
            channel=_channels(bank, ctx, key, rows),
            amount=amount,
            product=product,
            family=family,
        ),
        ctx.book.rec,
    )
    return rows[acc]


def _organic(bank, ctx, tp: str, rows: np.ndarray) -> None:
    """Products opened without an offer on a day of the next month; some customers asked for it (source CUST:
    a record accepted on the day it is made)."""
    if len(rows) == 0:
        return
    c, seed = bank.c, bank.seed
    k = TYPE_CODE[tp]
    key = (c.uid[rows] * 4096 + ctx.mi * 8 + k) * 4 + 2
    nm = int(cal.month_of(ctx.t)) + 1
    day = ctx.t + 1 + (uniform(seed, "mk_organic_day", key) * cal.days_in_month(nm)).astype(np.int64)
    ok = day < c.t_churn[rows]
    rows, day, key = rows[ok], day[ok], key[ok]
    hid = _open_holdings(bank, ctx, tp, rows, day, key)
    asked = uniform(seed, "mk_asked", key) < params.MARKETING_CUSTOMER_ASKED
    r = rows[asked]
    if len(r) == 0:
        return
    family, product, _, amount, _ = _product(bank, ctx, tp, r, day[asked], key[asked])
    u = uniform(seed, "mk_channel", key[asked])
    ctx.book.add(
        dict(
            cust=r,
            tcode=np.full(len(r), k),
            source=np.full(len(r), 2),
            offer=day[asked],
            outcome=np.full(len(r), O_ACCEPTED),
            outcome_day=day[asked],
            contract=hid[asked],
            reason=np.full(len(r), None, dtype=object),
            channel=np.where(u < 0.6, "BRANCH", "PHONE").astype(object),
            amount=amount,
            product=product,
            family=family.astype(object),
        ),
        ctx.book.rec,
    )


def opportunity_ids(bank, rec: NS, rows: np.ndarray) -> np.ndarray:
    """OP + offer date (8 digits) + customer number, type and source (12 digits)."""
    day = rec.offer[rows]
    days, inv = np.unique(day, return_inverse=True)
    ymd = np.asarray([cal.date(int(x)).strftime("%Y%m%d") for x in days], dtype=object)[inv.ravel()]  # per day
    serial = bank.c.uid[rec.cust[rows]] * 1000 + rec.tcode[rows] * 10 + rec.source[rows]
    return "OP" + ymd + ids.zero_pad("", serial, 12)


def records_on(bank, t: int) -> NS:
    """The records sent on day ``t``: offers made that day (pending unless decided the same day) and offers
    whose outcome was reached that day; state at the end of the day."""
    rec = bank.front_office.records
    rows = np.flatnonzero((rec.offer == t) | ((rec.outcome_day == t) & (rec.offer < t)))
    decided = rec.outcome_day[rows] == t
    return NS(rows=rows, decided=decided)


def types_of(codes: np.ndarray) -> np.ndarray:
    return np.asarray(TYPES, dtype=object)[np.asarray(codes, dtype=np.int64) - 1]


def merge_holdings(h: NS, new: NS) -> NS:
    """The base holdings with the front office's appended, in the base order (customer, key)."""
    if len(new.cust) == 0:
        return h
    codes = h.code_vocab[h.code_idx]
    cols = {
        "cust": np.concatenate([h.cust, new.cust.astype(np.int64)]),
        "family": np.concatenate([h.family, new.family]),
        "open": np.concatenate([h.open, new.open.astype(np.int64)]),
        "close": np.concatenate([h.close, new.close.astype(np.int64)]),
        "source": np.concatenate([h.source, new.source.astype(np.int8)]),
        "src_row": np.concatenate([h.src_row, np.full(len(new.cust), -1, dtype=np.int64)]),
        "base": np.concatenate([h.base, new.base.astype(np.float64)]),
        "key": np.concatenate([h.key, new.key.astype(np.int64)]),
    }
    code = np.concatenate([codes, new.code]).astype(str)
    valid = cols["open"] < cols["close"]
    order = np.flatnonzero(valid)[np.lexsort((cols["key"][valid], cols["cust"][valid]))]
    out = NS(**{k: v[order] for k, v in cols.items()})
    out.code_vocab, out.code_idx = np.unique(code[order], return_inverse=True)
    out.code_vocab = out.code_vocab.astype(object)
    return out
