"""Retention beyond the raw zone: ``reports/``, ``outbox/``, ``dq/`` and the Dagster instance's run history.

Each zone keeps its files for its own period, in days, from the environment (the raw zone keeps
``CRM_RAW_RETENTION_DAYS``, see :mod:`crm.privacy.retention`):

==========  ==============================  =======  ===================================================
zone        variable                        default  why the default
==========  ==============================  =======  ===================================================
reports     ``CRM_REPORTS_RETENTION_DAYS``  400      rendered reports hold masked customer data: as long
                                                     as the raw zone (a year and a month)
outbox      ``CRM_OUTBOX_RETENTION_DAYS``   400      ``.eml`` copies of those reports, with the
                                                     recipient's address: as long as the raw zone
dq          ``CRM_DQ_RETENTION_DAYS``       1825     GX results and their site pages are audit evidence
                                                     without data values: five years
dagster     ``CRM_DAGSTER_RETENTION_DAYS``  180      run records, event logs and compute logs: operating
                                                     history; the warehouse keeps the durable record
                                                     (ingest registry, DQ results, outbox, purges)
==========  ==============================  =======  ===================================================

**How old a file is** is read from its path, never from its modification time, so the same tree gives the
same verdict on every machine and after a restore:

- ``reports/<period>/...``: the end of the period that is the first folder (``YYYY-MM`` month, ``YYYY-Qn``
  quarter, ``YYYY-Www`` ISO week (its Sunday), ``YYYY-MM-DD`` day: run-failure notices);
- ``outbox/<report>__<period>__<recipient>[...].eml``: the end of the period in the file name (the notices'
  ``YYYYMMDD-<run>`` periods count from their date);
- ``dq/**/<YYYYMMDD>[-<YYYYMMDD>].json|.html``: the (last) business date of the GX result or its page in
  the data-quality site (:mod:`crm.reports.dq_site`).

A file whose path carries no such date (the site's index, manifest and stylesheet, what a GX-built site left
in ``dq/site/static/``, anything else) is never deleted by retention. A file is deleted when that date is
more than the zone's period before ``today`` (the same rule as the raw zone: kept while ``date >= today -
days``).

**What is never touched**: nothing outside the zone's folder. The walk does not follow symbolic links (a
link inside a zone is neither followed nor deleted), and every file is checked, resolved, to lie inside the
resolved zone folder before it is deleted. Folders emptied by the purge are removed, the zone folder itself
never.

**Records**: every deletion is one row of the warehouse table ``retention_purges`` (zone, path relative to
the zone or Dagster run id, the date it was judged by, the period in days, bytes freed, when, by which
run), written in the caller's transaction. A dry run deletes and records nothing and returns the same rows.
Dagster runs are judged and deleted by :mod:`orchestration.retention` through the instance API (this
module stays free of Dagster); :func:`runs_to_purge` is its rule.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

import pandas as pd
import sqlalchemy as sa

from crm import bank_calendar
from crm.bank_calendar import BANK_TZ

FILE_ZONES = ("reports", "outbox", "dq")
DAGSTER = "dagster"
ZONES = (*FILE_ZONES, DAGSTER)
ENV = {
    "reports": "CRM_REPORTS_RETENTION_DAYS",
    "outbox": "CRM_OUTBOX_RETENTION_DAYS",
    "dq": "CRM_DQ_RETENTION_DAYS",
    DAGSTER: "CRM_DAGSTER_RETENTION_DAYS",
}
DEFAULT_DAYS = {"reports": 400, "outbox": 400, "dq": 1825, DAGSTER: 180}
COLUMNS = ["run_id", "zone", "item", "judged_by", "retention_days", "bytes", "purged_at"]

_log = logging.getLogger(__name__)

_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:-(?:(\d{4})(\d{2})(\d{2})$|[0-9a-f]+$)|$)")


def retention_days(environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """The period of each zone from the environment (``ENV``), ``DEFAULT_DAYS`` where unset or empty.
    ``ValueError`` naming the variable when a value is not a whole number of at least 1."""
    environ = os.environ if environ is None else environ
    out = {}
    for zone, name in ENV.items():
        text = (environ.get(name) or "").strip()
        try:
            days = int(text) if text else DEFAULT_DAYS[zone]
        except ValueError:
            raise ValueError(f"{name} must be a whole number of days") from None
        if days < 1:
            raise ValueError(f"{name} must be at least 1 day")
        out[zone] = days
    return out


def _date(y: str, m: str, d: str) -> dt.date | None:
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def period_end(text: str) -> dt.date | None:
    """The last day of the period ``text`` names, or None: ``YYYY-MM-DD``; ``YYYYMMDD``, ``YYYYMMDD-YYYYMMDD``
    (a range: its end) or ``YYYYMMDD-<hex>`` (a run-failure notice); ``YYYY-MM``; ``YYYY-Qn``; ``YYYY-Www``
    (the Sunday of the ISO week)."""
    if m := _DAY.match(text):
        return _date(*m.groups())
    if m := _COMPACT.match(text):
        start = _date(*m.groups()[:3])
        if m.group(4):
            end = _date(*m.groups()[3:])
            return end if start and end and end >= start else None
        return start
    return bank_calendar.period_end(text)


def judged_date(zone: str, rel: PurePosixPath) -> dt.date | None:
    """The date a file of ``zone`` (path ``rel`` relative to the zone folder) is judged by, or None when its
    path carries none (see the module docstring)."""
    if zone == "reports":
        return period_end(rel.parts[0]) if len(rel.parts) > 1 else None
    if zone == "outbox":
        if rel.suffix != ".eml" or len(rel.parts) != 1:
            return None
        parts = rel.stem.split("__")
        return period_end(parts[1]) if len(parts) >= 3 else None
    if zone == "dq":
        if rel.suffix not in (".json", ".html") or rel.parts[0] not in ("validations", "site"):
            return None
        return period_end(rel.stem) if re.fullmatch(r"\d{8}(-\d{8})?", rel.stem) else None
    raise ValueError(f"unknown zone {zone!r}; one of {', '.join(FILE_ZONES)}")


@dataclass(frozen=True)
class Purge:
    """One deletion (or, dry run, one that would be made)."""

    zone: str
    item: str
    judged_by: dt.date
    retention_days: int
    bytes: int


def cutoff(today: dt.date, days: int) -> dt.date:
    """Anything judged by a date before this is purged (kept while ``date >= today - days``)."""
    if days < 1:
        raise ValueError("retention days must be at least 1")
    return today - dt.timedelta(days=days)


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve(strict=True).is_relative_to(root)
    except OSError:
        return False


def purge_zone(zone: str, folder: Path, days: int, *, today: dt.date, dry_run: bool = False) -> list[Purge]:
    """Delete the files of ``zone`` under ``folder`` judged older than ``days`` before ``today`` (see the
    module docstring: dates from paths; no symlink followed or deleted; nothing outside the folder)."""
    limit = cutoff(today, days)
    if not folder.is_dir():
        return []
    root = folder.resolve(strict=True)
    purged: list[Purge] = []
    emptied: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        # a symlinked folder is listed in dirnames but not entered (followlinks=False); sort for a stable order
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file() or not _inside(path, root):
                continue
            rel = PurePosixPath(path.relative_to(root).as_posix())
            day = judged_date(zone, rel)
            if day is None or day >= limit:
                continue
            size = path.lstat().st_size
            if not dry_run:
                path.unlink()
                emptied.add(dirpath)
            purged.append(Purge(zone, rel.as_posix(), day, days, size))
    for dirpath in sorted(emptied, key=len, reverse=True):  # deepest first
        d = Path(dirpath)
        while d != root and d.is_relative_to(root) and not d.is_symlink():
            try:
                d.rmdir()  # only when empty
            except OSError:
                break
            d = d.parent
    return purged


def runs_to_purge(runs: Iterable[tuple[str, dt.datetime]], days: int, *, today: dt.date) -> list[Purge]:
    """The Dagster runs (run id, end time: aware, or naive UTC) judged older than ``days`` before ``today``,
    by their end date in bank time. ``bytes`` is 0 here; the caller fills in what it frees."""
    limit = cutoff(today, days)
    out = []
    for run_id, ended in runs:
        at = ended if ended.tzinfo else ended.replace(tzinfo=dt.UTC)
        day = at.astimezone(BANK_TZ).date()
        if day < limit:
            out.append(Purge(DAGSTER, run_id, day, days, 0))
    return out


def frame(purges: Iterable[Purge], *, run_id: str | None, purged_at: dt.datetime | None = None) -> pd.DataFrame:
    """The rows of ``retention_purges`` for ``purges``."""
    at = purged_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [{**asdict(p), "run_id": run_id, "purged_at": at} for p in purges]
    return pd.DataFrame(rows, columns=COLUMNS).astype({"retention_days": "int64", "bytes": "int64"})


def record(conn: sa.Connection, purges: Iterable[Purge], *, run_id: str | None) -> int:
    """Append ``purges`` to ``retention_purges`` in the caller's transaction. Returns the rows written."""
    from crm import warehouse as wh

    return wh.append_frame(conn, wh.retention_purges, frame(purges, run_id=run_id))


def purge_files(
    home_root: Path,
    days: Mapping[str, int],
    *,
    today: dt.date,
    conn: sa.Connection | None = None,
    run_id: str | None = None,
    dry_run: bool = False,
    zones: Iterable[str] = FILE_ZONES,
) -> pd.DataFrame:
    """Purge each of ``zones`` (``reports``, ``outbox``, ``dq``) under ``home_root`` with its period from
    ``days`` and record the deletions through ``conn`` (not on a dry run). Returns the rows (what was, or
    would be, purged). The records are written right after the deletions, in the caller's transaction: if
    that write fails, the error propagates (the run fails) and the log lists the counts deleted."""
    purges: list[Purge] = []
    for zone in zones:
        if zone not in FILE_ZONES:
            raise ValueError(f"unknown zone {zone!r}; one of {', '.join(FILE_ZONES)}")
        found = purge_zone(zone, home_root / zone, days[zone], today=today, dry_run=dry_run)
        _log.info(
            "retention: %s %d files of %s/ judged older than %d days",
            "would purge" if dry_run else "purged",
            len(found),
            zone,
            days[zone],
        )
        purges += found
    if conn is not None and not dry_run:
        record(conn, purges, run_id=run_id)
    return frame(purges, run_id=run_id)
