"""Reports rendered on two real Celery render workers (``crm render-worker``, RabbitMQ on 127.0.0.1:5672),
chosen through ``CRM_RENDER_BACKEND=celery``: every good job is rendered, by both workers, and a broken job is
reported failed without stopping the others.

The workers listen on a queue of this test's own (stale tasks of other runs are never picked up), the queue is
deleted afterwards, and the workers are stopped with their children in teardown. No broker: the test fails.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from crm.reports.job import RenderJob
from crm.reports.pool import render_many, summary

WORKERS = 2


def _require_rabbitmq() -> None:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=3).close()
    except OSError as e:  # fail, never skip: the suite's contract is that the broker is there
        pytest.fail(f"RabbitMQ is not reachable at 127.0.0.1:5672 ({e}); start it: bash scripts/dev.sh services")


@pytest.fixture
def render_workers(tmp_path, monkeypatch):
    """Two ``crm render-worker`` processes, concurrency 1 each, on a queue of this test's own."""
    _require_rabbitmq()
    from crm.reports.celery_render import delete_queue, start_worker, stop_worker, wait_for_workers

    queue = f"crm-render-test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("CRM_RENDER_BACKEND", "celery")
    monkeypatch.setenv("CRM_RENDER_QUEUE", queue)
    monkeypatch.setenv("CRM_RENDER_IDLE_TIMEOUT", "90")  # a lost worker fails the jobs, never hangs the suite
    # Celery refuses pickle in a worker running as root unless told to (the sandbox runs tests as root)
    env = {"C_FORCE_ROOT": "1"} if os.geteuid() == 0 else {}
    logs = [tmp_path / f"worker{i}.log" for i in range(WORKERS)]
    procs = [start_worker(f"rt{i}-{queue}@%h", queue, logs[i], env=env) for i in range(WORKERS)]
    try:
        try:
            names = wait_for_workers(queue, WORKERS, timeout=60, procs=procs)
        except (TimeoutError, RuntimeError) as e:
            tails = "\n".join(f"--- {p.name}\n" + "\n".join(p.read_text().splitlines()[-15:]) for p in logs)
            pytest.fail(f"{e}\n{tails}")
        yield names
    finally:
        for p in procs:
            stop_worker(p)
        delete_queue(queue)


def test_reports_render_on_two_celery_workers(tmp_path, empty_dq_context, render_workers):
    out = tmp_path / "out"
    jobs = [
        RenderJob(
            f"j{i}", "dq_report", empty_dq_context, "zh_CN" if i % 2 else "en", out / f"r{i}.html", out / f"r{i}.pdf"
        )
        for i in range(6)
    ]
    # a broken job in the middle: its context lacks what the report needs (dq_charts.prepare reads ctx["files"])
    jobs.insert(
        3,
        RenderJob(
            "broken",
            "dq_report",
            {"generated_at": dt.datetime(2026, 11, 2)},
            "zh_CN",
            out / "broken.html",
            out / "broken.pdf",
        ),
    )
    with ThreadPoolExecutor(1) as ex:  # workers=4 is ignored by the celery backend
        results = ex.submit(render_many, jobs, workers=4, progress=False).result(timeout=180)

    assert [r.job_id for r in results] == [j.job_id for j in jobs]
    bad = [r for r in results if not r.ok]
    assert [r.job_id for r in bad] == ["broken"] and bad[0].error == "KeyError: 'files'"
    assert not (out / "broken.pdf").exists() and not (out / "broken.html").exists()
    for r in results:
        if not r.ok:
            continue
        info = subprocess.run(["pdfinfo", str(r.pdf_path)], capture_output=True, text=True, check=True).stdout
        pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
        assert pages == r.pages >= 1 and r.pdf_bytes == r.pdf_path.stat().st_size
        assert r.html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list(out.glob(".*"))  # no temporary file left
    assert {r.worker for r in results if r.ok} == set(render_workers)  # both workers rendered
    s = summary(results)
    assert (s["jobs"], s["failed"]) == (7, 1) and s["pages"] >= 6

    # the render workers answer control messages in JSON: a JSON-only client on the broker (a dagster-celery
    # worker's mingle, an operator's `celery inspect`) reads their replies
    from celery import Celery

    from crm.reports.celery_render import app as render_app

    client = Celery("json-only", broker=render_app.conf.broker_url)
    client.conf.update(accept_content=["json"], task_serializer="json", result_serializer="json")
    replies = client.control.ping(destination=list(render_workers), timeout=5.0)
    assert sorted(name for r in replies for name in r) == sorted(render_workers)


def test_render_backend_selection_and_lazy_imports(monkeypatch):
    from crm.reports import celery_render
    from orchestration import celery as dagster_celery_settings

    # the render app uses dagster-celery's broker settings
    assert (celery_render.BROKER_ENV, celery_render.LOCAL_BROKER) == (
        dagster_celery_settings.BROKER_ENV,
        dagster_celery_settings.LOCAL_BROKER,
    )
    assert (celery_render.BACKEND_ENV, celery_render.LOCAL_BACKEND) == (
        dagster_celery_settings.BACKEND_ENV,
        dagster_celery_settings.LOCAL_BACKEND,
    )
    assert set(celery_render.app.conf.accept_content) == {"pickle", "json"}
    monkeypatch.setenv("CRM_RENDER_BACKEND", "threads")
    with pytest.raises(ValueError, match="CRM_RENDER_BACKEND"):
        render_many([])
    code = (
        "import sys, orchestration.definitions, crm.reports.pool; "
        "print(','.join(m for m in ('celery', 'crm.reports.celery_render', 'weasyprint') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
