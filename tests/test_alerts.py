"""Run-failure notices (crm.alerts), without Dagster: who gets them, what they say, what they never say."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest

from crm import alerts
from crm.reports.fmt import LOCALES

RUN = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
FAILURE = alerts.RunFailure(
    job="month_end_pipeline",
    run_id=RUN,
    failed_at=dt.datetime(2026, 1, 31, 17, 5, 9),  # naive UTC
    partition_range=("2026-01-01", "2026-02-01"),
    failed_steps=("marts__customer_360",),
    failed_checks=("staged/staff:rows_valid",),
)


def test_active_data_engineers_only():
    staff = pd.DataFrame(
        {
            "staff_id": ["D2", "D1", "D3", "R1", "D1"],
            "role": ["DE", "DE", "DE", "RM", "DE"],
            "status": ["A", "A", "L", "A", "A"],
        }
    )
    assert alerts.data_engineers(staff) == ["D1", "D2"]
    assert alerts.data_engineers(staff.iloc[0:0]) == []


def test_latest_staff_partition(tmp_path):
    assert alerts.latest_staff_partition(tmp_path) is None
    (tmp_path / "staff").mkdir()
    for name in ("2026-01-30.parquet", "2026-02-02.parquet", "notes.parquet", "2026-01-31.parquet"):
        (tmp_path / "staff" / name).touch()
    assert alerts.latest_staff_partition(tmp_path).name == "2026-02-02.parquet"


def test_period_is_dated_unique_per_run_and_fits_the_outbox():
    assert FAILURE.bank_time == dt.datetime(2026, 2, 1, 1, 5, 9)  # UTC+8: the next day in the bank
    assert FAILURE.period == "20260201-0f1e2d3c4b5" and len(FAILURE.period) == 20
    other = alerts.RunFailure("j", RUN[:-1] + "0", FAILURE.failed_at)
    assert other.period == FAILURE.period  # same first 11 hex digits: 2**44 run ids per day to tell apart
    assert alerts.RunFailure("j", "1" + RUN[1:], FAILURE.failed_at).period != FAILURE.period
    with pytest.raises(ValueError, match="run id"):
        alerts.RunFailure("j", "../../etc/passwd", FAILURE.failed_at)


def test_partition_labels():
    assert FAILURE.partition_label == "2026-01-01 .. 2026-02-01"
    assert alerts.RunFailure("j", RUN, FAILURE.failed_at, partition="2026-01-31").partition_label == "2026-01-31"
    assert alerts.RunFailure("j", RUN, FAILURE.failed_at, partition_range=("a", "a")).partition_label == "a"
    assert alerts.RunFailure("j", RUN, FAILURE.failed_at).partition_label == ""


def test_identifiers_cannot_carry_values_or_markup():
    assert alerts.identifier("staged/staff:rows_valid") == "staged/staff:rows_valid"
    assert alerts.identifier("marts__x[2026-01-31]") == "marts__x[2026-01-31]"
    assert alerts.identifier("<b>张三\u202e x</b>") == "?b?????x?/b?"
    assert len(alerts.identifier("x" * 1000)) == 200


@pytest.mark.parametrize("locale", LOCALES)
def test_notice_names_the_facts_in_both_languages(locale):
    html = alerts.render_notice(FAILURE, locale)
    text = alerts.plain_text(FAILURE, locale)
    for fact in (
        "month_end_pipeline",
        RUN,
        "2026-01-01 .. 2026-02-01",
        "marts__customer_360",
        "staged/staff:rows_valid",
    ):
        assert fact in html and fact in text
    subject = alerts.subject(FAILURE, locale)
    assert "month_end_pipeline" in subject and RUN[:8] in subject and RUN not in subject
    assert "01:05" in html  # the failure time in bank time
    assert alerts.render_notice(FAILURE, locale) == html  # deterministic: same run, same bytes


def test_hostile_identifiers_are_neutralised_in_the_notice():
    hostile = alerts.RunFailure(
        job="<script>alert(1)</script>",
        run_id=RUN,
        failed_at=FAILURE.failed_at,
        partition="2026-01-31\u202e",
        failed_steps=("a\nb",),
        failed_checks=(),
    )
    html = alerts.render_notice(hostile, "en")
    assert "<script>" not in html and "\u202e" not in html and "a\nb" not in html
    assert "?script?alert?1??/script?" in html and "2026-01-31?" in html


def test_outbox_items_and_scan_rows(tmp_path):
    html, txt = alerts.notice_paths(tmp_path / "reports", FAILURE)
    assert html == tmp_path / "reports" / "2026-02-01" / "run_failure" / f"{RUN}.html"
    assert txt.suffix == ".txt" and txt.parent == html.parent
    items = alerts.outbox_items(FAILURE, ["D1", "D2"], html, "s")
    assert [(i.report, i.period, i.recipient_id, i.recipient_role, i.rows) for i in items] == [
        ("run_failure", FAILURE.period, "D1", "DE", 1),
        ("run_failure", FAILURE.period, "D2", "DE", 1),
    ]
    rows = alerts.scan_rows(FAILURE, [(html, b"<html></html>")], tmp_path / "reports")
    assert rows[0]["sha256"] == hashlib.sha256(b"<html></html>").hexdigest()
    assert {k: rows[0][k] for k in ("source", "passed", "findings", "method", "run_id", "period")} == {
        "source": f"2026-02-01/run_failure/{RUN}.html",
        "passed": True,
        "findings": 0,
        "method": "structural",
        "run_id": RUN,
        "period": FAILURE.period,
    }


QFILE = "STAFF_20260131_001.dat"
NAME, ADDRESS = "欧阳锋", "ouyang.feng@bank.example.cn;x@evil.example"


def quarantine(raw, day, rows: list[dict]) -> None:
    """A staff quarantine file as staging writes it: the raw values (name and address included) and the
    failing rule ids."""
    folder = raw / "_quarantine" / "staff"
    folder.mkdir(parents=True, exist_ok=True)
    full = [{"staff_name": NAME, "email": ADDRESS, "branch_id": "HO", "_source_file": QFILE, **r} for r in rows]
    pd.DataFrame(full).to_parquet(folder / f"{day}.parquet")


QUARANTINED_DE = [
    # a role and a status that failed their rules on a control character: still an active data engineer
    {
        "staff_id": "D004",
        "role": "DE\u200b",
        "status": " A",
        "_row_number": 4,
        "_rule_ids": "staff.role.control_chars,staff.status.code_set",
    },
    {"staff_id": "D005", "role": "DE", "status": "A", "_row_number": 5, "_rule_ids": "staff.email.email_format"},
    {"staff_id": "D005", "role": "DE", "status": "A", "_row_number": 9, "_rule_ids": "staff.key.unique"},
    # the id itself failed a rule: no usable id, the row of the staff file stands for it
    {
        "staff_id": "D0000000000000000000006",
        "role": "DE",
        "status": "A",
        "_row_number": 6,
        "_rule_ids": "staff.staff_id.max_length",
    },
    # not data engineers: one who left, a manager
    {"staff_id": "D007", "role": "DE", "status": "L", "_row_number": 7, "_rule_ids": "staff.email.email_format"},
    {"staff_id": "R008", "role": "RM", "status": "A", "_row_number": 8, "_rule_ids": "staff.email.email_format"},
]


def test_quarantined_data_engineers_are_recipients_with_the_reason(tmp_path, monkeypatch):
    from crm.reports.recipients import QUARANTINE_COLUMNS

    raw, reports, day = tmp_path / "raw", tmp_path / "reports", dt.date(2026, 1, 31)
    reports.mkdir()
    assert alerts.quarantined_engineers(raw, day, reports) == {}  # no quarantine file
    quarantine(raw, day, QUARANTINED_DE)
    read, asked = pd.read_parquet, []

    def spy(path, *args, columns=None, **kw):
        asked.append(list(columns) if columns is not None else ["*"])
        return read(path, *args, columns=columns, **kw)

    monkeypatch.setattr(pd, "read_parquet", spy)
    found = alerts.quarantined_engineers(raw, day, reports)
    monkeypatch.setattr(pd, "read_parquet", read)
    assert asked and all(set(cols) <= set(QUARANTINE_COLUMNS) for cols in asked)  # never the name or address
    assert found == {
        "D004": f"quarantined: staff.role.control_chars,staff.status.code_set (staff file {QFILE} row 4)",
        "D005": f"quarantined: staff.email.email_format (staff file {QFILE} row 5)",
        "row-6": f"unusable staff id: staff.staff_id.max_length (staff file {QFILE} row 6)",
    }
    items = alerts.outbox_items(FAILURE, ["D001", "D005"], reports / "n.html", "s", found)
    assert [(i.recipient_id, i.undeliverable) for i in items] == [
        ("D001", None),
        ("D005", None),
        ("D004", found["D004"]),
        ("row-6", found["row-6"]),
    ]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        (KeyError, "no_address"),
        (None, "no_address"),
        (float("nan"), "no_address"),
        ("  ", "no_address"),
        ("", "no_address"),
        ("a@bank.example, b@bank.example", "invalid_address"),
        ("Zhang <a@bank.example>", "invalid_address"),
    ],
)
def test_a_missing_address_is_no_address_and_a_bad_one_invalid_address(tmp_path, address, reason):
    from types import SimpleNamespace

    from crm.delivery import Undeliverable

    def address_of(staff_id):
        if address is KeyError:
            raise KeyError(staff_id)
        return address

    build = alerts.message_builder("crm@bank.example", address_of, gate=None)
    row = SimpleNamespace(html_path=str(tmp_path / "n.html"), recipient_id="D001")
    with pytest.raises(Undeliverable) as e:
        build(row)
    assert e.value.reason == reason


def test_within_a_deadline_smtp_tries_once_briefly_and_nothing_is_handed_over_late(tmp_path):
    import time

    from crm.delivery import FileTransport, SmtpSettings, SmtpTransport, build_message

    smtp = alerts.within_deadline(SmtpTransport(SmtpSettings(host="mail.example", timeout=30.0)), time.monotonic() + 20)
    assert smtp.transport.retries == 1 and smtp.transport.settings.timeout == alerts.ATTEMPT_TIMEOUT
    assert smtp.transport.settings.host == "mail.example"
    late = alerts.within_deadline(FileTransport(tmp_path / "outbox"), time.monotonic() - 1)
    msg = build_message(
        sender="crm@bank.example",
        to="d001@bank.example",
        subject="s",
        html="<p>x</p>",
        text="x",
        pdf=None,
        pdf_filename="",
        report="run_failure",
        period=FAILURE.period,
        recipient_id="D001",
        generation=0,
        date=FAILURE.failed_at,
        msg_id=None,
    )
    sent = late.send(msg)
    assert not sent.ok and not sent.permanent and sent.attempts == 0 and late.late == 1
    assert not (tmp_path / "outbox").exists()
