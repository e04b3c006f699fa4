"""The ``crm figures`` commands: where a number of a report comes from, for auditors (docs/auditors.md,
"Tracing a figure"). ``list`` the figure map, ``show`` a figure's definition and SQL (and run it), ``check`` a
rendered report: recompute every figure it shows against the warehouse. Registered on the ``crm`` group by
:mod:`crm.cli`."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from crm.zones import CrmHome


@click.group()
@click.option(
    "--warehouse-url",
    envvar="CRM_WAREHOUSE_URL",
    default="",
    help="SQLAlchemy URL of the warehouse  [default: CRM_WAREHOUSE_URL, else CRM_HOME/warehouse.duckdb]",
)
@click.option("--schema", default=None, help="The warehouse's schema (PostgreSQL), if not the default.")
@click.pass_context
def figures(ctx: click.Context, warehouse_url: str, schema: str | None) -> None:
    """The figure map: the query behind every number of a report's tiles and summary tables."""
    home: CrmHome = ctx.obj
    ctx.obj = {
        "home": home,
        "url": warehouse_url or os.environ.get("CRM_WAREHOUSE_URL") or home.warehouse_url,
        "schema": schema,
    }


@contextmanager
def _warehouse(obj: dict[str, Any]):
    from crm.warehouse import begin, make_engine

    engine = make_engine(obj["url"])
    try:
        with begin(engine, obj["schema"]) as conn:
            yield conn
    finally:
        engine.dispose()


def _map():
    from crm.reports.figures import FigureMapError, figure_map

    try:
        return figure_map()
    except FigureMapError as e:
        raise click.ClickException(str(e)) from None


def _shown(value: Any) -> str:
    return "missing" if value is None else repr(value) if isinstance(value, str) else str(value)


@figures.command("list")
@click.option("--report", help="Only the figures of this report kind (key_account, branch, data_quality ...).")
def figures_list(report: str | None) -> None:
    """Every figure id with its report, kind and label."""
    for fid, f in sorted(_map().items()):
        if report is None or f.report == report:
            click.echo(f"{fid:<40} {f.report:<22} {f.kind:<7} {f.label['zh_CN']} / {f.label['en']}")


def _params(values: tuple[str, ...], report_file: str | None) -> dict[str, Any] | None:
    from crm.reports.figures import read_html

    params: dict[str, Any] | None = None
    if report_file:
        try:
            params = read_html(Path(report_file).read_text(encoding="utf-8")).params
        except ValueError as e:
            raise click.ClickException(f"{report_file}: {e}") from None
        if params is None:
            raise click.ClickException(f"{report_file} has no <meta name='crm:figure-params'>")
    for v in values:
        name, sep, value = v.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {v!r}", param_hint="--param")
        params = (params or {}) | {name: value or None}
    return params


@figures.command("show")
@click.argument("figure_id")
@click.option(
    "--param",
    "values",
    multiple=True,
    metavar="NAME=VALUE",
    help="Run the query with this parameter (repeatable; NAME= for a null, i.e. bank-wide).",
)
@click.option(
    "--report-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Run the query with the parameters of this rendered report (its <meta name='crm:figure-params'>).",
)
@click.pass_obj
def figures_show(obj: dict[str, Any], figure_id: str, values: tuple[str, ...], report_file: str | None) -> None:
    """Print FIGURE_ID's definition and SQL; with parameters, run it on the warehouse and print the result."""
    from crm.reports.figures import FigureQueryError, run_figure

    fmap = _map()
    f = fmap.get(figure_id)
    if f is None:
        close = [i for i in sorted(fmap) if i.startswith(figure_id.split(".")[0] + ".")][:10]
        raise click.ClickException(
            f"no figure {figure_id!r} in the map" + (f" (e.g. {', '.join(close)})" if close else "")
        )
    click.echo(f"figure:     {f.id}")
    click.echo(f"report:     {f.report}")
    click.echo(f"label:      {f.label['zh_CN']} / {f.label['en']}")
    click.echo(f"kind:       {f.kind}" + ("  (rows: the row key, the value)" if f.kind == "table" else ""))
    if f.note:
        click.echo(f"note:       {f.note}")
    click.echo(f"defined in: crm/reports/{f.source}")
    click.echo(f"parameters: {', '.join(':' + p for p in f.params) or 'none'}")
    click.echo("sql:")
    click.echo("\n".join("    " + line for line in f.sql.splitlines()))
    params = _params(values, report_file)
    if params is None:
        return
    try:
        with _warehouse(obj) as conn:
            result = run_figure(conn, f, params)
    except FigureQueryError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"with {params}:")
    if f.kind == "table":
        for row, value in sorted(result.items()):
            click.echo(f"    {row}: {_shown(value)}")
        if not result:
            click.echo("    (no row)")
    else:
        click.echo(f"    {_shown(result)}")


@figures.command("check")
@click.argument("report_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--all", "show_all", is_flag=True, help="List the figures that agree too.")
@click.pass_obj
def figures_check(obj: dict[str, Any], report_file: str, show_all: bool) -> None:
    """Recompute every figure of a rendered REPORT_FILE (HTML) on the warehouse with the report's parameters;
    exit 1 when one differs or cannot be computed. The report kind is the file's folder
    (reports/<period>/<kind>/<recipient>.html), when it is one."""
    import sys

    from crm.reports.figures import read_html, reconcile
    from crm.reports.plan import REPORT_KINDS

    path = Path(report_file)
    try:
        rendered = read_html(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise click.ClickException(f"{path}: {e}") from None
    kind = path.parent.name if path.parent.name in REPORT_KINDS else None
    if rendered.params is None:
        raise click.ClickException(
            f"{path} has no <meta name='crm:figure-params'>: not a reader report, or rendered before its figures "
            "were traced"
        )
    fmap = _map()
    with _warehouse(obj) as conn:
        results = reconcile(conn, rendered, report=kind, figures=fmap)
    click.echo(f"{path}: report {kind or '(unknown kind)'}, parameters {rendered.params}")
    bad = [r for r in results if not r.ok]
    for r in results:
        if r.ok and not show_all:
            continue
        row = f" [{r.row}]" if r.row is not None else ""
        state = "ok " if r.ok else "BAD"
        click.echo(
            f"  {state} {r.figure}{row}  shown {r.text!r}  report {_shown(r.report_value)}  "
            f"warehouse {_shown(r.warehouse_value)}" + ("" if r.ok else f"  ({r.problem})")
        )
    click.echo(f"{len(results)} figures: {len(results) - len(bad)} agree, {len(bad)} do not")
    sys.exit(1 if bad or not results else 0)
