"""Dagster assets, one module per layer. Keys by partitioning feed the jobs in ``orchestration.jobs``."""

from __future__ import annotations

from assets.ingest import DAILY_RAW_KEYS, MONTH_END_RAW_KEYS, ingest_assets
from assets.marts import MART_KEYS, mart_assets
from assets.playbook import PLAYBOOK_KEYS, WEEKLY_KEYS, playbook_month_end_assets, watch_list_weekly
from assets.quality import ARRIVALS_KEY, DAILY_STAGED_KEYS, MONTH_END_STAGED_KEYS, arrivals, staged_assets
from assets.reports import REPORT_KEYS, WEEKLY_REPORT_KEYS, report_assets, weekly_report_assets
from assets.scoring import SCORING_KEYS, scoring_assets

all_assets = [*ingest_assets, *staged_assets, arrivals, *mart_assets, *scoring_assets, *playbook_month_end_assets,
              watch_list_weekly, *report_assets, *weekly_report_assets]
DAILY_KEYS = [*DAILY_RAW_KEYS, *DAILY_STAGED_KEYS, ARRIVALS_KEY]
MONTH_END_KEYS = [*MONTH_END_RAW_KEYS, *MONTH_END_STAGED_KEYS, *MART_KEYS, *SCORING_KEYS, *PLAYBOOK_KEYS]
__all__ = ["DAILY_KEYS", "MONTH_END_KEYS", "REPORT_KEYS", "WEEKLY_KEYS", "WEEKLY_REPORT_KEYS", "all_assets"]
