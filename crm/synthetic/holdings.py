"""Product holdings by family: deposits and loans (one holding per account / loan, amount = balance), credit
cards, wealth management, funds, insurance, payroll, settlement / cash management, FX and supply-chain finance.
"""

from __future__ import annotations

import numpy as np

from crm.synthetic import cal, ids
from crm.synthetic.rand import choice_index, normal, uniform
from crm.synthetic.world import NEVER, NS

FAMILY_CODE = {
    "DEP": 1,
    "LOAN": 2,
    "CARD": 3,
    "WMP": 4,
    "FUND": 5,
    "INS": 6,
    "PAYR": 7,
    "SETL": 8,
    "FX": 9,
    "SCF": 0,
}
FUND_CODES = np.array(
    [
        "110022",
        "161725",
        "005827",
        "000961",
        "519674",
        "163406",
        "260108",
        "001938",
        "110011",
        "000083",
        "320007",
        "166002",
    ],
    dtype=object,
)
CARD_PRODUCTS = (("CCSTD01", "CCGOLD01", "CCPLAT01"), (0.55, 0.35, 0.10))
INS_PRODUCTS = np.array(["INSLIFE01", "INSHLTH02", "INSANN03", "INSEDU04"], dtype=object)


def _chain(
    seed: int,
    tag: str,
    owner_key: np.ndarray,
    first: np.ndarray,
    term_m: np.ndarray,
    p_repeat: float,
    horizon: np.ndarray,
    max_n: int = 24,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Renewing holdings: (owner index, j, open, close) for open_j = first + j * term while repeating."""
    u = uniform(seed, tag + "_rep", owner_key)
    k = np.minimum(1 + np.floor(np.log(1 - u) / np.log(p_repeat)), max_n).astype(np.int64)
    months = cal.month_of(np.minimum(horizon, 10**5)) - cal.month_of(first)
    k = np.minimum(k, np.where(first < horizon, months // term_m + 1, 0))
    oi = np.repeat(np.arange(len(first)), k)
    j = np.arange(len(oi)) - np.repeat(np.cumsum(k) - k, k)
    op = cal.add_months(first[oi], j * term_m[oi])
    cl = np.minimum(cal.add_months(op, term_m[oi]), horizon[oi])
    return oi, j, op, cl


def build_holdings(seed: int, c: NS, ind: NS, corp: NS, acc: NS, loans: NS) -> NS:
    parts = []

    def add(cust, family, code, open_, close, source, src_row, base_amount, key):
        m = len(cust)
        parts.append(
            dict(
                cust=np.asarray(cust, np.int64),
                family=np.full(m, family, dtype=object),
                code=np.asarray(code, dtype=object) if not isinstance(code, str) else np.full(m, code, object),
                open=np.asarray(open_, np.int64),
                close=np.asarray(close, np.int64),
                source=np.full(m, source, dtype=np.int8),
                src_row=np.asarray(src_row, np.int64),
                base=np.asarray(base_amount, float),
                key=np.asarray(key, np.int64),
            )
        )

    # deposits: one holding per account
    term_txt = np.where(acc.slot == 1, "FIX" + acc.term.astype(str).astype(object) + "M", None)
    code = np.where(acc.slot == 1, term_txt, np.where(acc.currency == "USD", "DCURUSD", "D" + acc.product))
    code = np.where(acc.slot == 2, "DNTC7D", code)
    add(
        acc.cust,
        "DEP",
        code,
        acc.open,
        acc.close,
        1,
        np.arange(len(acc.uid)),
        np.zeros(len(acc.uid)),
        FAMILY_CODE["DEP"] * 10**15 + acc.uid,
    )
    # loans: one holding per loan
    add(
        loans.cust,
        "LOAN",
        loans.product + "01",
        loans.start,
        np.where(loans.kind == 0, NEVER, loans.end_day),
        2,
        np.arange(len(loans.uid)),
        np.zeros(len(loans.uid)),
        FAMILY_CODE["LOAN"] * 10**15 + loans.uid,
    )
    # cards (individuals)
    k = c.uid[ind.pos]
    has = uniform(seed, "h_card", k) < np.clip(0.2 + ind.income / 600_000, 0.2, 0.7)
    pos = ind.pos[has]
    kk = c.uid[pos]
    op = c.onboard[pos] + (uniform(seed, "h_card_open", kk) * 4 * 365).astype(np.int64)
    limit = np.clip(np.round(ind.income[has] * (0.1 + 0.4 * uniform(seed, "h_card_lim", kk)), -3), 5000, 200_000)
    add(
        pos,
        "CARD",
        np.asarray(CARD_PRODUCTS[0], object)[choice_index(uniform(seed, "h_card_p", kk), CARD_PRODUCTS[1])],
        op,
        c.t_churn[pos],
        3,
        np.full(len(pos), -1),
        limit * np.clip(ind.util[has] / 100, 0.02, 1.2),
        FAMILY_CODE["CARD"] * 10**15 + kk,
    )
    # wealth management (renewing products), funds, insurance
    affluent = c.dep_level > 150_000
    k = c.uid
    wm = uniform(seed, "h_wmp", k) < np.where(c.is_corp, 0.2, np.where(affluent, 0.55, 0.08))
    pos = np.flatnonzero(wm)
    kk = c.uid[pos]
    term = np.asarray([3, 6, 12])[choice_index(uniform(seed, "h_wmp_term", kk), [0.3, 0.4, 0.3])]
    first = c.onboard[pos] + (uniform(seed, "h_wmp_first", kk) * 3 * 365).astype(np.int64)
    oi, j, op, cl = _chain(seed, "h_wmp", kk, first, term, 0.75, c.t_churn[pos])
    amount = np.maximum(
        np.round(c.dep_level[pos[oi]] * (0.3 + 0.7 * uniform(seed, "h_wmp_amt", kk[oi] * 64 + j)), -4), 10_000
    )
    wm_code = "WM" + cal.year_of(op).astype(str).astype(object) + ids.zero_pad("", (kk[oi] * 7 + j) % 10**4, 4)
    add(
        pos[oi],
        "WMP",
        wm_code,
        op,
        cl,
        4,
        np.full(len(oi), -1),
        amount,
        FAMILY_CODE["WMP"] * 10**15 + kk[oi] * 64 + j,
    )
    fund = ~c.is_corp & (uniform(seed, "h_fund", k) < np.where(affluent, 0.35, 0.1))
    pos = np.flatnonzero(fund)
    kk = c.uid[pos]
    op = c.onboard[pos] + (uniform(seed, "h_fund_open", kk) * 5 * 365).astype(np.int64)
    closes = uniform(seed, "h_fund_close", kk) < 0.4
    cl = np.where(closes, op + ((0.5 + 3.5 * uniform(seed, "h_fund_len", kk)) * 365).astype(np.int64), NEVER)
    cl = np.minimum(cl, c.t_churn[pos])
    add(
        pos,
        "FUND",
        FUND_CODES[(uniform(seed, "h_fund_code", kk) * len(FUND_CODES)).astype(int)],
        op,
        cl,
        5,
        np.full(len(pos), -1),
        np.round(c.dep_level[pos] * (0.1 + 0.5 * uniform(seed, "h_fund_amt", kk)), 2),
        FAMILY_CODE["FUND"] * 10**15 + kk,
    )
    ins = ~c.is_corp & (uniform(seed, "h_ins", k) < np.where(affluent, 0.25, 0.08))
    pos = np.flatnonzero(ins)
    kk = c.uid[pos]
    ipos = np.searchsorted(ind.pos, pos)
    op = c.onboard[pos] + (uniform(seed, "h_ins_open", kk) * 5 * 365).astype(np.int64)
    lapse = uniform(seed, "h_ins_lapse", kk) < 0.1
    cl = np.where(lapse, op + 400 + (uniform(seed, "h_ins_len", kk) * 900).astype(np.int64), NEVER)
    add(
        pos,
        "INS",
        INS_PRODUCTS[(uniform(seed, "h_ins_p", kk) * len(INS_PRODUCTS)).astype(int)],
        op,
        cl,
        6,
        np.full(len(pos), -1),
        np.round(ind.income[ipos] * (0.02 + 0.08 * uniform(seed, "h_ins_amt", kk)), -2),
        FAMILY_CODE["INS"] * 10**15 + kk,
    )
    # payroll (employers and employees), settlement and cash management, FX, supply-chain finance
    employees = np.zeros(len(c.uid))
    employees[corp.pos] = corp.employees
    occ = np.full(len(c.uid), "", dtype=object)
    occ[ind.pos] = ind.occupation
    payr = np.where(
        c.is_corp,
        (employees >= 20) & (uniform(seed, "h_payr", k) < 0.5),
        np.isin(occ, ["1", "2", "3", "6"]) & (uniform(seed, "h_payr", k) < 0.3),
    )
    pos = np.flatnonzero(payr)
    kk = c.uid[pos]
    op = c.onboard[pos] + (uniform(seed, "h_payr_open", kk) * 365).astype(np.int64)
    add(
        pos,
        "PAYR",
        np.where(c.is_corp[pos], "PAYR01", "PAYR02"),
        op,
        c.t_churn[pos],
        7,
        np.full(len(pos), -1),
        np.full(len(pos), np.nan),
        FAMILY_CODE["PAYR"] * 10**15 + kk,
    )
    setl = c.is_corp & (uniform(seed, "h_setl", k) < 0.75)
    pos = np.flatnonzero(setl)
    kk = c.uid[pos]
    add(
        pos,
        "SETL",
        np.where(np.isin(corp.size[np.searchsorted(corp.pos, pos)], ["L", "M"]), "CMS01", "SETL01"),
        c.onboard[pos] + (uniform(seed, "h_setl_open", kk) * 200).astype(np.int64),
        c.t_churn[pos],
        8,
        np.full(len(pos), -1),
        np.full(len(pos), np.nan),
        FAMILY_CODE["SETL"] * 10**15 + kk,
    )
    usd = acc.cust[acc.slot == 4]
    kk = c.uid[usd]
    cp = np.searchsorted(corp.pos, usd)
    fwd = uniform(seed, "h_fx_fwd", kk) < 0.25
    add(
        usd,
        "FX",
        np.where(fwd, "FXFWD01", "FXSPOT01"),
        acc.open[acc.slot == 4] + 5,
        acc.close[acc.slot == 4],
        9,
        np.full(len(usd), -1),
        np.round(corp.revenue0[cp] * (0.05 + 0.3 * uniform(seed, "h_fx_amt", kk)), -3),
        FAMILY_CODE["FX"] * 10**15 + kk,
    )
    scf_lines = np.flatnonzero(loans.line_prod == "CSC")
    lc = loans.line_cust[scf_lines]
    # a supply-chain finance limit of 1.5 x the line's first loan, opened just before it
    add(
        lc,
        "SCF",
        np.where(uniform(seed, "h_scf_p", loans.line_uid[scf_lines]) < 0.6, "SCFAR01", "SCFPO01"),
        loans.line_first[scf_lines] - 10,
        np.minimum(c.t_churn[lc], NEVER),
        10,
        scf_lines,
        np.full(len(lc), np.nan),
        FAMILY_CODE["SCF"] * 10**15 + loans.line_uid[scf_lines],
    )
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    valid = out["open"] < out["close"]  # e.g. a product that would open after the customer left
    out = {key: v[valid] for key, v in out.items()}
    order = np.lexsort((out["key"], out["cust"]))
    h = NS(**{key: v[order] for key, v in out.items()})
    # product codes repeat: keep each distinct string once (holding ids are formatted on demand from the key)
    h.code_vocab, h.code_idx = np.unique(h.code.astype(str), return_inverse=True)
    h.code_vocab = h.code_vocab.astype(object)
    del h.code
    scf = h.source == 10
    h.base[scf] = np.round(loans.line_amount0[h.src_row[scf]] * 1.5, -4)
    return h


def amounts_on(seed: int, h: NS, rows: np.ndarray, t: int, dep_balance: dict, loan_balance: dict) -> np.ndarray:
    """Holding amounts on ``t``: balances for deposits and loans, valuations for the rest."""
    src = h.source[rows]
    out = h.base[rows].copy()
    m = int(cal.month_of(t))
    z = normal(seed, "h_val", h.key[rows] * 512 + (m % 512))
    out = np.where(src == 3, np.round(out * np.exp(0.35 * z), 2), out)  # card balance
    out = np.where(src == 5, np.round(out * np.exp(0.12 * z), 2), out)  # fund value
    dep = src == 1
    if dep.any():
        out[dep] = dep_balance["map"](h.src_row[rows[dep]])
    ln = src == 2
    if ln.any():
        out[ln] = loan_balance["map"](h.src_row[rows[ln]])
    closed = h.close[rows] <= t
    out = np.where(closed & np.isin(src, [1, 2, 3, 4, 5, 9, 10]), 0.0, out)
    return out
