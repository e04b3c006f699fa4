"""Distributed step execution with dagster-celery: the executor's settings, shared by runs and workers.

With ``CRM_EXECUTOR=celery`` (:func:`orchestration.definitions.executor`) a run keeps its orchestration in
the run process and sends each step as a Celery task to the broker; worker processes started with
``dagster-celery worker start -A dagster_celery.app -y <worker config>`` take the tasks and run the steps.
Run and workers must name the same broker and result backend: :func:`celery_executor_config` builds the
executor's config and :func:`worker_config` the file the workers read (the same block under
``execution.config``).

Broker and backend come from ``CRM_CELERY_BROKER`` and ``CRM_CELERY_BACKEND`` when set (as
``{env: ...}`` references, so a broker password is never written into run config or shown in the UI), else
the local RabbitMQ (``pyamqp://guest@127.0.0.1:5672//``) and Celery's ``rpc://`` result backend (results
return over the broker to the run that sent the task; no other service, no extra package).

What a worker needs: this project installed (it imports the job by module path), the same ``CRM_*``
environment as the run (the resources read it when the definitions load), the Dagster instance's storage
reachable at the same address (steps write their events to it directly) and ``CRM_HOME`` at the same path
(shared storage across hosts). A DuckDB warehouse takes one writer at a time: steps on different workers
wait for each other's transactions (``crm.warehouse.begin`` retries while the file is locked); production
uses PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

LOCAL_BROKER = "pyamqp://guest@127.0.0.1:5672//"
LOCAL_BACKEND = "rpc://"
BROKER_ENV = "CRM_CELERY_BROKER"
BACKEND_ENV = "CRM_CELERY_BACKEND"
QUEUE_ENV = "CRM_CELERY_QUEUE"
DEFAULT_QUEUE = "dagster"  # dagster-celery's own default

Source = str | Mapping[str, str]  # a value, or {"env": "NAME"} read where the config is processed


def _from_env(name: str, default: str) -> Source:
    return {"env": name} if os.environ.get(name) else default


def celery_executor_config(
    broker: Source | None = None,
    backend: Source | None = None,
    *,
    include: Iterable[str] = (),
    config_source: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Config for ``dagster_celery.celery_executor``. ``broker``/``backend``: a URL or ``{"env": NAME}``;
    None takes ``CRM_CELERY_BROKER``/``CRM_CELERY_BACKEND`` when set, else the local RabbitMQ and ``rpc://``.
    ``include``: modules every worker imports; ``config_source``: further Celery settings (lowercase names);
    ``task_default_queue`` is set from :func:`task_queue` unless given or ``dagster``."""
    config: dict[str, Any] = {
        "broker": broker if broker is not None else _from_env(BROKER_ENV, LOCAL_BROKER),
        "backend": backend if backend is not None else _from_env(BACKEND_ENV, LOCAL_BACKEND),
    }
    if include:
        config["include"] = list(include)
    settings = dict(config_source or {})
    queue = task_queue()
    if queue != DEFAULT_QUEUE:
        settings.setdefault("task_default_queue", queue)
    if settings:
        config["config_source"] = settings
    return config


def task_queue() -> str:
    """The queue steps are sent to: ``CRM_CELERY_QUEUE`` (a name, not a secret), default ``dagster``. Workers
    listen on it with ``-q NAME``; a separate queue keeps one environment's steps from another's workers on a
    shared broker."""
    return os.environ.get(QUEUE_ENV) or DEFAULT_QUEUE


def crm_celery_executor(broker: Source | None = None, backend: Source | None = None) -> dg.ExecutorDefinition:
    """``celery_executor`` configured with :func:`celery_executor_config` (run config cannot change it)."""
    from dagster_celery import celery_executor

    return celery_executor.configured(celery_executor_config(broker, backend), name="crm_celery")


def worker_config(broker: Source | None = None, backend: Source | None = None) -> dict[str, Any]:
    """What ``dagster-celery worker start -y FILE`` reads: the executor's config under ``execution.config``."""
    return {"execution": {"config": celery_executor_config(broker, backend)}}


def write_worker_config(path: Path, broker: Source | None = None, backend: Source | None = None) -> Path:
    """Write :func:`worker_config` as YAML to ``path``; returns the path."""
    path.write_text(yaml.safe_dump(worker_config(broker, backend), sort_keys=False))
    return path
