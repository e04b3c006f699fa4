"""Schedules in the bank's time zone, each asking for the right partition."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.definitions import defs

SH = ZoneInfo("Asia/Shanghai")


def _request(name: str, when: dt.datetime) -> dg.RunRequest:
    schedule = defs.resolve_schedule_def(name)
    assert schedule.execution_timezone == "Asia/Shanghai"
    # no instance: a test instance left behind as Dagster's current one breaks later materialize() calls
    ctx = dg.build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def())
    data = schedule.evaluate_tick(ctx)
    assert data.run_requests, data
    return data.run_requests[0]


def test_monthly_reports_on_the_first_for_the_previous_month():
    schedule = defs.resolve_schedule_def("monthly_reports_schedule")
    assert schedule.cron_schedule == "0 10 1 * *" and schedule.job_name == "monthly_reports"
    assert (
        _request("monthly_reports_schedule", dt.datetime(2026, 11, 1, 10, 0, tzinfo=SH)).partition_key == "2026-10-01"
    )


def test_quarterly_satisfaction_for_the_quarter_just_closed():
    schedule = defs.resolve_schedule_def("quarterly_satisfaction_schedule")
    assert schedule.cron_schedule == "0 11 1 1,4,7,10 *"
    assert (
        _request("quarterly_satisfaction_schedule", dt.datetime(2026, 10, 1, 11, 0, tzinfo=SH)).partition_key
        == "2026-09-01"
    )


def test_weekly_digest_on_monday_for_the_week_to_sunday():
    schedule = defs.resolve_schedule_def("weekly_watch_list_schedule")
    assert schedule.job_name == "weekly_watch_list"
    request = _request("weekly_watch_list_schedule", dt.datetime(2026, 11, 2, 9, 0, tzinfo=SH))  # a Monday
    assert request.partition_key == "2026-10-26"  # Monday 26 Oct .. Sunday 1 Nov
    assert (
        request.tags.get("crm/sends-email") == "true"
        or defs.resolve_job_def("weekly_watch_list").tags["crm/sends-email"] == "true"
    )
