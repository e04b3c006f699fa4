"""Churn with causes (issue 20): why and when a customer goes dormant or closes.

Before issue 20 only the lifecycle decline (risk-driven) led to dormancy and closing. Now three more causes
raise the hazard, each a pure function of ``(seed, uid)`` and the bank's schedules (``docs/synthetic.md``
"Coverage teams, manager changes and churn (issue 20)"; every parameter in :mod:`crm.synthetic.params`):

- DECLINE: the lifecycle decline (balances decaying) leads to dormancy ``DECLINE_DORMANT_DAYS`` later
  (:func:`crm.synthetic.world.build_lifecycle`);
- BASE: a base exit hazard scaled by the latent dissatisfaction (the disposition that also drives the
  customer's CSAT and NPS in surveys: ``dissat = -quality_pref / 0.5``) and the latent complaint propensity
  (``complaint``: the service requests' complaint rate should scale by :func:`complaint_factor`);
- MANAGER: a lead-manager change (a leaver's book moved or a rebalancing, :mod:`crm.synthetic.coverage`)
  triggers an exit 1-6 months later with a probability that grows with dissatisfaction and complaints.

An exit (BASE or MANAGER) is a run-off (balances decay for a few months before the dormancy) or abrupt
(everything moves away on the day); half of the exits also close the relationship (accounts and products
closed, status C) weeks later. The effect (dormancy or closing) thus follows its cause by 1-6 months, and a
balance-drop rule sees the run-offs and the declines but not the abrupt exits.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from crm.synthetic import cal, coverage, params
from crm.synthetic.rand import normal, uniform
from crm.synthetic.world import NEVER, NS

CAUSES = ("NONE", "DECLINE", "BASE", "MANAGER")


def complaint_factor(c: NS, rows) -> np.ndarray:
    """Multiplier of a customer's complaint rate (service requests of category CMPL)."""
    return np.exp(params.COMPLAINT_RATE_SLOPE * c.complaint[np.asarray(rows, dtype=np.int64)])


def _u(seed, stream, k, lo_hi) -> np.ndarray:
    lo, hi = lo_hi
    return lo + uniform(seed, stream, k) * (hi - lo)


def build(seed: int, c: NS) -> None:
    """Latent drivers and the exits; updates ``c.t_dec``, ``c.tau_d``, ``c.t_dorm``, ``c.t_churn`` and sets
    ``c.dissat``, ``c.complaint``, ``c.exit_day``, ``c.exit_cause`` (index in CAUSES), ``c.exit_trigger`` (the
    manager change that triggered a MANAGER exit, NEVER otherwise), ``c.exit_abrupt``."""
    k = c.uid
    n = len(k)
    c.dissat = -c.quality_pref / 0.5
    c.complaint = normal(seed, "cx_complaint", k)
    # BASE: an exponential waiting time from EXIT_MIN_AGE_DAYS after onboarding
    rate = params.EXIT_HAZARD * np.exp(
        params.EXIT_DISSAT_SLOPE * np.clip(c.dissat, -3, 3) + params.EXIT_COMPLAINT_SLOPE * np.clip(c.complaint, -3, 3)
    )
    wait = -np.log(1 - uniform(seed, "cx_base", k)) / rate * 30.44
    base = c.onboard + params.EXIT_MIN_AGE_DAYS + np.minimum(wait, NEVER).astype(np.int64)
    # MANAGER: each change may trigger an exit 1-6 months later
    ch = coverage.changes(c)
    slots = np.arange(ch.shape[1])[None, :]
    key = k[:, None] * 8 + slots
    drivers = params.EXIT_DISSAT_SLOPE * np.clip(c.dissat, -3, 3) + params.EXIT_COMPLAINT_SLOPE * np.clip(
        c.complaint, -3, 3
    )
    p = np.minimum(0.9, params.MANAGER_CHANGE_EXIT * np.exp(0.5 * drivers))
    lo, hi = params.MANAGER_CHANGE_EXIT_DAYS
    hit = (ch < NEVER) & (uniform(seed, "cx_mgr", key) < p[:, None])
    trig_day = np.where(hit, ch + (lo + uniform(seed, "cx_mgr_t", key) * (hi - lo)).astype(np.int64), NEVER)
    j = np.argmin(trig_day, axis=1)
    mgr = trig_day[np.arange(n), j]
    mgr_change = np.where(mgr < NEVER, ch[np.arange(n), j], NEVER)
    exit_day = np.minimum(np.minimum(base, mgr), NEVER)
    cause_exit = np.where(mgr < base, 3, 2)
    # the exit against the natural lifecycle: whichever comes first
    natural = np.minimum(c.t_dorm, c.t_churn)
    takes = exit_day < natural
    abrupt = uniform(seed, "cx_abrupt", k) >= params.EXIT_RUNOFF_SHARE
    runoff = takes & ~abrupt
    dec_start = exit_day - _u(seed, "cx_runoff", k, params.EXIT_RUNOFF_DAYS).astype(np.int64)
    dec_start = np.where(cause_exit == 3, np.maximum(dec_start, mgr_change), dec_start)
    earlier = runoff & (dec_start < c.t_dec)
    c.t_dec = np.where(earlier, dec_start, c.t_dec)
    c.tau_d = np.where(earlier, _u(seed, "cx_tau", k, params.EXIT_RUNOFF_TAU), c.tau_d)
    closes = uniform(seed, "cx_close", k) < params.EXIT_CLOSE_SHARE
    close_day = exit_day + _u(seed, "cx_close_t", k, params.EXIT_CLOSE_DAYS).astype(np.int64)
    c.t_dorm = np.where(takes, exit_day, c.t_dorm)
    c.t_churn = np.where(takes & closes, np.minimum(close_day, c.t_churn), c.t_churn)
    c.t_dorm = np.minimum(c.t_dorm, NEVER)
    c.t_churn = np.minimum(c.t_churn, NEVER)
    c.t_dec = np.minimum(c.t_dec, c.t_dorm)
    # the truth: the first of dormancy and closing, and its cause
    c.exit_day = np.minimum(c.t_dorm, c.t_churn)
    c.exit_cause = np.where(c.exit_day >= NEVER, 0, np.where(takes, cause_exit, 1)).astype(np.int64)
    c.exit_trigger = np.where(c.exit_cause == 3, mgr_change, NEVER)
    c.exit_abrupt = takes & abrupt


COLUMNS = (
    "customer_id",
    "is_corporate",
    "active",  # onboarded, not dormant and not closed at the month end
    "dissatisfaction",  # latent, standard normal (high: low CSAT/NPS)
    "complaint_propensity",  # latent, standard normal (high: more complaints)
    "declining",  # in the lifecycle decline phase at the month end
    "decline_start",  # first day of the decline phase (None: none by the month end)
    "manager_changed",  # the lead manager changed within the 6 months up to the month end
    "last_manager_change",
    "churn_date",  # first day dormant or closed (None: never)
    "churn_cause",  # DECLINE, BASE (dissatisfaction/complaints), MANAGER or NONE
    "abrupt",  # an exit with no run-off of the balances before it
    "churn_within_6m",  # active at the month end, churned within the next 6 months
)


def churn_truth(bank, month_end: dt.date, horizon_months: int = 6) -> pd.DataFrame:
    """Per customer onboarded by ``month_end``: the latent churn drivers at that month end and whether/when
    the customer churned (went dormant or closed), with the cause (for tests and the bench)."""
    c = bank.c
    me = cal.day(month_end)
    m = int(cal.month_of(np.array([me]))[0])
    rows = np.flatnonzero(c.onboard <= me)
    ex = c.exit_day[rows]
    active = ex > me
    last = coverage.last_change(c, rows, me)
    h_end = int(cal.month_end(np.array([m + horizon_months]))[0])
    dec = c.t_dec[rows]

    def day_or_none(d):
        return cal.to_datetime64(np.where(d < NEVER, d, 0), d < NEVER)

    return pd.DataFrame(
        {
            "customer_id": c.cid[rows],
            "is_corporate": c.is_corp[rows],
            "active": active,
            "dissatisfaction": c.dissat[rows],
            "complaint_propensity": c.complaint[rows],
            "declining": (dec <= me) & active,
            "decline_start": day_or_none(np.where(dec <= me, dec, NEVER)),
            "manager_changed": (last < NEVER) & (last > me - 183),
            "last_manager_change": day_or_none(last),
            "churn_date": day_or_none(ex),
            "churn_cause": np.asarray(CAUSES, dtype=object)[c.exit_cause[rows]],
            "abrupt": c.exit_abrupt[rows],
            "churn_within_6m": active & (ex <= h_end),
        },
        columns=list(COLUMNS),
    )
