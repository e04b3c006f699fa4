"""The delivery outbox: one row per (report, period, recipient_id), the single record of what is to be sent,
what was sent, and what failed.

Statuses and how a row moves between them::

    render (enqueue) --> pending         a non-empty report for a servable recipient
                     --> skipped_empty   the report has no rows: never sent
                     --> undeliverable   the recipient cannot be served (reason: the staff row's rule ids)
    deliver picks pending, held and sending rows (failed ones too when asked) and builds each message:
        no usable address at send time  --mark_undeliverable--> undeliverable  (no_address, invalid_address)
        a part no passing scan covers   --mark_held-->          held           (which part, and why)
        a file missing, another error   --mark_failed-->        failed
        otherwise --mark_sending--> sending --mark_sent--> sent             (the transport accepted it)
                                            --mark_failed--> failed         (5xx: permanent, reported)
                                            --record_attempt--> pending     (4xx, disconnect: retried later)

A ``held`` row is picked up by the later deliveries whose scope (report, period) includes it and sent as soon
as a passing scan covers its bytes; it becomes ``held`` again (with the current reason) until then. The report
deliveries run per period (``deliver(..., period=...)``), so a held report is retried by the next delivery of
its own period (e.g. a rerun of that month's delivery after the report was scanned again), not by a later
month's; the run-failure notices are delivered per report, so every later notice retries the held ones. An
``undeliverable`` row is not picked up by delivery: a render run that finds the recipient servable again (a
restated staff file) makes it ``pending``. ``last_error`` says why a row is ``held``, ``undeliverable`` or
``failed``; it never holds an address or a name.

Guarantees, stated precisely:

- ``sent`` is written only after the transport reported acceptance (SMTP: the 250 reply to DATA; file
  transport: the ``.eml`` file is in place). A ``sent`` row is never picked up again, and :func:`enqueue`
  keeps it ``sent`` (a backfill re-render only updates ``latest_sha256``/``latest_rendered_at``) unless
  ``resend=True``, which starts a new ``generation`` and so a new Message-ID.
- ``sending`` is committed *before* the message is handed to the transport. If the process dies after the
  server accepted the message but before ``sent`` was committed, the row stays ``sending`` and the next run
  sends it again **with the same Message-ID** (it depends only on the key and the generation). This is the
  at-least-once window that remains: the recipient may get a duplicate, which a receiving system can drop by
  Message-ID. No outbox can close it without the server taking part in a two-phase protocol SMTP lacks.
- Claims are optimistic: :func:`mark_sending` succeeds only if the row's ``version`` is still the one read,
  so two runs racing for the same row cannot both send it. A row left in ``sending`` by a run that is still
  alive is indistinguishable from one left by a crash, though: run one deliverer per (report, period) at a
  time (in Dagster: one partition run, the warehouse writer pool).
- The table never holds an e-mail address or a name: recipients are staff ids (an id containing ``@`` is
  refused), and ``last_error`` holds the SMTP code and reply text with addresses scrubbed.
- Timestamps are naive UTC, as elsewhere in the warehouse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import sqlalchemy as sa

from crm.warehouse import begin, metadata

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED, SKIPPED_EMPTY = "pending", "sending", "sent", "failed", "skipped_empty"
HELD, UNDELIVERABLE = "held", "undeliverable"
STATUSES = (PENDING, SENDING, SENT, FAILED, SKIPPED_EMPTY, HELD, UNDELIVERABLE)
TO_SEND = (PENDING, SENDING, HELD)  # what a delivery picks up (failed only when asked)

report_outbox = sa.Table(
    "report_outbox",
    metadata,
    sa.Column("report", sa.String(40), primary_key=True),
    sa.Column("period", sa.String(20), primary_key=True),  # 2026-10, 2026-Q3
    sa.Column("recipient_id", sa.String(20), primary_key=True),  # staff id, never an address
    sa.Column("recipient_role", sa.String(40)),
    sa.Column("generation", sa.Integer, nullable=False, default=0),  # +1 per explicit re-send
    sa.Column("status", sa.String(16), nullable=False),  # see STATUSES
    sa.Column("attempts", sa.Integer, nullable=False, default=0),  # transport attempts, this generation
    sa.Column("version", sa.Integer, nullable=False, default=0),  # +1 per change: optimistic claims
    sa.Column("report_rows", sa.BigInteger),  # rows in the rendered report; 0 means skipped_empty
    sa.Column("message_id", sa.String(200)),  # set when first claimed for sending; fixed per generation
    sa.Column("subject", sa.Text),
    sa.Column("html_path", sa.Text),
    sa.Column("pdf_path", sa.Text),
    sa.Column("eml_path", sa.Text),  # file transport only
    sa.Column("content_sha256", sa.String(64)),  # of html + pdf of the render this generation sends
    sa.Column("rendered_at", sa.DateTime(timezone=False)),  # the report's logical time (UTC): the message's Date
    sa.Column("latest_sha256", sa.String(64)),  # the latest render seen (differs after a backfill)
    sa.Column("latest_rendered_at", sa.DateTime(timezone=False)),
    sa.Column("last_code", sa.Integer),  # last SMTP reply code of a failed attempt
    sa.Column("last_error", sa.Text),  # code + reply text (addresses scrubbed), or why held / undeliverable
    sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=False), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=False)),
    comment="E-mail delivery outbox: one row per report, period and recipient (staff id). No addresses.",
)

_KEY = ("report", "period", "recipient_id")


def ensure_outbox(engine: sa.Engine, schema: str | None = None) -> None:
    """Create the schema (if given), ``report_outbox`` and the send gate's ``leak_scan_files`` if missing.
    Safe to call on every run."""
    from crm.delivery.gate import ensure_gate

    with begin(engine, schema) as conn:
        if schema:
            conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
        report_outbox.create(conn, checkfirst=True)
        ensure_gate(conn)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _utc_naive(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo is None else when.astimezone(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class OutboxItem:
    """One rendered report for one recipient, as handed to :func:`enqueue`. ``rows`` is the number of data
    rows in the report: 0 means empty, and an empty report is recorded as ``skipped_empty`` and never sent.
    ``rendered_at`` (the report's logical time; default: now) becomes the message's Date; naive means UTC. ``content_sha256``
    defaults to the SHA-256 of the HTML file's bytes followed by the PDF file's bytes (when they exist).
    ``undeliverable``: why the recipient cannot be served (e.g. ``quarantined: staff.email.email_format``);
    the row is then recorded ``undeliverable`` with that reason and never sent."""

    report: str
    period: str
    recipient_id: str
    rows: int
    subject: str = ""
    html_path: str | None = None
    pdf_path: str | None = None
    recipient_role: str | None = None
    rendered_at: dt.datetime | None = None
    content_sha256: str | None = None
    undeliverable: str | None = None

    def __post_init__(self) -> None:
        for name, width in (("report", 40), ("period", 20), ("recipient_id", 20)):
            value = getattr(self, name)
            if not value or len(value) > width:
                raise ValueError(f"{name} must be 1..{width} characters")
        if "@" in self.recipient_id:
            raise ValueError("recipient_id must be a staff id, not an e-mail address")
        if self.rows < 0:
            raise ValueError("rows must be >= 0")
        if self.undeliverable is not None and ("@" in self.undeliverable or not self.undeliverable.strip()):
            raise ValueError("undeliverable must be a non-empty reason without an address")

    def checksum(self) -> str | None:
        if self.content_sha256:
            return self.content_sha256
        h = hashlib.sha256()
        seen = False
        for p in (self.html_path, self.pdf_path):
            if p and Path(p).is_file():
                h.update(Path(p).read_bytes())
                seen = True
        return h.hexdigest() if seen else None


@dataclass(frozen=True)
class OutboxRow:
    """A row of ``report_outbox`` as read by :func:`pending` / :func:`get`."""

    report: str
    period: str
    recipient_id: str
    recipient_role: str | None
    generation: int
    status: str
    attempts: int
    version: int
    report_rows: int | None
    message_id: str | None
    subject: str | None
    html_path: str | None
    pdf_path: str | None
    eml_path: str | None
    content_sha256: str | None
    rendered_at: dt.datetime | None
    latest_sha256: str | None
    latest_rendered_at: dt.datetime | None
    last_code: int | None
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    sent_at: dt.datetime | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.report, self.period, self.recipient_id)

    @classmethod
    def from_mapping(cls, m: sa.RowMapping) -> OutboxRow:
        return cls(**{f.name: m[f.name] for f in fields(cls)})


@dataclass
class EnqueueCounts:
    """What :func:`enqueue` did: ``inserted`` new keys; ``refreshed`` not-yet-sent rows given the new
    render; ``kept_sent`` sent rows left sent; ``resend`` sent rows put back to pending under a new
    generation; ``skipped_empty`` rows recorded as empty; ``undeliverable`` rows recorded as undeliverable;
    ``kept_failed``/``kept_sending`` rows left as they were (only the latest render recorded)."""

    inserted: int = 0
    refreshed: int = 0
    kept_sent: int = 0
    resend: int = 0
    skipped_empty: int = 0
    undeliverable: int = 0
    kept_failed: int = 0
    kept_sending: int = 0


def _where_key(report: str, period: str, recipient_id: str) -> sa.ColumnElement[bool]:
    t = report_outbox.c
    return sa.and_(t.report == report, t.period == period, t.recipient_id == recipient_id)


def get(conn: sa.Connection, report: str, period: str, recipient_id: str) -> OutboxRow | None:
    m = conn.execute(sa.select(report_outbox).where(_where_key(report, period, recipient_id))).mappings().first()
    return OutboxRow.from_mapping(m) if m else None


def enqueue(conn: sa.Connection, items: Iterable[OutboxItem], *, resend: bool = False) -> EnqueueCounts:
    """Record rendered reports in the outbox, inside the caller's transaction (select, then insert or
    update: portable across DuckDB and PostgreSQL). The status a render asks for is ``undeliverable`` (with
    its reason) when the item says the recipient cannot be served, else ``skipped_empty`` when it has no
    rows, else ``pending``. Per key:

    - new: that status, generation 0;
    - ``sent``: stays ``sent``, only ``latest_sha256``/``latest_rendered_at`` record the new render; with
      ``resend=True`` (and a non-empty render for a servable recipient) it becomes ``pending`` under
      ``generation + 1`` with the new render, so it is sent once more with a new Message-ID;
    - ``failed``: stays ``failed`` (a 5xx needs a person to look) with the new render recorded; with
      ``resend=True`` it takes the status asked for (same generation: it was never accepted);
    - ``sending`` (a run died while sending it): stays ``sending`` with its render, only ``latest_*``
      updated, so the next run re-sends the same message with the same Message-ID;
    - ``pending``, ``held``, ``skipped_empty``, ``undeliverable``: take the new render and the status asked
      for (``last_error`` is the undeliverable reason, else cleared).
    """
    counts = EnqueueCounts()
    t = report_outbox
    for item in items:
        now = _now()
        rendered_at = _utc_naive(item.rendered_at) if item.rendered_at else now
        checksum = item.checksum()
        empty = item.rows == 0
        wanted = UNDELIVERABLE if item.undeliverable else SKIPPED_EMPTY if empty else PENDING
        render = {
            "recipient_role": item.recipient_role,
            "report_rows": item.rows,
            "subject": item.subject,
            "html_path": item.html_path,
            "pdf_path": item.pdf_path,
            "content_sha256": checksum,
            "rendered_at": rendered_at,
            "latest_sha256": checksum,
            "latest_rendered_at": rendered_at,
        }
        where = _where_key(item.report, item.period, item.recipient_id)
        row = get(conn, item.report, item.period, item.recipient_id)
        if wanted == SKIPPED_EMPTY:
            log.info(
                "outbox: report %s period %s recipient %s is empty: skipped, not sent",
                item.report,
                item.period,
                item.recipient_id,
            )
        if row is None:
            conn.execute(
                sa.insert(t).values(
                    report=item.report,
                    period=item.period,
                    recipient_id=item.recipient_id,
                    generation=0,
                    status=wanted,
                    attempts=0,
                    version=0,
                    created_at=now,
                    updated_at=now,
                    last_error=item.undeliverable,
                    **render,
                )
            )
            counts.inserted += 1
            counts.skipped_empty += wanted == SKIPPED_EMPTY
            counts.undeliverable += wanted == UNDELIVERABLE
            continue
        latest = {"latest_sha256": checksum, "latest_rendered_at": rendered_at}
        bump = {"version": t.c.version + 1, "updated_at": now}
        if row.status == SENT and (wanted != PENDING or not resend):
            conn.execute(sa.update(t).where(where).values(**latest))
            counts.kept_sent += 1
            if resend:
                log.info(
                    "outbox: report %s period %s recipient %s: new render is %s, not re-sent",
                    item.report,
                    item.period,
                    item.recipient_id,
                    wanted,
                )
        elif row.status == SENT:
            conn.execute(
                sa.update(t)
                .where(where)
                .values(
                    status=PENDING,
                    generation=row.generation + 1,
                    attempts=0,
                    message_id=None,
                    eml_path=None,
                    sent_at=None,
                    last_code=None,
                    last_error=None,
                    **render,
                    **bump,
                )
            )
            counts.resend += 1
        elif row.status == FAILED and not resend:
            conn.execute(sa.update(t).where(where).values(**latest))
            counts.kept_failed += 1
        elif row.status == SENDING:  # may have been accepted: the re-send must be the same message
            conn.execute(sa.update(t).where(where).values(**latest))
            counts.kept_sending += 1
        else:
            extra = {"attempts": 0, "last_code": None} if row.status == FAILED else {}
            conn.execute(
                sa.update(t)
                .where(where)
                .values(status=wanted, last_error=item.undeliverable, **render, **bump, **extra)
            )
            counts.refreshed += 1
            counts.skipped_empty += wanted == SKIPPED_EMPTY
            counts.undeliverable += wanted == UNDELIVERABLE
    return counts


def pending(
    conn: sa.Connection,
    report: str | None = None,
    period: str | None = None,
    *,
    statuses: Sequence[str] = TO_SEND,
) -> list[OutboxRow]:
    """Rows to send (by default ``pending``, ``sending`` and ``held``), ordered by key; optionally one
    report/period."""
    t = report_outbox
    q = sa.select(t).where(t.c.status.in_(list(statuses)))
    if report is not None:
        q = q.where(t.c.report == report)
    if period is not None:
        q = q.where(t.c.period == period)
    q = q.order_by(t.c.report, t.c.period, t.c.recipient_id)
    return [OutboxRow.from_mapping(m) for m in conn.execute(q).mappings()]


def status_counts(conn: sa.Connection, report: str | None = None, period: str | None = None) -> dict[str, int]:
    t = report_outbox
    q = sa.select(t.c.status, sa.func.count()).group_by(t.c.status)
    if report is not None:
        q = q.where(t.c.report == report)
    if period is not None:
        q = q.where(t.c.period == period)
    return {status: int(n) for status, n in conn.execute(q)}


def mark_sending(conn: sa.Connection, row: OutboxRow, message_id: str | None) -> bool:
    """Claim ``row`` for sending and record its Message-ID (``None`` keeps the recorded one). Succeeds
    (True) only if the row is unchanged since it was read (same ``version``); commit before handing the
    message over."""
    t = report_outbox
    values: dict[str, object] = {"status": SENDING, "version": t.c.version + 1, "updated_at": _now()}
    if message_id is not None:
        values["message_id"] = message_id
    res = conn.execute(sa.update(t).where(_where_key(*row.key), t.c.version == row.version).values(**values))
    return res.rowcount == 1


def _finish(conn: sa.Connection, row: OutboxRow, **values: object) -> bool:
    t = report_outbox
    res = conn.execute(
        sa.update(t)
        .where(
            _where_key(*row.key),
            t.c.generation == row.generation,
            t.c.status == SENDING,
        )
        .values(
            attempts=t.c.attempts + values.pop("add_attempts"), version=t.c.version + 1, updated_at=_now(), **values
        )
    )
    return res.rowcount == 1


def mark_sent(conn: sa.Connection, row: OutboxRow, attempts: int, *, eml_path: str | None = None) -> bool:
    """The transport accepted the message (after ``attempts`` tries in this run)."""
    return _finish(
        conn,
        row,
        add_attempts=attempts,
        status=SENT,
        sent_at=_now(),
        eml_path=eml_path,
        last_code=None,
        last_error=None,
    )


def mark_failed(conn: sa.Connection, row: OutboxRow, attempts: int, code: int | None, error: str | None) -> bool:
    """A permanent failure (5xx or an unbuildable message): not retried unless asked."""
    return _finish(conn, row, add_attempts=attempts, status=FAILED, last_code=code, last_error=error)


def _set_status(conn: sa.Connection, row: OutboxRow, status: str, reason: str) -> bool:
    """Move an unclaimed row (as read: same ``version``) to ``status`` with ``reason`` in ``last_error``."""
    t = report_outbox
    res = conn.execute(
        sa.update(t)
        .where(_where_key(*row.key), t.c.version == row.version)
        .values(status=status, last_code=None, last_error=reason, version=t.c.version + 1, updated_at=_now())
    )
    return res.rowcount == 1


def mark_held(conn: sa.Connection, row: OutboxRow, reason: str) -> bool:
    """Not sent: no passing leak scan covers the bytes the message would carry (``reason`` says which and
    why). Picked up again by the next delivery. Succeeds only if the row is unchanged since it was read."""
    return _set_status(conn, row, HELD, reason)


def mark_undeliverable(conn: sa.Connection, row: OutboxRow, reason: str) -> bool:
    """Not sent: the recipient cannot be served (``no_address``, ``invalid_address`` ...; never the
    address). Not picked up by delivery again; a later render for a servable recipient makes it pending."""
    if "@" in reason:
        raise ValueError("an undeliverable reason must not hold an address")
    return _set_status(conn, row, UNDELIVERABLE, reason)


def rows_with_status(
    conn: sa.Connection, statuses: Sequence[str] | None, periods: Sequence[str] | None = None, report: str | None = None
) -> list[OutboxRow]:
    """Rows in ``statuses`` (``None``: any), optionally of some periods and one report, ordered by period
    and key."""
    t = report_outbox
    q = sa.select(t)
    if statuses is not None:
        q = q.where(t.c.status.in_(list(statuses)))
    if periods is not None:
        q = q.where(t.c.period.in_(list(periods)))
    if report is not None:
        q = q.where(t.c.report == report)
    q = q.order_by(t.c.period, t.c.report, t.c.recipient_id)
    return [OutboxRow.from_mapping(m) for m in conn.execute(q).mappings()]


def record_attempt(conn: sa.Connection, row: OutboxRow, attempts: int, code: int | None, error: str | None) -> bool:
    """A transient failure (retries exhausted, or nothing handed over): back to ``pending`` for a later run,
    keeping the generation and so the Message-ID."""
    return _finish(conn, row, add_attempts=attempts, status=PENDING, last_code=code, last_error=error)
