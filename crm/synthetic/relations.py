"""Contacts of customers and related parties: corporate groups (controllers, shareholders, affiliates),
guarantors (with guarantee chains and circles among corporate customers), suppliers and buyers.

Partners that are themselves customers are drawn from the base customers (joined on or before the
reference date) so that a customer's relations do not depend on the range of dates generated; relation ids
are keyed by the customer that created the edge.
"""

from __future__ import annotations

import numpy as np

from crm.synthetic import cal, ids, vocab
from crm.synthetic.profiles import company_names
from crm.synthetic.rand import choice_index, hash64, uniform
from crm.synthetic.world import NEVER, NS


def _person(
    seed: int,
    tag: str,
    k: np.ndarray,
    male: np.ndarray,
    birth: np.ndarray,
    pref: np.ndarray,
    surname: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    name, _ = vocab.person_names(
        uniform(seed, tag + "_sn", k),
        uniform(seed, tag + "_g1", k),
        uniform(seed, tag + "_g2", k),
        male,
        surname=surname,
    )
    area = vocab.area_codes_valid_in(
        np.where(uniform(seed, tag + "_else", k) < 0.3, 0, pref),
        cal.year_of(birth),
        seed,
        hash64(seed, tag + "_ak", k).astype(np.int64) & 0x3FFFFFFFFFFF,
    )
    idn = ids.id_numbers(area, birth.astype("datetime64[D]"), male, uniform(seed, tag + "_seq", k) * 500)
    return name, idn


def build_contacts(seed: int, c: NS, ind: NS, corp: NS) -> NS:
    parts = []
    # individuals
    k = c.uid[ind.pos]
    n = len(k)
    married = ind.marital == "20"
    slots = np.zeros((n, 3), dtype=bool)
    slots[:, 0] = True
    slots[:, 1] = uniform(seed, "ct_2", k) < 0.6
    slots[:, 2] = uniform(seed, "ct_3", k) < 0.2
    r, s = np.nonzero(slots)
    ck = k[r] * 4 + s
    age = ind.age_ref[r]
    rel = np.empty(len(r), dtype=object)
    rel[s == 0] = np.where(married[r[s == 0]], "SPOUSE", "PARENT")
    u2 = uniform(seed, "ct_rel2", ck)
    rel[s == 1] = np.asarray(["FRIEND", "COLLEAGUE", "SIBLING"], dtype=object)[
        choice_index(u2[s == 1], [0.4, 0.35, 0.25])
    ]
    rel[s == 2] = np.where(age[s == 2] > 42, "CHILD", "SIBLING")
    ctype = np.where(s == 1, "EMERGENCY", "FAMILY").astype(object)
    cust_male = ind.male[r]
    um = uniform(seed, "ct_male", ck)
    male = np.select([rel == "SPOUSE", rel == "PARENT"], [~cust_male, um < 0.6], um < 0.5)
    birth = ind.birth[r]
    off = (uniform(seed, "ct_age", ck) * 8 * 365).astype(np.int64)
    cbirth = np.select(
        [rel == "SPOUSE", rel == "PARENT", rel == "CHILD", rel == "SIBLING"],
        [
            birth - 3 * 365 + off,
            birth - (23 * 365 + off * 1.5).astype(np.int64),
            birth + (24 * 365 + off).astype(np.int64),
            birth - 4 * 365 + off,
        ],
        birth - 8 * 365 + 2 * off,
    )
    same_surname = (rel == "SIBLING") | ((rel == "PARENT") & male) | ((rel == "CHILD") & cust_male)
    sn_vocab, sn_w = vocab.surnames()
    surname = np.where(same_surname, ind.surname[r], sn_vocab[choice_index(uniform(seed, "ct_sn", ck), sn_w)])
    name, idn = _person(seed, "ct_p", ck, male, cbirth, c.pref[ind.pos][r], surname=surname)
    with_id = uniform(seed, "ct_has_id", ck) < np.select(
        [rel == "SPOUSE", rel == "PARENT", rel == "CHILD"], [0.7, 0.3, 0.2], 0.05
    )
    mobile = ids.mobiles(uniform(seed, "ct_mp", ck), (uniform(seed, "ct_mn", ck) * 1e8).astype(np.int64))
    parts.append(
        dict(
            cust=ind.pos[r],
            slot=s,
            contact_type=ctype,
            relationship=rel,
            name=name,
            id_number=np.where(with_id, idn, None),
            mobile=mobile,
            primary=s == 0,
        )
    )
    # corporates: finance officer (primary) and a partner
    k = c.uid[corp.pos]
    n = len(k)
    slots = np.zeros((n, 2), dtype=bool)
    slots[:, 0] = True
    slots[:, 1] = uniform(seed, "ct_partner", k) < 0.6
    r, s = np.nonzero(slots)
    ck = k[r] * 4 + s
    male = uniform(seed, "ct_cmale", ck) < np.where(s == 0, 0.4, 0.75)
    cbirth = c.onboard[corp.pos][r] - ((28 + 25 * uniform(seed, "ct_cage", ck)) * 365.25).astype(np.int64)
    name, idn = _person(seed, "ct_c", ck, male, cbirth, c.pref[corp.pos][r])
    with_id = uniform(seed, "ct_chas_id", ck) < 0.5
    mobile = ids.mobiles(uniform(seed, "ct_cmp", ck), (uniform(seed, "ct_cmn", ck) * 1e8).astype(np.int64))
    parts.append(
        dict(
            cust=corp.pos[r],
            slot=s,
            contact_type=np.where(s == 0, "FINANCE", "PARTNER").astype(object),
            relationship=np.where(s == 0, "CFO", "PARTNER").astype(object),
            name=name,
            id_number=np.where(with_id, idn, None),
            mobile=mobile,
            primary=s == 0,
        )
    )
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.lexsort((out["slot"], out["cust"]))
    out = {key: v[order] for key, v in out.items()}
    ct = NS(**out)
    ct.key = c.uid[ct.cust] * 10 + ct.slot  # contact id CT + 13 digits, formatted on demand
    return ct


# ============================================================================================ related parties


def build_related(seed: int, c: NS, ind: NS, corp: NS, loans: NS) -> NS:
    n_base = c.n_base
    rows: list[dict] = []
    corp_pos_of = np.full(len(c.uid), -1)
    corp_pos_of[corp.pos] = np.arange(len(corp.pos))
    ind_pos_of = np.full(len(c.uid), -1)
    ind_pos_of[ind.pos] = np.arange(len(ind.pos))

    def add(cust, kind, k, rtype, ptype, related_cust, name, cert, share, amount, start, end):
        m = len(cust)
        rows.append(
            dict(
                cust=np.asarray(cust, np.int64),
                creator=np.asarray(cust, np.int64),
                kind=np.full(m, kind),
                k=np.asarray(k),
                relation_type=np.full(m, rtype, dtype=object) if isinstance(rtype, str) else rtype,
                party_type=np.full(m, ptype, dtype=object) if isinstance(ptype, str) else ptype,
                related=np.asarray(related_cust, np.int64),
                name=name,
                cert=cert,
                share=np.asarray(share, float),
                amount=np.asarray(amount, float),
                start=np.asarray(start, np.int64),
                end=np.asarray(end, np.int64),
            )
        )

    # ---- corporate groups among base corporates
    base_corp = corp.pos[corp.pos < n_base]
    in_group = base_corp[uniform(seed, "grp_in", c.uid[base_corp]) < 0.35]
    order = np.argsort(hash64(seed, "grp_order", c.uid[in_group]))
    members = in_group[order]
    sizes = 2 + (uniform(seed, "grp_size", np.arange(len(members))) * 5).astype(np.int64)
    ends = np.cumsum(sizes)
    ends = ends[ends <= len(members)]
    gid = np.searchsorted(ends, np.arange(len(members)), side="right")
    valid = gid < len(ends)
    members, gid = members[valid], gid[valid]
    g_start = np.r_[0, ends[:-1]][: len(ends)]
    first = np.r_[True, gid[1:] != gid[:-1]] if len(gid) else np.zeros(0, dtype=bool)
    parent = members[g_start[gid]] if len(gid) else members
    # group controller: an individual customer for 30% of the groups, otherwise an outside person
    n_groups = len(ends)
    g_keys = np.arange(n_groups) + 5 * 10**9
    base_ind = ind.pos[ind.pos < n_base]
    ctrl_is_cust = (uniform(seed, "grp_ctrl_cust", g_keys) < 0.3) & (len(base_ind) > 0)
    ctrl_cust = (
        base_ind[
            (uniform(seed, "grp_ctrl_pick", g_keys) * max(len(base_ind), 1)).astype(np.int64) % max(len(base_ind), 1)
        ]
        if len(base_ind)
        else np.full(n_groups, -1)
    )
    ctrl_male = uniform(seed, "grp_ctrl_male", g_keys) < 0.8
    ctrl_birth = cal.day(cal.date(0).replace(year=1965)) + (uniform(seed, "grp_ctrl_b", g_keys) * 20 * 365).astype(
        np.int64
    )
    ext_name, ext_id = _person(
        seed,
        "grp_ctrl",
        g_keys,
        ctrl_male,
        ctrl_birth,
        np.full(n_groups, 3101 if len(c.pref) == 0 else int(c.pref[0])),
    )
    ip = ind_pos_of[np.maximum(ctrl_cust, 0)]
    g_name = np.where(ctrl_is_cust, ind.name[ip] if len(ind.pos) else ext_name, ext_name)
    g_id = np.where(ctrl_is_cust, ind.id_number[ip] if len(ind.pos) else ext_id, ext_id)
    g_rel = np.where(ctrl_is_cust, ctrl_cust, -1)
    est = corp.established[corp_pos_of[members]]
    mk = c.uid[members]
    add(
        members,
        1,
        np.zeros(len(members), int),
        "CONTROLLER",
        "I",
        g_rel[gid],
        g_name[gid],
        g_id[gid],
        np.full(len(members), np.nan),
        np.full(len(members), np.nan),
        est,
        np.full(len(members), NEVER),
    )
    share_p = np.round(30 + 60 * uniform(seed, "grp_share_p", mk), 2)
    share_m = np.round(51 + 49 * uniform(seed, "grp_share_m", mk), 2)
    pm = first
    add(
        members[pm],
        2,
        np.zeros(pm.sum(), int),
        "SHAREHOLDER",
        "I",
        g_rel[gid[pm]],
        g_name[gid[pm]],
        g_id[gid[pm]],
        share_p[pm],
        np.full(pm.sum(), np.nan),
        est[pm],
        np.full(pm.sum(), NEVER),
    )
    sub = ~first
    pp = corp_pos_of[parent[sub]]
    add(
        members[sub],
        2,
        np.zeros(sub.sum(), int),
        "SHAREHOLDER",
        "C",
        parent[sub],
        corp.name[pp],
        corp.uscc[pp],
        share_m[sub],
        np.full(sub.sum(), np.nan),
        est[sub],
        np.full(sub.sum(), NEVER),
    )
    # affiliates: each member names the next member of its group
    nxt = np.where(
        np.r_[gid[1:] == gid[:-1], False] if len(gid) else np.zeros(0, bool),
        np.r_[members[1:], -1] if len(gid) else members,
        parent,
    )
    ok = nxt != members
    npos = corp_pos_of[nxt[ok]]
    start = np.maximum(c.onboard[members[ok]], c.onboard[nxt[ok]])
    add(
        members[ok],
        3,
        np.zeros(ok.sum(), int),
        "AFFILIATE",
        "C",
        nxt[ok],
        corp.name[npos],
        corp.uscc[npos],
        np.full(ok.sum(), np.nan),
        np.full(ok.sum(), np.nan),
        start,
        np.full(ok.sum(), NEVER),
    )
    # ---- corporates outside groups: the legal representative controls and holds shares
    grouped = np.zeros(len(c.uid), dtype=bool)
    grouped[members] = True
    solo = corp.pos[~grouped[corp.pos]]
    sp = corp_pos_of[solo]
    sk = c.uid[solo]
    rep_id = corp.rep_id[sp]
    add(
        solo,
        1,
        np.zeros(len(solo), int),
        "CONTROLLER",
        "I",
        np.full(len(solo), -1),
        corp.rep_name[sp],
        rep_id,
        np.full(len(solo), np.nan),
        np.full(len(solo), np.nan),
        corp.established[sp],
        np.full(len(solo), NEVER),
    )
    share1 = np.round(np.where(uniform(seed, "solo_2nd", sk) < 0.45, 40 + 50 * uniform(seed, "solo_s1", sk), 100), 2)
    add(
        solo,
        2,
        np.zeros(len(solo), int),
        "SHAREHOLDER",
        "I",
        np.full(len(solo), -1),
        corp.rep_name[sp],
        rep_id,
        share1,
        np.full(len(solo), np.nan),
        corp.established[sp],
        np.full(len(solo), NEVER),
    )
    two = share1 < 100
    s2 = solo[two]
    k2 = c.uid[s2]
    is_co = uniform(seed, "solo_2co", k2) < 0.4
    male = uniform(seed, "solo_2male", k2) < 0.7
    pname, pid = _person(seed, "solo_2p", k2, male, corp.rep_birth[sp[two]] + 365 * 3, c.pref[s2])
    cname = company_names(seed, "solo_2c", k2, c.pref[s2], corp.industry[sp[two]])
    cuscc = ids.usccs(corp.district_code[sp[two]], (uniform(seed, "solo_2org", k2) * 1e8).astype(np.int64))
    add(
        s2,
        2,
        np.ones(len(s2), int),
        "SHAREHOLDER",
        np.where(is_co, "C", "I").astype(object),
        np.full(len(s2), -1),
        np.where(is_co, cname, pname),
        np.where(is_co, cuscc, pid),
        np.round(100 - share1[two], 2),
        np.full(len(s2), np.nan),
        corp.established[sp[two]],
        np.full(len(s2), NEVER),
    )
    # ---- guarantors: one per line with guarantee type GU
    line_gu = np.flatnonzero(loans.line_guarantee == "GU")
    lcust = loans.line_cust[line_gu]
    line_no = loans.line_uid[line_gu] % 4
    # the line's (first) amount; a guarantee of a non-renewing line ends at its maturity
    amount = loans.line_amount0[line_gu]
    last_maturity = np.where(loans.line_renews[line_gu], NEVER, loans.line_maturity0[line_gu])
    amount = np.where(amount > 0, amount, np.nan)
    gstart = loans.line_first[line_gu] - 3
    corp_gu = c.is_corp[lcust]
    # corporate GU borrowers among base customers: chains and circles (first GU line of each)
    first_line = np.r_[True, lcust[1:] != lcust[:-1]] if len(lcust) else np.zeros(0, dtype=bool)
    chain_pool = np.flatnonzero(corp_gu & first_line & (lcust < n_base))
    order = np.argsort(hash64(seed, "gu_chain_order", c.uid[lcust[chain_pool]]))
    pool = chain_pool[order]
    seg = 2 + (uniform(seed, "gu_seg", np.arange(len(pool))) * 4).astype(np.int64)
    seg_end = np.cumsum(seg)
    sid = np.searchsorted(seg_end, np.arange(len(pool)), side="right")
    seg_start = np.r_[0, seg_end[:-1]]
    guarantor = np.full(len(line_gu), -1, dtype=np.int64)
    # within a segment each borrower is guaranteed by the next one (a chain); 15% of the segments close
    # into a circle (the last guaranteed by the first; two members = mutual guarantee)
    i = np.arange(len(pool))
    same = np.r_[sid[1:] == sid[:-1], False] if len(pool) else np.zeros(0, dtype=bool)
    circle = uniform(seed, "gu_circle", sid + 9 * 10**9) < 0.15
    nxt = np.where(
        same, i + 1, np.where(circle, seg_start[np.minimum(sid, len(seg_start) - 1)] if len(pool) else i, -1)
    )
    has_next = nxt >= 0
    guarantor[pool[has_next]] = lcust[pool[nxt[has_next]]]
    guarantor[guarantor == lcust] = -1
    # the guarantee starts when both are customers; a guarantor who joins after the line ends guarantees nothing
    late = (guarantor >= 0) & (np.maximum(gstart, c.onboard[np.maximum(guarantor, 0)]) > last_maturity)
    guarantor[late] = -1
    gi = np.flatnonzero(guarantor >= 0)
    gp = corp_pos_of[guarantor[gi]]
    st = np.maximum(gstart[gi], c.onboard[guarantor[gi]])
    add(
        lcust[gi],
        4,
        line_no[gi],
        "GUARANTOR",
        "C",
        guarantor[gi],
        corp.name[gp],
        corp.uscc[gp],
        np.full(len(gi), np.nan),
        amount[gi],
        st,
        last_maturity[gi],
    )
    # other corporate GU lines: a guarantee company or the controller; individual GU lines: a person
    rest = np.flatnonzero(guarantor < 0)
    rc = rest[corp_gu[rest]]
    kk = loans.line_uid[line_gu[rc]]
    use_co = uniform(seed, "gu_co", kk) < 0.6
    cp = corp_pos_of[lcust[rc]]
    gname = c.pref[lcust[rc]]
    city_short = np.array([vocab.city(int(p)).short for p in np.unique(gname)], dtype=object)
    short = city_short[np.searchsorted(np.unique(gname), gname)] if len(rc) else np.empty(0, object)
    gco = (
        short
        + vocab.GUARANTEE_COMPANIES[(uniform(seed, "gu_co_name", kk) * len(vocab.GUARANTEE_COMPANIES)).astype(int)]
    )
    guscc = ids.usccs(corp.district_code[cp], (uniform(seed, "gu_co_org", kk) * 1e8).astype(np.int64))
    add(
        lcust[rc],
        4,
        line_no[rc],
        "GUARANTOR",
        np.where(use_co, "C", "I").astype(object),
        np.full(len(rc), -1),
        np.where(use_co, gco, corp.rep_name[cp]),
        np.where(use_co, guscc, corp.rep_id[cp]),
        np.full(len(rc), np.nan),
        amount[rc],
        gstart[rc],
        last_maturity[rc],
    )
    ri = rest[~corp_gu[rest]]
    kk = loans.line_uid[line_gu[ri]]
    ipos = ind_pos_of[lcust[ri]]
    male = uniform(seed, "gu_p_male", kk) < 0.6
    pname, pid = _person(
        seed,
        "gu_p",
        kk,
        male,
        ind.birth[ipos] + (uniform(seed, "gu_p_b", kk) * 3000).astype(int) - 1500,
        c.pref[lcust[ri]],
    )
    add(
        lcust[ri],
        4,
        line_no[ri],
        "GUARANTOR",
        "I",
        np.full(len(ri), -1),
        pname,
        pid,
        np.full(len(ri), np.nan),
        amount[ri],
        gstart[ri],
        last_maturity[ri],
    )
    # ---- supply chain: trading corporates name suppliers and buyers
    trading = corp.pos[np.isin(corp.industry, ["A", "B", "C", "E", "F", "G", "H"])]
    tk = c.uid[trading]
    n_edges = (uniform(seed, "sc_n", tk) * 4).astype(np.int64)  # 0..3
    src = np.repeat(trading, n_edges)
    e = np.arange(len(src)) - np.repeat(np.cumsum(n_edges) - n_edges, n_edges)
    ek = c.uid[src] * 4 + e
    is_supplier = uniform(seed, "sc_dir", ek) < 0.5  # the partner supplies the source
    base_corp_all = corp.pos[corp.pos < n_base]
    to_cust = (uniform(seed, "sc_cust", ek) < 0.4) & (len(base_corp_all) > 1)
    partner = (
        base_corp_all[
            (uniform(seed, "sc_pick", ek) * max(len(base_corp_all), 1)).astype(np.int64) % max(len(base_corp_all), 1)
        ]
        if len(base_corp_all)
        else np.full(len(src), -1)
    )
    to_cust &= partner != src
    src_pos = corp_pos_of[src]
    volume = np.round(corp.revenue0[src_pos] * (0.02 + 0.28 * uniform(seed, "sc_vol", ek)), -3)
    ended = uniform(seed, "sc_end", ek) < 0.12
    # customer-to-customer edges start once both are customers; others may predate the relationship
    cstart = np.maximum(c.onboard[src], np.where(to_cust, c.onboard[np.maximum(partner, 0)], 0)) + (
        uniform(seed, "sc_cst", ek) * 365
    ).astype(np.int64)
    xstart = c.onboard[src] - (uniform(seed, "sc_xst", ek) * 3 * 365).astype(np.int64)
    start = np.where(to_cust, cstart, xstart)
    end = np.where(ended, start + ((0.5 + 4.5 * uniform(seed, "sc_len", ek)) * 365).astype(np.int64), NEVER)
    xname = company_names(
        seed,
        "sc_x",
        ek,
        c.pref[src],
        vocab.INDUSTRY_CODES[choice_index(uniform(seed, "sc_xind", ek), vocab.INDUSTRY_WEIGHTS)],
    )
    xuscc = ids.usccs(corp.district_code[src_pos], (uniform(seed, "sc_xorg", ek) * 1e8).astype(np.int64))
    ppos = corp_pos_of[np.maximum(partner, 0)]
    pname = np.where(to_cust, corp.name[ppos], xname)
    pcert = np.where(to_cust, corp.uscc[ppos], xuscc)
    add(
        src,
        5,
        e,
        np.where(is_supplier, "SUPPLIER", "BUYER").astype(object),
        "C",
        np.where(to_cust, partner, -1),
        pname,
        pcert,
        np.full(len(src), np.nan),
        volume,
        start,
        end,
    )
    # the mirror edge on the partner's side
    mi = np.flatnonzero(to_cust)
    spos = corp_pos_of[src[mi]]
    add(
        partner[mi],
        7,
        e[mi],
        np.where(is_supplier[mi], "BUYER", "SUPPLIER").astype(object),
        "C",
        src[mi],
        corp.name[spos],
        corp.uscc[spos],
        np.full(len(mi), np.nan),
        volume[mi],
        start[mi],
        end[mi],
    )
    rows[-1]["creator"] = src[mi]
    out = {key: np.concatenate([r[key] for r in rows]) for key in rows[0]}
    order = np.lexsort((out["k"], out["kind"], out["creator"], out["cust"]))
    out = {key: v[order] for key, v in out.items()}
    rp = NS(**out)
    rp.key = c.uid[rp.creator] * 1000 + rp.kind * 100 + rp.k  # relation id RL + 14 digits, on demand
    return rp
