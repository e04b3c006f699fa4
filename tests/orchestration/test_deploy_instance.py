"""deploy/dagster.yaml loads as a Dagster instance on the real PostgreSQL, with the queue, pool, retry and
monitoring settings it states, and takes every connection setting from the environment."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "dagster.yaml"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
PG_ENV = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD")


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(**PG, dbname="test", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:  # fail clearly, never skip
        pytest.fail(f"PostgreSQL is not reachable at {PG['host']}:{PG['port']}: {e}")


@pytest.fixture
def dagster_db():
    """A throwaway database for the instance (dagster-postgres takes a database, not a schema)."""
    name = f"crm_dagster_test_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def deploy_home(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY, home / "dagster.yaml")
    return home


def test_every_connection_setting_comes_from_the_environment():
    config = yaml.safe_load(DEPLOY.read_text())
    db = config["storage"]["postgres"]["postgres_db"]
    assert {k: v for k, v in db.items()} == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "db_name": {"env": "DAGSTER_PG_DB"},
        "username": {"env": "DAGSTER_PG_USER"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
    }
    assert "postgres_url" not in config["storage"]["postgres"]


def test_the_deploy_instance_on_postgresql(dagster_db, deploy_home, monkeypatch):
    for var, value in zip(PG_ENV, ("127.0.0.1", "5432", dagster_db, "postgres", ""), strict=True):
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("DAGSTER_HOME", str(deploy_home))
    with dg.DagsterInstance.from_config(str(deploy_home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert dagster_db in instance.run_storage.postgres_url
        assert instance.get_runs_count() == 0  # a query against the tables it just created

        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
        concurrency = instance.get_concurrency_config()
        queue = concurrency.run_queue_config
        assert queue.max_concurrent_runs == 4
        assert queue.tag_concurrency_limits == [{"key": "crm/sends-email", "value": "true", "limit": 1}]
        assert concurrency.pool_config.default_pool_limit == 1
        assert concurrency.pool_config.pool_granularity.value == "op"

        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert instance.run_retries_retry_on_asset_or_op_failure is False
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_start_timeout_seconds == 300
        assert instance.run_monitoring_cancel_timeout_seconds == 180
        assert instance.run_monitoring_max_runtime_seconds == 21600
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert not instance.telemetry_enabled
    with psycopg.connect(**PG, dbname=dagster_db, autocommit=True) as conn:
        tables = {
            r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        }
    assert {"runs", "event_logs", "jobs", "instigators", "concurrency_limits"} <= tables


def test_an_unset_connection_variable_stops_the_instance(deploy_home, monkeypatch):
    for var, value in zip(PG_ENV, ("127.0.0.1", "5432", "unused", "postgres", ""), strict=True):
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("DAGSTER_PG_HOST")
    with pytest.raises(DagsterInvalidConfigError, match="DAGSTER_PG_HOST"):
        dg.DagsterInstance.from_config(str(deploy_home))
