"""Revisit plan: when each customer is next due a relationship visit, by tier, and what is overdue.

A contact counts as a visit when its channel is in config [revisit] ``channels`` and its purpose is not in
``excluded_purposes`` (collection calls are not relationship visits). The last visit is the latest such
contact on or before the as-of date. Next due = last visit + the tier's interval ([revisit.interval_days]);
``days_overdue`` = as-of - due when positive; ``status`` is overdue, due_soon (due within ``due_soon_days``)
or scheduled. A customer with no visit on record has status ``no_visit`` and is due at the as-of date
(``days_overdue`` 0: the extracts do not say for how long; the interactions extract may hold less history
than the relationship). Compliance counts only scheduled and due_soon as compliant. The manager's own planned
date (``next_visit_date`` of the last visit) is carried for reference, not used for the due date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

PLAN_COLUMNS = [
    "customer_id",
    "manager_id",
    "branch_id",
    "tier",
    "interval_days",
    "last_visit",
    "planned_date",
    "due_date",
    "days_overdue",
    "status",
]


def last_visits(interactions: pd.DataFrame, day: dt.date, config: dict[str, Any]) -> pd.DataFrame:
    """Per customer: ``last_visit`` (date) and the ``planned_date`` recorded with it (index customer_id)."""
    rc = config["revisit"]
    when = pd.to_datetime(interactions["interaction_time"])
    ok = (
        interactions["channel"].isin(rc["channels"])
        & ~interactions["purpose"].isin(rc["excluded_purposes"])
        & (when.dt.normalize() <= pd.Timestamp(day))
    )
    v = interactions.loc[ok].assign(_t=when[ok]).sort_values(["customer_id", "_t"])
    v = v.drop_duplicates("customer_id", keep="last").set_index("customer_id")
    planned = (
        pd.to_datetime(v["next_visit_date"], errors="coerce")
        if "next_visit_date" in v.columns
        else pd.Series(pd.NaT, index=v.index)
    )
    return pd.DataFrame({"last_visit": v["_t"].dt.normalize(), "planned_date": planned})


def revisit_customers(value: pd.DataFrame, c360: pd.DataFrame) -> pd.DataFrame:
    """:func:`revisit_plan`'s ``customers`` from a month's marts: customer_id, tier, manager_id and branch_id of
    the customer value, with onboarding_date of the customer 360 (left join)."""
    return value[["customer_id", "tier", "manager_id", "branch_id"]].merge(
        c360[["customer_id", "onboarding_date"]], on="customer_id", how="left"
    )


def revisit_plan(
    customers: pd.DataFrame, interactions: pd.DataFrame, day: dt.date, config: dict[str, Any]
) -> pd.DataFrame:
    """``customers``: customer_id, tier, manager_id, branch_id, onboarding_date (customer_value joined with
    customer 360). One row per customer whose tier has an interval (see the module docstring)."""
    rc = config["revisit"]
    intervals = {k: int(v) for k, v in rc["interval_days"].items()}
    c = customers[customers["tier"].isin(intervals)].drop_duplicates("customer_id").set_index("customer_id")
    visits = last_visits(interactions, day, config).reindex(c.index)
    interval = c["tier"].map(intervals).astype("int64")
    ts = pd.Timestamp(day)
    never = visits["last_visit"].isna()
    due = (visits["last_visit"] + pd.to_timedelta(interval, unit="D")).where(~never, ts)
    overdue = (ts - due).dt.days.clip(lower=0)
    status = np.select(
        [
            never.to_numpy(bool),
            (due < ts).to_numpy(bool),
            (due <= ts + pd.Timedelta(days=int(rc["due_soon_days"]))).to_numpy(bool),
        ],
        ["no_visit", "overdue", "due_soon"],
        default="scheduled",
    )
    out = pd.DataFrame(
        {
            "manager_id": c.get("manager_id"),
            "branch_id": c.get("branch_id"),
            "tier": c["tier"],
            "interval_days": interval,
            "last_visit": visits["last_visit"].dt.date,
            "planned_date": visits["planned_date"].dt.date,
            "due_date": due.dt.date,
            "days_overdue": overdue.astype("int64"),
            "status": status,
        },
        index=c.index,
    ).reset_index()
    return (
        out[PLAN_COLUMNS]
        .sort_values(["manager_id", "days_overdue", "customer_id"], ascending=[True, False, True])
        .reset_index(drop=True)
    )


def overdue_by_manager(plan: pd.DataFrame) -> pd.DataFrame:
    """Per manager: customers in plan, overdue, no_visit, due_soon, worst days overdue, ``compliance`` (share
    scheduled or due soon); ``key_customers`` (tiers strategic and key), ``key_not_covered`` (overdue or no
    visit) and ``key_coverage`` (share covered; NaN without key customers)."""
    late = plan["status"].isin(["overdue", "no_visit"])
    p = plan.assign(
        _over=plan["status"] == "overdue",
        _never=plan["status"] == "no_visit",
        _soon=plan["status"] == "due_soon",
        _late=late,
        _key=plan["tier"].isin(["strategic", "key"]),
    )
    p["_key_late"] = p["_key"] & p["_late"]
    g = p.groupby("manager_id", dropna=False)
    out = pd.DataFrame(
        {
            "customers": g.size(),
            "overdue": g["_over"].sum(),
            "no_visit": g["_never"].sum(),
            "due_soon": g["_soon"].sum(),
            "max_days_overdue": g["days_overdue"].max(),
            "key_customers": g["_key"].sum(),
            "key_not_covered": g["_key_late"].sum(),
        }
    )
    out["compliance"] = 1 - g["_late"].sum() / out["customers"]
    out["key_coverage"] = 1 - out["key_not_covered"] / out["key_customers"].replace(0, np.nan)
    return out.reset_index()
