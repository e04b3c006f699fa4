"""What a report run renders for one period: the data read, the readers, the incomplete-data notice and the
plan (:mod:`crm.reports.plan`), finished for every reader (:func:`crm.reports.plan.complete`). The report
assets (``assets/reports.py``) render and queue what these return; ``crm reports verify`` renders the same
plans again into a scratch folder and compares the bytes with the outbox (:mod:`crm.reports.verify`). One
function per report asset:

- :func:`portfolio` (month): key-account, proposal-list, branch and satisfaction reports;
- :func:`risk` (month): the risk officers' report;
- :func:`quarterly` (quarter-closing month): the quarterly satisfaction report;
- :func:`data_quality` (month): the auditors' report;
- :func:`digest` (week): the weekly watch digest.

**The time a report shows** (``generated_at``, printed on the cover and the PDF's creation date) is the
period's logical time, :func:`crm.bank_calendar.release_time` of its label: the first working day after the
period at the hour its schedule runs. It is never the wall clock, so rendering a period again, after a crash,
in a backfill or by an auditor years later, gives the same bytes when the data, configuration, masking key
versions and templates are the same.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from crm.bank_calendar import (
    closes_quarter,
    month_period,
    quarter_period,
    release_time,
    week_end,
    week_period,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

    from crm.reports.plan import Planned
    from crm.zones import CrmHome

Transaction = Callable[[], AbstractContextManager["sa.Connection"]]
PORTFOLIO_REPORTS = {
    "key_account": "key_account",
    "proposals": "proposals",
    "branch": "branch",
    "satisfaction": "satisfaction",
}


class NoData(FileNotFoundError):
    """The marts a report reads have no rows for the period (the month-end pipeline has not run)."""


@dataclass
class PeriodPlan:
    """One period of one report asset: its label, the incomplete-data notice and the finished plan."""

    period: str
    notice: list[dict] = field(default_factory=list)
    planned: list[Planned] = field(default_factory=list)


def generated_at(period: str) -> dt.datetime:
    """The time a report of ``period`` shows: the period's release time (naive, bank time)."""
    return release_time(period)


def _finish(
    plan: Callable[..., list[Planned]], args: Sequence[Any], everyone: pd.DataFrame, notice, *, period, reports
):
    """``plan(*args)`` with the servable readers of ``everyone`` in place of :data:`READERS`, finished for
    everyone (the notice on every cover, undeliverable readers recorded)."""
    from crm.reports.plan import complete
    from crm.reports.recipients import servable

    who = servable(everyone)
    planned = plan(*(who if a is READERS else a for a in args))
    return PeriodPlan(period, list(notice), complete(planned, everyone, notice, period=period, reports=reports))


READERS = object()  # where _finish puts the servable readers among a plan function's arguments


def _notice(conn: sa.Connection, kind: str, day: dt.date) -> list[dict]:
    from crm.reports.completeness import period_notice

    return period_notice(conn, kind, day)


def portfolio(home: CrmHome, transaction: Transaction, day: dt.date, locale: str) -> PeriodPlan:
    """The month's key-account reports per manager, branch and satisfaction reports per branch head, and the
    bank-wide satisfaction report on file. :class:`NoData` when customer value has no rows for the month."""
    from crm.reports.data import load_month
    from crm.reports.plan import portfolio_plan
    from crm.reports.recipients import readers
    from crm.zones import read_staged

    period = month_period(day)
    with transaction() as conn:
        data = load_month(conn, day, read_staged(home.staged, "staff", day))
        notice = _notice(conn, "month", day)
    if data["customer_value"].empty:
        raise NoData(f"marts/customer_value has no rows for {day}: run the month-end pipeline first")
    args = (data, READERS, home.reports, locale, generated_at(period))
    return _finish(portfolio_plan, args, readers(home, day), notice, period=period, reports=PORTFOLIO_REPORTS)


def risk(home: CrmHome, transaction: Transaction, day: dt.date, locale: str) -> PeriodPlan:
    """The month's risk report per risk officer. :class:`NoData` when customer 360 has no rows."""
    from crm.reports.plan import risk_plan
    from crm.reports.recipients import readers
    from crm.reports.risk import load_risk_month
    from crm.zones import read_staged

    period = month_period(day)
    staff, branches = read_staged(home.staged, "staff", day), read_staged(home.staged, "branches", day)
    with transaction() as conn:
        data = load_risk_month(conn, day, staff, branches)
        notice = _notice(conn, "month", day)
    if data["customer_360"].empty:
        raise NoData(f"marts/customer_360 has no rows for {day}: run the month-end pipeline first")
    args = (data, READERS, home.reports, locale, generated_at(period))
    everyone = readers(home, day, staff, branches)
    return _finish(risk_plan, args, everyone, notice, period=period, reports={"risk": "risk"})


def quarterly(home: CrmHome, transaction: Transaction, day: dt.date, locale: str) -> PeriodPlan | None:
    """The quarterly satisfaction report of the quarter the month of ``day`` closes; None for a month that
    closes no quarter."""
    from crm.reports.data import load_month
    from crm.reports.plan import quarterly_plan
    from crm.reports.recipients import readers
    from crm.zones import read_staged

    if not closes_quarter(day):
        return None
    period = quarter_period(day)
    with transaction() as conn:
        data = load_month(conn, day, read_staged(home.staged, "staff", day))
        notice = _notice(conn, "quarter", day)
    args = (data, READERS, home.reports, locale, generated_at(period))
    reports = {"satisfaction": "satisfaction_quarter"}
    return _finish(quarterly_plan, args, readers(home, day), notice, period=period, reports=reports)


def data_quality(
    home: CrmHome, transaction: Transaction, day: dt.date, locale: str, *, policy_version: str, key_versions
) -> PeriodPlan:
    """The auditors' data-quality report of the month (with the month's report leak scan, the policy version
    and the masking key versions in use), rendered once and mailed to every auditor."""
    from crm.reports.dq import dq_context, is_empty
    from crm.reports.leakscan import leak_scan_of
    from crm.reports.plan import dq_plan
    from crm.reports.recipients import readers
    from crm.warehouse.marts import read_month

    period = month_period(day)
    with transaction() as conn:
        scan = leak_scan_of(read_month(conn, "report_leak_scans", day, []))
        ctx = dq_context(
            conn,
            day,
            policy_version=policy_version,
            key_versions=list(key_versions),
            leak_scan=scan,
            generated_at=generated_at(period),
        )
    rows = 0 if is_empty(ctx) else 1
    args = (ctx, READERS, home.reports, locale, rows)
    reports = {"data_quality": "data_quality"}
    return _finish(dq_plan, args, readers(home, day), ctx["incomplete"], period=period, reports=reports)


def digest(home: CrmHome, transaction: Transaction, week_key: str | dt.date, locale: str) -> PeriodPlan:
    """The weekly watch digest per manager of the week of ``week_key`` (its Monday, or any day of it)."""
    from crm.reports.plan import digest_plan
    from crm.reports.recipients import readers
    from crm.warehouse.marts import read_latest_month, read_table
    from crm.zones import latest_staged_file, partition_date, read_staged

    day = week_end(week_key)
    period = week_period(day)
    with transaction() as conn:
        watch = read_table(conn, "watch_list_weekly", {"week_end": day})
        follow = _followups(conn, day)
        names = read_latest_month(conn, "customer_360", day)
        notice = _notice(conn, "week", day)
    columns = ["customer_id", "display_name"]
    names = names[columns] if len(names) else pd.DataFrame(columns=columns)
    staff_day = partition_date(latest_staged_file(home.staged, "staff", day))
    staff = read_staged(home.staged, "staff", staff_day)
    everyone = readers(home, staff_day, staff, branches=pd.DataFrame())  # no branch cut in a digest
    args = (watch, names, staff, READERS, day, home.reports, locale, generated_at(period))
    plan = partial(digest_plan, followups=follow)
    return _finish(plan, args, everyone, notice, period=period, reports={"watch_digest": "watch_digest"})


def _followups(conn: sa.Connection, day: dt.date) -> pd.DataFrame | None:
    """The open and overdue warning follow-ups at the week end ``day`` (None when there is no such mart)."""
    from crm.warehouse import has_table
    from crm.warehouse.marts import read_table

    if not has_table(conn, "warning_followups_weekly"):
        return None
    return read_table(conn, "warning_followups_weekly", {"week_end": day})


def log_notice(log: logging.Logger | logging.LoggerAdapter | Any, notice: list[dict]) -> None:
    """Log the incomplete-data notice of a period as one warning line (nothing when the period is clean)."""
    from crm.reports.completeness import notice_log_line

    line = notice_log_line(notice)
    if line:
        log.warning(line)


def reroot(plan: PeriodPlan, root: Path, reports_root: Path) -> PeriodPlan:
    """The plan with every rendering's files moved from under ``reports_root`` to the same relative place
    under ``root`` (``crm reports verify`` renders into a scratch folder, never over the delivered files)."""
    from dataclasses import replace

    for p in plan.planned:
        if p.job is None:
            continue
        moved = {}
        for name in ("html_path", "pdf_path"):
            path = getattr(p.job, name)
            if path is not None:
                moved[name] = root / Path(path).resolve().relative_to(reports_root.resolve())
        p.job = replace(p.job, **moved)
    return plan
