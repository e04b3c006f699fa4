"""The figure map: which query produced each number of a report, and the check that recomputes them.

Every number in a tile or a summary table of a report is rendered inside an element that names its figure
(``data-figure``, an id of this map) and carries its unrounded value (``data-value``; ``""`` for a missing
value), and every reader report carries its scope once, in ``<meta name="crm:figure-params" content='{json}'>``
(the context's ``figure_params``: the parameters of the report's queries, dates as ISO strings, ``null`` for
bank-wide). The map says, per figure id, how to compute it from the warehouse with plain SQL, written apart
from the pandas code that builds the report: two computations that must agree.

The map is every ``figures*.toml`` next to this module (one file per family of reports, so that reports are
added without editing each other's files; a figure id defined in two files is an error)::

    ["br.loan_balance"]
    report = "branch"                      # a report kind of crm.reports.plan.REPORT_KINDS
    label = { zh_CN = "贷款余额", en = "Loan balance" }
    kind = "scalar"                        # "scalar": one value; "table": rows of (row, value)
    sql = "SELECT ... WHERE month_end = :month_end AND branch_id = :branch_id"
    note = "optional: the definition in words"

SQL parameters are ``:name`` binds filled from the report's ``figure_params``; a parameter whose name ends in
``_end``, ``_start`` or ``_date`` is bound as a date. A ``scalar`` query returns one column and at most one
row (no row: a missing value); a ``table`` query returns two columns, the row key (matched with the
``data-row`` of the figure's element or of its table row) and the value. Queries use unqualified table names;
on PostgreSQL the connection's schema is put on the ``search_path`` first.

:func:`read_html` takes the figures out of a rendered file; :func:`check_html` recomputes them
(``crm figures check <file>``; ``tests/test_report_readers.py`` does it for every report of the demo bank).
Values agree when both are missing, integers are equal, or other numbers are within 1e-9 relative.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import math
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crm.reports.fmt import LOCALES

FIGURES_DIR = Path(__file__).parent
FIGURES_GLOB = "figures*.toml"
KINDS = ("scalar", "table")
PARAMS_META = "crm:figure-params"
REL_TOL = 1e-9
_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_FIELDS = {"report", "label", "kind", "sql", "note"}
_DATE_SUFFIXES = ("_end", "_start", "_date")
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class FigureMapError(ValueError):
    """A malformed figure map (a bad entry, an unknown report or kind, an id defined twice)."""


class FigureQueryError(RuntimeError):
    """A figure's query failed or returned something other than its kind promises."""


@dataclass(frozen=True)
class Figure:
    """One entry of the map."""

    id: str
    report: str
    label: Mapping[str, str]
    kind: str
    sql: str
    note: str | None
    source: str  # the file that defines it

    @property
    def params(self) -> list[str]:
        """The parameters its SQL takes, in order of first use."""
        return list(dict.fromkeys(_PARAM.findall(self.sql)))


def _known_reports() -> frozenset[str]:
    from crm.reports.plan import REPORT_KINDS

    return frozenset(REPORT_KINDS)


def load_file(path: Path, reports: Collection[str]) -> dict[str, Figure]:
    """The figures of one file; :class:`FigureMapError` naming the file and the id for any bad entry."""
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        raise FigureMapError(f"{path.name}: not valid TOML: {e}") from None
    out: dict[str, Figure] = {}
    for fid, entry in raw.items():
        where = f"{path.name}: figure {fid!r}"
        if not _ID.match(fid):
            raise FigureMapError(f"{where}: ids are dotted lower_snake_case names, e.g. 'br.loan_balance'")
        if not isinstance(entry, dict):
            raise FigureMapError(f"{where}: must be a table of {', '.join(sorted(_FIELDS))}")
        unknown = set(entry) - _FIELDS
        if unknown:
            raise FigureMapError(f"{where}: unknown fields {sorted(unknown)}")
        missing = {"report", "label", "kind", "sql"} - set(entry)
        if missing:
            raise FigureMapError(f"{where}: missing {sorted(missing)}")
        if entry["report"] not in reports:
            raise FigureMapError(f"{where}: unknown report {entry['report']!r} (report kinds: {sorted(reports)})")
        if entry["kind"] not in KINDS:
            raise FigureMapError(f"{where}: kind must be one of {', '.join(KINDS)}, not {entry['kind']!r}")
        label = entry["label"]
        if (
            not isinstance(label, dict)
            or set(label) != set(LOCALES)
            or not all(isinstance(v, str) and v.strip() for v in label.values())
        ):
            raise FigureMapError(f"{where}: label must have a non-empty text for exactly {', '.join(LOCALES)}")
        if not isinstance(entry["sql"], str) or not entry["sql"].strip():
            raise FigureMapError(f"{where}: sql must be a non-empty string")
        note = entry.get("note")
        if note is not None and not isinstance(note, str):
            raise FigureMapError(f"{where}: note must be a string")
        out[fid] = Figure(fid, entry["report"], dict(label), entry["kind"], entry["sql"].strip(), note, path.name)
    return out


def load_map(folder: Path = FIGURES_DIR, reports: Collection[str] | None = None) -> dict[str, Figure]:
    """Every figure of every ``figures*.toml`` in ``folder`` (reports: the report kinds a figure may belong to;
    default :data:`crm.reports.plan.REPORT_KINDS`); :class:`FigureMapError` on a bad entry or an id defined in
    two files."""
    reports = _known_reports() if reports is None else frozenset(reports)
    out: dict[str, Figure] = {}
    for path in sorted(folder.glob(FIGURES_GLOB)):
        for fid, fig in load_file(path, reports).items():
            if fid in out:
                raise FigureMapError(f"figure {fid!r} is defined in both {out[fid].source} and {path.name}")
            out[fid] = fig
    return out


@cache
def figure_map() -> dict[str, Figure]:
    """The map of this installation (cached)."""
    return load_map()


# ----------------------------------------------------------------------------------------- the HTML side
@dataclass(frozen=True)
class FigureRef:
    """One figure element of a rendered report."""

    figure: str
    value: str  # data-value as written ("" for a missing value)
    row: str | None  # data-row of the element or of the nearest enclosing element that has one
    text: str  # what the reader sees
    line: int
    in_tile: bool


@dataclass
class Tile:
    """One KPI tile: its label, whether its value names a figure, and the text of its value and sub line
    outside any figure element (a digit there is a number nobody can trace)."""

    label: str = ""
    value_has_figure: bool = False
    untraced: str = ""
    line: int = 0


@dataclass
class TableInfo:
    """A table with at least one figure cell, and its numeric cells that carry none."""

    line: int
    figures: int = 0
    bare_numeric_cells: list[str] = field(default_factory=list)


@dataclass
class RenderedFigures:
    """What :func:`read_html` found: the report's figure parameters (None without the meta), its figure
    elements, its tiles and its tables."""

    params: dict[str, Any] | None
    figures: list[FigureRef]
    tiles: list[Tile]
    tables: list[TableInfo]
    params_count: int = 0


_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[dict[str, Any]] = []
        self.params: dict[str, Any] | None = None
        self.params_count = 0
        self.figures: list[FigureRef] = []
        self.tiles: list[Tile] = []
        self.tables: list[TableInfo] = []

    # an open element: tag, attrs, classes, and what we collect inside it
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "meta" and a.get("name") == PARAMS_META:
            self.params_count += 1
            try:
                self.params = json.loads(a.get("content", ""))
            except json.JSONDecodeError as e:
                raise ValueError(f"line {self.getpos()[0]}: {PARAMS_META} is not JSON: {e}") from None
        if tag in _VOID:
            return
        classes = set(a.get("class", "").split())
        el: dict[str, Any] = {"tag": tag, "attrs": a, "classes": classes, "line": self.getpos()[0]}
        if "data-figure" in a:
            el["figure"] = True
        if "figure" in el or (tag == "div" and "label" in classes) or (tag == "td" and "num" in classes):
            el["text"] = []  # the text of a figure, a tile's label, a numeric cell
        if tag == "div" and "tile" in classes:
            el["tile"] = Tile(line=self.getpos()[0])
            self.tiles.append(el["tile"])
        if tag == "table":
            el["table"] = TableInfo(line=self.getpos()[0])
        self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        for el in self.stack:
            if "text" in el:
                el["text"].append(data)
        if not self.stack:
            return
        tile = self._nearest("tile")
        if tile is not None and not self._inside_figure():
            part = self._tile_part()
            if part in ("value", "sub"):
                tile["tile"].untraced += data

    def _nearest(self, key: str) -> dict[str, Any] | None:
        for el in reversed(self.stack):
            if key in el:
                return el
        return None

    def _inside_figure(self) -> bool:
        return any("figure" in el for el in self.stack)

    def _tile_part(self) -> str | None:
        """label, value or sub: the part of the nearest tile the current element is in."""
        for el in reversed(self.stack):
            if "tile" in el:
                return None
            for part in ("label", "value", "sub"):
                if part in el["classes"] and el["tag"] == "div":
                    return part
        return None

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        # close up to the matching element (tolerates unclosed <p>, <li>, <td> ...)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i]["tag"] == tag:
                break
        else:
            return
        while len(self.stack) > i:
            self._close(self.stack.pop())

    def _close(self, el: dict[str, Any]) -> None:
        text = " ".join("".join(el.get("text", ())).split())
        a = el["attrs"]
        if "figure" in el:
            row = a.get("data-row")
            if row is None:
                for up in reversed(self.stack):
                    if "data-row" in up["attrs"]:
                        row = up["attrs"]["data-row"]
                        break
            tile = self._nearest("tile")
            self.figures.append(
                FigureRef(a["data-figure"], a.get("data-value", ""), row, text, el["line"], tile is not None)
            )
            if tile is not None and self._tile_part() == "value":
                tile["tile"].value_has_figure = True
            table = self._nearest("table")
            if table is not None:
                table["table"].figures += 1
        if el["tag"] == "div" and el["classes"] & {"label", "value", "sub"}:
            tile = self._nearest("tile")
            if tile is not None and "label" in el["classes"]:
                tile["tile"].label = text
            elif tile is not None:
                tile["tile"].untraced += " "  # the value and the sub line are two texts
        if el["tag"] == "td" and "num" in el["classes"] and "figure" not in el and not el.get("has_figure"):
            table = self._nearest("table")
            if table is not None:
                table["table"].bare_numeric_cells.append(f"line {el['line']}: {text!r}")
        if "figure" in el or el.get("has_figure"):
            for up in self.stack:
                up["has_figure"] = True
        if "table" in el and el["table"].figures:
            self.tables.append(el["table"])


def read_html(html: str) -> RenderedFigures:
    """The figure parameters, figure elements, tiles and figure tables of a rendered report; ``ValueError``
    when its figure parameters are not JSON."""
    p = _Parser()
    p.feed(html)
    p.close()
    while p.stack:
        p._close(p.stack.pop())
    return RenderedFigures(p.params, p.figures, p.tiles, p.tables, p.params_count)


# ------------------------------------------------------------------------------------ the warehouse side
def bind_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The SQL bind values of a report's figure parameters: ISO strings of ``*_end``, ``*_start`` and
    ``*_date`` parameters as dates, everything else as it is."""
    out = {}
    for k, v in params.items():
        if isinstance(v, str) and k.endswith(_DATE_SUFFIXES):
            try:
                v = dt.date.fromisoformat(v)
            except ValueError:
                raise FigureQueryError(f"parameter {k}: {v!r} is not an ISO date") from None
        out[k] = v
    return out


def value_of(x: Any) -> Any:
    """A query's or a report's value in one comparable form: None for missing (NULL, NaN, ""), bool, int,
    float, else text."""
    if hasattr(x, "item") and not isinstance(x, str | bytes):  # numpy scalars
        x = x.item()
    if x is None:
        return None
    if isinstance(x, bool | int):
        return x
    if isinstance(x, decimal.Decimal):
        return int(x) if x == x.to_integral_value() and x.as_tuple().exponent >= 0 else float(x)
    if isinstance(x, float):
        return None if math.isnan(x) else x
    if isinstance(x, str):
        s = x.strip()
        if s in ("", "nan", "NaN", "None"):
            return None
        if s in ("True", "False"):
            return s == "True"
        if re.fullmatch(r"[+-]?\d+", s):
            return int(s)
        try:
            f = float(s)
        except ValueError:
            return s
        return None if math.isnan(f) else f
    return x


def row_key(x: Any) -> str:
    """A query's row key as a report writes it in ``data-row``: dates as ISO dates, else the text."""
    if isinstance(x, dt.datetime):
        return x.date().isoformat() if x.time() == dt.time() else x.isoformat()
    if isinstance(x, dt.date):
        return x.isoformat()
    return "" if x is None else str(x)


def same(a: Any, b: Any) -> bool:
    """Whether two values (:func:`value_of`) agree: both missing; integers (and booleans) equal; other
    numbers within 1e-9 relative; text equal."""
    a, b = value_of(a), value_of(b)
    if a is None or b is None:
        return a is None and b is None
    numbers = (bool, int, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        if isinstance(a, bool | int) and isinstance(b, bool | int):
            return a == b
        return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=0.0)
    return str(a) == str(b)


def run_figure(conn: sa.Connection, figure: Figure, params: Mapping[str, Any]) -> Any:
    """The figure's value on the warehouse of ``conn`` for a report's ``params``: a scalar's value (None when
    the query returns no row), or a table's ``{row: value}``. :class:`FigureQueryError` when the query fails,
    lacks a parameter or returns another shape."""
    from crm.warehouse import schema_of

    missing = [p for p in figure.params if p not in params]
    if missing:
        raise FigureQueryError(f"{figure.id}: the report gives no {', '.join(missing)} (it gives {sorted(params)})")
    schema = schema_of(conn)
    try:
        if schema and conn.dialect.name == "postgresql":
            conn.execute(sa.text(f'SET LOCAL search_path TO "{schema}"'))
        # on PostgreSQL a failed query would abort the caller's transaction: run it in a savepoint
        nested = conn.dialect.name == "postgresql" and conn.in_transaction()
        with conn.begin_nested() if nested else contextlib.nullcontext():
            result = conn.execute(sa.text(figure.sql), bind_params(params))
            columns = list(result.keys())
            rows = result.fetchall()
    except sa.exc.SQLAlchemyError as e:
        raise FigureQueryError(
            f"{figure.id}: the query failed: {str(e.orig if hasattr(e, 'orig') else e)[:400]}"
        ) from e
    want = 1 if figure.kind == "scalar" else 2
    if len(columns) != want:
        raise FigureQueryError(f"{figure.id}: a {figure.kind} query returns {want} column(s), not {len(columns)}")
    if figure.kind == "scalar":
        if len(rows) > 1:
            raise FigureQueryError(f"{figure.id}: a scalar query returned {len(rows)} rows")
        return value_of(rows[0][0]) if rows else None
    out: dict[str, Any] = {}
    for r, v in rows:
        key = row_key(r)
        if key in out:
            raise FigureQueryError(f"{figure.id}: row {key!r} is returned twice")
        out[key] = value_of(v)
    return out


@dataclass(frozen=True)
class Reconciled:
    """One figure element of a report against its query: ``problem`` is None when they agree."""

    figure: str
    row: str | None
    text: str
    report_value: Any
    warehouse_value: Any
    problem: str | None
    line: int

    @property
    def ok(self) -> bool:
        return self.problem is None


def reconcile(
    conn: sa.Connection,
    rendered: RenderedFigures,
    *,
    report: str | None = None,
    figures: Mapping[str, Figure] | None = None,
) -> list[Reconciled]:
    """Every figure element of a rendered report recomputed with its query and the report's parameters.
    ``report``: the report kind the file is (each figure must belong to it). Problems: no parameters in the
    file, an id not in the map, a figure of another report, a query error, a row the query does not return,
    a value that differs."""
    figures = figure_map() if figures is None else figures
    if rendered.params is None:
        return [Reconciled("", None, "", None, None, f"the report has no <meta name={PARAMS_META!r}>", 0)]
    results: dict[str, Any] = {}
    out = []
    for ref in rendered.figures:
        mine = value_of(ref.value)

        def bad(problem: str, warehouse: Any = None, ref: FigureRef = ref, mine: Any = mine) -> Reconciled:
            return Reconciled(ref.figure, ref.row, ref.text, mine, warehouse, problem, ref.line)

        fig = figures.get(ref.figure)
        if fig is None:
            out.append(bad("not in the figure map"))
            continue
        if report is not None and fig.report != report:
            out.append(bad(f"belongs to report {fig.report!r}, not {report!r}"))
            continue
        if ref.figure not in results:
            try:
                results[ref.figure] = run_figure(conn, fig, rendered.params)
            except FigureQueryError as e:
                results[ref.figure] = e
        got = results[ref.figure]
        if isinstance(got, FigureQueryError):
            out.append(bad(str(got)))
            continue
        if fig.kind == "table":
            if ref.row is None:
                out.append(bad("a table figure outside any data-row"))
                continue
            if ref.row not in got:
                out.append(bad(f"the query returns no row {ref.row!r}"))
                continue
            got = got[ref.row]
        if not same(mine, got):
            out.append(bad("differs", got))
            continue
        out.append(Reconciled(ref.figure, ref.row, ref.text, mine, got, None, ref.line))
    return out


def check_html(
    conn: sa.Connection, html: str, *, report: str | None = None, figures: Mapping[str, Figure] | None = None
) -> list[Reconciled]:
    """:func:`reconcile` of one rendered file's text."""
    return reconcile(conn, read_html(html), report=report, figures=figures)
