"""E-mail delivery of rendered reports through an outbox, "to exactly the right people, exactly once" as far
as SMTP allows (plain Python, no Dagster).

1. :func:`enqueue` records each rendered (report, period, recipient_id) in ``report_outbox``; empty reports
   become ``skipped_empty``, recipients who cannot be served ``undeliverable`` with the reason; a key
   already ``sent`` stays sent unless ``resend=True``.
2. :func:`deliver` sends what is ``pending`` or ``held`` (or left ``sending`` by a crash) through a transport:
   :class:`FileTransport` (default: exact ``.eml`` files in ``outbox/``) or :class:`SmtpTransport`.
   ``sent`` is recorded only after the server accepted the message; 4xx/disconnects are retried with
   backoff, 5xx are recorded as ``failed`` and reported. Message-IDs are deterministic per key and
   generation, so the one duplicate a crash can cause (accepted, then died before recording it) carries
   the same Message-ID as the first copy.

The outbox stores staff ids, never addresses: the caller resolves addresses at send time.
"""

from __future__ import annotations

from crm.delivery.deliver import (
    INVALID_ADDRESS,
    NO_ADDRESS,
    Builder,
    DeliverySummary,
    Failure,
    NotSent,
    Undeliverable,
    deliver,
    message_from_files,
)
from crm.delivery.gate import (
    Held,
    SendGate,
    coverage,
    leak_scan_files,
    record_scans,
    sha256_of,
    source_label,
    subject_bytes,
    subject_label,
)
from crm.delivery.message import build_message, message_id, sender_domain, valid_address
from crm.delivery.outbox import (
    FAILED,
    HELD,
    PENDING,
    SENDING,
    SENT,
    SKIPPED_EMPTY,
    STATUSES,
    UNDELIVERABLE,
    EnqueueCounts,
    OutboxItem,
    OutboxRow,
    enqueue,
    ensure_outbox,
    get,
    mark_failed,
    mark_held,
    mark_sending,
    mark_sent,
    mark_undeliverable,
    pending,
    record_attempt,
    report_outbox,
    rows_with_status,
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
    "FAILED",
    "HELD",
    "INVALID_ADDRESS",
    "NO_ADDRESS",
    "PENDING",
    "SENDING",
    "SENT",
    "SKIPPED_EMPTY",
    "STATUSES",
    "UNDELIVERABLE",
    "Builder",
    "DeliverySummary",
    "EnqueueCounts",
    "Failure",
    "FileTransport",
    "Held",
    "NotSent",
    "OutboxItem",
    "OutboxRow",
    "SendGate",
    "SendResult",
    "SmtpSettings",
    "SmtpTransport",
    "Transport",
    "TransportConfigError",
    "Undeliverable",
    "build_message",
    "coverage",
    "deliver",
    "eml_name",
    "enqueue",
    "ensure_outbox",
    "get",
    "leak_scan_files",
    "mark_failed",
    "mark_held",
    "mark_sending",
    "mark_sent",
    "mark_undeliverable",
    "message_from_files",
    "message_id",
    "pending",
    "record_attempt",
    "record_scans",
    "report_outbox",
    "rows_with_status",
    "sender_domain",
    "sha256_of",
    "source_label",
    "status_counts",
    "subject_bytes",
    "subject_label",
    "valid_address",
]
