"""The profiles of the synthetic bank's customers: for individuals their names, identity numbers, mobiles,
addresses, occupation, education, income and employer; for corporates their industry, size, company name,
address, unified social credit code and legal representative; and for both the latent risk drivers (the
standardised factors behind bureau history, leverage, profitability and default).

Pure functions of ``(seed, uid)`` like the rest of :mod:`crm.synthetic.world`, which builds the customers
these profiles belong to.
"""

from __future__ import annotations

import numpy as np

from crm.synthetic import cal, ids, params, vocab
from crm.synthetic.rand import choice_index, logit, lookup, normal, sigmoid, uniform
from crm.synthetic.world import NS


def _round_to(x: np.ndarray, unit: float) -> np.ndarray:
    return np.round(np.asarray(x, dtype=np.float64) / unit) * unit


def _pick(u: np.ndarray, values, weights=None) -> np.ndarray:
    values = np.asarray(values, dtype=object)
    if weights is None:
        weights = np.ones(len(values))
    return values[choice_index(u, weights)]


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
        room = (floor_ * 100 + 1 + (uniform(seed, tag + "_rm", keys) * 4).astype(np.int64)).astype(str).astype(object)
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
        card_limit=np.where(has_ext_card, _round_to(income * np.exp(-0.9 + 0.5 * normal(seed, "i_lim", k)), 1000), 0.0),
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
    company = city_short + brand + word + _pick(uniform(seed, "emp_sfx", k), ["有限公司", "股份有限公司"], [0.85, 0.15])
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
    name = company_names(seed, "c_name", k, c.pref[pos], industry, np.where(np.isin(size, ["L", "M"]), 0.4, 0.05))
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
    rep_id = ids.id_numbers(rep_area, rep_birth.astype("datetime64[D]"), rep_male, uniform(seed, "c_rep_seq", k) * 500)
    rep_id = np.where(uniform(seed, "c_rep_has_id", k) < 0.92, rep_id, None)
    reg_cap = np.maximum(_round_to(rev0 * np.exp(-1.6 + 0.8 * normal(seed, "c_cap", k)), 100_000), 100_000)
    # --- risk drivers
    f = normal(seed, "c_f", k)
    shape = np.stack([lookup(industry, {k: v[j] for k, v in vocab.INDUSTRY_SHAPE.items()}) for j in range(4)], axis=1)
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
        ext_loans=(1 + uniform(seed, "c_nloans", k) * np.where(np.isin(size, ["L", "M"]), 8, 3)).astype(np.int64),
    )
