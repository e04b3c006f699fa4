"""Who serves a customer when (issue 20): lead-manager tenures and coverage teams.

Lead manager: a customer's first manager is drawn at onboarding from the managers of its sub-branch (as before
issue 20). Two things change it later, both pure functions of ``(seed, uid)`` and the organisation:

- a leaving manager: a leaver's book (a ``1/(managers + 1)`` share of the sub-branch's customers onboarded
  before the leave day, per leaver of the sub-branch) moves on the leave day to another manager of the
  sub-branch (the customer's first manager drawn as above);
- portfolio rebalancing: from ``params.REASSIGN_SINCE`` (or onboarding) a Poisson process of yearly rate
  ``params.REASSIGN_RATE`` moves the customer to another manager of the sub-branch, at most
  ``params.REASSIGN_SLOTS`` times; none after the customer closed (:func:`truncate_after`).

Tenures are kept per customer as ``c.mgr_from`` (first day of each tenure, ``NEVER`` for unused slots,
ascending) and ``c.mgr_staff`` (staff row); :func:`manager_at` gives the manager of any (customer, day). A
tenure ends the day before the next one starts.

Teams: key-account-like customers (``params.TEAM_CORP_SIZES`` corporates, individuals with a latent deposit
level of at least ``params.TEAM_IND_MIN_DEP_LEVEL``) get a co-manager, a product specialist, a risk officer
and a credit approver, each joining within ``params.TEAM_JOIN_DAYS`` of onboarding (or when hired); a share
``params.TEAM_INCOMPLETE_SHARE`` of the teams miss one of these roles.

Coverage ids: ``CV`` + 16 digits = uid x 10 + k, k = 0..4 the lead-manager tenures (0: the first, the id the
transitional builder gave), 5 CO, 6 PS, 7 RO, 8 CA: stable per assignment whatever the snapshot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm.synthetic import cal, params
from crm.synthetic.rand import uniform
from crm.synthetic.world import NEVER, NS

TEAM_ROLES = ("CO", "PS", "RO", "CA")
ROLE_SLOT = {"CO": 5, "PS": 6, "RO": 7, "CA": 8}


def _other(off: np.ndarray, count: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Another offset than ``off`` among ``count`` (``off`` itself when count is 1)."""
    shift = 1 + (u * np.maximum(count - 1, 1)).astype(np.int64)
    return np.where(count > 1, (off + shift) % np.maximum(count, 1), off)


def build_manager_history(seed: int, org, c: NS) -> None:
    """Lead-manager tenures (``c.mgr_from``, ``c.mgr_staff``), ``c.manager`` (the first manager, the one the
    customer had at onboarding) and ``c.manager_id``."""
    n = len(c.uid)
    k = c.uid
    count = org.rm_count[c.sb]
    m0_off = (uniform(seed, "cust_rm", k) * count).astype(np.int64)  # the pre-issue-20 draw: same first manager
    # the leavers' books
    leave = org.staff.leave[org.rm_leavers]
    n_lv_sb = np.bincount(org.leaver_sb, minlength=len(org.sb_rows))
    order = np.argsort(org.leaver_sb, kind="stable")
    lv_start = np.concatenate([[0], np.cumsum(n_lv_sb)[:-1]])
    nl = n_lv_sb[c.sb]
    u = uniform(seed, "mgr_leaver", k)
    was_leavers = (nl > 0) & (u < nl / (count + nl))
    which = lv_start[c.sb] + np.minimum((u / np.maximum(nl / (count + nl), 1e-12) * nl).astype(np.int64), nl - 1)
    which = np.where(was_leavers, which, 0)
    lv_row = np.where(was_leavers, org.rm_leavers[order][which] if len(order) else 0, -1)
    lv_day = np.where(was_leavers, leave[order][which] if len(order) else NEVER, NEVER)
    was_leavers &= c.onboard < lv_day
    lv_day = np.where(was_leavers, lv_day, NEVER)
    # rebalancing events
    K = params.REASSIGN_SLOTS
    since = np.maximum(c.onboard, cal.day(params.REASSIGN_SINCE))
    gaps = -np.log(1 - uniform(seed, "mgr_rebalance", k[:, None] * 8 + np.arange(K)[None, :]))
    gaps = gaps / params.REASSIGN_RATE * 365.25
    ev = since[:, None] + np.cumsum(gaps, axis=1).astype(np.int64)
    ev = np.where((ev > lv_day[:, None]) | ~was_leavers[:, None], ev, NEVER)  # a leaver's book moves first
    ev = np.where((count > 1)[:, None] & (ev < NEVER), ev, NEVER)
    frm = np.concatenate([c.onboard[:, None], lv_day[:, None], ev], axis=1)
    frm = np.sort(np.minimum(frm, NEVER), axis=1)
    # offsets along the chain: after a leaver the first manager, after a rebalancing another one
    S = frm.shape[1]
    off = np.empty((n, S), dtype=np.int64)
    off[:, 0] = m0_off
    uu = uniform(seed, "mgr_next", k[:, None] * 8 + np.arange(S)[None, :])
    for j in range(1, S):  # a handful of slots, vectorised over customers
        nxt = _other(off[:, j - 1], count, uu[:, j])
        off[:, j] = np.where((j == 1) & was_leavers, m0_off, nxt)
    staff = org.rm_start[c.sb][:, None] + off
    staff[:, 0] = np.where(was_leavers, lv_row, staff[:, 0])
    c.mgr_from = frm.astype(np.int32) if frm.max(initial=0) < 2**31 else frm
    c.mgr_staff = staff.astype(np.int32)
    c.mgr_leaver_book = was_leavers  # the first manager left (slot 1 is the book's move)
    c.manager = staff[:, 0].astype(np.int64)
    c.manager_id = org.staff.staff_id[c.manager]


def truncate_after(c: NS) -> None:
    """No rebalancing after the customer closed (``c.t_churn``); a leaver's book still moves (the closed
    customer's records keep naming an active manager)."""
    slot = np.arange(c.mgr_from.shape[1])[None, :]
    late = (c.mgr_from > c.t_churn[:, None]) & (slot > 0) & ~((slot == 1) & c.mgr_leaver_book[:, None])
    c.mgr_from = np.where(late, NEVER, c.mgr_from).astype(c.mgr_from.dtype)


def changes(c: NS) -> np.ndarray:
    """(customers, slots - 1): the days a customer's lead manager changed (NEVER for unused slots)."""
    return c.mgr_from[:, 1:].astype(np.int64)


def tenure_index(c: NS, rows: np.ndarray, days) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.int64)
    days = np.broadcast_to(np.asarray(days, dtype=np.int64), rows.shape)
    j = (c.mgr_from[rows] <= days[:, None]).sum(axis=1) - 1
    return np.maximum(j, 0)


def manager_at(bank, rows, days) -> np.ndarray:
    """Staff rows of the lead managers of customers ``rows`` on ``days`` (a day or one per row): the manager
    who served them that day (before onboarding: the first manager). Vectorised; use it for every dated record
    that names the serving manager."""
    c = bank.c if hasattr(bank, "c") else bank
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return np.zeros(0, dtype=np.int64)
    return c.mgr_staff[rows, tenure_index(c, rows, days)].astype(np.int64)


def manager_id_at(bank, rows, days) -> np.ndarray:
    """Staff ids of :func:`manager_at`."""
    return bank.org.staff.staff_id[manager_at(bank, rows, days)]


def last_change(c: NS, rows: np.ndarray, days) -> np.ndarray:
    """Day of the last lead-manager change on or before ``days`` (NEVER if none)."""
    ch = changes(c)[rows]
    days = np.broadcast_to(np.asarray(days, dtype=np.int64), np.asarray(rows).shape)
    past = np.where(ch <= days[:, None], ch, -1)
    m = past.max(axis=1, initial=-1)
    return np.where(m >= 0, m, NEVER)


# ============================================================================================ teams


def key_account_like(c: NS, corp: NS) -> np.ndarray:
    """Customers warranting a coverage team (boolean per customer)."""
    out = c.dep_level >= params.TEAM_IND_MIN_DEP_LEVEL
    out[corp.pos] = np.isin(corp.size, params.TEAM_CORP_SIZES)
    return out


def build_teams(seed: int, org, c: NS, corp: NS) -> NS:
    """Team assignments (other than the lead manager): cust, staff, role, slot, from, to (NEVER: open)."""
    st = org.staff
    br = org.branches
    br_rows = np.flatnonzero(br.branch_level == "BR")
    team = np.flatnonzero(key_account_like(c, corp))
    k = c.uid[team]
    b_row = br_rows[org.sb_branch[c.sb[team]]]  # the customer's branch (parent of its sub-branch)
    missing = np.where(
        uniform(seed, "team_incomplete", k) < params.TEAM_INCOMPLETE_SHARE,
        (uniform(seed, "team_missing", k) * len(TEAM_ROLES)).astype(np.int64),
        -1,
    )
    parts = []
    for i, role in enumerate(TEAM_ROLES):
        u = uniform(seed, f"team_{role}", k)
        if role == "CO":
            count = org.rm_count[c.sb[team]]
            lead0 = c.mgr_staff[team, 0].astype(np.int64)
            base_off = np.clip(lead0 - org.rm_start[c.sb[team]], 0, count - 1)  # a leaver first: any offset
            staff = org.rm_start[c.sb[team]] + _other(base_off, count, u)
            ok = count > 1
        else:
            pool = np.flatnonzero((st.role == role) & (st.leave == NEVER) & (st.branch_row > 0))
            pool = pool[np.argsort(st.branch_row[pool], kind="stable")]
            pb = st.branch_row[pool]
            lo = np.searchsorted(pb, b_row, side="left")
            hi = np.searchsorted(pb, b_row, side="right")
            ok = hi > lo
            staff = pool[np.minimum(lo + (u * (hi - lo)).astype(np.int64), len(pool) - 1)] if len(pool) else lo
        ok = ok & (missing != i)
        join = c.onboard[team] + (uniform(seed, f"team_join_{role}", k) * params.TEAM_JOIN_DAYS).astype(np.int64)
        sel = np.flatnonzero(ok)
        parts.append(
            NS(
                cust=team[sel],
                staff=np.asarray(staff)[sel].astype(np.int64),
                role=np.full(len(sel), role, dtype=object),
                slot=np.full(len(sel), ROLE_SLOT[role], dtype=np.int64),
                start=np.maximum(join[sel], st.hire[np.asarray(staff)[sel].astype(np.int64)]),  # not before hire
                end=np.full(len(sel), NEVER, dtype=np.int64),
            )
        )
    out = NS(
        **{f: np.concatenate([getattr(p, f) for p in parts]) for f in ("cust", "staff", "role", "slot", "start", "end")}
    )
    o = np.lexsort((out.slot, out.cust))
    for f in ("cust", "staff", "role", "slot", "start", "end"):
        setattr(out, f, getattr(out, f)[o])
    out.team_customers = team
    out.missing = missing  # per team customer: index in TEAM_ROLES of the missing role, -1 if complete
    return out


# ============================================================================================ snapshot


def snapshot(bank, t: int) -> NS:
    """Coverage rows of the month end ``t``: every assignment started on or before ``t`` and active at ``t``
    or ended within the preceding ``params.COVERAGE_HISTORY_MONTHS`` months. ``end`` is the last day served
    (NEVER: still active; shown empty)."""
    c = bank.c
    m = int(cal.month_of(np.array([t]))[0])
    horizon = int(cal.month_end(np.array([m - params.COVERAGE_HISTORY_MONTHS]))[0])
    frm = c.mgr_from.astype(np.int64)
    nxt = np.concatenate([frm[:, 1:], np.full((len(frm), 1), NEVER)], axis=1)
    end = np.where(nxt < NEVER, nxt - 1, NEVER)
    keep = (frm <= t) & (c.onboard[:, None] <= t) & (end > horizon) & (frm < NEVER)
    cust, slot = np.nonzero(keep)
    lead = NS(
        cust=cust,
        staff=c.mgr_staff[cust, slot].astype(np.int64),
        role=np.full(len(cust), "RM", dtype=object),
        slot=slot.astype(np.int64),
        start=frm[cust, slot],
        end=end[cust, slot],
    )
    tm = bank.teams
    tk = np.flatnonzero((tm.start <= t) & (tm.end > horizon))
    cols = ("cust", "staff", "role", "slot", "start", "end")
    out = NS(**{f: np.concatenate([getattr(lead, f), getattr(tm, f)[tk]]) for f in cols})
    o = np.lexsort((out.slot, out.cust))
    for f in cols:
        setattr(out, f, getattr(out, f)[o])
    out.end = np.where(out.end <= t, out.end, NEVER)  # an end after the snapshot is not known yet
    return out


def team_truth(bank, month_end) -> pd.DataFrame:
    """Per key-account-like customer onboarded by ``month_end`` (a date): ``customer_id``, ``complete`` (all of
    CO, PS, RO and CA on the team at the month end) and ``missing_role`` (the role its team lacks by design,
    None if none; a role not yet joined is not missing by design)."""
    c, tm = bank.c, bank.teams
    t = cal.day(month_end)
    on = tm.team_customers[c.onboard[tm.team_customers] <= t]
    live = tm.start <= t
    n_roles = np.bincount(tm.cust[live], minlength=len(c.uid))
    miss = np.full(len(c.uid), -1, dtype=np.int64)
    miss[tm.team_customers] = tm.missing
    roles = np.asarray(TEAM_ROLES, dtype=object)
    return pd.DataFrame(
        {
            "customer_id": c.cid[on],
            "complete": n_roles[on] == len(TEAM_ROLES),
            "missing_role": np.where(miss[on] >= 0, roles[np.maximum(miss[on], 0)], None),
        }
    )
