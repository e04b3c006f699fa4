"""The Dagster resource that chooses and configures the transport, against the real SMTP server."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm.delivery import (
    FileTransport,
    SendGate,
    SmtpTransport,
    deliver,
    enqueue,
    ensure_outbox,
    message_from_files,
)
from crm.warehouse import begin
from orchestration.resources import DeliveryResource, _delivery
from tests.delivery.conftest import SENDER, address_of, record_scanned, render


def test_local_default_writes_eml_files(monkeypatch, tmp_path):
    monkeypatch.delenv("CRM_SMTP_HOST", raising=False)
    resource = _delivery("local")
    assert resource.transport == "file" and isinstance(resource.transport_for(tmp_path), FileTransport)
    with pytest.raises(ValueError, match="CRM_SMTP_HOST"):
        DeliveryResource(transport="smtp").transport_for(tmp_path)


def test_smtp_resource_delivers_each_message_once(smtp_server, warehouse, tmp_path: Path):
    resource = DeliveryResource(
        transport="smtp", smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_timeout=5.0, sender=SENDER
    )
    transport = resource.transport_for(tmp_path / "outbox")
    assert isinstance(transport, SmtpTransport)
    ensure_outbox(warehouse.engine, warehouse.schema)
    items = [render(tmp_path, "key_account", "2026-10", f"S{i:06d}") for i in range(3)]
    with begin(warehouse.engine, warehouse.schema) as conn:
        enqueue(conn, items)
    record_scanned(warehouse.engine, warehouse.schema, items)
    build = message_from_files(SENDER, address_of, gate=SendGate(warehouse.engine, warehouse.schema))
    first = deliver(warehouse.engine, warehouse.schema, transport, build)
    again = deliver(warehouse.engine, warehouse.schema, resource.transport_for(tmp_path), build)
    assert (first.sent, again.sent, again.already_sent) == (3, 0, 3)
    assert sorted(smtp_server.handler.message_ids().values()) == [1, 1, 1]
