"""The run-failure sensor: a failed run is notified once to every active data engineer through the outbox,
naming the job, partition, failed step or ERROR check and run id, never the error text."""

from __future__ import annotations

import email
import email.policy
import socket
import time

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from crm import alerts
from crm.delivery import report_outbox
from crm.warehouse import begin, make_engine
from orchestration.alerts import SEND_BUDGET, SENSOR, failure_of, run_failure_notice
from orchestration.resources import CrmHomeResource, DeliveryResource, WarehouseResource
from tests.test_alerts import ADDRESS as QUARANTINED_ADDRESS
from tests.test_alerts import NAME as QUARANTINED_NAME
from tests.test_alerts import QFILE, QUARANTINED_DE, quarantine

DAY = "2026-01-31"
SECRET = "SECRET-VALUE-7731"  # stands for a data value quoted by an error message

STAFF = pd.DataFrame(
    {
        "staff_id": ["D001", "D002", "D003", "R001", "A001"],
        "staff_name": ["tok1", "tok2", "tok3", "tok4", "tok5"],  # staged: masked or tokens
        "role": ["DE", "DE", "DE", "RM", "AU"],
        "branch_id": ["B001"] * 5,
        "status": ["A", "A", "L", "A", "A"],
    }
)
ADDRESS = {s: f"{s.lower()}@staff.example" for s in STAFF["staff_id"]}

parts = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="Asia/Shanghai")


@dg.asset(partitions_def=parts)
def boom():
    raise RuntimeError(f"row 7 of customer {SECRET} is unreadable")


@dg.asset(partitions_def=parts)
def ledger():
    return 1


@dg.asset_check(asset=ledger, blocking=True)
def balanced():
    return dg.AssetCheckResult(passed=False, metadata={"why": SECRET})


@dg.asset_check(asset=ledger)
def tidy():
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)


boom_job = dg.define_asset_job("boom_job", selection=[boom])
ledger_job = dg.define_asset_job("ledger_job", selection=dg.AssetSelection.assets(ledger))
DEFS = dg.Definitions(
    assets=[boom, ledger], asset_checks=[balanced, tidy], jobs=[boom_job, ledger_job], sensors=[run_failure_notice]
)


def _home(tmp_path, staff=STAFF):
    for zone, frame in (("staged", staff), ("raw", staff.assign(email=staff["staff_id"].map(ADDRESS)))):
        (tmp_path / zone / "staff").mkdir(parents=True)
        frame.to_parquet(tmp_path / zone / "staff" / f"{DAY}.parquet")
    return tmp_path


def _resources(home, locale="en"):
    return {
        "crm_home": CrmHomeResource(root=str(home)),
        "warehouse": WarehouseResource(crm_home=str(home)),
        "delivery": DeliveryResource(transport="file", locale=locale),
    }


def _fail(instance, job_name):
    result = DEFS.resolve_job_def(job_name).execute_in_process(
        instance=instance, partition_key=DAY, raise_on_error=False
    )
    assert not result.success
    return result


def _notify(instance, result, home, locale="en"):
    ctx = dg.build_run_status_sensor_context(
        sensor_name=SENSOR,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources=_resources(home, locale),
    )
    return run_failure_notice(ctx)


def _queue_only(instance, result, home):
    """The sensor on ``result``'s failure with mail settings that cannot be used: the notice is queued only."""
    ctx = dg.build_run_status_sensor_context(
        sensor_name=SENSOR,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={**_resources(home), "delivery": DeliveryResource(transport="smtp", smtp_host="")},
    )
    return run_failure_notice(ctx)


def _outbox(home):
    engine = make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        with begin(engine) as conn:
            return pd.DataFrame(conn.execute(sa.select(report_outbox)).mappings().all())
    finally:
        engine.dispose()


def _messages(home):
    return {
        p.name: email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((home / "outbox").glob("*.eml"))
    }


def _text(msg):
    return "\n".join(part.get_content() for part in msg.walk() if part.get_content_maintype() == "text")


def test_failed_step_is_notified_once_to_each_active_data_engineer(tmp_path):
    home = _home(tmp_path)
    with dg.instance_for_test() as instance:
        result = _fail(instance, "boom_job")
        run_id = result.run_id
        _notify(instance, result, home)
        messages = _messages(home)
        # exactly the active data engineers: not the one who left, not the manager, not the auditor
        assert sorted(m["To"] for m in messages.values()) == [ADDRESS["D001"], ADDRESS["D002"]]
        for msg in messages.values():
            assert msg["X-CRM-Report"] == "run_failure"
            assert not [p for p in msg.walk() if p.get_content_disposition() == "attachment"]
            body = _text(msg)
            for fact in ("boom_job", DAY, "boom", run_id):
                assert fact in body
            assert run_id[:8] in msg["Subject"] and "boom_job" in msg["Subject"]
            # never the error text, which quoted a value
            assert SECRET not in body and SECRET not in str(msg) and "unreadable" not in body
        first = {name: (home / "outbox" / name).read_bytes() for name in messages}
        rows = _outbox(home)
        assert sorted(rows["recipient_id"]) == ["D001", "D002"] and set(rows["status"]) == {"sent"}
        assert set(rows["period"]) == {alerts.RunFailure("x", run_id, rows["rendered_at"][0]).period}

        # a second evaluation for the same run (a re-run tick) sends nothing more and rewrites nothing
        _notify(instance, result, home)
        assert {p.name: p.read_bytes() for p in (home / "outbox").glob("*.eml")} == first
        again = _outbox(home)
        assert len(again) == 2 and set(again["status"]) == {"sent"} and set(again["attempts"]) == {1}


def test_failed_error_check_is_named_and_warnings_are_not(tmp_path):
    home = _home(tmp_path)
    with dg.instance_for_test() as instance:
        result = _fail(instance, "ledger_job")
        failure = failure_of(instance, result.dagster_run)
        assert failure.failed_checks == ("ledger:balanced",)  # the WARN check "tidy" also failed: not listed
        assert failure.partition == DAY and failure.job == "ledger_job"
        _notify(instance, result, home, locale="zh_CN")
    messages = _messages(home)
    assert len(messages) == 2
    for msg in messages.values():
        body = _text(msg)
        assert "ledger:balanced" in body and "tidy" not in body and SECRET not in body
        assert "运行失败" in msg["Subject"] and "失败的步骤" in body


def test_the_daemon_ticks_notify_a_failed_run_once(tmp_path):
    """The sensor as the daemon runs it: the first tick sets the cursor, the tick after a failed run sends its
    notice, the next tick finds nothing new."""
    home = _home(tmp_path)
    with dg.instance_for_test() as instance:

        def tick(cursor):
            ctx = dg.build_sensor_context(
                instance=instance, cursor=cursor, definitions=DEFS, resources=_resources(home)
            )
            data = run_failure_notice.evaluate_tick(ctx)
            return data, data.cursor or cursor

        _, cursor = tick(None)
        result = _fail(instance, "boom_job")
        data, cursor = tick(cursor)
        assert [r.dagster_run.run_id for r in data.dagster_run_reactions] == [result.run_id]
        assert data.dagster_run_reactions[0].error is None
        assert len(_messages(home)) == 2
        data, cursor = tick(cursor)
        assert not data.dagster_run_reactions
        assert len(_messages(home)) == 2 and len(_outbox(home)) == 2


@pytest.mark.parametrize("staff", [STAFF[STAFF["role"] != "DE"], None], ids=["no_data_engineer", "no_staff"])
def test_no_data_engineer_is_logged_and_does_not_break_the_sensor(tmp_path, staff, capfd):
    home = _home(tmp_path, staff) if staff is not None else tmp_path
    with dg.instance_for_test() as instance:
        result = _fail(instance, "boom_job")
        capfd.readouterr()
        assert _notify(instance, result, home) is None  # the sensor's own logger (Dagster's, to stderr)
    logged = capfd.readouterr().err
    assert "no notice sent" in logged and result.run_id in logged and "ERROR" in logged
    assert not _messages(home)
    assert not list((home / "reports").rglob("*.html"))


def test_a_run_dagster_will_retry_is_not_notified(tmp_path):
    """A crashed worker's run is retried by the instance (run_retries): only the last attempt's failure is
    worth a notice."""
    from dagster._core.storage.tags import WILL_RETRY_TAG

    home = _home(tmp_path)
    with dg.instance_for_test() as instance:
        result = _fail(instance, "boom_job")
        instance.add_run_tags(result.run_id, {WILL_RETRY_TAG: "true"})
        ctx = dg.build_run_status_sensor_context(
            sensor_name=SENSOR,
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
            resources=_resources(home),
        )
        run_failure_notice(ctx)
    assert not _messages(home)


def test_a_notice_that_could_not_be_sent_goes_out_with_the_next_one(tmp_path):
    home = _home(tmp_path)
    with dg.instance_for_test() as instance:
        first = _fail(instance, "boom_job")
        _queue_only(instance, first, home)  # no usable mail server: queued, not sent, no error
        rows = _outbox(home)
        assert set(rows["status"]) == {"pending"} and len(rows) == 2 and not _messages(home)
        second = _fail(instance, "ledger_job")
        _notify(instance, second, home)
    rows = _outbox(home)
    assert len(rows) == 4 and set(rows["status"]) == {"sent"}
    runs = sorted(m["Subject"] for m in _messages(home).values())
    assert sum(first.run_id[:8] in s for s in runs) == 2 and sum(second.run_id[:8] in s for s in runs) == 2


def test_a_notice_changed_after_its_scan_is_held_not_sent(tmp_path):
    """Notices pass the same send gate as reports: the structural scan covers the exact bytes rendered; a
    notice file changed while it waited in the outbox is held, with the reason, and not sent."""
    home = _home(tmp_path)
    with dg.instance_for_test() as instance:
        first = _fail(instance, "boom_job")
        _queue_only(instance, first, home)
        html = next((home / "reports").rglob("*.html"))
        html.write_bytes(html.read_bytes().replace(b"</body>", f"<p>{SECRET}</p></body>".encode()))
        second = _fail(instance, "ledger_job")
        _notify(instance, second, home)
    rows = _outbox(home).set_index("period")
    held = rows.loc[rows.index.str.endswith(first.run_id.replace("-", "")[:11])]
    assert set(held["status"]) == {"held"} and held["last_error"].str.contains("changed since it was scanned").all()
    assert set(rows.drop(held.index)["status"]) == {"sent"}
    assert not [m for m in _messages(home).values() if SECRET in _text(m)]


def test_a_data_engineer_whose_staff_row_was_quarantined_is_recorded_undeliverable(tmp_path, capfd):
    """Nobody is dropped silently: an active data engineer whose staff row was quarantined (a role with a
    zero-width space, two addresses in the e-mail field, an unusable id) is in the outbox as undeliverable
    with the reason, and nothing is sent to them; the others get the notice."""
    home = _home(tmp_path)
    quarantine(home / "raw", DAY, QUARANTINED_DE)
    with dg.instance_for_test() as instance:
        result = _fail(instance, "boom_job")
        capfd.readouterr()
        _notify(instance, result, home)
        logged = capfd.readouterr().err
        assert sorted(m["To"] for m in _messages(home).values()) == [ADDRESS["D001"], ADDRESS["D002"]]
        rows = _outbox(home).set_index("recipient_id")
        assert sorted(rows.index) == ["D001", "D002", "D004", "D005", "row-6"]
        assert set(rows.loc[["D001", "D002"], "status"]) == {"sent"}
        gone = rows.loc[["D004", "D005", "row-6"]]
        assert set(gone["status"]) == {"undeliverable"} and set(gone["period"]) == set(rows["period"])
        assert gone.loc["D004", "last_error"] == (
            f"quarantined: staff.role.control_chars,staff.status.code_set (staff file {QFILE} row 4)"
        )
        assert gone.loc["row-6", "last_error"] == (
            f"unusable staff id: staff.staff_id.max_length (staff file {QFILE} row 6)"
        )
        assert "3 data engineers cannot be mailed" in logged and "D004" in logged
        for text in (logged, rows.to_csv()):  # never the name, the address or the unusable id
            for value in (QUARANTINED_NAME, "ouyang", "D0000000000000000000006"):
                assert value not in text

        _notify(instance, result, home)  # a second evaluation: the same rows, nothing more sent
        again = _outbox(home).set_index("recipient_id")
        assert again["status"].to_dict() == rows["status"].to_dict() and len(_messages(home)) == 2
    assert QUARANTINED_ADDRESS.split(";")[0] not in str(_messages(home))


@pytest.mark.timeout(60)  # unbounded, the configured retries alone (5 attempts, 30 s timeouts) take minutes
def test_a_mail_server_that_never_answers_cannot_hold_the_sensor_past_its_budget(tmp_path):
    """Dagster evaluates the sensor for every failed run since the last tick in one evaluation, within 60 s.
    Against a server that accepts the connection and never answers, each failed run costs one attempt with
    a short timeout (then sending stops: the server looks down), the evaluation ends well within
    SEND_BUDGET and every notice stays pending, for the next one."""
    home = _home(tmp_path)
    with socket.socket() as hole, dg.instance_for_test() as instance:
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)  # the kernel completes the connections; nobody ever reads or writes on them
        delivery = DeliveryResource(transport="smtp", smtp_host="127.0.0.1", smtp_port=hole.getsockname()[1])
        assert delivery.retries == 5 and delivery.smtp_timeout == 30.0  # the production settings

        def tick(cursor):
            ctx = dg.build_sensor_context(
                instance=instance, cursor=cursor, definitions=DEFS, resources={**_resources(home), "delivery": delivery}
            )
            data = run_failure_notice.evaluate_tick(ctx)
            return data, data.cursor or cursor

        _, cursor = tick(None)
        failed = {_fail(instance, "boom_job").run_id, _fail(instance, "ledger_job").run_id}
        start = time.monotonic()
        data, cursor = tick(cursor)
        elapsed = time.monotonic() - start
    assert {r.dagster_run.run_id for r in data.dagster_run_reactions} == failed
    assert all(r.error is None for r in data.dagster_run_reactions)
    assert elapsed < SEND_BUDGET, elapsed
    rows = _outbox(home)
    assert len(rows) == 4 and set(rows["status"]) == {"pending"} and not _messages(home)
    assert rows["attempts"].sum() == 2  # one per failed run
    assert rows.loc[rows["attempts"] > 0, "last_error"].notna().all()
