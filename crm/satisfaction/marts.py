"""The satisfaction marts of a month end: which surveys count (sent in the month; at a quarter's close also
those sent in the quarter), the branch and tier each survey is reported under, and the layout of the tables
(:data:`TABLES`, CSAT/NPS overall and by :data:`DIMENSIONS`, drivers, complaint themes, detractors' comments;
service-request SLAs and their link to the scores). The analytics themselves are :mod:`crm.satisfaction.analytics`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from crm.bank_calendar import closes_quarter, month_start, quarter_start

# the survey tables of a month (and, with the suffix _quarter, of a quarter), in the order of satisfaction_tables
TABLES = ("satisfaction_by_dimension", "satisfaction_drivers", "complaint_themes", "satisfaction_verbatims")
# the dimensions of satisfaction_by_dimension besides "all" (its ``value`` column holds the group as text)
DIMENSIONS = ("branch_id", "staff_id", "channel", "product_family", "tier")


def sent_since(surveys: pd.DataFrame, first: dt.date) -> pd.DataFrame:
    """The surveys sent on or after ``first`` (``sent_date``)."""
    return surveys[pd.to_datetime(surveys["sent_date"]).dt.date >= first]


def month_surveys(surveys: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """The surveys of the month of ``day``: sent on or after its first day (the staged surveys up to the month
    end are the input)."""
    return sent_since(surveys, month_start(day))


def with_branch_and_tier(surveys: pd.DataFrame, staff: pd.DataFrame, value: pd.DataFrame) -> pd.DataFrame:
    """``surveys`` with the ``branch_id`` of the staff member each survey is about (``staff``: staff_id,
    branch_id) and the customer's ``tier`` (``value``: customer_id, tier, the month's customer value); left
    joins, one row per survey, in order."""
    staff = staff[["staff_id", "branch_id"]].drop_duplicates("staff_id")
    return surveys.merge(staff, on="staff_id", how="left").merge(
        value[["customer_id", "tier"]].drop_duplicates("customer_id"), on="customer_id", how="left"
    )


def satisfaction_tables(surveys: pd.DataFrame, config: dict) -> tuple[pd.DataFrame, ...]:
    """The survey tables of :data:`TABLES` over ``surveys``: CSAT/NPS overall (dimension and value ``all``)
    and by each of :data:`DIMENSIONS` in one frame, key drivers, complaint theme counts, detractors' comments."""
    from crm.satisfaction.analytics import complaint_themes, detractor_verbatims, key_drivers, satisfaction_by

    parts = [satisfaction_by(surveys, [], config).assign(dimension="all", value="all")]
    for dim in DIMENSIONS:
        t = satisfaction_by(surveys, [dim], config).rename(columns={dim: "value"})
        parts.append(t.assign(dimension=dim, value=t["value"].astype(str)))
    found = complaint_themes(surveys, config)
    return (
        pd.concat(parts, ignore_index=True),
        key_drivers(surveys, config),
        found.counts.reset_index(),
        detractor_verbatims(surveys, found.flags, config),
    )


@dataclass
class SatisfactionMonth:
    """The tables of a month end by warehouse table name, in writing order, and the figures a run reports."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


def satisfaction_month(
    surveys: pd.DataFrame,
    service_requests: pd.DataFrame,
    staff: pd.DataFrame,
    value: pd.DataFrame,
    config: dict,
    day: dt.date,
) -> SatisfactionMonth:
    """The satisfaction marts of the month end ``day`` from the staged ``surveys`` and ``service_requests`` up
    to ``day``, the staff extract of ``day`` and the month's customer value (:func:`with_branch_and_tier`):
    the :data:`TABLES` over the month's surveys, ``service_sla`` (by priority) and ``sla_vs_satisfaction``, the
    service-level tables by tier of :func:`crm.satisfaction.service.service_tables` (``value`` with key_account,
    branch_id and manager_id when it has them); when
    ``day`` closes a quarter, the :data:`TABLES` over the quarter's surveys as ``<table>_quarter``. Figures:
    quarter_responses (at a quarter's close), surveys_sent, responses, csat_mean, nps (overall), top_driver,
    service_requests."""
    from crm.satisfaction.analytics import sla, sla_vs_satisfaction
    from crm.satisfaction.service import service_tables

    sent = pd.to_datetime(surveys["sent_date"]).dt.date
    surveys = with_branch_and_tier(surveys, staff, value)
    quarter = surveys[(sent >= quarter_start(day)).to_numpy()]
    surveys = surveys[(sent >= month_start(day)).to_numpy()]
    month = satisfaction_tables(surveys, config)
    by_dim, drivers = month[0], month[1]
    service = sla(service_requests, config, day)
    out = SatisfactionMonth(tables=dict(zip(TABLES, month, strict=True)))
    out.tables["service_sla"] = service.by_priority.reset_index()
    out.tables["sla_vs_satisfaction"] = sla_vs_satisfaction(surveys, service, config).reset_index()
    out.tables.update(service_tables(service_requests, staff, value, config, day))
    if closes_quarter(day):  # the quarter closes: the same tables over its three months
        for name, frame in zip(TABLES, satisfaction_tables(quarter, config), strict=True):
            out.tables[f"{name}_quarter"] = frame
        out.figures["quarter_responses"] = int(quarter["response_date"].notna().sum())
    o = by_dim[by_dim["dimension"] == "all"].iloc[0]
    out.figures.update(
        {
            "surveys_sent": int(o["sent"]),
            "responses": int(o["responses"]),
            "csat_mean": round(float(o["csat_mean"]), 3),
            "nps": round(float(o["nps"]), 1),
            "top_driver": str(drivers["attribute"].iloc[0]) if len(drivers) else "none",
            "service_requests": int(len(service.detail)),
            "service_breaches_month": int(len(out.tables["service_sla_breaches"])),
        }
    )
    return out
