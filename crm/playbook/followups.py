"""Warning follow-up (预警跟进, issue 20 item 7): every early warning gets an owner and a due date, and the
interaction that answers it closes it. Rules and windows: ``config.toml`` [warning_followup].

A follow-up is keyed by (``customer_id``, ``rule_id``, ``warning_date``): the warning date is the month end
of the early_warnings partition that raised it. :func:`followups` builds a month's partition of the
``warning_followups`` mart from that month's warnings and the previous partition: the previous month's open
and overdue follow-ups carry over (so a warning raised in one month and answered in the next closes there);
a warning of a customer and rule that already has an open follow-up opens no second one.

Owner: the customer's manager of the month while active in the staff extract, else the head of the
customer's branch (``owner_role`` manager / branch_head / none). Due date: warning date + days by severity.
Closing interaction: the earliest with the customer on or after the warning date, of a configured channel
and purpose, up to the as-of date. Status at the as-of date: closed_on_time (closed on or before the due
date), closed_late, open (not closed, not yet due), overdue (not closed, past due).

Vectorised: one merge of the follow-ups with the matching interactions of their customers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

STATUSES = ("closed_on_time", "closed_late", "open", "overdue")
OPEN = ("open", "overdue")
KEY = ["customer_id", "rule_id", "warning_date"]
COLUMNS = [
    "customer_id",
    "rule_id",
    "severity",
    "warning_date",
    "due_date",
    "owner_id",
    "owner_role",
    "manager_id",
    "branch_id",
    "status",
    "closing_interaction_id",
    "closed_date",
    "closing_channel",
    "closing_purpose",
    "days_to_close",
    "days_overdue",
]


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.normalize()


def empty() -> pd.DataFrame:
    """A typed empty partition."""
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    for c in ("warning_date", "due_date", "closed_date"):
        out[c] = pd.Series(dtype="datetime64[ns]")
    for c in ("days_to_close", "days_overdue"):
        out[c] = pd.Series(dtype="float64")
    return out


def open_from(warnings: pd.DataFrame, warning_date: dt.date, carried: pd.DataFrame, config: dict[str, Any]):
    """New follow-ups of ``warnings`` (customer_id, rule_id, severity) raised on ``warning_date``, without
    those whose customer and rule have a ``carried`` open follow-up: customer_id, rule_id, severity,
    warning_date, due_date."""
    days = config["warning_followup"]["days"]
    w = warnings[["customer_id", "rule_id", "severity"]].drop_duplicates(["customer_id", "rule_id"])
    if len(carried):
        held = pd.MultiIndex.from_frame(carried[["customer_id", "rule_id"]])
        w = w[~pd.MultiIndex.from_frame(w[["customer_id", "rule_id"]]).isin(held)]
    start = pd.Timestamp(warning_date)
    return pd.DataFrame(
        {
            "customer_id": w["customer_id"].to_numpy(),
            "rule_id": w["rule_id"].to_numpy(),
            "severity": w["severity"].to_numpy(),
            "warning_date": start,
            "due_date": start + pd.to_timedelta(w["severity"].map(days).astype(float).to_numpy(), unit="D"),
        }
    )


def owners(frame: pd.DataFrame, customers: pd.DataFrame, staff: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """``frame`` with manager_id and branch_id of the month (``customers``: customer_id, manager_id,
    branch_id), owner_id and owner_role: the manager when active in ``staff`` (staff_id, role, branch_id,
    status), else the active branch head of the customer's branch, else none."""
    info = customers.drop_duplicates("customer_id").set_index("customer_id")
    out = frame.copy()
    for c in ("manager_id", "branch_id"):
        out[c] = out["customer_id"].map(info[c]) if c in info.columns else None
    active = staff[staff["status"].astype("string").eq("A").fillna(False).to_numpy(bool)] if len(staff) else staff
    is_active = out["manager_id"].isin(active["staff_id"]) if len(active) else pd.Series(False, index=out.index)
    role = config["warning_followup"]["owner_fallback_role"]
    heads = (
        active[active["role"] == role].sort_values("staff_id").drop_duplicates("branch_id").set_index("branch_id")
        if len(active)
        else pd.DataFrame(columns=["staff_id"])
    )
    head = out["branch_id"].map(heads["staff_id"])
    out["owner_id"] = np.where(is_active, out["manager_id"], head)
    out["owner_role"] = np.where(is_active, "manager", np.where(head.notna(), "branch_head", "none"))
    out["owner_id"] = out["owner_id"].where(out["owner_role"] != "none", None)
    return out


def closing(frame: pd.DataFrame, interactions: pd.DataFrame, day: dt.date, config: dict[str, Any]) -> pd.DataFrame:
    """Per row of ``frame`` (its index) the earliest matching interaction on or after ``warning_date`` and up
    to ``day``: closing_interaction_id, closed_date, closing_channel, closing_purpose (NaN when none)."""
    fc = config["warning_followup"]
    cols = ["closing_interaction_id", "closed_date", "closing_channel", "closing_purpose"]
    if frame.empty or interactions.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols}, index=frame.index)
    when = _dates(interactions["interaction_time"])
    ok = (
        interactions["channel"].isin(fc["channels"])
        & interactions["purpose"].isin(fc["purposes"])
        & (when <= pd.Timestamp(day))
        & (when >= frame["warning_date"].min())
        & interactions["customer_id"].isin(frame["customer_id"])
    ).to_numpy(bool)
    it = pd.DataFrame(
        {
            "customer_id": interactions["customer_id"].to_numpy()[ok],
            "closing_interaction_id": interactions["interaction_id"].to_numpy()[ok],
            "_t": pd.to_datetime(interactions["interaction_time"]).to_numpy()[ok],
            "closed_date": when.to_numpy()[ok],
            "closing_channel": interactions["channel"].to_numpy()[ok],
            "closing_purpose": interactions["purpose"].to_numpy()[ok],
        }
    )
    left = frame[["customer_id", "warning_date"]].assign(_row=np.arange(len(frame)))
    m = left.merge(it, on="customer_id", how="inner")
    m = m[m["closed_date"] >= m["warning_date"]]
    m = m.sort_values(["_row", "_t", "closing_interaction_id"], kind="stable").drop_duplicates("_row")
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for c in cols:
        out[c] = m.set_index("_row")[c].reindex(out.index)
    out.index = frame.index
    return out


def judge(frame: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """status, days_to_close (closed: days from the warning date) and days_overdue (overdue: days past due at
    ``day``) of rows carrying warning_date, due_date and closed_date."""
    out = frame.copy()
    asof = pd.Timestamp(day)
    closed = out["closed_date"].notna()
    due = pd.to_datetime(out["due_date"])
    out["status"] = np.where(
        closed,
        np.where(pd.to_datetime(out["closed_date"]) <= due, "closed_on_time", "closed_late"),
        np.where(asof > due, "overdue", "open"),
    )
    out["days_to_close"] = (pd.to_datetime(out["closed_date"]) - pd.to_datetime(out["warning_date"])).dt.days
    out["days_overdue"] = ((asof - due).dt.days).where(out["status"] == "overdue")
    return out


def followups(
    warnings: pd.DataFrame,
    previous: pd.DataFrame,
    interactions: pd.DataFrame,
    customers: pd.DataFrame,
    staff: pd.DataFrame,
    day: dt.date,
    config: dict[str, Any],
    *,
    warning_date: dt.date | None = None,
) -> pd.DataFrame:
    """The ``warning_followups`` partition at ``day`` (:data:`COLUMNS`): the previous partition's open and
    overdue follow-ups (``previous``; empty in the first month) and the new ones of ``warnings`` raised on
    ``warning_date`` (default ``day``), each with its owner and its status at ``day`` given the
    ``interactions`` (interaction_id, customer_id, interaction_time, channel, purpose) up to ``day``. Sorted by
    status (overdue, open, closed late, closed on time), due date, customer, rule."""
    carried = previous[previous["status"].isin(OPEN)] if len(previous) else empty()
    carried = carried[["customer_id", "rule_id", "severity", "warning_date", "due_date"]]
    carried = carried.assign(warning_date=_dates(carried["warning_date"]), due_date=_dates(carried["due_date"]))
    new = open_from(warnings, warning_date or day, carried, config) if len(warnings) else carried[:0]
    frame = pd.concat([f for f in (carried, new) if len(f)], ignore_index=True) if len(carried) + len(new) else new
    if frame.empty:
        return empty()
    frame = owners(frame, customers, staff, config)
    frame = frame.join(closing(frame, interactions, day, config))
    frame["closed_date"] = pd.to_datetime(frame["closed_date"])
    out = judge(frame, day)
    order = {"overdue": 0, "open": 1, "closed_late": 2, "closed_on_time": 3}
    out = out.assign(_o=out["status"].map(order)).sort_values(["_o", "due_date", "customer_id", "rule_id"])
    return out[COLUMNS].reset_index(drop=True)


def by_owner(rows: pd.DataFrame, key: str = "manager_id") -> pd.DataFrame:
    """Per ``key`` (manager_id by default): followups_open (open or overdue), followups_overdue,
    followups_closed_on_time, followups_decided (closed, or overdue) and followups_on_time_share
    (closed on time / decided; NaN when none is decided)."""
    cols = ["followups_open", "followups_overdue", "followups_closed_on_time", "followups_decided"]
    if rows.empty:
        return pd.DataFrame(columns=[*cols, "followups_on_time_share"], index=pd.Index([], name=key))
    s = rows["status"]
    parts = pd.DataFrame(
        {
            "followups_open": s.isin(OPEN).astype(np.int64),
            "followups_overdue": (s == "overdue").astype(np.int64),
            "followups_closed_on_time": (s == "closed_on_time").astype(np.int64),
            "followups_decided": (s != "open").astype(np.int64),
        }
    )
    out = parts.groupby(rows[key], sort=True).sum()
    out["followups_on_time_share"] = out["followups_closed_on_time"] / out["followups_decided"].where(
        out["followups_decided"] > 0
    )
    return out


def on_watch_list(watch: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """``watch`` (a watch list) with each customer's ``followups_open`` (open or overdue) and
    ``followups_overdue`` from the follow-up ``rows`` (0 when none)."""
    counts = by_owner(rows, "customer_id") if len(rows) else None
    out = watch.copy()
    for c in ("followups_open", "followups_overdue"):
        mapped = out["customer_id"].map(counts[c]) if counts is not None else pd.Series(0, index=out.index)
        out[c] = mapped.fillna(0).astype(np.int64)
    return out
