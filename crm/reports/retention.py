"""Churn risk and retention in the reports (the readers' side of docs/playbook.md "Churn risk and retention"):
the retention section of the relationship manager's monthly proposal list (report kind ``proposals``,
template ``_retention.html.j2``) and the branch report's churn lines (template ``_churn_branch.html.j2``).

**Reading** (:func:`load`, called by :func:`crm.reports.data.load_month`): ``retention_list`` (customer_id,
manager_id, branch_id, rank, churn_probability, band, reason_1..reason_4, value_at_risk, action) and
``retention_outcome`` (branch_id, cohort, active_then, churned, churn_rate, listed, stayed, stayed_share) of
the month end; a mart that does not exist or has no row for the month end is absent and its section says so.
Customers appear by masked display name and token reference; the reasons and the action are catalogue words
(``churn.reason.*``, ``churn.action.*``, crm/reports/messages_churn.toml)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa

from crm.reports.lookups import customer_ref, row_limit

Translate = Callable[..., str]

LIST_COLUMNS = [
    "customer_id",
    "manager_id",
    "branch_id",
    "rank",
    "churn_probability",
    "band",
    "reason_1",
    "reason_2",
    "reason_3",
    "reason_4",
    "value_at_risk",
    "action",
]
OUTCOME_COLUMNS = ["branch_id", "cohort", "active_then", "churned", "churn_rate", "listed", "stayed", "stayed_share"]
TABLES = {"retention_list": LIST_COLUMNS, "retention_outcome": OUTCOME_COLUMNS}
N_REASONS_SHOWN = 2  # reasons shown per listed customer (the mart keeps four)


def _month(conn: sa.Connection, table: str, columns: list[str], month_end: dt.date) -> pd.DataFrame | None:
    """The ``columns`` of ``table`` (those it has; the others missing) at ``month_end``; None when the table does
    not exist or has no row for the month end."""
    from crm.warehouse import schema_of

    schema = schema_of(conn)
    inspector = sa.inspect(conn)
    if not inspector.has_table(table, schema=schema):
        return None
    have = [c["name"] for c in inspector.get_columns(table, schema=schema)]
    if "month_end" not in have:
        return None
    name = f'"{schema}"."{table}"' if schema else f'"{table}"'
    listed = ", ".join(f'"{c}"' for c in columns if c in have)
    frame = pd.read_sql(sa.text(f"SELECT {listed} FROM {name} WHERE month_end = :d"), conn, params={"d": month_end})
    return frame.reindex(columns=columns) if len(frame) else None


def load(conn: sa.Connection, month_end: dt.date) -> tuple[dict[str, pd.DataFrame], set[str]]:
    """The retention marts of ``month_end`` and the set of those absent (no table, or no row for the month)."""
    frames, absent = {}, set()
    for table, columns in TABLES.items():
        frame = _month(conn, table, columns, month_end)
        if frame is None:
            absent.add(table)
            frame = pd.DataFrame(columns=columns)
        frames[table] = frame
    return frames, absent


def _present(data: Any, table: str) -> bool:
    return table in data.frames and table not in getattr(data, "absent", set())


def _plain(value: Any) -> Any:
    """A scalar as a plain Python value (None for missing; numpy numbers as int or float)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()
    return value


def _display_names(data: Any) -> pd.Series:
    """Masked display name by customer id (cached in ``data``, as the proposal list does)."""
    if "_display_names" not in data.frames:
        c = data.customers()
        names = (
            c[["customer_id", "display_name"]].drop_duplicates("customer_id")
            if len(c) and "display_name" in c.columns
            else pd.DataFrame(columns=["customer_id", "display_name"])
        )
        data.frames["_display_names"] = names.set_index("customer_id")
    return data.frames["_display_names"]["display_name"]


def retention_context(data: Any, manager_id: str, *, limit: int | None = None) -> dict[str, Any]:
    """One manager's retention list: the customers on it ranked by value at risk (the first ``limit``, default
    ``[limits] proposal_rows``), their probability, band, reasons and suggested action, and the totals."""
    limit = row_limit("proposal_rows") if limit is None else limit
    available = _present(data, "retention_list")
    frame = data.frames.get("retention_list", pd.DataFrame(columns=LIST_COLUMNS))
    rows = frame[frame["manager_id"].astype(str) == str(manager_id)] if len(frame) else frame
    rows = rows.assign(_r=pd.to_numeric(rows["rank"], errors="coerce")).sort_values("_r", kind="stable")
    listed = []
    if len(rows):
        names = _display_names(data).reindex(rows["customer_id"]).to_numpy()
        refs = customer_ref(rows["customer_id"]).to_numpy()
        for r, name, ref in zip(rows.head(limit).to_dict("records"), names, refs, strict=False):
            listed.append(
                {
                    "ref": ref,
                    "display_name": _plain(name),
                    "rank": _plain(r["rank"]),
                    "churn_probability": _plain(r["churn_probability"]),
                    "band": _plain(r["band"]),
                    "reasons": [r[f"reason_{i}"] for i in range(1, 5) if _plain(r[f"reason_{i}"])],
                    "value_at_risk": _plain(r["value_at_risk"]),
                    "action": _plain(r["action"]),
                }
            )
    var = pd.to_numeric(rows["value_at_risk"], errors="coerce") if len(rows) else pd.Series(dtype=float)
    return {
        "available": available,
        "customers": len(rows),
        "value_at_risk": float(var.sum()) if len(rows) else 0.0,
        "rows_list": listed,
        "rows": len(rows),
    }


def prepare_retention(context: Mapping[str, Any] | None, fmt: Any, t: Translate) -> dict[str, Any]:
    """The retention section's words: each listed customer's band, reasons and action in the catalogue's
    words."""
    if not context:
        return {"available": False, "customers": 0, "value_at_risk": 0.0, "rows_list": []}
    rows = [
        {
            **r,
            "band_label": t(f"churn.band.{r['band']}") if r.get("band") else "—",
            "reasons_text": "；".join(t(f"churn.reason.{c}") for c in r["reasons"][:N_REASONS_SHOWN]) or "—",
            "action_label": t(f"churn.action.{r['action']}") if r.get("action") else "—",
        }
        for r in context["rows_list"]
    ]
    return {**context, "rows_list": rows}


def branch_churn(data: Any, branch_id: str) -> dict[str, Any]:
    """The branch report's churn lines: of the customers active at the cohort month end, how many churned since
    (the churn rate), and of those on the managers' retention lists then, how many stayed."""
    available = _present(data, "retention_outcome")
    frame = data.frames.get("retention_outcome", pd.DataFrame(columns=OUTCOME_COLUMNS))
    row = frame[frame["branch_id"].astype(str) == str(branch_id)] if len(frame) else frame
    if not len(row):
        return {"available": False, "branch_id": branch_id}
    r = {k: _plain(v) for k, v in row.iloc[0].to_dict().items()}
    return {"available": available, "branch_id": branch_id, **{k: r.get(k) for k in OUTCOME_COLUMNS}}
