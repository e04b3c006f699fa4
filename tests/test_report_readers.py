"""What the readers of the demo bank receive: every figure reconciles with the warehouse.

After ``all_periods_bank`` (tests/conftest.py) every report kind of :data:`crm.reports.plan.REPORT_KINDS` has
been rendered into ``CRM_HOME/reports/<period>/<kind>/<recipient>.html`` from the bank's DuckDB warehouse (two
month ends, a week, a quarter). For every kind, and every rendered file of it:

- the file carries its figure parameters once (``<meta name="crm:figure-params">``);
- every tile's value names a figure (``data-figure``), and no digit of a tile's value or sub line is outside a
  figure; in a table with figures, every numeric cell is one;
- every figure id is in the figure map (``crm/reports/figures*.toml``) and belongs to that kind's report;
- each figure's SQL, run with the file's parameters on the bank's warehouse, gives the figure's unrounded
  value (``data-value``): integers exactly, other numbers within 1e-9 relative, a missing value on both sides;
  a table figure by its row (``data-row``).

And every figure of the map is used by at least one rendered report of the bank (no dead entry; a figure whose
tables have no row in the bank is listed instead: no report can show it), and, per
kind, each figure query of its files gives on PostgreSQL what it gives on DuckDB (the bank's tables copied into
a throwaway schema). A failure names the kind, the file, the figure id and both values.
"""

from __future__ import annotations

import json
import re
import uuid
from functools import cache
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm.reports.figures import FigureQueryError, RenderedFigures, figure_map, read_html, reconcile, run_figure, same
from crm.reports.i18n import catalogue
from crm.reports.plan import REPORT_KINDS
from crm.warehouse import begin, make_engine
from tests.conftest import PG_URL

# the session's bank takes minutes on two cores, charged to whichever test comes first
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

KINDS = sorted(REPORT_KINDS)


@pytest.fixture(scope="module")
def bank(all_periods_bank):
    return all_periods_bank[0]


@pytest.fixture(scope="module")
def rendered(bank) -> dict[str, list[tuple[str, RenderedFigures]]]:
    """Per report kind, each rendered HTML file (its path under reports/) and what it says of its figures."""
    root = bank.home / "reports"
    return {
        kind: [
            (str(p.relative_to(root)), read_html(p.read_text(encoding="utf-8")))
            for p in sorted(root.glob(f"*/{kind}/*.html"))
        ]
        for kind in KINDS
    }


def _duckdb(home: Path) -> sa.Engine:
    return make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")


@cache
def _label_constants() -> tuple[str, ...]:
    """The constant parts of the labels that hold a digit (e.g. "95% 置信区间" of "95% 置信区间 {low} – {high}"):
    text of the catalogue, not a figure."""
    parts = {
        " ".join(part.split())
        for entry in catalogue().values()
        for text in entry.values()
        for part in re.split(r"\{[^}]*\}", text)
    }
    return tuple(sorted((p for p in parts if re.search(r"\d", p)), key=len, reverse=True))


def _untraced(text: str) -> str:
    """What is left of a tile's text outside its figures that holds a digit, once the labels' constant parts are
    taken out ("" when nothing)."""
    text = " ".join(text.split())
    for constant in _label_constants():
        text = text.replace(constant, " ")
    text = " ".join(text.split())
    return text if re.search(r"\d", text) else ""


@pytest.mark.parametrize("kind", KINDS)
def test_every_figure_of_every_report_reconciles_with_the_warehouse(kind, bank, rendered):
    files = rendered[kind]
    assert files, f"{kind}: no rendered report under reports/*/{kind}/"
    problems: list[str] = []
    engine = _duckdb(bank.home)
    try:
        with begin(engine) as conn:
            for name, doc in files:
                where = f"{kind} {name}"
                if doc.params_count != 1:
                    problems.append(f"{where}: {doc.params_count} <meta name='crm:figure-params'> (one expected)")
                for tile in doc.tiles:
                    untraced = _untraced(tile.untraced)
                    if not tile.value_has_figure or untraced:
                        problems.append(
                            f"{where}: tile {tile.label!r} (line {tile.line}): "
                            + ("its value has no data-figure; " if not tile.value_has_figure else "")
                            + (f"numbers outside any figure: {untraced!r}" if untraced else "")
                        )
                for table in doc.tables:
                    for cell in table.bare_numeric_cells:
                        problems.append(
                            f"{where}: table at line {table.line}: a numeric cell without data-figure, {cell}"
                        )
                if not doc.params_count:
                    continue  # nothing to reconcile with: said above
                for r in reconcile(conn, doc, report=kind):
                    if not r.ok:
                        row = f" row {r.row!r}" if r.row is not None else ""
                        problems.append(
                            f"{where}: {r.figure or '-'}{row}: report {r.report_value!r}, warehouse "
                            f"{r.warehouse_value!r}: {r.problem}"
                        )
    finally:
        engine.dispose()
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


def _tables_read(sql: str) -> set[str]:
    return {t.lower() for t in re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", sql, re.I)}


def test_every_figure_of_the_map_is_used_by_a_report_of_the_bank(bank, rendered):
    """Every figure is on a page of the bank, unless a table its SQL reads has no row in the bank's warehouse
    (then no report can show it: e.g. the uplift of proposals needs a cohort whose take-up window has closed, and
    the conversion of offers needs opportunity records, which the bank's two months do not have). Those are
    listed, not silently passed; a figure whose tables all have rows must be used."""
    used = {ref.figure for docs in rendered.values() for _, doc in docs for ref in doc.figures}
    engine = _duckdb(bank.home)
    try:
        with begin(engine) as conn:
            raw = conn.connection.driver_connection
            filled = {n.lower() for (n,) in raw.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
            filled = {n for n in filled if raw.execute(f'SELECT 1 FROM "{n}" LIMIT 1').fetchone()}
    finally:
        engine.dispose()
    fmap = figure_map()
    no_data = {fid for fid, fig in fmap.items() if not _tables_read(fig.sql) <= filled}
    dead = sorted(set(fmap) - used - no_data)
    print(f"figures without data in the bank (not checked for use): {sorted(no_data)}")
    assert not dead, "figures of the map that no rendered report of the bank uses:\n" + "\n".join(
        f"{fid} ({fmap[fid].source}, report {fmap[fid].report})" for fid in dead
    )


_PG_TYPES = {
    "BOOLEAN": sa.Boolean(),
    "DATE": sa.Date(),
    "BIGINT": sa.BigInteger(),
    "INTEGER": sa.Integer(),
    "SMALLINT": sa.SmallInteger(),
    "HUGEINT": sa.Numeric(38, 0),
    "DOUBLE": sa.Float(53),
    "FLOAT": sa.Float(24),
    "VARCHAR": sa.Text(),
}


def _copy_table(duck: sa.Connection, pg: sa.Connection, schema: str, name: str) -> None:
    """One table of the bank's warehouse into PostgreSQL, column by column in the matching type."""
    raw = duck.connection.driver_connection
    cols = raw.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [name]
    ).fetchall()
    types = {
        c: sa.DateTime() if t.startswith("TIMESTAMP") else sa.Numeric() if t.startswith("DECIMAL") else _PG_TYPES[t]
        for c, t in cols
    }
    table = sa.Table(name, sa.MetaData(schema=schema), *(sa.Column(c, types[c]) for c, _ in cols))
    table.create(pg)
    rows = raw.execute(f'SELECT * FROM "{name}"').fetchall()
    if rows:
        pg.execute(table.insert(), [dict(zip(types, r, strict=True)) for r in rows])


@pytest.fixture(scope="module")
def postgres_copy(bank, postgres_server):
    """A throwaway PostgreSQL schema holding a copy of every table of the bank's warehouse that a figure's SQL
    reads (as they are: same columns, types and rows): yields the engine and the schema."""
    duck_engine, pg_engine = _duckdb(bank.home), make_engine(PG_URL)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with begin(duck_engine) as duck:
            raw = duck.connection.driver_connection
            tables = {n for (n,) in raw.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
            sqls = [f.sql for f in figure_map().values()]
            read = sorted({t for sql in sqls for t in re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", sql, re.I)} & tables)
            assert read
            with begin(pg_engine) as pg:
                pg.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
                for name in read:
                    _copy_table(duck, pg, schema, name)
        duck_engine.dispose()
        yield pg_engine, schema
    finally:
        duck_engine.dispose()
        with begin(pg_engine) as pg:
            pg.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        pg_engine.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_every_figure_query_gives_the_same_on_postgresql(kind, bank, rendered, postgres_copy):
    """The map's SQL is plain SQL: with every rendered file's parameters, each query of the file's figures
    gives on PostgreSQL what it gives on DuckDB (the tables the queries read copied over as they are)."""
    fmap = figure_map()
    runs = {
        (ref.figure, json.dumps(doc.params, sort_keys=True))
        for _, doc in rendered[kind]
        if doc.params
        for ref in doc.figures
        if ref.figure in fmap
    }
    assert runs, f"{kind}: no figure to run"
    pg_engine, schema = postgres_copy
    duck_engine = _duckdb(bank.home)
    problems = []
    try:
        with begin(duck_engine) as duck, begin(pg_engine, schema) as pg:
            for fid, params in sorted(runs):
                got = []
                for conn in (duck, pg):
                    try:
                        got.append(run_figure(conn, fmap[fid], json.loads(params)))
                    except FigureQueryError as e:
                        got.append(e)
                d, p = got
                if isinstance(d, Exception) or isinstance(p, Exception):
                    agree = False
                elif isinstance(d, dict) and isinstance(p, dict):
                    agree = d.keys() == p.keys() and all(same(d[k], p[k]) for k in d)
                else:
                    agree = same(d, p)
                if not agree:
                    problems.append(f"{kind}: {fid} {params}: DuckDB {d!r}, PostgreSQL {p!r}")
    finally:
        duck_engine.dispose()
    assert not problems, f"{len(problems)} of {len(runs)} queries differ:\n" + "\n".join(problems)
