"""Render the extract contract as Markdown (``docs/contract.md``) for the bank's IT team.

``crm contract docs`` writes it; a test fails when the committed file differs from the contract.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from crm.contract import CODE_SETS, EXTRACTS, Extract, identifier_kinds
from crm.contract.model import DelimitedLayout

TYPE_TEXT = {
    "string": "string",
    "int": "integer",
    "decimal": "decimal",
    "date": "date `YYYY-MM-DD`",
    "timestamp": "timestamp `YYYY-MM-DD HH:MM:SS`",
    "bool": "flag `Y`/`N`",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _column_type(c) -> str:
    t = TYPE_TEXT[c.type]
    if c.type == "decimal":
        t = f"decimal(18,{c.scale})"
    if c.max_length:
        t += f" ≤{c.max_length}"
    return t


def _range(c) -> str:
    if c.min_value is None and c.max_value is None:
        return ""
    lo = "" if c.min_value is None else f"{c.min_value:g}"
    hi = "" if c.max_value is None else f"{c.max_value:g}"
    return f"[{lo}, {hi}]"


def render_extract(e: Extract) -> str:
    lines = [
        f"## {e.title} — `{e.name}`",
        "",
        _cell(e.description),
        "",
        f"- File: `{e.file_code}_<YYYYMMDD>_<SEQ>.dat` + `.ok`",
        f"- Content: {'full snapshot as of the business date' if e.mode == 'snapshot' else 'daily delta (events of the business date)'}",
        f"- Sent: {'every business date' if e.cadence == 'daily' else 'on the last day of each month'}"
        + (f", from business date {e.since} (not expected before)" if e.since else ""),
        f"- Key: {', '.join(f'`{k}`' for k in e.key)}",
        f"- Control sum: {f'`{e.control_sum_column}`' if e.control_sum_column else 'record count only'}",
    ]
    if e.business_date_column:
        lines.append(f"- Business date column: `{e.business_date_column}`")
    if e.references:
        refs = []
        for fk in e.references:
            target = "customers or corporates" if fk.extract == "customer_master" else f"`{fk.extract}`"
            refs.append(f"`{', '.join(fk.columns)}` → {target}.`{', '.join(fk.ref_columns)}`")
        lines.append(f"- References (same business date): {'; '.join(refs)}")
    lines.append(
        f"- Quarantine allowance: the day's partition blocks downstream work only when its quarantined rows "
        f"exceed both {100 * e.quarantine_share:g} % of its rows and {e.quarantine_rows} rows"
    )
    versioned = bool(e.changes)
    if versioned:
        added = "; ".join(f"`{c.name}` from {d}" for d, c in e.changes)
        first = e.changes[0][0]
        lines.append(
            f"- Columns added later: {added}. A file dated before a column's date has the layout without it "
            f"({len(e.as_of(first - dt.timedelta(days=1)).columns)} fields before {first}); "
            "the column is null in its rows and its rules do not apply to them"
        )
    lines += [
        "",
        "| # | column | 中文名 | type | required | code set | range | PII class | semantic | identifier | text |"
        + (" since |" if versioned else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if versioned else ""),
    ]
    for n, c in enumerate(e.columns, 1):
        lines.append(
            f"| {n} | `{c.name}` | {_cell(c.title)} | {_column_type(c)} | {'yes' if not c.nullable else ''} | "
            f"{f'[{c.code_set}](#code-set-{c.code_set})' if c.code_set else ''} | {_range(c)} | {c.pii} | "
            f"{c.semantic or ''} | {' or '.join(f'[{k}](#identifiers)' for k in c.id_kind)} | {c.text or ''} |"
            + (f" {c.since or ''} |" if versioned else "")
        )
    return "\n".join(lines)


def render_changes(extracts: Iterable[Extract]) -> list[str]:
    """How the contract changes by date, and its history: every extract and column added after the start."""
    out = [
        "## Changes to the contract",
        "",
        "The contract changes by date, so that a bank that does not send something yet is not failed for it.",
        "An extract or a column the core systems start sending later is declared in `crm/contract/extracts.py`",
        "with `since=date(YYYY, M, D)`, the first business date whose files carry it (with its entry in the",
        "privacy policy, `crm/privacy/policy.toml`), and this page is regenerated with `crm contract docs`:",
        "",
        "- A new extract: its arrival is expected only for business dates on or after its `since`; no ERROR",
        "  for the dates before.",
        "- A new column (usually appended after the last one; never a key, control-sum or business-date",
        "  column): a file dated before its `since` has the layout without it, one field fewer. The parser",
        "  reads such a file with that layout and sets the column to null, and the rules that read the column",
        "  (mandatory, type, code set, format, identifier, text, references, comparisons) are not applied to",
        "  its rows (reported as not evaluated). A file dated on or after its `since` must carry the column:",
        "  a record without it fails `<extract>.record.field_count` and is quarantined.",
        "- The layout follows the file's business date: declaring a later `since` changes nothing for the",
        "  files of earlier dates, and a restatement (higher sequence) of an earlier date keeps that date's",
        "  layout. The extract's rule suite gets a new version (see docs/auditors.md).",
        "",
    ]
    history = sorted(
        [(e.since, f"extract `{e.name}` ({e.title})") for e in extracts if e.since]
        + [(d, f"column `{e.name}.{c.name}` ({c.title})") for e in extracts for d, c in e.changes]
    )
    if not history:
        out += ["History: none yet; every extract and column below is sent from the start.", ""]
        return out
    out += ["| from business date | added |", "|---|---|"]
    out += [f"| {d} | {_cell(what)} |" for d, what in history]
    out.append("")
    return out


def render_identifiers() -> list[str]:
    out = [
        "## Identifiers",
        "",
        "The shape of every key and reference column, set in `crm/contract/identifiers.toml`: the bank may",
        "change a pattern to what its core systems write (the change re-versions the data-quality suites that",
        "use it). A value must match its pattern as a whole, with nothing before or after it (not even a line",
        "break). Patterns use a deliberately small vocabulary (letters, digits, `_`, `-`, classes of them,",
        "repetitions, groups and alternatives), so no accepted identifier can contain a path separator, a dot,",
        "white space, a quote, markup or a control character.",
        "",
        "| kind | pattern | example | 说明 | meaning |",
        "|---|---|---|---|---|",
    ]
    for k in identifier_kinds().values():
        out.append(f"| `{k.name}` | `{_cell(k.pattern)}` | `{k.example}` | {_cell(k.zh)} | {_cell(k.en)} |")
    out.append("")
    return out


def render_markdown(extracts: Iterable[Extract] = EXTRACTS) -> str:
    """The contract page: ``extracts`` (by default the contract's) with their history, identifiers and code
    sets."""
    extracts = tuple(extracts)
    layout = DelimitedLayout()
    out = [
        "# Extract contract",
        "",
        "<!-- generated from crm/contract by `crm contract docs`; do not edit by hand -->",
        "",
        "Every business date the core systems drop one file per extract into the landing folder",
        "`landing/<YYYYMMDD>/`, then an empty `.ok` flag with the same name, written last. A file counts",
        "as arrived only when its flag exists. A higher sequence for the same date is a restatement and",
        "replaces the earlier file.",
        "",
        "## File format",
        "",
        "```",
        "H|<FILE_CODE>|<YYYYMMDD>|<SEQ>|<ENCODING>|<RECORD_COUNT>|<CONTROL_COLUMN>|<CONTROL_SUM>",
        "<record 1>",
        "...",
        "T|<RECORD_COUNT>|<CONTROL_SUM>",
        "```",
        "",
        f"- Delimiter `{layout.delimiter}`; a field that contains the delimiter or `{layout.quote}` is quoted with",
        f"  `{layout.quote}` and inner quotes doubled (RFC 4180). No line breaks inside a record.",
        "- Columns in the order below, no column-name row. An empty field is null.",
        "- Encoding `UTF-8` or `GB18030`, declared in the header (the header and trailer are ASCII).",
        "- Dates `YYYY-MM-DD`, timestamps `YYYY-MM-DD HH:MM:SS` (Asia/Shanghai), decimals with a point and",
        "  the column's scale, money in 元.",
        "- `RECORD_COUNT` counts data records. `CONTROL_SUM` is the exact sum of the control-sum column",
        "  (`0.00` and an empty column name where the extract has none). A file whose header, trailer and",
        "  body disagree, that is truncated, or that does not decode in its declared encoding is rejected",
        "  whole and must be resent with a higher sequence.",
        "- Personal-information classes follow JR/T 0171-2020: C3 authentication data (none is sent), C2",
        "  personal information identifying a person or their finances, C1 other internal information.",
        "- *identifier*: the value must have the shape of that identifier kind (see [Identifiers](#identifiers));",
        "  a row whose value does not is quarantined (rule `<extract>.<column>.id_pattern`).",
        "- *text*: what happens to control and format characters (Unicode categories Cc and Cf: line breaks,",
        "  tabs, NUL, ESC, bidirectional overrides and isolates, zero-width characters, soft hyphen ...; and",
        "  U+2028, U+2029) in the column (rule `<extract>.<column>.control_chars`): `reject` quarantines the",
        "  row; `strip` (free text) accepts it and removes them before staging, a run of line breaks and tabs",
        "  becoming one space, and counts them. Code-set columns need no such rule: only their codes pass.",
        "- *Quarantine allowance*: a partition's data-quality checks block downstream work only when its",
        "  quarantined rows exceed both the share and the row count given (the bank may change both per",
        "  extract in the `quality` resource); below either, the failing rows are quarantined and reported",
        "  and the day goes on.",
        "",
        "| extract | file code | title | content | sent | columns |",
        "|---|---|---|---|---|---|",
    ]
    for e in extracts:
        sent = e.cadence + (f" from {e.since}" if e.since else "")
        out.append(
            f"| [`{e.name}`](#{e.title}--{e.name}) | `{e.file_code}` | {e.title} | {e.mode} | {sent} | {len(e.columns)} |"
        )
    out.append("")
    out += render_changes(extracts)
    for e in extracts:
        out += [render_extract(e), ""]
    out += render_identifiers()
    out += ["## Code sets", ""]
    for name, codes in CODE_SETS.items():
        out += [f"### Code set {name}", "", "| code | meaning |", "|---|---|"]
        out += [f"| `{k}` | {_cell(v)} |" for k, v in codes.items()]
        out.append("")
    return "\n".join(out)
