"""Priority service by tier and warning follow-up in the readers' reports (issue 20, items 1 and 7).

Marts read (month end ``month_end``; weekly ``week_end``):

=======================  ===========================================================================
service_sla_tier         branch_id (and ALL), tier, green_channel, requests, met, breached, pending, met_share
service_sla_breaches     request_id, category, priority, tier, green_channel, assigned_staff_id, minutes_over ...
service_sla_accounts     customer_id, manager_id, requests/met/breached of the month and of the year
manager_scorecards       followups_open, followups_overdue, followups_on_time_share per manager
warning_followups_weekly customer_id, rule_id, severity, due_date, owner_id, status (open, overdue) at the week end
=======================  ===========================================================================

Sections: the branch report's key-account service-level compliance (met share by tier, green channel against
the others), its breaches list and its managers' warning follow-ups; the key-account report's service-level
record per account (month and year); the weekly digest's open and overdue follow-ups. ``*_section`` build the
plain context (numbers, codes); :func:`words` adds the reader's labels at render time. Figures:
``crm/reports/figures_service.toml``; words: ``crm/reports/messages_service.toml``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from crm.reports.lookups import customer_ref, row_limit, staff_name

MONTH_TABLES = ("service_sla_tier", "service_sla_breaches", "service_sla_accounts")
TIER_ORDER = ["strategic", "key", "growth", "standard", "watch"]
ACCOUNT_COLUMNS = [
    "requests_month",
    "met_month",
    "breached_month",
    "requests_year",
    "met_year",
    "breached_year",
]


def load(read: Callable[[str, str, dict], pd.DataFrame], month_end: dt.date) -> dict[str, pd.DataFrame]:
    """The month's service-level marts (``read(table, where, params)``: crm.reports.data._read bound to a
    connection)."""
    return {t: read(t, "month_end = :d", {"d": month_end}) for t in MONTH_TABLES}


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    f = frame.reindex(columns=columns)
    return f.astype(object).where(f.notna(), None).to_dict("records")


def _share(met: int, breached: int) -> float | None:
    decided = met + breached
    return met / decided if decided else None


def branch_section(data: Any, branch_id: str, top: int | None = None) -> dict[str, Any]:
    """The branch's compliance rows (tier × green channel, tiers in order), green channel against the others,
    the breaches (most minutes over first, ``top`` rows) and the managers' warning follow-ups."""
    top = row_limit("branch_rows") if top is None else top
    tiers = data["service_sla_tier"]
    tiers = tiers[tiers["branch_id"] == branch_id] if len(tiers) else tiers
    rows = []
    if len(tiers):
        t = tiers.assign(
            _o=tiers["tier"].map({k: i for i, k in enumerate(TIER_ORDER)}).fillna(len(TIER_ORDER)),
            green_channel=tiers["green_channel"].astype(bool),
        ).sort_values(["_o", "green_channel"], ascending=[True, False])
        t = t.assign(row=t["tier"].fillna("").astype(str) + ":" + t["green_channel"].astype(int).astype(str))
        rows = _records(t, ["row", "tier", "green_channel", "requests", "met", "breached", "pending", "met_share"])
    split = {}
    for name, green in (("green", True), ("other", False)):
        part = tiers[tiers["green_channel"].astype(bool) == green] if len(tiers) else tiers
        met = int(part["met"].sum()) if len(part) else 0
        breached = int(part["breached"].sum()) if len(part) else 0
        split[name] = {
            "requests": int(part["requests"].sum()) if len(part) else 0,
            "met": met,
            "breached": breached,
            "met_share": _share(met, breached),
        }
    b = data["service_sla_breaches"]
    b = b[b["branch_id"] == branch_id] if len(b) else b
    breaches = _records(
        b.head(top),
        ["request_id", "category", "priority", "tier", "green_channel", "assigned_staff_id", "breach_kind"]
        + ["minutes_over"],
    )
    for r in breaches:
        r["staff_name"] = staff_name(data, r["assigned_staff_id"]) if r["assigned_staff_id"] else None
    cards = data["manager_scorecards"]
    cards = cards[cards["branch_id"] == branch_id].sort_values("manager_id") if len(cards) else cards
    follow = []
    if len(cards) and "followups_open" in cards.columns:
        follow = _records(cards, ["manager_id", "followups_open", "followups_overdue", "followups_on_time_share"])
        for r in follow:
            r["manager_name"] = staff_name(data, r["manager_id"])
    return {
        "available": "service_sla_tier" not in getattr(data, "absent", set()) and not data["service_sla_tier"].empty,
        "rows": rows,
        "split": split,
        "breaches": breaches,
        "breaches_total": len(b),
        "green_breaches": int(b["green_channel"].astype(bool).sum()) if len(b) else 0,
        "followups": follow,
        "followups_available": bool(len(cards)) and "followups_open" in cards.columns,
    }


def account_section(data: Any, manager_id: str) -> dict[str, Any]:
    """The service-level record of the manager's key accounts with a request this year (month and year)."""
    acc = data["service_sla_accounts"]
    acc = acc[acc["manager_id"] == manager_id] if len(acc) else acc
    rows = []
    if len(acc):
        acc = acc.sort_values(["breached_year", "requests_year", "customer_id"], ascending=[False, False, True])
        acc = acc.assign(ref=customer_ref(acc["customer_id"]))
        names = data["customer_360"]
        if len(names) and "display_name" in names.columns:
            acc = acc.merge(
                names[["customer_id", "display_name"]].drop_duplicates("customer_id"), on="customer_id", how="left"
            )
        rows = _records(acc, ["ref", "display_name", "tier", *ACCOUNT_COLUMNS])
    return {"available": not data["service_sla_accounts"].empty or bool(rows), "rows": rows}


def digest_section(followups: pd.DataFrame | None, manager_id: str, names: pd.DataFrame | None) -> dict[str, Any]:
    """The open and overdue warning follow-ups the manager owns at the week end (overdue first, then by due
    date); ``available`` False (no section) when ``followups`` is None (the mart was not read)."""
    f = followups if followups is not None else pd.DataFrame()
    if len(f):
        f = f[f["owner_id"] == manager_id]
    if len(f):
        f = f.assign(_o=(f["status"] != "overdue").astype(int)).sort_values(["_o", "due_date", "customer_id"])
        f = f.assign(ref=customer_ref(f["customer_id"]))
        if names is not None and len(names):
            f = f.merge(
                names[["customer_id", "display_name"]].drop_duplicates("customer_id"), on="customer_id", how="left"
            )
    counts = {s: int((f["status"] == s).sum()) if len(f) else 0 for s in ("open", "overdue")}
    rows = _records(
        f, ["ref", "display_name", "rule_id", "severity", "warning_date", "due_date", "status", "days_overdue"]
    )
    return {"available": followups is not None, "counts": counts, "rows": rows, "total": len(rows)}


def words(section: Mapping[str, Any] | None, fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    """The section with the reader's labels (tier, priority, category, channel, staff, rule, status)."""
    from crm.reports.labels import code_label, rule_label

    if not section:
        return {}
    out = dict(section)
    if "rows" in out:
        out["rows"] = [
            {
                **r,
                "tier_label": code_label("tier", r.get("tier"), t),
                **(
                    {"channel_label": t("sv.green") if r.get("green_channel") else t("sv.other")}
                    if "green_channel" in r
                    else {}
                ),
                **({"rule_label": rule_label(r["rule_id"], t)} if r.get("rule_id") else {}),
                **({"severity_label": t("severity." + r["severity"])} if r.get("severity") else {}),
                **({"status_label": t("sv.status." + r["status"])} if r.get("status") else {}),
            }
            for r in out["rows"]
        ]
    if "breaches" in out:
        out["breaches"] = [
            {
                **r,
                "category_label": code_label("sr_category", r.get("category"), t),
                "priority_label": code_label("priority", r.get("priority"), t),
                "tier_label": code_label("tier", r.get("tier"), t),
                "channel_label": t("sv.green") if r.get("green_channel") else t("sv.other"),
                "kind_label": t("sv.kind." + str(r.get("breach_kind"))),
                "staff_label": f"{r.get('staff_name') or '—'} ({r['assigned_staff_id']})"
                if r.get("assigned_staff_id")
                else "—",
            }
            for r in out["breaches"]
        ]
    if "followups" in out:
        out["followups"] = [
            {**r, "manager_label": f"{r.get('manager_name') or '—'} ({r['manager_id']})"} for r in out["followups"]
        ]
    return out
