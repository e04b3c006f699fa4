"""Render many reports in recycled worker processes.

:func:`render_many` runs :class:`~crm.reports.job.RenderJob` s in a ``ProcessPoolExecutor``: each worker is
started once (``forkserver`` on POSIX, else ``spawn``; ``fork`` is not allowed with ``max_tasks_per_child``),
warmed up once by :func:`crm.reports.render.warm_up` (WeasyPrint, Pango, the CJK font in the process's
``FontConfiguration``), and replaced after ``max_tasks_per_child`` jobs, because WeasyPrint's memory grows
with every document a process renders.

CPython 3.11-3.13 have a bug in that recycling (python/cpython#115634, fixed upstream in late 2025 and not
in 3.11): when a worker exits at its task limit while jobs are queued, the pool may not start a
replacement, and the remaining jobs wait forever. :class:`_RecyclingPool` applies the upstream fix: a
worker that exits is always replaced while the pool is below ``max_workers``.

Each job writes its HTML and PDF atomically (a temporary file in the target folder, then ``os.replace``),
so a reader never sees half a file and a failed job leaves no file behind. A job that raises is reported
in its :class:`~crm.reports.job.JobResult` (``ok=False``, ``error``) and the others go on. A worker that
dies (e.g. killed for memory) breaks the pool: the jobs still in flight are then reported as failed with
that error.

``CRM_RENDER_BACKEND=celery`` (or ``backend="celery"``) sends the jobs to Celery render workers instead
(:mod:`crm.reports.celery_render`), with the same results.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any

from crm.reports.job import PROGRESS_MIN_JOBS, JobResult, RenderJob, error_text, run_safely

_log = logging.getLogger(__name__)

DEFAULT_TASKS_PER_CHILD = 50
BACKEND_ENV = "CRM_RENDER_BACKEND"
BACKENDS = ("local", "celery")


def _worker_init() -> None:
    from crm.reports.render import warm_up

    warm_up()


class _RecyclingPool(ProcessPoolExecutor):
    """``ProcessPoolExecutor`` with the fix for python/cpython#115634: when a worker exits at its
    ``max_tasks_per_child`` limit, the manager thread replaces it without consulting the idle-worker
    semaphore (whose tokens can be stale). Python versions that carry the fix no longer call
    ``_adjust_process_count`` from the manager thread, so there this override changes nothing."""

    def _adjust_process_count(self) -> None:
        manager = getattr(self, "_executor_manager_thread", None)
        if manager is not None and threading.current_thread() is manager:
            if len(self._processes) < self._max_workers:
                self._spawn_process()
            return
        super()._adjust_process_count()


def default_workers() -> int:
    return os.cpu_count() or 1


def _context(start_method: str | None) -> mp.context.BaseContext:
    if start_method is None:
        start_method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    if start_method == "fork":
        raise ValueError("the 'fork' start method cannot recycle workers; use 'forkserver' or 'spawn'")
    return mp.get_context(start_method)


def render_many(
    jobs: Iterable[RenderJob],
    *,
    workers: int | None = None,
    max_tasks_per_child: int = DEFAULT_TASKS_PER_CHILD,
    start_method: str | None = None,
    progress: bool | None = None,
    desc: str = "reports",
    backend: str | None = None,
) -> list[JobResult]:
    """Render ``jobs`` in ``workers`` processes (default ``os.cpu_count()``); results in job order.

    ``workers=0`` renders in this process (no pool; for debugging and tiny batches). ``progress``: a tqdm
    bar on stderr; ``None`` shows it for batches of at least 20 jobs when stderr is a terminal. Job ids
    must be unique. ``backend``: ``local`` (this pool) or ``celery`` (the render workers of
    :mod:`crm.reports.celery_render`, which own their process count and recycling: ``workers``,
    ``max_tasks_per_child`` and ``start_method`` do not apply); default ``CRM_RENDER_BACKEND``, else
    ``local``. ``workers=0`` always renders here, and so does a daemonic process (a step on a Celery worker,
    which may not start processes), with a warning."""
    backend = backend or os.environ.get(BACKEND_ENV) or "local"
    if backend not in BACKENDS:
        raise ValueError(f"{BACKEND_ENV} must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "celery" and workers != 0:
        from crm.reports.celery_render import render_many_celery

        return render_many_celery(jobs, progress=progress, desc=desc)
    jobs = list(jobs)
    ids = [j.job_id for j in jobs]
    if len(set(ids)) != len(ids):
        raise ValueError("job ids must be unique")
    if workers is None:
        workers = default_workers()
    if workers and mp.current_process().daemon:
        # a daemonic process (a Celery worker's child running a step with CRM_EXECUTOR=celery, a pool worker)
        # may not start processes: render here, one job after the other
        _log.warning(
            "rendering %d reports in this process: a daemonic process cannot start a render pool "
            "(CRM_RENDER_BACKEND=celery renders them on the render workers instead)",
            len(jobs),
        )
        workers = 0
    if not jobs:
        return []
    show = (len(jobs) >= PROGRESS_MIN_JOBS and sys.stderr.isatty()) if progress is None else progress
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc=desc, unit="report", file=sys.stderr, disable=not show)
    results: dict[str, JobResult] = {}
    try:
        if workers == 0:
            for job in jobs:
                results[job.job_id] = run_safely(job)
                bar.update()
        else:
            with _RecyclingPool(
                max_workers=min(workers, len(jobs)),
                mp_context=_context(start_method),
                initializer=_worker_init,
                max_tasks_per_child=max_tasks_per_child,
            ) as pool:
                futures: dict[Future, RenderJob] = {pool.submit(run_safely, job): job for job in jobs}
                for fut in as_completed(futures):
                    job = futures[fut]
                    results[job.job_id] = _outcome(job, fut)
                    bar.update()
    finally:
        bar.close()
    return [results[i] for i in ids]


def _outcome(job: RenderJob, fut: Future) -> JobResult:
    exc = fut.exception()  # only pool failures (a worker died, the initialiser failed): jobs never raise
    if exc is not None:
        return JobResult(job.job_id, False, error=error_text(exc))
    return fut.result()


def summary(results: Sequence[JobResult]) -> dict[str, Any]:
    """Totals of a batch: jobs, failed, pages, PDF bytes, render seconds (sum over jobs)."""
    ok = [r for r in results if r.ok]
    return {
        "jobs": len(results),
        "failed": len(results) - len(ok),
        "pages": sum(r.pages for r in ok),
        "pdf_bytes": sum(r.pdf_bytes for r in ok),
        "seconds": sum(r.seconds for r in ok),
    }
