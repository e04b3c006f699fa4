"""Leak scan: assert that rendered reports and e-mails contain none of a set of personal values.

Typical use in a test or a pipeline step: take the generator's (or the raw zone's) personal values by
kind, e.g. ``{"customer_name": names, "id_number": ids, "mobile": phones}``, extract the text of every
output (:func:`pdf_text`, :func:`eml_texts`, :func:`file_texts`) and call :func:`scan_texts`.

Matching is on normalised text: Unicode NFKC, case-folded, with all whitespace removed from both the text
and the values, because ``pdftotext -layout`` may break or pad a value with spaces and line breaks. Values
shorter than ``min_length`` characters after normalisation are skipped (a one-character value, such as
the surname a display mask keeps, would match everywhere). Cost: per text, one set of substrings per
distinct value length, intersected with the values of that length: linear in the text, so a whole bank's
names can be checked against a month of reports.

A :class:`Finding` names the kind, the value's position in its list and the text's source, never the
value itself, so findings can be logged, asserted on and shown to auditors:
``customer_name #12 found in 2026-10/dq_report.pdf``.

For the send gate (:mod:`crm.delivery.gate`), :func:`scan_outputs` reads each file's bytes once, hashes
them and scans the text extracted from those same bytes, and does the same for e-mail subjects: one row per
file or subject (source, SHA-256, findings) for ``leak_scan_files``.

What the pipeline's scans look for and record (the assets of ``assets/delivery.py`` call these):
:func:`raw_personal_values` (the personal values of the restricted raw zone at a date, by kind: names, ID
numbers, mobiles, cards, e-mails, addresses of :data:`SCANNED_RAW`), :func:`report_files` (the outputs under a
period's folder), :func:`scan_period` (scan one period's files and outbox subjects and record every file's and
subject's verdict for the send gate), :func:`merge_scans` (a month and its quarter as one result), and the
row of ``report_leak_scans`` that the auditors' report shows (:func:`leak_scan_frame`, :func:`leak_scan_of`).
"""

from __future__ import annotations

import datetime as dt
import html
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm.text import clean

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa

# raw extracts holding the personal values the scan looks for
SCANNED_RAW = ["customers", "corporates", "contacts", "related_parties", "staff", "deposits", "loans"]
# the contract's semantics of the personal values looked for
PERSONAL_KINDS = ("person_name", "id_number", "mobile", "card_number", "email", "address")
# Two-character personal names are not scanned: they collide with words and company names (a name 康健 in
# 北京康健服饰有限公司); the display masking of every name is tested directly instead.
MIN_NAME_LENGTH = 3
OUTPUT_SUFFIXES = (".pdf", ".html", ".eml")

_SPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Finding:
    kind: str  # the forbidden value's kind (e.g. a column name)
    index: int  # its position in that kind's list
    source: str  # the text it was found in

    def __str__(self) -> str:
        return f"{self.kind} #{self.index} found in {self.source}"


def normalise(text: str) -> str:
    """The form both sides of the scan are compared in: NFKC, case-folded, without whitespace and without
    control or format characters (a report never shows them, so a raw value holding one, ``张\u200b三丰``,
    must still be found as ``张三丰``)."""
    return _SPACE.sub("", clean(unicodedata.normalize("NFKC", text)).casefold())


def scan_texts(
    texts: Mapping[str, str] | Iterable[tuple[str, str]],
    forbidden_values: Mapping[str, Iterable[Any]] | Any,
    *,
    min_length: int = 2,
) -> list[Finding]:
    """Every (kind, value, source) where a forbidden value occurs in a text.

    ``texts``: source name -> text (or pairs). ``forbidden_values``: kind -> values, or a pandas DataFrame
    (kind = column, index = row position); ``None``/NaN values are ignored. Findings are sorted by source,
    kind and index."""
    pairs = list(texts.items()) if isinstance(texts, Mapping) else list(texts)
    if hasattr(forbidden_values, "columns") and hasattr(forbidden_values, "__getitem__"):  # a DataFrame
        forbidden_values = {str(c): forbidden_values[c].tolist() for c in forbidden_values.columns}
    by_length: dict[int, dict[str, list[tuple[str, int]]]] = {}
    for kind, values in forbidden_values.items():
        for i, v in enumerate(values):
            if v is None or (isinstance(v, float) and v != v):
                continue
            n = normalise(str(v))
            if len(n) >= min_length:
                by_length.setdefault(len(n), {}).setdefault(n, []).append((str(kind), i))
    findings = []
    for source, text in pairs:
        hay = normalise(text)
        # every substring of the text of each needle length, intersected with that length's needles (set
        # operations in C): cost grows with the text and the number of distinct lengths, not with the values
        for length, needles in by_length.items():
            if length > len(hay):
                continue
            grams = {hay[i : i + length] for i in range(len(hay) - length + 1)}
            for n in grams & needles.keys():
                findings.extend(Finding(kind, i, source) for kind, i in needles[n])
    return sorted(findings, key=lambda f: (f.source, f.kind, f.index))


def _pdftotext() -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        raise RuntimeError("pdftotext (poppler-utils) is needed to read PDFs; install poppler-utils")
    return exe


def pdf_bytes_text(data: bytes) -> str:
    """The text of a PDF given as bytes (``pdftotext -layout``)."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        return pdf_text(Path(f.name))


def pdf_text(path: str | Path) -> str:
    """The text of a PDF file, as ``pdftotext -layout -enc UTF-8`` extracts it (pages separated by form
    feeds), followed by the text of every file embedded in it (:func:`pdf_attachment_texts`: a report's
    tables attached as CSV). Raises ``RuntimeError`` if poppler cannot read the file."""
    proc = subprocess.run(
        [_pdftotext(), "-layout", "-enc", "UTF-8", str(path), "-"], capture_output=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pdftotext failed on {Path(path).name}: exit {proc.returncode}")
    text = proc.stdout.decode("utf-8", errors="replace")
    attached = pdf_attachment_texts(path)
    return "\n".join([text, *(f"\f[{name}]\n{body}" for name, body in attached.items())])


def pdf_attachment_texts(path: str | Path) -> dict[str, str]:
    """The files embedded in a PDF (``pdfdetach -saveall`` into a private temporary folder), by their order
    in the PDF (``attachment-N``), decoded as UTF-8 text (a byte order mark dropped, undecodable bytes
    replaced, CSV line ends CRLF read as LF). Raises ``RuntimeError`` if poppler cannot read the file."""
    exe = shutil.which("pdfdetach")
    if exe is None:
        raise RuntimeError("pdfdetach (poppler-utils) is needed to read PDF attachments; install poppler-utils")
    with tempfile.TemporaryDirectory(prefix="crm-detach-") as folder:
        proc = subprocess.run([exe, "-saveall", "-o", folder, str(path)], capture_output=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"pdfdetach failed on {Path(path).name}: exit {proc.returncode}")
        files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
        return {
            f"attachment-{i}": p.read_bytes().decode("utf-8-sig", errors="replace").replace("\r\n", "\n")
            for i, p in enumerate(files, 1)
        }


def _html_text(markup: str) -> str:
    return html.unescape(_TAG.sub(" ", markup)) + "\n" + html.unescape(markup)


def eml_texts(path: str | Path) -> dict[str, str]:
    """The texts of an e-mail file: its headers (decoded), every text part (HTML also as text without tags,
    entities decoded), and every PDF attachment through ``pdftotext``; other text attachments are decoded
    as text. Keys name the part: ``x.eml:headers``, ``x.eml:part2 text/html``, ``x.eml:report.pdf``."""
    path = Path(path)
    return _eml_texts(path.name, path.read_bytes())


def _eml_texts(name: str, data: bytes) -> dict[str, str]:
    msg = BytesParser(policy=policy.default).parsebytes(data)
    out = {f"{name}:headers": "\n".join(f"{k}: {v}" for k, v in msg.items())}
    for n, part in enumerate(msg.walk(), start=1):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = part.get_filename()
        label = f"{name}:{filename}" if filename else f"{name}:part{n} {ctype}"
        if label in out:
            label = f"{label} (part{n})"
        if ctype == "application/pdf" or (filename or "").lower().endswith(".pdf"):
            out[label] = pdf_bytes_text(part.get_payload(decode=True) or b"")
        elif part.get_content_maintype() == "text":
            text = part.get_content()
            out[label] = _html_text(text) if ctype == "text/html" else text
    return out


def bytes_texts(name: str, data: bytes) -> dict[str, str]:
    """Texts of one output given as bytes, by the suffix of ``name``: ``.pdf`` (pdftotext), ``.eml``
    (headers, parts, attachments), ``.html`` / ``.htm`` (text and entity-decoded markup), anything else
    decoded as UTF-8 text. Keys start with ``name``."""
    suffix = Path(name).suffix.lower()
    if suffix == ".pdf":
        return {name: pdf_bytes_text(data)}
    if suffix == ".eml":
        return _eml_texts(name, data)
    text = data.decode("utf-8", errors="replace")
    return {name: _html_text(text) if suffix in (".html", ".htm") else text}


def file_texts(path: str | Path) -> dict[str, str]:
    """Texts of one output file by suffix (:func:`bytes_texts` of its bytes, keyed by the file's name)."""
    path = Path(path)
    if path.suffix.lower() == ".pdf":
        return {path.name: pdf_text(path)}
    return bytes_texts(path.name, path.read_bytes())


def scan_files(
    paths: Iterable[str | Path], forbidden_values: Mapping[str, Iterable[Any]] | Any, *, min_length: int = 2
) -> tuple[int, list[Finding]]:
    """Scan output files (:func:`file_texts`): (number of files scanned, findings)."""
    texts: dict[str, str] = {}
    count = 0
    for p in paths:
        count += 1
        texts.update(file_texts(p))
    return count, scan_texts(texts, forbidden_values, min_length=min_length)


def scan_summary(files_scanned: int, findings: Iterable[Finding]) -> dict[str, Any]:
    """The leak-scan evidence a report shows (``dq_context(..., leak_scan=...)``): files scanned, whether
    it passed, and the findings as strings (kind, index and file; no value)."""
    found = [str(f) for f in findings]
    return {"files_scanned": int(files_scanned), "passed": not found, "findings": found}


def scan_outputs(
    files: Sequence[str | Path],
    root: str | Path | None,
    subjects: Mapping[str, str],
    forbidden_values: Mapping[str, Iterable[Any]] | Any,
    *,
    min_length: int = 2,
) -> tuple[list[Finding], list[dict[str, Any]]]:
    """Scan output files and e-mail subjects and say, per file and subject, which bytes were scanned.

    Each file is read once: its SHA-256 and its text come from the same bytes. ``root``: files are named by
    their path relative to it (:func:`crm.delivery.gate.source_label`), e.g. ``2026-01/key_account/S1.html``;
    ``subjects``: label -> subject (:func:`crm.delivery.gate.subject_label`), hashed as UTF-8. Returns the
    findings (their ``source`` is the file's or subject's label, with ``:part`` for a part of an ``.eml``)
    and one row per file and subject: ``source``, ``sha256``, ``findings`` (count), ``passed``."""
    from crm.delivery.gate import sha256_of, source_label, subject_bytes

    texts: dict[str, str] = {}
    owner: dict[str, str] = {}
    hashes: dict[str, str] = {}
    for path in files:
        label = source_label(path, root)
        data = Path(path).read_bytes()
        hashes[label] = sha256_of(data)
        for key, text in bytes_texts(label, data).items():
            texts[key], owner[key] = text, label
    for label, subject in subjects.items():
        hashes[label] = sha256_of(subject_bytes(subject))
        texts[label], owner[label] = subject, label
    findings = scan_texts(texts, forbidden_values, min_length=min_length)
    counts: dict[str, int] = {}
    for f in findings:
        counts[owner[f.source]] = counts.get(owner[f.source], 0) + 1
    rows = [
        {"source": label, "sha256": sha, "findings": counts.get(label, 0), "passed": not counts.get(label)}
        for label, sha in hashes.items()
    ]
    return findings, rows


# ------------------------------------------------------------------------------------ the pipeline's scans


def raw_personal_values(raw: Path, day: dt.date) -> dict[str, list[str]]:
    """The personal values of the raw zone at ``day`` that no report may contain, by kind (the contract's
    semantics, :data:`PERSONAL_KINDS`), sorted; from the raw partitions of ``day`` of :data:`SCANNED_RAW`
    (an extract without one is left out). Values are stripped; person names shorter than
    :data:`MIN_NAME_LENGTH`, other values shorter than 2 characters are left out. Related parties that are
    companies (``party_type`` C) carry a company name and a business registration number, which are not
    personal data, and are left out. Restricted zone: keep the result in memory only."""
    import pandas as pd

    from crm.contract import BY_NAME
    from crm.zones import raw_file

    values: dict[str, set[str]] = {s: set() for s in PERSONAL_KINDS}
    for name in SCANNED_RAW:
        extract = BY_NAME[name]
        cols = [(c.name, c.semantic) for c in extract.columns if c.semantic in PERSONAL_KINDS]
        path = raw_file(raw, name, day)
        if not cols or not path.exists():
            continue
        frame = pd.read_parquet(
            path, columns=[c for c, _ in cols] + (["party_type"] if name == "related_parties" else [])
        )
        if name == "related_parties":
            frame = frame[frame["party_type"] == "I"]
        for col, sem in cols:
            text = frame[col].dropna().astype(str).str.strip()
            values[sem].update(text[text.str.len() >= (MIN_NAME_LENGTH if sem == "person_name" else 2)])
    return {k: sorted(v) for k, v in values.items()}


def report_files(folder: Path) -> list[Path]:
    """Every rendered output (PDF, HTML, ``.eml``) under ``folder``, at any depth, sorted; none if there is no
    such folder."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in OUTPUT_SUFFIXES)


def scan_period(
    transaction: Callable[[], AbstractContextManager[sa.Connection]],
    root: Path,
    period: str,
    files: Sequence[Path],
    forbidden_values: Mapping[str, Iterable[Any]],
    *,
    run_id: str,
    report: str | None = None,
) -> dict[str, Any]:
    """Scan ``files`` and the subjects of ``period``'s outbox rows (of ``report``, or of every report) for
    ``forbidden_values``, record every file's and subject's SHA-256 and verdict in ``leak_scan_files``
    (method ``values``, ``run_id``; what the send gate looks for), and return the summary
    (:func:`scan_summary`: files_scanned, passed, findings; plus subjects_scanned).

    ``transaction()`` opens one warehouse transaction (e.g. :func:`crm.warehouse.begin` of an engine): one to
    read the outbox and one to record, none held while the files are read."""
    from crm.delivery.gate import record_scans, subject_label
    from crm.delivery.outbox import rows_with_status

    with transaction() as conn:
        rows = rows_with_status(conn, None, [period], report)
    subjects = {subject_label(r.report, r.period, r.recipient_id): r.subject for r in rows if r.subject}
    findings, scanned = scan_outputs(files, root, subjects, forbidden_values)
    with transaction() as conn:
        record_scans(conn, [{**r, "period": period, "method": "values", "run_id": run_id} for r in scanned])
    summary = scan_summary(len(files), findings)
    summary["subjects_scanned"] = len(subjects)
    return summary


def merge_scans(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Several period scans (:func:`scan_period`: a month and the quarter it closes) as one result:
    files_scanned, findings, passed, subjects_scanned."""
    findings = [f for r in results for f in r["findings"]]
    return {
        "files_scanned": sum(r["files_scanned"] for r in results),
        "findings": findings,
        "passed": not findings,
        "subjects_scanned": sum(r.get("subjects_scanned", 0) for r in results),
    }


def leak_scan_frame(month_end: dt.date, result: Mapping[str, Any], scanned_at: dt.datetime) -> pd.DataFrame:
    """The month's row of ``report_leak_scans``: files scanned, passed, the findings one per line."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "month_end": month_end,
                "files_scanned": result["files_scanned"],
                "passed": result["passed"],
                "findings": "\n".join(result["findings"]),
                "scanned_at": scanned_at,
            }
        ]
    )


def leak_scan_of(rows: pd.DataFrame) -> dict[str, Any] | None:
    """The scan result (files_scanned, passed, findings) of a month's ``report_leak_scans`` rows (the first),
    or None when the month was not scanned."""
    if rows.empty:
        return None
    r = rows.iloc[0]
    return {
        "files_scanned": int(r["files_scanned"]),
        "passed": bool(r["passed"]),
        "findings": [f for f in str(r["findings"] or "").split("\n") if f],
    }
