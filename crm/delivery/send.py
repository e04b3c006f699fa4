"""Sending the queued messages of some periods: :func:`deliver` for each period through a fresh transport,
messages built from the rendered files behind the send gate (:func:`~crm.delivery.deliver.message_from_files`,
:class:`~crm.delivery.gate.SendGate`), the PDF attached as ``<report>_<period>_<recipient>.pdf``; the totals
over the periods, and the held and undeliverable rows as Markdown lists (ids and reasons only, never an
address) for the run's metadata.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crm.delivery.outbox import OutboxRow
from crm.delivery.transport import Transport

# what :func:`send_periods` counts, summed over its periods (fields of DeliverySummary)
TOTALS = ("sent", "failed", "deferred", "held", "undeliverable", "already_sent", "skipped_empty")


def attachment_name(row: OutboxRow) -> str:
    """The PDF attachment's file name: ``<report>_<period>_<recipient_id>.pdf``."""
    return f"{row.report}_{row.period}_{row.recipient_id}.pdf"


def bullets(lines: Sequence[str], limit: int = 100) -> str:
    """A Markdown list of ``lines`` (ids and reasons only) for run metadata: the first ``limit`` and how many
    more, or ``none``."""
    if not lines:
        return "none"
    more = f"\n- ... and {len(lines) - limit} more" if len(lines) > limit else ""
    return "\n".join(f"- {line}" for line in lines[:limit]) + more


def send_periods(
    engine: sa.Engine,
    schema: str | None,
    new_transport: Callable[[], Transport],
    periods: Sequence[str],
    *,
    sender: str,
    address_of: Callable[[str], str | None],
    reports_root: Path,
    log: logging.Logger | logging.LoggerAdapter | Any,
) -> dict[str, Any]:
    """Send what is to send of each of ``periods`` (:func:`~crm.delivery.deliver.deliver`, one transport from
    ``new_transport()`` per period; ``deliver`` commits each message's state on its own, so it takes the
    engine). ``address_of(recipient_id)``: the address, from the restricted raw zone, never stored. Logs each
    failure as an error and the held and undeliverable rows as warnings (ids and reasons) on ``log``.

    Returns the :data:`TOTALS` over the periods, ``held_rows`` and ``undeliverable_rows`` (Markdown lists,
    :func:`bullets`)."""
    from crm.delivery.deliver import deliver, message_from_files
    from crm.delivery.gate import SendGate

    gate = SendGate(engine, schema, reports_root)
    totals: dict[str, Any] = dict.fromkeys(TOTALS, 0)
    not_sent: dict[str, list[str]] = {"held": [], "undeliverable": []}
    for period in periods:
        s = deliver(
            engine,
            schema,
            new_transport(),
            message_from_files(sender, address_of, gate=gate, pdf_filename=attachment_name),
            period=period,
            log=log,
        )
        for k in totals:
            totals[k] += getattr(s, k)
        for f in s.failures:
            log.error(f"not delivered: {f}")
        not_sent["held"] += [str(h) for h in s.holds]
        not_sent["undeliverable"] += [str(u) for u in s.undeliverables]
    if not_sent["held"]:
        log.warning(
            f"{len(not_sent['held'])} messages held by the send gate (not sent; retried by the "
            "next delivery once a passing leak scan covers them): " + "; ".join(not_sent["held"][:20])
        )
    if not_sent["undeliverable"]:
        log.warning(
            f"{len(not_sent['undeliverable'])} recipients undeliverable at send time: "
            + "; ".join(not_sent["undeliverable"][:20])
        )
    totals["held_rows"] = bullets(not_sent["held"])
    totals["undeliverable_rows"] = bullets(not_sent["undeliverable"])
    return totals
