"""Render a plan and queue it (what the report assets call), with the pool replaced by a stub: what is queued,
what is logged, the figures returned, and a failed rendering failing the call after the rest is queued."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm.delivery import ensure_outbox, report_outbox
from crm.reports import pool
from crm.reports.job import JobResult, RenderJob
from crm.reports.plan import Planned
from crm.reports.queue import render_and_queue
from crm.warehouse import begin

NOTICE = [{"extract": "staff", "business_date": "2026-10-31", "cause": "rejected"}]


def _planned(tmp_path: Path, recipient: str, rows: int = 3, undeliverable: str | None = None) -> Planned:
    job = (
        RenderJob(
            f"key_account:2026-10:{recipient}",
            "key_account",
            {"incomplete": NOTICE},
            html_path=tmp_path / f"{recipient}.html",
            pdf_path=tmp_path / f"{recipient}.pdf",
        )
        if rows
        else None
    )
    return Planned(
        "key_account", "2026-10", recipient, "RM", rows, f"2026-10 {recipient}", job, undeliverable=undeliverable
    )


@pytest.fixture
def rendered(monkeypatch):
    """The pool replaced: every job renders (1 page, 0.25 s) except those whose id is in ``fail``."""
    fail: set[str] = set()
    calls: list[dict] = []

    def render_many(jobs, *, workers=None, desc="reports", **kw):
        calls.append({"jobs": [j.job_id for j in jobs], "workers": workers, "desc": desc})
        return [
            JobResult(j.job_id, False, error="boom")
            if j.job_id in fail
            else JobResult(j.job_id, True, j.html_path, j.pdf_path, pages=1, seconds=0.25)
            for j in jobs
        ]

    monkeypatch.setattr(pool, "render_many", render_many)
    return fail, calls


@pytest.fixture
def wh(warehouse):
    ensure_outbox(warehouse.engine, warehouse.schema)
    return warehouse


def _outbox(wh) -> dict[str, dict]:
    with begin(wh.engine, wh.schema) as conn:
        return {r["recipient_id"]: dict(r) for r in conn.execute(sa.select(report_outbox)).mappings()}


def test_rendered_and_queued_with_the_figures_of_the_run(wh, tmp_path, rendered, caplog):
    caplog.set_level(logging.INFO)
    _, calls = rendered
    planned = [
        _planned(tmp_path, "S0001"),
        _planned(tmp_path, "S0002", rows=0),
        _planned(tmp_path, "S0003", undeliverable="quarantined: staff.email.format (staff file f row 3)"),
    ]
    meta = render_and_queue(
        planned,
        lambda: begin(wh.engine, wh.schema),
        workers=2,
        resend=False,
        log=logging.getLogger("test_queue"),
        period="2026-10",
    )
    assert calls == [
        {"jobs": ["key_account:2026-10:S0001", "key_account:2026-10:S0003"], "workers": 2, "desc": "rendering"}
    ]
    assert meta == {
        "rendered": 2,
        "incomplete_data": 1,
        "empty": 1,
        "pages": 2,
        "render_seconds": 0.5,
        "queued": 3,
        "kept_sent": 0,
        "resend": 0,
        "undeliverable": 1,
        "undeliverable_rows": "- key_account 2026-10 S0003: quarantined: staff.email.format (staff file f row 3)",
        "reports": "key_account",
    }
    rows = _outbox(wh)
    assert {k: r["status"] for k, r in rows.items()} == {
        "S0001": "pending",
        "S0002": "skipped_empty",
        "S0003": "undeliverable",
    }
    # dated by the period's logical time, not the wall clock: October 2026's reports are issued on Monday
    # 2 November (the 1st is a Sunday) at 10:00 bank time, 02:00 UTC; this is the e-mail's Date
    assert {r["rendered_at"] for r in rows.values()} == {dt.datetime(2026, 11, 2, 2, 0)}
    assert "key_account 2026-10 for S0002: empty, not rendered or sent" in caplog.text
    assert "1 recipients cannot be mailed (recorded undeliverable in the outbox)" in caplog.text


def test_a_failed_rendering_fails_after_the_others_are_queued(wh, tmp_path, rendered):
    fail, _ = rendered
    fail.add("key_account:2026-10:S0002")
    planned = [_planned(tmp_path, "S0001"), _planned(tmp_path, "S0002")]
    with pytest.raises(RuntimeError, match="1 of 2 reports failed to render: key_account:2026-10:S0002: boom"):
        render_and_queue(
            planned,
            lambda: begin(wh.engine, wh.schema),
            workers=None,
            resend=False,
            log=logging.getLogger("test_queue"),
            period="2026-10",
        )
    assert set(_outbox(wh)) == {"S0001"}
