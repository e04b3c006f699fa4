"""CSV files meant to be opened by people (in Excel, WPS or LibreOffice): formula-safe.

A spreadsheet reads a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a
formula (``=HYPERLINK(...)``, ``@SUM(...)``, ``-2+3``), which runs when someone opens the file. Following
OWASP's CSV-injection rule, :func:`formula_safe` prefixes every such *text* cell, and every such column name,
with a single quote ``'``, which spreadsheets show as text:

- the prefix goes on text cells only (Python ``str`` in an ``object``, ``string`` or ``category`` column);
  numeric, boolean, date and time columns are written as they are, so a negative *number* stays the number
  ``-5`` and still parses back as a number;
- a numeric-looking *string* in a text column, such as ``"-5"`` or ``"+86 138..."``, is prefixed too
  (``'-5``): OWASP says so, because the spreadsheet would evaluate it; keep numbers in numeric columns;
- nothing else changes: quoting is the CSV writer's (a comma or quote inside a cell stays inside it).

:func:`write_csv` is the one way the project writes a CSV for people: formula-safe unless ``raw=True``
(machine-read files, or a user who asked for raw output with ``crm scorecard apply --raw``). Files written
for machines (e.g. the synthetic generator's ``defects.csv`` manifest) are not neutralised: they are read
back by code that needs the exact values.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PATTERN = r"[=+\-@\t\r]"
PREFIX = "'"


def _is_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def formula_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names that begin with ``=``, ``+``, ``-``, ``@``, tab
    or carriage return start with ``'`` (see the module docstring). Numeric, boolean and date/time columns
    are untouched; a numeric-looking string in a text column is prefixed (OWASP). Vectorised per column."""
    out = frame.copy(deep=False)  # columns that change are replaced, never written into
    for i in range(out.shape[1]):
        s = out.iloc[:, i]
        if (
            pd.api.types.is_numeric_dtype(s)
            or pd.api.types.is_bool_dtype(s)
            or pd.api.types.is_datetime64_any_dtype(s)
            or pd.api.types.is_timedelta64_dtype(s)
        ):
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        try:
            starts = s.str.match(_PATTERN)
        except AttributeError:  # an object column without text (dates, decimals): nothing to neutralise
            continue
        mask = starts.astype("boolean").fillna(False).to_numpy(dtype=bool)
        if mask.any():
            s = s.copy()
            s.iloc[mask] = PREFIX + s.iloc[mask].astype(str)
            out.isetitem(i, s)
    if any(_is_formula(c) for c in out.columns):  # the header row is read by the spreadsheet too
        out.columns = [PREFIX + c if _is_formula(c) else c for c in out.columns]
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` (no index) as the bytes :func:`write_csv` writes for people: formula-safe, UTF-8 with a byte
    order mark, CRLF line ends (e.g. a table attached to a report's PDF, :mod:`crm.reports.archive`)."""
    text = formula_safe(frame).to_csv(index=False, lineterminator="\r\n")
    return b"\xef\xbb\xbf" + text.encode("utf-8")


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str], *, raw: bool = False) -> Path:
    """Write ``frame`` (no index) to ``path`` as UTF-8 CSV, formula-safe (:func:`formula_safe`) unless
    ``raw``. Lines end in CRLF (RFC 4180, as spreadsheets write them), which also makes the writer quote a
    cell holding a bare carriage return (Python 3.11's csv module quotes only the line terminator's
    characters), so the file parses back row for row. A file for people starts with the UTF-8 byte order
    mark, without which Excel on a Chinese Windows reads the file as GBK and shows Chinese text garbled
    (pandas' ``read_csv`` skips the mark; Python's ``csv`` needs ``encoding="utf-8-sig"``); ``raw`` output,
    for machines, has none. Returns the path."""
    path = Path(path)
    (frame if raw else formula_safe(frame)).to_csv(
        path, index=False, lineterminator="\r\n", encoding="utf-8" if raw else "utf-8-sig"
    )
    return path
