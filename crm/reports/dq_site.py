"""The auditors' data-quality site, ``CRM_HOME/dq/site/``: static pages of our own, built from the Great
Expectations validation results stored under ``dq/validations/`` (:mod:`crm.quality.docs`), that need no
network (GX's own Data Docs pages load Bootstrap, jQuery and their result list from public CDNs).

- ``index.html``: every stored result, newest business date first, rendered on the server side (no
  script): suite (extract), business date(s), run id, recorded time, expectations evaluated and failed,
  success; each row (``<tr class="result">`` of ``<table class="results">``) links to the result's page.
- one page per result at the path of its store key, ``validations/<suite parts>/<run>/<time>/<dates>.html``
  (the path GX's site used, so :mod:`crm.retention` dates and purges pages and JSON alike): per expectation
  its rule in the reader's language (:func:`crm.reports.dq_labels.rule_description`), the GX expectation and
  its column, success, element count, unexpected count and percent, and the failing rows the result names
  (source file and row number: results never hold a value, and no other index column is shown).
- ``site.css``: the one stylesheet (``reports/templates/palette.css``, the reports' colours, then
  ``dq_site.css``), linked relatively; no page, style
  or link refers to anything outside the site's folders (:func:`check_offline`).
- ``index.json``: the manifest, one entry per result, sorted by page. :func:`publish` renders the pages of
  the new results, adds them to the manifest, drops entries whose stored result is gone (purged by
  retention) and renders the index from the manifest: no stored JSON is read again. Without a manifest (a
  new installation, or one whose site GX built) or with one of another :data:`FORMAT`, every stored result is
  read once and its page rendered (:func:`rebuild`); files of a GX-built site that are not ours (``static/``,
  ``expectations/`` ...) are left where they are, unlinked.

Words come from the message catalogue (``dq_site.*``, ``messages_dq_site.toml``), numbers and dates through
Babel (:class:`crm.reports.fmt.Formatter`), templates from ``reports/templates/`` (``dq_site_*.html.j2``)
through the reports' Jinja2 environment (autoescape, strict undefined, control characters removed from every
output): everything read from a result is treated as hostile. The same stored results give the same bytes:
stable order, no wall-clock time (the recorded time shown is the one in the result's store key). Files are
written atomically (:func:`crm.atomic.write_bytes`), and only when their bytes change.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

from crm.atomic import write_bytes
from crm.bank_calendar import BANK_TZ
from crm.quality.docs import locked, result_path, store, validations_dir
from crm.reports.dq_labels import extract_label, rule_description
from crm.reports.fmt import DEFAULT_LOCALE, Formatter
from crm.reports.render import TEMPLATES_DIR, environment, palette
from crm.zones import check_name, safe_path

_log = logging.getLogger(__name__)

FORMAT = 1  # the manifest's and pages' layout: another value in index.json renders every page again
INDEX, MANIFEST, STYLESHEET = "index.html", "index.json", "site.css"
STYLESHEET_SOURCE = "dq_site.css"
INDEX_TEMPLATE, RESULT_TEMPLATE = "dq_site_index.html.j2", "dq_site_result.html.j2"
MAX_ROWS_LISTED = 1000  # failing rows listed per expectation on a page (the stored JSON has them all)
LINEAGE = ("_source_file", "_row_number")  # the only index columns a page shows: never a value from the data
SITE_ORIGIN = "the Data Docs site"
_TIME = re.compile(r"\d{8}T\d{6}\.\d{6}Z")  # GX's run time in a store key: %Y%m%dT%H%M%S.%fZ, UTC
_TIME_FIELDS = ((0, 4), (4, 6), (6, 8), (9, 11), (11, 13), (13, 15), (16, 22))
_PLAIN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")  # a name crm.zones.check_name accepts, checked fast
_DATES = re.compile(r"^(\d{8})(?:-(\d{8})|-part(\d+)of(\d+))?$")


# ------------------------------------------------------------------------------------------------ values


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _day(text: str) -> dt.date | None:
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


@lru_cache(maxsize=1 << 16)
def business_dates(label: str) -> tuple[dt.date | None, dt.date | None, tuple[int, int] | None]:
    """The first and last business date a result's dates label names (``YYYYMMDD``, ``YYYYMMDD-YYYYMMDD``,
    ``YYYYMMDD-partNNofMM``) and the piece (NN, MM) of a partition validated in pieces; Nones for another
    label."""
    m = _DATES.match(label)
    if not m:
        return None, None, None
    first = _day(m[1])
    last = _day(m[2]) if m[2] else first
    piece = (int(m[3]), int(m[4])) if m[3] else None
    return (first, last, piece) if first and last else (None, None, None)


@lru_cache(maxsize=1 << 16)
def recorded_at(time: str) -> dt.datetime | None:
    """The recorded time of a store key (``YYYYMMDDTHHMMSS.ffffffZ``, UTC) as naive bank time."""
    if not _TIME.fullmatch(time):
        return None
    try:
        at = dt.datetime(*(int(time[a:b]) for a, b in _TIME_FIELDS), tzinfo=dt.UTC)
    except ValueError:
        return None
    return at.astimezone(BANK_TZ).replace(tzinfo=None)


def page_of(parts: Iterable[str]) -> str:
    """The page of a result (its store key's path parts), relative to the site folder."""
    return "validations/" + "/".join(parts) + ".html"


def _href(relative: str) -> str:
    """A relative link to a file of the site: each path part percent-encoded (a suite name may hold ``#``,
    ``?``, ``%`` or spaces); never a scheme, never a leading ``/``."""
    return "/".join(part if _PLAIN.fullmatch(part) else quote(part, safe="") for part in relative.split("/"))


# ------------------------------------------------------------------------------------------------ results


def entry_of(parts: tuple[str, ...], result: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest entry of a stored result (its store key's path parts and its JSON)."""
    stats = _dict(result.get("statistics"))
    meta = _dict(result.get("meta"))
    evaluated = _int(stats.get("evaluated_expectations"))
    failed = _int(stats.get("unsuccessful_expectations"))
    results = result.get("results") if isinstance(result.get("results"), list) else []
    if evaluated is None:
        evaluated = len(results)
    if failed is None:
        failed = sum(1 for r in results if not (isinstance(r, dict) and r.get("success") is True))
    suite = ".".join(parts[:-3])
    return {
        "page": page_of(parts),
        "key": list(parts),
        "suite": suite,
        "extract": _text(meta.get("extract")) or suite.removeprefix("crm."),
        "run": parts[-3],
        "time": parts[-2],
        "dates": parts[-1],
        "evaluated": evaluated,
        "failed": failed,
        "success": result.get("success") is True,
    }


def _condition(value: Any) -> str:
    """A GX row condition as short text: ``column operator parameter`` for a comparison, else its JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("column"), dict) and "operator" in value:
        return f"{_text(value['column'].get('name'))} {_text(value.get('operator'))} {value.get('parameter')}"
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str) if value else ""


def failing_rows(result: Mapping[str, Any], limit: int = MAX_ROWS_LISTED) -> tuple[list[dict[str, Any]], int]:
    """The failing rows an expectation's result names, as ``[{"file": name or "", "rows": [numbers]}]``
    sorted by file and row, at most ``limit`` rows, and how many rows the result names in all. Only the
    lineage columns (:data:`LINEAGE`) are read; a row number that is not a whole number is left out."""
    listed = result.get("unexpected_index_list")
    pairs: list[tuple[str, int]] = []
    if isinstance(listed, list) and len(listed) == 1 and isinstance(listed[0], dict):
        # GX 1.x with exclude_unexpected_values: one dict of columns, each a list of the failing rows' ids
        ids = listed[0]
        rows = ids.get("_row_number") if isinstance(ids.get("_row_number"), list) else []
        files = ids.get("_source_file") if isinstance(ids.get("_source_file"), list) else []
        for i, row in enumerate(rows):
            file = files[i] if i < len(files) else ""
            if _int(row) is not None:
                pairs.append((_text(file), row))
    elif isinstance(listed, list):  # one dict per failing row
        for item in listed:
            if isinstance(item, dict) and _int(item.get("_row_number")) is not None:
                pairs.append((_text(item.get("_source_file")), item["_row_number"]))
    pairs.sort()
    groups: dict[str, list[int]] = {}
    for file, row in pairs[:limit]:
        groups.setdefault(file, []).append(row)
    return [{"file": file, "rows": rows} for file, rows in groups.items()], len(pairs)


def expectation_rows(result: Mapping[str, Any], fmt: Formatter, t) -> list[dict[str, Any]]:
    """One row per expectation of a suite result, in the stored order, for the result page."""
    out = []
    items = result.get("results") if isinstance(result.get("results"), list) else []
    for n, r in enumerate(items, start=1):
        r = _dict(r)
        config = _dict(r.get("expectation_config"))
        kwargs = _dict(config.get("kwargs"))
        meta = _dict(config.get("meta"))
        res = _dict(r.get("result"))
        columns = kwargs.get("column_list") if isinstance(kwargs.get("column_list"), list) else [kwargs.get("column")]
        rule_id = _text(meta.get("rule_id"))
        rows, _ = failing_rows(res)
        percent = _number(res.get("unexpected_percent"))
        out.append(
            {
                "n": n,
                "rule_id": rule_id,
                "rule": rule_description(
                    rule_id, fmt, t, _text(config.get("description")) or None, _text(meta.get("family")) or None
                )
                if rule_id
                else "",
                "type": _text(config.get("type")) or _text(config.get("expectation_type")),
                "columns": t("code.sep").join(_text(c) for c in columns if _text(c)),
                "condition": _condition(kwargs.get("row_condition")),
                "severity": _text(config.get("severity")),
                "success": r.get("success") is True,
                "error": _dict(r.get("exception_info")).get("raised_exception") is True,
                "element_count": _int(res.get("element_count")),
                "unexpected_count": _int(res.get("unexpected_count")),
                "unexpected_ratio": None if percent is None else percent / 100,
                "failing": rows,
                "shown": sum(len(g["rows"]) for g in rows),
            }
        )
    return out


# ------------------------------------------------------------------------------------------------ rendering


class _Labels:
    """What the index and a page show of a result's key (extract, business dates, recorded time) and its
    counts, formatted once per distinct value (an index of thousands of results shares most of them)."""

    def __init__(self, fmt: Formatter, t) -> None:
        self.fmt, self.t = fmt, t
        self._dates: dict[str, str] = {}
        self._days: dict[dt.date, str] = {}
        self._extracts: dict[str, str] = {}
        self._numbers: dict[int | None, str] = {}

    def day(self, day: dt.date) -> str:
        if day not in self._days:
            self._days[day] = self.fmt.date(day)
        return self._days[day]

    def number(self, n: int | None) -> str:
        if n not in self._numbers:
            self._numbers[n] = self.fmt.number(n)
        return self._numbers[n]

    def dates(self, label: str) -> str:
        if label in self._dates:
            return self._dates[label]
        first, last, piece = business_dates(label)
        if first is None or last is None:
            text = label
        elif first == last:
            text = self.day(first)
        else:
            text = self.t("dq_site.date_range", first=self.day(first), last=self.day(last))
        if piece:
            text = self.t("dq_site.date_piece", dates=text, part=self.number(piece[0]), parts=self.number(piece[1]))
        self._dates[label] = text
        return text

    def extract(self, extract: str) -> str:
        if extract not in self._extracts:
            self._extracts[extract] = extract_label(extract, self.t)
        return self._extracts[extract]

    def __call__(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        at = recorded_at(entry["time"])
        return {
            "extract_label": self.extract(entry["extract"]),
            "dates_label": self.dates(entry["dates"]),
            "recorded_label": f"{self.day(at.date())} {at:%H:%M:%S}" if at else entry["time"],
            "evaluated_label": self.number(_int(entry.get("evaluated"))),
            "failed_label": self.number(_int(entry.get("failed"))),
        }


def _env(locale: str):
    return environment(locale, TEMPLATES_DIR)


def stylesheet() -> bytes:
    """``site.css``: the reports' palette (``palette.css``) followed by ``dq_site.css``."""
    return (palette() + (TEMPLATES_DIR / STYLESHEET_SOURCE).read_text(encoding="utf-8")).encode("utf-8")


def render_page(entry: Mapping[str, Any], result: Mapping[str, Any], locale: str = DEFAULT_LOCALE) -> str:
    """The page of one stored result (``entry``: its manifest entry, :func:`entry_of`)."""
    env = _env(locale)
    fmt, t = env.globals["fmt"], env.globals["t"]
    meta = _dict(result.get("meta"))
    depth = len(entry["key"])  # folders between the site and the page: validations/ and all key parts but the last
    root = "../" * depth
    rows = expectation_rows(result, fmt, t)
    batches = _int(meta.get("batches"))
    return env.get_template(RESULT_TEMPLATE).render(
        entry=entry,
        **_Labels(fmt, t)(entry),
        root=root,
        json_href=root + "../" + _href("validations/" + "/".join(entry["key"]) + ".json"),
        suite_version=_text(meta.get("suite_version")),
        gx_version=_text(meta.get("great_expectations_version")),
        batches=batches,
        expectations=rows,
        failed_expectations=[r for r in rows if not r["success"]],
        max_rows=MAX_ROWS_LISTED,
    )


def index_order(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Newest business date (a range's last) first, then newest recorded time, then suite, run, page;
    results whose dates label names no date last."""
    out = sorted(entries, key=lambda e: (e["suite"], e["run"], e["page"]))
    out.sort(key=lambda e: e["time"], reverse=True)
    out.sort(key=lambda e: business_dates(e["dates"])[1] or dt.date.min, reverse=True)
    return out


def render_index(entries: Iterable[Mapping[str, Any]], locale: str = DEFAULT_LOCALE) -> str:
    """The index page of the manifest's ``entries``."""
    env = _env(locale)
    fmt, t = env.globals["fmt"], env.globals["t"]
    labels = _Labels(fmt, t)
    # attribute objects, not dicts: Jinja looks an attribute up before an item, a miss per cell on a dict
    rows = [SimpleNamespace(**e, **labels(e), href=_href(e["page"])) for e in index_order(entries)]
    return env.get_template(INDEX_TEMPLATE).render(results=rows, failed=sum(1 for r in rows if not r.success), root="")


# ------------------------------------------------------------------------------------------------ files


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` atomically unless ``path`` already holds exactly these bytes."""
    try:
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    except OSError:
        pass
    write_bytes(path, data)


def site_dir(dq: Path) -> Path:
    return safe_path(dq, "site", origin=SITE_ORIGIN)


def _page_path(dq: Path, parts: Iterable[str]) -> Path:
    return safe_path(dq, "site", "validations", *parts, suffix=".html", origin=SITE_ORIGIN)


def _read_result(dq: Path, parts: tuple[str, ...]) -> dict | None:
    try:
        data = json.loads(result_path(dq, parts).read_bytes())
    except (OSError, ValueError) as e:
        _log.warning("data-quality site: stored result %s unreadable (%s)", "/".join(parts), type(e).__name__)
        return None
    return data if isinstance(data, dict) else None


def _render_result(dq: Path, parts: tuple[str, ...], locale: str) -> dict[str, Any] | None:
    """Render the page of the stored result ``parts``; its manifest entry (None when unreadable)."""
    result = _read_result(dq, parts)
    if result is None:
        return None
    entry = entry_of(parts, result)
    _write(_page_path(dq, parts), render_page(entry, result, locale).encode())
    return entry


def stored_keys(dq: Path) -> list[tuple[str, ...]]:
    """The store keys (path parts) of every result under ``dq/validations/``, sorted; symlinks not followed."""
    root = validations_dir(dq)
    if not root.is_dir():
        return []
    keys = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not name.endswith(".json") or name.startswith(".") or path.is_symlink():
                continue
            parts = PurePosixPath(path.relative_to(root).with_suffix("").as_posix()).parts
            if len(parts) >= 4:
                keys.append(tuple(parts))
    return keys


_ENTRY_TEXT = ("page", "suite", "extract", "run", "time", "dates")


def _entry_ok(e: Any) -> bool:
    """A manifest entry as :func:`entry_of` writes it (the types the index sorts and shows)."""
    if not isinstance(e, dict) or not isinstance(e.get("key"), list) or len(e["key"]) < 4:
        return False
    if not all(isinstance(p, str) for p in e["key"]) or not all(isinstance(e.get(k), str) for k in _ENTRY_TEXT):
        return False
    if not all(_int(e.get(k)) is not None for k in ("evaluated", "failed")) or not isinstance(e.get("success"), bool):
        return False
    return e["page"] == page_of(e["key"])


def _read_manifest(site: Path) -> dict[str, dict[str, Any]] | None:
    """The manifest's entries by page; None when it is missing, unreadable, of another :data:`FORMAT` or
    holds an entry not as :func:`entry_of` writes it (the site is then rebuilt from the stored results). A
    key part that is not a plain name raises :class:`crm.zones.UnsafePathError`."""
    try:
        data = json.loads((site / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("results"), list):
        return None
    out = {}
    for e in data["results"]:
        if not _entry_ok(e):
            return None
        for part in e["key"]:
            if not _PLAIN.fullmatch(part) or len(part) > 255:  # the fast path: letters, digits, _ - . only
                check_name(part, origin="the data-quality site manifest", zone="dq")
        out[e["page"]] = e
    return out


def _manifest_bytes(entries: Iterable[Mapping[str, Any]]) -> bytes:
    lines = [json.dumps(e, sort_keys=True, ensure_ascii=False) for e in sorted(entries, key=lambda e: e["page"])]
    body = ",\n".join(lines)
    return f'{{"format": {FORMAT}, "results": [\n{body}\n]}}\n'.encode()


def _finish(dq: Path, entries: dict[str, dict[str, Any]], locale: str) -> Path:
    site = site_dir(dq)
    _write(safe_path(dq, "site", STYLESHEET, origin=SITE_ORIGIN), stylesheet())
    _write(safe_path(dq, "site", MANIFEST, origin=SITE_ORIGIN), _manifest_bytes(entries.values()))
    index = safe_path(dq, "site", INDEX, origin=SITE_ORIGIN)
    _write(index, render_index(entries.values(), locale).encode())
    return site / INDEX


def _rebuild(dq: Path, locale: str) -> Path:
    entries = {}
    for parts in stored_keys(dq):
        entry = _render_result(dq, parts, locale)
        if entry is not None:
            entries[entry["page"]] = entry
    return _finish(dq, entries, locale)


def _update(dq: Path, new: list[tuple[str, ...]], locale: str) -> Path:
    entries = _read_manifest(site_dir(dq))
    if entries is None:
        return _rebuild(dq, locale)
    # the key parts were checked by _read_manifest: plain names, so a plain stat suffices (no resolving)
    validations, site = dq / "validations", dq / "site"
    for page, e in list(entries.items()):
        parts = tuple(e["key"])
        if not os.path.isfile(os.path.join(validations, *parts[:-1], parts[-1] + ".json")):
            del entries[page]  # purged by retention (or removed by hand)
        elif not os.path.isfile(os.path.join(site, page)) and (entry := _render_result(dq, parts, locale)):
            entries[page] = entry  # a page removed by hand: rendered again
    for parts in new:
        entry = _render_result(dq, parts, locale)
        if entry is not None:
            entries[entry["page"]] = entry
    return _finish(dq, entries, locale)


def publish(dq: Path, results: list[tuple[dict, str]], run_id: str | None, *, locale: str = DEFAULT_LOCALE) -> Path:
    """Store GX validation results (JSON dicts, each with the business date or range it covers, as
    ``YYYYMMDD``, ``YYYYMMDD-YYYYMMDD`` or ``YYYYMMDD-partNNofMM``) in ``dq/validations/`` and update the
    site: their pages, the manifest and the index. Returns the site's index page."""
    site_dir(dq)  # a site or store folder leading out of dq/ stops the step before anything is written
    validations_dir(dq)
    with locked(dq):
        return _update(dq, store(dq, results, run_id), locale)


def rebuild(dq: Path, *, locale: str = DEFAULT_LOCALE) -> Path:
    """Render the page of every stored result, the manifest and the index again (after an upgrade or a
    template change; :func:`publish` does it by itself when the manifest is missing). Returns the index."""
    site_dir(dq)
    validations_dir(dq)
    with locked(dq):
        return _rebuild(dq, locale)


# ------------------------------------------------------------------------------------------------ offline


_EXTERNAL = re.compile(r"^[\s\x00-\x1f]*(?:[a-z][a-z0-9+.-]*:|[\\/]{2})", re.IGNORECASE)
_LOCAL_SCHEMES = ("data:", "about:", "javascript:", "mailto:")
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_URL_ATTRIBUTES = frozenset({"href", "src", "srcset", "data", "action", "formaction", "poster", "background"})


def external(url: str) -> bool:
    """Whether a reference leaves the site: an absolute URL with a scheme (``http:``, ``https:``, ``ftp:``,
    ``file:`` ...; ``data:`` and in-page ones excepted) or a protocol-relative ``//host`` (``\\\\`` too)."""
    m = _EXTERNAL.match(url)
    if not m:
        return False
    return not m.group(0).strip().lower().startswith(_LOCAL_SCHEMES)


def _css_refs(css: str) -> list[str]:
    return [a or b or c for a, b, c in _CSS_URL.findall(css)] + [a or b for a, b in _CSS_IMPORT.findall(css)]


class _Refs(HTMLParser):
    """Every URL an HTML document refers to: URL attributes of any element, and CSS in ``<style>`` and
    ``style`` attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str]] = []
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in _URL_ATTRIBUTES:
                urls = [u.strip().split(" ")[0] for u in value.split(",")] if name == "srcset" else [value]
                self.refs += [(f"<{tag} {name}>", u) for u in urls]
            elif name == "style":
                self.refs += [(f"<{tag} style>", u) for u in _css_refs(value)]
        self._style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._style = False

    def handle_data(self, data: str) -> None:
        if self._style:
            self.refs += [("<style>", u) for u in _css_refs(data)]


def check_offline(site_dir: Path) -> list[str]:
    """Every external reference of the site under ``site_dir`` (``<file>: <where> <url>``, sorted): in
    every ``.html`` file's URL attributes (``link``/``script``/``img``/``iframe``/``a`` ``href``/``src`` ...)
    and CSS, and in every ``.css`` file (``url(...)``, ``@import``). Empty when the site needs no network."""
    found = []
    for path in sorted(Path(site_dir).rglob("*")):
        if not path.is_file() or path.suffix.lower() not in (".html", ".htm", ".css"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(site_dir).as_posix()
        if path.suffix.lower() == ".css":
            refs = [("css", u) for u in _css_refs(text)]
        else:
            parser = _Refs()
            parser.feed(text)
            parser.close()
            refs = parser.refs
        found += [f"{rel}: {where} {url}" for where, url in refs if external(url)]
    return found
