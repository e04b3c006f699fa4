"""Fixtures for the delivery tests: a real SMTP server (aiosmtpd) on loopback that records what it accepted
and can misbehave on demand, and rendered reports written to ``tmp_path``."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from crm.delivery import (
    OutboxItem,
    SmtpSettings,
    SmtpTransport,
    record_scans,
    sha256_of,
    source_label,
    subject_bytes,
    subject_label,
)
from crm.warehouse import begin

SENDER = "crm-reports@bank.example"
RENDERED_AT = dt.datetime(2026, 11, 1, 1, 30)  # naive UTC


def address_of(recipient_id: str) -> str:
    """What the restricted raw zone would answer: the staff member's address."""
    return f"rm.{recipient_id.lower()}@branch.example"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Recorder:
    """An aiosmtpd handler. ``accepted`` holds the raw bytes of every message answered 250 after DATA.

    Misbehaviour, each counted down as it happens: ``fail_data`` DATA commands answered ``data_reply``
    (421 by default); ``drop_before`` DATA commands answered by closing the connection without accepting;
    ``drop_after`` DATA commands whose message is accepted (recorded) but whose connection is closed before
    the reply, the window in which a client cannot know. ``refuse`` maps addresses to a 550 at RCPT."""

    accepted: list[bytes] = field(default_factory=list)
    fail_data: int = 0
    data_reply: str = "421 Service not available"
    drop_before: int = 0
    drop_after: int = 0
    refuse: set[str] = field(default_factory=set)
    data_commands: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.data_commands += 1
            if self.fail_data:
                self.fail_data -= 1
                return self.data_reply
            if self.drop_before:
                self.drop_before -= 1
                server.transport.close()
                return "421 closing"
            self.accepted.append(bytes(envelope.content))
            if self.drop_after:
                self.drop_after -= 1
                server.transport.close()
                return "421 closing"
        return "250 OK"

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(b, policy=email.policy.default) for b in self.accepted]

    def message_ids(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]) for m in self.messages())

    def by_recipient(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for m in self.messages():
            out.setdefault(str(m["X-CRM-Recipient"]), []).append(str(m["Message-ID"]))
        return out


@dataclass
class SmtpServer:
    handler: Recorder
    controller: Controller
    host: str
    port: int

    def settings(self, **kw) -> SmtpSettings:
        return SmtpSettings(host=self.host, port=self.port, timeout=5.0, sender=SENDER, **kw)

    def transport(self, retries: int = 5, **kw) -> tuple[SmtpTransport, list[float]]:
        """A transport whose backoff sleeps are recorded instead of slept."""
        sleeps: list[float] = []
        return SmtpTransport(
            self.settings(**kw), retries=retries, backoff=(0.01, 2.0, 0.05), sleep=sleeps.append
        ), sleeps


@pytest.fixture
def smtp_server():
    handler = Recorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(handler, controller, "127.0.0.1", port)
    finally:
        controller.stop()


def render(
    tmp_path: Path, report: str, period: str, recipient_id: str, rows: int = 3, version: str = "v1"
) -> OutboxItem:
    """Write a small rendered report (HTML + PDF) for one recipient and return its outbox item."""
    folder = tmp_path / "reports" / report / period
    folder.mkdir(parents=True, exist_ok=True)
    html = folder / f"{recipient_id}.html"
    pdf = folder / f"{recipient_id}.pdf"
    html.write_text(
        f"<html><body><h1>客户经理月报 {period}</h1><p>{recipient_id} {version}</p><p>rows: {rows}</p></body></html>",
        encoding="utf-8",
    )
    pdf.write_bytes(b"%PDF-1.4\n% fake pdf " + f"{report}|{period}|{recipient_id}|{version}".encode() + b"\n%%EOF\n")
    return OutboxItem(
        report=report,
        period=period,
        recipient_id=recipient_id,
        rows=rows,
        subject=f"{period} 客户经理月报",
        html_path=str(html),
        pdf_path=str(pdf),
        recipient_role="relationship_manager",
        rendered_at=RENDERED_AT,
    )


def scan_rows(items, *, passed: bool = True, root: Path | None = None, run_id: str = "test") -> list[dict]:
    """Leak-scan rows for the files and subjects of ``items`` as they are on disk now, with one verdict:
    what a leak scan records before delivery (the send gate looks for them)."""
    rows = []
    for it in items:
        parts = {source_label(p, root): Path(p).read_bytes() for p in (it.html_path, it.pdf_path) if p}
        parts[subject_label(it.report, it.period, it.recipient_id)] = subject_bytes(it.subject)
        rows += [
            {
                "sha256": sha256_of(data),
                "source": label,
                "period": it.period,
                "passed": passed,
                "findings": 0 if passed else 1,
                "method": "values",
                "run_id": run_id,
            }
            for label, data in parts.items()
        ]
    return rows


def record_scanned(engine, schema, items, **kw) -> None:
    """Record a leak scan of ``items`` (passing unless ``passed=False``)."""
    with begin(engine, schema) as conn:
        record_scans(conn, scan_rows(items, **kw))
