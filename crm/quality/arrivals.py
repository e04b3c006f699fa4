"""Which extracts a business date expects, and when (or whether) they arrived.

Per the contract every daily extract is due for every business date, and month-end extracts for the last
day of a month, from the extract's ``since`` on (an extract the bank sends only from a date is not expected
before it). A file has arrived when its ``.ok`` flag is in ``landing/<YYYYMMDD>/``; the flag's
modification time is its arrival time (the bank's transfer writes the flag last). The cut-off is a time of
day on the N-th working day after the business date (default 08:00 on the first working day, Asia/Shanghai:
the nightly batch window after a working day), working days as in the bank's holiday file
(:func:`crm.bank_calendar.working_days`: a make-up Saturday or Sunday counts, a holiday does not). So a
Friday's files are due on Monday at 08:00 and a holiday eve's on the first working day after the holiday. A
business date whose following working days the file does not cover has no cut-off: ``CalendarNotCovered``,
never a guessed one.

Status of each expected extract: ``on_time`` (flag before the cut-off), ``late`` (flag after it),
``missing`` (no flag and the cut-off has passed), ``pending`` (no flag yet, cut-off still ahead).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from crm.bank_calendar import BANK_TZ, TIMEZONE, WorkingDays, is_month_end, working_days
from crm.contract import EXTRACTS, Extract
from crm.ingest.fileformat import FileName
from crm.zones import landing_name

DEFAULT_CUTOFF = dt.time(8, 0)
DEFAULT_WORKING_DAYS = 1  # the cut-off's day: the first working day after the business date
COLUMNS = ("business_date", "extract", "expected_by", "file_name", "arrived_at", "status")


def expected_extracts(day: dt.date, extracts: Iterable[Extract] = EXTRACTS) -> list[Extract]:
    """The extracts due for business date ``day``: sent by then (``since``), daily or on a month end."""
    return [e for e in extracts if e.sent_on(day) and (e.cadence == "daily" or is_month_end(day))]


def parse_cutoff(text: str) -> dt.time:
    """``"HH:MM"`` -> time; a clear error otherwise."""
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"arrival cut-off must be HH:MM (bank time), not {text!r}") from None


def expected_by(
    day: dt.date,
    cutoff: dt.time = DEFAULT_CUTOFF,
    *,
    working_days_after: int = DEFAULT_WORKING_DAYS,
    calendar: WorkingDays | None = None,
) -> dt.datetime:
    """The cut-off for a business date's extracts, bank time, naive: ``cutoff`` on the
    ``working_days_after``-th working day after ``day`` in ``calendar`` (default the bank's holiday file).
    ``ValueError`` for fewer than one working day; :class:`~crm.bank_calendar.CalendarNotCovered` (the
    file's message) when the calendar does not cover the days after ``day``."""
    if working_days_after < 1:
        raise ValueError(
            f"the arrival cut-off is 1 or more working days after the business date, not {working_days_after}"
        )
    due = (calendar or working_days()).add_working_days(day, working_days_after)
    return dt.datetime.combine(due, cutoff)


def cutoff_rule(
    cutoff: dt.time = DEFAULT_CUTOFF,
    working_days_after: int = DEFAULT_WORKING_DAYS,
    calendar: WorkingDays | None = None,
) -> str:
    """The cut-off rule in words, for run metadata: the time, the working day, the holiday file's version."""
    cal = calendar or working_days()
    nth = {1: "first", 2: "second", 3: "third"}.get(working_days_after, f"{working_days_after}th")
    return (
        f"{cutoff:%H:%M} {TIMEZONE} on the {nth} working day after the business date "
        f"(holiday file {cal.source}, version {cal.version})"
    )


def arrivals(
    landing: Path,
    day: dt.date,
    *,
    cutoff: dt.time = DEFAULT_CUTOFF,
    working_days_after: int = DEFAULT_WORKING_DAYS,
    calendar: WorkingDays | None = None,
    now: dt.datetime | None = None,
    extracts: Iterable[Extract] = EXTRACTS,
) -> pd.DataFrame:
    """One row per expected extract of ``day`` (of ``extracts``, by default the contract's): columns
    :data:`COLUMNS` (times naive, bank time), the cut-off from :func:`expected_by`. The first flagged file
    (lowest sequence) is the arrival; restatements do not make an extract late."""
    now = now or dt.datetime.now(BANK_TZ).replace(tzinfo=None)
    due = expected_by(day, cutoff, working_days_after=working_days_after, calendar=calendar)
    folder = landing / landing_name(day)
    first: dict[str, tuple[int, str, dt.datetime]] = {}
    if folder.is_dir():
        for ok in folder.glob("*.ok"):  # a few dozen flags per day
            fn = FileName.parse(ok.stem + ".dat")
            if fn is None or fn.business_date != day:
                continue
            at = dt.datetime.fromtimestamp(ok.stat().st_mtime, BANK_TZ).replace(tzinfo=None, microsecond=0)
            if fn.file_code not in first or fn.sequence < first[fn.file_code][0]:
                first[fn.file_code] = (fn.sequence, ok.stem + ".dat", at)
    rows = []
    for e in expected_extracts(day, extracts):
        hit = first.get(e.file_code)
        if hit:
            status = "on_time" if hit[2] <= due else "late"
            rows.append((day, e.name, due, hit[1], hit[2], status))
        else:
            rows.append((day, e.name, due, None, None, "missing" if now > due else "pending"))
    return pd.DataFrame(rows, columns=list(COLUMNS))
