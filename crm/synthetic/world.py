"""The static universe of the synthetic bank: organisation, staff, customers and their latent risk and
lifecycle, contacts, related parties, deposit accounts, cards and wealth holdings, loan lines and loans.

Everything here is a pure function of ``(seed, customers)`` and, per entity, of its stable number (uid):
customer ``k`` has the same name, risk and loans whatever range of dates is generated. Only the number of
monthly cohorts after the reference date depends on the last date asked for.

This module builds the organisation (branches, staff), the customers (numbers, branches, onboarding,
managers) and their lifecycle; their profiles (names, identities, addresses, income, company attributes,
latent risk) are in :mod:`crm.synthetic.profiles`, the other parts in the modules named after them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from crm.synthetic import cal, ids, params, vocab
from crm.synthetic.rand import choice_index, lookup, normal, uniform

NEVER = cal.NEVER


class NS:
    """A plain attribute bag for column arrays."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __len__(self) -> int:
        for v in self.__dict__.values():
            if isinstance(v, np.ndarray):
                return len(v)
        return 0


# ============================================================================================ organisation


@dataclass
class Org:
    branches: NS
    staff: NS
    sb_rows: np.ndarray  # branch-table rows of open sub-branches
    sb_branch: np.ndarray  # for each open sub-branch: index of its branch (0..n_br-1)
    br_pref: np.ndarray  # prefecture code of each branch
    br_weight: np.ndarray
    rm_start: np.ndarray = field(default=None)  # per open sub-branch: first RM's staff row
    rm_count: np.ndarray = field(default=None)
    rm_leavers: np.ndarray = field(default=None)  # staff rows of the RMs who left
    leaver_sb: np.ndarray = field(default=None)  # per RM leaver: its open sub-branch (index in sb_rows)
    bh_row: np.ndarray = field(default=None)  # per open sub-branch: its head's staff row


def build_org(seed: int, n_customers: int) -> Org:
    n_br = int(np.clip(round(np.sqrt(n_customers) / 35), 2, len(vocab.BRANCH_CITIES)))
    cities = vocab.BRANCH_CITIES[:n_br]
    w = np.array([c[1] for c in cities])
    n_sb_total = max(n_br, round(n_customers / params.CUSTOMERS_PER_SUB_BRANCH))
    n_sb = np.maximum(1, np.round(n_sb_total * w / w.sum())).astype(int)
    rows = {
        k: []
        for k in (
            "branch_id",
            "branch_name",
            "parent_branch_id",
            "branch_level",
            "province",
            "city",
            "opened",
            "status",
            "pref",
        )
    }

    def add(bid, name, parent, level, c, opened, status="A"):
        rows["branch_id"].append(bid)
        rows["branch_name"].append(name)
        rows["parent_branch_id"].append(parent)
        rows["branch_level"].append(level)
        rows["province"].append(c.province)
        rows["city"].append(c.city)
        rows["opened"].append(opened)
        rows["status"].append(status)
        rows["pref"].append(c.prefecture)

    ho_city = vocab.city(cities[0][0])
    add("0000", "总行", None, "HO", ho_city, cal.day(dt.date(1993, 6, 18)))
    sb_rows, sb_branch = [], []
    street_words = vocab.STREETS
    # a loop over branches and their sub-branches: a few hundred at most
    for b, (pref, _w) in enumerate(cities):
        c = vocab.city(pref)
        bid = f"{b + 1:02d}00"
        opened = cal.day(dt.date(1995, 3, 1)) + int(uniform(seed, "br_open", b) * 365 * 8)
        add(bid, f"{c.short}分行", "0000", "BR", c, opened)
        # sub-branches named after districts, then after districts and streets
        for s in range(int(n_sb[b])):
            district = c.districts[s % len(c.districts)]
            name = (
                f"{c.short}{district}支行"
                if s < len(c.districts)
                else (f"{c.short}{street_words[int(uniform(seed, 'sb_street', b, s) * len(street_words))][:-1]}支行")
            )
            sid = f"{b + 1:02d}{s + 1:02d}"
            sb_open = opened + 90 + int(uniform(seed, "sb_open", b, s) * 365 * 4)
            add(sid, name, bid, "SB", c, sb_open)
            sb_rows.append(len(rows["branch_id"]) - 1)
            sb_branch.append(b)
        if n_sb[b] >= 4 and b < 3:  # a merged (撤并) sub-branch: no customers, no staff
            s = int(n_sb[b])
            add(
                f"{b + 1:02d}{s + 1:02d}",
                f"{c.short}{c.districts[-1]}第二支行",
                bid,
                "SB",
                c,
                opened + 400,
                status="C",
            )
    branches = NS(
        **{k: np.array(v, dtype=object if k not in ("opened", "pref") else np.int64) for k, v in rows.items()}
    )
    return Org(branches, NS(), np.array(sb_rows), np.array(sb_branch), np.array([c[0] for c in cities]), w)


def build_staff(seed: int, org: Org, sb_customers: np.ndarray) -> None:
    """Staff: RMs per sub-branch (one per ~320 base customers), a head per sub-branch, risk officers per
    branch, auditors and data engineers at head office, some leavers, and a head-office risk officer (last, so
    that adding them changed no other staff member's id or name); after them (issue 20) product specialists
    and credit approvers per branch and at head office, some leavers. Leavers have a leave day (``leave``)."""
    br = org.branches
    n_sb = len(org.sb_rows)
    rm_per_sb = np.maximum(1, np.round(sb_customers / params.CUSTOMERS_PER_RM)).astype(np.int64)
    total_rm = int(rm_per_sb.sum())
    n_br = len(org.br_pref)
    br_rows = np.flatnonzero(br.branch_level == "BR")
    rm_by_branch = np.bincount(org.sb_branch, weights=rm_per_sb, minlength=n_br)
    ro_per_br = np.maximum(1, np.round(rm_by_branch / 12)).astype(np.int64)
    n_au = max(2, round(total_rm / 150))
    role, branch_row = [], []
    role += ["AU"] * n_au + ["DE"] * 2
    branch_row += [0] * (n_au + 2)
    role += ["RO"] * int(ro_per_br.sum())
    branch_row += list(np.repeat(br_rows, ro_per_br))
    role += ["BH"] * n_sb
    branch_row += list(org.sb_rows)
    rm_first = len(role)
    role += ["RM"] * total_rm
    branch_row += list(np.repeat(org.sb_rows, rm_per_sb))
    n_leavers = max(1, round(total_rm * 0.04))
    role += ["RM"] * n_leavers
    leaver_sb = (uniform(seed, "leaver_sb", np.arange(n_leavers)) * n_sb).astype(np.int64)
    branch_row += list(org.sb_rows[leaver_sb])
    role += ["RO"]  # the head office's risk officer: the bank-wide risk report
    branch_row += [0]
    # issue 20, appended so no earlier staff member's id or name changed: product specialists (PS) and credit
    # approvers (CA) per branch and at head office, some of them leavers
    team_first = len(role)
    team_last = []  # the last of each role (at head office): always a leaver, so every role has one
    for r, per in (("PS", params.PS_PER_RM), ("CA", params.CA_PER_RM)):
        k_br = np.maximum(params.TEAM_STAFF_MIN_PER_BRANCH, np.round(rm_by_branch * per)).astype(np.int64)
        role += [r] * (int(k_br.sum()) + params.TEAM_STAFF_HEAD_OFFICE)
        branch_row += list(np.repeat(br_rows, k_br)) + [0] * params.TEAM_STAFF_HEAD_OFFICE
        team_last.append(len(role) - 1)
    n_team = len(role) - team_first
    n = len(role)
    idx = np.arange(n)
    role = np.array(role, dtype=object)
    branch_row = np.array(branch_row, dtype=np.int64)
    male = uniform(seed, "staff_male", idx) < 0.5
    sn_keys = np.array(list(vocab.SURNAME_PINYIN), dtype=object)
    sn_w = np.array([dict(zip(*vocab.surnames(), strict=True)).get(s, 0.1) for s in sn_keys])
    surname = sn_keys[choice_index(uniform(seed, "staff_sn", idx), sn_w)]
    names, _ = vocab.person_names(
        None, uniform(seed, "staff_g1", idx), uniform(seed, "staff_g2", idx), male, surname=surname
    )
    pinyin = lookup(surname, vocab.SURNAME_PINYIN, default="staff", dtype=object)
    staff_id = ids.zero_pad("S", idx + 1, 6)
    email = pinyin + "." + ids.zero_pad("", idx + 1, 6) + "@bank.example"
    hire = cal.day(dt.date(2002, 1, 1)) + (uniform(seed, "staff_hire", idx) * 365 * 16.5).astype(np.int64)
    leaver = (idx >= rm_first + total_rm) & (idx < rm_first + total_rm + n_leavers)
    team_leaver = (idx >= team_first) & (uniform(seed, "staff_team_leaver", idx) < params.TEAM_STAFF_LEAVER_SHARE)
    leaver |= (team_leaver & (idx < team_first + n_team)) | np.isin(idx, team_last)
    status = np.where(leaver, "L", "A").astype(object)
    # the day a leaver left (status L from then on; NEVER for the others): within LEAVER_DAYS before the
    # reference date, so a range from the reference date on sees them as leavers and the coverage snapshots
    # show their last tenures
    lo, hi = params.LEAVER_DAYS
    ref = cal.day(params.REFERENCE_DATE)
    leave = np.where(leaver, ref - lo - (uniform(seed, "staff_leave", idx) * (hi - lo)).astype(np.int64), NEVER)
    mobile = ids.mobiles(uniform(seed, "staff_mp", idx), (uniform(seed, "staff_mn", idx) * 1e8).astype(np.int64))
    has_mobile = uniform(seed, "staff_hasm", idx) < 0.9
    org.staff = NS(
        staff_id=staff_id,
        staff_name=names,
        surname=surname,
        role=role,
        branch_row=branch_row,
        branch_id=br.branch_id[branch_row],
        email=email,
        mobile=np.where(has_mobile, mobile, None),
        hire=hire,
        status=status,
        leave=leave,
        quality=normal(seed, "staff_quality", idx),
    )
    org.rm_start = rm_first + np.concatenate([[0], np.cumsum(rm_per_sb)[:-1]])
    org.bh_row = np.flatnonzero(role == "BH")  # in sub-branch order
    org.rm_count = rm_per_sb
    org.rm_leavers = np.flatnonzero((role == "RM") & leaver)  # the RMs who left (their books moved)
    org.leaver_sb = leaver_sb


# ============================================================================================ customers


def universe_size(n: int, end_day: int) -> tuple[int, int]:
    """(total customers up to ``end_day``, monthly cohort size after the reference date)."""
    cohort = max(1, round(n * params.COHORT_RATE))
    ref_m = cal.month_number(params.REFERENCE_DATE)
    months = max(0, int(cal.month_of(end_day)) - ref_m + 1)
    return n + months * cohort, cohort


def onboarding_days(seed: int, n: int, uid: np.ndarray, cohort: int) -> np.ndarray:
    ref = cal.day(params.REFERENCE_DATE)
    out = np.empty(len(uid), dtype=np.int64)
    base = uid < n
    u = uniform(seed, "onboard", uid)
    span, mean = params.BASE_HISTORY_YEARS, params.BASE_RECENCY_YEARS
    years = -mean * np.log(1 - u[base] * (1 - np.exp(-span / mean)))
    out[base] = ref - 1 - (years * 365.25).astype(np.int64)
    k = (uid[~base] - n) // cohort
    m = cal.month_number(params.REFERENCE_DATE) + k
    out[~base] = cal.month_start(m) + (u[~base] * cal.days_in_month(m)).astype(np.int64)
    return out


def build_customers(seed: int, n: int, end_day: int, org: Org) -> NS:
    total, cohort = universe_size(n, end_day)
    uid = np.arange(total, dtype=np.int64)
    is_corp = uniform(seed, "is_corp", uid) < params.CORPORATE_SHARE
    onboard = onboarding_days(seed, n, uid, cohort)
    # branch by city weight, then sub-branch within the branch
    b = choice_index(uniform(seed, "cust_branch", uid), org.br_weight)
    sb_of_b_start = np.searchsorted(org.sb_branch, np.arange(len(org.br_pref)), side="left")
    sb_of_b_count = np.bincount(org.sb_branch, minlength=len(org.br_pref))
    sb = sb_of_b_start[b] + (uniform(seed, "cust_sb", uid) * sb_of_b_count[b]).astype(np.int64)
    cid = np.where(is_corp, ids.zero_pad("2", uid, 11), ids.zero_pad("1", uid, 11))
    # residence / registration city: the branch's city, sometimes another branch city
    elsewhere = uniform(seed, "cust_elsewhere", uid) < 0.08
    other_b = choice_index(uniform(seed, "cust_other_city", uid), org.br_weight)
    pref = org.br_pref[np.where(elsewhere, other_b, b)]
    c = NS(uid=uid, is_corp=is_corp, cid=cid, onboard=onboard, sb=sb, pref=pref, n_base=n, cohort=cohort)
    c.branch_row = org.sb_rows[sb]
    c.branch_id = org.branches.branch_id[c.branch_row]
    return c


def build_lifecycle(seed: int, c: NS, ind: NS, corp: NS) -> None:
    """Per-customer lifecycle: growth after onboarding, a long-run trend, and (risk-driven) decline,
    dormancy and churn dates. Deposit level and daily activity."""
    n = len(c.uid)
    k = c.uid
    eta = np.zeros(n)
    eta[ind.pos] = ind.eta
    eta[corp.pos] = corp.eta
    c.eta = eta
    level = np.zeros(n)
    level[ind.pos] = ind.income * np.exp(-1.0 + 0.8 * normal(seed, "lc_lvl_i", ind.pos) - 0.15 * ind.f)
    level[corp.pos] = corp.revenue0 * np.exp(-2.8 + 0.6 * normal(seed, "lc_lvl_c", corp.pos) - 0.15 * corp.f)
    c.dep_level = np.maximum(level, 200.0)
    c.tau_g = 2 + 10 * uniform(seed, "lc_tau_g", k)  # months
    c.trend = 0.04 - 0.03 * np.clip(eta, -3, 3) + 0.05 * normal(seed, "lc_trend", k)  # per year
    hazard = params.DECLINE_HAZARD * np.exp(0.5 * eta)
    months_to_decline = -np.log(1 - uniform(seed, "lc_dec", k)) / hazard
    c.t_dec = c.onboard + 90 + (months_to_decline * 30.44).astype(np.int64)
    c.tau_d = 4 + 14 * uniform(seed, "lc_tau_d", k)
    dormant = uniform(seed, "lc_dorm", k) < params.DORMANT_SHARE
    # the balance decline leads to dormancy within months (issue 20: 1-6 months for most, so a churn model can
    # learn it; it was an exponential of mean 300 days)
    g0, g1 = params.DECLINE_DORMANT_DAYS
    gap = g0 + (-np.log(1 - uniform(seed, "lc_dorm_t", k)) * g1).astype(np.int64)
    c.t_dorm = np.where(dormant, c.t_dec + gap, NEVER)
    churn_u = uniform(seed, "lc_churn", k)
    churn_t = -np.log(1 - uniform(seed, "lc_churn_t", k))
    c.t_churn = np.where(
        dormant,
        np.where(churn_u < params.CHURN_SHARE_DORMANT, c.t_dorm + (churn_t * 365).astype(np.int64), NEVER),
        np.where(churn_u < params.CHURN_SHARE_DECLINING, c.t_dec + (churn_t * 550).astype(np.int64), NEVER),
    )
    c.t_dec = np.minimum(c.t_dec, NEVER)
    c.t_dorm = np.minimum(c.t_dorm, NEVER)
    c.t_churn = np.minimum(c.t_churn, NEVER)
    act = np.zeros(n)
    act[ind.pos] = np.clip(0.18 * np.exp(0.5 * normal(seed, "lc_act_i", ind.pos)), 0.03, 0.7)
    act[corp.pos] = np.clip(0.6 * np.exp(0.35 * normal(seed, "lc_act_c", corp.pos)), 0.15, 0.95)
    c.activity = act
    c.quality_pref = normal(seed, "lc_sat", k) * 0.5  # baseline satisfaction of the customer


def lifecycle_factor(c: NS, rows: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Deposit level multiplier of customers ``rows`` at ``days`` (growth, trend, decline, dormancy)."""
    t0 = c.onboard[rows]
    age_m = np.maximum(days - t0, 0) / 30.44
    g = (1 - np.exp(-(age_m + 0.5) / c.tau_g[rows])) * np.exp(c.trend[rows] * age_m / 12)
    dec = np.maximum(days - c.t_dec[rows], 0) / 30.44
    g = g * np.exp(-dec / c.tau_d[rows])
    # dormant: frozen at the level of the dormancy date
    dorm = days >= c.t_dorm[rows]
    if dorm.any():
        r = rows[dorm]
        td = c.t_dorm[r]
        age_d = np.maximum(td - c.onboard[r], 0) / 30.44
        gd = (1 - np.exp(-(age_d + 0.5) / c.tau_g[r])) * np.exp(c.trend[r] * age_d / 12)
        gd = gd * np.exp(-np.maximum(td - c.t_dec[r], 0) / 30.44 / c.tau_d[r]) * params.DORMANT_LEVEL
        g[dorm] = gd
    return np.where(days < t0, 0.0, g)
