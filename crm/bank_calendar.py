"""The bank's calendar: its time zone, business dates, month ends, quarter closes, weeks, period labels,
partition keys, and the mainland China working-day calendar.

Every rule about dates lives here, so that "does this month close a quarter" or "which weeks belong to a
month" has one answer:

- **Time zone**: the bank keeps time in Asia/Shanghai (:data:`BANK_TZ`). A naive timestamp the pipeline
  stores is UTC unless a column says bank time; :func:`to_bank_time` converts.
- **Business date**: the date an extract's data is as of. Daily extracts have one per calendar day (the core
  banking batch runs every day); month-end extracts have the last day of each month.
- **Partitions** (Dagster): a daily key is the business date, a monthly key the month's first day (its
  business date is the month end), a weekly key the Monday of a week Monday..Sunday (its business date is the
  Sunday). :func:`business_date_for`, :func:`partition_key_for`, :func:`week_end`.
- **Periods** (report and outbox labels): ``YYYY-MM``, ``YYYY-Qn`` (a quarter closes with March, June,
  September and December), ``YYYY-Www`` (the ISO week of its Sunday). :func:`period_bounds`,
  :func:`month_periods`, :func:`period_end`.
- **Working days**: :func:`is_working_day` reads ``crm/holidays_cn.toml``, the State Council's holidays and
  make-up working days (调休) by year, a file the bank updates each year. A date in a year the file does not
  cover raises :class:`CalendarNotCovered`: it is never taken for a working day by default.
- **Releases**: a period's reports go out on its release day, the first working day after its last day
  (:func:`release_day`, :func:`release_day_for`), at the hour of its kind (:data:`RELEASE_TIME`: month 10:00,
  quarter 11:00, week 09:00): :func:`release_time`. The schedules ask :func:`released_on` each day.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

TIMEZONE = "Asia/Shanghai"
BANK_TZ = ZoneInfo(TIMEZONE)
HOLIDAY_FILE = Path(__file__).with_name("holidays_cn.toml")

# ------------------------------------------------------------------------------------------ time zone


def bank_now() -> dt.datetime:
    """Now, in bank time (aware)."""
    return dt.datetime.now(BANK_TZ)


def bank_now_naive() -> dt.datetime:
    """Now in bank time, naive and to the second: a report's generation time, a bank-time stamp in a table."""
    return bank_now().replace(tzinfo=None, microsecond=0)


def bank_today() -> dt.date:
    """Today's date in bank time."""
    return bank_now().date()


def to_bank_time(moment: dt.datetime) -> dt.datetime:
    """``moment`` in bank time, naive (what reports and notices print). A naive ``moment`` is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(BANK_TZ).replace(tzinfo=None)


# ------------------------------------------------------------------------------------ months, quarters


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    """The last day of the month of ``day``."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def is_month_end(day: dt.date) -> bool:
    return day == month_end(day)


def closes_quarter(day: dt.date) -> bool:
    """True when the month of ``day`` is the last of a quarter (March, June, September, December)."""
    return day.month % 3 == 0


def quarter_start(day: dt.date) -> dt.date:
    """The first day of the quarter of ``day``."""
    return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def next_month(day: dt.date) -> dt.date:
    """The first day of the month after the month of ``day``."""
    return month_end(day) + dt.timedelta(days=1)


def months_before(day: dt.date, months: int) -> dt.date:
    """The month end ``months`` months before the month of ``day``."""
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    return month_end(dt.date(y, m + 1, 1))


def month_firsts(first: dt.date, last: dt.date) -> list[dt.date]:
    """The first days of the months whose month end lies in ``first``..``last``."""
    out, m = [], month_start(first)
    while m <= last:
        if first <= month_end(m) <= last:
            out.append(m)
        m = next_month(m)
    return out


# --------------------------------------------------------------------------------------------- weeks


def week_start(day: dt.date) -> dt.date:
    """The Monday of the week (Monday..Sunday) of ``day``."""
    return day - dt.timedelta(days=day.weekday())


def week_end(partition_key: str | dt.date) -> dt.date:
    """The Sunday closing the week of a weekly partition key (its Monday) or of any day of that week."""
    day = dt.date.fromisoformat(partition_key) if isinstance(partition_key, str) else partition_key
    return week_start(day) + dt.timedelta(days=6)


def sundays(first: dt.date, last: dt.date) -> list[dt.date]:
    """The Sundays in ``first``..``last``."""
    sunday = first + dt.timedelta(days=(6 - first.weekday()) % 7)
    out = []
    while sunday <= last:
        out.append(sunday)
        sunday += dt.timedelta(days=7)
    return out


# ---------------------------------------------------------------------------------- partition keys


def business_date_for(partition_key: str, cadence: str) -> dt.date:
    """The business date of a daily (``cadence`` anything but ``month_end``) or monthly partition key."""
    day = dt.date.fromisoformat(partition_key)
    return month_end(day) if cadence == "month_end" else day


def partition_key_for(business_date: dt.date, cadence: str) -> str:
    """The partition key holding ``business_date``: its month's first day for ``month_end`` extracts."""
    return month_start(business_date).isoformat() if cadence == "month_end" else business_date.isoformat()


# ------------------------------------------------------------------------------------------- periods


def month_period(day: dt.date) -> str:
    """``YYYY-MM`` of the month of ``day``."""
    return f"{day:%Y-%m}"


def quarter_period(day: dt.date) -> str:
    """``YYYY-Qn`` of the quarter of ``day``."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def week_period(day: dt.date) -> str:
    """``YYYY-Www``: the ISO week of ``day`` (a week's label is that of its Sunday)."""
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


def period_bounds(kind: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """First and last business date of the period a report covers: ``month`` (the month of ``day``),
    ``quarter`` (the quarter ending with the month of ``day``), ``week`` (Monday to ``day``, a Sunday)."""
    if kind == "week":
        return week_start(day), day
    if kind == "month":
        return month_start(day), month_end(day)
    if kind == "quarter":
        return quarter_start(day), month_end(day)
    raise ValueError(f"period kind must be month, quarter or week, not {kind!r}")


def month_and_quarter(day: dt.date) -> list[str]:
    """The month's period and, when the month of ``day`` closes a quarter, the quarter's: what a month end
    renders, scans and sends."""
    return [month_period(day)] + ([quarter_period(day)] if closes_quarter(day) else [])


def month_periods(day: dt.date) -> list[str]:
    """The periods that belong to the month of ``day``: ``YYYY-MM``, ``YYYY-Qn`` when the month closes a
    quarter, and ``YYYY-Www`` of every week whose Sunday falls in the month."""
    return month_and_quarter(day) + [week_period(s) for s in sundays(month_start(day), month_end(day))]


_MONTH = re.compile(r"^(\d{4})-(\d{2})\Z")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])\Z")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})\Z")


def period_end(label: str) -> dt.date | None:
    """The last day of the period a label names (``YYYY-MM``, ``YYYY-Qn``, ``YYYY-Www``: its Sunday), or None
    when ``label`` is not a valid period label."""
    if m := _MONTH.match(label):
        y, mo = int(m.group(1)), int(m.group(2))
        return month_end(dt.date(y, mo, 1)) if 1 <= mo <= 12 and y >= 1 else None
    if m := _QUARTER.match(label):
        y = int(m.group(1))
        return month_end(dt.date(y, int(m.group(2)) * 3, 1)) if y >= 1 else None
    if m := _WEEK.match(label):
        try:
            return dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 7)
        except ValueError:
            return None
    return None


# -------------------------------------------------------------------------------------- working days


class CalendarNotCovered(LookupError):
    """A date in a year the holiday file does not cover."""


class CalendarFileError(ValueError):
    """The holiday file breaks one of its rules (the message names the rule and the entry)."""


@dataclass(frozen=True)
class WorkingDays:
    """The working-day calendar of one holiday file: weekdays are working days unless a holiday period makes
    them rest days; a Saturday or Sunday is a rest day unless a notice makes it a make-up working day."""

    version: str
    years: frozenset[int]
    off: frozenset[dt.date]
    work: frozenset[dt.date]
    source: str

    def covers(self, day: dt.date) -> bool:
        return day.year in self.years

    def is_working_day(self, day: dt.date) -> bool:
        if day.year not in self.years:
            raise CalendarNotCovered(
                f"{day.isoformat()}: the holiday file {self.source} (version {self.version}) covers the years "
                f"{', '.join(map(str, sorted(self.years)))}; add {day.year} from the State Council's notice"
            )
        if day in self.work:
            return True
        return day.weekday() < 5 and day not in self.off

    def working_days(self, first: dt.date, last: dt.date) -> list[dt.date]:
        """The working days in ``first``..``last`` (every year in between must be covered)."""
        n = (last - first).days + 1
        return [d for d in (first + dt.timedelta(days=i) for i in range(max(n, 0))) if self.is_working_day(d)]

    def add_working_days(self, day: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``day`` (``n`` > 0) or before it (``n`` < 0); ``day`` itself for 0."""
        step = 1 if n >= 0 else -1
        left = abs(n)
        while left:
            day += dt.timedelta(days=step)
            left -= self.is_working_day(day)
        return day


def _dates(value: object, where: str) -> list[dt.date]:
    """A ``first..last`` range or one date (TOML string or date) as the list of its days."""
    try:
        if isinstance(value, dt.date):
            return [value]
        first, _, last = str(value).partition("..")
        a = dt.date.fromisoformat(first.strip())
        b = dt.date.fromisoformat(last.strip()) if last else a
    except ValueError as e:
        raise CalendarFileError(f"{where}: not a date or 'first..last' range ({e})") from None
    if b < a:
        raise CalendarFileError(f"{where}: the range ends before it starts")
    return [a + dt.timedelta(days=i) for i in range((b - a).days + 1)]


def load_working_days(path: str | Path = HOLIDAY_FILE) -> WorkingDays:
    """Read and check a holiday file (format: the comments of ``crm/holidays_cn.toml``)."""
    path = Path(path)
    with path.open("rb") as f:
        doc = tomllib.load(f)
    try:
        version, years = str(doc["version"]), frozenset(int(y) for y in doc["years"])
    except (KeyError, TypeError, ValueError) as e:
        raise CalendarFileError(f"{path.name}: 'version' and 'years' (a list of years) are required ({e})") from None
    off: set[dt.date] = set()
    work: set[dt.date] = set()
    for i, block in enumerate(doc.get("holiday", []), start=1):
        where = f"{path.name}: holiday {i} ({block.get('name', '?')})"
        days = _dates(block.get("off"), f"{where}: off")
        extra = [d for v in block.get("work", []) for d in _dates(v, f"{where}: work")]
        for d in days + extra:
            if d.year not in years and not (d.month == 12 and d.year + 1 in years):
                raise CalendarFileError(f"{where}: {d.isoformat()} is outside the years the file covers")
        for d in extra:
            if d.weekday() < 5:
                raise CalendarFileError(f"{where}: make-up working day {d.isoformat()} is not a Saturday or Sunday")
        off.update(days)
        work.update(extra)
    if both := sorted(off & work):
        raise CalendarFileError(f"{path.name}: {both[0].isoformat()} is both a rest day and a make-up working day")
    return WorkingDays(version, years, frozenset(off), frozenset(work), path.name)


@lru_cache(maxsize=1)
def _default() -> WorkingDays:
    return load_working_days()


def is_working_day(day: dt.date) -> bool:
    """Whether ``day`` is a working day in mainland China (the bank's holiday file); raises
    :class:`CalendarNotCovered` for a year the file does not cover."""
    return _default().is_working_day(day)


def working_days() -> WorkingDays:
    """The bank's working-day calendar (``crm/holidays_cn.toml``)."""
    return _default()


# ----------------------------------------------------------------------------------------- releases

# When a period's reports go out: at this hour (bank time) of its release day, the first working day after
# the period's last day (:func:`release_day`). The month's reports first, the quarter's an hour later; the
# week's digest early, before the working day starts. On the release day the period's last extracts are due
# at 08:00 (the arrival cut-off, one working day after the business date), so every hour here is after it.
RELEASE_TIME = {"month": dt.time(10, 0), "quarter": dt.time(11, 0), "week": dt.time(9, 0)}


def _label_end(label: str) -> dt.date:
    end = period_end(label)
    if end is None:
        raise ValueError(f"not a period label (YYYY-MM, YYYY-Qn or YYYY-Www): {label!r}")
    return end


def period_kind(label: str) -> str:
    """``month``, ``quarter`` or ``week``: the kind of period a label names; ``ValueError`` for a string
    that is not a period label (:func:`period_end`)."""
    _label_end(label)
    return "month" if _MONTH.match(label) else "quarter" if _QUARTER.match(label) else "week"


def period_label(kind: str, day: dt.date) -> str:
    """The label of the ``kind`` period (``month``, ``quarter``, ``week``) holding ``day``."""
    labels = {"month": month_period, "quarter": quarter_period, "week": week_period}
    if kind not in labels:
        raise ValueError(f"period kind must be month, quarter or week, not {kind!r}")
    return labels[kind](day)


def period_start_of(kind: str, day: dt.date) -> dt.date:
    """The first day of the ``kind`` period (``month``, ``quarter``, ``week``) holding ``day``."""
    starts = {"month": month_start, "quarter": quarter_start, "week": week_start}
    if kind not in starts:
        raise ValueError(f"period kind must be month, quarter or week, not {kind!r}")
    return starts[kind](day)


def period_end_of(kind: str, day: dt.date) -> dt.date:
    """The last day of the ``kind`` period holding ``day``: its month end, its quarter's last month end, its
    Sunday."""
    if kind == "quarter":
        return month_end(quarter_start(day) + dt.timedelta(days=62))  # the quarter's third month
    return week_end(day) if kind == "week" else month_end(period_start_of(kind, day))


def release_day(period_end: dt.date, calendar: WorkingDays | None = None) -> dt.date:
    """The day a period's reports go out: the first working day after its last day ``period_end`` (a
    make-up Saturday or Sunday counts, a holiday Monday does not). :class:`CalendarNotCovered` when the
    holiday file does not cover the days needed."""
    return (calendar or working_days()).add_working_days(period_end, 1)


def release_day_for(period_label: str) -> dt.date:
    """The release day of the period a label names (``YYYY-MM``, ``YYYY-Qn``, ``YYYY-Www``); ``ValueError``
    for a bad label, :class:`CalendarNotCovered` when the holiday file does not cover the days needed."""
    return release_day(_label_end(period_label))


def release_time(period_label: str) -> dt.datetime:
    """When the period a label names is released: its release day at the hour of its kind
    (:data:`RELEASE_TIME`), bank time, naive. The time a report prints as its own. ``ValueError`` for a bad
    label, :class:`CalendarNotCovered` when the holiday file does not cover the days needed."""
    return dt.datetime.combine(release_day_for(period_label), RELEASE_TIME[period_kind(period_label)])


def released_on(kind: str, day: dt.date, calendar: WorkingDays | None = None) -> list[dt.date]:
    """The last days of the ``kind`` periods whose release day is ``day``, oldest first: none when ``day``
    is a rest day; after a long holiday possibly several weeks (both weeks of a Spring Festival go out on
    the first working day after it). :class:`CalendarNotCovered` when the holiday file does not cover
    ``day`` or the working day before it."""
    cal = calendar or working_days()
    if not cal.is_working_day(day):
        return []
    before = cal.add_working_days(day, -1)  # a period ending on it or after it, before ``day``, is out today
    ends, end = [], period_end_of(kind, before)
    while end < day:
        ends.append(end)
        end = period_end_of(kind, end + dt.timedelta(days=1))
    return ends


def next_release_day(kind: str, day: dt.date, calendar: WorkingDays | None = None) -> dt.date:
    """The first release day of a ``kind`` period on or after ``day``. :class:`CalendarNotCovered` when
    the holiday file does not cover the days needed (in December, the next year's first days)."""
    end = period_start_of(kind, day) - dt.timedelta(days=1)  # the last period that ended before ``day``
    while (out := release_day(end, calendar)) < day:
        end = period_end_of(kind, end + dt.timedelta(days=1))
    return out
