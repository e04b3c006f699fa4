"""What makes a report's PDF an archive copy: PDF/A-3b, tagged, its tables attached as CSV, dated by the
report's logical time.

- **Variant**: ``pdf/a-3b`` through WeasyPrint's ``pdf_variant`` (XMP metadata with ``pdfaid:part`` 3 and
  ``conformance`` B, the sRGB output intent, a file identifier, every font embedded), with ``pdf_tags`` (a
  structure tree for assistive technology, as far as WeasyPrint tags: headings, paragraphs, lists, tables).
  What is and is not checked about the result: ``docs/reports.md`` ("Archive copies").
- **Attachments**: every ``<table>`` of the report becomes one CSV file embedded in the PDF (PDF/A-3 allows
  any file; each is associated with the document as ``Data``): the header row is the table's column
  headings, a cell is its ``data-value`` (the unformatted number the template wrote; empty for a missing
  number, which the page shows as a dash) when it has one, else its visible text; a column whose non-empty
  cells all came from ``data-value`` is numeric. Files are formula-safe
  (:func:`crm.exports.csv_bytes`: a text cell starting ``=``, ``+``, ``-``, ``@`` is prefixed with ``'``),
  UTF-8 with a byte order mark. They are named ``table-NN.csv`` in the order of the tables; each one's
  description is the heading of the section that holds it. The leak scan reads them too
  (:func:`crm.reports.leakscan.pdf_text`).
- **Dates**: the PDF's creation date, its XMP dates and every attachment's dates are the report's logical
  time, the ``dcterms.created`` meta the layout writes from ``generated_at`` (:func:`logical_time`); a
  document without it gets :data:`NO_DATE`. Nothing in the file depends on the wall clock, so the same HTML
  gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

PDF_VARIANT = "pdf/a-3b"
NO_DATE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # a document with no dcterms.created (the warm-up page)
_CREATED = re.compile(r'<meta name="dcterms\.created" content="([^"]+)">')
_SPACE = re.compile(r"\s+")


def logical_time(html: str) -> dt.datetime:
    """The report's logical time (aware, UTC) from its ``dcterms.created`` meta, or :data:`NO_DATE`."""
    m = _CREATED.search(html)
    if not m:
        return NO_DATE
    when = dt.datetime.fromisoformat(m.group(1))
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


@dataclass
class Table:
    """One ``<table>`` of a report: its section heading, header cells and rows; a row is a list of
    (text, from_data_value) cells."""

    title: str
    header: list[str] = field(default_factory=list)
    rows: list[list[tuple[str, bool]]] = field(default_factory=list)


class _Tables(HTMLParser):
    """Collects the tables of a report's HTML (stdlib parser; scripts and styles ignored)."""

    HEADINGS = ("h1", "h2", "h3", "h4")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self._heading: list[str] | None = None
        self._last_heading = ""
        self._table: Table | None = None
        self._depth = 0  # nested tables are read as part of the outer one's cells
        self._row: list[tuple[str, bool]] | None = None
        self._cell: list[str] | None = None
        self._cell_value: str | None = None
        self._in_head = False
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.HEADINGS and self._table is None:
            self._heading = []
        elif tag == "table":
            self._depth += 1
            if self._depth == 1:
                self._table = Table(self._last_heading)
        elif self._table is not None and self._depth == 1:
            if tag == "thead":
                self._in_head = True
            elif tag in ("tbody", "tfoot"):
                self._in_head = False
            elif tag == "tr":
                self._row = []
            elif tag in ("td", "th") and self._row is not None:
                self._cell = []
                self._cell_value = dict(attrs).get("data-value")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self.HEADINGS and self._heading is not None:
            self._last_heading = _SPACE.sub(" ", "".join(self._heading)).strip()
            self._heading = None
        elif tag == "table":
            self._depth -= 1
            if self._depth == 0 and self._table is not None:
                self.tables.append(self._table)
                self._table = None
        elif self._table is not None and self._depth == 1:
            if tag in ("td", "th") and self._cell is not None and self._row is not None:
                text = _SPACE.sub(" ", "".join(self._cell)).strip()
                value = self._cell_value
                # a data-value, even empty (a missing number, shown as a dash), is the cell's value
                self._row.append((value, True) if value is not None else (text, False))
                self._cell = None
            elif tag == "tr" and self._row is not None:
                if self._in_head and not self._table.header:
                    self._table.header = [c for c, _ in self._row]
                elif self._row:
                    self._table.rows.append(self._row)
                self._row = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._cell is not None:
            self._cell.append(data)
        elif self._heading is not None:
            self._heading.append(data)


def tables_of(html: str) -> list[Table]:
    """The tables of a report's HTML, in document order."""
    parser = _Tables()
    parser.feed(html)
    parser.close()
    return parser.tables


def table_frame(table: Table):
    """A table as a DataFrame: the header's names (``列N`` where a heading is missing or repeated), numeric
    columns where every non-empty cell came from ``data-value`` and parses as a number."""
    import pandas as pd

    width = max([len(table.header), *(len(r) for r in table.rows)])
    names: list[str] = []
    for i in range(width):
        name = table.header[i] if i < len(table.header) and table.header[i] else f"列{i + 1}"
        names.append(name if name not in names else f"{name} ({i + 1})")
    cells = [[*r, *[("", False)] * (width - len(r))] for r in table.rows]
    frame = pd.DataFrame([[c for c, _ in r] for r in cells], columns=names, dtype=object)
    for i, name in enumerate(names):
        filled = [c for c in (r[i] for r in cells) if c[0] != ""]
        if filled and all(from_value for _, from_value in filled):
            numbers = pd.to_numeric(frame[name].replace("", None), errors="coerce")
            if numbers.notna().sum() == len(filled):
                frame[name] = numbers
    return frame


@dataclass(frozen=True)
class CsvAttachment:
    name: str  # table-NN.csv
    description: str  # the heading of the section holding the table
    data: bytes


def csv_attachments(html: str) -> list[CsvAttachment]:
    """Every table of the report as a formula-safe CSV file (see the module docstring)."""
    from crm.exports import csv_bytes

    out = []
    for n, table in enumerate(tables_of(html), start=1):
        if not table.rows:
            continue
        out.append(CsvAttachment(f"table-{n:02d}.csv", table.title, csv_bytes(table_frame(table))))
    return out


def weasyprint_attachments(html: str) -> list:
    """:func:`csv_attachments` as WeasyPrint ``Attachment`` objects dated by the report's logical time."""
    from weasyprint import Attachment

    when = logical_time(html).replace(tzinfo=None)  # WeasyPrint writes attachment dates as UTC ("...Z")
    return [
        Attachment(
            string=a.data,
            name=a.name,
            description=a.description or None,
            created=when,
            modified=when,
            relationship="Data",
        )
        for a in csv_attachments(html)
    ]
