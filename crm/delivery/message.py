"""Building the e-mail of one report for one recipient, byte for byte reproducibly.

Everything that would normally vary between two builds is fixed by the inputs: the Message-ID is derived
from (report, period, recipient_id, generation) and the sender's domain, the Date from the report's logical time
passed in, and the MIME boundaries from the Message-ID. So building the same report twice gives the same
bytes (``msg.as_bytes()``), and a re-send after a crash carries the same Message-ID, which lets a receiving
system deduplicate it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime

from crm.bank_calendar import BANK_TZ

POLICY = email_policy.SMTP  # CRLF line ends, 78-column folding
DATE_TZ = BANK_TZ  # the Date header is written in bank time

# one plain addr-spec: local part and dotted domain, nothing else (no display name, no second address, no
# separator, no space or control character); the staff extract's e-mail rule asks the same shape
_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

DEFAULT_TEXT = "本期报告的 PDF 版本见附件，HTML 版本见本邮件正文。\nThe PDF version of this report is attached.\n"


def valid_address(address: object) -> bool:
    """Whether ``address`` is exactly one plain e-mail address (``name@domain.tld``), so that a message
    addressed to it goes to one mailbox: two addresses in one field (``a@x.cn;b@y.cn``, ``a@x.cn, b@y.cn``),
    a display name or any whitespace are refused."""
    return isinstance(address, str) and len(address) <= 254 and _ADDRESS.fullmatch(address) is not None


def sender_domain(sender: str) -> str:
    """The domain of an address (``reports@bank.example`` -> ``bank.example``); ``localhost`` if none."""
    _, _, domain = sender.rpartition("@")
    domain = domain.strip().strip(">").lower()
    return domain or "localhost"


def message_id(report: str, period: str, recipient_id: str, generation: int, domain: str) -> str:
    """``<sha256("report|period|recipient_id|generation")[:32]@domain>``: the same key and generation give the
    same id on every machine and run; a new generation (an explicit re-send) gives a different one."""
    digest = hashlib.sha256(f"{report}|{period}|{recipient_id}|{generation}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def _aware(when: dt.datetime) -> dt.datetime:
    """Naive datetimes are UTC (the warehouse convention)."""
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    html: str,
    pdf: bytes | None,
    pdf_filename: str,
    report: str,
    period: str,
    recipient_id: str,
    generation: int,
    date: dt.datetime,
    text: str = DEFAULT_TEXT,
    msg_id: str | None = None,
) -> EmailMessage:
    """One report for one recipient: ``multipart/mixed`` holding ``multipart/alternative`` (``text`` as
    text/plain, ``html`` as text/html) and, when ``pdf`` is given, the PDF as an ``application/pdf``
    attachment named ``pdf_filename`` (non-ASCII names are RFC 2231 encoded).

    ``date`` is the report's logical time (the outbox's ``rendered_at``, naive = UTC), written in Asia/Shanghai time; ``msg_id`` overrides the
    derived Message-ID (:func:`message_id`), e.g. to keep the one already recorded in the outbox. The result
    serialises to the same bytes for the same arguments. ``X-CRM-*`` headers name the outbox key (report,
    period, recipient id, generation), never a person's name or address."""
    if not valid_address(to):
        raise ValueError("recipient address is not a single address")
    mid = msg_id or message_id(report, period, recipient_id, generation, sender_domain(sender))
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(_aware(date).astimezone(DATE_TZ))
    msg["Message-ID"] = mid
    msg["X-CRM-Report"] = report
    msg["X-CRM-Period"] = period
    msg["X-CRM-Recipient"] = recipient_id
    msg["X-CRM-Generation"] = str(generation)
    # base64 keeps the body 7-bit clean (no reliance on the server's 8BITMIME) and boundary-safe
    msg.set_content(text, subtype="plain", charset="utf-8", cte="base64")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    if pdf is not None:
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=pdf_filename)
    # MIME boundaries are random by default: derive them from the Message-ID so the bytes are reproducible.
    # "=_" cannot occur inside a base64 body, the encoding every part gets.
    token = hashlib.sha256(mid.encode()).hexdigest()[:24]
    for n, part in enumerate(p for p in msg.walk() if p.is_multipart()):
        part.set_boundary(f"=_crm_{token}_{n}")
    return msg
