"""A second entry point whose daily pipeline runs its steps on Celery workers (``orchestration.celery``).

Same assets and resources as ``orchestration.definitions``; one job, ``daily_pipeline``, executed by
dagster-celery. Load it on its own (``dagster dev -m orchestration.celery_defs`` or a code server for this
module), not next to ``orchestration.definitions`` in one workspace: both hold the same assets. Run a date
with ``dagster job execute -m orchestration.celery_defs -j daily_pipeline --tags
'{"dagster/partition": "2026-01-30"}'`` once workers are up (docs/operations.md).
"""

from __future__ import annotations

import dagster as dg

from assets import DAILY_KEYS, all_assets
from crm.privacy.logfilter import install as install_log_redaction
from orchestration.celery import crm_celery_executor
from orchestration.jobs import DAILY_JOB
from orchestration.resources import resources_for

install_log_redaction()

daily_celery_job = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.assets(*DAILY_KEYS),
    description="Everything built per business date from the daily extracts; each step a Celery task.",
    executor_def=crm_celery_executor(),
)

defs = dg.Definitions(assets=all_assets, jobs=[daily_celery_job], resources=resources_for())


def celery_daily_pipeline() -> dg.JobDefinition:
    """The Celery-executed daily job (a module-level function, so ``dg.reconstructable`` can point at it)."""
    return defs.resolve_job_def(DAILY_JOB)
