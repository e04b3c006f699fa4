"""The Dagster package, in layers (each imports only the layers below it; checked by import-linter):

- top: :mod:`~orchestration.runner` (runs jobs for ``crm run``), :mod:`~orchestration.definitions` (the one
  entry point; chooses the executor from ``CRM_EXECUTOR``), then the sensors (:mod:`~orchestration.sensors`,
  :mod:`~orchestration.alerts`) and the retention job (:mod:`~orchestration.retention`), then the asset jobs
  and their schedules (:mod:`~orchestration.jobs`, selecting assets by their ``crm/cadence`` tag);
- middle: the asset modules (:mod:`assets`);
- bottom: :mod:`~orchestration.resources`, :mod:`~orchestration.partitions` and the Celery executor's
  settings (:mod:`~orchestration.celery`).
"""
