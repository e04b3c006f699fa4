"""Nobody is dropped silently: readers whose staff row was quarantined are planned, recorded undeliverable
with the reason (rule ids, staff file and row; never a value), and a staff id that cannot name a file gets no
rendering; the auditors' report lists them, in Chinese and in English."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from crm.delivery import PENDING, SKIPPED_EMPTY, UNDELIVERABLE, enqueue, ensure_outbox, report_outbox
from crm.reports.dq import dq_context, reason_parts
from crm.reports.job import JobResult
from crm.reports.plan import BANK, complete, dq_plan, outbox_items, portfolio_plan
from crm.reports.recipients import (
    QUARANTINE_COLUMNS,
    quarantined_recipients,
    recipients,
    servable,
    with_quarantined,
)
from crm.reports.render import render_html
from crm.warehouse import begin
from tests.reports.test_portfolio import _branches, _data, _staff

DAY = dt.date(2026, 10, 31)
FILE = "STAFF_20261031_001.dat"
NAME, ADDRESS = "欧阳锋", "ouyang.feng@bank.example.cn;x@evil.example"


def _quarantine(raw, rows: list[dict]) -> None:
    """A staff quarantine file as staging writes it: the raw values (name and address included) and the
    failing rule ids."""
    folder = raw / "_quarantine" / "staff"
    folder.mkdir(parents=True, exist_ok=True)
    full = [
        {
            "staff_name": NAME,
            "email": ADDRESS,
            "mobile": "13800138000",
            "hire_date": pd.Timestamp("2020-01-01"),
            "_sha256": "0" * 64,
            "_business_date": pd.Timestamp(DAY),
            "_type_errors": None,
            "_source_file": FILE,
            **r,
        }
        for r in rows
    ]
    pd.DataFrame(full).to_parquet(folder / f"{DAY}.parquet")


QUARANTINED = [
    # an RM with two addresses in the e-mail field: servable id, undeliverable
    {
        "staff_id": "S8",
        "role": "RM",
        "branch_id": "B1",
        "status": "A",
        "_row_number": 8,
        "_rule_ids": "staff.email.email_format",
    },
    # a branch head with two failing rules
    {
        "staff_id": "S9",
        "role": "BH",
        "branch_id": "B2",
        "status": "A",
        "_row_number": 9,
        "_rule_ids": "staff.email.email_format,staff.mobile.mobile_format",
    },
    # an id too long: a rule on staff_id failed, no file can be named after it
    {
        "staff_id": "S0000000000012",
        "role": "AU",
        "branch_id": "HO",
        "status": "A",
        "_row_number": 12,
        "_rule_ids": "staff.staff_id.max_length",
    },
    # an id that is a path, whatever rule failed (here only the e-mail's): refused by the path helper
    {
        "staff_id": "/tmp/x",
        "role": "RM",
        "branch_id": "B1",
        "status": "A",
        "_row_number": 13,
        "_rule_ids": "staff.email.email_format",
    },
    # not readers: a data engineer, and a manager who left
    {
        "staff_id": "S10",
        "role": "DE",
        "branch_id": "HO",
        "status": "A",
        "_row_number": 10,
        "_rule_ids": "staff.email.email_format",
    },
    {
        "staff_id": "S11",
        "role": "RM",
        "branch_id": "B1",
        "status": "L",
        "_row_number": 11,
        "_rule_ids": "staff.email.email_format",
    },
]


@pytest.fixture
def everyone(tmp_path, monkeypatch):
    raw, reports = tmp_path / "raw", tmp_path / "reports"
    reports.mkdir()
    _quarantine(raw, QUARANTINED)
    read = pd.read_parquet
    asked: list[list[str]] = []

    def spy(path, *args, columns=None, **kw):
        asked.append(list(columns) if columns is not None else ["*"])
        return read(path, *args, columns=columns, **kw)

    monkeypatch.setattr(pd, "read_parquet", spy)
    q = quarantined_recipients(raw, DAY, reports, _branches())
    monkeypatch.setattr(pd, "read_parquet", read)
    assert asked and all(set(cols) <= set(QUARANTINE_COLUMNS) for cols in asked)  # never the name or address
    return with_quarantined(recipients(_staff(), _branches()), q), reports


def test_quarantined_readers_are_recipients_with_the_reason(everyone):
    frame, _ = everyone
    q = frame[frame["undeliverable"].notna()].set_index(["report", "recipient_id"])
    assert set(q.index) == {
        ("key_account", "S8"),
        ("proposals", "S8"),
        ("watch_digest", "S8"),
        ("branch", "S9"),
        ("satisfaction", "S9"),
        ("data_quality", "row-12"),
        ("key_account", "row-13"),
        ("proposals", "row-13"),
        ("watch_digest", "row-13"),
    }
    assert (
        q.loc[("key_account", "S8"), "undeliverable"]
        == f"quarantined: staff.email.email_format ({'staff file ' + FILE} row 8)"
    )
    assert q.loc[("satisfaction", "S9"), "scope"] == "B2"  # cut to their branch, as for any branch head
    assert q.loc[("data_quality", "row-12"), "undeliverable"] == (
        f"unusable staff id: staff.staff_id.max_length (staff file {FILE} row 12)"
    )
    assert q.loc[("key_account", "row-13"), "undeliverable"].startswith("unusable staff id: staff.email.email_format")
    assert not q.loc[("key_account", "row-13"), "usable"] and q.loc[("key_account", "S8"), "usable"]
    text = frame.to_csv()
    assert NAME not in text and "ouyang" not in text and "/tmp/x" not in text and "S0000000000012" not in text
    assert set(servable(frame)["recipient_id"]) == {"S1", "S2", "S3", "S4", "S6", "S8", "S9"}


def test_they_are_rendered_or_recorded_and_queued_undeliverable(everyone, warehouse):
    frame, reports = everyone
    period = "2026-10"
    planned = portfolio_plan(_data(), servable(frame), reports, "zh_CN", dt.datetime(2026, 11, 1, 10))
    planned = complete(
        planned,
        frame,
        [],
        period=period,
        reports={"key_account": "key_account", "branch": "branch", "satisfaction": "satisfaction"},
    )
    by = {(p.report, p.recipient_id): p for p in planned}
    assert by[("key_account", "S8")].undeliverable.startswith("quarantined:")
    assert by[("branch", "S9")].job is not None and by[("branch", "S9")].rows  # rendered all the same
    assert by[("key_account", "row-13")].job is None and by[("key_account", "row-13")].rows == 0
    assert by[("key_account", "S1")].undeliverable is None
    assert ("data_quality", "row-12") not in by  # not a portfolio report
    assert all(p.job.context["incomplete"] == [] for p in planned if p.job)
    assert not [p for p in reports.rglob("*") if "row-" in p.name]

    results = [JobResult(p.job_id, True, p.job.html_path, p.job.pdf_path) for p in planned if p.job]
    items = outbox_items(planned, results, dt.datetime(2026, 11, 1, 2))
    ensure_outbox(warehouse.engine, warehouse.schema)
    with begin(warehouse.engine, warehouse.schema) as conn:
        counts = enqueue(conn, items)
        rows = {(m["report"], m["recipient_id"]): dict(m) for m in conn.execute(sa.select(report_outbox)).mappings()}
    assert counts.undeliverable == 4
    planned_keys = {
        (r, i)
        for r, i in zip(frame["report"], frame["recipient_id"], strict=True)
        if r in ("key_account", "branch", "satisfaction")
    }
    assert planned_keys <= set(rows)  # every reader of a portfolio report has a row
    for k in (("key_account", "S8"), ("branch", "S9"), ("satisfaction", "S9"), ("key_account", "row-13")):
        assert rows[k]["status"] == UNDELIVERABLE and rows[k]["last_error"], k
    assert rows[("branch", "S9")]["html_path"]  # rendered and kept on file
    assert rows[("key_account", "row-13")]["html_path"] is None
    assert {rows[k]["status"] for k in rows if k[1] in ("S1", "S2", "S3", "S6")} <= {PENDING, SKIPPED_EMPTY}
    # the staff file is restated and the branch head is servable again: a re-render queues them
    staff = pd.concat(
        [
            _staff(),
            pd.DataFrame(
                {"staff_id": ["S9"], "staff_name": ["黄*"], "role": ["BH"], "branch_id": ["B2"], "status": ["A"]}
            ),
        ]
    )
    fixed = recipients(staff, _branches())
    again = complete(
        portfolio_plan(_data(), fixed, reports, "zh_CN", dt.datetime(2026, 11, 1, 10)),
        with_quarantined(fixed, pd.DataFrame()),
        [],
        period=period,
        reports={"branch": "branch"},
    )
    results = [JobResult(p.job_id, True, p.job.html_path, p.job.pdf_path) for p in again if p.job]
    with begin(warehouse.engine, warehouse.schema) as conn:
        enqueue(conn, outbox_items(again, results, dt.datetime(2026, 11, 2, 2)))
        row = conn.execute(
            sa.select(report_outbox.c.status, report_outbox.c.last_error).where(
                report_outbox.c.recipient_id == "S9", report_outbox.c.report == "branch"
            )
        ).one()
    assert tuple(row) == (PENDING, None)


def test_an_auditor_with_an_unusable_id_is_recorded_for_the_shared_report(everyone):
    frame, reports = everyone
    ctx = {"month_end": DAY, "generated_at": dt.datetime(2026, 11, 1, 10)}
    planned = complete(
        dq_plan(ctx, servable(frame), reports, "zh_CN", 1),
        frame,
        [],
        period="2026-10",
        reports={"data_quality": "data_quality"},
    )
    by = {p.recipient_id: p for p in planned}
    assert by[BANK].job is not None and by["S4"].undeliverable is None
    assert by["row-12"].undeliverable.startswith("unusable staff id") and by["row-12"].job is None


def test_reason_parts_and_periods():
    assert reason_parts("quarantined: a,b (staff file F row 3)") == ("quarantined", "a,b (staff file F row 3)")
    assert reason_parts("unusable staff id: r (staff file F row 3)") == ("unusable_id", "r (staff file F row 3)")
    assert reason_parts("no_address") == ("no_address", "")
    assert reason_parts("invalid_address") == ("invalid_address", "")
    assert reason_parts("something else") == ("other", "something else")


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        (
            "zh_CN",
            [
                "无法送达的报告",
                "员工信息记录被隔离：规则 staff.email.email_format（员工文件 ",
                "第 8 行）",
                "员工文件第 12 行",
                "员工号不可用，未生成报告",
                "无电子邮箱地址",
                "电子邮箱地址无效",
            ],
        ),
        (
            "en",
            [
                "Reports that could not be delivered",
                "Staff row quarantined: staff.email.email_format",
                "Staff id unusable, no report rendered",
                "No e-mail address",
                "Invalid e-mail address",
            ],
        ),
    ],
)
def test_the_auditors_report_lists_undeliverable_recipients(warehouse, tmp_path, locale, words):
    from crm.delivery import OutboxItem

    ensure_outbox(warehouse.engine, warehouse.schema)
    items = [
        OutboxItem(
            "key_account",
            "2026-10",
            "S8",
            3,
            undeliverable=f"quarantined: staff.email.email_format (staff file {FILE} row 8)",
        ),
        OutboxItem(
            "data_quality",
            "2026-10",
            "row-12",
            0,
            undeliverable=f"unusable staff id: staff.staff_id.max_length (staff file {FILE} row 12)",
        ),
        OutboxItem("watch_digest", "2026-W43", "S2", 3, undeliverable="no_address"),
        OutboxItem("branch", "2026-10", "S3", 3, undeliverable="invalid_address"),
        OutboxItem("branch", "2026-09", "S3", 3, undeliverable="invalid_address"),  # another month: not listed
        OutboxItem("branch", "2026-10", "S6", 3),  # pending: not listed
    ]
    with begin(warehouse.engine, warehouse.schema) as conn:
        enqueue(conn, items)
        ctx = dq_context(
            conn,
            DAY,
            policy_version="p1",
            key_versions=["k1"],
            leak_scan=None,
            generated_at=dt.datetime(2026, 11, 2, 8, 30),
        )
    assert [(u["report"], u["period"], u["recipient_id"], u["reason"]) for u in ctx["undeliverable"]] == [
        ("branch", "2026-10", "S3", "invalid_address"),
        ("data_quality", "2026-10", "row-12", "unusable_id"),
        ("key_account", "2026-10", "S8", "quarantined"),
        ("watch_digest", "2026-W43", "S2", "no_address"),
    ]
    html = render_html("dq_report", ctx, locale)
    section = html[html.index('id="undeliverable"') : html.index('id="control-totals"')]
    for w in words:
        assert w in section, w
    row = {"zh_CN": "员工文件第 12 行", "en": "staff file row 12"}[locale]  # an unusable id: its row
    assert "S8" in section and row in section and "2026-09" not in section and "S6" not in section


def test_a_reader_whose_role_or_status_failed_a_rule_or_whose_id_is_duplicated_is_not_dropped(tmp_path):
    """A quarantined row is read as a person reads it: a role with a zero-width space or a status in lower
    case with a bidi override still names an active reader; two quarantined rows of one staff id with two
    roles (the key's uniqueness rule failed) are two readers of different reports, each with its own row."""
    raw, reports = tmp_path / "raw", tmp_path / "reports"
    reports.mkdir()
    _quarantine(
        raw,
        [
            {
                "staff_id": "S20",
                "role": "RM\u200b",
                "branch_id": "B1",
                "status": "A",
                "_row_number": 20,
                "_rule_ids": "staff.role.code_set,staff.role.control_chars",
            },
            {
                "staff_id": "S21",
                "role": "BH",
                "branch_id": "B2",
                "status": " a\u202e",
                "_row_number": 21,
                "_rule_ids": "staff.status.code_set,staff.status.control_chars",
            },
            {
                "staff_id": "S22",
                "role": "RM",
                "branch_id": "B1",
                "status": "A",
                "_row_number": 22,
                "_rule_ids": "staff.key.unique",
            },
            {
                "staff_id": "S22",
                "role": "BH",
                "branch_id": "B2",
                "status": "A",
                "_row_number": 23,
                "_rule_ids": "staff.key.unique",
            },
            {
                "staff_id": "S23",
                "role": "XX",
                "branch_id": "B1",
                "status": "A",
                "_row_number": 24,  # not a reader
                "_rule_ids": "staff.role.code_set",
            },
        ],
    )
    q = quarantined_recipients(raw, DAY, reports, _branches()).set_index(["report", "recipient_id"])
    assert set(q.index) == {
        ("key_account", "S20"),
        ("proposals", "S20"),
        ("watch_digest", "S20"),
        ("branch", "S21"),
        ("satisfaction", "S21"),
        ("key_account", "S22"),
        ("proposals", "S22"),
        ("watch_digest", "S22"),
        ("branch", "S22"),
        ("satisfaction", "S22"),
    }
    assert q.loc[("key_account", "S22"), "undeliverable"] == f"quarantined: staff.key.unique (staff file {FILE} row 22)"
    assert q.loc[("branch", "S22"), "undeliverable"] == f"quarantined: staff.key.unique (staff file {FILE} row 23)"
    assert q.loc[("branch", "S22"), "scope"] == "B2" and q.loc[("key_account", "S22"), "branch_id"] == "B1"
    assert q.loc[("branch", "S21"), "undeliverable"].startswith("quarantined: staff.status.code_set")
    assert q["usable"].all()


def test_readers_of_a_day_from_the_staged_zone_and_the_quarantine(everyone, tmp_path):
    from crm.reports.recipients import readers
    from crm.zones import CrmHome, staged_file

    home = CrmHome(tmp_path / "home").ensure()
    for name, frame in (("staff", _staff()), ("branches", _branches())):
        path = staged_file(home.staged, name, DAY)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
    _quarantine(home.raw, QUARANTINED)
    expected, _ = everyone
    pd.testing.assert_frame_equal(readers(home, DAY), expected)
    # a digest: the staff frame given, no branch cut
    digest = readers(home, DAY, _staff(), branches=pd.DataFrame())
    assert set(digest.loc[digest["report"] == "watch_digest", "recipient_id"]) == {"S1", "S2", "S8", "row-13"}
    assert digest["undeliverable"].notna().any()
