"""Outputs an auditor can file and re-check, on the session bank (tests/conftest.py ``all_periods_bank``: two
month ends, the week ending 31 March 2024 and the first quarter, run as the schedules run them, March's reports
twice):

- every report kind (crm.reports.plan.REPORT_KINDS) is an archive copy: the PDF/A-3b structural check of
  tests/reports/pdfa.py passes, and its tables are attached as the CSV files its HTML makes;
- the rerun of March's reports rendered the bytes the outbox recorded for the first run;
- ``crm reports verify`` re-renders the week, the quarter and the month and finds the outbox's bytes;
- a month's report run killed while it renders and run again leaves every outbox row's content hash as the
  uninterrupted run left it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from crm.bank_calendar import month_period, quarter_period, week_period
from crm.reports.archive import csv_attachments
from crm.reports.plan import REPORT_KINDS
from crm.warehouse import begin, make_engine
from crm.warehouse.marts import read_table
from tests.conftest import SECOND_MONTH_END
from tests.jobrun import REPO, assert_succeeded, clean_env, run_jobs
from tests.reports.pdfa import attachments, check_pdfa

MONTH, QUARTER, WEEK = month_period(SECOND_MONTH_END), quarter_period(SECOND_MONTH_END), week_period(SECOND_MONTH_END)
PER_KIND = 4  # PDFs checked per kind (the structural check reads every page's fonts)


def _outbox(home: Path, period: str | None = None) -> pd.DataFrame:
    engine = make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        with begin(engine) as conn:
            return read_table(conn, "report_outbox", {"period": period} if period else None)
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(REPORT_KINDS))
def test_every_kind_is_an_archive_copy_with_its_tables_attached(all_periods_bank, kind):
    bank, _ = all_periods_bank
    pdfs = sorted((bank.home / "reports").glob(f"*/{kind}/*.pdf"))
    assert pdfs, f"no {kind} report was rendered"
    attached = 0
    for pdf in pdfs[:PER_KIND]:
        data = pdf.read_bytes()
        assert check_pdfa(data) == [], pdf.relative_to(bank.home)
        html = pdf.with_suffix(".html").read_text(encoding="utf-8")
        expected = {a.name: (a.description, a.data) for a in csv_attachments(html)}
        assert attachments(data) == expected, pdf.relative_to(bank.home)
        attached += len(expected)
    assert attached > 0, f"no {kind} report had a table with rows to attach"


@pytest.mark.slow
def test_the_rerun_of_marchs_reports_rendered_the_bytes_the_outbox_recorded(all_periods_bank):
    bank, _ = all_periods_bank
    rows = _outbox(bank.home, MONTH)
    rendered = rows[rows["content_sha256"].notna()]
    assert set(rendered["report"]) == {k.name for k in REPORT_KINDS.values() if k.cadence == "month"}
    assert (rendered["latest_sha256"] == rendered["content_sha256"]).all(), rendered[
        rendered["latest_sha256"] != rendered["content_sha256"]
    ][["report", "recipient_id"]]
    # dated by the period's logical time: March 2024 is issued Monday 1 April, 10:00 bank time (02:00 UTC)
    assert set(rendered["rendered_at"]) == {pd.Timestamp(2024, 4, 1, 2, 0)}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("period", "report"), [(WEEK, None), (QUARTER, None), (MONTH, "data_quality"), (MONTH, "risk")]
)
def test_crm_reports_verify_re_renders_a_period_to_the_bytes_in_the_outbox(all_periods_bank, period, report):
    bank, _ = all_periods_bank
    rows = _outbox(bank.home, period)
    if report:
        rows = rows[rows["report"] == report]
    expected = int(rows["content_sha256"].notna().sum())
    assert expected > 0
    args = ["reports", "verify", "--period", period, "--workers", "2"] + (["--report", report] if report else [])
    from crm.cli import main

    result = CliRunner().invoke(main, args, env={**bank.env, "CRM_HOME": str(bank.home)}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"same: {expected}" in result.output.splitlines()[-1]
    assert "differs" not in result.output


def test_crm_reports_verify_exits_1_and_names_the_row_whose_bytes_differ(all_periods_bank, tmp_path):
    bank, _ = all_periods_bank
    home = tmp_path / "home"
    shutil.copytree(bank.home, home, ignore=shutil.ignore_patterns("landing", "outbox", "dq"))
    engine = make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        with begin(engine) as conn:  # as if the sent report had other bytes than the warehouse renders now
            conn.execute(
                sa.text("UPDATE report_outbox SET content_sha256 = :h WHERE period = :p AND report = 'watch_digest'"),
                {"h": "0" * 64, "p": WEEK},
            )
    finally:
        engine.dispose()
    from crm.cli import main

    result = CliRunner().invoke(main, ["reports", "verify", "--period", WEEK], env={"CRM_HOME": str(home)})
    assert result.exit_code == 1
    assert all(line.startswith("same_as_latest") for line in result.output.splitlines()[:-1] if "watch_digest" in line)


@pytest.mark.slow
def test_a_killed_report_run_run_again_leaves_the_uninterrupted_runs_hashes(all_periods_bank, tmp_path):
    """March's reports in a copy of the bank as it was before they ran: the run is killed (SIGKILL, the whole
    process group) once some reports are on disk, then run again to the end."""
    from orchestration.jobs import REPORTS_JOB

    bank, _ = all_periods_bank
    home = tmp_path / "home"
    shutil.copytree(bank.home, home, ignore=shutil.ignore_patterns(MONTH, "*.eml"))
    engine = make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        with begin(engine) as conn:  # March's reports never ran here
            conn.execute(sa.text("DELETE FROM report_outbox WHERE period = :p"), {"p": MONTH})
            conn.execute(sa.text("DELETE FROM report_leak_scans WHERE month_end = :d"), {"d": SECOND_MONTH_END})
    finally:
        engine.dispose()
    env = clean_env(
        CRM_ENV="local", CRM_HOME=str(home), CRM_DAGSTER_DIR=str(tmp_path / "dagster"), CRM_EXECUTOR="in_process"
    )
    key = SECOND_MONTH_END.replace(day=1).isoformat()
    import json

    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.jobrun", json.dumps([[REPORTS_JOB, key, None]])],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((home / "reports" / MONTH).glob("*/*.pdf"))) >= 3:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    partial = _outbox(home, MONTH)
    assert (partial["status"] != "sent").all() if len(partial) else True  # killed before delivery
    (rerun,) = run_jobs(env, [(REPORTS_JOB, key, None)])
    assert_succeeded([rerun])
    mine = _outbox(home, MONTH).set_index(["report", "recipient_id"]).sort_index()
    theirs = _outbox(bank.home, MONTH).set_index(["report", "recipient_id"]).sort_index()
    assert list(mine.index) == list(theirs.index)
    assert mine["content_sha256"].equals(theirs["content_sha256"])
    assert mine["rendered_at"].equals(theirs["rendered_at"])
    assert set(mine["status"]) <= {"sent", "skipped_empty", "undeliverable"}
