"""Run-failure notices: when a pipeline run fails, the data engineers hear about it through the outbox.

Plain Python (the Dagster sensor in :mod:`orchestration.alerts` only gathers the facts of the failed run and
calls :func:`notify`).

**Who**: every active data engineer (role ``DE``, status ``A``) of the latest staged staff partition. Staged
staff holds tokens and masks but the staff id, role, status and branch in clear; the e-mail address is read
from the restricted raw zone at send time only (:func:`crm.reports.recipients.address_book`) and is never
stored. Nobody is dropped silently: an active data engineer whose staff row of that day was quarantined (not
in the staged partition) gets an outbox row for the notice recorded ``undeliverable`` with the reason, as a
report reader would (:func:`quarantined_engineers`: the row's rule ids, staff file and row; ``row-<n>`` when
the staff id itself is unusable), and nothing is sent to them. No active data engineer at all (or no staged
staff partition): the notice is not sent and an error is logged naming the job and run id; nothing raises.

**What**: the job, the partition (or partition range), the failed steps, the failed asset checks of
severity ERROR, the run id and the failure time. Nothing else: not the error message (it may quote a
value), not a row, not a file name. Every text that goes into the notice is an identifier Dagster or the
code defined; :func:`identifier` replaces any character outside ``[A-Za-z0-9_.:/@\\[\\]-]`` (space, control,
bidi or anything else) by ``?``, so even a hostile tag cannot carry a value or markup into the message.

**How**: one HTML notice (template ``reports/templates/run_failure.html.j2``, labels ``rf.*`` in
``crm/reports/messages_ops.toml``) and its plain-text alternative per failed run, written under
``reports/<failure date>/run_failure/<run id>.html|.txt``; a structural leak-scan record of their exact
bytes for the send gate (:func:`record_structural_scans`); one outbox row per data engineer under report
``run_failure``, period :attr:`RunFailure.period` (``YYYYMMDD-`` + the first 11 hex digits of the run id:
unique per run, dated for retention, within the outbox's 20 characters); then :func:`crm.delivery.deliver`
sends every pending ``run_failure`` row. The render is deterministic (its time is the failure time), so a
second evaluation for the same run rewrites nothing and the outbox keeps the rows ``sent``: each data
engineer gets exactly one message per failed run. A notice that could not be sent (server down) stays
``pending`` and goes out with the next notice.

**When**: the sensor calls :func:`notify` with a ``deadline`` well inside Dagster's sensor timeout, so an
unreachable mail server cannot make the evaluation time out (and the run be evaluated again while the first
evaluation may still be sending). Within a deadline each message gets one attempt with a short socket timeout
(:func:`within_deadline`), the first transient failure ends the sending (the server looks down: one timeout
per notified run, not one per message), and once the deadline has passed nothing more is handed to the
transport. What was not sent stays ``pending``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from crm.bank_calendar import BANK_TZ
from crm.zones import newest_partition

REPORT = "run_failure"
ROLE = "DE"
ACTIVE = "A"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/@\[\]-]")
_RUN_ID = re.compile(r"^[0-9a-f]{8}(?:-?[0-9a-f]{4}){3}-?[0-9a-f]{12}$")
_MAX = 200  # characters of one identifier kept in a notice
ATTEMPT_TIMEOUT = 5.0  # seconds: the SMTP socket timeout of a message sent within a deadline

_log = logging.getLogger(__name__)


def identifier(text: object) -> str:
    """``text`` as it may appear in a notice: characters outside ``[A-Za-z0-9_.:/@[]-]`` become ``?`` and
    the result is cut to 200 characters (job names, step keys, check names, partition keys and run ids are
    made of those characters; anything else did not come from the code)."""
    return _UNSAFE.sub("?", str(text))[:_MAX]


@dataclass(frozen=True)
class RunFailure:
    """The facts of one failed run, as plain values. ``failed_at``: the failure time, naive UTC.
    ``partition`` a single partition key, or ``partition_range`` (first, last) for a ranged run, or
    neither. ``failed_checks``: ``asset/key:check_name`` of the asset checks that failed with severity
    ERROR."""

    job: str
    run_id: str
    failed_at: dt.datetime
    partition: str | None = None
    partition_range: tuple[str, str] | None = None
    failed_steps: tuple[str, ...] = ()
    failed_checks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _RUN_ID.match(self.run_id):
            raise ValueError("run_id must be a Dagster run id (a UUID)")

    @property
    def bank_time(self) -> dt.datetime:
        """The failure time in bank time (Asia/Shanghai), naive: what the notice shows."""
        at = self.failed_at if self.failed_at.tzinfo else self.failed_at.replace(tzinfo=dt.UTC)
        return at.astimezone(BANK_TZ).replace(tzinfo=None, microsecond=0)

    @property
    def period(self) -> str:
        """The outbox period of this run's notice: ``YYYYMMDD-`` (failure date, bank time) and the first 11
        hex digits of the run id, 20 characters."""
        return f"{self.bank_time:%Y%m%d}-{self.run_id.replace('-', '')[:11]}"

    @property
    def partition_label(self) -> str:
        if self.partition_range:
            first, last = self.partition_range
            return identifier(first) if first == last else f"{identifier(first)} .. {identifier(last)}"
        return identifier(self.partition) if self.partition else ""


def data_engineers(staff: pd.DataFrame) -> list[str]:
    """Staff ids of the active data engineers (role ``DE``, status ``A``), unique and sorted."""
    if staff.empty:
        return []
    mask = (staff["role"].astype(str) == ROLE) & (staff["status"].astype(str) == ACTIVE)
    return sorted(staff.loc[mask, "staff_id"].dropna().astype(str).unique().tolist())


def quarantined_engineers(raw: Path, day: dt.date, root: Path) -> dict[str, str]:
    """The active data engineers whose staff row of ``day`` was quarantined: recipient id -> why they cannot
    be served, as the report readers' (:func:`crm.reports.recipients.quarantined_staff`:
    ``quarantined: <rule ids> (staff file F row N)``, or ``row-<n>`` and ``unusable staff id: ...`` when the
    staff id is unusable; role and status read as a person reads them, so ``DE`` with a zero-width space is
    still a data engineer; never the name or the address); the first row of an id, as for the readers."""
    from crm.reports.recipients import quarantined_staff

    q = quarantined_staff(raw, day, root, [ROLE]).drop_duplicates("staff_id")
    return dict(sorted(zip(q["staff_id"], q["undeliverable"], strict=True)))


def latest_staff_partition(staged: Path) -> Path | None:
    """The latest staged staff partition (``staged/staff/<YYYY-MM-DD>.parquet``), or None."""
    return newest_partition(staged, "staff")


def notice_context(failure: RunFailure) -> dict:
    """The template context of the notice: identifiers and times only."""
    return {
        "generated_at": failure.bank_time,
        "failed_at": failure.bank_time,
        "job": identifier(failure.job),
        "run_id": identifier(failure.run_id),
        "partition": failure.partition_label,
        "failed_steps": [identifier(s) for s in failure.failed_steps],
        "failed_checks": [identifier(c) for c in failure.failed_checks],
    }


def _translator(locale: str) -> Callable[..., str]:
    from crm.reports.i18n import translator

    return translator(locale)


def subject(failure: RunFailure, locale: str) -> str:
    t = _translator(locale)
    return t(
        "rf.subject",
        job=identifier(failure.job),
        partition=failure.partition_label or "—",
        run=identifier(failure.run_id)[:8],
    )


def plain_text(failure: RunFailure, locale: str) -> str:
    """The notice as plain text (the message's text/plain alternative)."""
    from crm.reports.fmt import Formatter

    t, ctx = _translator(locale), notice_context(failure)
    none = t("rf.none")
    lines = [
        t("rf.title"),
        "",
        f"{t('rf.job')}: {ctx['job']}",
        f"{t('rf.partition')}: {ctx['partition'] or none}",
        f"{t('rf.run_id')}: {ctx['run_id']}",
        f"{t('rf.failed_at')}: {Formatter(locale).datetime(ctx['failed_at'])}",
        f"{t('rf.steps')}: {', '.join(ctx['failed_steps']) or none}",
        f"{t('rf.checks')}: {', '.join(ctx['failed_checks']) or none}",
        "",
        t("rf.next"),
        t("rf.footnote"),
        "",
    ]
    return "\n".join(lines)


def render_notice(failure: RunFailure, locale: str) -> str:
    from crm.reports.render import render_html

    return render_html(REPORT, notice_context(failure), locale)


def notice_paths(reports: Path, failure: RunFailure) -> tuple[Path, Path]:
    """``reports/<failure date>/run_failure/<run id>.html`` and ``.txt`` (the run id is checked to be a
    UUID, and the path is built by :func:`crm.zones.safe_path`)."""
    from crm.zones import safe_path

    parts = (f"{failure.bank_time:%Y-%m-%d}", REPORT, failure.run_id)
    origin = f"the failed run's id (job {identifier(failure.job)})"
    return (
        safe_path(reports, *parts, origin=origin, suffix=".html"),
        safe_path(reports, *parts, origin=origin, suffix=".txt"),
    )


def _write(path: Path, data: bytes) -> None:
    from crm.delivery.transport import write_atomically

    write_atomically(path, data)  # unchanged bytes are not rewritten


def scan_rows(
    failure: RunFailure, files: Sequence[tuple[Path, bytes]], root: Path, subjects: Sequence[tuple[str, str]] = ()
) -> list[dict]:
    """The send gate's records (:mod:`crm.delivery.gate`) for the notice: a structural scan (content built
    only from identifiers and catalogue text, no data value), passed, of the exact bytes of each file and of
    each recipient's subject (``subjects``: (recipient id, subject) pairs)."""
    from crm.delivery.gate import subject_bytes, subject_label

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    parts = [(path.relative_to(root).as_posix(), data) for path, data in files]
    parts += [(subject_label(REPORT, failure.period, r), subject_bytes(text)) for r, text in subjects]
    return [
        {
            "sha256": hashlib.sha256(data).hexdigest(),
            "source": source,
            "period": failure.period,
            "passed": True,
            "findings": 0,
            "method": "structural",
            "run_id": failure.run_id,
            "scanned_at": now,
        }
        for source, data in parts
    ]


@dataclass
class NoticeResult:
    """What :func:`notify` did: ``recipients`` staff ids queued for this run; ``undeliverable`` the data
    engineers recorded ``undeliverable`` instead (recipient id -> reason: their staff row was quarantined);
    ``queued`` new or refreshed outbox rows to send; ``sent``/``failed``/``deferred`` from the delivery of
    every pending notice; ``reason`` why nothing was queued (``no_staff_partition``, ``no_data_engineer``) or
    sent (``no_transport``), else None."""

    recipients: list[str] = field(default_factory=list)
    undeliverable: dict[str, str] = field(default_factory=dict)
    queued: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    reason: str | None = None
    html_path: Path | None = None


def outbox_items(
    failure: RunFailure,
    recipients: Sequence[str],
    html_path: Path,
    subject_text: str,
    undeliverable: Mapping[str, str] | None = None,
) -> list:
    """One outbox row per recipient, then one recorded ``undeliverable`` with its reason per other entry of
    ``undeliverable`` (recipient id -> reason)."""
    from crm.delivery import OutboxItem

    unserved = {r: why for r, why in (undeliverable or {}).items() if r not in recipients}
    return [
        OutboxItem(
            report=REPORT,
            period=failure.period,
            recipient_id=r,
            rows=1,
            subject=subject_text,
            html_path=str(html_path),
            recipient_role=ROLE,
            rendered_at=failure.failed_at,
            undeliverable=unserved.get(r),
        )
        for r in [*recipients, *unserved]
    ]


def message_builder(sender: str, address_of: Callable[[str], str], gate):
    """``build(row)`` for :func:`crm.delivery.deliver`: the notice's HTML with its plain-text file (next to
    it, ``.txt``) as the text alternative; no attachment. The address comes from ``address_of``: none (it
    raises ``KeyError`` or gives None, NaN or blank) makes the row undeliverable ``no_address``, anything but
    one plain address ``invalid_address``, as in :func:`crm.delivery.message_from_files`. Like every message,
    a notice passes the send gate (``gate``, :class:`crm.delivery.SendGate`): it is built from the bytes whose
    structural scan :func:`notify` recorded, and held if they changed."""
    from crm.delivery import build_message
    from crm.delivery.deliver import recipient_address
    from crm.delivery.gate import subject_bytes, subject_label

    def build(row):
        if not row.html_path:
            raise ValueError("row has no rendered HTML")
        to = recipient_address(address_of, row.recipient_id)
        html_path = Path(row.html_path)
        html, text = html_path.read_bytes(), html_path.with_suffix(".txt").read_bytes()
        subject_text = row.subject or ""
        gate.require(
            {
                gate.label(html_path): html,
                gate.label(html_path.with_suffix(".txt")): text,
                subject_label(row.report, row.period, row.recipient_id): subject_bytes(subject_text),
            }
        )
        return build_message(
            sender=sender,
            to=to,
            subject=subject_text,
            html=html.decode("utf-8"),
            text=text.decode("utf-8"),
            pdf=None,
            pdf_filename="",
            report=row.report,
            period=row.period,
            recipient_id=row.recipient_id,
            generation=row.generation,
            date=row.rendered_at or row.created_at,
            msg_id=row.message_id,
        )

    return build


class _Deadline:
    """A transport that hands nothing over once ``deadline`` (a :func:`time.monotonic` value) has passed: the
    message is a transient failure with no attempt, which :func:`crm.delivery.deliver` records ``pending``."""

    def __init__(self, transport, deadline: float):
        self.transport, self.deadline, self.late = transport, deadline, 0

    def send(self, msg):
        from crm.delivery import SendResult

        if time.monotonic() >= self.deadline:
            self.late += 1
            return SendResult(ok=False, attempts=0, error="not handed over: the time for sending was spent")
        return self.transport.send(msg)

    def close(self) -> None:
        self.transport.close()


def within_deadline(transport, deadline: float, *, timeout: float = ATTEMPT_TIMEOUT) -> _Deadline:
    """``transport`` for sending until ``deadline`` (:func:`time.monotonic`): an SMTP transport tries each
    message once, with a socket timeout of at most ``timeout`` seconds (its retries and back-off are for
    delivery runs that may take their time); no message is handed over after the deadline. What is not
    sent stays ``pending``, never ``sending``. One message may end after the deadline by the socket timeout
    of each step of its SMTP session it waits on."""
    from crm.delivery import SmtpTransport

    if isinstance(transport, SmtpTransport):
        settings = replace(transport.settings, timeout=min(transport.settings.timeout, timeout))
        transport = SmtpTransport(
            settings, retries=1, backoff=transport.backoff, sleep=transport.sleep, tls_context=transport.tls_context
        )
    return _Deadline(transport, deadline)


def notify(
    failure: RunFailure,
    *,
    staged: Path,
    raw: Path,
    reports: Path,
    engine: sa.Engine,
    schema: str | None,
    transport,
    sender: str,
    locale: str = "zh_CN",
    log: logging.Logger | logging.LoggerAdapter | None = None,
    deadline: float | None = None,
) -> NoticeResult:
    """Render, record, queue and send the notice of ``failure`` to the active data engineers (see the module
    docstring). ``transport`` None (the mail settings are unusable): queued, not sent, logged. ``deadline``
    (a :func:`time.monotonic` value): send through :func:`within_deadline` and stop at the first transient
    failure, so that sending ends about then at the latest; what was not sent stays ``pending``. Logs name
    the job, run id, staff ids, reasons (rule ids, staff file and row) and counts only."""
    from crm.delivery import SendGate, deliver, enqueue
    from crm.delivery.gate import record_scans
    from crm.reports.recipients import address_book
    from crm.warehouse import begin

    log = log or _log
    result = NoticeResult()
    job, run = identifier(failure.job), identifier(failure.run_id)
    staff_path = latest_staff_partition(staged)
    if staff_path is None:
        result.reason = "no_staff_partition"
        log.error(
            f"run {run} of job {job} failed, but there is no staged staff partition to find the data "
            "engineers in: no notice sent"
        )
        return result
    staff = pd.read_parquet(staff_path, columns=["staff_id", "role", "status"])
    staff_day = dt.date.fromisoformat(staff_path.stem)
    result.recipients = data_engineers(staff)
    result.undeliverable = {
        r: why for r, why in quarantined_engineers(raw, staff_day, reports).items() if r not in result.recipients
    }
    if not result.recipients and not result.undeliverable:
        result.reason = "no_data_engineer"
        log.error(
            f"run {run} of job {job} failed, but the staff directory of {staff_path.stem} has no active "
            f"data engineer (role {ROLE}): no notice sent"
        )
        return result
    html_path, text_path = notice_paths(reports, failure)
    html = render_notice(failure, locale).encode("utf-8")
    text = plain_text(failure, locale).encode("utf-8")
    _write(html_path, html)
    _write(text_path, text)
    result.html_path = html_path
    subject_text = subject(failure, locale)
    with begin(engine, schema) as conn:
        record_scans(
            conn,
            scan_rows(
                failure, [(html_path, html), (text_path, text)], reports, [(r, subject_text) for r in result.recipients]
            ),
        )
        counts = enqueue(conn, outbox_items(failure, result.recipients, html_path, subject_text, result.undeliverable))
    result.queued = counts.inserted + counts.refreshed + counts.resend - counts.undeliverable
    if result.undeliverable:
        unserved = "; ".join(f"{identifier(r)}: {why}" for r, why in result.undeliverable.items())
        log.warning(
            f"run_failure notice of run {run} (job {job}): {len(result.undeliverable)} data "
            f"engineers cannot be mailed (recorded undeliverable in the outbox): {unserved}"
        )
    if not result.recipients:
        result.reason = "no_data_engineer"
        log.error(
            f"run {run} of job {job} failed, but no active data engineer (role {ROLE}) of the staff "
            f"directory of {staff_path.stem} can be mailed: no notice sent"
        )
    if transport is None:  # the mail settings are unusable: queued, sent by the next notice that can be
        result.reason = result.reason or "no_transport"
        log.error(
            f"run_failure notice of run {run} (job {job}) queued for {len(result.recipients)} data "
            "engineers but not sent: the mail transport is not usable"
        )
        return result
    book: dict[str, str] | None = None

    def address_of(staff_id: str) -> str:
        nonlocal book
        if book is None:  # the restricted zone is read only when a message is built
            book = address_book(raw, staff_day)
        if staff_id not in book:
            raise KeyError(f"staff {staff_id} has no e-mail address in the staff extract")
        return book[staff_id]

    build = message_builder(sender, address_of, SendGate(engine, schema, reports))
    stop: dict = {}
    if deadline is not None:  # one timeout is enough to know the server does not answer now
        transport, stop = within_deadline(transport, deadline), {"max_consecutive_deferrals": 1}
    summary = deliver(engine, schema, transport, build, report=REPORT, log=log, **stop)
    result.sent, result.failed, result.deferred = summary.sent, summary.failed, summary.deferred
    if getattr(transport, "late", 0):
        log.warning(
            f"run_failure notices of run {run} (job {job}): the time for sending was spent; what was "
            "not sent stays pending for the next notice"
        )
    log.info(
        f"run_failure notice of run {run} (job {job}): {len(result.recipients)} data engineers "
        f"({', '.join(result.recipients)}); sent {summary.sent}, failed {summary.failed}, "
        f"deferred {summary.deferred}"
    )
    return result
