"""Render the extract contract as Markdown (``docs/contract.md``) for the bank's IT team.

``crm contract docs`` writes it; a test fails when the committed file differs from the contract.
"""

from __future__ import annotations

from crm.contract import CODE_SETS, EXTRACTS, Extract
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
        f"- Sent: {'every business date' if e.cadence == 'daily' else 'on the last day of each month'}",
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
    lines += [
        "",
        "| # | column | 中文名 | type | required | code set | range | PII class | semantic |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, c in enumerate(e.columns, 1):
        lines.append(
            f"| {n} | `{c.name}` | {_cell(c.title)} | {_column_type(c)} | {'yes' if not c.nullable else ''} | "
            f"{f'[{c.code_set}](#code-set-{c.code_set})' if c.code_set else ''} | {_range(c)} | {c.pii} | "
            f"{c.semantic or ''} |"
        )
    return "\n".join(lines)


def render_markdown() -> str:
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
        "",
        "| extract | file code | title | content | sent | columns |",
        "|---|---|---|---|---|---|",
    ]
    for e in EXTRACTS:
        out.append(
            f"| [`{e.name}`](#{e.title}--{e.name}) | `{e.file_code}` | {e.title} | {e.mode} | {e.cadence} | {len(e.columns)} |"
        )
    out.append("")
    for e in EXTRACTS:
        out += [render_extract(e), ""]
    out += ["## Code sets", ""]
    for name, codes in CODE_SETS.items():
        out += [f"### Code set {name}", "", "| code | meaning |", "|---|---|"]
        out += [f"| `{k}` | {_cell(v)} |" for k, v in codes.items()]
        out.append("")
    return "\n".join(out)
