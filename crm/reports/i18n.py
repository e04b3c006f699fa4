"""Report labels: one message catalogue, ``zh_CN`` and ``en``, read from ``messages*.toml`` next to this
module (``messages.toml`` for the shared and data-quality labels; a report may bring its own file, e.g.
``messages_portfolio.toml``, so that reports are added without editing each other's files). A key defined in
two files is an error.

Each key holds both languages side by side, so a label missing in one language is visible in review::

    "dq.title" = { zh_CN = "数据质量月报", en = "Monthly data-quality report" }

Templates call ``t("dq.title")``; ``{name}`` placeholders are filled from keyword arguments
(``t("dq.kpi.leak_scan_sub", files=3)``). When a field is markup (``Markup``, e.g. a figure's ``<span>``), the
result is markup with every other field escaped, so a figure can sit inside a sentence. There is no fallback between languages: a key that is not in the
catalogue raises :class:`MissingMessage` at render time, and loading fails if any entry lacks a language.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

from crm.reports.fmt import LOCALES, check_locale

CATALOGUE_DIR = Path(__file__).parent
CATALOGUE_GLOB = "messages*.toml"


class MissingMessage(KeyError):
    """A label key that the catalogue does not have (in any language)."""


def load_file(path: Path) -> dict[str, dict[str, str]]:
    """One catalogue file: key -> {locale -> text}; ``ValueError`` if an entry is not exactly one
    non-empty text per locale."""
    with path.open("rb") as f:
        raw = tomllib.load(f)
    out: dict[str, dict[str, str]] = {}
    for key, entry in raw.items():
        if (
            not isinstance(entry, dict)
            or set(entry) != set(LOCALES)
            or not all(isinstance(v, str) and v for v in entry.values())
        ):
            raise ValueError(f"{path.name}: {key!r} must have a non-empty text for exactly {', '.join(LOCALES)}")
        out[key] = entry
    return out


@cache
def catalogue(folder: Path = CATALOGUE_DIR) -> dict[str, dict[str, str]]:
    """Every label of every ``messages*.toml`` in ``folder``; ``ValueError`` on a malformed entry or a key
    defined in two files."""
    out: dict[str, dict[str, str]] = {}
    origin: dict[str, str] = {}
    for path in sorted(folder.glob(CATALOGUE_GLOB)):
        for key, entry in load_file(path).items():
            if key in origin:
                raise ValueError(f"label {key!r} is defined in both {origin[key]} and {path.name}")
            out[key], origin[key] = entry, path.name
    return out


def translator(locale: str) -> Callable[..., str]:
    """The ``t(key, **fields)`` function of a locale."""
    check_locale(locale)
    messages = catalogue()

    def t(key: str, /, **fields: Any) -> str:
        try:
            text = messages[key][locale]
        except KeyError:
            raise MissingMessage(f"no label {key!r} in {CATALOGUE_GLOB}") from None
        if any(isinstance(v, Markup) for v in fields.values()):
            # a field that is markup (a figure's span): the label is trusted text, the other fields are escaped
            return Markup(text).format(**fields)
        return text.format(**fields) if fields else text

    return t
