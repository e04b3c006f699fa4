"""Messages and transports on their own: reproducible bytes, the .eml files, SMTP classification, STARTTLS."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import re
import ssl
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from crm.delivery import (
    FileTransport,
    SmtpSettings,
    SmtpTransport,
    TransportConfigError,
    build_message,
    eml_name,
    message_id,
)
from crm.delivery.transport import scrub
from tests.delivery.conftest import SENDER, Recorder, SmtpServer, address_of, free_port

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3 binary \x00\x01\xff\n%%EOF\n"
HTML = "<html><body><h1>客户经理月报</h1><p>余额 1,234.56 万元</p></body></html>"


def _msg(recipient_id: str = "S0001", generation: int = 0, **kw):
    args = dict(
        sender=SENDER,
        to=address_of(recipient_id),
        subject="2026年10月 客户经理月报",
        html=HTML,
        pdf=PDF,
        pdf_filename="客户经理月报-2026-10.pdf",
        report="rm_monthly",
        period="2026-10",
        recipient_id=recipient_id,
        generation=generation,
        date=dt.datetime(2026, 11, 1, 1, 30),
    )
    args.update(kw)
    return build_message(**args)


def test_message_ids_are_deterministic_per_key_and_generation():
    a = message_id("rm_monthly", "2026-10", "S0001", 0, "bank.example")
    assert a == message_id("rm_monthly", "2026-10", "S0001", 0, "bank.example")
    assert re.fullmatch(r"<[0-9a-f]{32}@bank\.example>", a)
    others = {
        message_id("rm_monthly", "2026-10", "S0001", 1, "bank.example"),
        message_id("rm_monthly", "2026-10", "S0002", 0, "bank.example"),
        message_id("rm_monthly", "2026-Q3", "S0001", 0, "bank.example"),
    }
    assert a not in others and len(others) == 3
    assert _msg()["Message-ID"] == a
    assert _msg().as_bytes() == _msg().as_bytes()  # boundaries and Date fixed too
    assert _msg(generation=1)["Message-ID"] != a


def test_file_transport_writes_exact_parsable_eml_and_is_idempotent(tmp_path):
    out = tmp_path / "outbox"
    transport = FileTransport(out)
    msgs = [_msg("S0001"), _msg("S0002"), _msg("S0001", generation=1)]
    results = [transport.send(m) for m in msgs]
    assert all(r.ok for r in results)
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [
        "rm_monthly__2026-10__S0001.eml",
        "rm_monthly__2026-10__S0001__g1.eml",
        "rm_monthly__2026-10__S0002.eml",
    ]
    first = {f.name: f.read_bytes() for f in files}
    for m, r in zip(msgs, results, strict=True):
        raw = Path(r.location).read_bytes()
        assert raw == m.as_bytes(policy=email.policy.SMTP) and b"\r\n" in raw
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert parsed["To"] == m["To"] and parsed["Message-ID"] == m["Message-ID"]
        assert parsed["Subject"] == "2026年10月 客户经理月报"
        html = parsed.get_body(("html",)).get_content()
        assert html.replace("\r\n", "\n").strip() == HTML
        assert "PDF" in parsed.get_body(("plain",)).get_content()
        [att] = list(parsed.iter_attachments())
        assert att.get_content_type() == "application/pdf"
        assert att.get_filename() == "客户经理月报-2026-10.pdf"
        assert att.get_content() == PDF

    # a rerun: same bytes, files not rewritten, no temporary files left
    mtimes = {f.name: f.stat().st_mtime_ns for f in files}
    rerun = [_msg("S0001"), _msg("S0002"), _msg("S0001", generation=1)]
    assert all(transport.send(m).ok for m in rerun)
    assert {f.name: f.read_bytes() for f in sorted(out.iterdir())} == first
    assert {f.name: f.stat().st_mtime_ns for f in out.iterdir()} == mtimes


def test_eml_names_are_safe_and_distinct():
    assert eml_name("rm_monthly", "2026-Q3", "S0001") == "rm_monthly__2026-Q3__S0001.eml"
    a, b = eml_name("客户月报", "2026-10", "S1"), eml_name("风险月报", "2026-10", "S1")
    assert a != b
    for name in (a, b, eml_name("../../etc", "x/y", "a b")):
        assert "/" not in name and not name.startswith(".")
        assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name)


def test_scrub_removes_addresses():
    assert scrub("550 5.1.1 <rm.s0001@branch.example>: no such user") == "550 5.1.1 <<address>>: no such user"
    assert "@" not in scrub("RCPT a.b+c@x.y.example, d@e")


def test_5xx_on_data_is_permanent_and_4xx_exhausts_retries(smtp_server: SmtpServer):
    smtp_server.handler.fail_data, smtp_server.handler.data_reply = 1, "554 5.6.0 message refused"
    transport, sleeps = smtp_server.transport(retries=3)
    r = transport.send(_msg())
    assert (r.ok, r.permanent, r.code, r.attempts) == (False, True, 554, 1) and sleeps == []
    assert transport.send(_msg("S0002")).ok  # the connection is still usable after a 5xx
    assert transport.connections == 1
    smtp_server.handler.fail_data, smtp_server.handler.data_reply = 10, "451 4.3.0 try later"
    r = transport.send(_msg("S0003"))
    assert (r.ok, r.permanent, r.code, r.attempts) == (False, False, 451, 3)
    assert sleeps == [0.01, 0.02]
    transport.close()


def test_server_down_is_transient():
    sleeps: list[float] = []
    transport = SmtpTransport(
        SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2, sender=SENDER),
        retries=2,
        backoff=(0.01, 2, 1),
        sleep=sleeps.append,
    )
    r = transport.send(_msg())
    assert (r.ok, r.permanent, r.attempts, r.code) == (False, False, 2, None)
    assert "ConnectionRefusedError" in r.error and sleeps == [0.01]


def _self_signed(tmp_path):
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_starttls_and_login(tmp_path):
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    logins: list[tuple[str, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password))
        # handled=False: aiosmtpd answers 535 itself (with True it expects us to have replied)
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    handler, port = Recorder(), free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_ctx,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        server = SmtpServer(handler, controller, "127.0.0.1", port)
        client_ctx = ssl.create_default_context(cafile=str(cert))
        transport = SmtpTransport(
            server.settings(starttls=True, username="crm", password="s3cret"),
            tls_context=client_ctx,
            sleep=lambda s: None,
        )
        assert "s3cret" not in repr(transport.settings)
        assert transport.send(_msg()).ok
        transport.close()
        assert len(handler.accepted) == 1 and logins == [("crm", b"s3cret")]

        wrong = SmtpTransport(
            server.settings(starttls=True, username="crm", password="nope"),
            tls_context=client_ctx,
            sleep=lambda s: None,
        )
        with pytest.raises(TransportConfigError, match="535"):
            wrong.send(_msg("S0002"))  # wrong credentials concern every message: raised, not retried
        assert len(handler.accepted) == 1 and wrong.connections == 1
    finally:
        controller.stop()
