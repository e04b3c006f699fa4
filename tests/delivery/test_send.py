"""Sending a run's periods (what the delivery assets call): totals over the periods, a transport per period,
the held and undeliverable rows listed by id and reason, the PDF named after the outbox key; on DuckDB and
PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import logging

import pytest
import sqlalchemy as sa

from crm.delivery import HELD, SENT, UNDELIVERABLE, FileTransport, enqueue, ensure_outbox, report_outbox
from crm.delivery.send import TOTALS, attachment_name, bullets, send_periods
from crm.warehouse import begin
from tests.delivery.conftest import SENDER, address_of, record_scanned, render


@pytest.fixture
def wh(warehouse):
    ensure_outbox(warehouse.engine, warehouse.schema)
    return warehouse


def test_bullets_list_ids_and_reasons_up_to_a_limit():
    assert bullets([]) == "none"
    assert bullets(["a: x", "b: y"]) == "- a: x\n- b: y"
    assert bullets([str(i) for i in range(5)], limit=2) == "- 0\n- 1\n- ... and 3 more"


def test_send_periods_sums_the_periods_and_lists_what_was_not_sent(wh, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    month = [render(tmp_path, "key_account", "2026-09", s) for s in ("S0001", "S0002", "S0003")]
    quarter = [render(tmp_path, "satisfaction_quarter", "2026-Q3", "S0001")]
    with begin(wh.engine, wh.schema) as conn:
        enqueue(conn, month + quarter)
    record_scanned(wh.engine, wh.schema, [month[0], month[2], *quarter])  # S0002 never scanned: held
    transports: list[FileTransport] = []

    def new_transport():
        transports.append(FileTransport(tmp_path / "outbox"))
        return transports[-1]

    def address(recipient_id: str):
        return None if recipient_id == "S0003" else address_of(recipient_id)

    log = logging.getLogger("test_send")
    totals = send_periods(
        wh.engine,
        wh.schema,
        new_transport,
        ["2026-09", "2026-Q3"],
        sender=SENDER,
        address_of=address,
        reports_root=None,
        log=log,
    )
    assert len(transports) == 2  # one per period
    assert {k: totals[k] for k in TOTALS} == {
        "sent": 2,
        "failed": 0,
        "deferred": 0,
        "held": 1,
        "undeliverable": 1,
        "already_sent": 0,
        "skipped_empty": 0,
    }
    assert totals["held_rows"].startswith("- key_account 2026-09 S0002: ") and "never scanned" in totals["held_rows"]
    assert totals["undeliverable_rows"] == "- key_account 2026-09 S0003: no_address"
    assert "1 messages held by the send gate" in caplog.text
    assert "1 recipients undeliverable at send time: key_account 2026-09 S0003: no_address" in caplog.text
    with begin(wh.engine, wh.schema) as conn:
        status = {(r.report, r.recipient_id): r.status for r in conn.execute(sa.select(report_outbox))}
    assert status == {
        ("key_account", "S0001"): SENT,
        ("key_account", "S0002"): HELD,
        ("key_account", "S0003"): UNDELIVERABLE,
        ("satisfaction_quarter", "S0001"): SENT,
    }
    sent = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((tmp_path / "outbox").glob("*.eml"))
    ]
    names = sorted(part.get_filename() for m in sent for part in m.iter_attachments())
    assert names == ["key_account_2026-09_S0001.pdf", "satisfaction_quarter_2026-Q3_S0001.pdf"]

    again = send_periods(
        wh.engine,
        wh.schema,
        new_transport,
        ["2026-09", "2026-Q3"],
        sender=SENDER,
        address_of=address,
        reports_root=None,
        log=log,
    )
    assert (again["sent"], again["already_sent"], again["held_rows"] != "none") == (0, 2, True)


def test_attachment_name_is_the_outbox_key():
    class Row:
        report, period, recipient_id = "branch", "2026-10", "S0009"

    assert attachment_name(Row()) == "branch_2026-10_S0009.pdf"
