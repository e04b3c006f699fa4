"""Daily events: manager interactions, service requests and satisfaction surveys (credit-bureau pulls are in
:mod:`crm.synthetic.bureau`).

Event counts are Poisson draws from counter-based uniforms keyed by (customer, day), so a day's events do not
depend on which other days are generated.
"""

from __future__ import annotations

import numpy as np

from crm.synthetic import cal, ids, params, service, texts
from crm.synthetic import loans as L
from crm.synthetic.rand import choice_index, hash64, lookup, normal, poisson_from_uniform, uniform
from crm.synthetic.world import NS

DAY0 = 18000  # day-number offset used in hash keys


def event_key(uid: np.ndarray, t: int, seq: np.ndarray | int = 0) -> np.ndarray:
    """The hash key of a customer's ``seq``-th event of day ``t`` (also used by :mod:`crm.synthetic.bureau`)."""
    return (np.asarray(uid, dtype=np.int64) * 8 + seq) * 32768 + (t - DAY0)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.repeat(np.arange(len(counts)), counts)
    seq = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows, seq


def _weekday_factor(t: int) -> float:
    return 1.0 if int(cal.weekday(np.array([t]))[0]) < 5 else 0.15


# ============================================================================================ interactions

PURPOSES = np.array(["REVIEW", "MARKET", "SERVICE", "COLLECT", "CARE"], dtype=object)  # the regular ones;
# the planned ones (value-added services, stage actions) come from crm.synthetic.service
I_CHANNELS = np.array(["VISIT", "BRANCH", "PHONE", "WECHAT", "VIDEO"], dtype=object)


def interactions(bank, t: int) -> NS:
    c = bank.c
    st = bank.customer_status(t)
    alive = np.flatnonzero((c.onboard <= t) & (st.status != "C"))
    uid = c.uid[alive]
    corp = c.is_corp[alive]
    size_rate = np.zeros(len(c.uid))
    size_rate[bank.corp.pos] = (
        lookup(bank.corp.size, {"L": 3.0, "M": 2.0, "S": 1.0, "X": 0.5}) if len(bank.corp.pos) else 0.0
    )
    rate = np.where(corp, size_rate[alive], np.where(c.dep_level[alive] > 200_000, 0.5, 0.08))
    arrears = st.arrears[alive]
    rate = rate + np.where(arrears > 0, 3.0, 0.0)
    rate = np.where(st.status[alive] == "D", rate * 0.2, rate)
    rate = rate * service.plan(bank).contact[alive]  # key-account-like customers: more (or, some, less) contact
    q = bank.org.staff.quality[c.manager[alive]]
    wf = _weekday_factor(t)
    lam = rate * np.exp(0.2 * q) / 21.0 * wf
    counts = poisson_from_uniform(uniform(bank.seed, "int_n", event_key(uid, t)), lam, 4)
    r, seq = _expand(counts)
    rows = alive[r]
    key = event_key(c.uid[rows], t, seq)
    is_corp = c.is_corp[rows]
    delinquent = arrears[r] > 0
    u = [uniform(bank.seed, f"int_{i}", key) for i in range(6)]
    p_corp = choice_index(u[0], [0.35, 0.35, 0.15, 0.0, 0.15])
    p_ind = choice_index(u[0], [0.1, 0.4, 0.25, 0.0, 0.25])
    purpose = PURPOSES[np.where(is_corp, p_corp, p_ind)]
    purpose = np.where(delinquent & (u[1] < 0.7), "COLLECT", purpose).astype(object)
    ch_corp = choice_index(u[2], [0.45, 0.05, 0.25, 0.2, 0.05])
    ch_ind = choice_index(u[2], [0.05, 0.2, 0.45, 0.3, 0.0])
    channel = I_CHANNELS[np.where(is_corp, ch_corp, ch_ind)]
    channel = np.where(purpose == "COLLECT", np.where(u[3] < 0.8, "PHONE", "VISIT"), channel).astype(object)
    staff = c.manager[rows]
    bh = bank.org.bh_row[c.sb[rows]]
    staff = np.where(is_corp & (channel == "VISIT") & (u[3] < 0.12), bh, staff)
    # the planned ones: value-added services, onboarding visits, retention contacts, warning checks
    x = service.planned_interactions(bank, t, alive, wf)
    rows = np.concatenate([rows, x.rows])
    seq = np.concatenate([seq, x.seq])
    key = np.concatenate([key, event_key(c.uid[x.rows], t, x.seq)])
    is_corp = c.is_corp[rows]
    purpose = np.concatenate([purpose, x.purpose]).astype(object)
    channel = np.concatenate([channel, x.channel]).astype(object)
    staff = np.concatenate([staff, x.staff]).astype(np.int64)
    u = [uniform(bank.seed, f"int_{i}", key) for i in range(6)]
    office = np.isin(channel, ["VISIT", "BRANCH", "VIDEO"])
    secs = np.where(office, 9 * 3600 + u[4] * 9 * 3600, 8.5 * 3600 + u[4] * 11.5 * 3600).astype(np.int64)
    dur = np.select(
        [channel == "VISIT", channel == "BRANCH", channel == "PHONE", channel == "VIDEO"],
        [30 + u[5] * 90, 15 + u[5] * 45, 2 + u[5] * 18, 10 + u[5] * 30],
        1 + u[5] * 14,
    ).astype(np.int64)
    dur_known = (channel != "WECHAT") | (u[1] < 0.7)
    next_visit = np.where(office & (u[5] < 0.5), t + 14 + (u[3] * 76).astype(np.int64), -1)
    notes = texts.visit_notes(
        bank.seed,
        key,
        purpose,
        is_corp,
        bank.display_name[rows],
        bank.mobile[rows],
        bank.id_number[rows],
        st.overdue_days[rows],
    )
    iid = "V" + cal.date(t).strftime("%Y%m%d") + ids.zero_pad("", c.uid[rows] * 10 + seq, 12)
    return NS(
        rows=rows,
        seq=seq,
        key=key,
        interaction_id=iid,
        staff=staff,
        time=t * 86400 + secs,
        channel=channel,
        purpose=purpose,
        duration=dur,
        duration_known=dur_known,
        notes=notes,
        next_visit=next_visit,
    )


# ============================================================================================ service requests

SR_CATEGORIES = np.array(["INQ", "CHG", "DISP", "CMPL", "LOAN", "CARD"], dtype=object)
SR_CHANNELS = np.array(["PHONE", "APP", "BRANCH", "RM"], dtype=object)
PRIORITY_BY_CATEGORY = {
    "INQ": (0.0, 0.05, 0.45, 0.5),
    "CHG": (0.0, 0.05, 0.5, 0.45),
    "DISP": (0.05, 0.55, 0.4, 0.0),
    "CMPL": (0.2, 0.5, 0.3, 0.0),
    "LOAN": (0.05, 0.35, 0.5, 0.1),
    "CARD": (0.05, 0.2, 0.5, 0.25),
}
PRIORITIES = np.array(["P1", "P2", "P3", "P4"], dtype=object)


def sr_openings(bank, d: int) -> NS:
    """Service requests opened on day ``d`` with their whole future (response, resolution, closure)."""
    c = bank.c
    alive = np.flatnonzero((c.onboard <= d) & (c.t_churn > d))
    uid = c.uid[alive]
    rate = np.where(c.is_corp[alive], 0.08, 0.025) * np.exp(0.3 * np.clip(c.eta[alive], -2, 3)) / 30.0
    counts = poisson_from_uniform(uniform(bank.seed, "sr_n", event_key(uid, d)), rate, 3)
    r, seq = _expand(counts)
    rows = alive[r]
    key = event_key(c.uid[rows], d, seq)
    u = [uniform(bank.seed, f"sr_{i}", key) for i in range(8)]
    corp = c.is_corp[rows]
    cat = SR_CATEGORIES[
        np.where(
            corp,
            choice_index(u[0], [0.3, 0.15, 0.15, 0.12, 0.23, 0.05]),
            choice_index(u[0], [0.3, 0.15, 0.15, 0.12, 0.13, 0.15]),
        )
    ]
    prio = np.empty(len(rows), dtype=object)
    for k, w in PRIORITY_BY_CATEGORY.items():
        m = cat == k
        prio[m] = PRIORITIES[choice_index(u[1][m], w)]
    channel = SR_CHANNELS[choice_index(u[2], [0.4, 0.3, 0.2, 0.1])]
    staff = np.where((channel == "RM") | (u[3] < 0.5), c.manager[rows], bank.org.bh_row[c.sb[rows]])
    q = bank.org.staff.quality[staff]
    sla_r = lookup(prio, params.SLA_RESPONSE_HOURS)
    sla_s = lookup(prio, params.SLA_RESOLUTION_HOURS)
    z1 = normal(bank.seed, "sr_z1", key)
    z2 = normal(bank.seed, "sr_z2", key)
    green, f_resp, f_res = service.green_factors(bank, rows, key)  # key-account-like customers: the green channel
    resp_h = sla_r * f_resp * np.exp(np.log(0.45) - 0.25 * q + 0.7 * z1)
    res_h = np.maximum(resp_h + 0.5, sla_s * f_res * np.exp(np.log(0.5) - 0.2 * q + 0.75 * z2))
    res_h = np.minimum(res_h, 40 * 24.0)
    closes = u[4] < 0.8
    close_h = np.where(closes, res_h + 1 + u[5] * 71, np.inf)
    round_the_clock = np.isin(channel, ["PHONE", "APP"])
    open_s = np.where(round_the_clock, 7 * 3600 + u[6] ** 1.2 * 16.5 * 3600, 9 * 3600 + u[6] * 8 * 3600).astype(
        np.int64
    )
    opened = d * 86400 + open_s
    first_resp = opened + (resp_h * 3600).astype(np.int64)
    resolved = opened + (res_h * 3600).astype(np.int64)
    closed = np.where(closes, opened + (np.where(closes, close_h, 0) * 3600).astype(np.int64), np.iinfo(np.int64).max)
    date_txt = np.asarray(cal.date(d - 1).strftime("%m月%d日"), dtype=object).repeat(len(rows))
    desc = texts.sr_descriptions(
        bank.seed, key, cat, bank.person_name[rows], bank.mobile[rows], bank.id_number[rows], date_txt
    )
    rid = "SR" + cal.date(d).strftime("%Y%m%d") + ids.zero_pad("", c.uid[rows] * 10 + seq, 12)
    return NS(
        rows=rows,
        key=key,
        seq=seq,
        open_day=np.full(len(rows), d),
        request_id=rid,
        opened=opened,
        channel=channel,
        category=cat,
        priority=prio,
        staff=staff,
        first_resp=first_resp,
        resolved=resolved,
        closed=closed,
        description=desc,
        resp_ratio=resp_h / sla_r,
        res_ratio=res_h / sla_s,
        q=q,
        green=green,
    )


SR_WINDOW = 45


def sr_records(bank, t: int) -> NS:
    """Requests that opened or changed (responded, resolved, closed) on day ``t``, state at end of day."""
    parts = []
    end = (t + 1) * 86400
    for d in range(t - SR_WINDOW, t + 1):
        o = bank.sr_openings(d)
        if len(o.rows) == 0:
            continue
        hit = np.zeros(len(o.rows), dtype=bool)
        for when in (o.opened, o.first_resp, o.resolved, o.closed):
            hit |= (when >= t * 86400) & (when < end)
        idx = np.flatnonzero(hit)
        if len(idx):
            parts.append((o, idx))
    if not parts:
        return NS(rows=np.zeros(0, dtype=np.int64))
    cols = {}
    for name in (
        "rows",
        "seq",
        "open_day",
        "request_id",
        "opened",
        "channel",
        "category",
        "priority",
        "staff",
        "first_resp",
        "resolved",
        "closed",
        "description",
    ):
        cols[name] = np.concatenate([getattr(o, name)[idx] for o, idx in parts])
    r = NS(**cols)
    r.responded = r.first_resp < end
    r.is_resolved = r.resolved < end
    r.is_closed = r.closed < end
    r.status = np.where(r.is_closed, "CLSD", np.where(r.is_resolved, "RSLV", "OPEN")).astype(object)
    return r


# ============================================================================================ surveys

SURVEY_CHANNELS = np.array(["SMS", "APP", "PHONE", "WECHAT"], dtype=object)


def surveys(bank, t: int) -> NS:
    c = bank.c
    seed = bank.seed
    parts = []
    # after visits, branch meetings and video calls of the previous day
    iv = bank.interactions(t - 1)
    m = np.isin(iv.channel, ["VISIT", "BRANCH", "VIDEO"]) & (uniform(seed, "sv_visit", iv.key) < 0.6)
    parts.append(
        dict(
            rows=iv.rows[m],
            trigger="VISIT",
            code=1,
            seq=iv.seq[m],
            staff=iv.staff[m],
            related=iv.interaction_id[m],
            family=np.full(m.sum(), None, dtype=object),
            effect=np.zeros(m.sum()),
            resp_ratio=np.full(m.sum(), np.nan),
        )
    )
    # after requests resolved the previous day
    sr = sr_records(bank, t - 1)
    if len(sr.rows):
        just = sr.is_resolved & (sr.resolved >= (t - 1) * 86400)
        k = hash64(seed, "sv_sr", np.arange(len(sr.rows)) + t * 1000).astype(np.int64)
        m = just & ((k % 1000) < 800)
        fam = np.where(sr.category == "LOAN", "LOAN", np.where(sr.category == "CARD", "CARD", "DEP")).astype(object)
        sla_r = lookup(sr.priority, params.SLA_RESPONSE_HOURS)
        sla_s = lookup(sr.priority, params.SLA_RESOLUTION_HOURS)
        resp_ratio = (sr.first_resp - sr.opened) / 3600.0 / sla_r
        res_ratio = (sr.resolved - sr.opened) / 3600.0 / sla_s
        effect = (
            -0.35 * np.log(np.clip(resp_ratio, 0.05, 20))
            - 0.8 * (resp_ratio > 1)
            - 0.45 * np.log(np.clip(res_ratio, 0.05, 20))
            - 1.0 * (res_ratio > 1)
            - np.where(sr.category == "CMPL", 0.6, np.where(sr.category == "DISP", 0.3, 0.0))
        )
        seq = (t - sr.open_day) * 10 + sr.seq  # unique per customer among requests resolved that day
        parts.append(
            dict(
                rows=sr.rows[m],
                trigger="SR",
                code=2,
                seq=seq[m],
                staff=sr.staff[m],
                related=sr.request_id[m],
                family=fam[m],
                effect=effect[m],
                resp_ratio=resp_ratio[m],
            )
        )
    # after a loan is disbursed (three days later)
    ln = bank.loans
    started = np.flatnonzero((ln.start == t - 3) & (ln.kind != 3))
    m = uniform(seed, "sv_loan", ln.uid[started]) < 0.5
    started = started[m]
    parts.append(
        dict(
            rows=ln.cust[started],
            trigger="LOAN",
            code=3,
            seq=(ln.j[started] % 10),
            staff=c.manager[ln.cust[started]],
            related=L.loan_ids(ln, started),
            family=np.full(len(started), "LOAN", dtype=object),
            effect=np.full(len(started), 0.2),
            resp_ratio=np.full(len(started), np.nan),
        )
    )
    # periodic survey on the 10th of every month
    if int(cal.day_of_month(np.array([t]))[0]) == 10:
        st = bank.customer_status(t)
        alive = np.flatnonzero((c.onboard <= t) & (st.status == "A"))
        pick = alive[uniform(seed, "sv_periodic", event_key(c.uid[alive], t)) < 0.02]
        parts.append(
            dict(
                rows=pick,
                trigger="PERIODIC",
                code=4,
                seq=np.zeros(len(pick), np.int64),
                staff=c.manager[pick],
                related=np.full(len(pick), None, dtype=object),
                family=np.full(len(pick), None, dtype=object),
                effect=np.zeros(len(pick)),
                resp_ratio=np.full(len(pick), np.nan),
            )
        )
    rows = np.concatenate([p["rows"] for p in parts]).astype(np.int64)
    trigger = np.concatenate([np.full(len(p["rows"]), p["trigger"], dtype=object) for p in parts])
    code = np.concatenate([np.full(len(p["rows"]), p["code"]) for p in parts]).astype(np.int64)
    seq = np.concatenate([p["seq"] for p in parts]).astype(np.int64)
    staff = np.concatenate([p["staff"] for p in parts]).astype(np.int64)
    related = np.concatenate([p["related"] for p in parts]).astype(object)
    family = np.concatenate([p["family"] for p in parts]).astype(object)
    effect = np.concatenate([p["effect"] for p in parts]).astype(float)
    resp_ratio = np.concatenate([p["resp_ratio"] for p in parts]).astype(float)
    key = (c.uid[rows] * 1000 + seq) * 65536 + (t - DAY0) * 8 + code
    u = [uniform(seed, f"sv_{i}", key) for i in range(4)]
    is_corp = c.is_corp[rows]
    channel = SURVEY_CHANNELS[
        np.where(is_corp, choice_index(u[0], [0.1, 0.2, 0.3, 0.4]), choice_index(u[0], [0.35, 0.35, 0.1, 0.2]))
    ]
    # satisfaction: manager quality, the customer's disposition, the trigger's experience, noise
    q = bank.org.staff.quality[staff]
    s = 0.45 * q + c.quality_pref[rows] + effect + 0.6 * normal(seed, "sv_noise", key)
    base = lookup(channel, params.SURVEY_RESPONSE_RATE)
    responded = u[1] < np.clip(base * (1 + 0.15 * np.abs(s)), 0, 0.95)
    n1, n2, n3, n4, n5, n6 = (normal(seed, f"sv_n{i}", key) for i in range(6))
    csat = np.clip(np.round(3.85 + 0.8 * s + 0.35 * n1), 1, 5)
    nps = np.clip(np.round(7.3 + 1.9 * s + 0.8 * n2), 0, 10)
    speed = np.where(np.isnan(resp_ratio), 0.0, -0.6 * np.log(np.clip(np.nan_to_num(resp_ratio, nan=1.0), 0.05, 20)))
    r_resp = np.clip(np.round(3.8 + 0.5 * s + speed + 0.4 * n3), 1, 5)
    r_prof = np.clip(np.round(3.9 + 0.7 * q + 0.3 * s + 0.4 * n4), 1, 5)
    r_prod = np.clip(np.round(3.7 + 0.5 * c.quality_pref[rows] + 0.3 * s + 0.5 * n5), 1, 5)
    age = np.zeros(len(c.uid))
    age[bank.ind.pos] = bank.ind.age_ref
    r_price = np.clip(np.round(3.4 + 0.3 * s - 0.3 * np.clip(c.eta[rows], -2, 2) + 0.5 * n6), 1, 5)
    r_dig = np.clip(np.round(3.7 + 0.3 * s - 0.02 * (age[rows] - 40) + 0.5 * normal(seed, "sv_n7", key)), 1, 5)
    manager_sn = bank.org.staff.surname[staff]
    comment = texts.survey_comments(seed, key, csat, manager_sn, bank.person_name[rows], bank.mobile[rows])
    sid = (
        "SV"
        + cal.date(t).strftime("%Y%m%d")
        + code.astype(str).astype(object)
        + ids.zero_pad("", c.uid[rows] * 1000 + seq, 14)
    )
    return NS(
        rows=rows,
        survey_id=sid,
        staff=staff,
        channel=channel,
        trigger=trigger,
        related=related,
        family=family,
        responded=responded,
        csat=csat,
        nps=nps,
        r_resp=r_resp,
        r_prof=r_prof,
        r_prod=r_prod,
        r_price=r_price,
        r_dig=r_dig,
        comment=np.where(responded, comment, None),
    )
