"""The bank's calendar (crm/bank_calendar.py): time zone, months and quarters, weeks, partition keys, period
labels, and the working-day calendar of crm/holidays_cn.toml, checked day by day against an independent
source (the chinese-calendar package) for every year the file covers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from crm import bank_calendar as bc

D = dt.date


def test_time_zone():
    assert str(bc.BANK_TZ) == bc.TIMEZONE == "Asia/Shanghai"
    # a naive time is UTC; bank time is UTC+8, so 16:30 UTC is the next day's 00:30 in the bank
    assert bc.to_bank_time(dt.datetime(2026, 1, 31, 16, 30)) == dt.datetime(2026, 2, 1, 0, 30)
    aware = dt.datetime(2026, 1, 31, 1, 0, tzinfo=bc.BANK_TZ)
    assert bc.to_bank_time(aware) == dt.datetime(2026, 1, 31, 1, 0)
    assert bc.bank_now().utcoffset() == dt.timedelta(hours=8)


def test_months_and_quarters():
    assert bc.month_end(D(2024, 2, 3)) == D(2024, 2, 29) and bc.month_end(D(2026, 2, 3)) == D(2026, 2, 28)
    assert bc.is_month_end(D(2026, 12, 31)) and not bc.is_month_end(D(2026, 12, 30))
    assert [m for m in range(1, 13) if bc.closes_quarter(D(2026, m, 1))] == [3, 6, 9, 12]
    assert bc.quarter_start(D(2026, 8, 15)) == D(2026, 7, 1)
    assert bc.months_before(D(2026, 3, 31), 1) == D(2026, 2, 28)
    assert bc.months_before(D(2026, 1, 15), 3) == D(2025, 10, 31)
    assert bc.month_firsts(D(2024, 2, 29), D(2024, 4, 29)) == [D(2024, 2, 1), D(2024, 3, 1)]
    assert bc.month_firsts(D(2024, 2, 1), D(2024, 2, 28)) == []


def test_weeks():
    assert bc.week_start(D(2026, 11, 1)) == D(2026, 10, 26)  # a Sunday belongs to the week before it
    assert bc.week_end("2026-10-26") == bc.week_end(D(2026, 10, 28)) == D(2026, 11, 1)
    assert bc.sundays(D(2024, 3, 1), D(2024, 3, 31)) == [D(2024, 3, d) for d in (3, 10, 17, 24, 31)]
    assert bc.sundays(D(2024, 3, 4), D(2024, 3, 9)) == []


def test_partition_keys_and_business_dates():
    assert bc.business_date_for("2024-02-01", "month_end") == D(2024, 2, 29)
    assert bc.business_date_for("2024-02-13", "daily") == D(2024, 2, 13)
    assert bc.partition_key_for(D(2024, 2, 29), "month_end") == "2024-02-01"
    assert bc.partition_key_for(D(2024, 2, 29), "daily") == "2024-02-29"


def test_period_labels_and_bounds():
    assert bc.month_period(D(2026, 3, 31)) == "2026-03" and bc.quarter_period(D(2026, 3, 31)) == "2026-Q1"
    assert bc.week_period(D(2027, 1, 3)) == "2026-W53"  # ISO: the week of its Sunday
    assert bc.month_and_quarter(D(2026, 3, 31)) == ["2026-03", "2026-Q1"]
    assert bc.month_and_quarter(D(2026, 4, 30)) == ["2026-04"]
    # October 2026: Sundays 4, 11, 18, 25 -> ISO weeks 40..43; not a quarter end
    assert bc.month_periods(D(2026, 10, 31)) == ["2026-10", "2026-W40", "2026-W41", "2026-W42", "2026-W43"]
    assert bc.month_periods(D(2026, 9, 30))[:2] == ["2026-09", "2026-Q3"]
    assert bc.period_bounds("month", D(2026, 2, 28)) == (D(2026, 2, 1), D(2026, 2, 28))
    assert bc.period_bounds("quarter", D(2026, 9, 30)) == (D(2026, 7, 1), D(2026, 9, 30))
    assert bc.period_bounds("week", D(2026, 11, 1)) == (D(2026, 10, 26), D(2026, 11, 1))
    with pytest.raises(ValueError, match="period kind"):
        bc.period_bounds("year", D(2026, 1, 1))


@pytest.mark.parametrize(
    ("label", "end"),
    [
        ("2026-02", D(2026, 2, 28)),
        ("2024-02", D(2024, 2, 29)),
        ("9999-12", D(9999, 12, 31)),
        ("2026-Q3", D(2026, 9, 30)),
        ("2026-W53", D(2027, 1, 3)),
        ("0000-01", None),
        ("0000-Q1", None),
        ("2026-00", None),
        ("2026-Q0", None),
        ("2025-W53", None),
        ("2026-03\n", None),
        ("2026-3", None),
        ("", None),
    ],
)
def test_period_end(label, end):
    assert bc.period_end(label) == end


def test_every_period_label_ends_where_its_bounds_end():
    for day in (D(2026, m, 1) for m in range(1, 13)):
        last = bc.month_end(day)
        assert bc.period_end(bc.month_period(day)) == bc.period_bounds("month", day)[1] == last
        if bc.closes_quarter(day):
            assert bc.period_end(bc.quarter_period(day)) == bc.period_bounds("quarter", last)[1]
        for sunday in bc.sundays(day, last):
            assert bc.period_end(bc.week_period(sunday)) == sunday


# ------------------------------------------------------------------------------------------ working days


def test_the_holiday_file_agrees_with_an_independent_source_day_by_day():
    import chinese_calendar

    cal = bc.working_days()
    checked = 0
    for year in sorted(cal.years):
        day = D(year, 1, 1)
        while day.year == year:
            try:
                expected = chinese_calendar.is_workday(day)
            except NotImplementedError:  # a year the package does not know yet: the file is ahead of it
                break
            assert bc.is_working_day(day) == expected, day
            checked += 1
            day += dt.timedelta(days=1)
    assert checked >= 365 * 3 + 366  # 2023..2026 every day: the installed package knows them all


def test_make_up_days_and_holidays():
    assert not bc.is_working_day(D(2026, 2, 16))  # 春节, a Monday
    assert bc.is_working_day(D(2026, 2, 14))  # a Saturday made a working day for it
    assert not bc.is_working_day(D(2026, 2, 15))  # a Sunday inside the holiday
    assert bc.is_working_day(D(2026, 2, 24)) and not bc.is_working_day(D(2026, 3, 1))  # an ordinary week
    cal = bc.working_days()
    assert cal.working_days(D(2026, 9, 28), D(2026, 10, 11)) == [
        D(2026, 9, 28),
        D(2026, 9, 29),
        D(2026, 9, 30),
        D(2026, 10, 8),
        D(2026, 10, 9),
        D(2026, 10, 10),
    ]
    assert cal.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)
    assert cal.add_working_days(D(2026, 10, 8), -1) == D(2026, 9, 30)
    assert cal.add_working_days(D(2026, 10, 8), 0) == D(2026, 10, 8)


def test_a_year_the_file_does_not_cover_fails_loudly():
    first, last = min(bc.working_days().years), max(bc.working_days().years)
    for day in (D(last + 1, 1, 5), D(first - 1, 6, 1)):  # an ordinary Monday or weekday, still refused
        with pytest.raises(bc.CalendarNotCovered, match=f"add {day.year}"):
            bc.is_working_day(day)
    with pytest.raises(bc.CalendarNotCovered):
        bc.working_days().add_working_days(D(last, 12, 31), 1)


def _file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "holidays.toml"
    path.write_text('version = "t1"\nyears = [2026]\n' + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[[holiday]]\nname = "x"\noff = "2026-10-01..2026-10-07"\nwork = ["2026-10-09"]\n',
            "not a Saturday or Sunday",
        ),
        ('[[holiday]]\nname = "x"\noff = "2026-10-07..2026-10-01"\n', "ends before it starts"),
        ('[[holiday]]\nname = "x"\noff = "2026-13-01"\n', "not a date"),
        ('[[holiday]]\nname = "x"\noff = "2027-10-01"\n', "outside the years"),
        (
            '[[holiday]]\nname = "x"\noff = "2026-10-03"\n[[holiday]]\nname = "y"\noff = "2026-10-05"\n'
            'work = ["2026-10-03"]\n',
            "both a rest day and a make-up working day",
        ),
    ],
)
def test_a_broken_holiday_file_is_refused_naming_the_entry(tmp_path, body, message):
    with pytest.raises(bc.CalendarFileError, match=message):
        bc.load_working_days(_file(tmp_path, body))


def test_a_bank_adds_a_year(tmp_path):
    cal = bc.load_working_days(
        _file(tmp_path, '[[holiday]]\nname = "国庆节"\noff = "2026-10-01..2026-10-07"\nwork = ["2026-10-10"]\n')
    )
    assert cal.version == "t1" and cal.years == {2026}
    assert not cal.is_working_day(D(2026, 10, 1)) and cal.is_working_day(D(2026, 10, 10))
    with pytest.raises(bc.CalendarNotCovered):
        cal.is_working_day(D(2025, 10, 1))
    (tmp_path / "bad.toml").write_text('version = "t2"\nyears = 2026\n', encoding="utf-8")
    with pytest.raises(bc.CalendarFileError, match="'version' and 'years'"):
        bc.load_working_days(tmp_path / "bad.toml")


# ----------------------------------------------------------------------------------------------- releases
# National Day and Mid-Autumn 2025: off 1..8 October, make-up working days Sunday 28 September and Saturday
# 11 October. New Year 2026: off 1..3 January, make-up Sunday 4 January. National Day 2023: off 29 September
# ..6 October, make-up Saturday 7 and Sunday 8 October. Spring Festival 2023: off 21..27 January, make-up
# Saturday 28 and Sunday 29 January. Spring Festival 2026: off 15..23 February.


@pytest.mark.parametrize(
    ("end", "day"),
    [
        (D(2025, 9, 30), D(2025, 10, 9)),  # after an eight-day holiday, not on the 1st
        (D(2026, 10, 31), D(2026, 11, 2)),  # the 1st is a Sunday: the Monday
        (D(2025, 10, 31), D(2025, 11, 3)),  # the 1st is a Saturday: the Monday
        (D(2026, 3, 31), D(2026, 4, 1)),  # an ordinary Wednesday, the 1st
        (D(2025, 12, 31), D(2026, 1, 4)),  # a make-up Sunday after New Year
        (D(2023, 9, 30), D(2023, 10, 7)),  # a make-up Saturday after National Day
        (D(2023, 1, 22), D(2023, 1, 28)),  # a week's Sunday inside Spring Festival: a make-up Saturday
        (D(2025, 6, 1), D(2025, 6, 3)),  # a week before the Dragon Boat holiday Monday: the Tuesday
        (D(2025, 9, 28), D(2025, 9, 29)),  # a make-up Sunday ends its week as any Sunday: the Monday
    ],
)
def test_the_release_day_is_the_first_working_day_after_the_period(end, day):
    assert bc.release_day(end) == day


def test_release_times_by_label():
    assert {"month": dt.time(10), "quarter": dt.time(11), "week": dt.time(9)} == bc.RELEASE_TIME
    assert bc.release_time("2025-09") == dt.datetime(2025, 10, 9, 10, 0)
    assert bc.release_time("2025-Q3") == dt.datetime(2025, 10, 9, 11, 0)
    assert bc.release_time("2025-W40") == dt.datetime(2025, 10, 9, 9, 0)  # Monday 29 Sep .. Sunday 5 Oct
    assert bc.release_time("2025-12") == dt.datetime(2026, 1, 4, 10, 0)  # a Sunday: a make-up working day
    assert bc.release_time("2025-Q4") == dt.datetime(2026, 1, 4, 11, 0)
    assert bc.release_time("2026-10") == dt.datetime(2026, 11, 2, 10, 0)
    assert bc.release_day_for("2023-W03") == D(2023, 1, 28)
    assert [bc.period_kind(x) for x in ("2026-01", "2026-Q1", "2026-W01")] == ["month", "quarter", "week"]
    for bad in ("2026-13", "2026-Q5", "2025-W53", "2026/01", ""):
        with pytest.raises(ValueError, match="not a period label"):
            bc.release_time(bad)


def test_a_release_the_file_does_not_cover_is_refused_with_its_message():
    # December 2026 goes out on the first working day of 2027, a year the file does not cover yet
    with pytest.raises(bc.CalendarNotCovered, match=r"2027-01-01: the holiday file .* add 2027"):
        bc.release_time("2026-12")
    with pytest.raises(bc.CalendarNotCovered, match="add 2027"):
        bc.release_time("2026-W53")  # its Sunday is 3 January 2027
    with pytest.raises(bc.CalendarNotCovered, match="add 2022"):
        bc.released_on("month", D(2022, 12, 1))


def test_released_on_names_every_period_out_that_day():
    assert bc.released_on("month", D(2025, 10, 9)) == [D(2025, 9, 30)]
    assert bc.released_on("quarter", D(2025, 10, 9)) == [D(2025, 9, 30)]
    assert [bc.released_on("month", D(2025, 10, d)) for d in range(1, 9)] == [[]] * 8  # the holiday
    assert bc.released_on("month", D(2025, 10, 10)) == []  # a working day, but September went out yesterday
    assert bc.released_on("month", D(2026, 1, 4)) == [D(2025, 12, 31)]  # a make-up Sunday
    assert bc.released_on("quarter", D(2026, 1, 4)) == [D(2025, 12, 31)]
    assert bc.released_on("week", D(2026, 1, 4)) == []  # the week to Sunday 28 Dec went out on Monday 29 Dec
    assert bc.released_on("week", D(2025, 12, 29)) == [D(2025, 12, 28)]
    # Spring Festival 2026: the week to Sunday 15 February and the week to Sunday 22 February both go out on
    # Tuesday 24 February, the first working day after either
    assert bc.released_on("week", D(2026, 2, 24)) == [D(2026, 2, 15), D(2026, 2, 22)]
    assert bc.released_on("week", D(2026, 2, 16)) == []


def test_next_release_day():
    assert bc.next_release_day("month", D(2025, 10, 1)) == D(2025, 10, 9)
    assert bc.next_release_day("month", D(2025, 10, 10)) == D(2025, 11, 3)
    assert bc.next_release_day("quarter", D(2025, 10, 10)) == D(2026, 1, 4)
    assert bc.next_release_day("week", D(2026, 2, 17)) == D(2026, 2, 24)
    assert bc.next_release_day("week", D(2026, 2, 24)) == D(2026, 2, 24)  # on or after


def test_releases_follow_the_calendar_they_are_given(tmp_path):
    # a calendar of its own (as a test may pass): Monday 2 November 2026 a holiday
    cal = bc.load_working_days(_file(tmp_path, '[[holiday]]\nname = "x"\noff = "2026-11-02"\n'))
    assert bc.release_day(D(2026, 10, 31), cal) == D(2026, 11, 3)
    assert bc.released_on("month", D(2026, 11, 3), cal) == [D(2026, 10, 31)]
    assert bc.released_on("month", D(2026, 11, 2), cal) == []
