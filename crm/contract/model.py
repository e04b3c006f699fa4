"""The extract contract's vocabulary.

One :class:`Extract` per core-banking extract declares its columns (name, type, nullability, code set,
personal-information class), its key, whether it is a full snapshot or a daily delta, when it is sent,
which column carries the control sum and the physical layout of the file. The generator writes from it, the
parser reads with it, the quality suites (issue 3) and the privacy policy (issue 4) are built from it and
``docs/contract.md`` is rendered from it.

The contract changes by date: an extract or a column carries ``since``, the first business date the bank sends
it (None: from the start). Arrivals expect an extract only from its ``since``; a file of a business date
before a column's ``since`` has the layout without that column (:meth:`Extract.as_of`), the parser fills it
with nulls and the column's rules are not applied to those rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Literal

ColumnType = Literal["string", "int", "decimal", "date", "timestamp", "bool"]
# JR/T 0171-2020 personal financial information classes: C3 authentication information (none of our
# extracts carries any), C2 information that identifies a person or reveals their financial situation,
# C1 internal information about a customer relationship. Business data about no person is "C1" too: the
# privacy policy (issue 4) decides the treatment per column.
PiiClass = Literal["C3", "C2", "C1"]
Mode = Literal["snapshot", "delta"]
Cadence = Literal["daily", "month_end"]
# What the value *is*, for validators and masking: a column with a semantic gets the bank's own check
# (GB 11643 check digit, GB 32100 check digits, Luhn, mobile format) and the matching privacy treatment.
Semantic = Literal[
    "id_number",  # 18-digit resident identity number, GB 11643
    "uscc",  # unified social credit code, GB 32100
    "card_number",  # bank card number, Luhn
    "mobile",  # mainland mobile number
    "email",
    "person_name",
    "company_name",
    "address",
    "free_text",  # notes and comments that may carry personal data
    "birth_date",
]
# What the data-quality suites do with control and format characters (Unicode Cc, Cf, U+2028, U+2029) in a
# text column: "reject" quarantines the row (ids, codes, names, addresses, e-mails: everything that is not
# free text); "strip" accepts it, counts it (a warning rule) and removes the characters before the privacy
# scrub (free text). None: the column needs no text rule (not a string, or a code set, which admits only its
# codes anyway).
TextPolicy = Literal["reject", "strip"]


def _check_since(since: object, where: str) -> None:
    if since is not None and (not isinstance(since, dt.date) or isinstance(since, dt.datetime)):
        raise ValueError(f"{where}: since must be a date (the first business date it is sent) or None")


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    title: str  # Chinese business name, as the bank's IT team calls it
    description: str = ""
    nullable: bool = True
    code_set: str | None = None
    max_length: int | None = None
    scale: int = 2  # decimals only
    min_value: float | None = None
    max_value: float | None = None
    pii: PiiClass = "C1"
    semantic: Semantic | None = None
    # identifier kinds of crm/contract/identifiers.toml the value must match (one of), or () for none
    id_kind: tuple[str, ...] = ()
    text: TextPolicy | None = None
    since: dt.date | None = None  # first business date whose file carries the column; None: from the start

    def __post_init__(self) -> None:
        _check_since(self.since, self.name)
        if isinstance(self.id_kind, str):  # a single kind may be given as a string
            object.__setattr__(self, "id_kind", (self.id_kind,))
        if self.text not in (None, "reject", "strip"):
            raise ValueError(f"{self.name}: text policy must be 'reject', 'strip' or None, not {self.text!r}")
        if (self.id_kind or self.text) and self.type != "string":
            raise ValueError(f"{self.name}: an identifier kind or a text policy needs a string column")

    @property
    def arrow_type(self) -> str:
        return {
            "string": "string",
            "int": "int64",
            "decimal": "float64",
            "date": "date32",
            "timestamp": "timestamp[s]",
            "bool": "bool",
        }[self.type]


@dataclass(frozen=True)
class ForeignKey:
    """Columns of this extract that must match a key of another extract of the same business date."""

    columns: tuple[str, ...]
    extract: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class DelimitedLayout:
    """Delimited body with one header and one trailer record.

    Header: ``H|<FILE_CODE>|<YYYYMMDD>|<SEQ>|<ENCODING>|<RECORD_COUNT>|<CONTROL_COLUMN>|<CONTROL_SUM>``
    Trailer: ``T|<RECORD_COUNT>|<CONTROL_SUM>``
    Body: one record per line, columns in contract order, no column-name row, empty field = null, fields
    that contain the delimiter, the quote or a line break are quoted (RFC 4180 doubling).
    """

    kind: Literal["delimited"] = "delimited"
    delimiter: str = "|"
    quote: str = '"'
    line_terminator: str = "\n"
    date_format: str = "%Y-%m-%d"
    timestamp_format: str = "%Y-%m-%d %H:%M:%S"


Layout = DelimitedLayout  # a FixedWidthLayout can join this union without touching the parser's callers


@dataclass(frozen=True)
class Extract:
    name: str  # asset name, snake case: "loans"
    file_code: str  # upper case code in the file name: LOAN -> LOAN_20260131_001.dat
    title: str  # Chinese title
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    mode: Mode = "snapshot"
    cadence: Cadence = "daily"
    control_sum_column: str | None = None  # decimal column summed in header and trailer
    business_date_column: str | None = None  # for deltas: the column that falls on the business date
    references: tuple[ForeignKey, ...] = ()
    layout: Layout = field(default_factory=DelimitedLayout)
    # Quarantine allowance of a staged partition: it blocks downstream work only when its quarantined rows
    # exceed BOTH this share of its parsed rows AND this many rows (or rows are unaccounted for). The share
    # governs large files, the row count small ones (one bad row of a 30-row staff file is 3.3 %, not a
    # reason to stop the day). Overridable per extract by the quality resource (see docs/auditors.md).
    quarantine_share: float = 0.02
    quarantine_rows: int = 5
    since: dt.date | None = None  # first business date the bank sends the extract; None: from the start

    def __post_init__(self) -> None:
        _check_since(self.since, self.name)
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate column names")
        for k in self.key:
            if k not in names:
                raise ValueError(f"{self.name}: key column {k!r} not declared")
        if self.control_sum_column and self.column(self.control_sum_column).type != "decimal":
            raise ValueError(f"{self.name}: control-sum column must be decimal")
        for fk in self.references:
            for c in fk.columns:
                if c not in names:
                    raise ValueError(f"{self.name}: foreign-key column {c!r} not declared")
        if not 0 <= self.quarantine_share <= 1 or self.quarantine_rows < 0:
            raise ValueError(f"{self.name}: quarantine share must be in [0, 1] and rows >= 0")
        from_start = {*self.key, self.control_sum_column, self.business_date_column} - {None}
        for c in self.columns:
            if c.since is None:
                continue
            if c.name in from_start:
                raise ValueError(
                    f"{self.name}.{c.name}: a key, control-sum or business-date column is sent from the "
                    "extract's start; it cannot have a later since"
                )
            if self.since is not None and c.since <= self.since:
                raise ValueError(f"{self.name}.{c.name}: a column's since must be after its extract's ({self.since})")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def sent_on(self, business_date: dt.date) -> bool:
        """True when the bank sends this extract for ``business_date`` (on or after its ``since``)."""
        return self.since is None or business_date >= self.since

    @property
    def changes(self) -> list[tuple[dt.date, Column]]:
        """The columns added after the start, with their ``since``, in date order."""
        return sorted(((c.since, c) for c in self.columns if c.since is not None), key=lambda x: x[0])

    def as_of(self, business_date: dt.date) -> Extract:
        """The extract as a file of ``business_date`` carries it: without the columns the bank sends only
        from a later date, nor references from them (same name, file code and layout). ``self`` when no column
        is left out."""
        sent = tuple(c for c in self.columns if c.since is None or business_date >= c.since)
        if len(sent) == len(self.columns):
            return self
        names = {c.name for c in sent}
        refs = tuple(fk for fk in self.references if names.issuperset(fk.columns))
        return replace(self, columns=sent, references=refs)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def file_name(self, business_date: str, sequence: int) -> str:
        """``business_date`` as YYYYMMDD or YYYY-MM-DD."""
        return f"{self.file_code}_{business_date.replace('-', '')}_{sequence:03d}.dat"
