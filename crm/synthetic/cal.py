"""Calendar arithmetic on day numbers (days since 1970-01-01) and month numbers (months since 1970-01)."""

from __future__ import annotations

import datetime as dt

import numpy as np

EPOCH = dt.date(1970, 1, 1)
NEVER = 10**6  # a day number far beyond any business date (year 4700)


def day(d: dt.date) -> int:
    return (d - EPOCH).days


def date(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def month_of(days) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def year_of(days) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def month_start(months) -> np.ndarray:
    return np.asarray(months, dtype=np.int64).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def month_end(months) -> np.ndarray:
    return month_start(np.asarray(months, dtype=np.int64) + 1) - 1


def days_in_month(months) -> np.ndarray:
    m = np.asarray(months, dtype=np.int64)
    return month_start(m + 1) - month_start(m)


def day_of_month(days) -> np.ndarray:
    d = np.asarray(days, dtype=np.int64)
    return d - month_start(month_of(d)) + 1


def on_day(months, dom) -> np.ndarray:
    """The day ``dom`` (1..31) of each month, clamped to the month's last day."""
    m = np.asarray(months, dtype=np.int64)
    return month_start(m) + np.minimum(np.asarray(dom, dtype=np.int64), days_in_month(m)) - 1


def add_months(days, k) -> np.ndarray:
    """Same day of month ``k`` months later (clamped to month end)."""
    d = np.asarray(days, dtype=np.int64)
    return on_day(month_of(d) + np.asarray(k, dtype=np.int64), day_of_month(d))


def weekday(days) -> np.ndarray:
    """Monday = 0 .. Sunday = 6 (1970-01-01 was a Thursday)."""
    return (np.asarray(days, dtype=np.int64) + 3) % 7


def month_number(d: dt.date) -> int:
    return (d.year - 1970) * 12 + d.month - 1


def is_month_end(d: dt.date) -> bool:
    return (d + dt.timedelta(days=1)).day == 1


def to_datetime64(days, valid=None) -> np.ndarray:
    """Day numbers -> datetime64[ns] (NaT where ``valid`` is False)."""
    out = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")
    if valid is not None:
        out = out.copy()
        out[~np.asarray(valid, dtype=bool)] = np.datetime64("NaT")
    return out


def seconds_to_datetime64(seconds, valid=None) -> np.ndarray:
    """Seconds since the epoch -> datetime64[ns] (NaT where ``valid`` is False)."""
    out = np.asarray(seconds, dtype=np.int64).astype("datetime64[s]").astype("datetime64[ns]")
    if valid is not None:
        out = out.copy()
        out[~np.asarray(valid, dtype=bool)] = np.datetime64("NaT")
    return out
