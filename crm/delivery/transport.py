"""Transports: hand one built message to somewhere and say what happened.

- :class:`FileTransport` (the default) writes the exact bytes of each message as an ``.eml`` file into an
  outbox folder, atomically (temporary file + ``os.replace``), under a name derived from the outbox key.
- :class:`SmtpTransport` sends through an SMTP server (optionally STARTTLS + login), reusing one connection
  for a batch and reconnecting after a failure. 4xx replies, disconnects, timeouts and socket errors are
  *transient*: retried with exponential backoff, reconnecting, up to ``retries`` attempts in all. 5xx replies
  are *permanent*: not retried. A 5xx while setting the session up (greeting, STARTTLS, AUTH), or a server
  that does not offer STARTTLS when it is required, concerns every message, so it raises
  :class:`TransportConfigError` instead of failing messages one by one; nothing was handed over then.

A transport never raises for a message-level problem: it returns a :class:`SendResult`. ``SendResult.error``
holds the SMTP code and reply text with every e-mail address replaced by ``<address>``, so it can be stored
and logged.

The remaining at-least-once window of SMTP itself: if the connection drops (or times out) after the message
body was sent but before the server's reply arrived, the server may have accepted it; the retry then sends
it again, with the same Message-ID, which is what lets the receiving side deduplicate.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from crm.atomic import write_bytes
from crm.delivery.message import POLICY
from crm.zones import UnsafePathError, safe_path

_ADDRESS = re.compile(r"[^\s<>()\[\]\"',;:@]+@[^\s<>()\[\]\"',;:@]+")


def scrub(text: str) -> str:
    """``text`` with anything that looks like an e-mail address replaced by ``<address>``."""
    return _ADDRESS.sub("<address>", text)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send. ``sender`` is the From address (its domain ends every Message-ID);
    ``starttls`` upgrades the connection before ``login``, which happens when ``username`` is set."""

    host: str
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    sender: str = "crm-reports@localhost"

    def __repr__(self) -> str:  # never print the password
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, starttls={self.starttls}, "
            f"username={self.username!r}, password={'***' if self.password else None}, "
            f"timeout={self.timeout}, sender={self.sender!r})"
        )


@dataclass(frozen=True)
class SendResult:
    """What happened to one message. ``ok``: accepted (SMTP 250 after DATA) or written. ``attempts``: how
    many times it was tried in this call. ``permanent``: a failure that a retry would not fix (5xx).
    ``code``: the last SMTP reply code, if any. ``error``: code and reply text, addresses scrubbed.
    ``location``: where a file transport wrote it."""

    ok: bool
    attempts: int
    code: int | None = None
    error: str | None = None
    permanent: bool = False
    location: str | None = None


class TransportConfigError(RuntimeError):
    """The transport cannot send anything (refused session, authentication, no STARTTLS). Raised before any
    message was handed over; the message text carries no address."""


class Transport(Protocol):
    def send(self, msg: EmailMessage) -> SendResult: ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------------------------- files

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def eml_name(report: str, period: str, recipient_id: str, generation: int = 0) -> str:
    """``<report>__<period>__<recipient>[__g<n>].eml`` with only ``[A-Za-z0-9._-]``. When a part had to be
    changed to get there (e.g. a Chinese report name), a short hash of the exact key is appended, so two
    different keys never share a file."""
    parts = [report, period, recipient_id]
    safe = [_UNSAFE.sub("_", p).strip("._") or "_" for p in parts]
    name = "__".join(safe)
    if generation:
        name += f"__g{generation}"
    if safe != parts:
        name += "__" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]
    return name + ".eml"


def write_atomically(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically (:func:`crm.atomic.write_bytes`: readers see the old file or the
    new one, never a partial one). Returns False (and writes nothing) when ``path`` already holds exactly
    ``data``."""
    if path.exists() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    write_bytes(path, data)
    return True


class FileTransport:
    """Writes each message as ``<outbox_dir>/<eml_name(...)>`` (the key comes from the ``X-CRM-*`` headers
    :func:`crm.delivery.message.build_message` sets; a message without them is named after its
    Message-ID). The file holds exactly ``msg.as_bytes(policy=SMTP)``. Idempotent: the same message gives
    the same file and bytes, and an unchanged file is not rewritten. The path is built by
    :func:`crm.zones.safe_path`: a name a symlink leads out of the outbox folder is refused
    (:meth:`path_for` raises :class:`crm.zones.UnsafePathError`; :meth:`send` returns a permanent failure
    with that message, which names no value)."""

    def __init__(self, outbox_dir: str | os.PathLike[str]):
        self.outbox_dir = Path(outbox_dir)

    def path_for(self, msg: EmailMessage) -> Path:
        report, period, recipient = msg["X-CRM-Report"], msg["X-CRM-Period"], msg["X-CRM-Recipient"]
        if report and period and recipient:
            generation = int(msg["X-CRM-Generation"] or 0)
            origin = (
                f"the outbox message of report {_UNSAFE.sub('_', str(report))} period {_UNSAFE.sub('_', str(period))}"
            )
            return safe_path(
                self.outbox_dir, eml_name(str(report), str(period), str(recipient), generation), origin=origin
            )
        mid = str(msg["Message-ID"] or "")
        if not mid:
            raise ValueError("message has neither X-CRM key headers nor a Message-ID")
        return safe_path(
            self.outbox_dir,
            f"{hashlib.sha256(mid.encode()).hexdigest()[:32]}.eml",
            origin="an outbox message named by its Message-ID",
        )

    def send(self, msg: EmailMessage) -> SendResult:
        try:
            path = self.path_for(msg)
        except UnsafePathError as e:  # the message cannot be written where it belongs: no retry fixes that
            return SendResult(ok=False, attempts=1, error=str(e), permanent=True)
        try:
            write_atomically(path, msg.as_bytes(policy=POLICY))
        except OSError as e:  # disk full, permissions: worth another run, not a verdict on the message
            return SendResult(ok=False, attempts=1, error=scrub(f"{type(e).__name__}: {e.strerror or e}"))
        return SendResult(ok=True, attempts=1, location=str(path))

    def close(self) -> None:
        pass

    def __enter__(self) -> FileTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------- SMTP


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _reply(code: int, reply: bytes | str) -> str:
    return scrub(f"{code} {_text(reply)}".strip())


def _is_permanent(code: int | None) -> bool:
    return code is not None and 500 <= code <= 599


class SmtpTransport:
    """Sends through ``settings.host:settings.port`` with :mod:`smtplib`.

    One connection serves every message until a failure; after a transient failure it is dropped and the
    next attempt reconnects. ``retries`` is the maximum number of attempts per message (first one
    included); between attempts it sleeps ``min(base * factor ** (n - 1), max)`` seconds for
    ``backoff = (base, factor, max)``. ``sleep`` is injectable for tests; ``tls_context`` defaults to
    :func:`ssl.create_default_context` (certificate and host name verified).

    Classification: reply codes 4xx, :class:`smtplib.SMTPServerDisconnected`, timeouts and other
    :class:`OSError` are transient; 5xx (refused sender, refused recipient(s), refused data) permanent. A
    refusal of several recipients is permanent only when every code is 5xx.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        retries: int = 5,
        backoff: tuple[float, float, float] = (1.0, 2.0, 60.0),
        sleep: Callable[[float], None] = time.sleep,
        *,
        tls_context: ssl.SSLContext | None = None,
    ):
        if retries < 1:
            raise ValueError("retries counts attempts and must be at least 1")
        self.settings = settings
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.tls_context = tls_context
        self.connections = 0  # opened so far, for the curious (and the tests)
        self._smtp: smtplib.SMTP | None = None

    # -- session
    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            # host given to the constructor (not to connect()): starttls() verifies the certificate against it
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        except smtplib.SMTPConnectError as e:  # the greeting was not 220
            if _is_permanent(e.smtp_code):
                raise TransportConfigError(
                    f"{s.host}:{s.port} refused the session: {_reply(e.smtp_code, e.smtp_error)}"
                ) from None
            raise
        self.connections += 1
        try:
            smtp.ehlo()
            if s.starttls:
                if not smtp.has_extn("starttls"):
                    raise TransportConfigError(f"{s.host}:{s.port} does not offer STARTTLS, which is required")
                smtp.starttls(context=self.tls_context or ssl.create_default_context())
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password or "")
        except TransportConfigError:
            smtp.close()
            raise
        except smtplib.SMTPNotSupportedError as e:  # AUTH not offered
            smtp.close()
            raise TransportConfigError(f"{s.host}:{s.port}: {scrub(str(e))}") from None
        except smtplib.SMTPResponseException as e:
            smtp.close()
            if _is_permanent(e.smtp_code):
                raise TransportConfigError(
                    f"{s.host}:{s.port} refused the session: {_reply(e.smtp_code, e.smtp_error)}"
                ) from None
            raise
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def close(self) -> None:
        """QUIT and close the connection, if any; a later :meth:`send` reconnects."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _delay(self, attempt: int) -> float:
        base, factor, top = self.backoff
        return min(base * factor ** (attempt - 1), top)

    # -- one message
    def _attempt(self, msg: EmailMessage) -> tuple[bool, int | None, str | None, bool]:
        """One try: (ok, code, error, permanent). Raises TransportConfigError."""
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            refused = self._smtp.send_message(msg, from_addr=self.settings.sender)
        except smtplib.SMTPRecipientsRefused as e:
            refused = e.recipients
        except smtplib.SMTPResponseException as e:  # sender refused, data refused, 4xx at connect ...
            code = e.smtp_code
            return False, code, _reply(code, e.smtp_error), _is_permanent(code)
        except smtplib.SMTPServerDisconnected as e:
            return False, None, scrub(f"disconnected: {e}"), False
        except OSError as e:  # refused, reset, timeout (TimeoutError is an OSError)
            return False, None, scrub(f"{type(e).__name__}: {e}"), False
        except smtplib.SMTPException as e:  # e.g. SMTPUTF8 needed but not offered: the message is the issue
            return False, None, scrub(f"{type(e).__name__}: {e}"), True
        if not refused:
            return True, 250, None, False
        codes = [code for code, _ in refused.values()]
        worst = max(codes)
        first = next(iter(refused.values()))
        return False, worst, _reply(first[0], first[1]), all(_is_permanent(c) for c in codes)

    def send(self, msg: EmailMessage) -> SendResult:
        code: int | None = None
        error: str | None = None
        for attempt in range(1, self.retries + 1):
            try:
                ok, code, error, permanent = self._attempt(msg)
            except TransportConfigError:
                self._drop()
                raise
            if ok:
                return SendResult(ok=True, attempts=attempt, code=code)
            if permanent:
                # smtplib resets the transaction (RSET) after a 5xx, so the connection stays usable
                return SendResult(ok=False, attempts=attempt, code=code, error=error, permanent=True)
            self._drop()
            if attempt < self.retries:
                self.sleep(self._delay(attempt))
        return SendResult(ok=False, attempts=self.retries, code=code, error=error, permanent=False)
