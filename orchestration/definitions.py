"""The one entry point: ``dagster dev -m orchestration.definitions`` (the ``crm ui`` command does this)."""

from __future__ import annotations

import dagster as dg

from assets import all_assets
from orchestration.jobs import daily_job, month_end_job
from orchestration.resources import resources_for
from orchestration.sensors import landing_sensor

defs = dg.Definitions(
    assets=all_assets,
    jobs=[daily_job, month_end_job],
    sensors=[landing_sensor],
    resources=resources_for(),
    # two cores; a forkserver with the definitions preloaded starts each step in milliseconds, not seconds
    executor=dg.multiprocess_executor.configured(
        {"max_concurrent": 2, "start_method": {"forkserver": {"preload_modules": ["orchestration.definitions", "great_expectations"]}}}
    ),
)
