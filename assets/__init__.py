"""Dagster assets, one module per layer. Keys by partitioning feed the jobs in ``orchestration.jobs``."""

from __future__ import annotations

from assets.ingest import DAILY_RAW_KEYS, MONTH_END_RAW_KEYS, ingest_assets

all_assets = [*ingest_assets]
DAILY_KEYS = [*DAILY_RAW_KEYS]
MONTH_END_KEYS = [*MONTH_END_RAW_KEYS]
