"""The outbox and deliver() against a real SMTP server on loopback, on DuckDB and PostgreSQL."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm.delivery import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    SKIPPED_EMPTY,
    UNDELIVERABLE,
    FileTransport,
    SendGate,
    TransportConfigError,
    deliver,
    enqueue,
    ensure_outbox,
    get,
    mark_sending,
    message_from_files,
    pending,
    report_outbox,
)
from crm.warehouse import begin
from tests.delivery.conftest import SENDER, address_of, record_scanned, render

REPORT, PERIOD = "rm_monthly", "2026-10"
STAFF = [f"S{n:04d}" for n in range(1, 6)]
ADDRESSES = [address_of(s) for s in STAFF]


def _build(wh, address=address_of):
    return message_from_files(SENDER, address, gate=SendGate(wh.engine, wh.schema))


@pytest.fixture
def wh(warehouse):
    ensure_outbox(warehouse.engine, warehouse.schema)
    ensure_outbox(warehouse.engine, warehouse.schema)  # idempotent
    return warehouse


def _enqueue(wh, items, *, scanned: bool = True, **kw):
    """Queue ``items``; by default also record a passing leak scan of their files and subjects (what the
    pipeline's scan does before delivery)."""
    items = list(items)
    with begin(wh.engine, wh.schema) as conn:
        counts = enqueue(conn, items, **kw)
    if scanned:
        record_scanned(wh.engine, wh.schema, items)
    return counts


def _rows(wh) -> dict[str, dict]:
    with begin(wh.engine, wh.schema) as conn:
        result = conn.execute(sa.select(report_outbox)).mappings()
        return {m["recipient_id"]: dict(m) for m in result}


def _deliver(wh, transport, **kw):
    return deliver(wh.engine, wh.schema, transport, _build(wh), **kw)


def _assert_no_address(wh, caplog=None):
    """(j) no recipient address anywhere in the outbox or the logs; the only '@' allowed in the table is the
    sender's domain inside Message-IDs."""
    for row in _rows(wh).values():
        for col, value in row.items():
            text = str(value)
            assert not any(a in text or a.split("@")[0] in text for a in ADDRESSES), col
            if col != "message_id":
                assert "@" not in text, (col, text)
    if caplog is not None:
        ours = [r for r in caplog.records if r.name.startswith("crm.")]  # not the test server's own log
        assert ours
        for rec in ours:
            assert "@" not in rec.getMessage(), rec.getMessage()


def test_all_recipients_receive_exactly_once_and_reruns_send_nothing(wh, smtp_server, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    counts = _enqueue(wh, [render(tmp_path, REPORT, PERIOD, s) for s in STAFF])
    assert counts.inserted == len(STAFF)
    transport, sleeps = smtp_server.transport()
    summary = _deliver(wh, transport)
    assert (summary.sent, summary.failed, summary.deferred, summary.attempts) == (len(STAFF), 0, 0, len(STAFF))
    ids = smtp_server.handler.message_ids()
    assert len(ids) == len(STAFF) and set(ids.values()) == {1}  # (a) every one, once
    assert transport.connections == 1  # one connection for the batch
    rows = _rows(wh)
    assert {r["status"] for r in rows.values()} == {SENT}
    assert all(r["attempts"] == 1 and r["sent_at"] is not None for r in rows.values())
    assert {r["message_id"] for r in rows.values()} == set(ids)
    got = {str(m["To"]): str(m["X-CRM-Recipient"]) for m in smtp_server.handler.messages()}
    assert got == {address_of(s): s for s in STAFF}  # to exactly the right people

    again = _deliver(wh, smtp_server.transport()[0])  # (c) a rerun sends nothing
    assert (again.sent, again.already_sent, again.attempts) == (0, len(STAFF), 0)
    assert len(smtp_server.handler.accepted) == len(STAFF)
    assert sleeps == []
    _assert_no_address(wh, caplog)


def test_421_is_retried_with_backoff_and_delivered_once(wh, smtp_server, tmp_path):
    _enqueue(wh, [render(tmp_path, REPORT, PERIOD, s) for s in STAFF])
    smtp_server.handler.fail_data = 3
    transport, sleeps = smtp_server.transport(retries=5)
    summary = _deliver(wh, transport)
    assert (summary.sent, summary.failed, summary.deferred) == (len(STAFF), 0, 0)
    assert summary.attempts == len(STAFF) + 3
    ids = smtp_server.handler.message_ids()
    assert len(ids) == len(STAFF) and set(ids.values()) == {1}  # (b)
    assert sleeps == [0.01, 0.02, 0.04]  # exponential backoff
    first = _rows(wh)[STAFF[0]]
    assert first["status"] == SENT and first["attempts"] == 4
    assert smtp_server.handler.data_commands == len(STAFF) + 3


def test_transient_failures_beyond_retries_stay_pending_and_stop_the_run(wh, smtp_server, tmp_path):
    _enqueue(wh, [render(tmp_path, REPORT, PERIOD, s) for s in STAFF])
    smtp_server.handler.fail_data = 100
    transport, sleeps = smtp_server.transport(retries=2)
    summary = deliver(wh.engine, wh.schema, transport, _build(wh), max_consecutive_deferrals=2)
    assert (summary.sent, summary.deferred, summary.attempts, summary.stopped_early) == (0, 2, 4, True)
    rows = _rows(wh)
    assert [rows[s]["status"] for s in STAFF] == [PENDING] * len(STAFF)
    assert rows[STAFF[0]]["attempts"] == 2 and rows[STAFF[0]]["last_code"] == 421
    assert rows[STAFF[2]]["attempts"] == 0  # not tried after the run stopped
    smtp_server.handler.fail_data = 0
    summary = _deliver(wh, smtp_server.transport()[0])  # the next run delivers, same Message-IDs
    assert summary.sent == len(STAFF) and set(smtp_server.handler.message_ids().values()) == {1}


def test_550_fails_one_recipient_without_retry(wh, smtp_server, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    _enqueue(wh, [render(tmp_path, REPORT, PERIOD, s) for s in STAFF])
    bad = STAFF[2]
    smtp_server.handler.refuse = {address_of(bad)}
    transport, sleeps = smtp_server.transport()
    summary = _deliver(wh, transport)
    assert (summary.sent, summary.failed) == (len(STAFF) - 1, 1)  # (d)
    assert [(f.recipient_id, f.code) for f in summary.failures] == [(bad, 550)]
    assert sleeps == []  # no retry
    row = _rows(wh)[bad]
    assert row["status"] == FAILED and row["attempts"] == 1 and row["last_code"] == 550
    assert row["last_error"].startswith("550 ") and "<address>" in row["last_error"]
    assert bad not in smtp_server.handler.by_recipient()
    _assert_no_address(wh, caplog)  # the server's reply named the address; it was scrubbed

    assert _deliver(wh, smtp_server.transport()[0]).sent == 0  # failed rows are not retried by default
    smtp_server.handler.refuse = set()  # the address was fixed
    summary = _deliver(wh, smtp_server.transport()[0], retry_failed=True)
    assert summary.sent == 1 and _rows(wh)[bad]["status"] == SENT
    assert len(smtp_server.handler.by_recipient()[bad]) == 1


def test_backfill_does_not_resend_unless_asked(wh, smtp_server, tmp_path):
    _enqueue(wh, [render(tmp_path, REPORT, PERIOD, s) for s in STAFF[:2]])
    _deliver(wh, smtp_server.transport()[0])
    before = _rows(wh)
    first_ids = {s: before[s]["message_id"] for s in STAFF[:2]}

    counts = _enqueue(wh, [render(tmp_path, REPORT, PERIOD, s, version="v2") for s in STAFF[:2]])
    assert counts.kept_sent == 2  # (e) a re-render keeps it sent
    after = _rows(wh)
    for s in STAFF[:2]:
        assert after[s]["status"] == SENT and after[s]["message_id"] == first_ids[s]
        assert after[s]["latest_sha256"] != after[s]["content_sha256"] == before[s]["content_sha256"]
    assert _deliver(wh, smtp_server.transport()[0]).sent == 0
    assert len(smtp_server.handler.accepted) == 2

    counts = _enqueue(wh, [render(tmp_path, REPORT, PERIOD, STAFF[0], version="v2")], resend=True)
    assert counts.resend == 1
    row = _rows(wh)[STAFF[0]]
    assert (row["status"], row["generation"], row["attempts"]) == (PENDING, 1, 0)
    assert _deliver(wh, smtp_server.transport()[0]).sent == 1
    got = smtp_server.handler.by_recipient()
    assert len(got[STAFF[0]]) == 2 and len(set(got[STAFF[0]])) == 2  # sent again once, a new Message-ID
    assert len(got[STAFF[1]]) == 1
    assert _rows(wh)[STAFF[0]]["message_id"] == got[STAFF[0]][1]
    assert "v2" in smtp_server.handler.messages()[-1].get_body(("html",)).get_content()


def test_empty_report_is_skipped_and_logged(wh, smtp_server, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    counts = _enqueue(
        wh, [render(tmp_path, REPORT, PERIOD, STAFF[0], rows=0), render(tmp_path, REPORT, PERIOD, STAFF[1])]
    )
    assert counts.skipped_empty == 1
    summary = _deliver(wh, smtp_server.transport()[0])
    assert (summary.sent, summary.skipped_empty) == (1, 1)  # (f)
    assert _rows(wh)[STAFF[0]]["status"] == SKIPPED_EMPTY
    assert STAFF[0] not in smtp_server.handler.by_recipient()
    assert any("empty" in r.getMessage() and STAFF[0] in r.getMessage() for r in caplog.records)
    # a later non-empty render of the same key is sent
    _enqueue(wh, [render(tmp_path, REPORT, PERIOD, STAFF[0], rows=2)])
    assert _deliver(wh, smtp_server.transport()[0]).sent == 1
    _assert_no_address(wh, caplog)


def test_row_left_sending_is_resent_with_the_same_message_id(wh, smtp_server, tmp_path, caplog):
    """(g) The crash window: the server accepted the message, the process died before recording it."""
    _enqueue(wh, [render(tmp_path, REPORT, PERIOD, s) for s in STAFF[:2]])
    with begin(wh.engine, wh.schema) as conn:
        row = pending(conn)[0]
    msg = _build(wh)(row)
    with begin(wh.engine, wh.schema) as conn:
        assert mark_sending(conn, row, str(msg["Message-ID"]))
    transport, _ = smtp_server.transport()
    assert transport.send(msg).ok  # accepted ... and then the process "dies"
    transport.close()
    with begin(wh.engine, wh.schema) as conn:
        assert get(conn, *row.key).status == SENDING
        assert row.key in {r.key for r in pending(conn)}  # still to send
    caplog.set_level(logging.WARNING)
    summary = _deliver(wh, smtp_server.transport()[0])
    assert summary.sent == 2
    got = smtp_server.handler.by_recipient()
    assert len(got[row.recipient_id]) == 2 and len(set(got[row.recipient_id])) == 1  # a duplicate, same id
    assert smtp_server.handler.accepted[0] == smtp_server.handler.accepted[1]  # byte-identical, even
    assert any("same Message-ID" in r.getMessage() for r in caplog.records)


def test_disconnects_are_retried(wh, smtp_server, tmp_path):
    """(h) The server drops the connection at DATA once without accepting: retried, delivered once. Then it
    drops it once *after* accepting: the client cannot know, retries, and the copy carries the same id."""
    _enqueue(wh, [render(tmp_path, REPORT, PERIOD, s) for s in STAFF[:3]])
    smtp_server.handler.drop_before = 1
    transport, sleeps = smtp_server.transport()
    summary = _deliver(wh, transport)
    assert (summary.sent, summary.attempts) == (3, 4)
    assert set(smtp_server.handler.message_ids().values()) == {1} and len(smtp_server.handler.accepted) == 3
    assert transport.connections == 2 and len(sleeps) == 1
    assert _rows(wh)[STAFF[0]]["attempts"] == 2

    _enqueue(wh, [render(tmp_path, REPORT, "2026-11", STAFF[0])])
    smtp_server.handler.drop_after = 1
    assert _deliver(wh, smtp_server.transport()[0], period="2026-11").sent == 1
    ids = smtp_server.handler.by_recipient()[STAFF[0]]
    assert len(ids) == 3 and ids[1] == ids[2] != ids[0]


def test_starttls_required_but_not_offered_releases_the_row(wh, smtp_server, tmp_path):
    _enqueue(wh, [render(tmp_path, REPORT, PERIOD, STAFF[0])])
    transport, _ = smtp_server.transport(starttls=True)
    with pytest.raises(TransportConfigError, match="STARTTLS"):
        _deliver(wh, transport)
    row = _rows(wh)[STAFF[0]]
    assert row["status"] == PENDING and "STARTTLS" in row["last_error"]
    assert smtp_server.handler.accepted == []


def test_stale_claim_loses(wh, tmp_path):
    _enqueue(wh, [render(tmp_path, REPORT, PERIOD, STAFF[0])])
    with begin(wh.engine, wh.schema) as conn:
        row = pending(conn)[0]
    with begin(wh.engine, wh.schema) as conn:
        assert mark_sending(conn, row, "<a@b>")
    with begin(wh.engine, wh.schema) as conn:
        assert not mark_sending(conn, row, "<a@b>")  # the same read, claimed twice: only one wins


def test_unbuildable_message_fails_without_sending(wh, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    items = [render(tmp_path, REPORT, PERIOD, s) for s in STAFF[:2]]
    _enqueue(wh, items)
    Path(items[0].pdf_path).unlink()  # the rendered file is gone: a person has to look
    out = tmp_path / "outbox"
    summary = deliver(wh.engine, wh.schema, FileTransport(out), _build(wh))
    assert (summary.sent, summary.failed) == (1, 1)
    rows = _rows(wh)
    assert rows[STAFF[0]]["status"] == FAILED and "FileNotFoundError" in rows[STAFF[0]]["last_error"]
    assert [p.name for p in out.iterdir()] == [f"{REPORT}__{PERIOD}__{STAFF[1]}.eml"]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        (None, "no_address"),
        ("", "no_address"),
        (KeyError, "no_address"),
        ("rm.a@branch.example;rm.b@branch.example", "invalid_address"),
        ("rm.a@branch.example, rm.b@branch.example", "invalid_address"),
        ("Wang <rm.a@branch.example>", "invalid_address"),
        ("rm.a@branch.example\nBcc: x@evil.example", "invalid_address"),
    ],
)
def test_recipient_without_a_usable_address_is_undeliverable_not_failed(wh, tmp_path, caplog, address, reason):
    caplog.set_level(logging.INFO)
    _enqueue(wh, [render(tmp_path, REPORT, PERIOD, s) for s in STAFF[:2]])

    def lookup(recipient_id: str) -> str | None:
        if recipient_id != STAFF[0]:
            return address_of(recipient_id)
        if address is KeyError:
            raise KeyError(recipient_id)
        return address

    out = tmp_path / "outbox"
    summary = deliver(wh.engine, wh.schema, FileTransport(out), _build(wh, lookup))
    assert (summary.sent, summary.failed, summary.undeliverable) == (1, 0, 1)
    assert [(u.recipient_id, u.reason) for u in summary.undeliverables] == [(STAFF[0], reason)]
    rows = _rows(wh)
    assert (rows[STAFF[0]]["status"], rows[STAFF[0]]["last_error"]) == (UNDELIVERABLE, reason)
    assert rows[STAFF[0]]["attempts"] == 0 and rows[STAFF[0]]["message_id"] is None  # nothing handed over
    assert [p.name for p in out.iterdir()] == [f"{REPORT}__{PERIOD}__{STAFF[1]}.eml"]
    assert any(
        STAFF[0] in r.getMessage() and reason in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
    )
    _assert_no_address(wh, caplog)
    # not picked up again by delivery; a re-render for a servable recipient queues it again
    assert deliver(wh.engine, wh.schema, FileTransport(out), _build(wh)).sent == 0
    _enqueue(wh, [render(tmp_path, REPORT, PERIOD, STAFF[0])])
    assert _rows(wh)[STAFF[0]]["status"] == PENDING
    assert deliver(wh.engine, wh.schema, FileTransport(out), _build(wh)).sent == 1


def test_file_transport_through_the_outbox(wh, tmp_path):
    _enqueue(wh, [render(tmp_path, REPORT, PERIOD, s) for s in STAFF[:2]])
    out = tmp_path / "outbox"
    assert deliver(wh.engine, wh.schema, FileTransport(out), _build(wh)).sent == 2
    rows = _rows(wh)
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{REPORT}__{PERIOD}__{s}.eml" for s in STAFF[:2])
    assert all(r["eml_path"] and re.search(r"\.eml$", r["eml_path"]) for r in rows.values())
    _assert_no_address(wh)
