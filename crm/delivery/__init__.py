"""E-mail delivery of rendered reports through an outbox, "to exactly the right people, exactly once" as far
as SMTP allows (plain Python, no Dagster).

1. :func:`enqueue` records each rendered (report, period, recipient_id) in ``report_outbox``; empty reports
   become ``skipped_empty``; a key already ``sent`` stays sent unless ``resend=True``.
2. :func:`deliver` sends what is ``pending`` (or left ``sending`` by a crash) through a transport:
   :class:`FileTransport` (default: exact ``.eml`` files in ``outbox/``) or :class:`SmtpTransport`.
   ``sent`` is recorded only after the server accepted the message; 4xx/disconnects are retried with
   backoff, 5xx are recorded as ``failed`` and reported. Message-IDs are deterministic per key and
   generation, so the one duplicate a crash can cause (accepted, then died before recording it) carries
   the same Message-ID as the first copy.

The outbox stores staff ids, never addresses: the caller resolves addresses at send time.
"""

from __future__ import annotations

from crm.delivery.deliver import Builder, DeliverySummary, Failure, deliver, message_from_files
from crm.delivery.message import build_message, message_id, sender_domain
from crm.delivery.outbox import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    SKIPPED_EMPTY,
    EnqueueCounts,
    OutboxItem,
    OutboxRow,
    enqueue,
    ensure_outbox,
    get,
    mark_failed,
    mark_sending,
    mark_sent,
    pending,
    record_attempt,
    report_outbox,
    status_counts,
)
from crm.delivery.transport import (
    FileTransport,
    SendResult,
    SmtpSettings,
    SmtpTransport,
    Transport,
    TransportConfigError,
    eml_name,
)

__all__ = [
    "FAILED", "PENDING", "SENDING", "SENT", "SKIPPED_EMPTY",
    "Builder", "DeliverySummary", "EnqueueCounts", "Failure", "FileTransport", "OutboxItem", "OutboxRow",
    "SendResult", "SmtpSettings", "SmtpTransport", "Transport", "TransportConfigError",
    "build_message", "deliver", "eml_name", "enqueue", "ensure_outbox", "get", "mark_failed", "mark_sending",
    "mark_sent", "message_from_files", "message_id", "pending", "record_attempt", "report_outbox",
    "sender_domain", "status_counts",
]
