"""Which report files to render for a period, for whom, and what goes into the outbox afterwards.

:func:`portfolio_plan` (monthly: key account and proposal list per manager, branch and satisfaction per branch head, the
bank-wide satisfaction report), :func:`risk_plan` (monthly: the risk report per risk officer),
:func:`quarterly_plan` (satisfaction per branch head and bank-wide for a quarter), :func:`digest_plan` (the
weekly watch digest per manager) and :func:`dq_plan` (the data-quality report, one rendering shared by every
auditor) return :class:`Planned` entries: a render job (``None`` for an
empty report, which is recorded in the outbox as skipped and never rendered or sent) and the outbox fields.
:func:`outbox_items` turns the pool's results into outbox items. Files go to
``<reports>/<period>/<report>/<recipient>.html|.pdf``, built by :func:`crm.zones.safe_path`: a recipient id
that is not a plain file name (absolute, ``..``, a separator, a control character) or a file that a symlink
leads out of the reports folder raises :class:`crm.zones.UnsafePathError` naming the staff file and row the
id came from (the recipients frame's ``_source_file`` / ``_row_number``), never the id.

:func:`complete` finishes a plan: every rendering carries the period's incomplete-data list (the notice on
its cover), a recipient whose staff row was quarantined is marked undeliverable with the reason (their report
is still rendered), and a recipient whose staff id cannot name a file gets an undeliverable entry with no
rendering. So nobody the staff directory names as a reader is left out of the outbox.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crm.bank_calendar import month_period, quarter_period, week_period
from crm.reports.job import JobResult, RenderJob
from crm.zones import row_origin, safe_path

BANK = "bank"  # the recipient folder of a bank-wide rendering


@dataclass(frozen=True)
class ReportKind:
    """One kind of report a reader receives: its outbox name (the folder under ``reports/<period>/``), the
    template it renders (:data:`crm.reports.render.REPORTS`), its period and its readers (staff role codes)."""

    name: str
    template: str
    cadence: str  # "month", "quarter" or "week"
    readers: tuple[str, ...]


# Every report kind delivered to readers. The reader tests (tests/test_report_readers.py: every word in the
# reader's language, every figure reconciled with the warehouse) iterate over it, so a kind added here is held
# to them; docs/reports.md describes each.
REPORT_KINDS: dict[str, ReportKind] = {
    k.name: k
    for k in (
        ReportKind("key_account", "key_account", "month", ("RM",)),
        ReportKind("proposals", "proposals", "month", ("RM",)),
        ReportKind("branch", "branch", "month", ("BH",)),
        ReportKind("satisfaction", "satisfaction", "month", ("BH",)),
        ReportKind("satisfaction_quarter", "satisfaction", "quarter", ("BH",)),
        ReportKind("watch_digest", "watch_digest", "week", ("RM",)),
        ReportKind("data_quality", "dq_report", "month", ("AU",)),
        ReportKind("risk", "risk", "month", ("RO",)),
    )
}


@dataclass
class Planned:
    report: str  # outbox report name (key_account, branch, satisfaction, satisfaction_quarter, ...)
    period: str
    recipient_id: str  # staff id, or BANK for a rendering kept on file and not mailed
    role: str
    rows: int
    subject: str
    job: RenderJob | None  # None: empty, nothing rendered
    mail: bool = True
    undeliverable: str | None = None  # why the recipient cannot be mailed (recorded, never sent)

    @property
    def job_id(self) -> str:
        return f"{self.report}:{self.period}:{self.recipient_id}"


def _paths(root: Path, period: str, report: str, recipient: str, origin: str | None = None) -> tuple[Path, Path]:
    """The HTML and PDF file of one rendering, inside ``root`` (:func:`crm.zones.safe_path`; ``origin``:
    where ``recipient`` came from, for the error)."""
    origin = origin or ("the bank-wide rendering" if recipient == BANK else "the recipient list")
    return (
        safe_path(root, period, report, recipient, origin=origin, suffix=".html"),
        safe_path(root, period, report, recipient, origin=origin, suffix=".pdf"),
    )


def _origins(recipients: pd.DataFrame) -> list[str]:
    """Per row of a recipients frame, where its recipient id came from: the staff file and row
    (``_source_file``, ``_row_number`` of :func:`crm.reports.recipients.recipients`) when the frame has them."""
    n = len(recipients)
    files = recipients["_source_file"] if "_source_file" in recipients.columns else [None] * n
    rows = recipients["_row_number"] if "_row_number" in recipients.columns else [None] * n
    return [row_origin("staff", f, r) for f, r in zip(files, rows, strict=True)]


def _labels(locale: str) -> tuple[Callable[..., str], Any]:
    """The label function and the formatter of ``locale`` (subjects and period labels)."""
    from crm.reports.fmt import Formatter
    from crm.reports.i18n import translator

    return translator(locale), Formatter(locale)


def _subject(t: Callable[..., str], report: str, label: str, who: str) -> str:
    """The e-mail subject: a catalogue sentence around the period and the recipient's (masked) name, without
    control or format characters (a line break in a name must not reach a mail header)."""
    from crm.text import clean

    return clean(t(f"mail.subject.{report}", period=label, who=who))


def _planned(
    report: str,
    period: str,
    recipient: str,
    role: str,
    context: dict[str, Any],
    rows: int,
    subject: str,
    root: Path,
    locale: str,
    template: str | None = None,
    mail: bool = True,
    origin: str | None = None,
) -> Planned:
    html, pdf = _paths(root, period, report, recipient, origin)
    job = RenderJob(f"{report}:{period}:{recipient}", template or report, context, locale, html, pdf) if rows else None
    return Planned(report, period, recipient, role, rows, subject, job, mail)


def portfolio_plan(
    data: Any, recipients: pd.DataFrame, root: Path, locale: str, generated_at: dt.datetime
) -> list[Planned]:
    """The month's key-account and proposal-list reports per manager, branch and satisfaction reports (see
    :mod:`crm.reports.recipients`). A manager with no proposal offered this month gets no proposal list (an
    empty report, recorded and never sent)."""
    from crm.reports.data import branch_context, key_account_context, satisfaction_context
    from crm.reports.proposals import proposals_context

    t, fmt = _labels(locale)
    period, label = month_period(data.month_end), fmt.month(data.month_end)
    out: list[Planned] = []
    for r, origin in zip(recipients.itertuples(index=False), _origins(recipients), strict=True):
        if r.report == "key_account":
            ctx = key_account_context(data, r.recipient_id)
            rows = len(ctx["accounts"]) + ctx["customers"]
        elif r.report == "proposals":
            ctx = proposals_context(data, r.recipient_id)
            rows = ctx["rows"]
        elif r.report == "branch":
            ctx = branch_context(data, r.branch_id)
            rows = ctx["rows"]
        elif r.report == "satisfaction":
            ctx = satisfaction_context(data, branch_id=None if r.scope == BANK else r.branch_id)
            rows = ctx["rows"]
        else:
            continue
        ctx["generated_at"] = generated_at
        who = ctx.get("manager_name") or ctx.get("branch_name") or r.recipient_id
        out.append(
            _planned(
                r.report,
                period,
                r.recipient_id,
                r.role,
                ctx,
                rows,
                _subject(t, r.report, label, str(who)),
                root,
                locale,
                origin=origin,
            )
        )
    bank = satisfaction_context(data) | {"generated_at": generated_at}
    out.append(
        _planned(
            "satisfaction",
            period,
            BANK,
            "file",
            bank,
            bank["rows"],
            _subject(t, "satisfaction", label, t("sat.recipient_bank")),
            root,
            locale,
            mail=False,
        )
    )
    return out


def risk_plan(data: Any, recipients: pd.DataFrame, root: Path, locale: str, generated_at: dt.datetime) -> list[Planned]:
    """The month's risk report of every risk officer (:mod:`crm.reports.risk`): their branch and its
    sub-branches, the bank for a head-office officer. ``data``: :func:`crm.reports.risk.load_risk_month`."""
    from crm.reports.risk import risk_context

    t, fmt = _labels(locale)
    period, label = month_period(data.month_end), fmt.month(data.month_end)
    out: list[Planned] = []
    mine = recipients[recipients["report"] == "risk"]
    for r, origin in zip(mine.itertuples(index=False), _origins(mine), strict=True):
        ctx = risk_context(data, None if r.scope == BANK else r.branch_id) | {"generated_at": generated_at}
        who = t("risk.who_bank") if r.scope == BANK else (ctx["branch_name"] or r.branch_id)
        out.append(
            _planned(
                "risk",
                period,
                r.recipient_id,
                r.role,
                ctx,
                ctx["rows"],
                _subject(t, "risk", label, str(who)),
                root,
                locale,
                origin=origin,
            )
        )
    return out


def quarterly_plan(
    data: Any, recipients: pd.DataFrame, root: Path, locale: str, generated_at: dt.datetime
) -> list[Planned]:
    """The quarterly satisfaction report per branch head (bank-wide for a head-office head) and on file."""
    from crm.reports.data import satisfaction_context

    t, fmt = _labels(locale)
    period, label = quarter_period(data.month_end), fmt.quarter(data.month_end)
    out: list[Planned] = []
    targets = [
        (r.recipient_id, r.role, None if r.scope == BANK else r.branch_id, origin)
        for r, origin in zip(recipients.itertuples(index=False), _origins(recipients), strict=True)
        if r.report == "satisfaction"
    ]
    for recipient, role, branch, origin in [*targets, (BANK, "file", None, None)]:
        ctx = satisfaction_context(data, branch_id=branch, months=3) | {"generated_at": generated_at}
        who = ctx.get("branch_name") or t("sat.recipient_bank")
        out.append(
            _planned(
                "satisfaction_quarter",
                period,
                recipient,
                role,
                ctx,
                ctx["rows"],
                _subject(t, "satisfaction_quarter", label, str(who)),
                root,
                locale,
                template="satisfaction",
                mail=recipient != BANK,
                origin=origin,
            )
        )
    return out


def digest_plan(
    watch: pd.DataFrame,
    names: pd.DataFrame,
    staff: pd.DataFrame,
    recipients: pd.DataFrame,
    week_end: dt.date,
    root: Path,
    locale: str,
    generated_at: dt.datetime,
    followups: pd.DataFrame | None = None,
) -> list[Planned]:
    """The weekly early-warning digest of every relationship manager (their own watch list and the warning
    follow-ups they own, ``followups``: warning_followups_weekly rows)."""
    from crm.reports.data import watch_digest_context

    t, fmt = _labels(locale)
    period = week_period(week_end)
    staff_names = staff.drop_duplicates("staff_id").set_index("staff_id")["staff_name"]
    out = []
    digest = recipients[recipients["report"] == "watch_digest"]
    for r, origin in zip(digest.itertuples(index=False), _origins(digest), strict=True):
        ctx = watch_digest_context(
            watch, r.recipient_id, week_end, names, staff_names.get(r.recipient_id), followups=followups
        )
        ctx["generated_at"] = generated_at
        out.append(
            _planned(
                "watch_digest",
                period,
                r.recipient_id,
                r.role,
                ctx,
                ctx["rows"],
                _subject(t, "watch_digest", fmt.date(week_end), str(ctx["manager_name"] or "")),
                root,
                locale,
                origin=origin,
            )
        )
    return out


def dq_plan(context: dict[str, Any], recipients: pd.DataFrame, root: Path, locale: str, rows: int) -> list[Planned]:
    """The data-quality report rendered once (recipient folder ``bank``) and mailed to every auditor."""
    t, fmt = _labels(locale)
    period = month_period(context["month_end"])
    subject = _subject(t, "data_quality", fmt.month(context["month_end"]), t("dq.recipient"))
    once = _planned(
        "data_quality", period, BANK, "file", context, rows, subject, root, locale, template="dq_report", mail=False
    )
    out = [once]
    for r in recipients[recipients["report"] == "data_quality"].itertuples(index=False):
        out.append(Planned("data_quality", period, r.recipient_id, r.role, rows, subject, None))
    return out


def outbox_items(planned: Sequence[Planned], results: Sequence[JobResult], rendered_at: dt.datetime):
    """Outbox items for every mailed entry: the rendered files of its job (or of the shared rendering of the
    same report and period, for auditors), ``rows`` 0 for an empty report. Entries whose rendering failed are
    left out (the caller reports them)."""
    from crm.delivery import OutboxItem

    by_id = {r.job_id: r for r in results}
    shared = {(p.report, p.period): by_id.get(p.job_id) for p in planned if p.recipient_id == BANK and p.job}
    items = []
    for p in planned:
        if not p.mail:
            continue
        result = by_id.get(p.job_id) if p.job else shared.get((p.report, p.period))
        if p.rows and (result is None or not result.ok):
            continue
        items.append(
            OutboxItem(
                report=p.report,
                period=p.period,
                recipient_id=p.recipient_id,
                rows=p.rows if result else 0,
                subject=p.subject,
                html_path=str(result.html_path) if result else None,
                pdf_path=str(result.pdf_path) if result else None,
                recipient_role=p.role,
                rendered_at=rendered_at,
                undeliverable=p.undeliverable,
            )
        )
    return items


def complete(
    planned: list[Planned],
    recipients: pd.DataFrame,
    incomplete: Sequence[dict[str, Any]],
    *,
    period: str,
    reports: dict[str, str],
) -> list[Planned]:
    """``planned`` (a plan made for the servable recipients) finished for everyone in ``recipients``
    (:func:`crm.reports.recipients.with_quarantined`; ``reports`` maps its ``report`` column to this plan's
    outbox report names, e.g. ``{"satisfaction": "satisfaction_quarter"}``):

    - each rendering's context gets ``incomplete`` (the period's incomplete-data notice, empty when clean);
    - a planned entry whose recipient has an ``undeliverable`` reason carries it (rendered, not mailed);
    - a recipient whose id is not ``usable`` gets an entry of its own: no rendering, 0 rows, the reason.
    """
    notice = list(incomplete)
    for p in planned:
        if p.job is not None:
            if not isinstance(p.job.context, dict):
                raise TypeError("complete() needs the plan's contexts as dicts")
            p.job.context["incomplete"] = notice
    if "undeliverable" not in recipients.columns:
        return planned
    mine = recipients[recipients["report"].isin(list(reports))]
    reasons = mine[mine["undeliverable"].notna()]
    why = {
        (reports[r], i): u
        for r, i, u in zip(reasons["report"], reasons["recipient_id"], reasons["undeliverable"], strict=True)
    }
    for p in planned:
        p.undeliverable = why.get((p.report, p.recipient_id), p.undeliverable)
    usable = mine["usable"].astype(bool) if "usable" in mine.columns else pd.Series(True, index=mine.index)
    unusable = mine[~usable]
    out = list(planned)
    for r in unusable.itertuples(index=False):
        out.append(
            Planned(reports[r.report], period, r.recipient_id, r.role, 0, "", None, undeliverable=r.undeliverable)
        )
    return out
