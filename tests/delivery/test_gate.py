"""The send gate: leak-scan hashes in ``leak_scan_files`` and delivery that sends only bytes a passing scan
covers, on DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm.delivery import (
    HELD,
    PENDING,
    SENT,
    FileTransport,
    SendGate,
    coverage,
    deliver,
    enqueue,
    ensure_outbox,
    leak_scan_files,
    message_from_files,
    record_scans,
    report_outbox,
    sha256_of,
)
from crm.warehouse import begin
from tests.delivery.conftest import SENDER, address_of, record_scanned, render, scan_rows

REPORT, PERIOD = "key_account", "2026-10"
STAFF = ["S0001", "S0002", "S0003"]
T0 = dt.datetime(2026, 11, 1, 2, 0)


@pytest.fixture
def wh(warehouse):
    ensure_outbox(warehouse.engine, warehouse.schema)
    return warehouse


def _record(wh, rows):
    with begin(wh.engine, wh.schema) as conn:
        return record_scans(conn, rows)


def _coverage(wh, hashes):
    with begin(wh.engine, wh.schema) as conn:
        return coverage(conn, hashes)


def _rows(wh) -> dict[str, dict]:
    with begin(wh.engine, wh.schema) as conn:
        return {m["recipient_id"]: dict(m) for m in conn.execute(sa.select(report_outbox)).mappings()}


def _queue(wh, items):
    with begin(wh.engine, wh.schema) as conn:
        enqueue(conn, items)


def _deliver(wh, out: Path, **kw):
    gate = kw.pop("gate", None) or SendGate(wh.engine, wh.schema)
    return deliver(wh.engine, wh.schema, FileTransport(out), message_from_files(SENDER, address_of, gate=gate), **kw)


def _scan(sha: str, passed: bool, at: dt.datetime, source: str = "2026-10/x.html") -> dict:
    return {
        "sha256": sha,
        "source": source,
        "period": PERIOD,
        "passed": passed,
        "findings": 0 if passed else 2,
        "method": "values",
        "run_id": "r",
        "scanned_at": at,
    }


def test_coverage_is_the_latest_verdict_on_the_exact_bytes(wh):
    a, b, c, never = (sha256_of(x) for x in (b"a", b"b", b"c", b"never"))
    assert (
        _record(
            wh,
            [
                _scan(a, True, T0),
                _scan(b, True, T0),
                _scan(b, False, T0 + dt.timedelta(minutes=5)),  # the raw zone gained its value
                _scan(c, True, T0),
                _scan(c, False, T0),  # the same instant: the failing scan wins
            ],
        )
        == 5
    )
    assert _coverage(wh, [a, b, c, never]) == {a: True, b: False, c: False}
    _record(wh, [_scan(b, True, T0 + dt.timedelta(minutes=9))])  # scanned again and clean: covered again
    assert _coverage(wh, [b]) == {b: True}
    with begin(wh.engine, wh.schema) as conn:
        stored = conn.execute(
            sa.select(leak_scan_files.c.method, sa.func.count()).group_by(leak_scan_files.c.method)
        ).all()
    assert stored == [("values", 6)]


@pytest.mark.parametrize(
    "bad",
    [
        {"sha256": "ABC"},
        {"sha256": "g" * 64},
        {"source": ""},
        {"method": "guess"},
        {"passed": "yes"},
        {"passed": True, "findings": 1},
        {"findings": -1},
    ],
)
def test_malformed_scan_rows_are_refused_and_nothing_is_written(wh, bad):
    good = _scan(sha256_of(b"x"), True, T0)
    with pytest.raises(ValueError, match="scan row 1"):
        _record(wh, [good, {**good, **bad}])
    assert _coverage(wh, [good["sha256"]]) == {}


def test_structural_scans_are_recorded_as_such(wh):
    notice = b"job month_end_pipeline partition 2026-10-01 failed: step marts__customer_360, run 1234"
    _record(
        wh,
        [
            {
                "sha256": sha256_of(notice),
                "source": "notice:run-1234",
                "passed": True,
                "findings": 0,
                "method": "structural",
            }
        ],
    )
    assert _coverage(wh, [sha256_of(notice)]) == {sha256_of(notice): True}


def test_unscanned_leaking_and_changed_reports_are_held_the_others_sent(wh, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    items = [render(tmp_path, REPORT, PERIOD, s) for s in STAFF]
    _queue(wh, items)
    record_scanned(wh.engine, wh.schema, items[:1])  # S0001 scanned clean
    leaked = scan_rows(items[1:2])  # S0002's scan found personal data in its HTML
    for r in leaked:
        if r["source"].endswith(".html"):
            r.update(passed=False, findings=1)
    _record(wh, leaked)
    out = tmp_path / "outbox"
    summary = _deliver(wh, out)  # S0003 was never scanned
    assert (summary.sent, summary.held, summary.failed) == (1, 2, 0)
    rows = _rows(wh)
    assert rows["S0001"]["status"] == SENT
    assert rows["S0002"]["status"] == HELD and rows["S0003"]["status"] == HELD
    html2 = Path(items[1].html_path).as_posix()
    assert rows["S0002"]["last_error"] == f"the scan of {html2} found personal data"
    assert f"{Path(items[2].html_path).as_posix()} was never scanned" in rows["S0003"]["last_error"]
    # its subject has the same bytes as S0001's, which a passing scan covers: coverage is by content
    assert "subject:" not in rows["S0003"]["last_error"]
    assert rows["S0002"]["attempts"] == 0 and rows["S0002"]["message_id"] is None  # nothing handed over
    assert [p.name for p in out.iterdir()] == [f"{REPORT}__{PERIOD}__S0001.eml"]
    assert {(h.recipient_id, h.reason) for h in summary.holds} == {
        ("S0002", rows["S0002"]["last_error"]),
        ("S0003", rows["S0003"]["last_error"]),
    }
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("S0002" in m and "held" in m and "found personal data" in m for m in warned)

    # the next delivery retries held rows: still held until a passing scan covers them ...
    again = _deliver(wh, out)
    assert (again.sent, again.held) == (0, 2)
    # ... and sent once one does (S0002 re-rendered clean and scanned; S0003 scanned as it is)
    fixed = render(tmp_path, REPORT, PERIOD, "S0002", version="v2")
    _queue(wh, [fixed])
    assert _rows(wh)["S0002"]["status"] == PENDING and _rows(wh)["S0002"]["last_error"] is None
    record_scanned(wh.engine, wh.schema, [fixed, items[2]])
    third = _deliver(wh, out)
    assert (third.sent, third.held) == (2, 0)
    assert {r["status"] for r in _rows(wh).values()} == {SENT}


@pytest.mark.parametrize("part", ["html", "pdf", "subject"])
def test_a_part_changed_after_its_passing_scan_is_held(wh, tmp_path, part):
    items = [render(tmp_path, REPORT, PERIOD, s) for s in STAFF[:2]]
    _queue(wh, items)
    record_scanned(wh.engine, wh.schema, items)
    changed = items[0]
    if part == "subject":
        with begin(wh.engine, wh.schema) as conn:
            conn.execute(
                sa.update(report_outbox)
                .where(report_outbox.c.recipient_id == changed.recipient_id)
                .values(subject="【重点客户月报】王芳")
            )
        label = f"subject:{REPORT}:{PERIOD}:{changed.recipient_id}"
    else:
        path = Path(changed.html_path if part == "html" else changed.pdf_path)
        path.write_bytes(path.read_bytes() + b"\n<!-- 110101199003074518 -->\n")
        label = path.as_posix()
    out = tmp_path / "outbox"
    summary = _deliver(wh, out)
    assert (summary.sent, summary.held) == (1, 1)
    row = _rows(wh)[changed.recipient_id]
    assert row["status"] == HELD and row["last_error"] == f"{label} changed since it was scanned"
    assert not (out / f"{REPORT}__{PERIOD}__{changed.recipient_id}.eml").exists()


def test_the_message_carries_the_bytes_that_were_checked(wh, tmp_path):
    """Nothing can change between the check and the send: the builder checks the bytes it read and builds
    the message from those bytes, so a file rewritten right after the check does not reach the message."""
    (item,) = [render(tmp_path, REPORT, PERIOD, STAFF[0])]
    _queue(wh, [item])
    record_scanned(wh.engine, wh.schema, [item])
    leak = "110101199003074518"

    class Racing(SendGate):
        def require(self, parts):
            hashes = super().require(parts)
            Path(item.html_path).write_text(f"<p>{leak}</p>", encoding="utf-8")  # rewritten after the check
            return hashes

    out = tmp_path / "outbox"
    assert _deliver(wh, out, gate=Racing(wh.engine, wh.schema)).sent == 1
    sent = (out / f"{REPORT}__{PERIOD}__{STAFF[0]}.eml").read_bytes()
    import email
    import email.policy

    body = email.message_from_bytes(sent, policy=email.policy.default).get_body(("html",)).get_content()
    assert leak not in body and "v1" in body


def test_relative_sources_under_the_reports_root(wh, tmp_path):
    """Scans record files relative to CRM_HOME/reports; the gate given that root finds them."""
    root = tmp_path / "reports"
    items = [render(tmp_path, REPORT, PERIOD, STAFF[0])]
    _queue(wh, items)
    _record(wh, scan_rows(items, root=root))
    with begin(wh.engine, wh.schema) as conn:
        sources = {s for (s,) in conn.execute(sa.select(leak_scan_files.c.source))}
    assert f"{REPORT}/{PERIOD}/{STAFF[0]}.html" in sources
    assert _deliver(wh, tmp_path / "outbox", gate=SendGate(wh.engine, wh.schema, root)).sent == 1


def test_a_stored_path_outside_the_reports_zone_is_never_read_or_sent(wh, tmp_path):
    """The outbox stores the rendered files' paths; delivery reads them only inside CRM_HOME/reports (a path
    leading elsewhere, e.g. through a symlink planted in the reports folder, fails the row unread)."""
    root = tmp_path / "reports"
    items = [render(tmp_path, REPORT, PERIOD, s) for s in STAFF[:2]]
    elsewhere = tmp_path / "elsewhere.html"
    elsewhere.write_text("<html><body>outside</body></html>", encoding="utf-8")
    link = Path(items[1].html_path)
    link.unlink()
    link.symlink_to(elsewhere)
    _queue(wh, items)
    _record(wh, scan_rows(items, root=root))  # even a passing scan of those bytes does not let them out
    summary = _deliver(wh, tmp_path / "outbox", gate=SendGate(wh.engine, wh.schema, root))
    rows = _rows(wh)
    assert summary.sent == 1 and rows[STAFF[0]]["status"] == SENT
    assert rows[STAFF[1]]["status"] == "failed" and "unsafe path in zone reports" in rows[STAFF[1]]["last_error"]
    assert "elsewhere" not in rows[STAFF[1]]["last_error"]
    assert [p.name for p in (tmp_path / "outbox").glob("*.eml")] == [f"{REPORT}__{PERIOD}__{STAFF[0]}.eml"]
