"""The production path end to end: one month end on PostgreSQL and real SMTP gives what the local path gives.

(a) The local path is the session's bank (``scheduled_bank``, tests/conftest.py): its first month end,
February 2024 (daily pipeline for 2024-02-29, month-end pipeline, monthly reports with delivery), run with
the local resources: DuckDB warehouse in CRM_HOME, SQLite Dagster instance (the repository's dagster.yaml),
the local masking key file, the file transport writing ``.eml``.

(b) The production path runs the same three jobs on a copy of the same landing files with ``CRM_ENV=prod``:
the warehouse in a throwaway PostgreSQL database (``CRM_WAREHOUSE_URL``), the Dagster instance in another one
(deploy/dagster.yaml as it ships, its ``DAGSTER_PG_*`` variables set), the masking key ring of (a) given as
``CRM_MASKING_KEY`` (a key file outside CRM_HOME, as production keeps it), and delivery over SMTP to aiosmtpd on
loopback (no TLS). ``orchestration.runner.run_job`` executes each run in its own process with
``dg.execute_job``, as ``crm run`` does: the instance's QueuedRunCoordinator and DefaultRunLauncher are for
runs the daemon and the webserver launch and are not involved; storage (runs, event logs) is.

Production never approves a scorecard by itself: before (b)'s month end the scorecard version (a) approved is
installed and approved with ``crm.scoring.models.approve`` (what ``crm scorecard approve`` does), so both
paths score with the same model.

Then every mart table holding the month is compared row by row, and the set of delivered messages.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import re
import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from crm.bank_calendar import month_period
from crm.reports.data import MONTH_TABLES
from crm.reports.leakscan import pdf_bytes_text
from crm.warehouse import begin, make_engine
from crm.warehouse.marts import read_table
from orchestration.jobs import DAILY_JOB, MONTH_END_JOB, REPORTS_JOB
from tests.conftest import FIRST_MONTH_END, pg_database
from tests.delivery.conftest import Recorder, free_port
from tests.jobrun import REPO, assert_succeeded, clean_env, run_jobs

# the session's and the module's runs take minutes on two cores, charged to whichever test comes first
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

MONTH = FIRST_MONTH_END.replace(day=1).isoformat()
PERIOD = month_period(FIRST_MONTH_END)
RUNS = [(DAILY_JOB, FIRST_MONTH_END.isoformat(), None), (MONTH_END_JOB, MONTH, None), (REPORTS_JOB, MONTH, None)]
# Columns that hold the wall-clock time of the run that wrote them, not data: left out of the comparison.
WALL_CLOCK = {"report_leak_scans": {"scanned_at"}}


@pytest.fixture
def smtp_server():
    """aiosmtpd on loopback recording every message it accepts (tests/delivery/conftest.py's handler)."""
    handler, port = Recorder(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _install_approved_scorecards(source_models: Path, target_models: Path) -> dict[str, str]:
    """Copy each segment's approved scorecard version of ``source_models`` and approve it in ``target_models``."""
    from crm.scoring.models import approve, approved_version, segment_dir

    installed = {}
    for seg_dir in sorted((source_models / "scorecard").glob("*")):
        version = approved_version(source_models, seg_dir.name)
        if version:
            shutil.copytree(seg_dir / version, segment_dir(target_models, seg_dir.name) / version)
            approve(target_models, seg_dir.name, version)
            installed[seg_dir.name] = version
    return installed


def _month_tables(engine: sa.Engine) -> list[str]:
    """Every table with a ``month_end`` column: the marts (the assets create them from their frames)."""
    with begin(engine) as conn:
        inspector = sa.inspect(conn)
        return sorted(
            t for t in inspector.get_table_names() if "month_end" in {c["name"] for c in inspector.get_columns(t)}
        )


def _read_month(engine: sa.Engine, table: str) -> pd.DataFrame:
    with begin(engine) as conn:
        return read_table(conn, table, {"month_end": FIRST_MONTH_END})


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Engine-neutral values: dates and timestamps as datetime64[ns], integers as Int64, booleans as boolean,
    floats as float64, anything else as objects with None for a missing value."""
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        s = frame[col]
        sample = s.dropna().head(20)
        if s.dtype.kind == "M" or (len(sample) and all(isinstance(v, dt.date) for v in sample)):
            s = pd.to_datetime(s).astype("datetime64[ns]")
        elif s.dtype.kind in "iu" or str(s.dtype) == "Int64":
            s = s.astype("Int64")
        elif s.dtype.kind == "b" or (len(sample) and all(isinstance(v, (bool, np.bool_)) for v in sample)):
            s = s.astype("boolean")
        elif s.dtype.kind == "f":
            s = s.astype("float64")
        else:
            s = s.astype(object).where(s.notna(), None)
        out[col] = s
    return out


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order of every column's text (floats rounded to 6 decimals for the order only)."""
    key = pd.DataFrame(
        {
            c: frame[c].round(6).astype(str) if frame[c].dtype.kind == "f" else frame[c].astype(str)
            for c in frame.columns
        }
    )
    return frame.loc[key.sort_values(list(key.columns), kind="stable").index].reset_index(drop=True)


def _assert_same_rows(a: pd.DataFrame, b: pd.DataFrame, name: str) -> None:
    """``a`` and ``b`` hold the same rows in any order: floats within 1e-9 (relative or absolute), every other
    value equal. A column with no value on one side only is compared as the other side's type (its values
    then differ); one with no value on either side is left as it is (an engine gives no type to nothing)."""
    a, b = _normalised(a), _normalised(b)
    for col in a.columns:
        empty_a, empty_b = a[col].isna().all(), b[col].isna().all()
        if empty_a and empty_b:
            a[col] = b[col] = None
        elif empty_a:
            a[col] = a[col].astype(b[col].dtype)
        elif empty_b:
            b[col] = b[col].astype(a[col].dtype)
    pd.testing.assert_frame_equal(_sorted(a), _sorted(b), check_exact=False, rtol=1e-9, atol=1e-9, obj=name)


# what every report of the period prints as its time and the messages carry as their Date: the period's logical
# time (February 2024's reports are issued on Friday 1 March 2024, 10:00 bank time), the same on both paths
ISSUED = "2024年3月1日 10:00"
ISSUED_DATE = "Fri, 01 Mar 2024 10:00:00 +0800"


def _comparable(msg: email.message.EmailMessage) -> tuple[tuple[str, str, str], dict]:
    """A delivered message as (report, period, recipient) and what must be equal across the two paths: every
    header (Date included: the period's logical time, not the render's wall clock), the text and HTML bodies,
    the PDF's text, page count and attachment name."""
    headers = {k: str(v) for k, v in msg.items()}
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    pdfs = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert html is not None and len(pdfs) == 1
    pdf_text = pdf_bytes_text(pdfs[0].get_content())
    assert ISSUED in html.get_content() and ISSUED in re.sub(r"\s+", " ", pdf_text), "the issue time is not printed"
    assert email.utils.parsedate_to_datetime(headers["Date"]) == email.utils.parsedate_to_datetime(ISSUED_DATE)
    body = {
        "headers": headers,
        "html": html.get_content(),
        "plain": plain.get_content() if plain else None,
        "pdf_name": pdfs[0].get_filename(),
        "pdf_pages": pdf_text.count("\f"),
        "pdf_text": re.sub(r"[ \t]+", " ", pdf_text),
    }
    return (headers["X-CRM-Report"], headers["X-CRM-Period"], headers["X-CRM-Recipient"]), body


def _first_difference(a: dict, b: dict) -> str:
    import difflib

    for part in a:
        if a[part] != b[part]:
            lines = difflib.unified_diff(
                str(a[part]).splitlines(), str(b[part]).splitlines(), "local", "prod", lineterm="", n=1
            )
            return f"{part}:\n" + "\n".join(list(lines)[:30])
    return "equal"


def _outbox(engine: sa.Engine) -> pd.DataFrame:
    with begin(engine) as conn:
        frame = read_table(conn, "report_outbox", {"period": PERIOD})
    return (
        frame[
            [
                "report",
                "recipient_id",
                "recipient_role",
                "generation",
                "status",
                "attempts",
                "report_rows",
                "message_id",
                "subject",
                "last_code",
            ]
        ]
        .sort_values(["report", "recipient_id"])
        .reset_index(drop=True)
    )


def test_the_production_path_gives_the_marts_and_messages_of_the_local_path(
    postgres_server, scheduled_bank, smtp_server, tmp_path, monkeypatch
):
    local = scheduled_bank
    assert_succeeded(local.runs)
    handler, port = smtp_server
    home = tmp_path / "prod"
    shutil.copytree(local.landing, home / "landing")  # the same bank; copy2 keeps the arrival times
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    shutil.copy(local.home / "masking-keys.json", keys / "masking-keys.json")  # (a)'s key ring
    (keys / "masking-keys.json").chmod(0o600)
    installed = _install_approved_scorecards(local.home / "models", home / "models")
    assert installed, "the local run approved no scorecard: nothing would be scored on either path"
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")

    with pg_database("crm_e2e_warehouse") as warehouse_url, pg_database("crm_e2e_dagster") as dagster_url:
        db = sa.engine.make_url(dagster_url)
        instance_env = {
            "DAGSTER_HOME": str(dagster_home),
            "DAGSTER_PG_HOST": db.host,
            "DAGSTER_PG_PORT": str(db.port),
            "DAGSTER_PG_DB": db.database,
            "DAGSTER_PG_USER": db.username,
            "DAGSTER_PG_PASSWORD": db.password or "",
        }
        env = clean_env(
            CRM_ENV="prod",
            CRM_HOME=str(home),
            CRM_WAREHOUSE_URL=warehouse_url,
            CRM_MASKING_KEY=str(keys / "masking-keys.json"),
            CRM_SMTP_HOST="127.0.0.1",
            CRM_SMTP_PORT=str(port),
            CRM_SMTP_STARTTLS="0",
            CRM_DAGSTER_DIR=str(tmp_path / "unused"),
            **instance_env,
        )
        runs = run_jobs(env, RUNS)
        assert_succeeded(runs)

        for var, value in instance_env.items():
            monkeypatch.setenv(var, value)
        from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            assert isinstance(instance.run_storage, PostgresRunStorage)
            assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
            recorded = {r.run_id: r for r in instance.get_runs()}
            assert set(recorded) == {r["run_id"] for r in runs} and all(r.is_success for r in recorded.values())

        # every mart table holding the month: the same rows on both warehouses
        duck = make_engine(f"duckdb:///{local.home / 'warehouse.duckdb'}")
        pg = make_engine(warehouse_url)
        try:
            # the marts are the tables the assets created with a month_end column: the same on both paths, but
            # for tables the local run created later (the second month end, when tests/test_scheduled_jobs.py
            # ran first), which hold no row of this month
            pg_tables, duck_tables = _month_tables(pg), _month_tables(duck)
            assert set(pg_tables) <= set(duck_tables)
            for table in sorted(set(duck_tables) - set(pg_tables)):
                assert _read_month(duck, table).empty, table
            assert {t for t in MONTH_TABLES if t in duck_tables and len(_read_month(duck, t))} <= set(pg_tables)
            compared = {}
            for table in pg_tables:
                b = _read_month(pg, table).drop(columns=list(WALL_CLOCK.get(table, ())))
                a = _read_month(duck, table).drop(columns=list(WALL_CLOCK.get(table, ())))
                assert set(b.columns) <= set(a.columns), (table, sorted(set(b.columns) - set(a.columns)))
                later = [c for c in a.columns if c not in b.columns]  # added by a later month's frames
                assert a[later].isna().all().all(), (table, later)
                _assert_same_rows(a[list(b.columns)], b, table)
                compared[table] = len(a)
            assert compared["customer_360"] and compared["credit_scores"] and compared["early_warnings"]

            # the outbox says the same on both: who got what, sent once, with the same Message-IDs
            _assert_same_rows(_outbox(duck), _outbox(pg), "report_outbox")
            sent = _outbox(pg).query("status == 'sent'")
            assert len(sent) and (sent["attempts"] == 1).all()
        finally:
            duck.dispose()
            pg.dispose()

    # the messages: the .eml files of (a) and what the SMTP server accepted in (b)
    assert not list((home / "outbox").glob("*.eml")), "the production path wrote .eml files instead of sending"
    assert set(handler.message_ids().values()) == {1}, "a message was delivered more than once"
    prod = dict(_comparable(m) for m in handler.messages())
    emls = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((local.home / "outbox").glob("*.eml"))
    ]
    loc = dict(_comparable(m) for m in emls if m["X-CRM-Period"] == PERIOD)
    assert set(prod) == set(loc) == {(r.report, PERIOD, r.recipient_id) for r in sent.itertuples()}
    for key in sorted(loc):
        assert loc[key] == prod[key], f"{key}: {_first_difference(loc[key], prod[key])}"
