"""Lifecycle stages, stage actions and referrals in the reports (the readers' side of docs/playbook.md
"Lifecycle strategy" and "Referrals").

**Reading** (:func:`load`, called by :func:`crm.reports.data.load_month`): the month end's rows of
stage_transitions (per branch), stage_action_counts, stage_actions (those not yet closed, open or overdue),
customer_stages (key accounts only) and referral_summary. A mart that does not exist yet reads as empty and
its section says "no data yet" (``MonthData.absent``).

**Sections** (plain, picklable dicts; the templates make the words with ``stage.*`` and ``lifecycle.*``):

- branch report (:func:`branch_section`): the transition matrix of the branch (rows: the earlier month's stage,
  ``(none)`` for customers new this month; columns: this month's stage, ``(none)`` for customers gone) and the
  stage actions per stage and action (due this month, on time, late, open, overdue);
- key-account card (:func:`account_section`): the account's stage, months in stage and its first open action;
- the manager's monthly list, report kind ``proposals`` (:func:`manager_section`): open and overdue actions;
- the monthly satisfaction report (:func:`referral_section`): referrals beside NPS (bank-wide or the branch).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import sqlalchemy as sa

from crm.playbook.lifecycle import NONE, STAGES, STATUSES
from crm.reports.lookups import row_limit

TABLES = ("stage_transitions", "stage_action_counts", "stage_actions", "customer_stages", "referral_summary")
STAGE_ORDER = [*STAGES, NONE]
ACTION_ORDER = ["ONBOARD_VISIT", "PRODUCT_REVIEW", "RETENTION_CALL", "REACTIVATION_OFFER"]


def _has(conn: sa.Connection, table: str) -> bool:
    from crm.warehouse import schema_of

    return sa.inspect(conn).has_table(table, schema=schema_of(conn))


def _name(conn: sa.Connection, table: str) -> str:
    from crm.warehouse import schema_of

    schema = schema_of(conn)
    return f'"{schema}"."{table}"' if schema else f'"{table}"'


def load(conn: sa.Connection, month_end: dt.date) -> tuple[dict[str, pd.DataFrame], set[str]]:
    """The lifecycle and referral marts of ``month_end`` as MonthData frames, and those absent."""
    where = {
        "stage_transitions": "month_end = :d AND dimension = 'branch'",
        "stage_action_counts": "month_end = :d",
        "stage_actions": "month_end = :d AND status IN ('open', 'overdue')",
        "customer_stages": f"month_end = :d AND customer_id IN (SELECT customer_id FROM {_name(conn, 'customer_value')} "
        "WHERE month_end = :d AND key_account)",
        "referral_summary": "month_end = :d",
    }
    frames, absent = {}, set()
    for table in TABLES:
        if not _has(conn, table):
            frames[table], absent = pd.DataFrame(), absent | {table}
            continue
        frames[table] = pd.read_sql(
            sa.text(f"SELECT * FROM {_name(conn, table)} WHERE {where[table]}"), conn, params={"d": month_end}
        )
        if frames[table].empty and table != "stage_actions":
            absent.add(table)
    return frames, absent


def _int(v: Any) -> int:
    return 0 if v is None or pd.isna(v) else int(v)


def _num(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def _date(v: Any) -> dt.date | None:
    return None if v is None or pd.isna(v) else pd.Timestamp(v).date()


def branch_section(data: Any, branch_id: str) -> dict[str, Any]:
    """The branch's transition matrix (``matrix``: one row per earlier stage with a count per destination
    ``to_<stage>`` and ``total``) and stage actions (``actions``: per stage and action)."""
    tr = data["stage_transitions"]
    mine = tr[tr["group_id"].astype(str) == str(branch_id)] if len(tr) else tr
    matrix = []
    if len(mine):
        wide = mine.pivot_table(
            index="from_stage", columns="to_stage", values="customers", aggfunc="sum", fill_value=0
        ).reindex(columns=STAGE_ORDER, fill_value=0)
        for stage in [s for s in STAGE_ORDER if s in wide.index]:
            row = {f"to_{'none' if c == NONE else c}": int(wide.loc[stage, c]) for c in STAGE_ORDER}
            matrix.append({"from_stage": stage, "total": int(wide.loc[stage].sum()), **row})
    counts = data["stage_action_counts"]
    counts = counts[counts["branch_id"].astype(str) == str(branch_id)] if len(counts) else counts
    actions = []
    if len(counts):
        order = {a: i for i, a in enumerate(ACTION_ORDER)}
        counts = counts.assign(_o=counts["action"].map(order).fillna(len(order))).sort_values(["_o", "action"])
        for r in counts.itertuples(index=False):
            actions.append(
                {
                    "row": f"{r.stage}.{r.action}",
                    "stage": r.stage,
                    "action": r.action,
                    "due_this_month": _int(r.due_this_month),
                    **{s: _int(getattr(r, s)) for s in STATUSES},
                }
            )
    return {
        "available": "stage_transitions" not in data.absent,
        "actions_available": "stage_action_counts" not in data.absent,
        "matrix": matrix,
        "actions": actions,
    }


def _grouped(data: Any, table: str, key: str, sort: list[str]) -> dict[str, pd.DataFrame]:
    """``table``'s rows by ``key`` (sorted by ``sort``), built once per MonthData (a report per manager reads
    them many times)."""
    cache = f"_lc_{table}_by_{key}"
    if cache not in data.frames:
        frame = data[table]
        data.frames[cache] = dict(tuple(frame.sort_values(sort).groupby(key, sort=False))) if len(frame) else {}
    return data.frames[cache]


def account_section(data: Any, customer_id: str) -> dict[str, Any] | None:
    """A key account's stage, months in stage and first open or overdue action (earliest due), or None."""
    row = _grouped(data, "customer_stages", "customer_id", ["customer_id"]).get(customer_id)
    if row is None or row.empty:
        return None
    r = row.iloc[0]
    acts = _grouped(data, "stage_actions", "customer_id", ["due_date", "action"]).get(customer_id)
    action = None
    if acts is not None and len(acts):
        a = acts.iloc[0]
        action = {
            "action": a["action"],
            "due_date": _date(a["due_date"]),
            "status": a["status"],
            "days_overdue": _int(a["days_overdue"]),
        }
    return {
        "stage": r["lifecycle_stage"],
        "months_in_stage": _int(r["months_in_stage"]),
        "stage_since": _date(r["stage_since"]),
        "action": action,
    }


def manager_section(data: Any, manager_id: str, customers: pd.DataFrame | None = None) -> dict[str, Any]:
    """The manager's open and overdue stage actions, overdue first then by due date (``rows``: at most the
    ``[limits] stage_action_rows`` of crm/reports/config.toml); ``customers``: customer_id, ref, display_name."""
    mine = _grouped(data, "stage_actions", "manager_id", ["due_date", "customer_id"]).get(manager_id, pd.DataFrame())
    if len(mine):
        mine = mine.assign(_o=(mine["status"] != "overdue").astype(int)).sort_values(["_o", "due_date", "customer_id"])
        if customers is not None and len(customers):
            mine = mine.merge(
                customers[["customer_id", "ref", "display_name"]].drop_duplicates("customer_id"),
                on="customer_id",
                how="left",
            )
    rows = [
        {
            "ref": r.get("ref") if not pd.isna(r.get("ref", None)) else None,
            "display_name": r.get("display_name") if not pd.isna(r.get("display_name", None)) else None,
            "stage": r["stage"],
            "action": r["action"],
            "due_date": _date(r["due_date"]),
            "status": r["status"],
            "days_overdue": _int(r["days_overdue"]),
        }
        for r in (mine.head(row_limit("stage_action_rows")).to_dict("records") if len(mine) else [])
    ]
    return {
        "available": "stage_action_counts" not in data.absent,
        "open": int((mine["status"] == "open").sum()) if len(mine) else 0,
        "overdue": int((mine["status"] == "overdue").sum()) if len(mine) else 0,
        "total": len(mine),
        "rows": rows,
    }


def referral_section(data: Any, branch_id: str | None) -> dict[str, Any]:
    """Referrals beside NPS for the bank (``ALL``) or a branch: referral_summary's row as plain numbers."""
    s = data["referral_summary"]
    key = "ALL" if branch_id is None else str(branch_id)
    row = s[s["branch_id"].astype(str) == key] if len(s) else s
    if row.empty:
        return {"available": False}
    r = row.iloc[0]
    ints = ["new_customers", "new_referred", "referrals_window", "promoters", "promoters_referring", "detractors"]
    floats = [
        "referred_share_new",
        "referrals_per_promoter",
        "referrals_per_passive",
        "referrals_per_detractor",
        "referred_contribution_mean",
        "matched_non_referred_contribution_mean",
    ]
    return {"available": True} | {k: _int(r.get(k)) for k in ints} | {k: _num(r.get(k)) for k in floats}
