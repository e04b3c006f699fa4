"""The zones of ``CRM_HOME`` and the one way to build a path inside them from data.

A path whose parts come from data or from names found on disk (a staff id as a report file name, a model
version read from a file, an extract's partition date) is built with :func:`safe_path`, never with ``/``:
it returns ``root/parts...`` only if every part is one plain file or folder name and the result, with
symlinks followed, stays inside the root (the zone). Otherwise it raises :class:`UnsafePathError`, whose
message names the zone, where the value came from (``origin``, e.g. ``"staff file STAFF_20260131_001.dat
row 7"``) and the rule broken, never the value itself (a hostile value is not repeated into logs, Dagster
metadata or the outbox).

A part is refused when it is

- not text, or empty;
- absolute (``/x``, ``\\x``) or starts with a Windows drive (``C:``);
- holds a path separator (``/`` or ``\\``);
- ``.`` or ``..``;
- holds NUL or any other control or format character (:mod:`crm.text`: Unicode categories Cc, Cf and the
  line and paragraph separators; bidi overrides and isolates, zero-width characters) or a lone surrogate;
- longer than 255 bytes in UTF-8 (no file system takes it);

and the whole path is refused when it resolves (symlinks followed, also a symlinked file at the end) to the
zone itself or to anywhere outside the resolved zone. :func:`within` makes the same containment check for
a whole path read back from storage (a rendered file recorded in the outbox). The check is made when the path is built: whoever
can replace folders inside ``CRM_HOME`` between the check and the write is outside this guarantee (the
zones are the pipeline's own folders).
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from crm.text import has_control

_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_PART_BYTES = 255


class UnsafePathError(ValueError):
    """A path built from data would leave its zone or is not a plain name. The message names the zone, the
    origin of the value and the rule; never the value. ``zone``, ``origin`` and ``rule`` are attributes."""

    def __init__(self, zone: str, origin: str, rule: str):
        self.zone, self.origin, self.rule = zone, origin, rule
        super().__init__(f"unsafe path in zone {zone}: the name from {origin} {rule}; nothing was written there")


def _broken_rule(part: object) -> str | None:
    """Why ``part`` is not one plain file or folder name (a phrase), or None."""
    if not isinstance(part, str):
        return "is not text"
    if not part:
        return "is empty"
    if part.startswith(("/", "\\")):
        return "is an absolute path"
    if _DRIVE.match(part):
        return "starts with a Windows drive"
    if "/" in part or "\\" in part:
        return "holds a path separator"
    if part in (".", ".."):
        return "is '.' or '..'"
    if "\x00" in part:
        return "holds a NUL character"
    if has_control(part) or any(unicodedata.category(ch) == "Cs" for ch in part):
        return "holds a control or format character"
    try:
        size = len(part.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates (already refused as Cs above; kept for safety)
        return "holds a control or format character"
    if size > MAX_PART_BYTES:
        return f"is longer than {MAX_PART_BYTES} bytes"
    return None


def check_name(part: object, *, origin: str, zone: str) -> str:
    """``part`` if it is one plain file or folder name (the rules of :func:`safe_path`), else
    :class:`UnsafePathError`. For names handed to code that joins them itself (a GX store key)."""
    rule = _broken_rule(part)
    if rule is not None:
        raise UnsafePathError(zone, origin, rule)
    return part  # type: ignore[return-value]


def safe_path(root: str | os.PathLike[str], *parts: str, origin: str, suffix: str = "") -> Path:
    """``root/parts...`` (with ``suffix`` appended to the last part, e.g. ``".html"``), after checking that
    every part is one plain name and that the result, symlinks followed, lies strictly inside the resolved
    ``root``; else :class:`UnsafePathError` naming the zone (``root``'s folder name), ``origin`` and the
    rule. The path returned is not resolved (a root given relative stays relative)."""
    root = Path(root)
    zone = root.name or str(root)
    if not parts:
        raise UnsafePathError(zone, origin, "gives no name")
    for part in parts:
        check_name(part, origin=origin, zone=zone)
    if suffix:
        parts = (*parts[:-1], parts[-1] + suffix)
        check_name(parts[-1], origin=origin, zone=zone)
    path = root.joinpath(*parts)
    home = root.resolve()
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise UnsafePathError(zone, origin, "leads into a symlink loop") from None
    if resolved == home or not resolved.is_relative_to(home):
        raise UnsafePathError(zone, origin, "resolves outside the zone (a symlink leads out)")
    return path


def within(root: str | os.PathLike[str], path: str | os.PathLike[str], *, origin: str) -> Path:
    """``path`` (a whole path read back from storage, e.g. a rendered file recorded in the outbox) if,
    resolved with symlinks followed, it lies strictly inside the resolved ``root``; else
    :class:`UnsafePathError` (zone, ``origin``, rule; never the path)."""
    root, path = Path(root), Path(path)
    zone = root.name or str(root)
    if "\x00" in str(path):
        raise UnsafePathError(zone, origin, "holds a NUL character")
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):
        raise UnsafePathError(zone, origin, "leads into a symlink loop") from None
    home = root.resolve()
    if resolved == home or not resolved.is_relative_to(home):
        raise UnsafePathError(zone, origin, "resolves outside the zone")
    return path


def row_origin(what: str, source_file: object, row_number: object) -> str:
    """``"<what> file <source file> row <n>"`` from a row's lineage (``_source_file``, ``_row_number``), or
    ``"<what> directory"`` when the lineage is missing. The source file name is the landing file's, which
    matched the contract's file-name pattern before it was parsed."""
    import pandas as pd

    if source_file is None or row_number is None or pd.isna(source_file) or pd.isna(row_number):
        return f"{what} directory (row not known)"
    name = str(source_file)
    if _broken_rule(name) is not None or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        name = "(unnamed file)"
    return f"{what} file {name} row {int(row_number)}"
