"""Lifecycle as a strategy: stage history, month-over-month transitions and stage playbooks.

The stage is ``lifecycle_stage`` of the customer_value mart (:func:`crm.value.value.lifecycle`).

- **Stage history** (:func:`customer_stages`): per customer of the month, its stage, the previous month's stage
  (``(none)`` when the customer was not in the previous month's mart), ``stage_since`` (the month end the
  current stage was first seen without a break) and ``months_in_stage`` (0 = entered this month). Built
  incrementally from the previous month's customer_stages; when that is missing, from up to
  ``[lifecycle] history_months`` earlier months of customer_value (a run reaching the oldest month read starts
  there: a lower bound). In the first month loaded there is no previous month: nobody ``entered``.
- **Transitions** (:func:`transition_matrix`): customers per (from_stage, to_stage), bank-wide, per branch and
  per value segment. A customer is counted in the group of the earlier month (so a group's rows sum to its
  customers in the earlier stage); a customer new this month comes from ``(none)`` and is counted in its
  current group; one gone from the mart goes to ``(none)``.
- **Stage actions** (:func:`stage_actions`): the playbook of a stage (``[lifecycle_playbook.<stage>]``) gives each
  customer who entered that stage this month dated actions: window start = anchor + ``start_days``, due = anchor
  + ``due_days``, the window closes ``late_days`` after the due date. The anchor is the onboarding date
  (``anchor = "onboarding"``, the month end when unknown) or the month end at which the stage was first seen
  (``anchor = "entry"``). An action is closed by the first matching interaction (purpose in ``purposes``,
  channel in ``channels``, any channel when empty) or, with ``opportunities = true``, an opportunity offered,
  dated inside the window and on or before the as-of date: ``on_time`` (on or before the due date) or
  ``late``; otherwise ``open`` (due date not passed) or ``overdue``. Actions persist across months (the previous
  month's partition is carried forward and re-evaluated) until ``[lifecycle] keep_days`` after their window
  closes. ``in_stage`` says whether the customer is still in the action's stage.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

NONE = "(none)"  # the origin of a customer new this month / the destination of one gone from the mart
STAGES = ["new", "growth", "mature", "decline", "dormant", "churned", "unknown"]

STAGE_COLUMNS = [
    "customer_id",
    "branch_id",
    "segment",
    "manager_id",
    "lifecycle_stage",
    "previous_stage",
    "stage_since",
    "months_in_stage",
    "entered",
]
TRANSITION_COLUMNS = ["dimension", "group_id", "from_stage", "to_stage", "customers"]
ACTION_KEY = ["customer_id", "stage", "action", "anchor_date"]
ACTION_COLUMNS = [
    *ACTION_KEY,
    "manager_id",
    "branch_id",
    "start_date",
    "due_date",
    "window_end",
    "closed_date",
    "closed_by",
    "status",
    "days_overdue",
    "in_stage",
    "created_month",
]
STATUSES = ["on_time", "late", "open", "overdue"]


def _month_index(dates: pd.Series) -> pd.Series:
    d = pd.to_datetime(dates)
    return d.dt.year * 12 + d.dt.month


def _stage_frame(value: pd.DataFrame) -> pd.DataFrame:
    seg = "value_segment" if "value_segment" in value.columns else "segment"
    out = pd.DataFrame(
        {
            "customer_id": value["customer_id"],
            "branch_id": value.get("branch_id", pd.Series(pd.NA, index=value.index)),
            "segment": value.get(seg, pd.Series(pd.NA, index=value.index)),
            "manager_id": value.get("manager_id", pd.Series(pd.NA, index=value.index)),
            "lifecycle_stage": value["lifecycle_stage"].astype(str),
        }
    )
    return out.reset_index(drop=True)  # customer_value has one row per customer and month end


def customer_stages(
    value: pd.DataFrame,
    day: dt.date,
    previous: pd.DataFrame | None = None,
    history: list[tuple[dt.date, pd.DataFrame]] | None = None,
) -> pd.DataFrame:
    """The customer_stages rows of ``day`` (columns :data:`STAGE_COLUMNS`) from this month's customer_value
    (customer_id, lifecycle_stage, branch_id, value_segment, manager_id). ``previous``: the previous month's
    customer_stages (customer_id, lifecycle_stage, stage_since); ``history``: when ``previous`` is None, earlier
    months of customer_value as (month_end, frame with customer_id and lifecycle_stage), newest first."""
    out = _stage_frame(value)
    stage = out.set_index("customer_id")["lifecycle_stage"]
    ts = pd.Timestamp(day)
    since = pd.Series(ts, index=stage.index)
    if previous is not None:
        p = previous.drop_duplicates("customer_id").set_index("customer_id")
        prev_stage = p["lifecycle_stage"].astype(str).reindex(stage.index)
        same = (prev_stage == stage).fillna(False)
        prev_since = pd.to_datetime(p["stage_since"]).reindex(stage.index)
        since = since.where(~same, prev_since)
        known = True
    elif history:
        first = history[0][1].drop_duplicates("customer_id").set_index("customer_id")
        prev_stage = first["lifecycle_stage"].astype(str).reindex(stage.index)
        alive = pd.Series(True, index=stage.index)
        for month, frame in history:
            s = frame.drop_duplicates("customer_id").set_index("customer_id")["lifecycle_stage"].astype(str)
            cont = alive & (s.reindex(stage.index) == stage).fillna(False)
            since = since.where(~cont, pd.Timestamp(month))
            alive = cont
        known = True
    else:
        prev_stage = pd.Series(pd.NA, index=stage.index, dtype="object")
        known = False
    out["previous_stage"] = prev_stage.fillna(NONE).to_numpy() if known else pd.NA
    out["stage_since"] = since.dt.normalize().to_numpy()  # a timestamp column (dates as objects cost at 1M)
    out["months_in_stage"] = (ts.year * 12 + ts.month - _month_index(since)).astype("int64").to_numpy()
    out["entered"] = (out["previous_stage"] != out["lifecycle_stage"]).to_numpy(bool) if known else False
    return out[STAGE_COLUMNS]


def transition_matrix(now: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """Long transition matrix (:data:`TRANSITION_COLUMNS`): customers per (from_stage, to_stage) for
    dimension ``bank`` (group_id ``ALL``), ``branch`` and ``segment``. ``now`` and ``before``: customer_id,
    lifecycle_stage, branch_id and segment (or value_segment) of this and the previous month."""
    empty = pd.DataFrame({c: pd.Series(dtype="int64" if c == "customers" else object) for c in TRANSITION_COLUMNS})
    if now.empty and before.empty:
        return empty
    a = _stage_frame(before) if len(before) else _stage_frame(pd.DataFrame(columns=["customer_id", "lifecycle_stage"]))
    b = _stage_frame(now)
    # one hash lookup instead of an outer merge (which sorts a million string keys): each customer of this
    # month finds its row of last month (-1: new); last month's customers no one found are gone
    pos = pd.Index(a["customer_id"]).get_indexer(b["customer_id"])
    found = pos >= 0
    gone = np.ones(len(a), dtype=bool)
    gone[pos[found]] = False
    a_stage = a["lifecycle_stage"].to_numpy(object)
    frm = np.concatenate([np.where(found, a_stage[np.where(found, pos, 0)] if len(a) else NONE, NONE), a_stage[gone]])
    to = np.concatenate([b["lifecycle_stage"].to_numpy(object), np.full(int(gone.sum()), NONE, dtype=object)])
    groups = {"bank": np.full(len(frm), "ALL", dtype=object)}
    for dim in ("branch_id", "segment"):
        av = a[dim].to_numpy(object)
        now_g = np.where(found, av[np.where(found, pos, 0)] if len(a) else None, b[dim].to_numpy(object))
        groups[dim.removesuffix("_id")] = np.concatenate([now_g, av[gone]])
    fcode, fnames = pd.factorize(frm)
    tcode, tnames = pd.factorize(to)
    parts = []
    for dim, g in groups.items():
        gcode, gnames = pd.factorize(pd.Series(g, dtype=object).fillna(NONE).astype(str))
        flat = (gcode * len(fnames) + fcode) * len(tnames) + tcode
        counts = np.bincount(flat, minlength=len(gnames) * len(fnames) * len(tnames))
        nz = np.flatnonzero(counts)
        gi, rest = np.divmod(nz, len(fnames) * len(tnames))
        fi, ti = np.divmod(rest, len(tnames))
        parts.append(
            pd.DataFrame(
                {
                    "dimension": dim,
                    "group_id": np.asarray(gnames, dtype=object)[gi],
                    "from_stage": np.asarray(fnames, dtype=object)[fi],
                    "to_stage": np.asarray(tnames, dtype=object)[ti],
                    "customers": counts[nz],
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    for col in ("group_id", "from_stage", "to_stage"):
        out[col] = out[col].astype(str).astype(object)
    out["customers"] = out["customers"].astype("int64")
    return out[TRANSITION_COLUMNS].sort_values(["dimension", "group_id", "from_stage", "to_stage"], ignore_index=True)


def playbook_actions(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The configured actions, one dict per action with its ``stage``."""
    out = []
    for stage, spec in (config.get("lifecycle_playbook") or {}).items():
        if not isinstance(spec, dict):
            continue
        for a in spec.get("actions", []):
            out.append({"stage": stage, **a})
    return out


def _empty_actions() -> pd.DataFrame:
    dates = {"anchor_date", "start_date", "due_date", "window_end", "closed_date", "created_month"}
    types = {"days_overdue": "int64", "in_stage": "bool"}
    return pd.DataFrame(
        {c: pd.Series(dtype="datetime64[ns]" if c in dates else types.get(c, object)) for c in ACTION_COLUMNS}
    )


def new_actions(
    stages: pd.DataFrame, onboarding: pd.DataFrame | None, day: dt.date, config: dict[str, Any]
) -> pd.DataFrame:
    """The actions created at ``day`` for the customers of ``stages`` (customer_stages rows) who entered a stage
    with a playbook; ``onboarding``: customer_id, onboarding_date (customer 360)."""
    entered = stages[stages["entered"].astype(bool)]
    ts = pd.Timestamp(day)
    onb = pd.Series(dtype="datetime64[ns]")
    if onboarding is not None and len(onboarding):
        o = onboarding.drop_duplicates("customer_id").set_index("customer_id")["onboarding_date"]
        onb = pd.to_datetime(o, errors="coerce")
    frames = []
    for a in playbook_actions(config):
        c = entered[entered["lifecycle_stage"] == a["stage"]]
        if c.empty:
            continue
        if a.get("anchor", "entry") == "onboarding":
            anchor = onb.reindex(c["customer_id"]).fillna(ts).to_numpy()
        else:
            anchor = np.full(len(c), ts)
        anchor = pd.to_datetime(pd.Series(anchor, index=c.index)).dt.normalize()
        due = anchor + pd.Timedelta(days=int(a["due_days"]))
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": c["customer_id"],
                    "stage": a["stage"],
                    "action": a["action"],
                    "anchor_date": anchor,
                    "manager_id": c["manager_id"],
                    "branch_id": c["branch_id"],
                    "start_date": anchor + pd.Timedelta(days=int(a.get("start_days", 0))),
                    "due_date": due,
                    "window_end": due + pd.Timedelta(days=int(a.get("late_days", 0))),
                    "created_month": ts,
                }
            )
        )
    if not frames:
        return _empty_actions()
    return pd.concat(frames, ignore_index=True).reindex(columns=ACTION_COLUMNS)


def _events(action: dict[str, Any], interactions: pd.DataFrame, opportunities: pd.DataFrame | None) -> pd.DataFrame:
    """customer_id, event_date, closed_by of the records that would close ``action``."""
    parts = []
    if len(interactions):
        ok = interactions["purpose"].isin(action.get("purposes", []))
        if action.get("channels"):
            ok &= interactions["channel"].isin(action["channels"])
        i = interactions.loc[ok]
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": i["customer_id"].astype(str),
                    "event_date": pd.to_datetime(i["interaction_time"]).dt.normalize(),
                    "closed_by": "interaction:" + i["purpose"].astype(str),
                }
            )
        )
    if action.get("opportunities") and opportunities is not None and len(opportunities):
        o = opportunities.drop_duplicates("opportunity_id") if "opportunity_id" in opportunities else opportunities
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": o["customer_id"].astype(str),
                    "event_date": pd.to_datetime(o["offered_date"]).dt.normalize(),
                    "closed_by": "opportunity:" + o["proposal_type"].astype(str),
                }
            )
        )
    if not parts:
        return pd.DataFrame({"customer_id": [], "event_date": pd.Series(dtype="datetime64[ns]"), "closed_by": []})
    return pd.concat(parts, ignore_index=True)


def stage_actions(
    stages: pd.DataFrame,
    previous_actions: pd.DataFrame | None,
    onboarding: pd.DataFrame | None,
    interactions: pd.DataFrame,
    opportunities: pd.DataFrame | None,
    day: dt.date,
    config: dict[str, Any],
) -> pd.DataFrame:
    """The stage_actions rows at ``day`` (:data:`ACTION_COLUMNS`): the previous month's actions still kept plus
    the actions of the customers who entered a stage this month, each evaluated against the interactions
    (and opportunities) on or before ``day`` (see the module docstring)."""
    ts = pd.Timestamp(day)
    keep = pd.Timedelta(days=int(config["lifecycle"]["keep_days"]))
    carried = _empty_actions()
    if previous_actions is not None and len(previous_actions):
        carried = previous_actions.reindex(columns=ACTION_COLUMNS).copy()
        for c in ("anchor_date", "start_date", "due_date", "window_end", "created_month"):
            carried[c] = pd.to_datetime(carried[c])
        carried = carried[carried["window_end"] + keep >= ts]
    fresh = new_actions(stages, onboarding, day, config)
    # what an action is (its key and dates); the rest is recomputed below
    base = [*ACTION_KEY, "start_date", "due_date", "window_end", "created_month"]
    parts = [p[base] for p in (carried, fresh) if len(p)]
    if not parts:
        return _empty_actions()
    acts = pd.concat(parts, ignore_index=True)
    acts["customer_id"] = acts["customer_id"].astype(str)
    acts = acts.drop_duplicates(ACTION_KEY, keep="first").reset_index(drop=True)
    # manager, branch and stage of the customer now (an action follows the customer's current manager)
    now = stages.drop_duplicates("customer_id").set_index("customer_id")
    for c in ("manager_id", "branch_id"):
        acts[c] = now[c].reindex(acts["customer_id"]).to_numpy()
        acts[c] = acts[c].where(acts[c].notna(), None)
    acts["in_stage"] = (now["lifecycle_stage"].reindex(acts["customer_id"]).to_numpy() == acts["stage"]).astype(bool)
    # only the contacts and offers of customers with an action, their dates normalised once
    who = pd.Index(acts["customer_id"].unique())
    if len(interactions):
        interactions = interactions[interactions["customer_id"].astype(str).isin(who)]
        interactions = interactions.assign(
            customer_id=interactions["customer_id"].astype(str),
            interaction_time=pd.to_datetime(interactions["interaction_time"]).dt.normalize(),
        )
    if opportunities is not None and len(opportunities):
        opportunities = opportunities[opportunities["customer_id"].astype(str).isin(who)]
    closed = pd.Series(pd.NaT, index=acts.index, dtype="datetime64[ns]")
    closed_by = pd.Series(None, index=acts.index, dtype=object)
    specs = {(a["stage"], a["action"]): a for a in playbook_actions(config)}
    for (stage, action), spec in specs.items():
        sel = acts[(acts["stage"] == stage) & (acts["action"] == action)]
        if sel.empty:
            continue
        ev = _events(spec, interactions, opportunities)
        m = sel[["customer_id", "start_date", "window_end"]].reset_index().merge(ev, on="customer_id")
        m = m[(m["event_date"] >= m["start_date"]) & (m["event_date"] <= m["window_end"]) & (m["event_date"] <= ts)]
        first = m.sort_values(["index", "event_date"]).drop_duplicates("index")
        closed.loc[first["index"].to_numpy()] = first["event_date"].to_numpy()
        closed_by.loc[first["index"].to_numpy()] = first["closed_by"].to_numpy()
    acts["closed_date"] = closed
    acts["closed_by"] = closed_by
    done = closed.notna()
    acts["status"] = np.select(
        [
            (done & (closed <= acts["due_date"])).to_numpy(bool),
            done.to_numpy(bool),
            (acts["due_date"] >= ts).to_numpy(bool),
        ],
        ["on_time", "late", "open"],
        default="overdue",
    )
    acts["days_overdue"] = np.where(acts["status"] == "overdue", (ts - acts["due_date"]).dt.days, 0).astype("int64")
    return acts[ACTION_COLUMNS].sort_values(ACTION_KEY, ignore_index=True)


def action_counts(actions: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """Per branch (and ``ALL``), stage and action: actions by status, and those due this month (due date in the
    month of ``day``)."""
    if actions.empty:
        return pd.DataFrame(
            {
                **{c: pd.Series(dtype=object) for c in ("branch_id", "stage", "action")},
                **{c: pd.Series(dtype="int64") for c in ("due_this_month", *STATUSES)},
            }
        )
    ts = pd.Timestamp(day)
    a = actions.assign(
        due_this_month=(pd.to_datetime(actions["due_date"]).dt.to_period("M") == ts.to_period("M")).astype("int64"),
        branch_id=actions["branch_id"].astype("string").fillna(NONE),
    )
    for s in STATUSES:
        a[s] = (a["status"] == s).astype("int64")
    cols = ["due_this_month", *STATUSES]
    per = a.groupby(["branch_id", "stage", "action"])[cols].sum().reset_index()
    bank = a.groupby(["stage", "action"])[cols].sum().reset_index().assign(branch_id="ALL")
    return pd.concat([bank, per], ignore_index=True)[["branch_id", "stage", "action", *cols]]
