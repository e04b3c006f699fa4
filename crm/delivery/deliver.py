"""Sending what the outbox holds: :func:`deliver`.

For each row to send (``pending``, ``held`` or ``sending``; ``failed`` too with ``retry_failed=True``), in
key order: build the message (the injected ``build(row)``, which resolves the address at send time and, in
:func:`message_from_files`, checks the send gate on the very bytes it puts into the message), claim the row
as ``sending`` in its own committed transaction, hand the message to the transport, then record ``sent``,
``failed`` (permanent) or ``pending`` again (transient) in another transaction. A builder that raises
:class:`~crm.delivery.gate.Held` leaves the row ``held``, one that raises :class:`Undeliverable` makes it
``undeliverable``; nothing is handed to the transport then. See :mod:`crm.delivery.outbox` for what is
guaranteed, including the at-least-once window a crash between the server's acceptance and the ``sent``
commit leaves.

Logs name the report, period, recipient id, status, SMTP code and the gate's reason: never an address or a
name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import sqlalchemy as sa

from crm.delivery import outbox
from crm.delivery.gate import Held, SendGate, subject_bytes, subject_label
from crm.delivery.message import build_message, valid_address
from crm.delivery.outbox import FAILED, HELD, SENDING, SENT, SKIPPED_EMPTY, TO_SEND, UNDELIVERABLE, OutboxRow
from crm.delivery.transport import Transport, TransportConfigError, scrub
from crm.warehouse import begin

_log = logging.getLogger(__name__)

Builder = Callable[[OutboxRow], EmailMessage]
NO_ADDRESS, INVALID_ADDRESS = "no_address", "invalid_address"


class Undeliverable(Exception):
    """Raised by a message builder: the recipient cannot be served (``reason``: ``no_address``,
    ``invalid_address``; never the address)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Failure:
    report: str
    period: str
    recipient_id: str
    code: int | None
    error: str | None


@dataclass(frozen=True)
class NotSent:
    """A row this run did not send: ``held`` by the gate or ``undeliverable``, with the reason."""

    report: str
    period: str
    recipient_id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.report} {self.period} {self.recipient_id}: {self.reason}"


@dataclass
class DeliverySummary:
    """One :func:`deliver` run. ``sent``/``failed``/``deferred``: rows that ended this run sent, failed
    permanently, or back in ``pending`` after transient failures. ``held``/``undeliverable``: rows this run
    left ``held`` by the send gate or found undeliverable (``holds``/``undeliverables`` list them with the
    reason). ``skipped_empty``/``already_sent``/``undeliverable_before``: rows in scope with that status
    before the run (untouched). ``attempts``: transport attempts made. ``stopped_early``: the run stopped
    after ``max_consecutive_deferrals`` deferrals in a row (the server looks down); the rest stay
    ``pending``. ``failures``: the permanent failures, for the report to operators."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0
    held: int = 0
    undeliverable: int = 0
    skipped_empty: int = 0
    already_sent: int = 0
    undeliverable_before: int = 0
    attempts: int = 0
    stopped_early: bool = False
    failures: list[Failure] = field(default_factory=list)
    holds: list[NotSent] = field(default_factory=list)
    undeliverables: list[NotSent] = field(default_factory=list)


def recipient_address(address_of: Callable[[str], str | None], recipient_id: str) -> str:
    """``address_of(recipient_id)`` if it is one plain address; else :class:`Undeliverable` ``no_address``
    (it returns None, NaN or blank, or raises ``KeyError``) or ``invalid_address`` (two addresses in the field,
    a display name, whitespace ...)."""
    try:
        to = address_of(recipient_id)
    except KeyError:
        to = None
    if to is None or to != to or (isinstance(to, str) and not to.strip()):  # none, NaN, blank
        raise Undeliverable(NO_ADDRESS)
    if not valid_address(to):
        raise Undeliverable(INVALID_ADDRESS)
    return to


def message_from_files(
    sender: str,
    address_of: Callable[[str], str | None],
    *,
    gate: SendGate,
    pdf_filename: Callable[[OutboxRow], str] | None = None,
) -> Builder:
    """A ``build(row)`` for :func:`deliver` that reads the row's rendered HTML (UTF-8) and PDF and asks
    ``address_of(recipient_id)`` for the address (from the restricted raw zone; never stored). The Date is
    the row's ``rendered_at``, the Message-ID the one already recorded for this generation, if any, so the
    bytes of a rebuilt message do not change. ``pdf_filename(row)`` defaults to the PDF file's name.

    The recipient first: no address (``address_of`` returns None, NaN or blank, or raises ``KeyError``) raises
    :class:`Undeliverable` ``no_address``; anything but one plain address (two addresses in the field, a
    display name, whitespace) ``invalid_address``. Then the send gate: the bytes read from the HTML and PDF
    files and the subject's bytes are hashed and ``gate.require`` raises :class:`~crm.delivery.gate.Held`
    unless a passing leak scan covers each of them; the message is then built from exactly those bytes.
    The rest of the message is constant text, the outbox key and the recipient's own address."""

    def build(row: OutboxRow) -> EmailMessage:
        if not row.html_path:
            raise ValueError("row has no rendered HTML")
        to = recipient_address(address_of, row.recipient_id)
        if gate.root is not None:  # the stored paths must still lead into the reports zone
            from crm.zones import within

            for stored in (row.html_path, row.pdf_path):
                if stored:
                    within(gate.root, stored, origin=f"the outbox row {row.report} {row.period} {row.recipient_id}")
        html_bytes = Path(row.html_path).read_bytes()
        pdf = Path(row.pdf_path).read_bytes() if row.pdf_path else None
        subject = row.subject or ""
        parts = {
            gate.label(row.html_path): html_bytes,
            subject_label(row.report, row.period, row.recipient_id): subject_bytes(subject),
        }
        if pdf is not None:
            parts[gate.label(str(row.pdf_path))] = pdf
        gate.require(parts)
        name = pdf_filename(row) if pdf_filename else Path(row.pdf_path or "report.pdf").name
        return build_message(
            sender=sender,
            to=to,
            subject=subject,
            html=html_bytes.decode("utf-8"),
            pdf=pdf,
            pdf_filename=name,
            report=row.report,
            period=row.period,
            recipient_id=row.recipient_id,
            generation=row.generation,
            date=row.rendered_at or row.created_at,
            msg_id=row.message_id,
        )

    return build


def deliver(
    engine: sa.Engine,
    schema: str | None,
    transport: Transport,
    build: Builder,
    *,
    report: str | None = None,
    period: str | None = None,
    retry_failed: bool = False,
    max_consecutive_deferrals: int = 3,
    log: logging.Logger | logging.LoggerAdapter | None = None,
) -> DeliverySummary:
    """Send every row to send in scope (optionally one report and/or period) through ``transport``.

    Never sends a ``sent``, ``skipped_empty`` or ``undeliverable`` row. A row found in ``sending`` (a
    crashed run) is sent again with its recorded Message-ID, and logged as a possible duplicate. A row whose
    builder raises :class:`~crm.delivery.gate.Held` is marked ``held`` with the reason (and tried again by
    the next run), :class:`Undeliverable` ``undeliverable`` with the reason; a message that cannot be built
    otherwise (a missing file) is marked ``failed``. A :class:`TransportConfigError` (the server refuses
    every message: authentication, STARTTLS) puts the claimed row back to ``pending`` and propagates; any
    other exception from the transport leaves the row ``sending`` (it may have been handed over) and
    propagates. The transport's connection is closed at the end (it reconnects if used again).
    """
    log = log or _log
    summary = DeliverySummary()
    statuses = (*TO_SEND, FAILED) if retry_failed else TO_SEND
    with begin(engine, schema) as conn:
        rows = outbox.pending(conn, report, period, statuses=statuses)
        counts = outbox.status_counts(conn, report, period)
    summary.skipped_empty = counts.get(SKIPPED_EMPTY, 0)
    summary.already_sent = counts.get(SENT, 0)
    summary.undeliverable_before = counts.get(UNDELIVERABLE, 0)
    consecutive_deferrals = 0
    try:
        for i, row in enumerate(rows):
            if consecutive_deferrals >= max_consecutive_deferrals:
                summary.stopped_early = True
                log.warning(
                    "delivery: %d deferrals in a row, stopping; %d rows stay pending",
                    consecutive_deferrals,
                    len(rows) - i,
                )
                break
            outcome = _deliver_one(engine, schema, transport, build, row, summary, log)
            consecutive_deferrals = consecutive_deferrals + 1 if outcome == "deferred" else 0
    finally:
        transport.close()
    log.info(
        "delivery: report %s period %s: sent %d, failed %d, deferred %d, held %d, undeliverable %d, "
        "skipped_empty %d, already_sent %d, attempts %d",
        report or "*",
        period or "*",
        summary.sent,
        summary.failed,
        summary.deferred,
        summary.held,
        summary.undeliverable,
        summary.skipped_empty,
        summary.already_sent,
        summary.attempts,
    )
    return summary


def _deliver_one(
    engine: sa.Engine,
    schema: str | None,
    transport: Transport,
    build: Builder,
    row: OutboxRow,
    summary: DeliverySummary,
    log: logging.Logger | logging.LoggerAdapter,
) -> str:
    key = (row.report, row.period, row.recipient_id)
    try:
        msg = build(row)
    except (Held, Undeliverable) as e:  # nothing is handed over: the row says why
        held = isinstance(e, Held)
        reason = scrub(e.reason)
        with begin(engine, schema) as conn:
            done = (outbox.mark_held if held else outbox.mark_undeliverable)(conn, row, reason)
        if not done:
            log.warning("delivery: report %s period %s recipient %s changed since read (another run?): skipped", *key)
            return "skipped"
        status = HELD if held else UNDELIVERABLE
        (summary.holds if held else summary.undeliverables).append(NotSent(*key, reason))
        if held:
            summary.held += 1
        else:
            summary.undeliverable += 1
        log.warning("delivery: report %s period %s recipient %s status %s: %s", *key, status, reason)
        return status
    except Exception as e:  # the message cannot exist: a person has to look
        error = scrub(f"build: {type(e).__name__}: {e}")
        with begin(engine, schema) as conn:
            claimed = outbox.mark_sending(conn, row, None)
            if claimed:
                outbox.mark_failed(conn, row, 0, None, error)
        if claimed:
            summary.failed += 1
            summary.failures.append(Failure(*key, None, error))
            log.error(
                "delivery: report %s period %s recipient %s status failed (message not built: %s)",
                *key,
                type(e).__name__,
            )
        return "failed" if claimed else "skipped"
    mid = str(msg["Message-ID"] or "")
    if not mid:
        raise ValueError("build(row) returned a message without a Message-ID")
    if row.message_id and mid != row.message_id:
        # a re-send of the same generation must carry the id already handed over
        msg.replace_header("Message-ID", row.message_id)
        mid = row.message_id
    with begin(engine, schema) as conn:
        claimed = outbox.mark_sending(conn, row, mid)
    if not claimed:
        log.warning("delivery: report %s period %s recipient %s changed since read (another run?): skipped", *key)
        return "skipped"
    if row.status == SENDING:
        log.warning(
            "delivery: report %s period %s recipient %s was left sending by an earlier run: "
            "re-sending with the same Message-ID (possible duplicate)",
            *key,
        )
    try:
        result = transport.send(msg)
    except TransportConfigError as e:
        with begin(engine, schema) as conn:
            outbox.record_attempt(conn, row, 0, None, scrub(str(e)))
        log.error("delivery: report %s period %s recipient %s status pending (transport unusable)", *key)
        raise
    summary.attempts += result.attempts
    with begin(engine, schema) as conn:
        if result.ok:
            outbox.mark_sent(conn, row, result.attempts, eml_path=result.location)
        elif result.permanent:
            outbox.mark_failed(conn, row, result.attempts, result.code, result.error)
        else:
            outbox.record_attempt(conn, row, result.attempts, result.code, result.error)
    if result.ok:
        summary.sent += 1
        log.info(
            "delivery: report %s period %s recipient %s status sent code %s attempts %d",
            *key,
            result.code,
            result.attempts,
        )
        return "sent"
    if result.permanent:
        summary.failed += 1
        summary.failures.append(Failure(*key, result.code, result.error))
        log.error(
            "delivery: report %s period %s recipient %s status failed code %s attempts %d",
            *key,
            result.code,
            result.attempts,
        )
        return "failed"
    summary.deferred += 1
    log.warning(
        "delivery: report %s period %s recipient %s status pending code %s attempts %d (transient)",
        *key,
        result.code,
        result.attempts,
    )
    return "deferred"


__all__ = [
    "INVALID_ADDRESS",
    "NO_ADDRESS",
    "Builder",
    "DeliverySummary",
    "Failure",
    "NotSent",
    "Undeliverable",
    "deliver",
    "message_from_files",
]
