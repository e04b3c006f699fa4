"""Tailored proposals: per customer and proposal type, a candidate from the month's needs and preferences, its
eligibility gates, the hold-out (control group), the expected contribution if accepted and a rank among the
customer's offered proposals. Every rule, gate, price and weight is ``[proposals]`` of ``config.toml``
(docs/playbook.md, "Tailored proposals").

Input frames (staged ids are tokens; the hold-out is drawn on them):

- ``customers``: one row per customer (:func:`proposal_customers` builds it from customer_value and
  customer_360): customer_id, segment (retail / sme / corporate: the value segment), tier, key_account, grade,
  pd, lgd, txn_count_3m, manager_id, branch_id, status (customer_status), product_families (comma-separated
  families held), contract_amount, deposit_balance, deposit_mtd_avg. Missing optional columns count as empty.
- ``needs``: the customer_needs mart (spec table 1): customer_id, need, strength (0-1), deadline (date or
  null), evidence (JSON text).
- ``preferences``: the customer_preferences mart (spec table 2): customer_id, rate_type, repayment_method
  (other columns ignored). May be empty.
- ``loans``: the month-end loans snapshot (staged): loan_id, customer_id, contract_amount, balance,
  interest_rate (percent), rate_type, repayment_method, start_date, maturity_date, five_class, status.
- ``warnings``: the month's early_warnings (customer_id, rule_id, severity). May be empty.
- ``leads``: the month's supply_chain_leads (anchor_id, counterparty_id, role, amount,
  counterparty_is_customer). May be empty.
- ``peer_fees`` (optional): :func:`peer_fees` of the fee ledger.

Output (:func:`build_proposals`, spec table 5, :data:`COLUMNS`): one row per (customer_id, proposal_type)
considered. The steps:

1. Candidates: a need of the type's ``needs`` list fires, or one of the other sources (reason codes
   SUPPLY_CHAIN, PREFERENCE, IDLE_BALANCE, NO_PAYROLL, VOLUME; ``[proposals.sources]``). ``reasons`` is the
   sorted JSON list of the candidate's reason codes, ``evidence`` a JSON object of each reason's evidence,
   ``strength`` the largest strength of its reasons, ``deadline`` the earliest of its reasons' deadlines and
   ``deadline_kind`` that reason's kind (MATURITY; SEASONAL -> SEASON_PEAK; MORTGAGE_END, LARGE_INFLOW ->
   LIFE_EVENT).
2. Gates in ``gate_order``; ``gate_failed`` the first failed, ``eligible`` none failed.
3. Hold-out: :func:`crm.playbook.holdout.held_out` on the eligible rows (``share``, ``salt`` of
   ``[proposals.holdout]``, stamped on every row); ``offered`` = eligible and not held out.
4. ``expected_contribution`` (yuan a year if accepted) from the value configuration's FTP curves, PD x LGD,
   and fees; ``score`` = strength^a x max(contribution, floor)^b x urgency^c and ``rank`` 1.. among the
   customer's offered proposals (ties: the configuration's type order).

Vectorised: candidate tables are built with pandas joins and DuckDB (JSON evidence read and aggregated per
candidate in SQL); the only Python loops run over the ten proposal types.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from crm.playbook.holdout import draws

COLUMNS = [
    "customer_id",
    "proposal_type",
    "product_family",
    "eligible",
    "gate_failed",
    "held_out",
    "holdout_draw",
    "offered",
    "rank",
    "score",
    "strength",
    "reasons",
    "evidence",
    "expected_contribution",
    "offered_amount",
    "deadline",
    "deadline_kind",
    "manager_id",
    "branch_id",
    "segment",
    "tier",
    "key_account",
    "grade",
    "holdout_share",
    "holdout_salt",
    "month_end",
    "config_version",
]
GATES = ["STATUS", "SEGMENT", "HELD_PRODUCT", "FIVE_CLASS", "GRADE", "WARNING", "POLICY_LIMIT", "VALUE"]
SOURCES = ["SUPPLY_CHAIN", "PREFERENCE", "IDLE_BALANCE", "NO_PAYROLL", "VOLUME"]
DEADLINE_KIND = {
    "MATURITY": "MATURITY",
    "SEASONAL": "SEASON_PEAK",
    "MORTGAGE_END": "LIFE_EVENT",
    "LARGE_INFLOW": "LIFE_EVENT",
}
SWITCH_TYPES = {"RATE_SWITCH": "rate_type", "REPAY_SWITCH": "repayment_method"}
LIVE_LOANS = ("N", "O")
REF_CHARS = 8  # a related customer in evidence: the last characters of its token (as the early warnings)
REASON_COLUMNS = ["customer_id", "proposal_type", "reason", "strength", "deadline", "evidence", "amount", "margin"]
CUSTOMER_COLUMNS = [
    "customer_id",
    "segment",
    "tier",
    "key_account",
    "grade",
    "pd",
    "lgd",
    "txn_count_3m",
    "manager_id",
    "branch_id",
    "status",
    "product_families",
    "contract_amount",
    "deposit_balance",
    "deposit_mtd_avg",
]


def _f(x: pd.Series) -> pd.Series:
    return pd.to_numeric(x, errors="coerce").astype("float64")


def _col(frame: pd.DataFrame, name: str, default: Any = None) -> pd.Series:
    return frame[name] if name in frame.columns else pd.Series(default, index=frame.index)


def proposal_customers(value: pd.DataFrame, c360: pd.DataFrame) -> pd.DataFrame:
    """:func:`build_proposals`'s ``customers`` from a month's marts: customer_value (segment = value_segment,
    tier, key_account, grade, pd, lgd, txn_count_3m, manager_id, branch_id) with customer_360 (status,
    product_families, contract_amount, deposit_balance, deposit_mtd_avg; left join)."""
    v = value.drop_duplicates("customer_id")
    out = pd.DataFrame({"customer_id": v["customer_id"].to_numpy()})
    seg = v["value_segment"] if "value_segment" in v.columns else _col(v, "segment")
    out["segment"] = seg.to_numpy()
    for c in ("tier", "key_account", "grade", "pd", "lgd", "txn_count_3m", "manager_id", "branch_id"):
        out[c] = _col(v, c).to_numpy()
    c = c360.drop_duplicates("customer_id").set_index("customer_id")
    for col in ("status", "product_families", "contract_amount", "deposit_balance", "deposit_mtd_avg"):
        out[col] = out["customer_id"].map(c[col]).to_numpy() if col in c.columns else None
    return out[CUSTOMER_COLUMNS]


def _families_held(families: pd.Series, wanted: list[str]) -> pd.Series:
    """True where the comma-separated families contain one of ``wanted`` (plain substring tests on
    ",<families>,": no regular expression)."""
    out = pd.Series(False, index=families.index)
    if not wanted or not len(families):
        return out
    padded = "," + families.fillna("").astype(str).str.replace(" ", "", regex=False) + ","
    for fam in wanted:
        out |= padded.str.contains(f",{fam},", regex=False)
    return out


def rate_for_term(months: pd.Series | np.ndarray, curve: list[dict[str, Any]]) -> np.ndarray:
    """The rate of each term (months) on a curve of {bucket, max_months, rate} (crm/value/config.toml): the
    first bucket with max_months >= term, the last one beyond; NaN for an unknown term."""
    table = sorted(curve, key=lambda b: float(b["max_months"]))
    bounds = np.array([float(b["max_months"]) for b in table])
    rates = np.array([float(b["rate"]) for b in table])
    t = np.asarray(months, dtype="float64")
    idx = np.minimum(np.searchsorted(bounds, t, side="left"), len(bounds) - 1)
    return np.where(np.isnan(t), np.nan, rates[idx])


def _term_months(start: pd.Series, end: pd.Series) -> pd.Series:
    s, e = pd.to_datetime(start, errors="coerce"), pd.to_datetime(end, errors="coerce")
    return ((e.dt.year - s.dt.year) * 12 + (e.dt.month - s.dt.month)).astype("float64")


def live_loans(loans: pd.DataFrame) -> pd.DataFrame:
    """The live loans (status N 正常, O 逾期) of a snapshot, with numeric balance, contract amount and rate."""
    if loans is None or not len(loans):
        return pd.DataFrame(columns=["customer_id", "balance", "contract_amount", "interest_rate"])
    live = loans[loans["status"].astype("string").isin(LIVE_LOANS).fillna(False).to_numpy(bool)].copy()
    for c in ("balance", "contract_amount", "interest_rate"):
        live[c] = _f(_col(live, c))
    return live


def peer_fees(fee_ledger: pd.DataFrame, customers: pd.DataFrame, month_end: dt.date, config: dict) -> pd.DataFrame:
    """Per (segment, proposal type with a fee family), the median fees a year of the segment's customers who
    paid fees of the type's product family in the 12 months to ``month_end`` (``fee_ledger``: customer_id,
    product_family, amount, fee_date; reversals included), and how many paid (``payers``)."""
    cols = ["segment", "proposal_type", "annual_fee", "payers"]
    pc = config["proposals"]
    fams = {t: r["product_family"] for t, r in pc["types"].items() if t in pc["pricing"].get("fee_per_year", {})}
    if fee_ledger is None or not len(fee_ledger) or not fams:
        return pd.DataFrame(columns=cols)
    d = pd.to_datetime(fee_ledger["fee_date"], errors="coerce")
    start = pd.Timestamp(month_end) - pd.DateOffset(months=12)
    fl = fee_ledger[((d > start) & (d <= pd.Timestamp(month_end))).to_numpy()]
    fl = fl[fl["product_family"].isin(list(fams.values())).to_numpy()]
    per = fl.assign(amount=_f(fl["amount"]).fillna(0.0)).groupby(["customer_id", "product_family"])["amount"].sum()
    per = per[per > 0].reset_index()
    seg = customers.drop_duplicates("customer_id").set_index("customer_id")["segment"]
    per["segment"] = per["customer_id"].map(seg)
    g = per.dropna(subset=["segment"]).groupby(["segment", "product_family"])["amount"]
    stats = pd.DataFrame({"annual_fee": g.median(), "payers": g.size()}).reset_index()
    by_family = pd.DataFrame({"proposal_type": list(fams), "product_family": list(fams.values())})
    return stats.merge(by_family, on="product_family")[cols]


# ----------------------------------------------------------------------------------------------- candidates


def _need_reasons(needs: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Reason rows from the needs mart: one per (customer, type, need) for each type listing the need, with
    the amount the need gives (see config [proposals.sources]), read from the evidence JSON in DuckDB."""
    import duckdb

    pc = config["proposals"]
    src = pc["sources"]
    pairs = pd.DataFrame(
        [(t, n, i) for t, r in pc["types"].items() for i, n in enumerate(r.get("needs", []))],
        columns=["proposal_type", "reason", "priority"],
    )
    if needs is None or not len(needs) or pairs.empty:
        return pd.DataFrame(columns=[*REASON_COLUMNS, "priority"])
    nd = pd.DataFrame(
        {
            "customer_id": needs["customer_id"].astype(str).to_numpy(),
            "reason": needs["need"].astype(str).to_numpy(),
            "strength": _f(needs["strength"]).to_numpy(),
            "deadline": pd.to_datetime(_col(needs, "deadline"), errors="coerce").to_numpy(),
            "evidence": _col(needs, "evidence").astype("object").where(lambda s: s.notna(), "{}").astype(str),
        }
    )
    share = float(src["placement_share"])
    con = duckdb.connect()
    try:
        con.register("nd", nd[["evidence"]])
        keys = ["amount", "contract_amount", "headroom", "limits", "growth", "monthly_payment_freed", "monthly_amount"]
        shape = "{" + ", ".join(f'"{k}": "DOUBLE"' for k in keys) + "}"
        # one parse of each need's evidence (json_transform to a struct of the numbers used; others ignored)
        e = con.execute(
            f"SELECT {', '.join(f'e.{k}' for k in keys)} FROM (SELECT TRY(json_transform(evidence, ?)) AS e FROM nd)",
            [shape],
        ).df()
    finally:
        con.close()
    code = nd["reason"]
    amount = np.select(
        [
            code == "MATURITY",
            code == "HEADROOM",
            code == "GROWTH",
            code == "SEASONAL",
            code == "LARGE_INFLOW",
            code == "MORTGAGE_END",
            code == "PAYROLL_START",
        ],
        [
            e["contract_amount"].fillna(e["amount"]),
            e["headroom"],
            e["limits"] * e["growth"],
            e["amount"],
            e["amount"] * share,
            e["monthly_payment_freed"] * 12 * share,
            e["monthly_amount"] * 12 * share,
        ],
        default=np.nan,
    )
    nd["amount"] = np.asarray(amount, dtype="float64")
    nd["margin"] = np.nan
    out = nd.merge(pairs, on="reason")
    return out[[*REASON_COLUMNS, "priority"]]


def _json_objects(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """A JSON object per row of ``frame``'s ``keys`` columns (numbers and text; DuckDB ``json_object``)."""
    import duckdb

    if not len(frame):
        return pd.Series([], dtype=object)
    con = duckdb.connect()
    try:
        con.register("f", frame[keys].reset_index(drop=True))
        args = ", ".join(f"'{k}', \"{k}\"" for k in keys)
        out = con.execute(f"SELECT CAST(json_object({args}) AS VARCHAR) AS j FROM f").df()["j"]
    finally:
        con.close()
    out.index = frame.index
    return out


def _reason_frame(
    customer_id, proposal_type: str, reason: str, strength: float, evidence, amount, margin=None
) -> pd.DataFrame:
    n = len(customer_id)
    return pd.DataFrame(
        {
            "customer_id": np.asarray(customer_id, dtype=object),
            "proposal_type": proposal_type,
            "reason": reason,
            "strength": float(strength),
            "deadline": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]").to_numpy(),
            "evidence": np.asarray(evidence, dtype=object),
            "amount": np.asarray(amount, dtype="float64") if amount is not None else np.full(n, np.nan),
            "margin": np.asarray(margin, dtype="float64") if margin is not None else np.full(n, np.nan),
            "priority": 100,
        }
    )


def _source_reasons(
    customers: pd.DataFrame,
    preferences: pd.DataFrame | None,
    loans: pd.DataFrame,
    leads: pd.DataFrame | None,
    config: dict,
    value_config: dict,
) -> list[pd.DataFrame]:
    """Reason rows of the sources that are not needs (SUPPLY_CHAIN, PREFERENCE, IDLE_BALANCE, NO_PAYROLL,
    VOLUME), each within its type's segments."""
    pc = config["proposals"]
    src, types = pc["sources"], pc["types"]
    strength = src["strength"]
    seg = customers.set_index("customer_id")["segment"]
    out: list[pd.DataFrame] = []

    def in_segments(ids: pd.Series, t: str) -> np.ndarray:
        return ids.map(seg).isin(types[t]["segments"]).to_numpy(bool)

    # SUPPLY_CHAIN -> SCF: counterparties of key corporate accounts that are customers of the bank
    if "SCF" in types and leads is not None and len(leads):
        ld = leads[leads["counterparty_is_customer"].astype("boolean").fillna(False).to_numpy(bool)]
        ld = ld.assign(amount=_f(ld["amount"]).fillna(0.0)).sort_values(
            ["counterparty_id", "amount", "anchor_id"], ascending=[True, False, True]
        )
        g = ld.groupby("counterparty_id", sort=True)
        per = pd.DataFrame(
            {
                "volume": g["amount"].sum(),
                "anchors": g["anchor_id"].nunique(),
                "anchor_ref": g["anchor_id"].first().astype(str).str[-REF_CHARS:],
                "role": g["role"].first(),
            }
        ).reset_index()
        per = per[in_segments(per["counterparty_id"], "SCF")]
        ev = _json_objects(per, ["anchors", "anchor_ref", "role", "volume"])
        out.append(
            _reason_frame(
                per["counterparty_id"],
                "SCF",
                "SUPPLY_CHAIN",
                strength["SUPPLY_CHAIN"],
                ev,
                per["volume"] * float(src["scf_share"]),
            )
        )
    # PREFERENCE -> RATE_SWITCH / REPAY_SWITCH: live loans whose rate type / repayment method is not preferred
    live = live_loans(loans)
    if preferences is not None and len(preferences) and len(live):
        pref = preferences.drop_duplicates("customer_id").set_index("customer_id")
        ftp = rate_for_term(
            _term_months(_col(live, "start_date"), _col(live, "maturity_date")),
            value_config["contribution"]["ftp_loan"],
        )
        live = live.assign(_margin=live["balance"].fillna(0.0) * (live["interest_rate"] / 100.0 - ftp))
        for t, dim in SWITCH_TYPES.items():
            if t not in types or dim not in pref.columns or dim not in live.columns:
                continue
            want = live["customer_id"].map(pref[dim])
            held = live[dim].astype("string")
            off = live[(want.notna() & held.notna() & (held != want.astype("string"))).fillna(False).to_numpy(bool)]
            if not len(off):
                continue
            g = off.groupby("customer_id", sort=True)
            per = pd.DataFrame(
                {
                    "loans": g.size(),
                    "balance": g["balance"].sum(),
                    "held": g[dim].first().astype(str),
                    "margin": g["_margin"].sum(min_count=1),
                }
            ).reset_index()
            per["preferred"] = per["customer_id"].map(pref[dim]).astype(str)
            per["dimension"] = dim
            per = per[in_segments(per["customer_id"], t)]
            ev = _json_objects(per, ["dimension", "held", "preferred", "loans", "balance"])
            out.append(
                _reason_frame(
                    per["customer_id"], t, "PREFERENCE", strength["PREFERENCE"], ev, per["balance"], per["margin"]
                )
            )
    # IDLE_BALANCE -> DEPOSIT, WEALTH
    bal = _f(_col(customers, "deposit_balance"))
    idle = customers[
        (bal >= float(src["idle_balance"])).to_numpy() & customers["segment"].isin(src["idle_segments"]).to_numpy()
    ]
    for t in ("DEPOSIT", "WEALTH"):
        if t not in types or not len(idle):
            continue
        sub = idle[in_segments(idle["customer_id"], t)]
        sub = sub.assign(deposit_balance=_f(sub["deposit_balance"]))
        ev = _json_objects(sub, ["deposit_balance"])
        out.append(
            _reason_frame(
                sub["customer_id"],
                t,
                "IDLE_BALANCE",
                strength["IDLE_BALANCE"],
                ev,
                sub["deposit_balance"] * float(src["placement_share"]),
            )
        )
    # NO_PAYROLL -> PAYROLL: employers with deposits (PAYR holders fail HELD_PRODUCT)
    if "PAYROLL" in types:
        mtd = _f(_col(customers, "deposit_mtd_avg"))
        sub = customers[(mtd >= float(src["payroll_min_deposit"])).to_numpy()]
        sub = sub[in_segments(sub["customer_id"], "PAYROLL")].assign(deposit_mtd_avg=lambda x: _f(x["deposit_mtd_avg"]))
        out.append(
            _reason_frame(
                sub["customer_id"],
                "PAYROLL",
                "NO_PAYROLL",
                strength["NO_PAYROLL"],
                _json_objects(sub, ["deposit_mtd_avg"]),
                None,
            )
        )
    # VOLUME -> SETTLE
    if "SETTLE" in types:
        n3 = _f(_col(customers, "txn_count_3m"))
        sub = customers[(n3 >= float(src["settle_min_transactions"])).to_numpy()]
        sub = sub[in_segments(sub["customer_id"], "SETTLE")].assign(txn_count_3m=lambda x: _f(x["txn_count_3m"]))
        out.append(
            _reason_frame(
                sub["customer_id"], "SETTLE", "VOLUME", strength["VOLUME"], _json_objects(sub, ["txn_count_3m"]), None
            )
        )
    return out


def candidates(
    customers: pd.DataFrame,
    needs: pd.DataFrame,
    preferences: pd.DataFrame | None,
    loans: pd.DataFrame,
    leads: pd.DataFrame | None,
    config: dict,
    value_config: dict,
) -> pd.DataFrame:
    """One row per (customer_id, proposal_type) with at least one reason, of the customers in ``customers``:
    reasons (JSON list), evidence (JSON object by reason), strength, deadline, deadline_kind, amount (before
    the cap; the first reason in the type's needs order giving one, then the other sources), margin (the
    switches' annual margin)."""
    cols = [
        "customer_id",
        "proposal_type",
        "reasons",
        "evidence",
        "strength",
        "deadline",
        "deadline_kind",
        "amount",
        "margin",
    ]
    frames = [
        _need_reasons(needs, config),
        *_source_reasons(customers, preferences, loans, leads, config, value_config),
    ]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=cols)
    r = pd.concat(frames, ignore_index=True)
    ids = pd.Index(customers["customer_id"].drop_duplicates().sort_values().to_numpy())
    code = ids.get_indexer(r["customer_id"])
    r = r[code >= 0].assign(_c=code[code >= 0])
    # SCF: CONCENTRATION is a reason too when the customer is a counterparty of an anchor (already a candidate)
    if len(r) and needs is not None and len(needs):
        scf = r.loc[r["proposal_type"] == "SCF", "customer_id"].unique()
        conc = needs[(needs["need"] == "CONCENTRATION").to_numpy() & needs["customer_id"].isin(scf).to_numpy()]
        if len(conc):
            r = pd.concat(
                [
                    r,
                    _reason_frame(
                        conc["customer_id"], "SCF", "CONCENTRATION", 0.0, conc["evidence"].fillna("{}"), None
                    ).assign(strength=_f(conc["strength"]).to_numpy(), _c=ids.get_indexer(conc["customer_id"])),
                ],
                ignore_index=True,
            )
    return _aggregate(r)[cols]


def _aggregate(r: pd.DataFrame) -> pd.DataFrame:
    """One row per (customer_id, proposal_type) of the reason rows ``r``: vectorised over the rows, with a
    Python loop only over the position of a reason within its candidate (a handful)."""
    # integer keys (customer position in id order, type and reason codes): no sort of strings
    t_code, _ = pd.factorize(r["proposal_type"], sort=True)
    r_code, _ = pd.factorize(r["reason"], sort=True)
    c_code = r["_c"].to_numpy(dtype="int64")
    order = np.lexsort((r_code, t_code, c_code))
    r = r.iloc[order].reset_index(drop=True)
    key = c_code[order] * 64 + t_code[order]
    first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, dtype=bool)
    gid = np.cumsum(first) - 1
    start = np.flatnonzero(first)
    pos = np.arange(len(key)) - start[gid]
    g = r.groupby(gid, sort=False)
    out = r.loc[first, ["customer_id", "proposal_type"]].reset_index(drop=True)
    reason = r["reason"].astype(str)
    piece = '"' + reason + '": ' + r["evidence"].astype(str)
    reasons = ('"' + reason[first] + '"').to_numpy(dtype=object)
    evidence = piece[first].to_numpy(dtype=object)
    for k in range(1, int(pos.max()) + 1 if len(pos) else 1):
        at = pos == k
        reasons[gid[at]] = reasons[gid[at]] + ',"' + reason[at].to_numpy(dtype=object) + '"'
        evidence[gid[at]] = evidence[gid[at]] + ", " + piece[at].to_numpy(dtype=object)
    out["reasons"] = "[" + pd.Series(reasons, dtype=object) + "]"
    out["evidence"] = "{" + pd.Series(evidence, dtype=object) + "}"
    out["strength"] = g["strength"].max().to_numpy(dtype="float64")
    deadline = pd.to_datetime(r["deadline"], errors="coerce").astype("datetime64[ns]")
    out["deadline"] = deadline.groupby(gid).min().reindex(range(len(out))).to_numpy()
    dated = r[deadline.notna().to_numpy()].assign(_g=gid[deadline.notna().to_numpy()], _d=deadline.dropna())
    earliest = dated.sort_values(["_g", "_d", "reason"], kind="stable").drop_duplicates("_g")
    kind = pd.Series(None, index=range(len(out)), dtype=object)
    kind[earliest["_g"].to_numpy()] = earliest["reason"].map(DEADLINE_KIND).to_numpy()
    out["deadline_kind"] = kind.to_numpy()
    amount = _f(r["amount"])
    has = amount.notna().to_numpy()
    picked = r[has].assign(_g=gid[has]).sort_values(["_g", "priority"], kind="stable").drop_duplicates("_g")
    amt = pd.Series(np.nan, index=range(len(out)))
    amt[picked["_g"].to_numpy()] = _f(picked["amount"]).to_numpy()
    out["amount"] = amt.to_numpy()
    out["margin"] = _f(r["margin"]).groupby(gid).sum(min_count=1).reindex(range(len(out))).to_numpy()
    return out


# -------------------------------------------------------------------------------------- gates and pricing


def worst_five_class(loans: pd.DataFrame) -> pd.Series:
    """The worst reported five-category class (1..5, float) of each customer's live loans."""
    live = live_loans(loans)
    if not len(live):
        return pd.Series(dtype="float64")
    return _f(live["five_class"]).groupby(live["customer_id"]).max()


def gates(frame: pd.DataFrame, loans: pd.DataFrame, warnings: pd.DataFrame | None, config: dict) -> pd.Series:
    """The first gate of ``gate_order`` each candidate row fails (None: eligible). ``frame``: candidates
    joined with the customers, with ``offered_amount`` already capped."""
    pc = config["proposals"]
    gc = pc["gates"]
    types = pc["types"]
    credit = frame["proposal_type"].isin(pc["credit_types"]).to_numpy(bool)
    seg = frame["segment"].astype("string")
    fail: dict[str, np.ndarray] = {}
    fail["STATUS"] = frame["status"].isin(pc["excluded_status"]).to_numpy(bool)
    outside = np.zeros(len(frame), dtype=bool)
    for t, r in types.items():
        outside |= (frame["proposal_type"] == t).to_numpy(bool) & ~seg.isin(r["segments"]).fillna(False).to_numpy(bool)
    fail["SEGMENT"] = outside
    held = np.zeros(len(frame), dtype=bool)
    per_customer = frame.drop_duplicates("customer_id").set_index("customer_id")["product_families"]
    for t, r in types.items():
        blocked = r.get("blocked_if_held", [])
        if blocked:
            has = frame["customer_id"].map(_families_held(per_customer, blocked)).fillna(False).to_numpy(bool)
            held |= (frame["proposal_type"] == t).to_numpy(bool) & has
    fail["HELD_PRODUCT"] = held
    fc = frame["customer_id"].map(worst_five_class(loans)).astype("float64").to_numpy()
    limit = np.where(credit, float(gc["credit_max_five_class"]), float(gc["other_max_five_class"]))
    fail["FIVE_CLASS"] = ~np.isnan(fc) & (fc > limit)
    grade = frame["grade"]
    grade_ok = grade.isin(gc["credit_grades"]).to_numpy(bool) | (
        grade.isna().to_numpy(bool) & bool(gc["ungraded_acceptable"])
    )
    fail["GRADE"] = credit & ~grade_ok
    w = np.zeros(len(frame), dtype=bool)
    if warnings is not None and len(warnings):
        for severities, applies in (
            (gc["credit_warning_severities"], credit),
            (gc["other_warning_severities"], ~credit),
        ):
            who = warnings.loc[warnings["severity"].isin(severities).to_numpy(bool), "customer_id"].unique()
            w |= applies & frame["customer_id"].isin(who).to_numpy(bool)
    fail["WARNING"] = w
    amount = _f(frame["offered_amount"]).to_numpy()
    low = ~np.isnan(amount) & (amount < seg.map(gc["min_offered_amount"]).astype("float64").fillna(0.0).to_numpy())
    exposure = _f(frame["contract_amount"]).fillna(0.0).to_numpy() + np.nan_to_num(amount)
    over = credit & (exposure > seg.map(gc["max_exposure"]).astype("float64").fillna(np.inf).to_numpy())
    fail["POLICY_LIMIT"] = low | over
    # VALUE: a proposal expected to earn less than min_expected_contribution a year (yuan; e.g. a loan whose
    # expected loss exceeds its margin over FTP) is not proposed
    if "expected_contribution" in frame.columns:
        ec = _f(frame["expected_contribution"]).to_numpy()
        fail["VALUE"] = ~np.isnan(ec) & (ec < float(gc.get("min_expected_contribution", 0.0)))
    else:
        fail["VALUE"] = np.zeros(len(frame), dtype=bool)
    out = np.full(len(frame), None, dtype=object)
    for g in reversed(pc["gate_order"]):
        if g not in fail:
            raise ValueError(f"[proposals] gate_order: unknown gate {g!r} (known: {GATES})")
        out = np.where(fail[g], g, out)
    return pd.Series(out, index=frame.index, dtype=object)


def expected_contribution(
    frame: pd.DataFrame, loans: pd.DataFrame, peer: pd.DataFrame | None, config: dict, value_config: dict
) -> pd.Series:
    """Yuan a year if accepted (formulas in config [proposals.pricing]). ``frame``: candidates with
    customers' segment, pd, lgd and offered_amount; switches carry ``margin``."""
    pc = config["proposals"]
    pr = pc["pricing"]
    vc = value_config["contribution"]
    t = frame["proposal_type"]
    amount = _f(frame["offered_amount"]).fillna(0.0)
    out = pd.Series(0.0, index=frame.index)
    # credit
    live = live_loans(loans)
    if len(live):
        w = live["balance"].fillna(0.0)
        num = (live["interest_rate"] / 100.0 * w).groupby(live["customer_id"]).sum()
        den = w.groupby(live["customer_id"]).sum()
        own = (num / den.where(den > 0)).astype("float64")
    else:
        own = pd.Series(dtype="float64")
    rate = frame["customer_id"].map(own).astype("float64")
    rate = rate.fillna(frame["segment"].map(pr["loan_rate"]).astype("float64"))
    pd_ = _f(_col(frame, "pd")).fillna(float(vc["unscored_pd"]))
    lgd = _f(_col(frame, "lgd")).fillna(float(vc["default_lgd"]))
    for typ in pc["credit_types"]:
        if typ not in pc["types"]:
            continue
        r = pc["types"][typ]
        m = (t == typ).to_numpy(bool)
        ftp = float(rate_for_term(np.array([float(r["term_months"])]), vc["ftp_loan"])[0])
        used = amount[m] * float(r["utilisation"])
        out[m] = (used * (rate[m] - ftp) - used * pd_[m] * lgd[m]).fillna(0.0)
    # switches
    sw = t.isin(list(SWITCH_TYPES)).to_numpy(bool)
    out[sw] = (_f(frame.loc[sw, "margin"]) * float(pr["retention_share"])).fillna(0.0)
    # deposit, wealth
    dep_ftp = float(
        rate_for_term(np.array([float(pr["deposit_term_months"])]), value_config["contribution"]["ftp_deposit_fix"])[0]
    )
    m = (t == "DEPOSIT").to_numpy(bool)
    out[m] = amount[m] * (dep_ftp - float(pr["deposit_rate"]))
    m = (t == "WEALTH").to_numpy(bool)
    out[m] = amount[m] * float(pr["wealth_fee_rate"])
    # fee services
    for typ, by_seg in pr.get("fee_per_year", {}).items():
        m = (t == typ).to_numpy(bool)
        if not m.any():
            continue
        fee = frame.loc[m, "segment"].map(by_seg).astype("float64").fillna(0.0)
        if peer is not None and len(peer):
            p = peer[(peer["proposal_type"] == typ) & (peer["payers"] >= int(pr["min_fee_payers"]))]
            peer_fee = frame.loc[m, "segment"].map(p.set_index("segment")["annual_fee"]).astype("float64")
            fee = peer_fee.fillna(fee)
        out[m] = fee
    return out.round(2)


def urgency(deadline: pd.Series, month_end: dt.date, config: dict) -> pd.Series:
    """1 + boost x max(0, 1 - days / horizon) for a deadline ``days`` after the month end (past: 0 days); 1
    without a deadline."""
    sc = config["proposals"]["score"]
    d = pd.to_datetime(deadline, errors="coerce")
    days = ((d - pd.Timestamp(month_end)).dt.days).clip(lower=0).astype("float64")
    u = 1.0 + float(sc["urgency_boost"]) * (1.0 - days / float(sc["urgency_horizon_days"])).clip(lower=0.0)
    return u.fillna(1.0)


def build_proposals(
    month_end: dt.date,
    customers: pd.DataFrame,
    needs: pd.DataFrame,
    preferences: pd.DataFrame | None,
    loans: pd.DataFrame,
    warnings: pd.DataFrame | None,
    leads: pd.DataFrame | None,
    config: dict,
    value_config: dict,
    peer: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The proposals mart of ``month_end`` (spec table 5; see the module docstring for the input frames)."""
    pc = config["proposals"]
    share, salt = float(pc["holdout"]["share"]), str(pc["holdout"]["salt"])
    cust = customers.drop_duplicates("customer_id").sort_values("customer_id", kind="stable").reset_index(drop=True)
    for c in CUSTOMER_COLUMNS:
        if c not in cust.columns:
            cust[c] = None
    cand = candidates(cust, needs, preferences, loans, leads, config, value_config)
    df = cand.merge(cust[CUSTOMER_COLUMNS], on="customer_id", how="inner", validate="many_to_one")
    df["proposal_type"] = df["proposal_type"].astype("category")  # compared with each type many times
    types = pc["types"]
    df["product_family"] = df["proposal_type"].map({t: r["product_family"] for t, r in types.items()}).astype(object)
    # the offered amount; SEASONAL without an amount of its own: a share of the live contracts (or deposits)
    amount = _f(df["amount"])
    seasonal = (df["proposal_type"] == "SEASONAL").to_numpy(bool) & amount.isna().to_numpy(bool)
    if seasonal.any():
        base = _f(df["contract_amount"]).where(lambda x: x > 0).fillna(_f(df["deposit_mtd_avg"]))
        amount[seasonal] = base[seasonal] * float(pc["sources"]["seasonal_share"])
    cap = df["segment"].map(pc["gates"]["max_offered_amount"]).astype("float64")
    df["offered_amount"] = amount.where(amount.isna(), np.minimum(amount, cap.fillna(np.inf))).round(2)
    # the expected contribution before the gates: the VALUE gate reads it
    df["expected_contribution"] = expected_contribution(df, loans, peer, config, value_config)
    df["gate_failed"] = gates(df, loans, warnings, config)
    df["eligible"] = df["gate_failed"].isna()
    # the hold-out, drawn on the eligible rows of each type
    df["holdout_draw"] = np.nan
    for t in df.loc[df["eligible"], "proposal_type"].unique():
        m = (df["eligible"] & (df["proposal_type"] == t)).to_numpy(bool)
        df.loc[m, "holdout_draw"] = draws(df.loc[m, "customer_id"], month_end, t, salt)
    if not 0.0 <= share < 1.0:
        raise ValueError(f"hold-out share must be in [0, 1): {share}")
    df["held_out"] = df["eligible"] & (df["holdout_draw"] < share)
    df["offered"] = df["eligible"] & ~df["held_out"]
    sc = pc["score"]
    strength = _f(df["strength"]).fillna(0.0).clip(0.0, 1.0)
    contrib = df["expected_contribution"].clip(lower=float(sc["min_contribution"]))
    df["score"] = (
        strength ** float(sc["strength_weight"])
        * contrib ** float(sc["contribution_weight"])
        * urgency(df["deadline"], month_end, config) ** float(sc["urgency_weight"])
    ).round(4)
    order = {t: i for i, t in enumerate(types)}
    df["_o"] = df["proposal_type"].map(order).astype("int64")
    df["_c"] = pd.Index(cust["customer_id"]).get_indexer(df["customer_id"])
    df = df.sort_values(["_c", "offered", "score", "_o"], ascending=[True, False, False, True], kind="stable")
    df["rank"] = df.groupby("_c", sort=False).cumcount() + 1
    df["rank"] = df["rank"].where(df["offered"]).astype("Int64")
    df["deadline"] = pd.to_datetime(df["deadline"]).astype("datetime64[ns]")
    df["strength"] = _f(df["strength"])
    df["holdout_share"], df["holdout_salt"] = share, salt
    df["month_end"], df["config_version"] = month_end, config["version"]
    df["key_account"] = df["key_account"].astype("boolean")
    df["proposal_type"] = df["proposal_type"].astype(object)
    return df.sort_values(["_c", "_o"], kind="stable").reset_index(drop=True)[COLUMNS]
