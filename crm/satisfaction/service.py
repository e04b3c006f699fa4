"""Priority service by tier (优先办理、绿色通道, issue 20): the service-level marts of a month end.

:func:`crm.satisfaction.analytics.sla` judges every request against the tighter of its priority's and its
customer tier's target (``config.toml`` [sla] and [sla_tier]) and flags key accounts' requests
``green_channel``. This module turns that detail into the month's tables ([service_month] in the config):

- ``service_sla_tier``: compliance per branch (and ``ALL``), tier and green channel: requests, met, breached,
  pending, met share (of the decided: met + breached);
- ``service_sla_breaches``: every breached request for the branch head: request id, category, priority,
  tier, green channel, responsible staff (``assigned_staff_id``), which limit was breached, the minutes taken,
  the target and the minutes over it;
- ``service_sla_staff``: per staff member: requests, median and p90 response and resolution minutes, met and
  breached counts of response and resolution (these were computed by ``sla().by_staff`` and dropped before);
- ``service_sla_accounts``: per key account with requests: this month's and the year's requests, met and
  breached (the key-account report's service-level record).

The month's requests are those opened in the month (``opened_time`` from its first day to ``as_of``); the
year's, those opened since 1 January. Vectorised: groupbys only.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

TIER_COLUMNS = [
    "branch_id",
    "tier",
    "green_channel",
    "requests",
    "met",
    "breached",
    "pending",
    "met_share",
]
BREACH_COLUMNS = [
    "request_id",
    "customer_id",
    "branch_id",
    "category",
    "priority",
    "tier",
    "green_channel",
    "target_source",
    "assigned_staff_id",
    "opened_time",
    "status",
    "breach_kind",
    "response_minutes",
    "response_limit",
    "response_over",
    "resolution_minutes",
    "resolution_limit",
    "resolution_over",
    "minutes_over",
    "open_overdue",
]
STAFF_COLUMNS = [
    "staff_id",
    "branch_id",
    "requests",
    "green_channel_requests",
    "response_minutes_median",
    "response_minutes_p90",
    "resolution_minutes_median",
    "resolution_minutes_p90",
    "response_met",
    "response_breached",
    "resolution_met",
    "resolution_breached",
    "met",
    "breached",
]
ACCOUNT_COLUMNS = [
    "customer_id",
    "branch_id",
    "manager_id",
    "tier",
    "requests_month",
    "met_month",
    "breached_month",
    "requests_year",
    "met_year",
    "breached_year",
]


def _opened_since(detail: pd.DataFrame, first: dt.date) -> pd.DataFrame:
    opened = pd.to_datetime(detail["opened_time"])
    return detail[(opened >= pd.Timestamp(first)).to_numpy()]


def _with_branch(detail: pd.DataFrame, value: pd.DataFrame) -> pd.DataFrame:
    """The request detail with the customer's ``branch_id`` of the month (customer_value; NaN when absent)."""
    if "branch_id" in value.columns:
        branch = value.drop_duplicates("customer_id").set_index("customer_id")["branch_id"]
        return detail.assign(branch_id=detail["customer_id"].map(branch))
    return detail.assign(branch_id=None)


def _counts(d: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    parts = pd.DataFrame(
        {
            "requests": np.ones(len(d), dtype=np.int64),
            "met": d["met"].to_numpy(bool).astype(np.int64),
            "breached": d["any_breach"].to_numpy(bool).astype(np.int64),
        },
        index=d.index,
    )
    g = parts.groupby([d[c].astype(object).where(d[c].notna(), "") for c in by], sort=True).sum()
    g["pending"] = g["requests"] - g["met"] - g["breached"]
    decided = (g["met"] + g["breached"]).astype(float)
    g["met_share"] = g["met"] / decided.where(decided > 0)
    return g.reset_index()


def tier_compliance(detail: pd.DataFrame) -> pd.DataFrame:
    """:data:`TIER_COLUMNS`: per branch (and ``ALL``), tier and green channel. A request without a known
    tier counts under tier ``""``."""
    if detail.empty:
        return pd.DataFrame(columns=TIER_COLUMNS)
    d = detail.assign(green_channel=detail["green_channel"].astype(bool))
    per_branch = _counts(d, ["branch_id", "tier", "green_channel"])
    bank = _counts(d.assign(branch_id="ALL"), ["branch_id", "tier", "green_channel"])
    out = pd.concat([bank, per_branch], ignore_index=True)
    out["green_channel"] = out["green_channel"].astype(bool)
    return out[TIER_COLUMNS]


def breaches(detail: pd.DataFrame) -> pd.DataFrame:
    """:data:`BREACH_COLUMNS`: the breached requests, most minutes over first. ``breach_kind``: response,
    resolution or both; ``minutes_over``: the larger of the two overruns."""
    b = detail[detail["any_breach"].to_numpy(bool)]
    if b.empty:
        return pd.DataFrame(columns=BREACH_COLUMNS)
    r, s = b["response_breach"].to_numpy(bool), b["resolution_breach"].to_numpy(bool)
    b = b.assign(
        breach_kind=np.where(r & s, "both", np.where(r, "response", "resolution")),
        minutes_over=np.fmax(b["response_over"].to_numpy(float), b["resolution_over"].to_numpy(float)).round(1),
    )
    b = b.sort_values(["minutes_over", "request_id"], ascending=[False, True], kind="stable")
    return b[BREACH_COLUMNS].reset_index(drop=True)


def staff_service(detail: pd.DataFrame, staff: pd.DataFrame, percentile: float) -> pd.DataFrame:
    """:data:`STAFF_COLUMNS` per ``assigned_staff_id`` (requests with none are left out): medians and the
    ``percentile`` quantile of the response and resolution minutes of the requests responded / resolved;
    met = done within the target, breached = late or not done past the target."""
    d = detail[detail["assigned_staff_id"].notna().to_numpy()]
    if d.empty:
        return pd.DataFrame(columns=STAFF_COLUMNS)
    r_met = d["responded"].to_numpy(bool) & ~d["response_breach"].to_numpy(bool)
    s_met = d["resolved"].to_numpy(bool) & ~d["resolution_breach"].to_numpy(bool)
    parts = pd.DataFrame(
        {
            "requests": 1,
            "green_channel_requests": d["green_channel"].to_numpy(bool).astype(np.int64),
            "response_met": r_met.astype(np.int64),
            "response_breached": d["response_breach"].to_numpy(bool).astype(np.int64),
            "resolution_met": s_met.astype(np.int64),
            "resolution_breached": d["resolution_breach"].to_numpy(bool).astype(np.int64),
            "met": d["met"].to_numpy(bool).astype(np.int64),
            "breached": d["any_breach"].to_numpy(bool).astype(np.int64),
        },
        index=d.index,
    )
    key = d["assigned_staff_id"].rename("staff_id")
    out = parts.groupby(key, sort=True).sum()
    g = d[["response_minutes", "resolution_minutes"]].groupby(key, sort=True)
    for kind in ("response", "resolution"):
        out[f"{kind}_minutes_median"] = g[f"{kind}_minutes"].median().round(1)
        out[f"{kind}_minutes_p90"] = g[f"{kind}_minutes"].quantile(percentile).round(1)
    branch = (
        staff.drop_duplicates("staff_id").set_index("staff_id")["branch_id"] if len(staff) else pd.Series(dtype=object)
    )
    out["branch_id"] = out.index.map(branch)
    return out.reset_index()[STAFF_COLUMNS]


def account_record(detail_year: pd.DataFrame, value: pd.DataFrame, month_first: dt.date) -> pd.DataFrame:
    """:data:`ACCOUNT_COLUMNS`: per key account (``value.key_account``) with a request opened this year
    (``detail_year``), the month's and the year's requests, met and breached."""
    keys = value[value["key_account"].fillna(False).astype(bool)] if "key_account" in value.columns else value[:0]
    d = detail_year[detail_year["customer_id"].isin(keys["customer_id"]).to_numpy()]
    if d.empty:
        return pd.DataFrame(columns=ACCOUNT_COLUMNS)
    month = (pd.to_datetime(d["opened_time"]) >= pd.Timestamp(month_first)).to_numpy()
    met, bad = d["met"].to_numpy(bool), d["any_breach"].to_numpy(bool)
    parts = pd.DataFrame(
        {
            "requests_month": month.astype(np.int64),
            "met_month": (month & met).astype(np.int64),
            "breached_month": (month & bad).astype(np.int64),
            "requests_year": 1,
            "met_year": met.astype(np.int64),
            "breached_year": bad.astype(np.int64),
        },
        index=d.index,
    )
    out = parts.groupby(d["customer_id"], sort=True).sum()
    info = keys.drop_duplicates("customer_id").set_index("customer_id")
    for c in ("branch_id", "manager_id", "tier"):
        out[c] = out.index.map(info[c]) if c in info.columns else None
    return out.reset_index()[ACCOUNT_COLUMNS]


def service_tables(
    service_requests: pd.DataFrame, staff: pd.DataFrame, value: pd.DataFrame, config: dict, day: dt.date
) -> dict[str, pd.DataFrame]:
    """The four service-level tables of the month end ``day`` (module docstring) from the staged requests
    up to ``day``, the staff extract (staff_id, branch_id) and the month's customer value (customer_id, tier,
    key_account, branch_id, manager_id)."""
    from crm.bank_calendar import month_start
    from crm.satisfaction.analytics import sla

    year_first = dt.date(day.year, 1, 1)
    opened = pd.to_datetime(service_requests["opened_time"])
    requests = service_requests[(opened >= pd.Timestamp(year_first)).to_numpy()]
    as_of = pd.Timestamp(day) + pd.Timedelta(days=1)  # the end of the month end's day
    year = _with_branch(sla(requests, config, as_of, customers=value).detail, value)
    month = _opened_since(year, month_start(day))
    percentile = float(config["service_month"]["staff_percentile"])
    return {
        "service_sla_tier": tier_compliance(month),
        "service_sla_breaches": breaches(month),
        "service_sla_staff": staff_service(month, staff, percentile),
        "service_sla_accounts": account_record(year, value, month_start(day)),
    }
