"""The truth of the synthetic bank's service histories (issue 20): which customers are key-account-like and what
they were planned to get, which stage actions were due and when they happened (or not), who referred whom and
whether the referrer is a promoter.

Computed from the generator's latent plan (:mod:`crm.synthetic.service`), never from the extracts, so tests and
benches can check that the pipeline finds the shortfalls, the late or missing actions and the promoters.
Vectorised; referrals loop over the days on which referred customers open their relationship.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from crm.synthetic import cal, coverage, params, service
from crm.synthetic.world import NEVER

BANDS = {0: None, 1: "TOP", 2: "HIGH"}


def _dates(days: np.ndarray):
    days = np.asarray(days, dtype=np.int64)
    return cal.to_datetime64(np.where(days < NEVER, days, 0), days < NEVER)


def key_accounts(bank):
    """One row per key-account-like customer (value band 1 TOP or 2 HIGH): the band, the value-added services a
    year the bank would plan for the band (``plan_<PURPOSE>``) and those the generator delivers
    (``rate_<PURPOSE>``: lower for a shortfall), whether it falls short, and the contact factor of its regular
    interactions (``under_contacted``: below an ordinary customer's)."""
    import pandas as pd

    c = bank.c
    p = service.plan(bank)
    rows = np.flatnonzero(p.band > 0)
    out = {
        "customer_id": c.cid[rows].astype(object),
        "is_corporate": c.is_corp[rows],
        "band": np.asarray([BANDS[b] for b in (1, 2)], dtype=object)[p.band[rows] - 1],
        "onboarding_date": _dates(c.onboard[rows]),
    }
    for k in service.VAS_PURPOSES:
        planned = np.asarray([params.VAS_RATES[b][k] for b in (1, 2)])[p.band[rows] - 1]
        out[f"plan_{k}"] = planned
        out[f"rate_{k}"] = planned * p.vas_factor[rows]
    out["vas_shortfall"] = p.vas_short[rows]
    out["contact_factor"] = p.contact[rows]
    out["under_contacted"] = p.under[rows]
    return pd.DataFrame(out)


def stage_actions(bank, start: dt.date, end: dt.date):
    """One row per stage action whose trigger falls in [start, end]: ``action`` ONBOARD (trigger: onboarding),
    RETAIN (the decline becoming visible) or ALERT (an overdue episode's first missed due date), the trigger date,
    the due date (trigger + the action's window), the planned outcome (ON_TIME, LATE, NEVER) and the day the
    interaction of that purpose happens (NaT: never, or after the customer's churn)."""
    import pandas as pd

    c = bank.c
    p = service.plan(bank)
    lo, hi = cal.day(start), cal.day(end)
    parts = []
    for action, cust, trigger, outcome, done, window in (
        ("ONBOARD", c.uid, c.onboard, p.onb_outcome, p.onb_day, params.ONBOARD_WINDOW_DAYS),
        ("RETAIN", c.uid, p.visible, p.ret_outcome, p.ret_day, params.RETAIN_WINDOW_DAYS),
        ("ALERT", p.alert_cust, p.alert_start, p.alert_outcome, p.alert_day, params.ALERT_WINDOW_DAYS),
    ):  # a loop over three actions
        m = np.flatnonzero((trigger >= lo) & (trigger <= hi))
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": c.cid[cust[m]].astype(object),
                    "action": action,
                    "trigger_date": _dates(trigger[m]),
                    "due_date": _dates(trigger[m] + window),
                    "outcome": service.OUTCOMES[outcome[m]],
                    "done_date": _dates(done[m]),
                    "manager_id": coverage.manager_id_at(bank, cust[m], trigger[m]).astype(object),  # on the trigger
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["action", "trigger_date", "customer_id"], kind="stable").reset_index(drop=True)


def promoters(bank):
    """Boolean per customer row: the persistent satisfaction makes an expected NPS of 9 or 10 (a promoter)."""
    return service.plan(bank).sat >= params.PROMOTER_SAT


def referrals(bank, start: dt.date, end: dt.date):
    """Every referral with a referral date in [start, end] (as the referrals extract sends them, before its
    ``since`` too), with the referrer's persistent satisfaction, promoter flag and value z-score and the referred
    customer's value z-score."""
    import pandas as pd

    c = bank.c
    p = service.plan(bank)
    lo, hi = cal.day(start), cal.day(end)
    days = np.unique(c.onboard[p.referred & (c.onboard >= lo) & (c.onboard <= hi)])
    got = [service.referrals_on(bank, int(d)) for d in days]  # a loop over days with a referral
    cols = ("rows", "referrer", "channel", "staff", "referral_id")
    r = {k: np.concatenate([getattr(g, k) for g in got]) if got else np.zeros(0) for k in cols}
    rows, ref = r["rows"].astype(np.int64), r["referrer"].astype(np.int64)
    promoter = promoters(bank)
    return pd.DataFrame(
        {
            "referral_id": r["referral_id"].astype(object),
            "referrer_customer_id": c.cid[ref].astype(object),
            "referred_customer_id": c.cid[rows].astype(object),
            "referral_date": _dates(c.onboard[rows]),
            "channel": r["channel"].astype(object),
            "referrer_satisfaction": p.sat[ref],
            "referrer_is_promoter": promoter[ref],
            "referrer_value_z": p.z_value[ref],
            "referred_value_z": p.z_value[rows],
        }
    )
