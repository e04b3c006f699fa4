"""The zones of ``CRM_HOME``, where every partition of the data lake lives, and the one way to build a path
inside them from data.

**The zones** (:class:`CrmHome`): everything lives under one folder, ``CRM_HOME`` (default ``./data``), in
the sub-folders ``landing/ raw/ staged/ reports/ outbox/ dq/ models/`` and the file ``warehouse.duckdb``.

**The data lake's layout** (this module is the only one that spells it out):

- ``landing/<YYYYMMDD>/``: the bank's files of a business date (:func:`landing_dir`);
- ``raw/<extract>/<YYYY-MM-DD>.parquet``: an extract's parsed rows of a business date (:func:`raw_file`);
- ``raw/_quarantine/<extract>/<YYYY-MM-DD>.parquet``: its quarantined rows, in the restricted zone next to
  the raw file they came from (:func:`quarantine_file`);
- ``staged/<extract>/<YYYY-MM-DD>.parquet``: its validated, masked rows (:func:`staged_file`).

The lookups: an extract's partitions of a zone, oldest first, within dates (:func:`partitions`), the
partition of a date or the latest one before it (:func:`latest_partition`), the raw zone's partitions with
their dates (:func:`raw_partitions`), and reading the staged zone (:func:`read_staged`,
:func:`read_staged_until`).

**Paths from data**:

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

import datetime as dt
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crm.text import has_control

if TYPE_CHECKING:
    import pandas as pd

SUBFOLDERS = ("landing", "raw", "staged", "reports", "outbox", "dq", "models")
QUARANTINE = "_quarantine"  # the folder of quarantined rows inside raw/
PARTITION_SUFFIX = ".parquet"

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


# ------------------------------------------------------------------------------------------------ the zones


@dataclass(frozen=True)
class CrmHome:
    """``CRM_HOME`` and its zones (:data:`SUBFOLDERS`, the warehouse file)."""

    root: Path

    @classmethod
    def from_env(cls, default: str | os.PathLike = "data") -> CrmHome:
        return cls(Path(os.environ.get("CRM_HOME") or default).resolve())

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def staged(self) -> Path:
        return self.root / "staged"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def dq(self) -> Path:
        return self.root / "dq"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def warehouse_url(self) -> str:
        return f"duckdb:///{self.warehouse_path}"

    def ensure(self) -> CrmHome:
        for name in SUBFOLDERS:
            (self.root / name).mkdir(parents=True, exist_ok=True)
        return self


# ------------------------------------------------------------------------------------ the data lake's layout


def landing_name(day: dt.date) -> str:
    """The name of a business date's folder in ``landing/`` (``YYYYMMDD``)."""
    return day.strftime("%Y%m%d")


def landing_dir(landing: Path, day: dt.date) -> Path:
    """``landing/<YYYYMMDD>``, the folder of the bank's files of ``day``."""
    return safe_path(landing, landing_name(day), origin=f"the landing folder of {day.isoformat()}")


def partition_name(day: dt.date) -> str:
    """The file name of a business date's partition (``YYYY-MM-DD.parquet``)."""
    return f"{day.isoformat()}{PARTITION_SUFFIX}"


def raw_file(raw: Path, extract: str, day: dt.date) -> Path:
    """``raw/<extract>/<YYYY-MM-DD>.parquet``: the parsed rows of ``extract`` for ``day``."""
    return safe_path(raw, extract, partition_name(day), origin=f"the raw {extract} partition of {day.isoformat()}")


def quarantine_file(raw: Path, extract: str, day: dt.date) -> Path:
    """``raw/_quarantine/<extract>/<YYYY-MM-DD>.parquet``: the quarantined rows of ``extract`` for ``day``."""
    return safe_path(
        raw, QUARANTINE, extract, partition_name(day), origin=f"the quarantine of {extract} for {day.isoformat()}"
    )


def staged_file(staged: Path, extract: str, day: dt.date) -> Path:
    """``staged/<extract>/<YYYY-MM-DD>.parquet``: the validated, masked rows of ``extract`` for ``day``."""
    return safe_path(
        staged, extract, partition_name(day), origin=f"the staged {extract} partition of {day.isoformat()}"
    )


def partition_date(path: Path) -> dt.date:
    """The business date of a partition (``<YYYY-MM-DD>.parquet``)."""
    return dt.date.fromisoformat(path.stem)


# -------------------------------------------------------------------------------------------- the lookups


def partitions(zone: Path, extract: str, *, since: dt.date | None = None, until: dt.date | None = None) -> list[Path]:
    """The partitions of ``extract`` in ``zone`` (``<zone>/<extract>/*.parquet``), oldest first; only those
    dated on or after ``since`` and on or before ``until`` when given. Empty when there is none."""
    files = sorted((zone / extract).glob(f"*{PARTITION_SUFFIX}"))
    if since is not None:
        files = [p for p in files if since.isoformat() <= p.stem]
    if until is not None:
        files = [p for p in files if p.stem <= until.isoformat()]
    return files


def latest_partition(path: Path) -> Path:
    """``path`` (a ``<folder>/<YYYY-MM-DD>.parquet`` partition) if it exists, else the latest partition of the
    same folder dated before it; ``FileNotFoundError`` when there is none (raw or staged zone alike)."""
    if path.exists():
        return path
    older = sorted(p for p in path.parent.glob(f"*{PARTITION_SUFFIX}") if p.stem <= path.stem)
    if not older:
        raise FileNotFoundError(f"{path.parent.name} has no partition on or before {path.stem} in {path.parent}")
    return safe_path(path.parent, older[-1].name, origin=f"the {path.parent.name} partitions")


def latest_raw_file(raw: Path, extract: str, day: dt.date) -> Path:
    """The raw partition of ``extract`` for ``day``, or the latest one before it (:func:`latest_partition`)."""
    return latest_partition(raw_file(raw, extract, day))


def latest_staged_file(staged: Path, extract: str, day: dt.date) -> Path:
    """The staged partition of ``extract`` for ``day``, or the latest one before it."""
    return latest_partition(staged_file(staged, extract, day))


def dated_partitions(folder: Path) -> list[tuple[dt.date, Path]]:
    """The partitions of ``folder`` whose name is a date, with that date, in name order (others are left
    out); empty when the folder is not there."""
    out = []
    for p in sorted(folder.glob(f"*{PARTITION_SUFFIX}")) if folder.is_dir() else []:
        try:
            out.append((dt.date.fromisoformat(p.stem), p))
        except ValueError:
            continue
    return out


def newest_partition(zone: Path, extract: str) -> Path | None:
    """The partition of ``extract`` in ``zone`` with the latest date, or None."""
    found = dated_partitions(zone / extract)
    return max(found)[1] if found else None


@dataclass(frozen=True)
class RawPartition:
    """A partition of the raw zone: an extract's raw rows of a business date, or its quarantined rows."""

    extract: str
    business_date: dt.date
    path: Path
    quarantine: bool


def raw_partitions(raw: Path, extracts: list[str] | None = None) -> list[RawPartition]:
    """Every dated partition of ``extracts`` (default: every extract of the contract) in the raw zone: per
    extract, its raw rows then its quarantined rows, oldest first."""
    if extracts is None:
        from crm.contract import EXTRACTS

        extracts = [e.name for e in EXTRACTS]
    out = []
    for name in extracts:
        for folder, quarantine in ((raw / name, False), (raw / QUARANTINE / name, True)):
            out.extend(RawPartition(name, day, p, quarantine) for day, p in dated_partitions(folder))
    return out


def read_staged(staged: Path, extract: str, day: dt.date) -> pd.DataFrame:
    """The staged partition of ``extract`` for ``day``; a clear error when it is not there."""
    import pandas as pd

    path = staged_file(staged, extract, day)
    if not path.exists():
        raise FileNotFoundError(
            f"staged/{extract} has no partition for {day} ({path}): run the daily pipeline for that date first"
        )
    return pd.read_parquet(path)


def read_staged_until(staged: Path, extract: str, day: dt.date) -> pd.DataFrame:
    """Every staged partition of a delta extract on or before ``day``, in date order."""
    import pandas as pd

    files = partitions(staged, extract, until=day)
    if not files:
        raise FileNotFoundError(f"staged/{extract} has no partition on or before {day}")
    return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)
