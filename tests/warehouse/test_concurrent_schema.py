"""Steps that start together on a new PostgreSQL warehouse all create its tables: none may fail for it.

The multiprocess executor starts two steps at once, and every step opens the warehouse through
``WarehouseResource.engine()``, which calls :func:`crm.warehouse.ensure_schema`. On a fresh database two
``CREATE TABLE`` of the same table in concurrent transactions collide in PostgreSQL's catalogue (a unique
violation on ``pg_type_typname_nsp_index``); the production path's first daily run failed that way.
"""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from crm.warehouse import begin, ensure_schema, make_engine, metadata
from tests.conftest import PG_URL


def test_concurrent_ensure_schema_on_a_fresh_postgresql_schema():
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engines = [make_engine(PG_URL) for _ in range(6)]
    try:
        with engines[0].connect():
            pass
    except sa.exc.OperationalError as e:  # fail clearly, never skip
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL}: {e.__class__.__name__}")
    start, errors = threading.Barrier(len(engines)), []

    def create(engine: sa.Engine) -> None:
        start.wait()
        try:
            ensure_schema(engine, schema)
        except Exception as e:  # noqa: BLE001 (collected and asserted on below)
            errors.append(f"{type(e).__name__}: {str(e).splitlines()[0]}")

    threads = [threading.Thread(target=create, args=(e,)) for e in engines]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        with begin(engines[0]) as conn:
            tables = set(sa.inspect(conn).get_table_names(schema=schema))
        assert set(metadata.tables) <= tables
    finally:
        with begin(engines[0]) as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        for e in engines:
            e.dispose()
