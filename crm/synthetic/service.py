"""Service histories (issue 20): key-account-like customers, their value-added services and contact frequency,
the stage actions (onboarding visit, retention contact, warning check), the green channel of their service
requests, and referrals.

Everything here is a pure function of the bank's latent state: the plan (:func:`plan`) is computed once per bank
and cached on it; a day's planned interactions (:func:`planned_interactions`) and referrals
(:func:`referrals_on`) depend on that day only. Constants in :mod:`crm.synthetic.params` ("service histories");
:mod:`crm.synthetic.service_truth` says who got what and when.
"""

from __future__ import annotations

import numpy as np

from crm.synthetic import cal, coverage, ids, params
from crm.synthetic.rand import choice_index, lookup, uniform
from crm.synthetic.world import NEVER, NS

VAS_PURPOSES = ("BRIEF", "TRAIN", "EVENT", "ADVISE")
STAGE_ACTIONS = ("ONBOARD", "RETAIN", "ALERT")
OUTCOMES = np.array(["ON_TIME", "LATE", "NEVER"], dtype=object)
# per customer and day, the sequence number (interaction id, event key) of each kind of planned interaction;
# the regular interactions use 0..3 (at most 4 a day)
SEQ_VAS, SEQ_STAGE, SEQ_ALERT = 5, 6, 7
# weekdays count 1, weekend days 0.15 (as the regular interactions): a year has about this many weekday units
_YEAR_UNITS = 261 + 104 * 0.15


def _timing(seed: int, tag: str, uid: np.ndarray, trigger: np.ndarray, outcome, window: int, late_max: int):
    """(outcome index 0 on time / 1 late / 2 never, action day or NEVER) for triggers (NEVER: no trigger)."""
    o = choice_index(uniform(seed, tag + "_o", uid), outcome)
    d = uniform(seed, tag + "_d", uid)
    delay = np.where(o == 0, 1 + (d * window).astype(np.int64), window + 1 + (d * (late_max - window)).astype(np.int64))
    has = trigger < NEVER
    day = np.where(has & (o < 2), trigger + delay, NEVER)
    return np.where(has, o, 2), day


def _zscore_log(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    lx = np.log(np.maximum(x, 1.0))
    z = np.zeros(len(x))
    for g in np.unique(groups):  # two segments
        m = groups == g
        sd = lx[m].std()
        z[m] = (lx[m] - lx[m].mean()) / (sd if sd > 0 else 1.0)
    return z


def _alert_episodes(bank) -> tuple[np.ndarray, np.ndarray]:
    """(customer row, due date) of every overdue episode start in the loans' stored history: a loan misses an
    instalment while the customer had no loan in arrears at the previous month's due dates."""
    ln = bank.loans
    S = ln.S
    if S.shape[1] < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ncol = S.shape[1]
    r, j = np.nonzero(S > 0)
    cust_key = ln.cust[r].astype(np.int64) * ncol + j
    arrears_keys = np.unique(cust_key)
    new = (j >= 1) & (S[r, np.maximum(j - 1, 0)] == 0)
    r, j, ck = r[new], j[new], cust_key[new]
    clean_before = ~np.isin(ck - 1, arrears_keys)
    r, j, ck = r[clean_before], j[clean_before], ck[clean_before]
    due = cal.on_day(ln.store_from + j, ln.dd[r]).astype(np.int64)
    order = np.lexsort((due, ck))
    ck, due = ck[order], due[order]
    first = np.r_[True, ck[1:] != ck[:-1]] if len(ck) else np.zeros(0, bool)
    return (ck[first] // ncol).astype(np.int64), due[first]


def plan(bank) -> NS:
    """The bank's service plan per customer (cached on the bank): value band, value-added service and contact
    factors, the stage actions' outcomes and days, the overdue episodes' warning checks, and the referral
    latents."""
    cached = getattr(bank, "_service_plan", None)
    if cached is not None:
        return cached
    seed, c = bank.seed, bank.c
    uid = c.uid
    n = len(uid)
    # value band
    band = np.zeros(n, dtype=np.int64)
    size = np.full(n, "", dtype=object)
    size[bank.corp.pos] = bank.corp.size
    band_corp = lookup(size, params.SERVICE_BAND_SIZE, default=0).astype(np.int64)
    band_ind = np.zeros(n, dtype=np.int64)
    for b, level in reversed(params.SERVICE_BAND_DEPOSIT):  # the first that holds wins
        band_ind = np.where(c.dep_level >= level, b, band_ind)
    band = np.where(c.is_corp, band_corp, band_ind)
    key = band > 0
    vas_short = key & (uniform(seed, "svc_vas_short", uid) < params.VAS_SHORTFALL_SHARE)
    under = key & (uniform(seed, "svc_under", uid) < params.CONTACT_UNDER_SHARE)
    boost = lookup(band, params.CONTACT_BOOST, default=1.0)
    contact = np.where(under, params.CONTACT_UNDER_FACTOR, np.where(key, boost, 1.0))
    vas_factor = np.where(vas_short, params.VAS_SHORTFALL_FACTOR, 1.0)
    # stage actions (none on or after churn)
    onb_o, onb_day = _timing(
        seed,
        "svc_onb",
        uid,
        c.onboard,
        params.ONBOARD_OUTCOME,
        params.ONBOARD_WINDOW_DAYS,
        params.ONBOARD_LATE_MAX_DAYS,
    )
    visible = np.where(c.t_dec < NEVER, c.t_dec + params.RETAIN_VISIBLE_DAYS, NEVER)
    visible = np.where(visible < c.t_churn, visible, NEVER)
    ret_o, ret_day = _timing(
        seed, "svc_ret", uid, visible, params.RETAIN_OUTCOME, params.RETAIN_WINDOW_DAYS, params.RETAIN_LATE_MAX_DAYS
    )
    onb_day = np.where(onb_day < c.t_churn, onb_day, NEVER)
    ret_day = np.where(ret_day < c.t_churn, ret_day, NEVER)
    a_cust, a_start = _alert_episodes(bank)
    a_key = c.uid[a_cust] * 65536 + (a_start % 65536)
    a_o, a_day = _timing(
        seed, "svc_alert", a_key, a_start, params.ALERT_OUTCOME, params.ALERT_WINDOW_DAYS, params.ALERT_LATE_MAX_DAYS
    )
    a_day = np.where(a_day < c.t_churn[a_cust], a_day, NEVER)
    # referral latents
    seg = np.where(c.is_corp, "C", "I")
    z = _zscore_log(c.dep_level, seg)
    sat = c.quality_pref + 0.45 * bank.org.staff.quality[c.manager]
    tilt = params.REFERRAL_VALUE_TILT
    p_ref = lookup(seg, params.REFERRAL_SHARE) * np.exp(tilt * z - tilt * tilt / 2)
    referred = uniform(seed, "svc_referred", uid) < np.clip(p_ref, 0.0, 1.0)
    weight = np.exp(params.REFERRER_SATISFACTION * sat + params.REFERRER_VALUE * z)
    by_sb = np.argsort(c.sb, kind="stable")
    sb_sorted = c.sb[by_sb]
    n_sb = int(c.sb.max()) + 1 if n else 0
    sb_lo = np.searchsorted(sb_sorted, np.arange(n_sb), side="left")
    sb_hi = np.searchsorted(sb_sorted, np.arange(n_sb), side="right")
    out = NS(
        band=band,
        vas_short=vas_short,
        vas_factor=vas_factor,
        under=under,
        contact=contact,
        onb_outcome=onb_o,
        onb_day=onb_day,
        visible=visible,
        ret_outcome=ret_o,
        ret_day=ret_day,
        alert_cust=a_cust,
        alert_start=a_start,
        alert_outcome=a_o,
        alert_day=a_day,
        z_value=z,
        sat=sat,
        referred=referred,
        weight=weight,
        by_sb=by_sb,
        sb_lo=sb_lo,
        sb_hi=sb_hi,
    )
    bank._service_plan = out
    return out


def _channels(u: np.ndarray, spec) -> np.ndarray:
    codes, weights = spec
    return np.asarray(codes, dtype=object)[choice_index(u, weights)]


def planned_interactions(bank, t: int, alive: np.ndarray, weekday_factor: float) -> NS:
    """The planned interactions of day ``t``: value-added services to banded customers among ``alive`` (rows),
    onboarding visits, retention contacts and warning checks. Columns rows, seq, purpose, channel, staff."""
    seed, c = bank.seed, bank.c
    p = plan(bank)
    parts = []
    # value-added services: at most one a day per customer
    kr = alive[p.band[alive] > 0]
    if len(kr):
        rates = np.stack(
            [lookup(p.band[kr], {b: r[k] for b, r in params.VAS_RATES.items()}, default=0.0) for k in VAS_PURPOSES],
            axis=1,
        )
        lam = rates.sum(axis=1) * p.vas_factor[kr] / _YEAR_UNITS * weekday_factor
        k = c.uid[kr] * 32768 + (t - 18000)
        hit = uniform(seed, "svc_vas_n", k) < -np.expm1(-lam)
        kr, rates, k = kr[hit], rates[hit], k[hit]
        cdf = np.cumsum(rates, axis=1) / rates.sum(axis=1, keepdims=True)
        which = (uniform(seed, "svc_vas_p", k)[:, None] >= cdf).sum(axis=1)
        purpose = np.asarray(VAS_PURPOSES, dtype=object)[np.minimum(which, len(VAS_PURPOSES) - 1)]
        channel = np.empty(len(kr), dtype=object)
        u = uniform(seed, "svc_vas_c", k)
        for name in VAS_PURPOSES:  # loop over four purposes
            m = purpose == name
            channel[m] = _channels(u[m], params.VAS_CHANNELS[name])
        parts.append((kr, SEQ_VAS, purpose, channel))
    # onboarding visits and retention contacts (never on the same day: the decline starts 90+ days in)
    r = np.flatnonzero(p.onb_day == t)
    if len(r):
        u = uniform(seed, "svc_onb_c", c.uid[r])
        ch = np.where(
            c.is_corp[r], _channels(u, params.ONBOARD_CHANNELS["C"]), _channels(u, params.ONBOARD_CHANNELS["I"])
        )
        parts.append((r, SEQ_STAGE, np.full(len(r), "ONBOARD", dtype=object), ch.astype(object)))
    r = np.flatnonzero(p.ret_day == t)
    if len(r):
        ch = _channels(uniform(seed, "svc_ret_c", c.uid[r]), params.RETAIN_CHANNELS)
        parts.append((r, SEQ_STAGE, np.full(len(r), "RETAIN", dtype=object), ch))
    # warning checks (two episodes' checks on one day: one)
    r = np.unique(p.alert_cust[p.alert_day == t])
    if len(r):
        ch = _channels(uniform(seed, "svc_alert_c", c.uid[r] * 32768 + (t - 18000)), params.ALERT_CHANNELS)
        parts.append((r, SEQ_ALERT, np.full(len(r), "ALERT", dtype=object), ch))
    if not parts:
        e = np.zeros(0, dtype=np.int64)
        return NS(rows=e, seq=e, purpose=np.zeros(0, object), channel=np.zeros(0, object), staff=e)
    rows = np.concatenate([x[0] for x in parts]).astype(np.int64)
    seq = np.concatenate([np.full(len(x[0]), x[1], dtype=np.int64) for x in parts])
    purpose = np.concatenate([x[2] for x in parts]).astype(object)
    channel = np.concatenate([x[3] for x in parts]).astype(object)
    return NS(rows=rows, seq=seq, purpose=purpose, channel=channel, staff=c.manager[rows])


def green_factors(bank, rows: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(green, response factor, resolution factor) of service requests of customers ``rows`` (event keys
    ``key``): banded customers' requests go through the green channel unless missed."""
    band = plan(bank).band[rows]
    green = (band > 0) & (uniform(bank.seed, "sr_green", key) >= params.GREEN_MISS_SHARE)
    return (
        green,
        np.where(green, params.GREEN_FACTOR_RESPONSE, 1.0),
        np.where(green, params.GREEN_FACTOR_RESOLUTION, 1.0),
    )


def referrals_on(bank, t: int) -> NS:
    """Referrals of day ``t``: the referred customers who open their relationship that day, their referrer
    (an active customer, drawn by satisfaction and value), channel and taking staff (-1: none)."""
    seed, c = bank.seed, bank.c
    p = plan(bank)
    rows = np.flatnonzero((c.onboard == t) & p.referred)
    e = np.zeros(0, dtype=np.int64)
    if len(rows) == 0:
        return NS(rows=e, referrer=e, channel=np.zeros(0, object), staff=e, referral_id=np.zeros(0, object))
    eligible = (c.onboard < t) & (c.t_dec > t) & (c.t_dorm > t) & (c.t_churn > t)
    w = np.where(eligible, p.weight, 0.0)[p.by_sb]
    cum = np.cumsum(w)
    total = cum[-1] if len(cum) else 0.0
    if total <= 0:
        return NS(rows=e, referrer=e, channel=np.zeros(0, object), staff=e, referral_id=np.zeros(0, object))
    sb = c.sb[rows]
    lo_i, hi_i = p.sb_lo[sb], p.sb_hi[sb]
    lo = np.where(lo_i > 0, cum[np.maximum(lo_i - 1, 0)], 0.0)
    hi = np.where(hi_i > 0, cum[np.maximum(hi_i - 1, 0)], 0.0)
    k = c.uid[rows]
    same = (uniform(seed, "ref_same", k) < params.REFERRAL_SAME_BRANCH) & (hi > lo)
    u = uniform(seed, "ref_pick", k)
    target = np.where(same, lo + u * (hi - lo), u * total)
    idx = np.minimum(np.searchsorted(cum, target, side="right"), len(cum) - 1)
    referrer = p.by_sb[idx]
    ok = eligible[referrer] & (referrer != rows)
    rows, referrer, k = rows[ok], referrer[ok], k[ok]
    channel = _channels(uniform(seed, "ref_channel", k), params.REFERRAL_CHANNELS)
    staff = np.where(channel == "APP", -1, coverage.manager_at(bank, referrer, t))  # serving that day
    rid = "RF" + cal.date(t).strftime("%Y%m%d") + ids.zero_pad("", k, 12)
    return NS(rows=rows, referrer=referrer, channel=channel, staff=staff, referral_id=np.asarray(rid, dtype=object))
