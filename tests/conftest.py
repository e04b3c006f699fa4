"""Shared fixtures. The ``warehouse`` fixture runs each warehouse test on DuckDB and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

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
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL}: {e.__class__.__name__}. "
                    "Start it (see README) or set CRM_TEST_PG_URL.")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    ensure_schema(engine, schema)
    try:
        yield Warehouse(engine, schema, PG_URL)
    finally:
        with begin(engine) as c:
            c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
