"""Small charts for reports, as inline SVG strings drawn with matplotlib.

Every function returns one ``<svg>`` element ready to paste into HTML, as ``markupsafe.Markup`` so that an
autoescaping template prints it as markup (matplotlib escapes the text it writes, and the title is escaped
here); no XML prolog, no DOCTYPE, no external reference, no raster image: text stays text (``svg.fonttype = "none"``) in the reports' CJK font,
so it is searchable and selectable in the PDF, and the first child is a ``<title>`` (accessible name).
Output is deterministic: the same input gives the same string (fixed ``svg.hashsalt``, no date metadata,
element ids prefixed with a digest of the chart itself, so several charts can share one page).

matplotlib is imported inside the functions (with the ``Agg`` backend, and ``Figure`` objects rather than
pyplot, so no global figure state grows in long-running workers).

X values are categories (labels, e.g. formatted days) plotted at equal spacing; a caller that needs a date
axis formats its dates first.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from markupsafe import Markup, escape

FONT_FAMILY = ["Noto Sans CJK SC", "DejaVu Sans"]
PALETTE = ["#1f3a5f", "#3f7f8c", "#c0913f", "#a9473b", "#7d8a99", "#6b5b95"]
INK, MUTED, GRID = "#22303c", "#6b7785", "#e3e7ec"
ValueFormat = Literal["number", "percent"]

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "credit-crm-reports",
    "font.family": FONT_FAMILY,
    "font.size": 8,
    "axes.edgecolor": GRID,
    "axes.labelcolor": MUTED,
    "axes.titlesize": 9,
    "axes.titlecolor": INK,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "path.simplify": True,
}


def line_chart(
    x: Sequence[Any],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str,
    band: tuple[Sequence[float], Sequence[float]] | None = None,
    band_label: str | None = None,
    y_format: ValueFormat = "number",
    y_limits: tuple[float | None, float | None] | None = None,
    max_ticks: int = 10,
    size: tuple[float, float] = (6.8, 2.4),
) -> Markup:
    """Lines over categorical ``x`` (one per ``series`` item, ``None`` = gap), with an optional shaded
    interval ``band`` = (lower, upper) under them. ``y_format="percent"`` reads values as ratios (0.985 is
    98.5 %)."""
    with _figure(size) as (fig, ax):
        pos = list(range(len(x)))
        if band is not None:
            lower, upper = (_floats(v) for v in band)
            ax.fill_between(pos, lower, upper, color=PALETTE[1], alpha=0.15, linewidth=0, label=band_label)
        for i, (name, values) in enumerate(series.items()):
            ax.plot(
                pos,
                _floats(values),
                color=PALETTE[i % len(PALETTE)],
                linewidth=1.6,
                marker="o",
                markersize=2.5,
                label=name,
            )
        _x_ticks(ax, x, max_ticks)
        _y_axis(ax, y_format, y_limits)
        if len(series) > 1 or band_label:
            ax.legend(loc="lower left", ncols=4, fontsize=7)
        return _svg(fig, title)


def bar_chart_h(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    value_format: ValueFormat = "number",
    color: str | None = None,
    size: tuple[float, float] | None = None,
) -> Markup:
    """Horizontal bars, first label at the top, each bar annotated with its value."""
    n = len(labels)
    with _figure(size or (6.8, 0.5 + 0.26 * max(n, 1))) as (fig, ax):
        pos = list(range(n))
        vals = [float(v) for v in values]
        ax.barh(pos, vals, color=color or PALETTE[0], height=0.62)
        ax.set_yticks(pos, [str(s) for s in labels])
        ax.invert_yaxis()
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.grid(axis="x", color=GRID, linewidth=0.6)
        ax.set_axisbelow(True)
        top = max(vals, default=0.0) or 1.0
        ax.set_xlim(0, top * 1.15)
        for p, v in zip(pos, vals, strict=True):
            ax.text(v + top * 0.01, p, _label(v, value_format), va="center", fontsize=7, color=INK)
        _value_axis(ax.xaxis, value_format)
        return _svg(fig, title)


def stacked_bar(
    categories: Sequence[Any],
    stacks: Mapping[str, Sequence[float]],
    *,
    title: str,
    colors: Sequence[str] | None = None,
    value_format: ValueFormat = "number",
    max_ticks: int = 16,
    size: tuple[float, float] = (6.8, 2.4),
) -> Markup:
    """Vertical bars per category, one stacked segment per ``stacks`` item (in order, bottom first)."""
    with _figure(size) as (fig, ax):
        pos = list(range(len(categories)))
        bottom = [0.0] * len(pos)
        palette = list(colors or PALETTE)
        for i, (name, values) in enumerate(stacks.items()):
            vals = [float(v) for v in values]
            ax.bar(pos, vals, bottom=bottom, width=0.72, color=palette[i % len(palette)], label=name)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        _x_ticks(ax, categories, max_ticks)
        ax.grid(axis="y", color=GRID, linewidth=0.6)
        ax.set_axisbelow(True)
        _value_axis(ax.yaxis, value_format)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=max(len(stacks), 1), fontsize=7)
        return _svg(fig, title)


# ------------------------------------------------------------------------------------------- internals
@contextmanager
def _figure(size: tuple[float, float]) -> Iterator[tuple[Any, Any]]:
    """A figure and its axes, with the reports' rc settings in force while the caller draws and saves
    (text properties are taken from rcParams when the text is created)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=size, layout="constrained")
        yield fig, fig.add_subplot()


def _floats(values: Sequence[float | None]) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


def _label(value: float, fmt: ValueFormat) -> str:
    return f"{value * 100:.1f}%" if fmt == "percent" else f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _value_axis(axis, fmt: ValueFormat) -> None:
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    if fmt == "percent":
        axis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))
    else:
        axis.set_major_locator(MaxNLocator(nbins=5, integer=True))


def _y_axis(ax, fmt: ValueFormat, limits: tuple[float | None, float | None] | None) -> None:
    _value_axis(ax.yaxis, fmt)
    if limits is not None:
        ax.set_ylim(*limits)
    ax.grid(axis="y", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)


def _x_ticks(ax, x: Sequence[Any], max_ticks: int) -> None:
    n = len(x)
    step = max(1, -(-n // max_ticks))
    ticks = list(range(0, n, step))
    ax.set_xticks(ticks, [str(x[i]) for i in ticks])
    ax.set_xlim(-0.6, n - 0.4)
    ax.tick_params(axis="x", length=0)


_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_SIZE = re.compile(r'\s(width|height)="[^"]*"')
_ID = re.compile(r'\bid="([^"]+)"')


def _svg(fig, title: str) -> Markup:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = _METADATA.sub("", _PROLOG.sub("", buf.getvalue(), count=1)).strip()
    prefix = "c" + hashlib.sha1(f"{title}\n{svg}".encode()).hexdigest()[:8]
    for old in set(_ID.findall(svg)):
        svg = svg.replace(f'id="{old}"', f'id="{prefix}-{old}"').replace(f"#{old})", f"#{prefix}-{old})")
        svg = svg.replace(f'href="#{old}"', f'href="#{prefix}-{old}"')
    head, rest = svg.split(">", 1)
    head = _SIZE.sub("", head, count=2)
    title_id = f"{prefix}-title"
    return Markup(
        f'{head} class="chart-svg" role="img" aria-labelledby="{title_id}">'
        f'<title id="{title_id}">{escape(title)}</title>{rest}'
    )
