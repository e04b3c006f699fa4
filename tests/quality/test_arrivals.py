"""The arrival cut-off (crm/quality/arrivals.py) counts working days of the bank's holiday file: a business
date's extracts are due at HH:MM on the N-th working day after it (default 08:00 on the first), a make-up
Saturday or Sunday counting, a holiday not; a date whose next working days the file does not cover has no
cut-off (CalendarNotCovered), never a guessed one.

Holidays used (crm/holidays_cn.toml): National Day and Mid-Autumn 2025, off 1..8 October, make-up Sunday 28
September and Saturday 11 October; New Year 2026, off 1..3 January, make-up Sunday 4 January."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from crm import bank_calendar as bc
from crm.contract import BY_NAME
from crm.quality.arrivals import arrivals, cutoff_rule, expected_by

D = dt.date
T = dt.datetime


@pytest.mark.parametrize(
    ("day", "due"),
    [
        (D(2026, 3, 12), T(2026, 3, 13, 8, 0)),  # a Thursday: the Friday
        (D(2026, 3, 13), T(2026, 3, 16, 8, 0)),  # a Friday: the Monday
        (D(2026, 3, 14), T(2026, 3, 16, 8, 0)),  # a Saturday: the Monday too
        (D(2025, 9, 30), T(2025, 10, 9, 8, 0)),  # National Day's eve: the first working day after the holiday
        (D(2025, 10, 3), T(2025, 10, 9, 8, 0)),  # inside the holiday
        (D(2025, 9, 27), T(2025, 9, 28, 8, 0)),  # a Saturday before a make-up Sunday: that Sunday
        (D(2025, 12, 31), T(2026, 1, 4, 8, 0)),  # New Year's eve: the make-up Sunday 4 January
        (D(2025, 10, 10), T(2025, 10, 11, 8, 0)),  # a Friday before a make-up Saturday
    ],
)
def test_the_cut_off_is_on_the_first_working_day_after_the_business_date(day, due):
    assert expected_by(day) == due


def test_the_cut_off_time_and_the_number_of_working_days_are_settings():
    assert expected_by(D(2026, 3, 13), dt.time(6, 30)) == T(2026, 3, 16, 6, 30)
    assert expected_by(D(2026, 3, 13), working_days_after=2) == T(2026, 3, 17, 8, 0)  # Friday: Tuesday
    assert expected_by(D(2025, 9, 29), working_days_after=3) == T(2025, 10, 10, 8, 0)  # 30 Sep, 9 Oct, 10 Oct
    with pytest.raises(ValueError, match="1 or more working days"):
        expected_by(D(2026, 3, 13), working_days_after=0)
    assert cutoff_rule(dt.time(7, 0), 2) == (
        "07:00 Asia/Shanghai on the second working day after the business date "
        f"(holiday file holidays_cn.toml, version {bc.working_days().version})"
    )


def test_a_calendar_of_ones_own(tmp_path):
    path = tmp_path / "holidays.toml"
    path.write_text('version = "t1"\nyears = [2026]\n[[holiday]]\nname = "x"\noff = "2026-03-16"\n', encoding="utf-8")
    cal = bc.load_working_days(path)
    assert expected_by(D(2026, 3, 13), calendar=cal) == T(2026, 3, 17, 8, 0)  # Monday off in this file
    assert expected_by(D(2026, 3, 13)) == T(2026, 3, 16, 8, 0)  # the bank's file


@pytest.mark.parametrize(
    ("day", "year"),
    [
        (D(2027, 3, 1), 2027),  # a business date in a year the file lacks
        (D(2026, 12, 31), 2027),  # covered, but its cut-off falls in 2027
        (D(2022, 6, 1), 2022),
    ],
)
def test_no_cut_off_where_the_file_does_not_reach(tmp_path, day, year):
    with pytest.raises(bc.CalendarNotCovered, match=f"the holiday file holidays_cn.toml .* add {year}"):
        expected_by(day)
    with pytest.raises(bc.CalendarNotCovered, match=f"add {year}"):
        arrivals(tmp_path, day, now=T(2030, 1, 1), extracts=[BY_NAME["branches"]])


def _flag(landing: Path, day: dt.date, at: dt.datetime) -> None:
    folder = landing / day.strftime("%Y%m%d")
    folder.mkdir(parents=True, exist_ok=True)
    ok = folder / f"BRANCH_{day:%Y%m%d}_001.ok"
    ok.touch()
    stamp = at.replace(tzinfo=bc.BANK_TZ).timestamp()
    os.utime(ok, (stamp, stamp))


def _status(landing: Path, day: dt.date, now: dt.datetime) -> tuple[str, dt.datetime]:
    frame = arrivals(landing, day, now=now, extracts=[BY_NAME["branches"]])
    (row,) = frame.itertuples()
    return row.status, row.expected_by


def test_a_fridays_files_are_on_time_until_monday_eight(tmp_path):
    friday = D(2026, 3, 13)
    assert _status(tmp_path, friday, now=T(2026, 3, 15, 23, 0)) == ("pending", T(2026, 3, 16, 8, 0))  # Sunday
    assert _status(tmp_path, friday, now=T(2026, 3, 16, 8, 1))[0] == "missing"
    _flag(tmp_path, friday, T(2026, 3, 15, 20, 0))  # Sunday evening: on time now (late by the calendar day)
    assert _status(tmp_path, friday, now=T(2026, 3, 20))[0] == "on_time"
    _flag(tmp_path, friday, T(2026, 3, 16, 8, 1))
    assert _status(tmp_path, friday, now=T(2026, 3, 20))[0] == "late"


def test_a_holiday_eves_files_are_due_after_the_holiday(tmp_path):
    eve = D(2025, 9, 30)
    _flag(tmp_path, eve, T(2025, 10, 8, 23, 0))  # the holiday's last evening
    assert _status(tmp_path, eve, now=T(2025, 10, 20)) == ("on_time", T(2025, 10, 9, 8, 0))


def test_a_make_up_sunday_counts_as_a_working_day(tmp_path):
    saturday = D(2025, 9, 27)
    _flag(tmp_path, saturday, T(2025, 9, 28, 9, 0))  # the make-up Sunday, after 08:00
    assert _status(tmp_path, saturday, now=T(2025, 10, 20)) == ("late", T(2025, 9, 28, 8, 0))


def test_the_value_history_extracts_are_expected_from_2024_01_01_each_on_its_cadence():
    from crm.quality.arrivals import expected_extracts

    new = {"deposit_balances", "txn_monthly", "fee_ledger"}

    def due(day: dt.date) -> set[str]:
        return {e.name for e in expected_extracts(day)} & new

    assert due(D(2023, 12, 31)) == set()  # a month end before the contract's date: none of them
    assert due(D(2024, 1, 1)) == {"fee_ledger"}  # daily from its first date
    assert due(D(2024, 1, 15)) == {"fee_ledger"}
    assert due(D(2024, 1, 31)) == new  # the month end: the two month-end extracts as well
