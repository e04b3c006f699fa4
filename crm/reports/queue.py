"""Render a plan and queue its messages: the planned jobs (:mod:`crm.reports.plan`) rendered in the pool
(:func:`crm.reports.pool.render_many`), the mailed ones queued in the outbox (:func:`crm.delivery.enqueue`),
and the figures a run reports (counts, pages, the recipients who cannot be mailed as a Markdown list of ids and
reasons). A failed rendering fails the call, after what did render is queued.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa

    from crm.reports.plan import Planned


def issued_at(period: str) -> dt.datetime:
    """The logical time of a period's reports (:func:`crm.reports.periods.generated_at`, the time their covers
    show) as naive UTC, as the outbox stores times: the outbox's ``rendered_at``, and so the e-mail's Date."""
    from crm.bank_calendar import BANK_TZ
    from crm.reports.periods import generated_at

    return generated_at(period).replace(tzinfo=BANK_TZ).astimezone(dt.UTC).replace(tzinfo=None)


def render_and_queue(
    planned: Sequence[Planned],
    transaction: Callable[[], AbstractContextManager[sa.Connection]],
    *,
    workers: int | None,
    resend: bool,
    log: logging.Logger | logging.LoggerAdapter | Any,
    period: str,
) -> dict[str, Any]:
    """Render the planned jobs in the pool (``workers`` processes, None for the default), queue the mailed
    entries in one warehouse transaction (``transaction()``; ``resend``: queue messages already sent once
    more), log the empty reports and the recipients who cannot be mailed, and raise ``RuntimeError`` when a
    rendering failed. Returns the run's figures: rendered, incomplete_data (entries of the notice), empty,
    pages, render_seconds, queued, kept_sent, resend, undeliverable, undeliverable_rows (Markdown, ids and
    reasons) and reports. Every item is dated by the ``period``'s logical time (:func:`issued_at`), never the
    wall clock."""
    from crm.delivery import enqueue
    from crm.delivery.send import bullets
    from crm.reports.plan import outbox_items
    from crm.reports.pool import render_many, summary

    jobs = [p.job for p in planned if p.job is not None]
    results = render_many(jobs, workers=workers, desc="rendering")
    items = outbox_items(planned, results, issued_at(period))
    with transaction() as conn:  # the engine creates report_outbox when missing
        counts = enqueue(conn, items, resend=resend)
    for p in planned:
        if not p.rows:
            log.info(f"{p.report} {p.period} for {p.recipient_id}: empty, not rendered or sent")
    unserved = [f"{i.report} {i.period} {i.recipient_id}: {i.undeliverable}" for i in items if i.undeliverable]
    if unserved:
        log.warning(
            f"{len(unserved)} recipients cannot be mailed (recorded undeliverable in the outbox): "
            + "; ".join(unserved[:20])
        )
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(
            f"{len(failed)} of {len(results)} reports failed to render: "
            + "; ".join(f"{r.job_id}: {r.error}" for r in failed[:5])
        )
    s = summary(results)
    notice = next((p.job.context.get("incomplete") or [] for p in planned if p.job is not None), [])
    return {
        "rendered": len(results),
        "incomplete_data": len(notice),
        "empty": sum(1 for p in planned if not p.rows),
        "pages": int(s.get("pages", 0)),
        "render_seconds": round(float(s.get("seconds", 0.0)), 1),
        "queued": len(items),
        "kept_sent": counts.kept_sent,
        "resend": counts.resend,
        "undeliverable": len(unserved),
        "undeliverable_rows": bullets(unserved),
        "reports": ", ".join(sorted({p.report for p in planned})),
    }
