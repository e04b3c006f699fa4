"""Render reports on Celery workers: the ``celery`` backend of :func:`crm.reports.pool.render_many`.

``CRM_RENDER_BACKEND=celery`` makes ``render_many`` send every :class:`~crm.reports.job.RenderJob` as one
task to the queue ``CRM_RENDER_QUEUE`` (default ``crm-render``) and gather the :class:`JobResult` s over the
result backend; the default backend (``local``) stays the process pool. Workers, on any host:

    crm render-worker -c 1 -n render1          # = celery -A crm.reports.celery_render worker -Q crm-render -c 1

Broker and result backend are dagster-celery's (``orchestration/celery.py``): ``CRM_CELERY_BROKER`` (default
the local RabbitMQ ``pyamqp://guest@127.0.0.1:5672//``) and ``CRM_CELERY_BACKEND`` (default ``rpc://``:
results return over the broker to the process that sent the jobs).

- **Trust**: a job holds callables (context factories, ``functools.partial``) and ``Path`` s, so tasks and
  results travel as pickle; the app accepts pickle and JSON only. Whoever can publish to the broker can run
  code in the workers: the broker (its vhost, user and network) must be private to this deployment, the
  same trust boundary as dagster-celery's step workers.
- **Files**: a worker writes the HTML and PDF to the paths in the job, atomically, as the pool does; the
  paths must name the same shared storage (``CRM_HOME`` at the same path) on every host.
- **Workers**: each prefork child warms WeasyPrint once (``worker_process_init``) and is replaced after
  ``CRM_RENDER_MAX_TASKS_PER_CHILD`` (default 50) jobs, because WeasyPrint's memory grows per process.
  One job is prefetched per child, so several workers share a batch evenly.
- **Failures**: a job that raises comes back ``ok=False`` with its error, and the others go on. A child
  that dies (OOM kill) fails the job it held (``WorkerLostError``; tasks are acknowledged on receipt, so a
  job that kills its worker is not redelivered forever). When no job has finished for
  ``CRM_RENDER_IDLE_TIMEOUT`` seconds (default 600; no worker listening, workers stuck) the jobs still out
  are revoked and reported failed.

Importing this module imports Celery (not WeasyPrint); ``crm.reports.pool`` imports it only when the celery
backend is chosen, so the Dagster definitions load neither.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from celery import Celery
from celery.result import ResultSet
from celery.signals import worker_process_init

from crm.reports.job import PROGRESS_MIN_JOBS, JobResult, RenderJob, error_text, run_safely

log = logging.getLogger(__name__)

# the same settings and defaults as dagster-celery's executor (orchestration/celery.py; crm/ imports no Dagster)
BROKER_ENV, LOCAL_BROKER = "CRM_CELERY_BROKER", "pyamqp://guest@127.0.0.1:5672//"
BACKEND_ENV, LOCAL_BACKEND = "CRM_CELERY_BACKEND", "rpc://"
QUEUE_ENV, DEFAULT_QUEUE = "CRM_RENDER_QUEUE", "crm-render"
TASKS_PER_CHILD_ENV = "CRM_RENDER_MAX_TASKS_PER_CHILD"
IDLE_TIMEOUT_ENV, DEFAULT_IDLE_TIMEOUT = "CRM_RENDER_IDLE_TIMEOUT", 600.0
TASK_NAME = "crm.render_report"


def render_queue() -> str:
    """The queue render jobs go to: ``CRM_RENDER_QUEUE``, default ``crm-render``."""
    return os.environ.get(QUEUE_ENV) or DEFAULT_QUEUE


def make_app() -> Celery:
    """The rendering app, configured from the environment when this module is imported (worker and sender)."""
    app = Celery(
        "crm_render",
        broker=os.environ.get(BROKER_ENV) or LOCAL_BROKER,
        backend=os.environ.get(BACKEND_ENV) or LOCAL_BACKEND,
    )
    app.conf.update(
        # render tasks are sent as pickle one by one (render_many_celery); the app's own serializer stays JSON
        # because Celery also uses it for control replies and mingle (a dagster-celery worker on the same
        # broker accepts JSON only and stopped on a pickled reply)
        task_serializer="json",
        result_serializer="pickle",
        accept_content=["pickle", "json"],
        task_default_queue=render_queue(),
        task_acks_late=False,  # acknowledged on receipt: a job that kills its worker fails once, not forever
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=int(os.environ.get(TASKS_PER_CHILD_ENV) or 50),
        worker_proc_alive_timeout=120,  # a new child warms WeasyPrint before it reports up (default 4 s)
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )
    return app


app = make_app()


@worker_process_init.connect
def _warm_up(**_kwargs) -> None:
    from crm.reports.render import warm_up

    # WeasyPrint logs each layout step (INFO) and each SVG style it ignores (WARNING); its own NullHandler
    # keeps that out of the pool's output, and here out of the worker's log (a failed job is logged anyway)
    logging.getLogger("weasyprint").propagate = False
    warm_up()


def listening_workers(queue: str, timeout: float = 2.0) -> list[str]:
    """Names of the workers that answer within ``timeout`` and consume ``queue``."""
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    return sorted(name for name, queues in replies.items() if any(q.get("name") == queue for q in queues))


@app.task(name=TASK_NAME, bind=True)
def render_report(self, job: RenderJob) -> JobResult:
    """Render one job in this worker process (:func:`crm.reports.job.run_safely`); never raises."""
    result = run_safely(job)
    result.worker = self.request.hostname
    return result


class _Idle(Exception):
    pass


def render_many_celery(
    jobs: Iterable[RenderJob],
    *,
    progress: bool | None = None,
    desc: str = "reports",
    queue: str | None = None,
    idle_timeout: float | None = None,
) -> list[JobResult]:
    """Send ``jobs`` to the render workers and gather their results, in job order (the contract of
    :func:`crm.reports.pool.render_many`). ``queue``: default :func:`render_queue`; ``idle_timeout``: default
    ``CRM_RENDER_IDLE_TIMEOUT`` or 600 s without any job finishing."""
    jobs = list(jobs)
    ids = [j.job_id for j in jobs]
    if len(set(ids)) != len(ids):
        raise ValueError("job ids must be unique")
    if not jobs:
        return []
    queue = queue or render_queue()
    if idle_timeout is None:
        idle_timeout = float(os.environ.get(IDLE_TIMEOUT_ENV) or DEFAULT_IDLE_TIMEOUT)
    show = (len(jobs) >= PROGRESS_MIN_JOBS and sys.stderr.isatty()) if progress is None else progress
    from tqdm import tqdm

    workers = listening_workers(queue)
    if workers:
        log.info(
            "sending %d %s to the Celery queue %s (%d workers: %s)",
            len(jobs),
            desc,
            queue,
            len(workers),
            ", ".join(workers),
        )
    else:
        log.warning(
            "sending %d %s to the Celery queue %s, on which no worker answered: they wait for one "
            "(crm render-worker) for up to %.0f s",
            len(jobs),
            desc,
            queue,
            idle_timeout,
        )
    start = time.monotonic()
    sent_results = [render_report.apply_async((job,), queue=queue, serializer="pickle") for job in jobs]
    sent = {r.id: job for r, job in zip(sent_results, jobs, strict=True)}
    results: dict[str, JobResult] = {}
    last = [time.monotonic()]

    def check_idle() -> None:
        if time.monotonic() - last[0] > idle_timeout:
            raise _Idle

    bar = tqdm(total=len(jobs), desc=desc, unit="report", file=sys.stderr, disable=not show)
    try:
        for task_id, meta in ResultSet(sent_results, app=app).iter_native(interval=1.0, on_interval=check_idle):
            job = sent[task_id]
            value = meta.get("result")
            if meta.get("status") == "SUCCESS" and isinstance(value, JobResult):
                results[job.job_id] = value
            else:  # the task itself failed: worker lost, time limit, a job that could not be unpickled
                error = error_text(value) if isinstance(value, BaseException) else f"{meta.get('status')}: {value!r}"
                results[job.job_id] = JobResult(job.job_id, False, error=error)
            if not results[job.job_id].ok:
                log.warning("report job %s failed: %s", job.job_id, results[job.job_id].error)
            last[0] = time.monotonic()
            bar.update()
    except _Idle:
        missing = [task_id for task_id, job in sent.items() if job.job_id not in results]
        app.control.revoke(missing)
        error = (
            f"TimeoutError: no render job finished for {idle_timeout:.0f} s (is a worker listening on queue {queue!r}?)"
        )
        log.error("%d of %d %s not rendered: %s", len(missing), len(jobs), desc, error)
        for task_id in missing:
            results[sent[task_id].job_id] = JobResult(sent[task_id].job_id, False, error=error)
    finally:
        bar.close()
    failed = sum(1 for r in results.values() if not r.ok)
    log.info(
        "%d %s rendered on Celery in %.1f s, %d failed", len(jobs) - failed, desc, time.monotonic() - start, failed
    )
    return [results[i] for i in ids]


# ------------------------------------------------------------- worker processes (tests and benchmarks)
def start_worker(
    name: str, queue: str, log_path: Path, *, concurrency: int = 1, env: Mapping[str, str] | None = None
) -> subprocess.Popen:
    """Start ``crm render-worker`` in a session of its own (so that it and its children stop together),
    logging to ``log_path``. ``env``: variables added to this process's environment."""
    crm = Path(sys.executable).parent / "crm"
    with Path(log_path).open("w") as out:
        return subprocess.Popen(
            [str(crm), "render-worker", "-n", name, "-Q", queue, "-c", str(concurrency), "-l", "INFO"],
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_worker(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the worker's session (warm shutdown), SIGKILL what is left after ``timeout`` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        try:
            while time.monotonic() < deadline:  # the prefork children may outlive the main process briefly
                proc.poll()
                os.killpg(proc.pid, 0)
                time.sleep(0.2)
        except ProcessLookupError:
            return


def wait_for_workers(queue: str, count: int, timeout: float = 90, procs: Iterable[subprocess.Popen] = ()) -> list[str]:
    """Wait until ``count`` workers consume ``queue``; their names. Raises ``TimeoutError`` (or
    ``RuntimeError`` when one of ``procs`` exits first)."""
    deadline = time.monotonic() + timeout
    names: list[str] = []
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"render worker {p.args} exited with code {p.returncode}")
        names = listening_workers(queue, timeout=1.0)
        if len(names) >= count:
            return names
        time.sleep(0.5)
    raise TimeoutError(f"{count} workers on queue {queue!r} expected within {timeout:.0f} s; answering: {names}")


def delete_queue(queue: str) -> int:
    """Delete ``queue`` from the broker (a test's or benchmark's own); the number of messages it held."""
    with app.connection_for_write() as conn:
        return int(conn.default_channel.queue_delete(queue) or 0)
