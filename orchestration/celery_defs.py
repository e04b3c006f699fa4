"""A second entry point whose data pipeline runs its steps on Celery workers (``orchestration.celery``).

Same assets and resources as ``orchestration.definitions``; the two jobs ``crm run`` runs for a business date,
``daily_pipeline`` (daily partitions) and then ``month_end_pipeline`` (monthly partitions, for a month whose
last day is in the range), with the same selections as ``orchestration.jobs``, executed by dagster-celery.
Load it on its own (``dagster dev -m orchestration.celery_defs`` or a code server for this module), not next
to ``orchestration.definitions`` in one workspace: both hold the same assets. Once workers are up
(docs/operations.md) run a date, then its month::

    dagster job execute -m orchestration.celery_defs -j daily_pipeline --tags '{"dagster/partition": "2026-01-31"}'
    dagster job execute -m orchestration.celery_defs -j month_end_pipeline --tags '{"dagster/partition": "2026-01-01"}'
"""

from __future__ import annotations

import dagster as dg

from assets import DAILY_KEYS, MONTH_END_KEYS, all_assets
from crm.privacy.logfilter import install as install_log_redaction
from orchestration.celery import crm_celery_executor
from orchestration.jobs import DAILY_JOB, MONTH_END_JOB
from orchestration.resources import resources_for

install_log_redaction()

daily_celery_job = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.assets(*DAILY_KEYS),
    description="Everything built per business date from the daily extracts; each step a Celery task.",
    executor_def=crm_celery_executor(),
)
month_end_celery_job = dg.define_asset_job(
    MONTH_END_JOB,
    selection=dg.AssetSelection.assets(*MONTH_END_KEYS),
    description="Everything built per month from the month-end extracts (loan performance, financial "
    "statements); each step a Celery task.",
    executor_def=crm_celery_executor(),
)

defs = dg.Definitions(assets=all_assets, jobs=[daily_celery_job, month_end_celery_job], resources=resources_for())


def celery_daily_pipeline() -> dg.JobDefinition:
    """The Celery-executed daily job (a module-level function, so ``dg.reconstructable`` can point at it)."""
    return defs.resolve_job_def(DAILY_JOB)


def celery_month_end_pipeline() -> dg.JobDefinition:
    """The Celery-executed month-end job (module-level, for ``dg.reconstructable``)."""
    return defs.resolve_job_def(MONTH_END_JOB)
