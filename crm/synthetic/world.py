"""The static universe of the synthetic bank: organisation, staff, customers and their latent risk and
lifecycle, contacts, related parties, deposit accounts, cards and wealth holdings, loan lines and loans.

Everything here is a pure function of ``(seed, customers)`` and, per entity, of its stable number (uid):
customer ``k`` has the same name, risk and loans whatever range of dates is generated. Only the number of
monthly cohorts after the reference date depends on the last date asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from crm.synthetic import cal, ids, params, vocab
from crm.synthetic.rand import choice_index, logit, lookup, normal, sigmoid, uniform

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


def _round_to(x: np.ndarray, unit: float) -> np.ndarray:
    return np.round(np.asarray(x, dtype=np.float64) / unit) * unit


def _pick(u: np.ndarray, values, weights=None) -> np.ndarray:
    values = np.asarray(values, dtype=object)
    if weights is None:
        weights = np.ones(len(values))
    return values[choice_index(u, weights)]


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
                else (
                    f"{c.short}{street_words[int(uniform(seed, 'sb_street', b, s) * len(street_words))][:-1]}支行"
                )
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
    branch, auditors and data engineers at head office, and some leavers."""
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
    status = np.where(idx >= rm_first + total_rm, "L", "A").astype(object)
    mobile = ids.mobiles(
        uniform(seed, "staff_mp", idx), (uniform(seed, "staff_mn", idx) * 1e8).astype(np.int64)
    )
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
        quality=normal(seed, "staff_quality", idx),
    )
    org.rm_start = rm_first + np.concatenate([[0], np.cumsum(rm_per_sb)[:-1]])
    org.bh_row = np.flatnonzero(role == "BH")  # in sub-branch order
    org.rm_count = rm_per_sb


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


def assign_managers(seed: int, org: Org, c: NS) -> None:
    u = uniform(seed, "cust_rm", c.uid)
    c.manager = org.rm_start[c.sb] + (u * org.rm_count[c.sb]).astype(np.int64)
    c.manager_id = org.staff.staff_id[c.manager]


def _addresses(seed: int, tag: str, keys: np.ndarray, prefs: np.ndarray, residential: bool) -> NS:
    n = len(keys)
    province = np.empty(n, dtype=object)
    city = np.empty(n, dtype=object)
    district = np.empty(n, dtype=object)
    district_code = np.zeros(n, dtype=np.int64)
    u = uniform(seed, tag + "_district", keys)
    for p in np.unique(prefs):  # loop over at most 20 cities
        m = prefs == p
        cty = vocab.city(int(p))
        province[m] = cty.province
        city[m] = cty.city
        k = np.minimum((u[m] * len(cty.districts)).astype(np.int64), len(cty.districts) - 1)
        district[m] = cty.districts[k]
        district_code[m] = cty.district_codes[k]
    street = _pick(uniform(seed, tag + "_street", keys), vocab.STREETS)
    direction = _pick(uniform(seed, tag + "_dir", keys), vocab.STREET_DIRECTIONS)
    street = np.where(direction != "", pd_str_insert(street, direction), street)
    number = (1 + uniform(seed, tag + "_no", keys) ** 2 * 998).astype(np.int64).astype(str).astype(object)
    addr = district + street + number + "号"
    if residential:
        comm = _pick(uniform(seed, tag + "_ch", keys), vocab.COMMUNITY_HEADS) + _pick(
            uniform(seed, tag + "_ct", keys), vocab.COMMUNITY_TAILS
        )
        bld = (1 + uniform(seed, tag + "_bld", keys) * 30).astype(np.int64).astype(str).astype(object)
        floor_ = 1 + (uniform(seed, tag + "_fl", keys) * 28).astype(np.int64)
        room = (
            (floor_ * 100 + 1 + (uniform(seed, tag + "_rm", keys) * 4).astype(np.int64))
            .astype(str)
            .astype(object)
        )
        addr = addr + comm + bld + "栋" + room + "室"
    else:
        has_room = uniform(seed, tag + "_office", keys) < 0.5
        room = (
            (
                100 * (1 + (uniform(seed, tag + "_ofl", keys) * 25).astype(np.int64))
                + 1
                + (uniform(seed, tag + "_orm", keys) * 9).astype(np.int64)
            )
            .astype(str)
            .astype(object)
        )
        addr = np.where(has_room, addr + room + "室", addr)
    full = province + np.where(province == city, "", city) + addr
    return NS(province=province, city=city, district=district, district_code=district_code, address=full)


def pd_str_insert(street: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """人民路 + 东 -> 人民东路 (the direction goes before the last character)."""
    import pandas as pd

    s = pd.Series(street, dtype=object)
    return (s.str[:-1] + direction + s.str[-1]).to_numpy(dtype=object)


def build_individuals(seed: int, c: NS, ref_day: int) -> NS:
    """Attributes, latent risk drivers and lifecycle of individual customers."""
    pos = np.flatnonzero(~c.is_corp)
    k = c.uid[pos]
    n = len(pos)
    male = uniform(seed, "i_male", k) < 0.52
    onboard = c.onboard[pos]
    age_onb = np.clip(36 + 10 * normal(seed, "i_age", k), 20, 68)
    birth = onboard - (age_onb * 365.25).astype(np.int64)
    age_ref = (ref_day - birth) / 365.25
    name, surname = vocab.person_names(
        uniform(seed, "i_sn", k), uniform(seed, "i_g1", k), uniform(seed, "i_g2", k), male
    )
    born_elsewhere = uniform(seed, "i_born_else", k) < 0.3
    area = vocab.area_codes_valid_in(np.where(born_elsewhere, 0, c.pref[pos]), cal.year_of(birth), seed, k)
    id_number = ids.id_numbers(area, birth.astype("datetime64[D]"), male, (uniform(seed, "i_idseq", k) * 500))
    mobile = ids.mobiles(uniform(seed, "i_mp", k), (uniform(seed, "i_mn", k) * 1e8).astype(np.int64))
    addr = _addresses(seed, "i_addr", k, c.pref[pos], residential=True)
    occ = _pick(uniform(seed, "i_occ", k), list("12345678"), [6, 18, 20, 28, 6, 14, 1, 7])
    edu_w = {
        "1": [20, 45, 20, 10, 5],
        "2": [25, 55, 15, 4, 1],
        "3": [6, 40, 34, 16, 4],
        "4": [2, 18, 30, 35, 15],
        "5": [0.5, 3, 10, 40, 46.5],
        "6": [1, 8, 25, 45, 21],
        "7": [10, 40, 30, 18, 2],
        "8": [2, 15, 25, 35, 23],
    }
    edu = np.empty(n, dtype=object)
    ue = uniform(seed, "i_edu", k)
    for o, wts in edu_w.items():  # loop over 8 occupations
        m = occ == o
        edu[m] = _pick(ue[m], ["10", "20", "30", "40", "90"], wts)
    married_p = sigmoid((age_onb - 29) / 3.0)
    um = uniform(seed, "i_mar", k)
    marital = np.where(um > married_p, "10", np.where(um < married_p * 0.08, "30", "20")).astype(object)
    marital = np.where((age_ref > 62) & (uniform(seed, "i_widow", k) < 0.12), "40", marital).astype(object)
    # income: occupation, education, city tier, age; the risk factor f lowers it a little
    f = normal(seed, "i_f", k)
    occ_eff = {"1": 0.55, "2": 0.35, "3": 0.0, "4": -0.1, "5": -0.55, "6": -0.2, "7": 0.05, "8": -0.3}
    edu_eff = {"10": 0.45, "20": 0.2, "30": 0.0, "40": -0.15, "90": -0.3}
    tier1 = np.isin(c.pref[pos], [3101, 1101, 4403, 4401])
    mu = (
        np.log(110_000)
        + lookup(occ, occ_eff)
        + lookup(edu, edu_eff)
        + np.where(tier1, 0.3, 0.0)
        - 0.0006 * (age_ref - 45) ** 2
    )
    e_inc = normal(seed, "i_inc", k)
    log_income = mu + 0.5 * e_inc - 0.15 * f
    income = np.clip(_round_to(np.exp(log_income), 100), 20_000, 8_000_000)
    employer = _employers(seed, k, occ, c.pref[pos])
    # --- risk drivers (standardised latents) and the bureau quantities they drive
    d_od = 0.8 * f + 0.6 * normal(seed, "i_e_od", k)
    d_inq = 0.6 * f + 0.8 * normal(seed, "i_e_inq", k)
    d_util = 0.7 * f + 0.7 * normal(seed, "i_e_util", k)
    d_dti = 0.5 * f + 0.85 * normal(seed, "i_e_dti", k)
    d_inc = (0.5 * e_inc - 0.15 * f) / 0.52  # income above its expectation
    youth = np.clip((35 - age_ref) / 10, -2, 2)
    r = params.RISK_INDIVIDUAL
    eta = (
        r["bureau_delinquency"] * d_od
        + r["inquiries"] * d_inq
        + r["utilisation"] * d_util
        + r["debt_to_income"] * d_dti
        + r["income"] * d_inc
        + r["youth"] * youth
        + params.RISK_NOISE * normal(seed, "i_eps", k)
    )
    has_ext_card = uniform(seed, "i_ext_card", k) < 0.78
    has_ext_loan = uniform(seed, "i_ext_loan", k) < sigmoid(-0.3 + 0.6 * d_dti)
    return NS(
        pos=pos,
        male=male,
        birth=birth,
        name=name,
        surname=surname,
        id_number=id_number,
        mobile=mobile,
        province=addr.province,
        city=addr.city,
        address=addr.address,
        occupation=occ,
        employer=employer,
        income=income,
        education=edu,
        marital=marital,
        f=f,
        eta=eta,
        d_od=d_od,
        d_inq=d_inq,
        d_util=d_util,
        d_dti=d_dti,
        d_inc=d_inc,
        youth=youth,
        od_lambda=np.exp(-1.6 + 0.9 * d_od),
        inq_lambda=np.exp(0.3 + 0.45 * d_inq),
        util=np.clip(100 * sigmoid(-0.7 + 1.1 * d_util), 0, 160),
        card_limit=np.where(
            has_ext_card, _round_to(income * np.exp(-0.9 + 0.5 * normal(seed, "i_lim", k)), 1000), 0.0
        ),
        ext_debt=np.where(has_ext_loan, _round_to(income * np.exp(-0.3 + 0.7 * d_dti), 100), 0.0),
        ext_loans=np.where(
            has_ext_loan, 1 + (uniform(seed, "i_nloans", k) * (1.5 + sigmoid(d_dti) * 3)).astype(np.int64), 0
        ),
        self_employed=np.isin(occ, ["4", "5", "6"]) & (uniform(seed, "i_selfemp", k) < 0.4),
        age_ref=age_ref,
    )


def _employers(seed: int, k: np.ndarray, occ: np.ndarray, prefs: np.ndarray) -> np.ndarray:
    n = len(k)
    city_short = np.empty(n, dtype=object)
    for p in np.unique(prefs):
        city_short[prefs == p] = vocab.city(int(p)).short
    brand = _brand(seed, "emp", k)
    ind = vocab.INDUSTRY_CODES[choice_index(uniform(seed, "emp_ind", k), vocab.INDUSTRY_WEIGHTS)]
    word = _industry_word(seed, "emp", k, ind)
    company = (
        city_short
        + brand
        + word
        + _pick(uniform(seed, "emp_sfx", k), ["有限公司", "股份有限公司"], [0.85, 0.15])
    )
    public = city_short + _pick(uniform(seed, "emp_pub", k), vocab.PUBLIC_EMPLOYERS)
    u = uniform(seed, "emp_kind", k)
    out = np.where(np.isin(occ, ["1", "2"]) & (u < 0.45), public, company)
    out = np.where(occ == "4", np.where(u < 0.35, "个体经营", company), out)
    out = np.where(occ == "7", "部队", out)
    out = np.where((occ == "5") | ((occ == "8") & (u < 0.6)), None, out)
    return out.astype(object)


def _brand(seed: int, tag: str, k: np.ndarray) -> np.ndarray:
    chars = vocab.BRAND_CHARS
    a = (uniform(seed, tag + "_b1", k) * len(chars)).astype(np.int64)
    b = (a + 1 + (uniform(seed, tag + "_b2", k) * (len(chars) - 1)).astype(np.int64)) % len(chars)
    fb = vocab.faker_brands()
    use_faker = uniform(seed, tag + "_bf", k) < 0.25
    return np.where(
        use_faker, fb[(uniform(seed, tag + "_bfi", k) * len(fb)).astype(np.int64)], chars[a] + chars[b]
    ).astype(object)


def _industry_word(seed: int, tag: str, k: np.ndarray, industry: np.ndarray) -> np.ndarray:
    out = np.empty(len(k), dtype=object)
    u = uniform(seed, tag + "_iw", k)
    for code, words in vocab.INDUSTRY_WORDS.items():  # loop over 16 sections
        m = industry == code
        out[m] = np.asarray(words, dtype=object)[(u[m] * len(words)).astype(np.int64)]
    return out


def company_names(
    seed: int,
    tag: str,
    k: np.ndarray,
    prefs: np.ndarray,
    industry: np.ndarray,
    listed_share: np.ndarray | float = 0.1,
) -> np.ndarray:
    city_short = np.empty(len(k), dtype=object)
    for p in np.unique(prefs):
        city_short[prefs == p] = vocab.city(int(p)).short
    sfx = np.where(uniform(seed, tag + "_sfx", k) < listed_share, "股份有限公司", "有限公司")
    return city_short + _brand(seed, tag, k) + _industry_word(seed, tag, k, industry) + sfx


def build_corporates(seed: int, c: NS, ref_day: int) -> NS:
    pos = np.flatnonzero(c.is_corp)
    k = c.uid[pos]
    n = len(pos)
    industry = vocab.INDUSTRY_CODES[choice_index(uniform(seed, "c_ind", k), vocab.INDUSTRY_WEIGHTS)]
    size = np.asarray(params.ENTERPRISE_SIZES, dtype=object)[
        choice_index(uniform(seed, "c_size", k), params.ENTERPRISE_SIZE_WEIGHTS)
    ]
    emp = np.zeros(n, dtype=np.int64)
    rev0 = np.zeros(n)
    ue, ur = uniform(seed, "c_emp", k), uniform(seed, "c_rev", k)
    for s in params.ENTERPRISE_SIZES:
        m = size == s
        lo, hi = params.SIZE_EMPLOYEES[s]
        emp[m] = np.exp(np.log(lo) + ue[m] * (np.log(hi) - np.log(lo))).astype(np.int64)
        lo, hi = params.SIZE_REVENUE[s]
        rev0[m] = np.exp(np.log(lo) + ur[m] * (np.log(hi) - np.log(lo)))
    onboard = c.onboard[pos]
    established = onboard - ((0.5 + 24 * uniform(seed, "c_est", k) ** 1.5) * 365.25).astype(np.int64)
    name = company_names(
        seed, "c_name", k, c.pref[pos], industry, np.where(np.isin(size, ["L", "M"]), 0.4, 0.05)
    )
    addr = _addresses(seed, "c_addr", k, c.pref[pos], residential=False)
    org_body = (uniform(seed, "c_org", k) * 1e8).astype(np.int64)
    uscc = ids.usccs(addr.district_code, org_body)
    rep_male = uniform(seed, "c_rep_male", k) < 0.78
    rep_name, rep_surname = vocab.person_names(
        uniform(seed, "c_rep_sn", k), uniform(seed, "c_rep_g1", k), uniform(seed, "c_rep_g2", k), rep_male
    )
    rep_birth = onboard - ((32 + 12 * uniform(seed, "c_rep_age", k)) * 365.25).astype(np.int64)
    rep_area = vocab.area_codes_valid_in(
        np.where(uniform(seed, "c_rep_else", k) < 0.35, 0, c.pref[pos]),
        cal.year_of(rep_birth),
        seed,
        k + 7_000_000_000,
    )
    rep_id = ids.id_numbers(
        rep_area, rep_birth.astype("datetime64[D]"), rep_male, uniform(seed, "c_rep_seq", k) * 500
    )
    rep_id = np.where(uniform(seed, "c_rep_has_id", k) < 0.92, rep_id, None)
    reg_cap = np.maximum(_round_to(rev0 * np.exp(-1.6 + 0.8 * normal(seed, "c_cap", k)), 100_000), 100_000)
    # --- risk drivers
    f = normal(seed, "c_f", k)
    shape = np.stack(
        [lookup(industry, {k: v[j] for k, v in vocab.INDUSTRY_SHAPE.items()}) for j in range(4)], axis=1
    )
    d_lev = 0.7 * f + 0.7 * normal(seed, "c_e_lev", k)
    d_margin = -(0.6 * f + 0.8 * normal(seed, "c_e_mar", k))  # higher = more profitable
    d_growth = -(0.5 * f + 0.87 * normal(seed, "c_e_gro", k))
    d_od = 0.8 * f + 0.6 * normal(seed, "c_e_od", k)
    d_inq = 0.6 * f + 0.8 * normal(seed, "c_e_inq", k)
    d_guar = 0.5 * f + 0.87 * normal(seed, "c_e_guar", k)
    lev = sigmoid(logit(shape[:, 1]) + 0.5 * d_lev)
    margin = shape[:, 3] + 0.035 * d_margin
    growth = 0.06 + 0.05 * d_growth
    r = params.RISK_CORPORATE
    size_eff = lookup(size, params.SIZE_RISK)
    ind_eff = lookup(industry, vocab.INDUSTRY_RISK)
    firm_age = (ref_day - established) / 365.25
    eta = (
        r["bureau_delinquency"] * d_od
        + r["inquiries"] * d_inq
        + r["leverage"] * d_lev
        + r["profitability"] * d_margin
        + r["growth"] * d_growth
        + r["guarantees"] * d_guar
        + size_eff
        + ind_eff
        + 0.15 * np.clip((5 - firm_age) / 5, -1, 1)
        + params.RISK_NOISE * normal(seed, "c_eps", k)
    )
    return NS(
        pos=pos,
        industry=industry,
        size=size,
        employees=emp,
        revenue0=rev0,
        established=established,
        name=name,
        province=addr.province,
        city=addr.city,
        address=addr.address,
        district_code=addr.district_code,
        uscc=uscc,
        rep_name=rep_name,
        rep_surname=rep_surname,
        rep_male=rep_male,
        rep_birth=rep_birth,
        rep_id=rep_id,
        reg_cap=reg_cap,
        f=f,
        eta=eta,
        d_od=d_od,
        d_inq=d_inq,
        d_lev=d_lev,
        d_margin=d_margin,
        d_growth=d_growth,
        d_guar=d_guar,
        lev=lev,
        margin=margin,
        growth=growth,
        gross_margin=shape[:, 2],
        turnover=shape[:, 0],
        od_lambda=np.exp(-1.8 + 0.9 * d_od),
        inq_lambda=np.exp(0.6 + 0.45 * d_inq),
        guar_ratio=np.exp(-1.6 + 0.7 * d_guar),
        ext_loans=(1 + uniform(seed, "c_nloans", k) * np.where(np.isin(size, ["L", "M"]), 8, 3)).astype(
            np.int64
        ),
    )


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
    c.t_dorm = np.where(
        dormant, c.t_dec + (-np.log(1 - uniform(seed, "lc_dorm_t", k)) * 300).astype(np.int64), NEVER
    )
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
        gd = gd * np.exp(-np.maximum(td - c.t_dec[r], 0) / 30.44 / c.tau_d[r]) * 0.3
        g[dorm] = gd
    return np.where(days < t0, 0.0, g)
