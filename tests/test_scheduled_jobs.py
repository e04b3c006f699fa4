"""Every scheduled job end to end, as the schedules and the sensor run them, over two consecutive month ends.

The session's bank (``scheduled_bank`` in tests/conftest.py) has run its first month end, February 2024: the
daily pipeline for 2024-02-29, the month-end pipeline and the monthly reports. This module's fixture runs,
in the same local instance and home, what follows until the morning of 1 April 2024 (bank time):

- the daily pipeline for 2024-03-24 .. 2024-03-31 (one run for the range, as a backfill would: a week and
  the Sunday before it; the sensor would launch one run per date);
- the month-end pipeline of March (on the arrival of the month-end extracts, in the night);
- ``weekly_watch_list`` for the week Monday 25 .. Sunday 31 March (its schedule: Monday 09:00): the weekly
  early warnings and watch list, the digest per manager, its leak scan and its delivery;
- ``monthly_reports`` of March (the 1st, 10:00) and ``quarterly_satisfaction`` of Q1 (the 1st, 11:00);
- ``monthly_reports`` of March once more (an operator's rerun).

Each test reads what the fixtures set up: the runs' summaries, the Dagster instance, the warehouse, the
report folders and the ``.eml`` files of the file transport.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from dagster import DagsterEventType

from crm.bank_calendar import month_period, quarter_period, week_period
from crm.reports.recipients import address_book, recipients
from crm.warehouse import begin, make_engine
from crm.warehouse.marts import read_table
from orchestration.jobs import DAILY_JOB, MONTH_END_JOB, QUARTERLY_JOB, REPORTS_JOB, WEEKLY_JOB
from tests.conftest import FIRST_MONTH_END, SECOND_MONTH_END, WEEK
from tests.jobrun import REPO, assert_succeeded

# the session's and the module's runs take minutes on two cores, charged to whichever test comes first
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

WEEK_END = WEEK + dt.timedelta(days=6)
SUNDAY_BEFORE = WEEK_END - dt.timedelta(days=7)
FIRST_MONTH, SECOND_MONTH = (d.replace(day=1).isoformat() for d in (FIRST_MONTH_END, SECOND_MONTH_END))
MAILED = ("sent",)  # the outbox status of a message handed to the transport


@pytest.fixture(scope="module")
def quarter(all_periods_bank):
    """The second month end, the week and the quarter, after the session's first month end (conftest)."""
    return all_periods_bank


@pytest.fixture
def instance(quarter, monkeypatch):
    """The local Dagster instance the runs were recorded in (the repository's dagster.yaml)."""
    bank, _ = quarter
    monkeypatch.setenv("CRM_DAGSTER_DIR", bank.env["CRM_DAGSTER_DIR"])
    with dg.DagsterInstance.from_config(str(REPO)) as inst:
        yield inst


def _warehouse(home: Path, name: str, where: dict | None = None) -> pd.DataFrame:
    engine = make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        with begin(engine) as conn:
            if not sa.inspect(conn).has_table(name):
                return pd.DataFrame()
            return read_table(conn, name, where)
    finally:
        engine.dispose()


def _outbox(home: Path, period: str) -> pd.DataFrame:
    return _warehouse(home, "report_outbox", {"period": period})


def _emls(home: Path, period: str) -> list[email.message.EmailMessage]:
    """The messages the file transport wrote for ``period``."""
    out = []
    for path in sorted((home / "outbox").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if msg["X-CRM-Period"] == period:
            out.append(msg)
    return out


def _staged(home: Path, extract: str, day: dt.date) -> pd.DataFrame:
    return pd.read_parquet(home / "staged" / extract / f"{day.isoformat()}.parquet")


def _recipients(home: Path, day: dt.date) -> pd.DataFrame:
    return recipients(_staged(home, "staff", day), _staged(home, "branches", day))


def _materializations(instance: dg.DagsterInstance, run_id: str, key: list[str]) -> list[dict]:
    """The metadata of each materialisation of asset ``key`` in the run (plain values)."""
    out = []
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        mat = entry.dagster_event.event_specific_data.materialization
        if mat.asset_key == dg.AssetKey(key):
            out.append({k: v.value for k, v in mat.metadata.items()})
    return out


def _run(runs: list[dict], job: str, partition: str, nth: int = 0) -> dict:
    return [r for r in runs if r["job"] == job and r["first_partition"] == partition][nth]


def _assert_served_once(home: Path, period: str, expected: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """Every (report, recipient) of ``expected`` has its outbox row for ``period``: a non-empty report was
    mailed, exactly once, to that person's address in the staff extract of ``day`` (one ``.eml``, attempt 1,
    first generation); an empty one is recorded and never sent. Returns the period's outbox."""
    outbox = _outbox(home, period)
    keys = set(zip(outbox["report"], outbox["recipient_id"], strict=True))
    assert keys == set(zip(expected["report"], expected["recipient_id"], strict=True)), period
    assert not outbox.duplicated(["report", "recipient_id"]).any()
    full = outbox[outbox["report_rows"] > 0]
    assert set(full["status"]) <= set(MAILED), full[["report", "recipient_id", "status", "last_error"]]
    assert (outbox.loc[outbox["report_rows"] == 0, "status"] == "skipped_empty").all()
    assert (full["attempts"] == 1).all() and (full["generation"] == 0).all(), "sent more than once"

    book = address_book(home / "raw", day)  # restricted zone: compared in memory, never printed
    msgs = _emls(home, period)
    got = [(m["X-CRM-Report"], m["X-CRM-Recipient"]) for m in msgs]
    assert sorted(got) == sorted(zip(full["report"], full["recipient_id"], strict=True)), period
    assert len({m["Message-ID"] for m in msgs}) == len(msgs)
    for m in msgs:
        assert m["To"] == book[m["X-CRM-Recipient"]], m["X-CRM-Recipient"]
        assert (
            m["Message-ID"]
            == full.set_index(["report", "recipient_id"]).loc[(m["X-CRM-Report"], m["X-CRM-Recipient"]), "message_id"]
        )
        pdfs = [p for p in m.iter_attachments() if p.get_content_type() == "application/pdf"]
        assert len(pdfs) == 1 and pdfs[0].get_content()[:5] == b"%PDF-"
    return outbox


def test_every_scheduled_run_succeeded_and_is_in_the_instance(quarter, instance):
    _, runs = quarter
    assert_succeeded(runs)
    recorded = {r.run_id: r for r in instance.get_runs()}
    assert set(recorded) == {r["run_id"] for r in runs}
    for r in runs:
        run = recorded[r["run_id"]]
        assert run.is_success and run.job_name == r["job"]
        assert run.tags["crm/trigger"] == "schedule"
        if r["first_partition"] == r["last_partition"]:
            assert run.tags["dagster/partition"] == r["first_partition"]
        else:
            assert (run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]) == (
                r["first_partition"],
                r["last_partition"],
            )
    assert sorted(r["job"] for r in runs) == sorted(
        [
            DAILY_JOB,
            MONTH_END_JOB,
            REPORTS_JOB,
            DAILY_JOB,
            MONTH_END_JOB,
            WEEKLY_JOB,
            REPORTS_JOB,
            QUARTERLY_JOB,
            REPORTS_JOB,
        ]
    )


def test_the_second_month_evaluates_the_rules_that_compare_two_dates(quarter, instance):
    """The first month end has no month before it: the rules comparing two dates are skipped, and that is
    recorded (``compared_with`` NULL on its rows; ``compared: false`` on the materialisation). The second
    month end compares with the first, and the week with the Sunday before it."""
    from crm.playbook.warnings import COMPARING

    bank, runs = quarter
    warnings = _warehouse(bank.home, "early_warnings")
    first = warnings[warnings["month_end"] == pd.Timestamp(FIRST_MONTH_END)]
    second = warnings[warnings["month_end"] == pd.Timestamp(SECOND_MONTH_END)]
    assert len(first) and len(second)
    assert first["compared_with"].isna().all(), "the first month end recorded a comparison it cannot have made"
    assert not first["rule"].isin(COMPARING).any()
    assert (second["compared_with"] == pd.Timestamp(FIRST_MONTH_END)).all(), "not compared with the month before"
    assert second["rule"].isin(COMPARING).any(), "no rule comparing two months raised in the second month"
    # the scores of both months compared too (grade and score drops need the month before's scores)
    assert second["rule"].isin(["grade_drop", "score_drop"]).any()
    watch = _warehouse(bank.home, "watch_list")
    assert set(watch["month_end"]) == {pd.Timestamp(FIRST_MONTH_END), pd.Timestamp(SECOND_MONTH_END)}

    for month, compared in ((FIRST_MONTH, False), (SECOND_MONTH, True)):
        run = _run(runs, MONTH_END_JOB, month)
        (meta,) = _materializations(instance, run["run_id"], ["marts", "early_warnings"])
        assert meta["compared"] is compared, month

    weekly = _warehouse(bank.home, "early_warnings_weekly", {"week_end": WEEK_END})
    assert len(weekly) and (weekly["compared_with"] == pd.Timestamp(SUNDAY_BEFORE)).all()
    assert weekly["rule"].isin(COMPARING).any()
    (meta,) = _materializations(
        instance, _run(runs, WEEKLY_JOB, WEEK.isoformat())["run_id"], ["marts", "watch_list_weekly"]
    )
    assert meta["compared"] is True


def test_trend_tables_hold_both_months(quarter):
    """Revisit plans, value and lifecycle, scores and their drift exist for both month ends; the second
    month is scored with the scorecard approved in the first and its drift measured against that model's
    development sample."""
    bank, _ = quarter
    both = {pd.Timestamp(FIRST_MONTH_END), pd.Timestamp(SECOND_MONTH_END)}
    for table in (
        "revisit_plan",
        "revisit_by_manager",
        "customer_value",
        "credit_scores",
        "scorecard_drift",
        "manager_scorecards",
    ):
        frame = _warehouse(bank.home, table)
        assert set(frame["month_end"]) == both, table
    value = _warehouse(bank.home, "customer_value")
    assert value.groupby("month_end")["lifecycle_stage"].apply(lambda s: s.notna().all()).all()
    scores = _warehouse(bank.home, "credit_scores")
    drift = _warehouse(bank.home, "scorecard_drift")
    approved = {p.parent.name: p.read_text().strip() for p in (bank.home / "models" / "scorecard").glob("*/APPROVED")}
    assert approved, "no scorecard approved: the bank is too small to train one"
    for frame in (scores, drift):
        assert dict(frame[["segment", "model_version"]].drop_duplicates().itertuples(index=False)) == approved
        assert frame["model_version"].str.startswith(f"{FIRST_MONTH_END:%Y%m}-").all()
    second = drift[drift["month_end"] == pd.Timestamp(SECOND_MONTH_END)]
    assert (second["feature"] == "score").any() and second["psi"].notna().all()


def test_proposals_of_both_months_and_their_outcome_tables(quarter):
    """The month-end pipeline builds the proposals of both month ends (gates, hold-out on the eligible only,
    ranks on the offered only) and the outcome tables (no cohort's window has closed yet in two months)."""
    bank, _ = quarter
    props = _warehouse(bank.home, "proposals")
    assert set(props["month_end"]) == {pd.Timestamp(FIRST_MONTH_END), pd.Timestamp(SECOND_MONTH_END)}
    assert len(props) and props["eligible"].any()
    assert (props["eligible"] == props["gate_failed"].isna()).all()
    assert not (props["held_out"] & ~props["eligible"]).any()
    assert (props["offered"] == (props["eligible"] & ~props["held_out"])).all()
    assert (props["rank"].notna() == props["offered"]).all()
    engine = make_engine(f"duckdb:///{bank.home / 'warehouse.duckdb'}")
    try:
        with begin(engine) as conn:
            assert all(sa.inspect(conn).has_table(t) for t in ("proposal_uplift", "opportunity_conversion"))
    finally:
        engine.dispose()


def test_weekly_digest_scanned_and_mailed_to_exactly_the_managers_with_watch_list_rows(quarter, instance):
    bank, runs = quarter
    period = week_period(WEEK_END)
    watch = _warehouse(bank.home, "watch_list_weekly", {"week_end": WEEK_END})
    rms = _recipients(bank.home, WEEK_END)
    rms = rms[rms["report"] == "watch_digest"]
    expected = set(watch["manager_id"].dropna()) & set(rms["recipient_id"])
    assert expected, "no manager of the bank has a customer on the week's watch list"

    folder = bank.home / "reports" / period / "watch_digest"
    for suffix in (".html", ".pdf"):
        assert {p.stem for p in folder.glob(f"*{suffix}")} == expected, suffix
    outbox = _assert_served_once(bank.home, period, rms, WEEK_END)
    assert set(outbox.loc[outbox["report_rows"] > 0, "recipient_id"]) == expected
    sent = outbox[outbox["status"] == "sent"]
    assert set(sent["recipient_id"]) == expected

    # the scan ran over the week's digests before anything was sent (a finding fails the step)
    run = _run(runs, WEEKLY_JOB, WEEK.isoformat())
    (meta,) = _materializations(instance, run["run_id"], ["delivery", "weekly"])
    digests = [p for p in (bank.home / "reports" / period).rglob("*") if p.suffix in (".html", ".pdf")]
    assert meta["files_scanned"] >= len(digests) == 2 * len(expected)
    assert meta["sent"] == len(expected)
    _assert_scanned_before_sending(bank.home, sent)


def _assert_scanned_before_sending(home: Path, sent: pd.DataFrame) -> None:
    """Where the send gate records its scans (warehouse table ``leak_scan_files``: the content hash of every
    file scanned), every part of every sent message is covered by a passing scan of exactly those bytes."""
    import hashlib

    scans = _warehouse(home, "leak_scan_files")
    if scans.empty:  # no send gate on this branch: the step-level scan above is the evidence
        return
    passed = set(scans.loc[scans["passed"].astype(bool), "sha256"])
    for row in sent.itertuples():
        for path in (row.html_path, row.pdf_path):
            assert hashlib.sha256(Path(path).read_bytes()).hexdigest() in passed, (row.report, row.recipient_id)


def test_quarterly_reports_per_branch_head_and_bank_wide_scanned_and_mailed(quarter, instance):
    bank, runs = quarter
    period = quarter_period(SECOND_MONTH_END)
    heads = _recipients(bank.home, SECOND_MONTH_END)
    heads = heads[heads["report"] == "satisfaction"].assign(report="satisfaction_quarter")
    assert len(heads)
    outbox = _assert_served_once(bank.home, period, heads, SECOND_MONTH_END)
    assert (outbox["report_rows"] > 0).all(), "a branch head's quarter is empty: the bank has too few surveys"
    folder = bank.home / "reports" / period / "satisfaction_quarter"
    for who in [*heads["recipient_id"], "bank"]:  # each head's branch (or the bank), and bank-wide on file
        assert (folder / f"{who}.pdf").stat().st_size > 0 and (folder / f"{who}.html").exists(), who

    run = _run(runs, QUARTERLY_JOB, SECOND_MONTH)
    checks = [
        e.dagster_event.event_specific_data
        for e in instance.all_logs(run["run_id"], of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    assert "no_personal_data" in {c.check_name for c in checks} and all(c.passed for c in checks)
    (meta,) = _materializations(instance, run["run_id"], ["delivery", "monthly"])
    assert meta["sent"] == len(heads) and quarter_period(SECOND_MONTH_END) in meta["periods"]
    _assert_scanned_before_sending(bank.home, outbox)


def test_both_months_every_recipient_served_or_recorded_once(quarter):
    bank, _ = quarter
    for day in (FIRST_MONTH_END, SECOND_MONTH_END):
        expected = _recipients(bank.home, day)
        expected = expected[expected["report"] != "watch_digest"]  # weekly
        assert {"key_account", "branch", "satisfaction", "data_quality", "risk"} <= set(expected["report"])
        outbox = _assert_served_once(bank.home, month_period(day), expected, day)
        _assert_scanned_before_sending(bank.home, outbox[outbox["status"] == "sent"])
    # every kind of monthly report carried data and was mailed in at least one of the two months
    both = pd.concat([_outbox(bank.home, month_period(d)) for d in (FIRST_MONTH_END, SECOND_MONTH_END)])
    assert set(both.loc[both["status"] == "sent", "report"]) >= {
        "key_account",
        "branch",
        "satisfaction",
        "data_quality",
        "risk",
    }


def test_risk_officers_get_their_branch_or_the_bank_once_and_every_figure_reconciles(quarter):
    """Each risk officer (one per branch, one at head office) received the month's risk report, once, in both
    months: a branch's officer the branch with its sub-branches, the head office's the bank; every figure of
    the second month's reports equals what its query in crm/reports/figures_risk.toml gives on the warehouse
    (the report's own figure parameters)."""
    import tomllib

    from tests.reports.test_risk import FIGURES, _figures, _query, _same

    bank, _ = quarter
    branches = _staged(bank.home, "branches", SECOND_MONTH_END).set_index("branch_id")["branch_level"]
    figures = tomllib.loads(FIGURES.read_text(encoding="utf-8"))
    engine = make_engine(f"duckdb:///{bank.home / 'warehouse.duckdb'}")
    try:
        for day in (FIRST_MONTH_END, SECOND_MONTH_END):
            officers = _recipients(bank.home, day)
            officers = officers[officers["report"] == "risk"]
            assert set(branches[officers["branch_id"]]) == {"BR", "HO"}, "no risk officer at a branch or head office"
            assert set(branches[branches == "BR"].index) <= set(officers["branch_id"])
            outbox = _outbox(bank.home, month_period(day)).set_index(["report", "recipient_id"]).loc["risk"]
            assert set(outbox.index) == set(officers["recipient_id"])
            assert (outbox["status"] == "sent").all() and (outbox["attempts"] == 1).all(), outbox["status"]
            assert (outbox["generation"] == 0).all()
            subjects = set(outbox["subject"])
            assert all(s.startswith("【风险管理月报】") for s in subjects) and any(
                s.endswith("· 全行") for s in subjects
            )
            if day != SECOND_MONTH_END:
                continue
            checked = 0
            for r in officers.itertuples():
                html = (bank.home / "reports" / month_period(day) / "risk" / f"{r.recipient_id}.html").read_text()
                found = _figures(html)
                head_office = branches[r.branch_id] == "HO"
                assert found.params == {"month_end": day.isoformat(), "branch_id": None if head_office else r.branch_id}
                with begin(engine) as conn:
                    results = {f: _query(conn, spec["sql"], found.params) for f, spec in figures.items()}
                for fid, row, shown in found.found:
                    if figures[fid]["kind"] == "scalar":
                        expected = results[fid][0][0]
                    else:
                        expected = {str(x[0]): x[1] for x in results[fid]}.get(row, "missing")
                    assert expected != "missing" and _same(shown, expected), (r.recipient_id, fid, row, shown, expected)
                    checked += 1
            assert checked > 100
    finally:
        engine.dispose()


def test_a_rerun_of_the_second_months_reports_renders_again_and_sends_nothing_twice(quarter, instance):
    bank, runs = quarter
    rerun = _run(runs, REPORTS_JOB, SECOND_MONTH, nth=1)
    assert rerun["run_id"] == runs[-1]["run_id"]
    started = instance.get_run_stats(rerun["run_id"]).start_time
    # it rendered the month again ...
    rendered = list((bank.home / "reports" / month_period(SECOND_MONTH_END)).rglob("*.pdf"))
    assert rendered and all(p.stat().st_mtime >= started for p in rendered)
    # ... and the transport wrote nothing: every message on file is older than the rerun
    emls = list((bank.home / "outbox").glob("*.eml"))
    assert emls and all(p.stat().st_mtime < started for p in emls), "the rerun wrote a message"
    (meta,) = _materializations(instance, rerun["run_id"], ["delivery", "monthly"])
    periods = [month_period(SECOND_MONTH_END), quarter_period(SECOND_MONTH_END)]
    outbox = pd.concat([_outbox(bank.home, p) for p in periods])
    assert meta["sent"] == 0 and meta["already_sent"] == (outbox["status"] == "sent").sum() > 0
    sent = outbox[outbox["status"] == "sent"]
    assert (sent["attempts"] == 1).all() and (sent["generation"] == 0).all()
