"""The rendering engine: Jinja2 templates to self-contained HTML, WeasyPrint to PDF.

Templates live in ``reports/templates/``: one layout (``base.html.j2``), one stylesheet (``palette.css``, the
colours, then ``report.css``, inlined into every HTML file), shared macros (``_macros.html.j2``) and one
``<report>.html.j2`` per report. Autoescaping is on for everything, and undefined variables raise
(``StrictUndefined``). Every value a template outputs passes :func:`_finalize` first: control and format
characters (:mod:`crm.text`: C0/C1 controls, bidirectional overrides and isolates, zero-width characters ...)
are removed, so a stored value can never make a report display text in another order than the one stored,
whatever the data holds.

A report is a name. :data:`REPORTS` maps names to a :class:`ReportSpec` when a report needs more than its
template, one line per report, its ``prepare`` function imported explicitly above it; a name without an
entry renders ``<name>.html.j2`` with the context as given. A spec's ``prepare`` is called as
``prepare(context, fmt, t)`` and returns extra template variables: that is where locale-dependent work that
is not plain formatting happens, e.g. charts with translated labels. See ``crm/reports/README.md``.

PDF rendering imports WeasyPrint inside the functions (the Dagster definitions must not load it), reuses one
``FontConfiguration`` per process, and fetches nothing from the network: the URL fetcher allows ``data:``
URLs and ``file:`` URLs under the templates folder (or the given ``base_url`` folder) only, and a refused
URL stops the rendering with :class:`RenderError`. A report's PDF is an archive copy (:mod:`crm.reports.archive`:
PDF/A-3b, tagged, its tables attached as CSV). Output is byte-for-byte deterministic for the same HTML: every
date in the PDF is the report's logical time, from the ``dcterms.created`` meta the layout writes from
``generated_at``, and the file identifier is a digest of the content.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jinja2
from markupsafe import Markup

from crm.reports import dq_charts, portfolio, proposals, risk
from crm.reports.fmt import DEFAULT_LOCALE, Formatter, check_locale
from crm.reports.i18n import translator
from crm.reports.labels import code_label, codes_label
from crm.reports.settings import tone
from crm.text import clean

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "reports" / "templates"
STYLESHEET = "report.css"
PALETTE = "palette.css"  # the colours, shared with the auditors' data-quality site (crm.reports.dq_site)
NUMERIC_KINDS = frozenset({"number", "percent", "amount", "money", "filesize"})
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}
RESERVED = frozenset(
    {
        "t",
        "fmt",
        "locale",
        "html_lang",
        "report_name",
        "stylesheet",
        "NUMERIC_KINDS",
        "tone",
        "code_label",
        "codes_label",
    }
)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class RenderError(RuntimeError):
    """A report could not be rendered (unknown report, reserved context key, refused URL ...)."""


Prepare = Callable[[Mapping[str, Any], Formatter, Callable[..., str]], Mapping[str, Any]]


@dataclass(frozen=True)
class ReportSpec:
    """How to render one report: its template and, optionally, a function called as
    ``prepare(context, fmt, t) -> dict`` whose result is added to the template variables."""

    template: str
    prepare: Prepare | None = None


# The reports that need more than their template: one explicit line each.
REPORTS: dict[str, ReportSpec] = {
    "dq_report": ReportSpec("dq_report.html.j2", prepare=dq_charts.prepare),
    "key_account": ReportSpec("key_account.html.j2", prepare=portfolio.prepare_key_account),
    "branch": ReportSpec("branch.html.j2", prepare=portfolio.prepare_branch),
    "satisfaction": ReportSpec("satisfaction.html.j2", prepare=portfolio.prepare_satisfaction),
    "watch_digest": ReportSpec("watch_digest.html.j2", prepare=portfolio.prepare_watch_digest),
    "risk": ReportSpec("risk.html.j2", prepare=risk.prepare_risk),
    "proposals": ReportSpec("proposals.html.j2", prepare=proposals.prepare_proposals),
}


def report_spec(report_name: str) -> ReportSpec:
    """The spec of a report: its :data:`REPORTS` entry, or ``<name>.html.j2`` with no prepare step."""
    if not _NAME.match(report_name):
        raise RenderError(f"report names are lower_snake_case, not {report_name!r}")
    return REPORTS.get(report_name) or ReportSpec(f"{report_name}.html.j2")


def palette(templates_dir: Path = TEMPLATES_DIR) -> str:
    """The colours every stylesheet starts with (``palette.css``: CSS custom properties on ``:root``)."""
    return (templates_dir / PALETTE).read_text(encoding="utf-8")


@cache
def _stylesheet(templates_dir: Path) -> Markup:
    css = palette(templates_dir) + (templates_dir / STYLESHEET).read_text(encoding="utf-8")
    if "</" in css:  # would close the <style> element it is inlined into
        raise RenderError(f"{PALETTE} and {STYLESHEET} must not contain '</'")
    return Markup(css)


def _finalize(value: Any) -> Any:
    """Every ``{{ ... }}`` output, before escaping: text without control and format characters (markup keeps
    its line breaks and tabs, which are layout, not content)."""
    if isinstance(value, Markup):
        return Markup(clean(str(value), keep_breaks=True))
    if isinstance(value, str):
        return clean(value)
    return value


@cache
def environment(locale: str = DEFAULT_LOCALE, templates_dir: Path = TEMPLATES_DIR) -> jinja2.Environment:
    """The Jinja2 environment of a locale (one per process and locale): autoescape on, strict undefined,
    the Formatter's filters, and the globals ``t``, ``fmt``, ``locale``, ``html_lang``, ``stylesheet``,
    ``code_label(set, code)`` and ``codes_label(set, codes)`` (:mod:`crm.reports.labels` in the locale)."""
    check_locale(locale)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    fmt = Formatter(locale)
    t = translator(locale)
    env.filters.update(fmt.filters())
    env.globals.update(
        t=t,
        code_label=lambda code_set, code: code_label(code_set, code, t),
        codes_label=lambda code_set, codes: codes_label(code_set, codes, t),
        fmt=fmt,
        locale=locale,
        html_lang=HTML_LANG[locale],
        stylesheet=_stylesheet(templates_dir),
        NUMERIC_KINDS=NUMERIC_KINDS,
        tone=tone,
    )
    return env


def render_html(
    report_name: str,
    context: Mapping[str, Any],
    locale: str = DEFAULT_LOCALE,
    *,
    templates_dir: Path = TEMPLATES_DIR,
) -> str:
    """The report as one self-contained HTML document (stylesheet inlined, charts inline SVG, no external
    reference). ``context`` must not use the reserved names (:data:`RESERVED`)."""
    spec = report_spec(report_name)
    clash = RESERVED & set(context)
    if clash:
        raise RenderError(f"context keys {sorted(clash)} are reserved template globals")
    env = environment(locale, templates_dir)
    variables = dict(context)
    if spec.prepare:
        extra = spec.prepare(variables, env.globals["fmt"], env.globals["t"])
        variables.update(extra)
    return env.get_template(spec.template).render(variables, report_name=report_name)


# ------------------------------------------------------------------------------------------------ PDF
@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    pages: int


_FONT_CONFIG: Any = None


def font_config() -> Any:
    """The process's WeasyPrint ``FontConfiguration``, created on first use and reused by every render."""
    global _FONT_CONFIG
    if _FONT_CONFIG is None:
        from weasyprint.text.fonts import FontConfiguration

        _FONT_CONFIG = FontConfiguration()
    return _FONT_CONFIG


@cache
def _fetcher_class() -> type:
    from weasyprint.urls import URLFetcher

    class LocalFileFetcher(URLFetcher):
        """Fetches ``data:`` URLs and ``file:`` URLs under ``root``; refuses everything else."""

        def __init__(self, root: Path) -> None:
            super().__init__(allowed_protocols=("data", "file"), allow_redirects=False, fail_on_errors=True)
            self.root = root.resolve()

        def fetch(self, url: str, headers: Any = None) -> Any:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme == "file" and Path(unquote(parts.path)).resolve().is_relative_to(self.root):
                return super().fetch(url, headers)
            if scheme == "data":
                return super().fetch(url, headers)
            raise ValueError(f"reports render offline: refused to fetch {url[:80]!r}")

    return LocalFileFetcher


def _base_dir(base_url: str | Path | None) -> Path:
    if base_url is None:
        return TEMPLATES_DIR
    if isinstance(base_url, Path):
        return base_url
    parts = urlsplit(base_url)
    if parts.scheme not in ("", "file"):
        raise RenderError(f"base_url must be a local folder, not {base_url!r}")
    return Path(unquote(parts.path))


def render_pdf_document(html: str, base_url: str | Path | None = None, *, archive: bool = True) -> RenderedPdf:
    """The PDF of a report's HTML and its page count. ``base_url`` (a folder path or ``file:`` URL; default
    the templates folder) resolves relative URLs, and bounds what may be fetched: files under it.
    ``archive`` (default): PDF/A-3b, tagged, the tables attached as CSV (:mod:`crm.reports.archive`);
    otherwise a plain PDF."""
    import weasyprint
    from weasyprint.urls import FatalURLFetchingError

    from crm.reports.archive import PDF_VARIANT, weasyprint_attachments

    root = _base_dir(base_url)
    options: dict[str, Any] = {}
    if archive:
        options = {"pdf_variant": PDF_VARIANT, "pdf_tags": True, "attachments": weasyprint_attachments(html)}
    try:
        document = weasyprint.HTML(
            string=html, base_url=root.resolve().as_uri() + "/", url_fetcher=_fetcher_class()(root)
        ).render(font_config=font_config(), **({"pdf_tags": True} if archive else {}))
        return RenderedPdf(document.write_pdf(**options), len(document.pages))
    except FatalURLFetchingError as e:  # a BaseException: turn it into an ordinary error
        raise RenderError(f"{e} ({e.__cause__})") from None


def render_pdf(html: str, base_url: str | Path | None = None) -> bytes:
    """The PDF bytes of a report's HTML (see :func:`render_pdf_document`)."""
    return render_pdf_document(html, base_url).data


def warm_up() -> None:
    """Load WeasyPrint, Pango and the CJK font into this process (worker initialiser): renders one tiny
    document with the report stylesheet."""
    html = (
        f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><style>{_stylesheet(TEMPLATES_DIR)}"
        "</style></head><body><p>信贷客户关系管理 Credit CRM 1,234.57 万元</p></body></html>"
    )
    render_pdf_document(html)
