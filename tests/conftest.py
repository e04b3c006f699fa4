"""Shared fixtures. The ``warehouse`` fixture runs each warehouse test on DuckDB and on PostgreSQL;
``pg_database`` makes a throwaway PostgreSQL database; ``scheduled_bank`` is the end-to-end tests' bank."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm.warehouse import begin, ensure_schema, make_engine

PG_URL = os.environ.get("CRM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SLOW_TIMEOUT = 1800  # seconds, for tests marked slow (pyproject.toml's timeout, 600 s, for the others)


@pytest.fixture(autouse=True)
def _process_state_restored():
    """Undo what a test leaves in the process's environment and working directory (the ``crm`` command sets
    ``CRM_HOME``, ``DAGSTER_HOME`` and ``CRM_DAGSTER_DIR`` for its process, ``crm ui`` changes directory), so
    no test sees another's settings, in whatever order they run."""
    environ, cwd = dict(os.environ), os.getcwd()
    yield
    if dict(os.environ) != environ:
        os.environ.clear()
        os.environ.update(environ)
    if os.getcwd() != cwd:
        os.chdir(cwd)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` get the longer per-test timeout unless they set their own."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))


# With pytest-xdist's file scheduling (scripts/dev.sh runs `-n auto --dist loadfile`): the files that use the
# session bank (``scheduled_bank``) run in one process, so the bank is built once, and they and the other long
# files are handed out first, so that no process is left running a long file after the others have finished.
BANK_FILES = (
    "tests/test_scheduled_jobs.py",
    "tests/test_end_to_end.py",
    "tests/test_production_path.py",
    "tests/test_report_readers.py",
    "tests/test_report_language.py",
    "tests/test_report_archive.py",
    "tests/test_report_browser.py",
    "tests/test_value_recompute.py",
)
LONG_FILES = (
    "tests/orchestration/test_celery.py",
    "tests/test_crm_run.py",
    "tests/orchestration/test_hostile_pipeline.py",
    "tests/quality/test_hostile.py",
)
BANK_SCOPE = "scheduled_bank"


class _BankFirstScheduling:
    """The xdist hook (a plugin registered only when xdist is loaded, so ``-p no:xdist`` still runs)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config, log):
        if config.getvalue("dist") != "loadfile":
            return None
        from xdist.scheduler import LoadFileScheduling

        class Scheduling(LoadFileScheduling):
            def _split_scope(self, nodeid: str) -> str:
                scope = super()._split_scope(nodeid)
                return BANK_SCOPE if scope in BANK_FILES else scope

            def _assign_work_unit(self, node) -> None:
                for scope in reversed((BANK_SCOPE, *LONG_FILES)):
                    if scope in self.workqueue:
                        self.workqueue.move_to_end(scope, last=False)
                super()._assign_work_unit(node)

        return Scheduling(config, log)


def pytest_configure(config):
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_BankFirstScheduling(), "crm-bank-first-scheduling")


@dataclass
class Warehouse:
    engine: sa.Engine
    schema: str | None
    url: str


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path):
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        engine = make_engine(url)
        ensure_schema(engine)
        yield Warehouse(engine, None, url)
        engine.dispose()
        return
    engine = make_engine(PG_URL)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as e:  # fail clearly, never skip silently
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_URL}: {e.__class__.__name__}. "
            "Start it (see README) or set CRM_TEST_PG_URL."
        )
    schema = f"t_{uuid.uuid4().hex[:12]}"
    ensure_schema(engine, schema)
    try:
        yield Warehouse(engine, schema, PG_URL)
    finally:
        with begin(engine) as c:
            c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def pg_admin():
    """A psycopg connection (autocommit) to the test server's maintenance database, for CREATE/DROP DATABASE;
    fails the test clearly (never skips) when the server is down."""
    import psycopg

    url = sa.engine.make_url(PG_URL)
    try:
        return psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database,
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError as e:
        pytest.fail(
            f"PostgreSQL is not reachable at {url.host}:{url.port}: {e.__class__.__name__}. "
            "Start it (see README) or set CRM_TEST_PG_URL."
        )


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The test server's URL, once it answered: a test naming this fixture before its slow session fixtures
    fails at once, and clearly, when PostgreSQL is down."""
    with pg_admin():
        pass
    return PG_URL


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A throwaway database on the test server (dagster-postgres and a production warehouse take a whole
    database, not a schema): yields its SQLAlchemy URL, drops it after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# The synthetic bank of the end-to-end tests of the scheduled jobs (tests/test_scheduled_jobs.py) and of the
# production path (tests/test_production_path.py): two consecutive month ends, the second closing a quarter
# and ending a Monday..Sunday week. 2024 is chosen because 31 March 2024 is a Sunday: the quarter's close,
# the second month end and the week's Sunday are one business date, so the week and the month ends need
# only 2024-02-29, 2024-03-24 (the Sunday before) .. 2024-03-31 staged. 600 customers: fewer and the retail
# scorecard has under the 50 bad outcomes it trains on (no scores, no drift), and the satisfaction reports
# of a branch can be empty for a quarter.
BANK_CUSTOMERS, BANK_SEED = 600, 11
FIRST_MONTH_END = dt.date(2024, 2, 29)
SECOND_MONTH_END = dt.date(2024, 3, 31)
WEEK = dt.date(2024, 3, 25)  # the weekly partition: Monday 25 .. Sunday 31 March, against Sunday 24 March


@dataclass
class Bank:
    root: Path  # tmp folder of the session's bank
    landing: Path  # the generated extracts, as the bank delivered them (never changed)
    home: Path  # CRM_HOME of the local run
    env: dict[str, str]  # the local run's environment
    runs: list[dict]  # what tests.jobrun.run_jobs returned for the first month end


@pytest.fixture(scope="session")
def scheduled_bank(tmp_path_factory) -> Bank:
    """The bank, generated once, and its first month end run locally as the schedules and the sensor run it:
    the daily pipeline for 2024-02-29, the month-end pipeline and the monthly reports of February 2024, in a
    fresh SQLite Dagster instance (the repository's dagster.yaml with CRM_DAGSTER_DIR in tmp), DuckDB
    warehouse, the local masking key file, reports mailed as .eml files. tests/test_scheduled_jobs.py runs the
    second month end, the week and the quarter on the same home; tests/test_production_path.py compares this
    first month end with the production path's."""
    from crm.synthetic import generate
    from orchestration.jobs import DAILY_JOB, MONTH_END_JOB, REPORTS_JOB
    from tests.jobrun import clean_env, run_jobs

    root = tmp_path_factory.mktemp("bank")
    landing = root / "landing"
    generate(landing, customers=BANK_CUSTOMERS, start=FIRST_MONTH_END, end=SECOND_MONTH_END, seed=BANK_SEED)
    home = root / "local"
    shutil.copytree(landing, home / "landing")  # copy2: the files keep their arrival times
    # steps in process: the same jobs and outcomes without a process per step (about 3 CPU-seconds each)
    env = clean_env(
        CRM_ENV="local", CRM_HOME=str(home), CRM_DAGSTER_DIR=str(root / "local_dagster"), CRM_EXECUTOR="in_process"
    )
    month = FIRST_MONTH_END.replace(day=1).isoformat()
    runs = run_jobs(
        env, [(DAILY_JOB, FIRST_MONTH_END.isoformat(), None), (MONTH_END_JOB, month, None), (REPORTS_JOB, month, None)]
    )
    return Bank(root, landing, home, env, runs)


@pytest.fixture(scope="session")
def all_periods_bank(scheduled_bank) -> tuple[Bank, list[dict]]:
    """After the session's first month end (``scheduled_bank``): the second month end, the week and the
    quarter, run as the schedules run them (the daily pipeline up to 2024-03-31, the month end of March, the
    weekly watch list of the week ending 31 March, the monthly reports of March, the quarterly reports, and a
    rerun of March's reports). Returns the bank and every run's summary (first month's runs first). Every report
    kind (crm.reports.plan.REPORT_KINDS) has been rendered into ``bank.home / "reports"`` once this is done."""
    from orchestration.jobs import DAILY_JOB, MONTH_END_JOB, QUARTERLY_JOB, REPORTS_JOB, WEEKLY_JOB
    from tests.jobrun import run_jobs

    week_end = WEEK + dt.timedelta(days=6)
    assert week_end == SECOND_MONTH_END and WEEK.weekday() == 0  # the bank's calendar, as chosen above
    second_month = SECOND_MONTH_END.replace(day=1).isoformat()
    runs = run_jobs(
        scheduled_bank.env,
        [
            (DAILY_JOB, (week_end - dt.timedelta(days=7)).isoformat(), SECOND_MONTH_END.isoformat()),
            (MONTH_END_JOB, second_month, None),
            (WEEKLY_JOB, WEEK.isoformat(), None),
            (REPORTS_JOB, second_month, None),
            (QUARTERLY_JOB, second_month, None),
            (REPORTS_JOB, second_month, None),  # the rerun
        ],
    )
    return scheduled_bank, scheduled_bank.runs + runs
