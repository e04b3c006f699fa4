"""One report to render and its outcome: the job type shared by every rendering backend.

:class:`RenderJob` is what a report asset hands to a backend, :class:`JobResult` what comes back, and
:func:`run_safely` renders one job in the current process, returning a failure as a result. The local
process pool (:mod:`crm.reports.pool`) and the Celery render workers (:mod:`crm.reports.celery_render`) both
run jobs through :func:`run_safely`; neither imports the other's module for it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm.atomic import write_bytes as write_atomically
from crm.reports.fmt import DEFAULT_LOCALE

log = logging.getLogger(__name__)

# a batch of at least this many jobs shows a progress bar when stderr is a terminal (both backends)
PROGRESS_MIN_JOBS = 20


@dataclass(frozen=True)
class RenderJob:
    """One report to render. ``context`` is the template context, or a picklable callable (a module-level
    function or ``functools.partial``) that builds it inside the worker: lets the workers also share the
    work of reading the warehouse. At least one of ``html_path`` and ``pdf_path`` must be set."""

    job_id: str
    report: str
    context: Mapping[str, Any] | Callable[[], Mapping[str, Any]]
    locale: str = DEFAULT_LOCALE
    html_path: Path | None = None
    pdf_path: Path | None = None


@dataclass
class JobResult:
    job_id: str
    ok: bool
    html_path: Path | None = None
    pdf_path: Path | None = None
    pages: int = 0
    html_bytes: int = 0
    pdf_bytes: int = 0
    seconds: float = 0.0
    error: str | None = None
    worker_pid: int | None = field(default=None, repr=False)
    worker_peak_rss_kib: int = field(default=0, repr=False)  # the rendering process's peak RSS so far
    worker: str | None = field(default=None, repr=False)  # the Celery worker's name (celery backend only)


def render_job(job: RenderJob) -> JobResult:
    """Render one job in this process and write its files. Raises on failure (:func:`run_safely` catches
    it)."""
    from crm.reports.render import render_html, render_pdf_document

    if job.html_path is None and job.pdf_path is None:
        raise ValueError(f"job {job.job_id}: neither html_path nor pdf_path is set")
    start = time.perf_counter()
    context = job.context() if callable(job.context) else job.context
    html = render_html(job.report, context, job.locale)
    pdf = render_pdf_document(html) if job.pdf_path else None
    result = JobResult(job.job_id, True, pages=pdf.pages if pdf else 0, worker_pid=os.getpid())
    if job.html_path:
        data = html.encode("utf-8")
        write_atomically(Path(job.html_path), data)
        result.html_path, result.html_bytes = Path(job.html_path), len(data)
    if pdf is not None:
        write_atomically(Path(job.pdf_path), pdf.data)
        result.pdf_path, result.pdf_bytes = Path(job.pdf_path), len(pdf.data)
    result.seconds = time.perf_counter() - start
    result.worker_peak_rss_kib = _peak_rss_kib()
    return result


def _peak_rss_kib() -> int:
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return 0
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def error_text(exc: BaseException) -> str:
    """How a failure reads in :attr:`JobResult.error`: ``"<type>: <message>"``."""
    return f"{type(exc).__name__}: {exc}"


def run_safely(job: RenderJob) -> JobResult:
    """:func:`render_job`, with a failure returned as a result (no exception crosses the process boundary:
    some exception types cannot be unpickled in the parent, which would break the pool)."""
    try:
        return render_job(job)
    except Exception as e:
        log.warning("report job %s failed", job.job_id, exc_info=True)
        return JobResult(job.job_id, False, error=error_text(e), worker_pid=os.getpid())
