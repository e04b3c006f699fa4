"""Schedules in the bank's time zone: each ticks daily at its hour and asks for the period that ended on the
first working day after it (crm/holidays_cn.toml), for the right partition; a rest day skips naming the next
release day; a day the holiday file does not cover fails the tick with what to do.

Holidays used (crm/holidays_cn.toml): National Day and Mid-Autumn 2025, off 1..8 October, make-up Sunday 28
September and Saturday 11 October; New Year 2026, off 1..3 January, make-up Sunday 4 January; Spring
Festival 2023, off 21..27 January, make-up Saturday 28 January; Spring Festival 2026, off 15..23 February;
Qingming 2026, off Saturday 4 .. Monday 6 April."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from crm.bank_calendar import CalendarNotCovered
from orchestration.definitions import defs

SH = ZoneInfo("Asia/Shanghai")
D = dt.date
MONTHLY, QUARTERLY, WEEKLY = "monthly_reports_schedule", "quarterly_satisfaction_schedule", "weekly_watch_list_schedule"
HOUR = {MONTHLY: 10, QUARTERLY: 11, WEEKLY: 9}


def _tick(name: str, day: dt.date, *, hour: int | None = None, tz: dt.tzinfo = SH) -> dg.ScheduleExecutionData:
    """The schedule's tick scheduled at its hour of ``day`` (bank time), judged as of that time."""
    schedule = defs.resolve_schedule_def(name)
    when = dt.datetime.combine(day, dt.time(HOUR[name] if hour is None else hour), SH).astimezone(tz)
    # no instance: a test instance left behind as Dagster's current one breaks later materialize() calls
    ctx = dg.build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def())
    return schedule.evaluate_tick(ctx)


def _requested(name: str, day: dt.date) -> list[tuple[str, str]]:
    """(run key, partition key) of each run the tick of ``day`` requests; [] when it skips."""
    data = _tick(name, day)
    if not data.run_requests:
        assert data.skip_message, data
    return [(r.run_key, r.partition_key) for r in data.run_requests or []]


def _skip(name: str, day: dt.date) -> str:
    data = _tick(name, day)
    assert not data.run_requests and data.skip_message, data
    return data.skip_message


@pytest.mark.parametrize(("name", "job"), [(MONTHLY, "monthly_reports"), (QUARTERLY, "quarterly_satisfaction"),
                                           (WEEKLY, "weekly_watch_list")])  # fmt: skip
def test_each_schedule_ticks_daily_at_its_hour_in_bank_time(name, job):
    schedule = defs.resolve_schedule_def(name)
    assert schedule.execution_timezone == "Asia/Shanghai" and schedule.job_name == job
    assert schedule.cron_schedule == f"0 {HOUR[name]} * * *"


def test_monthly_reports_wait_for_the_first_working_day_after_national_day():
    # September 2025: 1..8 October are the holiday, the reports go out on Thursday 9 October at 10:00
    for day in (D(2025, 10, d) for d in range(1, 9)):
        assert "the next release is 2025-10-09 10:00 Asia/Shanghai, for 2025-09" in _skip(MONTHLY, day), day
    assert _requested(MONTHLY, D(2025, 10, 9)) == [("2025-09-01", "2025-09-01")]
    assert "the next release is 2025-11-03 10:00" in _skip(MONTHLY, D(2025, 10, 10))
    # the make-up Saturday 11 October is a working day, but September has gone out already
    assert _requested(MONTHLY, D(2025, 10, 11)) == []
    # the make-up Sunday 28 September, before the month ends, releases nothing either
    assert _requested(MONTHLY, D(2025, 9, 28)) == []


def test_monthly_reports_when_the_first_is_a_weekend_day():
    # October 2026: Sunday 1 November skips, Monday 2 November at 10:00 requests the month (its first day)
    assert "the next release is 2026-11-02 10:00 Asia/Shanghai, for 2026-10" in _skip(MONTHLY, D(2026, 11, 1))
    assert _requested(MONTHLY, D(2026, 11, 2)) == [("2026-10-01", "2026-10-01")]
    # October 2025: Saturday 1 and Sunday 2 November skip, Monday 3 November requests
    assert _requested(MONTHLY, D(2025, 11, 1)) == _requested(MONTHLY, D(2025, 11, 2)) == []
    assert _requested(MONTHLY, D(2025, 11, 3)) == [("2025-10-01", "2025-10-01")]


def test_monthly_and_quarterly_reports_on_a_make_up_sunday():
    # December 2025 and its quarter go out on Sunday 4 January 2026, a make-up working day after New Year
    for day in (D(2026, 1, 1), D(2026, 1, 2), D(2026, 1, 3)):
        assert "the next release is 2026-01-04 10:00 Asia/Shanghai, for 2025-12" in _skip(MONTHLY, day), day
        assert "the next release is 2026-01-04 11:00 Asia/Shanghai, for 2025-Q4" in _skip(QUARTERLY, day), day
    assert _requested(MONTHLY, D(2026, 1, 4)) == [("2025-12-01", "2025-12-01")]
    assert _requested(QUARTERLY, D(2026, 1, 4)) == [("quarterly_satisfaction:2025-12-01", "2025-12-01")]
    assert _requested(MONTHLY, D(2026, 1, 5)) == []


def test_quarterly_satisfaction_for_the_quarter_just_closed():
    # the third quarter of 2025, after National Day; the quarter's partition is its last month
    assert "the next release is 2025-10-09 11:00 Asia/Shanghai, for 2025-Q3" in _skip(QUARTERLY, D(2025, 10, 1))
    assert _requested(QUARTERLY, D(2025, 10, 9)) == [("quarterly_satisfaction:2025-09-01", "2025-09-01")]
    # a month that closes no quarter releases nothing; the next is the first working day of 2026-Q1's April
    assert "the next release is 2026-04-01 11:00 Asia/Shanghai, for 2026-Q1" in _skip(QUARTERLY, D(2026, 3, 2))
    assert _requested(QUARTERLY, D(2026, 4, 1)) == [("quarterly_satisfaction:2026-03-01", "2026-03-01")]
    # Q3 2023 on Saturday 7 October 2023, a make-up working day after National Day
    assert _requested(QUARTERLY, D(2023, 10, 7)) == [("quarterly_satisfaction:2023-09-01", "2023-09-01")]


def test_weekly_watch_list_on_monday_for_the_week_to_sunday():
    assert _requested(WEEKLY, D(2026, 11, 2)) == [("2026-10-26", "2026-10-26")]  # Monday 26 Oct .. Sunday 1 Nov
    assert "the next release is 2026-11-09 09:00 Asia/Shanghai, for 2026-W45" in _skip(WEEKLY, D(2026, 11, 3))
    assert defs.resolve_job_def("weekly_watch_list").tags["crm/sends-email"] == "true"


def test_weekly_watch_list_after_a_holiday_monday():
    # Qingming 2026: Monday 6 April is a holiday; the week Monday 30 March .. Sunday 5 April goes out Tuesday
    assert "the next release is 2026-04-07 09:00 Asia/Shanghai, for 2026-W14" in _skip(WEEKLY, D(2026, 4, 6))
    assert _requested(WEEKLY, D(2026, 4, 7)) == [("2026-03-30", "2026-03-30")]


def test_weekly_watch_list_after_spring_festival_sends_both_weeks():
    # 2026: the weeks to Sunday 15 and Sunday 22 February both end in the holiday (15..23 February)
    for day in (D(2026, 2, d) for d in range(16, 24)):
        assert "the next release is 2026-02-24 09:00 Asia/Shanghai, for 2026-W07, 2026-W08" in _skip(WEEKLY, day)
    assert _requested(WEEKLY, D(2026, 2, 24)) == [("2026-02-09", "2026-02-09"), ("2026-02-16", "2026-02-16")]


def test_weekly_watch_list_on_a_make_up_saturday():
    # 2023: the week to Sunday 22 January ends in Spring Festival; it goes out on Saturday 28 January, a
    # make-up working day; Monday 30 January sends the week to Sunday 29 January
    assert _requested(WEEKLY, D(2023, 1, 28)) == [("2023-01-16", "2023-01-16")]
    assert _requested(WEEKLY, D(2023, 1, 30)) == [("2023-01-23", "2023-01-23")]


def test_ticks_caught_up_late_are_each_judged_by_their_own_time():
    # the daemon evaluating the ticks of 1..12 October 2025 at once (today, long after): only the tick
    # scheduled on 9 October asks for September, whatever the clock says now
    got = {d: _requested(MONTHLY, D(2025, 10, d)) for d in range(1, 13)}
    assert {d: r for d, r in got.items() if r} == {9: [("2025-09-01", "2025-09-01")]}
    # the tick's time, not its representation: 02:00 UTC is 10:00 bank time the same day ...
    utc = _tick(MONTHLY, D(2025, 10, 9), tz=dt.UTC)
    assert [r.partition_key for r in utc.run_requests] == ["2025-09-01"]
    # ... and a tick at 07:00 bank time on 9 October is 23:00 UTC on the 8th: still the 9th for the bank
    early = _tick(MONTHLY, D(2025, 10, 9), hour=7, tz=dt.UTC)
    assert [r.partition_key for r in early.run_requests] == ["2025-09-01"]


def _failure(name: str, day: dt.date) -> str:
    with pytest.raises(dg.DagsterUserCodeExecutionError) as caught:
        _tick(name, day)
    assert isinstance(caught.value.user_exception, CalendarNotCovered)
    return str(caught.value.user_exception)


@pytest.mark.parametrize("name", [MONTHLY, QUARTERLY, WEEKLY])
def test_a_day_the_holiday_file_does_not_cover_fails_the_tick_saying_what_to_do(name):
    message = _failure(name, D(2027, 1, 4))
    assert message.startswith(f"{name}: cannot tell whether 2027-01-04 is a release day: 2027-01-04: ")
    assert "add 2027 from the State Council's notice" in message
    assert "Add the year to crm/holidays_cn.toml" in message


def test_december_before_the_next_year_is_in_the_file_fails_in_time():
    # 7 December 2026 releases no month, and the next release (December's) needs January 2027: the tick
    # fails now, weeks before the reports would not go out
    message = _failure(MONTHLY, D(2026, 12, 7))
    assert "2026-12-07 is no release day, but the next cannot be found: 2027-01-01" in message
    assert "Add the year to crm/holidays_cn.toml" in message
    assert "2026-12-07 is no release day" in _failure(QUARTERLY, D(2026, 12, 7))
    # a week that ends in a covered year still goes out; the week after, the weekly ticks fail from the
    # Tuesday after the last week released in 2026 (Monday 28 December)
    assert _requested(WEEKLY, D(2026, 12, 7)) == [("2026-11-30", "2026-11-30")]
    assert _requested(WEEKLY, D(2026, 12, 28)) == [("2026-12-21", "2026-12-21")]
    assert "2026-12-29 is no release day, but the next cannot be found: 2027-01-04" in _failure(WEEKLY, D(2026, 12, 29))


def test_before_december_a_missing_next_year_only_skips_saying_so():
    # Q4 2026 goes out in January 2027: in October the notice for 2027 may not be out yet, so no failure
    message = _skip(QUARTERLY, D(2026, 10, 9))
    assert message.startswith("2026-10-09 is not the first working day after a quarter; the next release day is")
    assert "add 2027 from the State Council's notice" in message and "from December on" in message
    assert _requested(QUARTERLY, D(2026, 10, 8)) == [("quarterly_satisfaction:2026-09-01", "2026-09-01")]
