"""Needs, preferences and tailored proposals in the reports (the readers' side of docs/playbook.md "Needs,
preferences and proposals"): what the key-account report shows per account, the relationship manager's
monthly proposal list (report kind ``proposals``), and the branch report's segment needs, conversion and
uplift.

**Reading** (:func:`load`, called by :func:`crm.reports.data.load_month`): the marts of the month end, each
tolerant of the exact dtypes the pipeline writes (evidence and reasons as JSON text or already parsed, dates as
dates, timestamps or ISO text, booleans as nullable booleans or 0/1) and of a mart that does not exist yet:

====================  =====================================================================================
mart                  columns read (missing ones read as unknown)
====================  =====================================================================================
customer_needs        customer_id, need, strength, deadline, evidence  (key accounts of customer_value only)
customer_preferences  customer_id, rate_type, term_band, repayment_method, collateral, channel, digital_share,
                      price_sensitivity, pricing_rating, loans_seen, interactions_seen, surveys_seen  (same)
proposals             customer_id, proposal_type, product_family, offered, held_out, rank, score, reasons,
                      evidence, expected_contribution, offered_amount, deadline, deadline_kind, manager_id,
                      branch_id, segment, key_account, holdout_share  (offered rows only)
segment_needs         branch_id, segment, need, customers, segment_customers, share, rank
segment_preferences   branch_id, segment, dimension, value, customers, share
opportunity_conversion dimension, value, branch_id, offered, accepted, declined, pending, lapsed, conversion,
                      median_days_to_outcome
proposal_uplift       branch_id (or scope), proposal_type, treated_n, treated_rate, holdout_n, holdout_rate,
                      uplift, ci_low, ci_high, significant
====================  =====================================================================================

A mart that does not exist or has no row for the month end is *absent* (``MonthData.absent``): its section
says so in words ("尚无数据") and shows no figure. Held-out proposals are never read (``offered`` rows only,
and a row marked ``held_out`` is dropped again), so no report can tell a manager who is in the control group.

Contexts are plain dicts (picklable); the words are made by the ``prepare_*`` functions in the rendering
worker: every need's evidence is a sentence of the catalogue (``need.evidence.<CODE>``), every code a label.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from markupsafe import Markup

from crm.reports.lookups import customer_ref, row_limit, staff_name
from crm.reports.retention import prepare_retention, retention_context

NEED_TABLES = (
    "customer_needs",
    "customer_preferences",
    "proposals",
    "segment_needs",
    "segment_preferences",
    "opportunity_conversion",
    "proposal_uplift",
)
PREFERENCE_COLUMNS = [
    "rate_type",
    "term_band",
    "repayment_method",
    "collateral",
    "channel",
    "digital_share",
    "price_sensitivity",
    "pricing_rating",
    "loans_seen",
    "interactions_seen",
    "surveys_seen",
]
PROPOSAL_COLUMNS = [
    "customer_id",
    "proposal_type",
    "product_family",
    "offered",
    "held_out",
    "rank",
    "score",
    "reasons",
    "evidence",
    "expected_contribution",
    "offered_amount",
    "deadline",
    "deadline_kind",
    "manager_id",
    "branch_id",
    "segment",
    "key_account",
    "holdout_share",
]
NEED_COLUMNS = ["customer_id", "need", "strength", "deadline", "evidence"]
SEGMENT_ORDER = ["corporate", "sme", "retail"]
PREFERENCE_DIMENSIONS = ["rate_type", "term_band", "repayment_method", "collateral", "channel", "price_sensitivity"]
# the code set of each preference dimension's values (labels: code.<set>.<value> or the np.* keys below)
DIMENSION_CODES = {
    "rate_type": "rate_type",
    "term_band": "term_band",
    "repayment_method": "repayment_method",
    "collateral": "guarantee_type",
    "channel": "interaction_channel",
    "price_sensitivity": "price_sensitivity",
}
UNKNOWN_VALUES = ("", "UNKNOWN", "nan", "None")
ALL = "ALL"  # the bank-wide scope rows of the segment, conversion and uplift marts


def _setting(section: str, name: str) -> Any:
    from crm.reports.settings import settings

    return settings()[section][name]


def soon_days() -> int:
    """Days from the month end within which a proposal's deadline counts as near (crm/reports/config.toml
    ``[proposals] deadline_soon_days``)."""
    return int(_setting("proposals", "deadline_soon_days"))


# --------------------------------------------------------------------------------------------- reading
def _table(conn: sa.Connection, table: str) -> tuple[str, list[str]] | None:
    """The qualified name and columns of ``table``; None when the warehouse has no such table."""
    from crm.warehouse import schema_of

    schema = schema_of(conn)
    inspector = sa.inspect(conn)
    if not inspector.has_table(table, schema=schema):
        return None
    columns = [c["name"] for c in inspector.get_columns(table, schema=schema)]
    return (f'"{schema}"."{table}"' if schema else f'"{table}"'), columns


def _select(
    conn: sa.Connection, table: str, columns: list[str] | None, where: str, params: dict, value_table: str
) -> pd.DataFrame | None:
    """The ``columns`` of ``table`` (those it has; the others added as missing) where ``where``; None when the
    table does not exist. ``{customer_value}`` in ``where`` is that table's qualified name."""
    found = _table(conn, table)
    if found is None:
        return None
    name, have = found
    cols = [c for c in (columns or have) if c in have]
    listed = ", ".join(f'"{c}"' for c in cols)
    sql = f"SELECT {listed} FROM {name} WHERE {where.replace('{customer_value}', value_table)}"
    frame = pd.read_sql(sa.text(sql), conn, params=params)
    return frame.reindex(columns=columns) if columns else frame


def _has_month(conn: sa.Connection, table: str, month_end: dt.date) -> bool:
    found = _table(conn, table)
    if found is None or "month_end" not in found[1]:
        return False
    sql = f"SELECT 1 FROM {found[0]} WHERE month_end = :d LIMIT 1"
    return conn.execute(sa.text(sql), {"d": month_end}).first() is not None


def load(conn: sa.Connection, month_end: dt.date) -> tuple[dict[str, pd.DataFrame], set[str]]:
    """The need and proposal marts of ``month_end`` as :data:`crm.reports.data.MonthData` frames, and the set
    of those that are absent (no such table, or no row for the month end). Needs and preferences of key
    accounts only (the cards show them); proposals offered only (never a held-out one)."""
    from crm.warehouse import schema_of

    schema = schema_of(conn)
    value = f'"{schema}"."customer_value"' if schema else '"customer_value"'
    keys = "month_end = :d AND customer_id IN (SELECT customer_id FROM {customer_value} WHERE month_end = :d AND key_account)"
    reads = {
        "customer_needs": (NEED_COLUMNS, keys),
        "customer_preferences": (["customer_id", *PREFERENCE_COLUMNS], keys),
        "proposals": (PROPOSAL_COLUMNS, "month_end = :d AND offered"),
        "segment_needs": (None, "month_end = :d"),
        "segment_preferences": (None, "month_end = :d"),
        "opportunity_conversion": (None, "month_end = :d"),
        "proposal_uplift": (None, "month_end = :d"),
    }
    frames, absent = {}, set()
    for table, (columns, where) in reads.items():
        if not _has_month(conn, table, month_end):
            absent.add(table)
            frames[table] = pd.DataFrame(columns=columns or [])
            continue
        frames[table] = _select(conn, table, columns, where, {"d": month_end}, value)
    frames["proposals"] = offered_only(frames["proposals"])
    return frames, absent


def _flag(series: pd.Series) -> pd.Series:
    """A boolean column as True / False / <NA>, whatever it was stored as (bool, nullable boolean, 0/1, text)."""
    if series.dtype == bool:
        return series.astype("boolean")
    text = series.astype(object).map(lambda v: None if _missing(v) else str(v).strip().lower())
    return text.map(
        {"true": True, "1": True, "1.0": True, "t": True, "false": False, "0": False, "0.0": False, "f": False}
    ).astype("boolean")


def offered_only(frame: pd.DataFrame) -> pd.DataFrame:
    """The proposals actually offered: ``offered`` true and not ``held_out`` (a held-out row never reaches a
    report, whatever else it says)."""
    if frame is None or frame.empty:
        return pd.DataFrame(columns=PROPOSAL_COLUMNS) if frame is None else frame
    f = frame.reindex(columns=list(dict.fromkeys([*PROPOSAL_COLUMNS, *frame.columns])))
    offered = _flag(f["offered"]).fillna(False)
    held = _flag(f["held_out"]).fillna(False)
    return f[offered.astype(bool) & ~held.astype(bool)].reset_index(drop=True)


def _present(data: Any, table: str) -> bool:
    """Whether ``data`` (:class:`crm.reports.data.MonthData`) holds the mart ``table`` for its month end (a
    frame it was given, not marked absent)."""
    return table in data.frames and table not in getattr(data, "absent", set())


def _missing(value: Any) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def _date(series: pd.Series) -> pd.Series:
    """Dates (datetime.date or None) from dates, timestamps or ISO text."""
    d = pd.to_datetime(series, errors="coerce")
    return d.dt.date.astype(object).where(d.notna(), None)


def _number(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def _json(value: Any) -> Any:
    """JSON text parsed (a dict or list as it is); None when missing or not JSON."""
    if isinstance(value, dict | list):
        return value
    if isinstance(value, np.ndarray):
        return value.tolist()
    if _missing(value) or not str(value).strip():
        return None
    try:
        return json.loads(str(value))
    except ValueError:
        return None


def _codes(value: Any) -> list[str]:
    """A list of codes from a JSON list, a list, or comma-separated text."""
    parsed = _json(value)
    if isinstance(parsed, list):
        return [str(c) for c in parsed if not _missing(c) and str(c).strip()]
    if isinstance(value, str) and value.strip() and parsed is None:
        return [c.strip() for c in value.split(",") if c.strip()]
    return []


def _plain(value: Any) -> Any:
    """A scalar as a plain Python value (None for missing; numpy numbers as int or float)."""
    if _missing(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()
    return value


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    f = frame.reindex(columns=columns).astype(object)
    return [{k: _plain(v) for k, v in r.items()} for r in f.to_dict("records")]


def proposal_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Offered proposals with clean types: deadline a date, numbers numeric, rank an integer or None, and the
    list order (deadline first, then expected contribution, largest first; then the customer and rank)."""
    f = offered_only(frame)
    if f.empty:
        return f
    f = f.assign(
        deadline=_date(f["deadline"]),
        expected_contribution=_number(f["expected_contribution"]),
        offered_amount=_number(f["offered_amount"]),
        score=_number(f["score"]),
        rank=_number(f["rank"]),
    )
    order = f.assign(
        _d=pd.to_datetime(f["deadline"], errors="coerce"), _c=f["expected_contribution"].fillna(-np.inf)
    ).sort_values(
        ["_d", "_c", "customer_id", "rank", "proposal_type"],
        ascending=[True, False, True, True, True],
        na_position="last",
        kind="stable",
    )
    return order.drop(columns=["_d", "_c"]).reset_index(drop=True)


# ------------------------------------------------------------------------------------ key-account cards
def account_sections(data: Any, customer_ids: pd.Series) -> dict[str, dict[str, Any]]:
    """Per key account (customer id): ``needs`` (need, strength, deadline, evidence as a dict; strongest
    first), ``preferences`` (the profile's columns, None without a row) and ``proposals`` (offered only, by
    rank). One pass over each mart (grouped), not one per account."""
    ids = set(customer_ids)
    needs = data["customer_needs"]
    needs = needs[needs["customer_id"].isin(ids)] if len(needs) else needs
    prefs = data["customer_preferences"]
    prefs = prefs[prefs["customer_id"].isin(ids)] if len(prefs) else prefs
    props = data["proposals"]
    props = proposal_frame(props[props["customer_id"].isin(ids)]) if len(props) else props
    out: dict[str, dict[str, Any]] = {cid: {"needs": [], "preferences": None, "proposals": []} for cid in ids}
    if len(needs):
        n = needs.assign(strength=_number(needs["strength"]), deadline=_date(needs["deadline"]))
        n = n.sort_values(["customer_id", "strength", "need"], ascending=[True, False, True], kind="stable")
        for cid, g in n.groupby("customer_id", sort=False):
            rows = _records(g, ["need", "strength", "deadline", "evidence"])
            for r in rows:
                r["evidence"] = _json(r["evidence"]) or {}
            out[cid]["needs"] = rows
    if len(prefs):
        for r in _records(prefs.drop_duplicates("customer_id"), ["customer_id", *PREFERENCE_COLUMNS]):
            out[r.pop("customer_id")]["preferences"] = r
    if len(props):
        p = props.sort_values(["customer_id", "rank"], na_position="last", kind="stable")
        for cid, g in p.groupby("customer_id", sort=False):
            rows = _records(
                g,
                [
                    "rank",
                    "proposal_type",
                    "product_family",
                    "reasons",
                    "evidence",
                    "expected_contribution",
                    "offered_amount",
                    "deadline",
                    "deadline_kind",
                ],
            )
            for r in rows:
                r["reasons"] = _codes(r["reasons"])
                r["evidence"] = _json(r["evidence"]) or {}
                r["rank"] = None if r["rank"] is None else int(r["rank"])
            out[cid]["proposals"] = rows
    return out


def key_account_summary(data: Any, keys: pd.DataFrame) -> dict[str, Any]:
    """The key-account report's tile: proposals offered to the manager's key accounts and their expected
    contribution (yuan a year); ``available`` False when the proposals mart is absent."""
    props = data["proposals"]
    mine = props[props["customer_id"].isin(keys["customer_id"])] if len(props) and len(keys) else props.head(0)
    return {
        "available": _present(data, "proposals"),
        "needs_available": _present(data, "customer_needs"),
        "offered": len(mine),
        "customers": int(mine["customer_id"].nunique()) if len(mine) else 0,
        "expected_contribution": float(_number(mine["expected_contribution"]).sum()) if len(mine) else 0.0,
    }


# ------------------------------------------------------------------------------------- the proposal list
def summary(rows: pd.DataFrame, month_end: dt.date) -> dict[str, Any]:
    """Counts of a set of offered proposals: proposals, customers, expected contribution (yuan a year),
    offered amount, and those whose deadline falls within :func:`soon_days` of the month end (month end
    included)."""
    soon = month_end + dt.timedelta(days=soon_days())
    d = pd.to_datetime(rows["deadline"], errors="coerce") if len(rows) else pd.Series(dtype="datetime64[ns]")
    near = (d >= pd.Timestamp(month_end)) & (d <= pd.Timestamp(soon))
    return {
        "proposals": len(rows),
        "customers": int(rows["customer_id"].nunique()) if len(rows) else 0,
        "expected_contribution": float(rows["expected_contribution"].sum()) if len(rows) else 0.0,
        "offered_amount": float(rows["offered_amount"].sum()) if len(rows) else 0.0,
        "soon": int(near.sum()),
        "soon_contribution": float(rows.loc[near, "expected_contribution"].sum()) if len(rows) else 0.0,
    }


def _of_manager(data: Any, manager_id: str) -> pd.DataFrame:
    """The offered proposals of one manager: the month's proposals indexed by manager once (cached in ``data``),
    then a lookup per manager, not a scan of the bank's proposals for each of them."""
    if "_proposals_by_manager" not in data.frames:
        props = data["proposals"]
        data.frames["_proposals_by_manager"] = (
            props.assign(_m=props["manager_id"].astype(str)).set_index("_m").sort_index() if len(props) else props
        )
    by = data.frames["_proposals_by_manager"]
    if by.empty or manager_id not in by.index:
        return data["proposals"].head(0)
    return by.loc[[manager_id]].reset_index(drop=True)


def _names(data: Any, customers: Callable[[Any], pd.DataFrame]) -> pd.Series:
    """Masked display name by customer id (cached in ``data``)."""
    if "_display_names" not in data.frames:
        c = customers(data)
        names = (
            c[["customer_id", "display_name"]].drop_duplicates("customer_id")
            if len(c) and "display_name" in c.columns
            else pd.DataFrame(columns=["customer_id", "display_name"])
        )
        data.frames["_display_names"] = names.set_index("customer_id")
    return data.frames["_display_names"]["display_name"]


def proposals_context(data: Any, manager_id: str, *, limit: int | None = None) -> dict[str, Any]:
    """The monthly proposal list of one relationship manager: every proposal offered to a customer they
    manage (``proposals.manager_id``), summary first (by type: proposals, customers, expected contribution,
    deadlines within :func:`soon_days`), then the list by deadline and expected contribution (the first
    ``limit`` rows, default ``[limits] proposal_rows``). Customers appear by masked display name and token
    reference, never a held-out one."""
    limit = row_limit("proposal_rows") if limit is None else limit
    month_end = data.month_end
    soon = month_end + dt.timedelta(days=soon_days())
    props = data["proposals"]
    rows = proposal_frame(_of_manager(data, manager_id))
    if len(rows):
        rows["display_name"] = _names(data, lambda d: d.customers()).reindex(rows["customer_id"]).to_numpy()
        rows["ref"] = customer_ref(rows["customer_id"])
        rows["row"] = rows["ref"] + ":" + rows["proposal_type"].astype(str)
    by_type = []
    if len(rows):
        for ptype, g in rows.groupby("proposal_type", sort=True):
            by_type.append({"proposal_type": str(ptype)} | summary(g, month_end))
        by_type.sort(key=lambda r: (-r["proposals"], r["proposal_type"]))
    listed = _records(
        rows.head(limit),
        [
            "row",
            "ref",
            "display_name",
            "segment",
            "proposal_type",
            "product_family",
            "reasons",
            "evidence",
            "deadline",
            "deadline_kind",
            "expected_contribution",
            "offered_amount",
        ],
    )
    for r in listed:
        r["reasons"] = _codes(r["reasons"])
        r["evidence"] = _json(r["evidence"]) or {}
    share = _number(props["holdout_share"]).dropna() if len(props) else pd.Series(dtype=float)
    actions, retention = _stage_actions(data, manager_id), retention_context(data, manager_id)
    return {
        "month_end": month_end,
        "manager_id": manager_id,
        "manager_name": staff_name(data, manager_id),
        "available": _present(data, "proposals"),
        "summary": summary(rows, month_end) if len(rows) else summary(rows.head(0), month_end),
        "by_type": by_type,
        "rows_list": listed,
        "rows_total": len(rows),
        "soon_days": soon_days(),
        "soon_date": soon,
        "holdout_share": float(share.iloc[0]) if len(share) else None,
        "stage_actions": actions,
        # the list is the manager's monthly action list: sent when it holds a proposal, an open or overdue
        # stage action or a customer on the retention list (a manager with none of them gets no e-mail)
        "rows": len(rows) + actions.get("open", 0) + actions.get("overdue", 0) + retention.get("customers", 0),
        "retention": retention,
        "figure_params": {
            "month_end": month_end.isoformat(),
            "manager_id": manager_id,
            "soon_date": soon.isoformat(),
        },
    }


def _stage_actions(data: Any, manager_id: str) -> dict[str, Any]:
    """The manager's open and overdue stage actions (:func:`crm.reports.lifecycle.manager_section`)."""
    from crm.reports.lifecycle import manager_section

    return manager_section(data, manager_id, data.customers())


# --------------------------------------------------------------------------------------- branch sections
def _scope_column(frame: pd.DataFrame) -> str:
    """The column naming a row's scope (a branch id or "ALL"): ``branch_id``, else ``scope``."""
    return "branch_id" if "branch_id" in frame.columns else "scope"


def uplift_rules() -> dict[str, Any]:
    """The playbook's reading rules of an uplift (crm/playbook/config.toml ``[proposals.uplift]``: min_treated,
    min_holdout, min_takeups, confidence): the reports read the same thresholds the mart's ``reading`` used."""
    from crm.playbook import load_config

    return dict(load_config()["proposals"]["uplift"])


MART_READINGS = {"effective": "effective", "no_effect_seen": "no_effect", "too_few": "small"}


def uplift_reading(row: Mapping[str, Any], rules: Mapping[str, Any]) -> str:
    """A plain reading of one uplift row: the mart's ``reading`` (effective / no_effect_seen / too_few, from the
    playbook's rules) as ``effective``, ``no_effect`` or ``small``, with ``no_effect`` said more precisely as
    ``negative`` when the whole interval lies below zero (the offer lowered take-up). A row without a reading
    (a mart written before it) is read with the same rules: ``small`` when the offered group has fewer than
    ``min_treated``, the control group fewer than ``min_holdout`` customers or both together fewer than
    ``min_takeups`` take-ups (or the estimate is missing); ``effective`` when the interval lies above zero."""
    lo, hi, u = row.get("ci_low"), row.get("ci_high"), row.get("uplift")
    below = not _missing(hi) and hi < 0
    mart = row.get("reading")
    if not _missing(mart) and str(mart) in MART_READINGS:
        reading = MART_READINGS[str(mart)]
        return "negative" if reading == "no_effect" and below else reading
    t, h = row.get("treated_n"), row.get("holdout_n")
    takeups = [row.get("treated_takeup"), row.get("holdout_takeup")]
    if (
        _missing(t)
        or _missing(h)
        or _missing(u)
        or t < int(rules["min_treated"])
        or h < int(rules["min_holdout"])
        or (not any(_missing(x) for x in takeups) and sum(takeups) < int(rules["min_takeups"]))
    ):
        return "small"
    if not _missing(lo) and lo > 0:
        return "effective"
    return "negative" if below else "no_effect"


def branch_sections(data: Any, branch_id: str) -> dict[str, Any]:
    """The branch report's needs and proposals part: segment needs (top ``[limits] segment_needs_top`` per
    segment, with customers and share), the most common value of each preference per segment, conversion of
    the offers by proposal type and by manager, and the uplift per proposal type (the branch's and the
    bank's) with its interval and reading; each with ``available`` False when its mart is absent."""
    top = row_limit("segment_needs_top")
    rules = uplift_rules()
    out: dict[str, Any] = {}

    sn = data["segment_needs"]
    sn = sn[sn[_scope_column(sn)].astype(str) == branch_id] if len(sn) else sn
    segments = []
    if len(sn):
        sn = sn.assign(rank=_number(sn["rank"]), share=_number(sn["share"]), customers=_number(sn["customers"]))
        order = {s: i for i, s in enumerate(SEGMENT_ORDER)}
        for seg, g in sorted(sn.groupby("segment"), key=lambda x: (order.get(x[0], 99), str(x[0]))):
            g = g.sort_values(["rank", "need"]).head(top)
            rows = _records(g, ["need", "rank", "customers", "segment_customers", "share"])
            for r in rows:
                r["row"] = f"{seg}:{r['need']}"
            segments.append(
                {"segment": str(seg), "segment_customers": _plain(_number(g["segment_customers"]).max()), "needs": rows}
            )
    out["segment_needs"] = {"available": _present(data, "segment_needs"), "segments": segments, "top": top}

    sp = data["segment_preferences"]
    sp = sp[sp[_scope_column(sp)].astype(str) == branch_id] if len(sp) else sp
    prefs = []
    if len(sp):
        sp = sp.assign(share=_number(sp["share"]), customers=_number(sp["customers"]))
        known = sp[~sp["value"].astype(str).isin(UNKNOWN_VALUES) & sp["value"].notna()]
        known = known.sort_values(["segment", "dimension", "share", "value"], ascending=[True, True, False, True])
        best = known.drop_duplicates(["segment", "dimension"])
        segs = [s for s in SEGMENT_ORDER if s in set(best["segment"])] + sorted(
            s for s in set(best["segment"]) if s not in SEGMENT_ORDER
        )
        cells = {
            (r["segment"], r["dimension"]): r
            for r in _records(best, ["segment", "dimension", "value", "customers", "share"])
        }
        for dim in [d for d in PREFERENCE_DIMENSIONS if d in set(best["dimension"])]:
            row = {"dimension": dim, "cells": []}
            for seg in segs:
                c = cells.get((seg, dim))
                row["cells"].append(None if c is None else {**c, "row": f"{seg}:{dim}:{c['value']}"})
            prefs.append(row)
        out["preferences"] = {"available": True, "segments": segs, "rows": prefs}
    else:
        out["preferences"] = {"available": _present(data, "segment_preferences"), "segments": [], "rows": []}

    conv = data["opportunity_conversion"]
    conv = conv[conv[_scope_column(conv)].astype(str) == branch_id] if len(conv) else conv
    columns = ["value", "offered", "accepted", "declined", "pending", "lapsed", "conversion", "median_days_to_outcome"]
    by = {}
    for dim in ("proposal_type", "manager_id"):
        d = conv[conv["dimension"] == dim] if len(conv) else conv
        if len(d):
            d = d.assign(_o=_number(d["offered"])).sort_values(["_o", "value"], ascending=[False, True])
        rows = _records(d, columns)
        for r in rows:
            r["value"] = str(r["value"])
            if dim == "manager_id":
                r["manager_name"] = staff_name(data, r["value"])
        by[dim] = rows
    out["conversion"] = {
        "available": _present(data, "opportunity_conversion"),
        "by_type": by["proposal_type"],
        "by_manager": by["manager_id"],
    }

    up = data["proposal_uplift"]
    scopes = {}
    for scope in (branch_id, ALL):
        u = up[up[_scope_column(up)].astype(str) == scope] if len(up) else up
        u = u.sort_values("proposal_type") if len(u) else u
        rows = _records(
            u,
            [
                "proposal_type",
                "treated_n",
                "treated_rate",
                "holdout_n",
                "holdout_rate",
                "uplift",
                "ci_low",
                "ci_high",
                "significant",
                "treated_takeup",
                "holdout_takeup",
                "reading",
            ],
        )
        for r in rows:
            r["significant"] = None if _missing(r["significant"]) else bool(_flag(pd.Series([r["significant"]]))[0])
            r["reading"] = uplift_reading(r, rules)
            t, h = r["treated_n"], r["holdout_n"]
            r["control_share"] = h / (t + h) if not (_missing(t) or _missing(h)) and (t + h) else None
            r["row"] = f"{scope}:{r['proposal_type']}"
        scopes["branch" if scope == branch_id else "bank"] = rows
    props = data["proposals"]
    share = _number(props["holdout_share"]).dropna() if len(props) else pd.Series(dtype=float)
    out["uplift"] = {
        "available": _present(data, "proposal_uplift"),
        "branch": scopes["branch"],
        "bank": scopes["bank"],
        "rules": {k: rules[k] for k in ("min_treated", "min_holdout", "min_takeups", "confidence")},
        "holdout_share": float(share.iloc[0]) if len(share) else None,
    }
    return out


# ---------------------------------------------------------------------------------------- words (prepare)
Translate = Callable[..., str]

# per need code: the evidence keys of its sentence (need.evidence.<CODE>) and how each is formatted
#   ("int",) ("num", d) ("pct", d) ("amount",) money in 万元 from 10万 up, else 元 ("date",) ("month",) a month
#   ("months",) a list of calendar months ("code", set) ("direction",)
EVIDENCE_FIELDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "MATURITY": {"loans": ("int",), "amount": ("amount",), "first_maturity": ("date",), "band_days": ("int",)},
    "HEADROOM": {"capacity": ("amount",), "exposure": ("amount",), "headroom": ("amount",)},
    "SEASONAL": {
        "peak_months": ("months",),
        "offer_month": ("month",),
        "peak_ratio": ("num", 1),
        "months_seen": ("int",),
    },
    "GROWTH": {"growth": ("pct", 1), "turnover_12m": ("amount",), "limits": ("amount",)},
    "CONCENTRATION": {"direction": ("direction",), "top_share": ("pct", 1), "counterparties": ("int",)},
    "PAYROLL_START": {"first_month": ("month",), "monthly_amount": ("amount",)},
    "MORTGAGE_END": {"loan_end": ("date",), "monthly_payment_freed": ("amount",)},
    "LARGE_INFLOW": {"month": ("month",), "amount": ("amount",), "multiple": ("num", 1)},
    # reasons of a proposal that are not needs (crm.playbook.proposals SOURCES)
    "SUPPLY_CHAIN": {"anchor_ref": ("text",), "role": ("role",), "volume": ("amount",), "anchors": ("int",)},
    "PREFERENCE": {"held": ("pref",), "preferred": ("pref",), "loans": ("int",), "balance": ("amount",)},
    "IDLE_BALANCE": {"deposit_balance": ("amount",)},
    "NO_PAYROLL": {"deposit_mtd_avg": ("amount",)},
    "VOLUME": {"txn_count_3m": ("int",)},
}
SOURCE_REASONS = ("SUPPLY_CHAIN", "PREFERENCE", "IDLE_BALANCE", "NO_PAYROLL", "VOLUME")
DIRECTIONS = {
    "payments": "out",
    "payment": "out",
    "out": "out",
    "outflow": "out",
    "debit": "out",
    "d": "out",
    "pay": "out",
    "receipts": "in",
    "receipt": "in",
    "in": "in",
    "inflow": "in",
    "credit": "in",
    "c": "in",
    "receive": "in",
}
WAN_FROM = 100_000  # an evidence amount from this many yuan up is printed in 万元 (below: in 元)


def _as_date(value: Any) -> dt.date | None:
    if _missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return pd.Timestamp(str(value)).date()
    except (ValueError, TypeError):
        return None


def _month_text(value: Any, fmt: Any, t: Translate) -> str:
    """A month: ``YYYY-MM`` or a date as 2026年10月; a calendar month number (1-12) as 10月."""
    if _missing(value) or value == "":
        return "—"
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        from babel.dates import get_month_names

        m = int(float(value))
        return get_month_names("abbreviated", locale=fmt.locale)[m] if 1 <= m <= 12 else str(value)
    text = str(value)
    d = _as_date(text + "-01" if len(text) == 7 else text)
    return fmt.month(d) if d else text


def amount_text(value: Any, fmt: Any, unit: str | None = None) -> str:
    """Money of an evidence or a proposal: in ``unit``, by default 万元 from :data:`WAN_FROM` yuan up, else 元."""
    if _missing(value):
        return "—"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    return fmt.money(x, unit or ("wan" if abs(x) >= WAN_FROM else "yuan"))


def _sentence_unit(fields: Mapping[str, tuple[Any, ...]], evidence: Mapping[str, Any]) -> str:
    """One money unit for all the amounts of a sentence: 万元 when any of them reaches :data:`WAN_FROM`."""
    amounts = pd.to_numeric(
        pd.Series([evidence.get(k) for k, spec in fields.items() if spec[0] == "amount"], dtype=object),
        errors="coerce",
    )
    return "wan" if (amounts.abs() >= WAN_FROM).any() else "yuan"


def _field(
    spec: tuple[Any, ...], value: Any, fmt: Any, t: Translate, evidence: Mapping[str, Any], unit: str | None = None
) -> str:
    from crm.reports.labels import code_label

    kind = spec[0]
    if kind == "role":
        return t(f"lead.{value}") if value in ("supplier", "buyer") else t("need.direction.any")
    if kind == "pref":  # a rate type or repayment method, by the evidence's dimension
        return value_label(str(evidence.get("dimension") or ""), value, t)
    if kind == "text":
        return "—" if _missing(value) else str(value)
    if kind == "months":
        months = value if isinstance(value, list) else _codes(value)
        texts = [_month_text(m, fmt, t) for m in months]
        return t("code.sep").join(texts) if texts else "—"
    if kind == "month":
        return _month_text(value, fmt, t)
    if kind == "date":
        d = _as_date(value)
        return fmt.date(d, "long") if d else "—"
    if kind == "direction":
        return t(f"need.direction.{DIRECTIONS.get(str(value).strip().lower(), 'any')}")
    if kind == "code":
        return code_label(spec[1], value, t)
    if _missing(value):
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if kind == "int":
        return fmt.number(number, 0)
    if kind == "num":
        return fmt.number(number, spec[1])
    if kind == "pct":
        return fmt.percent(number, spec[1])
    if kind == "amount":
        return amount_text(number, fmt, unit)
    raise ValueError(f"unknown evidence field kind {kind!r}")


def need_sentence(need: Any, evidence: Mapping[str, Any] | str | None, fmt: Any, t: Translate) -> str:
    """One need's evidence as a sentence in the reader's language (``need.evidence.<CODE>``): ``need_sentence(
    "MATURITY", {"loans": 2, "amount": 3500000, "first_maturity": "2027-01-15", "band_days": 30}, ...)`` is
    ``2 笔贷款合计 350.00 万元将于 2027年1月15日 到期（30 天内）``. A missing value is "—"; a need code without
    a sentence gives its label."""

    fields = EVIDENCE_FIELDS.get(str(need))
    if fields is None:
        return _need_label(need, t)
    ev = _json(evidence) if not isinstance(evidence, Mapping) else evidence
    ev = ev if isinstance(ev, Mapping) else {}
    unit = _sentence_unit(fields, ev)
    return t(f"need.evidence.{need}", **{k: _field(spec, ev.get(k), fmt, t, ev, unit) for k, spec in fields.items()})


def reasons_text(reasons: list[str], t: Translate) -> str:
    """The need codes a proposal answers, as their labels (``code.need.<CODE>``): 到期续贷、季节性资金需求."""

    labels = [_need_label(r, t) for r in reasons]
    return t("code.sep").join(labels) if labels else "—"


# the need behind each kind of deadline: the reason a proposal's "why" says in full
DEADLINE_NEEDS = {
    "MATURITY": ("MATURITY",),
    "SEASON_PEAK": ("SEASONAL",),
    "LIFE_EVENT": ("MORTGAGE_END", "LARGE_INFLOW"),
}


def _main_reason(proposal: Mapping[str, Any]) -> str | None:
    """The reason a proposal's deadline comes from, else its first reason."""
    reasons = list(proposal.get("reasons") or [])
    for code in DEADLINE_NEEDS.get(str(proposal.get("deadline_kind")), ()):
        if code in reasons:
            return code
    return reasons[0] if reasons else None


def why_text(
    proposal: Mapping[str, Any],
    needs: Mapping[str, Mapping[str, Any]] | None,
    fmt: Any,
    t: Translate,
    *,
    brief: bool = False,
    named: frozenset[str] | set[str] = frozenset(),
) -> str:
    """Why a proposal is made: the needs it answers, each with its evidence sentence (from the proposal's own
    evidence, a JSON object by reason, or flat; else from the customer's need row ``needs[code]``). ``brief``
    (a list's cell): the main reason (:func:`_main_reason`) in full, the others by name (另：…). ``named``: reasons
    said by name only (a key-account card prints the account's needs with their sentences just above)."""
    ev = proposal.get("evidence") or {}

    def item(code: str) -> str:
        if code in named:
            return _need_label(code, t)
        own = ev.get(code) if isinstance(ev, Mapping) and isinstance(ev.get(code), Mapping) else None
        if own is None and isinstance(ev, Mapping) and set(EVIDENCE_FIELDS.get(code, {})) & set(ev):
            own = ev
        if own is None and needs and code in needs:
            own = needs[code].get("evidence")
        label = _need_label(code, t)
        return t("need.item", need=label, sentence=need_sentence(code, own, fmt, t)) if own else label

    reasons = list(proposal.get("reasons") or [])
    if not reasons:
        return "—"
    if brief:
        main = _main_reason(proposal)
        others = [_need_label(c, t) for c in reasons if c != main]
        text = item(main)
        return t("np.why_more", why=text, others=t("code.sep").join(others)) if others else text
    return t("need.join").join(item(c) for c in reasons)


def deadline_text(proposal: Mapping[str, Any], fmt: Any, t: Translate) -> str:
    """The deadline and what it is: 2027年1月15日（贷款到期）; "—" without one."""
    d = _as_date(proposal.get("deadline"))
    if d is None:
        return "—"
    kind = proposal.get("deadline_kind")
    text = fmt.date(d)
    if _missing(kind) or not str(kind).strip():
        return text
    return t(
        "np.deadline_with_kind", date=text, kind=t(f"np.deadline_kind.{kind}") if kind in DEADLINE_KINDS else str(kind)
    )


DEADLINE_KINDS = ("MATURITY", "SEASON_PEAK", "LIFE_EVENT")
SENSITIVITIES = ("HIGH", "MEDIUM", "LOW", "UNKNOWN")


def value_label(dimension: str, value: Any, t: Translate) -> str:
    """A preference value's label: term band and price sensitivity from this module's labels, the others
    from the contract's code sets; unknown: 未知."""
    from crm.reports.labels import code_label

    if _missing(value) or str(value) in UNKNOWN_VALUES:
        return t("np.unknown")
    if dimension == "price_sensitivity":
        return t(f"np.price.{value}") if value in SENSITIVITIES else str(value)
    return code_label(DIMENSION_CODES.get(dimension, dimension), value, t)


def preference_lines(prefs: Mapping[str, Any] | None, fmt: Any, t: Translate) -> list[dict[str, str]]:
    """The preference profile of a customer as label / value pairs (利率类型 LPR浮动利率 ...); empty without a
    profile row or when every dimension is unknown."""
    from crm.reports.labels import code_label

    if not prefs or all((_missing(prefs.get(d)) or str(prefs.get(d)) in UNKNOWN_VALUES) for d in PREFERENCE_DIMENSIONS):
        return []
    lines = [
        {"label": code_label("preference_dimension", d, t), "value": value_label(d, prefs.get(d), t)}
        for d in PREFERENCE_DIMENSIONS
    ]
    digital = prefs.get("digital_share")
    if not _missing(digital):
        channel = prefs.get("channel")
        known = not (_missing(channel) or str(channel) in UNKNOWN_VALUES)
        share = fmt.percent(digital, 0)
        lines[4]["value"] = (
            t("np.channel_digital", channel=lines[4]["value"], share=share)
            if known
            else t("np.digital_only", share=share)
        )
    rating = prefs.get("pricing_rating")
    if not _missing(rating):
        lines[5]["value"] = t("np.price_rating", level=lines[5]["value"], rating=fmt.number(rating, 1))
    return lines


def account_words(section: Mapping[str, Any], fmt: Any, t: Translate) -> dict[str, Any]:
    """The reader's lines of one key account's needs-and-proposals block."""
    needs = section.get("needs") or []
    return {
        "needs": [
            {
                "label": _need_label(n["need"], t),
                "sentence": need_sentence(n["need"], n.get("evidence"), fmt, t),
                "deadline": fmt.date(n["deadline"]) if n.get("deadline") else None,
            }
            for n in needs
        ],
        "preferences": preference_lines(section.get("preferences"), fmt, t),
        "proposals": [
            {
                **p,
                "type_label": _type_label(p.get("proposal_type"), t),
                # the account's needs are printed above with their sentences: named only; other reasons in full
                "why": why_text(p, None, fmt, t, named={n["need"] for n in needs}),
                "deadline_text": deadline_text(p, fmt, t),
                "contribution_text": fmt.money(p.get("expected_contribution")),
                "amount_text": amount_text(p.get("offered_amount"), fmt),
            }
            for p in section.get("proposals") or []
        ],
    }


def _need_label(code: Any, t: Translate) -> str:
    """A need's name (``code.need.<CODE>``) or, for a proposal's reason that is not a need, ``np.reason.<CODE>``."""
    from crm.reports.labels import code_label

    if code in SOURCE_REASONS:
        return t(f"np.reason.{code}")
    return code_label("need", code, t)


def _type_label(code: Any, t: Translate) -> str:
    from crm.reports.labels import code_label

    return code_label("proposal_type", code, t)


def prepare_proposals(context: Mapping[str, Any], fmt: Any, t: Translate) -> dict[str, Any]:
    """The proposal list's words: each row's customer segment, proposal, why and deadline; each type's label."""
    from crm.reports.labels import code_label

    rows = [
        {
            **r,
            "segment_label": code_label("segment", r.get("segment"), t),
            "type_label": _type_label(r.get("proposal_type"), t),
            "why": why_text(r, None, fmt, t, brief=True),
            "deadline_text": deadline_text(r, fmt, t),
        }
        for r in context["rows_list"]
    ]
    by_type = [{**r, "type_label": _type_label(r["proposal_type"], t)} for r in context["by_type"]]
    return {"rows_list": rows, "by_type": by_type, "retention": prepare_retention(context.get("retention"), fmt, t)}


def _fig(figure: str, value: Any, text: str, row: str | None = None) -> Markup:
    """A figure's span, as the templates' ``m.fig`` writes it (reports/templates/_macros.html.j2)."""
    raw = "" if _missing(value) else str(value)
    if row is None:
        return Markup('<span class="fig" data-figure="{}" data-value="{}">{}</span>').format(figure, raw, text)
    return Markup('<span class="fig" data-figure="{}" data-value="{}" data-row="{}">{}</span>').format(
        figure, raw, row, text
    )


READINGS = ("effective", "no_effect", "small", "negative")
READING_TONE = {"effective": "ok", "no_effect": "muted", "small": "muted", "negative": "bad"}


def branch_words(sections: Mapping[str, Any], fmt: Any, t: Translate) -> dict[str, Any]:
    """The branch report's words for the needs and proposals part (labels of segments, needs, preference
    values, proposal types, managers, the uplift readings)."""
    from crm.reports.labels import code_label

    segs = [
        {
            **s,
            "label": code_label("segment", s["segment"], t),
            "needs": [{**n, "label": _need_label(n["need"], t)} for n in s["needs"]],
        }
        for s in sections["segment_needs"]["segments"]
    ]
    prefs = sections["preferences"]
    pref_rows = [
        {
            **r,
            "label": code_label("preference_dimension", r["dimension"], t),
            "cells": [
                None if c is None else {**c, "label": value_label(r["dimension"], c["value"], t)} for c in r["cells"]
            ],
        }
        for r in prefs["rows"]
    ]
    conv = sections["conversion"]
    by_type = [{**r, "label": _type_label(r["value"], t)} for r in conv["by_type"]]
    by_manager = [{**r, "label": f"{r.get('manager_name') or '—'} ({r['value']})"} for r in conv["by_manager"]]
    up = sections["uplift"]

    def uplift_rows(rows: list[dict]) -> list[dict]:
        return [
            {
                **r,
                "label": _type_label(r["proposal_type"], t),
                "interval": "—"
                if _missing(r["ci_low"]) and _missing(r["ci_high"])
                else Markup("{} – {}").format(
                    _fig("br.uplift.ci_low", r["ci_low"], fmt.percent(r["ci_low"], 1)),
                    _fig("br.uplift.ci_high", r["ci_high"], fmt.percent(r["ci_high"], 1)),
                ),
                "reading_badge": Markup('<span class="badge {}">{}</span>').format(
                    READING_TONE[r["reading"]], t(f"np.reading.{r['reading']}")
                ),
            }
            for r in rows
        ]

    def conv_columns(dim: str, first: str) -> list[dict[str, Any]]:
        prefix = f"br.conv.{dim}."
        return [
            {"key": "label", "label": first},
            {"key": "offered", "label": t("np.col.offered"), "kind": "number", "figure": prefix + "offered"},
            {"key": "accepted", "label": t("np.col.accepted"), "kind": "number", "figure": prefix + "accepted"},
            {"key": "declined", "label": t("np.col.declined"), "kind": "number", "figure": prefix + "declined"},
            {"key": "pending", "label": t("np.col.pending"), "kind": "number", "figure": prefix + "pending"},
            {
                "key": "conversion",
                "label": t("np.col.conversion"),
                "kind": "percent",
                "opts": {"digits": 1},
                "figure": prefix + "conversion",
            },
            {
                "key": "median_days_to_outcome",
                "label": t("np.col.days"),
                "kind": "number",
                "opts": {"digits": 0},
                "figure": prefix + "median_days",
            },
        ]

    # the segment named on its first row only
    need_rows = [
        {**n, "segment_label": s["label"] if i == 0 else "", "need_label": n["label"]}
        for s in segs
        for i, n in enumerate(s["needs"])
    ]

    return {
        "np_segments": segs,
        "np_need_rows": need_rows,
        "np_top": sections["segment_needs"].get("top"),
        "np_conv_columns": conv_columns,
        "np_pref_segments": [code_label("segment", s, t) for s in prefs["segments"]],
        "np_pref_rows": pref_rows,
        "np_conv_type": by_type,
        "np_conv_manager": by_manager,
        "np_uplift_branch": uplift_rows(up["branch"]),
        "np_uplift_bank": uplift_rows(up["bank"]),
        "reading_tone": READING_TONE,
    }
