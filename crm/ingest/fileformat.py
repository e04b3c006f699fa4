"""The extract file format: header record, delimited body, trailer record, ``.ok`` flag written last.

``<FILE_CODE>_<YYYYMMDD>_<SEQ>.dat``::

    H|LOAN|20260131|001|UTF-8|2|balance|1500.00
    L0001|C0001|...|1000.00|...
    L0002|C0002|...|500.00|...
    T|2|1500.00

The header is ASCII so it can be read before the body is decoded. Control sums are computed on integer
cents (``round(x * 10**scale)``), so they are exact for any file size. Record numbers count data records
from 1 (the first record after the header); with no line breaks allowed inside a record (the writer
replaces them with spaces) record ``n`` is physical line ``n + 1``.

The layout is declared per extract (:class:`crm.contract.DelimitedLayout`); :func:`read_extract` dispatches
on ``layout.kind`` so a fixed-width layout can be added without changing its callers.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from crm.contract import Extract

ENCODINGS = {"UTF-8": "utf-8", "GB18030": "gb18030"}
FILE_NAME_RE = re.compile(r"^(?P<code>[A-Z][A-Z0-9_]*?)_(?P<date>\d{8})_(?P<seq>\d{3})\.dat$")
LINEAGE_COLUMNS = ("_source_file", "_sha256", "_row_number", "_business_date", "_type_errors")


class ExtractRejected(Exception):
    """The whole file is rejected: nothing of it is loaded. ``reason`` is a short machine code."""

    def __init__(self, file_name: str, reason: str, message: str):
        self.file_name = file_name
        self.reason = reason
        super().__init__(f"{file_name}: {message}")


@dataclass(frozen=True)
class FileName:
    file_code: str
    business_date: dt.date
    sequence: int

    @classmethod
    def parse(cls, name: str) -> FileName | None:
        m = FILE_NAME_RE.match(name)
        if not m:
            return None
        try:
            day = dt.datetime.strptime(m["date"], "%Y%m%d").date()
        except ValueError:
            return None
        return cls(m["code"], day, int(m["seq"]))


@dataclass(frozen=True)
class Header:
    file_code: str
    business_date: dt.date
    sequence: int
    encoding: str  # Python codec name
    record_count: int
    control_column: str | None
    control_sum: int  # in units of 10**-scale (cents for money)


@dataclass(frozen=True)
class Trailer:
    record_count: int
    control_sum: int


@dataclass
class ParsedExtract:
    file_name: str
    sha256: str
    size_bytes: int
    header: Header
    table: pa.Table  # contract columns, typed, then the lineage columns
    type_error_rows: int

    @property
    def records(self) -> int:
        return self.table.num_rows


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------- writing


def _scale(extract: Extract, column: str | None) -> int:
    return extract.column(column).scale if column else 2


def _format_sum(units: int, scale: int) -> str:
    sign = "-" if units < 0 else ""
    units = abs(int(units))
    if scale == 0:
        return f"{sign}{units}"
    return f"{sign}{units // 10**scale}.{units % 10**scale:0{scale}d}"


def _parse_sum(text: str, scale: int) -> int:
    m = re.fullmatch(r"(-?)(\d+)(?:\.(\d+))?", text.strip())
    if not m:
        raise ValueError(text)
    frac = (m[3] or "").ljust(scale, "0")
    if len(frac) > scale:
        raise ValueError(text)
    units = int(m[2]) * 10**scale + (int(frac) if frac else 0)
    return -units if m[1] else units


def _to_units(values: np.ndarray, scale: int) -> np.ndarray:
    """Decimal values to integer units, NaN as 0."""
    v = np.nan_to_num(np.asarray(values, dtype="float64"), nan=0.0)
    return np.rint(v * 10**scale).astype("int64")


def control_sum_units(values, scale: int) -> int:
    return int(_to_units(values, scale).sum())


def _arrow_text(s: pd.Series, kind: str, scale: int, layout) -> pa.Array:
    """One contract column as the text written to the file (null for an empty field), vectorised in Arrow."""
    import pyarrow.compute as pc

    if kind in ("string", "bool"):
        if kind == "bool":
            s = s.map({True: "Y", False: "N"})
        arr = pa.array(s, type=pa.string(), from_pandas=True)
        if pc.any(pc.match_substring_regex(arr, r"[\r\n]")).as_py():
            arr = pc.replace_substring_regex(arr, r"[\r\n]+", " ")
        special = pc.match_substring_regex(arr, "[" + re.escape(layout.delimiter + layout.quote) + "]")
        if pc.any(special).as_py():  # RFC 4180: quote the field, double inner quotes
            q = layout.quote
            quoted = pc.binary_join_element_wise(q, pc.replace_substring(arr, q, q + q), q, "")
            arr = pc.if_else(pc.fill_null(special, False), quoted, arr)
        return arr
    if kind == "int":
        num = pd.to_numeric(s, errors="raise").astype("Int64")
        return pc.cast(pa.array(num, type=pa.int64(), from_pandas=True), pa.string())
    if kind == "decimal":
        values = pa.array(pd.to_numeric(s, errors="raise").astype("float64"), type=pa.float64(), from_pandas=True)
        # integer units of the last decimal place, like the control sum, then the point put back in
        units = pc.cast(pc.round(pc.multiply(values, float(10**scale))), pa.int64())
        digits = pc.utf8_lpad(pc.cast(pc.abs(units), pa.string()), scale + 1, "0")
        text = (
            digits
            if scale == 0
            else pc.binary_join_element_wise(
                pc.utf8_slice_codeunits(digits, 0, -scale), pc.utf8_slice_codeunits(digits, -scale), "."
            )
        )
        return pc.if_else(pc.less(units, 0), pc.binary_join_element_wise("-", text, ""), text)
    if kind == "date":
        days = (s if pd.api.types.is_datetime64_any_dtype(s) else pd.to_datetime(s)).to_numpy(dtype="datetime64[D]")
        return pc.cast(pa.array(days, type=pa.date32(), from_pandas=True), pa.string())
    if kind == "timestamp":
        secs = (s if pd.api.types.is_datetime64_any_dtype(s) else pd.to_datetime(s)).to_numpy(dtype="datetime64[s]")
        return pc.strftime(pa.array(secs, type=pa.timestamp("s"), from_pandas=True), format=layout.timestamp_format)
    raise ValueError(kind)


def render_body_bytes(df: pd.DataFrame, extract: Extract) -> bytes:
    """The delimited body as UTF-8 bytes (no header, no trailer); columns must be the contract's."""
    import pyarrow.compute as pc

    if list(df.columns) != extract.column_names:
        missing = set(extract.column_names) - set(df.columns)
        extra = set(df.columns) - set(extract.column_names)
        raise ValueError(f"{extract.name}: columns differ from the contract (missing {missing}, extra {extra})")
    if not len(df):
        return b""
    layout = extract.layout
    cols = [_arrow_text(df[c.name], c.type, c.scale, layout) for c in extract.columns]
    lines = pc.binary_join_element_wise(*cols, layout.delimiter, null_handling="replace", null_replacement="")
    lines = pc.binary_join_element_wise(lines, "", layout.line_terminator)
    lines = pa.concat_arrays([lines]) if isinstance(lines, pa.ChunkedArray) else lines
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    return lines.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]


def render_body(df: pd.DataFrame, extract: Extract) -> str:
    return render_body_bytes(df, extract).decode("utf-8")


def write_extract(
    frames: pd.DataFrame | Iterable[pd.DataFrame],
    extract: Extract,
    business_date: dt.date,
    out_dir: Path,
    *,
    sequence: int = 1,
    encoding: str = "utf-8",
    write_ok: bool = True,
    slice_rows: int = 250_000,
) -> Path:
    """Write one extract file and, last, its empty ``.ok`` flag. Returns the ``.dat`` path.

    ``frames`` is one DataFrame or an iterable of them (written as their concatenation, so a file of tens
    of millions of records never has to be in memory at once). The body is rendered ``slice_rows`` records
    at a time; an iterable is streamed to a temporary body file because the header needs the totals.
    """
    codec = encoding.lower().replace("_", "-")
    label = {v: k for k, v in ENCODINGS.items()}.get(codec)
    if label is None:
        raise ValueError(f"unsupported encoding {encoding!r}; use utf-8 or gb18030")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ctrl = extract.control_sum_column
    scale = _scale(extract, ctrl)
    path = out_dir / extract.file_name(business_date.isoformat(), sequence)
    tmp = path.with_suffix(".dat.part")

    def write_body(f, df: pd.DataFrame) -> tuple[int, int]:
        total = 0
        for i in range(0, len(df), slice_rows):
            part = df.iloc[i : i + slice_rows]
            body = render_body_bytes(part, extract)
            f.write(body if codec == "utf-8" else body.decode("utf-8").encode(codec))
            if ctrl:
                total += control_sum_units(part[ctrl].to_numpy(dtype="float64"), scale)
        return len(df), total

    def records(n: int, total: int) -> tuple[bytes, bytes]:
        sep, nl = extract.layout.delimiter, extract.layout.line_terminator
        fields = [
            "H",
            extract.file_code,
            business_date.strftime("%Y%m%d"),
            f"{sequence:03d}",
            label,
            str(n),
            ctrl or "",
            _format_sum(total, scale),
        ]
        trailer = ["T", str(n), _format_sum(total, scale)]
        return (sep.join(fields) + nl).encode("ascii"), (sep.join(trailer) + nl).encode("ascii")

    if isinstance(frames, pd.DataFrame):
        total = control_sum_units(frames[ctrl].to_numpy(dtype="float64"), scale) if ctrl and len(frames) else 0
        header, trailer = records(len(frames), total)
        with open(tmp, "wb") as f:
            f.write(header)
            write_body(f, frames)
            f.write(trailer)
    else:
        body_tmp = path.with_suffix(".body.part")
        n = total = 0
        with open(body_tmp, "wb") as f:
            for df in frames:
                rows, units = write_body(f, df)
                n, total = n + rows, total + units
        header, trailer = records(n, total)
        with open(tmp, "wb") as f, open(body_tmp, "rb") as body:
            f.write(header)
            shutil.copyfileobj(body, f, 1 << 24)
            f.write(trailer)
        body_tmp.unlink()
    os.replace(tmp, path)
    if write_ok:
        path.with_suffix(".ok").touch()
    return path


# --------------------------------------------------------------------------------------------- reading


def _split_records(data: bytes, file_name: str) -> tuple[bytes, memoryview, bytes]:
    """(header line, body, trailer line) without their line terminators; the body is a view, not a copy."""
    first = data.find(b"\n")
    if first < 0 or not data.startswith(b"H"):
        raise ExtractRejected(file_name, "header", "header record missing or not terminated")
    header = data[:first].rstrip(b"\r")
    end = len(data)
    while end > first + 1 and data[end - 1] in b"\r\n":
        end -= 1
    last = data.rfind(b"\n", first + 1, end)
    trailer_start = first + 1 if last < 0 else last + 1
    trailer = data[trailer_start:end].rstrip(b"\r")
    if not trailer.startswith(b"T"):
        raise ExtractRejected(file_name, "truncated", "trailer record missing: the file is truncated or incomplete")
    body = memoryview(data)[first + 1 : trailer_start]
    return header, body, trailer


def parse_header(line: bytes, extract: Extract, file_name: str) -> Header:
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise ExtractRejected(file_name, "header", "header record is not ASCII") from None
    parts = text.split(extract.layout.delimiter)
    if len(parts) != 8 or parts[0] != "H":
        raise ExtractRejected(file_name, "header", f"header record has {len(parts)} fields, expected 8")
    _, code, day, seq, enc, count, ctrl, total = parts
    if code != extract.file_code:
        raise ExtractRejected(file_name, "header", f"header names extract {code!r}, expected {extract.file_code!r}")
    if enc.upper() not in ENCODINGS:
        raise ExtractRejected(file_name, "header", f"header declares unsupported encoding {enc!r}")
    if (ctrl or None) != extract.control_sum_column:
        raise ExtractRejected(
            file_name,
            "header",
            f"header control-sum column {ctrl!r}, contract says {extract.control_sum_column!r}",
        )
    try:
        business_date = dt.datetime.strptime(day, "%Y%m%d").date()
        scale = _scale(extract, ctrl or None)
        return Header(
            code, business_date, int(seq), ENCODINGS[enc.upper()], int(count), ctrl or None, _parse_sum(total, scale)
        )
    except ValueError:
        raise ExtractRejected(file_name, "header", "header date, sequence, count or sum is malformed") from None


def parse_trailer(line: bytes, extract: Extract, file_name: str) -> Trailer:
    parts = line.decode("ascii", errors="replace").split(extract.layout.delimiter)
    if len(parts) != 3 or parts[0] != "T":
        raise ExtractRejected(file_name, "truncated", "trailer record malformed: the file may be truncated")
    try:
        return Trailer(int(parts[1]), _parse_sum(parts[2], _scale(extract, extract.control_sum_column)))
    except ValueError:
        raise ExtractRejected(file_name, "trailer", "trailer count or sum is malformed") from None


def _decode(body: bytes, codec: str, file_name: str, *, validate_utf8: bool = False) -> bytes:
    """The body as UTF-8 bytes; an undecodable byte rejects the file naming its record.

    A UTF-8 body is passed through as it is (Arrow validates UTF-8 while parsing, and on failure this
    function is called again with ``validate_utf8`` to find the record), saving a full decode.
    """
    if codec == "utf-8" and not validate_utf8:
        return body
    try:
        text = codecs.decode(body, codec)
    except UnicodeDecodeError as e:
        record = bytes(body[: e.start]).count(b"\n") + 1
        raise ExtractRejected(
            file_name,
            "encoding",
            f"record {record} (line {record + 1}) has bytes that are not valid {codec.upper()} "
            f"at byte offset {e.start} of the body",
        ) from None
    return body if codec == "utf-8" else text.encode("utf-8")


_ARROW_TYPES = {
    "string": pa.string(),
    "int": pa.int64(),
    "decimal": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("s"),
    "bool": pa.string(),
}


def _read_csv(body: bytes, extract: Extract, types: dict[str, pa.DataType]) -> pa.Table:
    from pyarrow import csv as pacsv

    layout = extract.layout
    return pacsv.read_csv(
        pa.BufferReader(body),
        read_options=pacsv.ReadOptions(column_names=extract.column_names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(
            delimiter=layout.delimiter, quote_char=layout.quote, double_quote=True, newlines_in_values=False
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            timestamp_parsers=[layout.timestamp_format, pacsv.ISO8601],
        ),
    )


def _read_python(text: str, extract: Extract) -> tuple[pd.DataFrame, np.ndarray]:
    """Slow, tolerant path for bodies with malformed records: every record kept, bad ones flagged."""
    n_cols = len(extract.columns)
    rows = []
    bad = []
    reader = csv.reader(io.StringIO(text), delimiter=extract.layout.delimiter, quotechar=extract.layout.quote)
    for rec in reader:
        if len(rec) != n_cols:
            bad.append(len(rows))
            rec = [None] * n_cols
        rows.append([v if v != "" else None for v in rec])
    frame = pd.DataFrame(rows, columns=extract.column_names, dtype="object")
    flags = np.zeros(len(rows), dtype=bool)
    flags[bad] = True
    return frame, flags


def _coerce(frame: pd.DataFrame, extract: Extract) -> tuple[pa.Table, np.ndarray]:
    """Strings to contract types; returns the typed table and, per row, the columns that failed."""
    errors = np.full(len(frame), "", dtype=object)
    arrays = {}
    layout = extract.layout
    for c in extract.columns:
        s = frame[c.name]
        present = s.notna().to_numpy()
        if c.type in ("string", "bool"):
            arrays[c.name] = pa.array(s.astype("object").where(s.notna(), None), type=pa.string())
            continue
        if c.type in ("int", "decimal"):
            num = pd.to_numeric(s, errors="coerce")
            bad = present & num.isna().to_numpy()
            if c.type == "int":
                frac = num.notna().to_numpy() & (np.mod(num.fillna(0).to_numpy(), 1) != 0)
                bad |= frac
                num = num.where(~frac)
                arrays[c.name] = pa.array(num.round().astype("Int64"), type=pa.int64(), from_pandas=True)
            else:
                arrays[c.name] = pa.array(num.astype("float64"), type=pa.float64(), from_pandas=True)
        else:
            fmt = layout.date_format if c.type == "date" else layout.timestamp_format
            parsed = pd.to_datetime(s, format=fmt, errors="coerce")
            bad = present & parsed.isna().to_numpy()
            if c.type == "date":
                arrays[c.name] = pa.array(parsed.dt.date.where(parsed.notna(), None), type=pa.date32())
            else:
                arrays[c.name] = pa.array(parsed.astype("datetime64[s]"), type=pa.timestamp("s"), from_pandas=True)
        if bad.any():
            errors[bad] = errors[bad] + c.name + ","
    return pa.table(arrays), errors


def read_extract(path: Path, extract: Extract) -> ParsedExtract:
    """Parse one extract file completely, or raise :class:`ExtractRejected` naming the file and the rule.

    Checks, in order, before any row is returned: the name matches the contract, the header and trailer
    are present and well formed, the declared encoding decodes every byte, the record count and control
    sum agree across header, trailer and body. Then every column is typed per contract; a value that does
    not parse becomes null and its column is listed in ``_type_errors`` for that row (issue 3 quarantines
    it), so no row is lost.

    Records have the layout of the file's business date (:meth:`Extract.as_of`): a column the bank sends only
    from a later date is not in the file and is null in the table; a record with any other number of fields
    is flagged ``_field_count``.
    """
    path = Path(path)
    name = path.name
    if extract.layout.kind != "delimited":  # pragma: no cover - only layout so far
        raise NotImplementedError(extract.layout.kind)
    fn = FileName.parse(name)
    if fn is None or fn.file_code != extract.file_code:
        raise ExtractRejected(name, "file_name", f"name does not match {extract.file_code}_YYYYMMDD_SEQ.dat")
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    head_line, body, trail_line = _split_records(data, name)
    header = parse_header(head_line, extract, name)
    if header.business_date != fn.business_date or header.sequence != fn.sequence:
        raise ExtractRejected(name, "header", "header business date or sequence differs from the file name")
    trailer = parse_trailer(trail_line, extract, name)
    utf8 = _decode(body, header.encoding, name)

    # the layout of the file's business date: without the columns the bank sends only from a later date
    sent = extract.as_of(fn.business_date)
    flags = None
    table = None
    if utf8:
        try:
            table = _read_csv(utf8, sent, {c.name: _ARROW_TYPES[c.type] for c in sent.columns})
            type_errors = None
        except pa.ArrowInvalid as e:
            if "UTF8" in str(e) or "UTF-8" in str(e):
                _decode(body, header.encoding, name, validate_utf8=True)  # raises, naming the record
            try:
                strings = _read_csv(utf8, sent, {c: pa.string() for c in sent.column_names})
                frame = strings.to_pandas()
                flags = np.zeros(len(frame), dtype=bool)
            except pa.ArrowInvalid:  # a record with the wrong number of fields, or bad UTF-8
                _decode(body, header.encoding, name, validate_utf8=True)
                frame, flags = _read_python(codecs.decode(utf8, "utf-8"), sent)
            table, type_errors = _coerce(frame, sent)
            if flags.any():
                type_errors[flags] = "_field_count,"
    else:
        table = pa.table({c.name: pa.array([], type=_ARROW_TYPES[c.type]) for c in sent.columns})
        type_errors = None
    if sent is not extract:  # a column not sent yet is null, typed as the contract says
        present = set(sent.column_names)
        table = pa.table(
            {
                c.name: table[c.name]
                if c.name in present
                else pa.chunked_array([pa.nulls(table.num_rows, _ARROW_TYPES[c.type])])
                for c in extract.columns
            }
        )

    n = table.num_rows
    ctrl = extract.control_sum_column
    scale = _scale(extract, ctrl)
    body_sum = control_sum_units(table[ctrl].to_numpy(zero_copy_only=False), scale) if ctrl and n else 0
    if not (header.record_count == trailer.record_count == n) or not (
        header.control_sum == trailer.control_sum == body_sum
    ):
        what = f" / {ctrl}" if ctrl else ""

        def fmt(count, units):
            return f"{count} records" + (f", {ctrl} {_format_sum(units, scale)}" if ctrl else "")

        raise ExtractRejected(
            name,
            "control_total",
            f"control totals disagree (records{what}): header {fmt(header.record_count, header.control_sum)}; "
            f"trailer {fmt(trailer.record_count, trailer.control_sum)}; body {fmt(n, body_sum)}",
        )

    if type_errors is None:
        err_arr = pa.nulls(n, type=pa.string())
        error_rows = 0
    else:
        stripped = pd.Series(type_errors, dtype="object").str.rstrip(",")
        stripped = stripped.where(stripped != "", None)
        error_rows = int(stripped.notna().sum())
        err_arr = pa.array(stripped, type=pa.string())
    lineage = {
        "_source_file": pa.repeat(pa.scalar(name, pa.string()), n),
        "_sha256": pa.repeat(pa.scalar(sha, pa.string()), n),
        "_row_number": pa.array(np.arange(1, n + 1, dtype="int64")),
        "_business_date": pa.repeat(pa.scalar(header.business_date, pa.date32()), n),
        "_type_errors": err_arr,
    }
    for k, v in lineage.items():
        table = table.append_column(k, v)
    return ParsedExtract(name, sha, path.stat().st_size, header, table, error_rows)
