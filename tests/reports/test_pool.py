from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest

from crm.atomic import write_bytes as write_atomically
from crm.reports.job import RenderJob
from crm.reports.pool import render_many, summary


def _with_timeout(fn, seconds: float):
    """Run ``fn`` in a thread: a hung pool fails the test instead of hanging the suite."""
    with ThreadPoolExecutor(1) as ex:
        return ex.submit(fn).result(timeout=seconds)


def test_pool_renders_recycles_and_reports_failures(tmp_path, empty_dq_context):
    jobs = [
        RenderJob(
            f"j{i}",
            "dq_report",
            empty_dq_context,
            "zh_CN" if i % 2 else "en",
            tmp_path / "out" / f"r{i}.html",
            tmp_path / "out" / f"r{i}.pdf",
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
            tmp_path / "out" / "broken.html",
            tmp_path / "out" / "broken.pdf",
        ),
    )
    # two workers, each replaced after two jobs while jobs are queued (python/cpython#115634 would hang here)
    results = _with_timeout(lambda: render_many(jobs, workers=2, max_tasks_per_child=2, progress=False), 240)
    assert [r.job_id for r in results] == [j.job_id for j in jobs]
    bad = [r for r in results if not r.ok]
    assert [r.job_id for r in bad] == ["broken"] and bad[0].error == "KeyError: 'files'"
    for r in results:
        if r.ok:
            assert r.pdf_path.read_bytes()[:5] == b"%PDF-" and r.pages >= 1 and r.pdf_bytes > 1000
            assert r.html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not (tmp_path / "out" / "broken.pdf").exists() and not (tmp_path / "out" / "broken.html").exists()
    assert not list((tmp_path / "out").glob(".*"))  # no temporary file left
    assert len({r.worker_pid for r in results}) >= 3  # workers were recycled
    s = summary(results)
    assert (s["jobs"], s["failed"]) == (7, 1) and s["pages"] >= 6


def test_inline_mode_and_validation(tmp_path, empty_dq_context):
    job = RenderJob("only-html", "dq_report", empty_dq_context, "en", html_path=tmp_path / "a.html")
    (r,) = render_many([job], workers=0)
    assert r.ok and r.pages == 0 and r.pdf_path is None and r.html_bytes == (tmp_path / "a.html").stat().st_size
    (r,) = render_many([RenderJob("nothing", "dq_report", empty_dq_context)], workers=0)
    assert not r.ok and "neither html_path nor pdf_path" in r.error
    with pytest.raises(ValueError, match="unique"):
        render_many([job, job], workers=0)
    with pytest.raises(ValueError, match="fork"):
        render_many([job], workers=1, start_method="fork")


def test_write_atomically_leaves_nothing_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "x.pdf"
    write_atomically(target, b"old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("crm.atomic.os.replace", boom)
    with pytest.raises(OSError):
        write_atomically(target, b"new")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["x.pdf"]


def _render_in(queue, jobs) -> None:
    try:
        queue.put([(r.job_id, r.ok, r.error) for r in render_many(jobs, workers=2, progress=False)])
    except BaseException as e:  # noqa: BLE001  (reported to the test, which fails on it)
        queue.put(repr(e))


def test_a_daemonic_process_renders_in_itself(tmp_path, empty_dq_context):
    """A step on a Celery worker runs in a daemonic process, which may not start a render pool: the reports are
    rendered in that process instead of failing with 'daemonic processes are not allowed to have children'."""
    import multiprocessing as mp

    jobs = [RenderJob(f"d{i}", "dq_report", empty_dq_context, "en", html_path=tmp_path / f"d{i}.html") for i in (1, 2)]
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_render_in, args=(queue, jobs), daemon=True)
    child.start()
    got = queue.get(timeout=120)
    child.join(30)
    assert got == [("d1", True, None), ("d2", True, None)], got
    assert all((tmp_path / f"d{i}.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>") for i in (1, 2))
