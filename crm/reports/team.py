"""Coverage teams, relationship map and service plans in the reports (the readers' side of docs/playbook.md
"Coverage teams, relationship map and service plans"): the key-account report's team-and-service glance (one
line per key account, an incomplete team first) and each account card's relationship map and services against
plan; the branch report's key accounts with incomplete teams and service shortfalls (per manager, and a list).

**Reading** (:func:`load`, called by :func:`crm.reports.data.load_month`): the month end's rows of the marts of
``marts/coverage`` (key_account_coverage, relationship_map, service_delivery, key_account_findings). A mart with
no table or no row for the month end is *absent*: the sections say "尚无数据" and show no figure.

Nothing personal is read: members of the relationship map are staff ids (shown as the staged staff's masked
name, like every report shows staff), masked contact and related-party names, and customer references (the
last 8 characters of a token). Contexts are plain dicts (picklable); words are made in the rendering worker by
:func:`key_account_words` and :func:`branch_words`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa

from crm.reports.lookups import customer_ref, row_limit, staff_name

TABLES = ("key_account_coverage", "relationship_map", "service_delivery", "key_account_findings")
ROLE_ORDER = ["RM", "CO", "PS", "RO", "CA"]
GLANCE_COLUMNS = [
    "ref",
    "display_name",
    "tier",
    "present_roles",
    "missing_roles",
    "missing_count",
    "team_size",
    "service_delivered",
    "service_planned",
    "service_short",
    "contact_delivered",
    "contact_planned",
    "contact_short",
    "manager_changes_12m",
]


def _table(conn: sa.Connection, table: str) -> str | None:
    from crm.warehouse import schema_of

    schema = schema_of(conn)
    if not sa.inspect(conn).has_table(table, schema=schema):
        return None
    return f'"{schema}"."{table}"' if schema else f'"{table}"'


def load(conn: sa.Connection, month_end: dt.date) -> tuple[dict[str, pd.DataFrame], set[str]]:
    """The coverage marts of ``month_end`` as :class:`crm.reports.data.MonthData` frames and the set of those
    absent (no table, or no row for the month end)."""
    frames, absent = {}, set()
    for table in TABLES:
        name = _table(conn, table)
        frame = (
            pd.read_sql(sa.text(f"SELECT * FROM {name} WHERE month_end = :d"), conn, params={"d": month_end})
            if name
            else pd.DataFrame()
        )
        frames[table] = frame
        if frame.empty:
            absent.add(table)
    return frames, absent


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()
    return value


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    f = frame.reindex(columns=columns)
    return [{c: _plain(v) for c, v in zip(columns, row, strict=True)} for row in f.itertuples(index=False)]


def _roles(text: Any) -> list[str]:
    return [r for r in str(text or "").split(",") if r] if _plain(text) is not None else []


def _available(data: Any) -> bool:
    return "key_account_coverage" in data.frames and "key_account_coverage" not in getattr(data, "absent", set())


def _ordered(cov: pd.DataFrame) -> pd.DataFrame:
    """Incomplete teams first (most roles missing first), then service and contact shortfalls, then the
    order given."""
    return (
        cov.assign(_i=range(len(cov)))
        .sort_values(
            ["missing_count", "service_short", "contact_short", "_i"],
            ascending=[False, False, False, True],
            kind="stable",
        )
        .drop(columns="_i")
    )


def key_account_section(data: Any, keys: pd.DataFrame, manager_id: str) -> dict[str, Any]:
    """The key-account report's team and service part for the key accounts ``keys`` (rows of
    :meth:`crm.reports.data.MonthData.customers`, in the report's order): ``available``, ``counts`` (of all
    ``manager_id``'s key accounts, before any cut of ``keys``: incomplete teams, accounts short of services,
    short of contacts), ``rows`` (the glance, an incomplete team first) and
    ``cards`` (per account reference: team, missing roles, contacts, related parties, guarantees given, services
    and contacts against plan)."""
    out: dict[str, Any] = {"available": _available(data), "rows": [], "cards": {}, "counts": {}}
    if not out["available"] or keys.empty:
        out["counts"] = {"incomplete": 0, "service_short": 0, "contact_short": 0}
        return out
    cov = data["key_account_coverage"]
    mine = cov[cov["manager_id"] == manager_id]
    out["counts"] = {
        "incomplete": int((mine["missing_count"] > 0).sum()),
        "service_short": int((mine["service_short"] > 0).sum()),
        "contact_short": int((mine["contact_short"] > 0).sum()),
    }
    cov = keys[["customer_id", "ref", "display_name"]].merge(
        cov.drop(columns=[c for c in ("display_name", "ref") if c in cov.columns]), on="customer_id", how="inner"
    )
    out["rows"] = _records(_ordered(cov), GLANCE_COLUMNS)
    ids = set(cov["customer_id"])
    ref_of = dict(zip(cov["customer_id"], cov["ref"], strict=True))
    relmap = data["relationship_map"]
    relmap = relmap[relmap["customer_id"].isin(ids)] if len(relmap) else relmap
    delivery = data["service_delivery"]
    delivery = delivery[delivery["customer_id"].isin(ids)] if len(delivery) else delivery
    maps = dict(tuple(relmap.groupby("customer_id", sort=False))) if len(relmap) else {}
    plans = dict(tuple(delivery.groupby("customer_id", sort=False))) if len(delivery) else {}
    empty = pd.DataFrame()
    map_cols = ["section", "code", "member", "detail", "party_ref", "amount", "share_ratio"]
    plan_cols = ["plan", "item", "per_period", "planned", "delivered", "gap", "shortfall"]
    for r in cov.itertuples(index=False):
        m = maps.get(r.customer_id, empty)
        team = m[m["section"] == "team"] if len(m) else m
        if len(team):
            team = team.assign(_o=team["code"].map({c: i for i, c in enumerate(ROLE_ORDER)})).sort_values(["_o"])
        members = [
            {"role": t["code"], "staff_id": t["member"], "staff_name": staff_name(data, t["member"])}
            for t in _records(team, ["code", "member"])
        ]
        rows = _records(m[m["section"] != "team"] if len(m) else m, map_cols)
        out["cards"][ref_of[r.customer_id]] = {
            "team": members,
            "missing": _roles(r.missing_roles),
            "contacts": [x for x in rows if x["section"] == "contact"],
            "parties": [x for x in rows if x["section"] in ("guarantor", "related")],
            "guarantees": [x for x in rows if x["section"] == "guarantees"],
            "counts": {
                c: _plain(getattr(r, c, None))
                for c in (
                    "contacts",
                    "related_parties",
                    "guarantors",
                    "guarantees_given",
                    "downstream",
                    "upstream",
                    "manager_changes_12m",
                    "last_manager_change",
                )
            },
            "plans": _records(plans.get(r.customer_id, empty), plan_cols),
        }
    return out


def branch_section(data: Any, branch_id: str, *, top: int | None = None) -> dict[str, Any]:
    """The branch report's part: per manager of the branch, key accounts, incomplete teams and accounts short of
    services or contacts (``managers``, with the branch's ``total``), and the key accounts with a finding
    (``accounts``, an incomplete team first; at most ``top``, default the ``branch_rows`` limit) with
    ``accounts_total``."""
    top = row_limit("branch_rows") if top is None else top
    out: dict[str, Any] = {"available": _available(data), "managers": [], "accounts": [], "accounts_total": 0}
    cov = data["key_account_coverage"]
    cov = cov[cov["branch_id"] == branch_id] if out["available"] and len(cov) else pd.DataFrame()
    if cov.empty:
        out["total"] = {"key_accounts": 0, "incomplete": 0, "service_short": 0, "contact_short": 0}
        return out
    cov = cov.assign(
        _incomplete=(cov["missing_count"] > 0).astype(int),
        _service=(cov["service_short"] > 0).astype(int),
        _contact=(cov["contact_short"] > 0).astype(int),
    )
    g = cov.groupby("manager_id", sort=True)
    managers = pd.DataFrame(
        {
            "key_accounts": g.size(),
            "incomplete": g["_incomplete"].sum(),
            "service_short": g["_service"].sum(),
            "contact_short": g["_contact"].sum(),
        }
    ).reset_index()
    managers["manager_name"] = managers["manager_id"].map(lambda s: staff_name(data, s))
    out["managers"] = _records(
        managers, ["manager_id", "manager_name", "key_accounts", "incomplete", "service_short", "contact_short"]
    )
    out["total"] = {
        "key_accounts": len(cov),
        "incomplete": int(cov["_incomplete"].sum()),
        "service_short": int(cov["_service"].sum()),
        "contact_short": int(cov["_contact"].sum()),
    }
    flagged = cov[(cov["_incomplete"] + cov["_service"] + cov["_contact"]) > 0]
    customers = data.customers()
    names = (
        customers[["customer_id", "display_name"]].drop_duplicates("customer_id")
        if len(customers)
        else pd.DataFrame(columns=["customer_id", "display_name"])
    )
    flagged = flagged.merge(names, on="customer_id", how="left")
    flagged = flagged.assign(ref=customer_ref(flagged["customer_id"]))
    flagged = _ordered(flagged.sort_values(["manager_id", "customer_id"]))
    delivery = data["service_delivery"]
    short = delivery[delivery["shortfall"].astype(bool)] if len(delivery) else delivery
    short_items = (
        short.groupby(["customer_id", "plan"])["item"].agg(lambda s: ",".join(sorted(s))).unstack()
        if len(short)
        else pd.DataFrame()
    )
    rows = flagged.head(top)
    accounts = _records(rows, ["ref", "display_name", "manager_id", "tier", "missing_roles"])
    for a, cid in zip(accounts, rows["customer_id"], strict=True):
        a["manager_name"] = staff_name(data, a["manager_id"])
        for plan in ("service", "contact"):
            has = plan in short_items.columns and cid in short_items.index
            value = short_items.at[cid, plan] if has else None
            a[f"{plan}_items"] = value if isinstance(value, str) else ""
    out["accounts"] = accounts
    out["accounts_total"] = len(flagged)
    return out


# ------------------------------------------------------------------------------------------------ words
def _role_label(code: str, t: Callable[..., str]) -> str:
    from crm.reports.labels import code_label

    return code_label("coverage_role", code, t)


def _items(codes: str, code_set: str, t: Callable[..., str]) -> str:
    from crm.reports.labels import code_label

    if code_set == "contact_group":
        return t("team.sep").join(t(f"team.group.{c}") for c in _roles(codes)) if codes else ""
    return t("team.sep").join(code_label(code_set, c, t) for c in _roles(codes)) if codes else ""


def key_account_words(section: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    """Template variables of the key-account report's part: ``team_rows`` (the glance with labels) and
    ``team_cards`` (per account reference: lines of text)."""
    from crm.reports.labels import code_label

    sep, semi = t("team.sep"), t("punct.semicolon")
    rows = [
        {
            **r,
            "tier_label": code_label("tier", r.get("tier"), t) if r.get("tier") else "—",
            "missing_label": sep.join(_role_label(c, t) for c in _roles(r.get("missing_roles"))) or t("team.none"),
        }
        for r in section.get("rows", [])
    ]
    cards = {}
    for ref, c in (section.get("cards") or {}).items():
        team = semi.join(
            t("team.member", role=_role_label(m["role"], t), name=m.get("staff_name") or m["staff_id"])
            for m in c["team"]
        )
        contacts = semi.join(
            t(
                "team.contact_primary" if x.get("amount") else "team.contact",
                type=code_label("contact_type", x["code"], t),
                relationship=code_label("relationship", x.get("detail"), t),
                name=x.get("member") or "—",
            )
            for x in c["contacts"]
        )
        parties = semi.join(
            t(
                "team.party",
                type=code_label("relation_type", x["code"], t),
                name=x.get("member") or "—",
                ref=(t("team.party_ref", ref=x["party_ref"]) if x.get("party_ref") else ""),
                amount=(t("team.party_amount", amount=fmt.money(x["amount"])) if x.get("amount") else ""),
                share=(
                    t("team.party_share", share=fmt.percent(x["share_ratio"] / 100, digits=0))
                    if x.get("share_ratio")
                    else ""
                ),
            )
            for x in c["parties"]
        )
        given = semi.join(
            t("team.guarantee", ref=x.get("party_ref") or "—", amount=fmt.money(x.get("amount")))
            for x in c["guarantees"]
        )
        services = semi.join(
            t(
                "team.plan_item_short" if p["shortfall"] else "team.plan_item",
                item=code_label("interaction_purpose", p["item"], t),
                delivered=fmt.number(p["delivered"]),
                planned=fmt.number(p["planned"]),
                yearly=fmt.number(p["per_period"]),
            )
            for p in c["plans"]
            if p["plan"] == "service"
        )
        contacts_plan = semi.join(
            t(
                "team.plan_item_short" if p["shortfall"] else "team.plan_item",
                item=t(f"team.group.{p['item']}"),
                delivered=fmt.number(p["delivered"]),
                planned=fmt.number(p["planned"]),
                yearly=fmt.number(p["per_period"]),
            )
            for p in c["plans"]
            if p["plan"] == "contact"
        )
        n = c["counts"]
        cards[ref] = {
            "team": team or t("team.no_team"),
            "missing": sep.join(_role_label(r, t) for r in c["missing"]),
            "contacts": contacts or t("team.none"),
            "contacts_more": (n.get("contacts") or 0) > len(c["contacts"]),
            "parties": parties or t("team.none"),
            "guarantees": given,
            "reach": t(
                "team.reach",
                upstream=fmt.number(n.get("upstream") or 0),
                downstream=fmt.number(n.get("downstream") or 0),
            ),
            "changes": t("team.changes", n=fmt.number(n.get("manager_changes_12m") or 0))
            if n.get("manager_changes_12m")
            else "",
            "services": services or t("team.no_plan"),
            "contact_plan": contacts_plan or t("team.no_plan"),
        }
    return {"team_rows": rows, "team_cards": cards}


def branch_words(section: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    """Template variables of the branch report's part: ``team_managers`` and ``team_accounts`` with labels."""
    from crm.reports.labels import code_label

    sep = t("team.sep")
    managers = [
        {**m, "manager_label": f"{m.get('manager_name') or '—'} ({m['manager_id']})"}
        for m in section.get("managers", [])
    ]
    accounts = [
        {
            **a,
            "tier_label": code_label("tier", a.get("tier"), t) if a.get("tier") else "—",
            "manager_label": a.get("manager_name") or a.get("manager_id") or "—",
            "missing_label": sep.join(_role_label(c, t) for c in _roles(a.get("missing_roles"))) or "—",
            "service_label": _items(a.get("service_items") or "", "interaction_purpose", t) or "—",
            "contact_label": _items(a.get("contact_items") or "", "contact_group", t) or "—",
        }
        for a in section.get("accounts", [])
    ]
    total = {**section.get("total", {}), "manager_label": t("team.br.total")}
    return {"team_managers": managers, "team_accounts": accounts, "team_total": total}
