"""The data pipeline on two Celery workers (dagster-celery, RabbitMQ on 127.0.0.1:5672) gives what the
ordinary run gives, and its steps really ran in both workers.

One business date of a small synthetic bank, a month end, is written to two CRM_HOMEs. One is run the usual
way (``run_dates``, what ``crm run`` runs, multiprocess executor) through its data jobs, the daily and then the
month-end pipeline; for the other, two ``dagster-celery worker start`` processes listen on a queue of this
test's own, and ``dagster job execute -m orchestration.definitions`` with ``CRM_EXECUTOR=celery`` runs the
same ``daily_pipeline`` and then ``month_end_pipeline`` on them in a persistent (SQLite) Dagster instance. Both write the
same DuckDB warehouse file from two processes; ``crm.warehouse.begin`` waits while the other holds the lock.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from dagster import DagsterEventType

from crm.synthetic import generate
from orchestration.celery import LOCAL_BACKEND, LOCAL_BROKER

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DATE = dt.date(2026, 1, 31)  # a month end: the daily extracts and the month-end ones
MONTH = "2026-01-01"  # the month-end job's partition
# the reference runs what `crm run --date DATE` runs but the report jobs (rendering is not the point here)
REFERENCE = f"""
import datetime as dt
from crm.zones import CrmHome
from orchestration.jobs import QUARTERLY_JOB, REPORTS_JOB, WEEKLY_JOB
from orchestration.runner import configure_dagster_home, run_dates
configure_dagster_home()
CrmHome.from_env().ensure()
runs = run_dates(dt.date.fromisoformat("{DATE}"), dt.date.fromisoformat("{DATE}"),
                 skip=(REPORTS_JOB, QUARTERLY_JOB, WEEKLY_JOB))
print([(r.job, r.success, r.failed_steps, r.failed_checks) for r in runs])
assert [r.job for r in runs] == ["daily_pipeline", "month_end_pipeline"] and all(r.success for r in runs)
"""
KEY = "5a" * 32  # one masking key for both homes, so their staged tokens can be compared
DQ_COLUMNS = (
    "extract, business_date, source_file, sha256, suite_version, parsed, accepted, quarantined, "
    "accepted_with_warnings, balanced"
)


def _require_rabbitmq() -> None:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=3).close()
    except OSError as e:  # fail, never skip: the suite's contract is that the broker is there
        pytest.fail(f"RabbitMQ is not reachable at 127.0.0.1:5672 ({e}); start it: bash scripts/dev.sh services")


def _env(tmp: Path, home: Path, queue: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "CRM_")) and k != "PYTHONPATH"}
    env.update(
        CRM_ENV="local",
        CRM_HOME=str(home),
        CRM_MASKING_KEY=KEY,
        DAGSTER_HOME=str(tmp / "dagster_home"),
        CRM_EXECUTOR="celery",
        CRM_CELERY_BROKER=LOCAL_BROKER,
        CRM_CELERY_BACKEND=LOCAL_BACKEND,
        CRM_CELERY_QUEUE=queue,
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def _init_instance(env: dict[str, str]) -> None:
    """What docs/operations.md says to run once before the first worker starts: ``dagster instance migrate``
    creates the instance's storage. Workers open the instance as they start, and two starting together on a
    fresh SQLite instance both create its tables: one exits with ``table ... already exists``."""
    proc = subprocess.run(
        [str(BIN / "dagster"), "instance", "migrate"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def _start_worker(name: str, env: dict, config: Path, queue: str, log: Path) -> subprocess.Popen:
    """``dagster-celery worker start`` (it runs ``celery -A dagster_celery.app worker``), one step at a time,
    in a session of its own so that it and its pool can be stopped together. Without mingle (and gossip), as
    docs/operations.md starts them: at start-up mingle asks every worker on the broker for its state, and a
    reply in a format other than JSON (another application's worker on the shared broker) makes a
    dagster-celery worker stop (``ContentDisallowed``)."""
    with log.open("w") as out:
        return subprocess.Popen(
            [
                str(BIN / "dagster-celery"),
                "worker",
                "start",
                "-A",
                "dagster_celery.app",
                "-y",
                str(config),
                "-n",
                name,
                "-q",
                queue,
                "-l",
                "INFO",
                "-i",
                "orchestration.definitions",
                "--",
                "--concurrency=1",
                "--without-mingle",
                "--without-gossip",
            ],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)  # the worker's own session: dagster-celery, celery and its pool child
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:  # the celery child outlives the dagster-celery parent
                os.killpg(proc.pid, 0)
                time.sleep(0.2)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            pass


def _wait_for_workers(names: set[str], logs: list[Path], timeout: float = 120) -> set[str]:
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app

    app = make_app(CeleryExecutor.for_cli(broker=LOCAL_BROKER, backend=LOCAL_BACKEND).app_args())
    # only these workers answer: another worker on the shared broker (a render worker) answers in pickle
    destination = [f"{n}@{socket.gethostname()}" for n in sorted(names)]
    deadline, seen = time.monotonic() + timeout, set()
    while time.monotonic() < deadline:
        replies = app.control.ping(destination=destination, timeout=1.0) or []
        seen = {n.split("@")[0] for reply in replies for n in reply} & names
        if seen == names:
            return {n for reply in replies for n in reply if n.split("@")[0] in names}
        time.sleep(1)
    tails = "\n".join(f"--- {p.name}\n" + "\n".join(p.read_text().splitlines()[-15:]) for p in logs)
    pytest.fail(f"Celery workers {sorted(names - seen)} did not answer within {timeout:.0f} s\n{tails}")


def _staged(home: Path) -> dict[str, object]:
    return {p.parent.name: pq.read_table(p) for p in sorted((home / "staged").glob(f"*/{DATE}.parquet"))}


def _dq_outcomes(home: Path) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(f"SELECT {DQ_COLUMNS} FROM dq_file_outcomes ORDER BY extract, source_file").fetchall()


def _marts(home: Path) -> dict[str, pd.DataFrame]:
    """Every table of the warehouse with a ``month_end`` column (the marts the month-end job writes), the
    month's rows, in an order that does not depend on the order they were written in."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT table_name FROM information_schema.columns WHERE column_name = 'month_end' ORDER BY 1"
            ).fetchall()
        ]
        out = {}
        for name in names:
            frame = con.execute(f'SELECT * FROM "{name}" WHERE month_end = ?', [DATE]).df()
            out[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
        return out


def _run_steps(instance: dg.DagsterInstance, run) -> tuple[set, dict, set, set]:
    """(steps that succeeded, step -> Celery worker that ran it, pids of the steps, pids of the run start)."""
    events = [r.dagster_event for r in instance.all_logs(run.run_id) if r.dagster_event]
    # dagster-celery's worker task reports "Executing steps <key> in celery worker" with the worker's name
    ran_on = {
        e.step_key: e.engine_event_data.metadata["Celery worker"].value
        for e in events
        if e.event_type == DagsterEventType.ENGINE_EVENT and "in celery worker" in (e.message or "")
    }
    succeeded = {e.step_key for e in events if e.event_type == DagsterEventType.STEP_SUCCESS}
    step_pids = {e.pid for e in events if e.event_type == DagsterEventType.STEP_SUCCESS}
    orchestrator_pids = {e.pid for e in events if e.event_type == DagsterEventType.RUN_START}
    return succeeded, ran_on, step_pids, orchestrator_pids


@pytest.mark.slow
def test_daily_and_month_end_pipelines_on_two_celery_workers_match_the_in_process_run(tmp_path):
    _require_rabbitmq()
    ref_home, cel_home = tmp_path / "ref", tmp_path / "celery"
    for home in (ref_home, cel_home):
        generate(home / "landing", customers=150, start=DATE, end=DATE, seed=23)
    queue = f"crm-test-{uuid.uuid4().hex[:10]}"  # a queue of this test's own on the shared broker
    env = _env(tmp_path, cel_home, queue)
    dagster_home = Path(env["DAGSTER_HOME"])
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(
        f"storage:\n  sqlite:\n    base_dir: {tmp_path / 'dagster_storage'}\ntelemetry:\n  enabled: false\n"
    )
    _init_instance(env)  # the storage, once: two workers starting together would both create it
    from orchestration.celery import write_worker_config

    config = write_worker_config(tmp_path / "celery-worker.yaml", broker=LOCAL_BROKER, backend=LOCAL_BACKEND)
    names = {f"w1-{queue}", f"w2-{queue}"}
    logs = [tmp_path / f"{n}.log" for n in sorted(names)]
    workers = []
    try:
        workers = [_start_worker(n, env, config, queue, log) for n, log in zip(sorted(names), logs, strict=True)]

        # meanwhile, the reference: the same bank run the ordinary way in another CRM_HOME
        ref_env = _env(tmp_path, ref_home, queue)
        del ref_env["DAGSTER_HOME"]
        del ref_env["CRM_EXECUTOR"]  # the default, multiprocess
        ref_env["CRM_DAGSTER_DIR"] = str(tmp_path / "ref_dagster")
        ref = subprocess.run(
            [sys.executable, "-c", REFERENCE], env=ref_env, cwd=REPO, capture_output=True, text=True, timeout=600
        )
        assert ref.returncode == 0, ref.stdout[-3000:] + ref.stderr[-3000:]

        hostnames = _wait_for_workers(names, logs)
        for job, partition in (("daily_pipeline", str(DATE)), ("month_end_pipeline", MONTH)):  # as crm run does
            run_log = tmp_path / f"celery-{job}.log"
            with run_log.open("w") as out:
                proc = subprocess.run(
                    [
                        str(BIN / "dagster"),
                        "job",
                        "execute",
                        "-m",
                        "orchestration.definitions",
                        "-j",
                        job,
                        "--tags",
                        f'{{"dagster/partition": "{partition}"}}',
                    ],
                    env=env,
                    cwd=REPO,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=300,
                )
            assert proc.returncode == 0, run_log.read_text()[-5000:]
    finally:
        for w in workers:
            _stop(w)

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = {r.job_name: r for r in instance.get_runs()}
        assert sorted(runs) == ["daily_pipeline", "month_end_pipeline"]
        steps = {job: _run_steps(instance, run) for job, run in runs.items()}
    assert runs["daily_pipeline"].tags["dagster/partition"] == str(DATE)
    assert runs["month_end_pipeline"].tags["dagster/partition"] == MONTH
    for job, count in (("daily_pipeline", 37), ("month_end_pipeline", 31)):
        succeeded, ran_on, step_pids, orchestrator_pids = steps[job]
        assert runs[job].is_success
        assert len(succeeded) == count and set(ran_on) == succeeded, (job, sorted(succeeded), ran_on)
        assert set(ran_on.values()) == hostnames, f"{job} ran on {set(ran_on.values())}, workers were {hostnames}"
        assert len(step_pids) == 2 and not step_pids & orchestrator_pids, (job, step_pids, orchestrator_pids)

    ref_staged, cel_staged = _staged(ref_home), _staged(cel_home)
    # the 18 daily extracts and the 5 month-end ones
    month_end = {"loan_performance", "deposit_balances", "txn_monthly", "financial_statements", "coverage"}
    assert len(ref_staged) == 23 and month_end | {"fee_ledger"} <= set(ref_staged)
    assert {k: t.num_rows for k, t in cel_staged.items()} == {k: t.num_rows for k, t in ref_staged.items()}
    assert sum(t.num_rows for t in cel_staged.values()) > 1000
    # same key, same files: the same tokens and masks, row for row
    assert all(cel_staged[k].equals(ref_staged[k]) for k in ref_staged)
    ref_dq = _dq_outcomes(ref_home)
    assert len(ref_dq) >= 12 and _dq_outcomes(cel_home) == ref_dq
    # the month-end job's marts: the same tables, the same rows
    ref_marts, cel_marts = _marts(ref_home), _marts(cel_home)
    assert len(ref_marts) >= 20 and sorted(cel_marts) == sorted(ref_marts)
    assert {"customer_360", "customer_value", "financial_ratios", "watch_list"} <= set(ref_marts)
    assert sum(len(f) for f in ref_marts.values()) > 500
    for name, frame in ref_marts.items():
        pd.testing.assert_frame_equal(cel_marts[name], frame, obj=name)


def test_executor_settings_come_from_the_environment_or_the_local_defaults(monkeypatch):
    from orchestration.celery import celery_executor_config, worker_config

    for var in ("CRM_CELERY_BROKER", "CRM_CELERY_BACKEND", "CRM_CELERY_QUEUE"):
        monkeypatch.delenv(var, raising=False)
    assert celery_executor_config() == {"broker": LOCAL_BROKER, "backend": "rpc://"}
    monkeypatch.setenv("CRM_CELERY_BROKER", "pyamqp://crm:secret@mq.bank.example:5672//")
    monkeypatch.setenv("CRM_CELERY_QUEUE", "crm-prod")
    config = celery_executor_config()
    # a broker URL can hold a password: referenced, never copied into the config
    assert config["broker"] == {"env": "CRM_CELERY_BROKER"} and "secret" not in repr(config)
    assert config["config_source"] == {"task_default_queue": "crm-prod"}
    assert worker_config() == {"execution": {"config": config}}


def test_the_deploy_worker_config_is_valid_for_dagster_celery(monkeypatch):
    from dagster_celery.cli import get_validated_config

    monkeypatch.setenv("CRM_CELERY_BROKER", "pyamqp://crm@mq.bank.example:5672//")
    monkeypatch.setenv("CRM_CELERY_BACKEND", "rpc://")
    config = get_validated_config(str(REPO / "deploy" / "celery-worker.yaml"))
    assert config["broker"] == "pyamqp://crm@mq.bank.example:5672//" and config["backend"] == "rpc://"


def test_crm_executor_celery_runs_every_job_on_celery_and_the_default_stays_multiprocess(monkeypatch):
    """One declaration of the jobs: ``CRM_EXECUTOR=celery`` gives the same jobs (selection, partitions, graph)
    with dagster-celery's executor; without it they keep the multiprocess executor."""
    from orchestration.definitions import definitions, defs

    monkeypatch.setenv("CRM_EXECUTOR", "celery")
    celery = definitions()
    names = sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__"))
    assert {
        "daily_pipeline",
        "month_end_pipeline",
        "monthly_reports",
        "quarterly_satisfaction",
        "weekly_watch_list",
        "raw_retention",
    } == set(names)
    assert sorted(j.name for j in celery.resolve_all_job_defs() if not j.name.startswith("__")) == names
    for name in names:
        job, default = celery.resolve_job_def(name), defs.resolve_job_def(name)
        assert job.executor_def.name == "crm_celery" and default.executor_def.name == "multiprocess", name
        assert job.partitions_def == default.partitions_def, name
        assert {n.name for n in job.graph.node_defs} == {n.name for n in default.graph.node_defs}, name
        if default.asset_layer.executable_asset_keys:
            assert job.asset_layer.executable_asset_keys == default.asset_layer.executable_asset_keys, name
    assert celery.resolve_job_def("month_end_pipeline").partitions_def is not None
