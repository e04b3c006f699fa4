"""Report rendering throughput: K reports through the worker pool with 1 and with 2 workers.

    .venv/bin/python bench/reports.py [--report dq] [-k 8] [--workers 1,2] [--locale zh_CN]
                                      [--max-tasks-per-child 50] [--out /tmp/crm-bench-reports]
                                      [--backend local|celery]

Prints, per worker count: reports/minute, PDF pages/second, pages per report, and peak RSS of this process,
of the largest rendering worker (measured inside the workers, ``ru_maxrss`` at the end of each job) and of
reaped children (``RUSAGE_CHILDREN``; with the ``forkserver`` start method the workers are children of the
fork server, which lives until this process exits, so that figure mostly misses them). Wall time includes
starting and warming the workers.

``--backend celery`` renders on Celery instead (:mod:`crm.reports.celery_render`, RabbitMQ of
``CRM_CELERY_BROKER``, default the local one): for each worker count it starts that many ``crm render-worker``
processes (concurrency 1 each, on a queue of the benchmark's own, deleted afterwards), waits until they listen,
then times sending the K jobs and gathering the results (the workers are started and warmed before the clock
starts; their start-up is printed apart). Peak RSS per worker is the resident memory of the worker's process
tree (main process and rendering child), sampled every 0.5 s from /proc, and the rendering child's own
``ru_maxrss``.

Reports are pluggable: :data:`REPORTS` maps a name to ``make_jobs(k, out_dir, locale) -> list[RenderJob]``.
``dq`` builds one synthetic month of data-quality evidence in a temporary DuckDB warehouse (17 extracts,
every rule of the catalogue, a few late, missing and rejected files, quarantined rows, purges), reads its
context once with :func:`crm.reports.dq.dq_context` and renders it K times (distinct output files). The
``key_account`` renders the monthly key-account report of K managers (``-k 500`` for a bank's 500
managers) from one synthetic month of marts (:func:`sample_portfolio`: 8 key accounts and 32 customers per
manager, 12 months of scores): the contexts are cut in this process, as ``reports/portfolio`` does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from bench.proc import tree_rss_kib
from crm import warehouse as wh
from crm.reports.job import RenderJob
from crm.reports.pool import render_many, summary

MakeJobs = Callable[[int, Path, str], list[RenderJob]]


# ------------------------------------------------------------------------------- synthetic DQ evidence
def fill_sample_month(conn, month_end: dt.date, seed: int = 7) -> None:
    """Append one plausible month of DQ evidence for every business date up to ``month_end``."""
    from crm.contract import EXTRACTS
    from crm.quality.rules import rule_catalogue

    rng = np.random.default_rng(seed)
    rules = pd.DataFrame(rule_catalogue()).rename(columns={"id": "rule_id"})
    start = month_end.replace(day=1)
    now = dt.datetime(month_end.year, month_end.month, month_end.day, 23, 0)
    suite = "s" + f"{seed:07d}"
    rules_rows = rules.assign(suite_version=suite, recorded_at=now)
    wh.append_frame(conn, wh.dq_rules, rules_rows)
    arrivals, files, outcomes, results, quarantine = [], [], [], [], []
    for i in range((month_end - start).days + 1):
        day = start + dt.timedelta(days=i)
        at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(2, 0)) + dt.timedelta(minutes=i)
        cutoff = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(8, 0))
        for e in EXTRACTS:
            if e.cadence != "daily" and day != month_end:
                continue
            name = f"{e.file_code}_{day:%Y%m%d}_001.dat"
            roll = rng.random()
            status = "missing" if roll < 0.004 else "late" if roll < 0.02 else "on_time"
            arrived = None if status == "missing" else (cutoff + dt.timedelta(hours=3) if status == "late" else at)
            arrivals.append(
                {
                    "business_date": day,
                    "extract": e.name,
                    "expected_by": cutoff,
                    "file_name": None if status == "missing" else name,
                    "arrived_at": arrived,
                    "status": status,
                    "recorded_at": now,
                }
            )
            if status == "missing":
                continue
            n = int(rng.integers(200, 5000))
            if rng.random() < 0.01:
                files.append(
                    {
                        "file_name": name,
                        "extract": e.name,
                        "business_date": day,
                        "sequence": 1,
                        "status": "rejected",
                        "reason": "control_total",
                        "recorded_at": at,
                    }
                )
                name = name.replace("_001.dat", "_002.dat")
            files.append(
                {
                    "file_name": name,
                    "extract": e.name,
                    "business_date": day,
                    "sequence": 1,
                    "records": n,
                    "control_column": "balance",
                    "control_sum": f"{rng.random() * 1e9:.2f}",
                    "status": "accepted",
                    "recorded_at": at,
                }
            )
            ext_rules = rules[rules["extract"] == e.name]
            failed = (rng.random(len(ext_rules)) < 0.05) * rng.integers(1, 12, len(ext_rules))
            results.append(
                pd.DataFrame(
                    {
                        "partition_key": day.isoformat(),
                        "business_date": day,
                        "extract": e.name,
                        "suite_version": suite,
                        "engine": "pandas",
                        "rule_id": ext_rules["rule_id"].to_numpy(),
                        "family": ext_rules["family"].to_numpy(),
                        "severity": ext_rules["severity"].to_numpy(),
                        "success": failed == 0,
                        "evaluated": n,
                        "failed": failed,
                        "recorded_at": now,
                    }
                )
            )
            bad = ext_rules["rule_id"].to_numpy()[(failed > 0) & (ext_rules["severity"].to_numpy() == "critical")]
            q = int(failed[(failed > 0) & (ext_rules["severity"].to_numpy() == "critical")].sum())
            for r in range(q):
                quarantine.append(
                    {
                        "extract": e.name,
                        "business_date": day,
                        "source_file": name,
                        "row_number": r + 1,
                        "rule_ids": str(bad[r % len(bad)]),
                        "recorded_at": now,
                    }
                )
            outcomes.append(
                {
                    "extract": e.name,
                    "business_date": day,
                    "source_file": name,
                    "suite_version": suite,
                    "parsed": n,
                    "accepted": n - q,
                    "quarantined": q,
                    "accepted_with_warnings": 0,
                    "balanced": True,
                    "recorded_at": now,
                }
            )
    purges = [
        {
            "extract": e.name,
            "business_date": start - dt.timedelta(days=400 - k),
            "zone": "raw",
            "file": f"{start - dt.timedelta(days=400 - k):%Y-%m-%d}.parquet",
            "bytes": int(rng.integers(1e5, 5e7)),
            "reason": "raw zone retention: business date before cut-off (400 days)",
            "purged_at": dt.datetime.combine(start + dt.timedelta(days=k), dt.time(3, 0)),
        }
        for k in range(3)
        for e in EXTRACTS
    ]
    wh.append_frame(conn, wh.dq_arrivals, pd.DataFrame(arrivals))
    wh.append_frame(conn, wh.ingest_files, pd.DataFrame(files))
    wh.append_frame(conn, wh.dq_file_outcomes, pd.DataFrame(outcomes))
    wh.append_frame(conn, wh.dq_rule_results, pd.concat(results, ignore_index=True))
    wh.append_frame(conn, wh.dq_quarantine, pd.DataFrame(quarantine))
    wh.append_frame(conn, wh.raw_purges, pd.DataFrame(purges))


def sample_dq_context(month_end: dt.date = dt.date(2026, 10, 31), seed: int = 7) -> dict:
    """The DQ report context of a synthetic month (temporary DuckDB warehouse)."""
    from crm.reports.dq import dq_context
    from crm.reports.leakscan import scan_summary

    with tempfile.TemporaryDirectory() as tmp:
        engine = wh.make_engine(f"duckdb:///{tmp}/wh.duckdb")
        wh.ensure_schema(engine)
        with wh.begin(engine) as conn:
            fill_sample_month(conn, month_end, seed)
        with wh.begin(engine) as conn:
            ctx = dq_context(
                conn,
                month_end,
                policy_version="2026.11-1",
                key_versions=["k1", "k2"],
                leak_scan=scan_summary(48, []),
                generated_at=dt.datetime(month_end.year, month_end.month, month_end.day)
                + dt.timedelta(days=2, hours=8, minutes=30),
            )
        engine.dispose()
    return ctx


def dq_jobs(k: int, out: Path, locale: str) -> list[RenderJob]:
    ctx = sample_dq_context()
    return [
        RenderJob(f"dq-{i:04d}", "dq_report", ctx, locale, out / f"dq-{i:04d}.html", out / f"dq-{i:04d}.pdf")
        for i in range(k)
    ]


# ------------------------------------------------------------------------ key-account report per manager
KEY_ACCOUNTS_PER_MANAGER = 8


def sample_portfolio(managers: int, key_accounts: int = KEY_ACCOUNTS_PER_MANAGER, seed: int = 7):
    """A synthetic month of marts for ``managers`` relationship managers, each with ``4 x key_accounts``
    customers of which ``key_accounts`` are key accounts, 12 months of scores, warnings and suggestions."""
    from crm.reports.data import MonthData

    rng = np.random.default_rng(seed)
    per = 4 * key_accounts
    n = managers * per
    ids = np.array([f"k1.{i:032x}" for i in range(n)])
    mgr = np.repeat([f"S{i:06d}" for i in range(managers)], per)
    key = np.tile(np.arange(per) < key_accounts, managers)
    tier = np.where(key, rng.choice(["strategic", "key"], n), rng.choice(["growth", "standard", "watch"], n))
    month_end = dt.date(2026, 10, 31)
    comp = {
        c: rng.gamma(2, 5000, n).round(2)
        for c in ("loan_nii", "deposit_spread", "fees", "expected_loss", "servicing_cost")
    }
    value = pd.DataFrame(
        {
            "customer_id": ids,
            "manager_id": mgr,
            "branch_id": "0101",
            "segment": "retail",
            "value_segment": "retail",
            "tier": tier,
            "key_account": key,
            "value_score": rng.uniform(0, 100, n).round(2),
            "lifecycle_stage": "mature",
            "pd": rng.uniform(0.001, 0.05, n),
            **comp,
        }
    )
    value["contribution"] = (
        value["loan_nii"] + value["deposit_spread"] + value["fees"] - value["expected_loss"] - value["servicing_cost"]
    ).round(2)
    c360 = pd.DataFrame(
        {
            "customer_id": ids,
            "display_name": rng.choice(["张*", "李**", "王*", "上海某某贸易有限公司"], n),
            "branch_id": "0101",
            "branch_name": "上海黄浦区支行",
            "city": "上海市",
            "age_band": "40-49",
            "tenure_months": rng.integers(1, 200, n),
            "products_held": 3,
            "product_families": "DEP,LOAN,WMP",
            "loans": 1,
            "loan_balance": rng.gamma(2, 3e5, n),
            "contract_amount": rng.gamma(2, 4e5, n),
            "overdue_principal": 0.0,
            "max_overdue_days": 0,
            "worst_five_class": "1",
            "guarantees_received": 0.0,
            "guarantees_given": 0.0,
            "deposit_balance": rng.gamma(2, 1e5, n),
            "deposit_mtd_avg": rng.gamma(2, 1e5, n),
        }
    )
    months = pd.date_range(end=month_end, periods=12, freq="ME").date
    hist = pd.DataFrame(
        {
            "customer_id": np.repeat(ids[key], 12),
            "month_end": np.tile(months, int(key.sum())),
            "score": rng.normal(600, 30, int(key.sum()) * 12).round(1),
            "grade": "B2",
        }
    )
    scores = hist[hist["month_end"] == month_end].assign(pd=0.01, reason_1="annual_income", reason_2="education")
    warn_ids = ids[rng.random(n) < 0.15]
    warnings = pd.DataFrame(
        {
            "customer_id": warn_ids,
            "rule_id": "EW06",
            "severity": "medium",
            "evidence": "deposit balance 302845.45 -> 142977.68",
        }
    )
    watch = warnings.assign(
        manager_id=pd.Series(mgr, index=ids)[warn_ids].to_numpy(), branch_id="0101", rule_ids="EW06", rank_in_manager=1
    )
    sugg = pd.DataFrame(
        {
            "customer_id": np.repeat(ids[key], 2),
            "rank": np.tile([1, 2], int(key.sum())),
            "product_family": np.tile(["FUND", "INS"], int(key.sum())),
            "score": 1.3,
            "because": "DEP",
        }
    )
    cards = pd.DataFrame(
        {
            "manager_id": [f"S{i:06d}" for i in range(managers)],
            "branch_id": "0101",
            "customers": per,
            "credit_customers": per,
            "key_accounts": key_accounts,
            "loan_balance": 1e8,
            "deposit_avg": 5e7,
            "contribution": 1e6,
            "value_score_mean": 50.0,
            "npl_share": 0.01,
            "overdue_share": 0.02,
            "revisit_compliance": 0.8,
            "revisits_overdue": 3,
            "csat_mean": 4.1,
            "nps": 12.0,
            "responses": 20,
            "warned_customers": 5,
            "high_warnings": 1,
            "key_account_coverage": 0.75,
        }
    )
    staff = pd.DataFrame({"staff_id": cards["manager_id"], "staff_name": "张*"})
    return MonthData(
        month_end,
        {
            "customer_value": value,
            "customer_360": c360,
            "credit_scores": scores,
            "score_history": hist,
            "early_warnings": warnings,
            "watch_list": watch,
            "cross_sell_suggestions": sugg,
            "manager_scorecards": cards,
            "staff": staff,
        },
    )


def key_account_jobs(k: int, out: Path, locale: str) -> list[RenderJob]:
    """The monthly key-account report of ``k`` managers (contexts cut from one synthetic month of marts)."""
    from crm.reports.data import key_account_context

    data = sample_portfolio(k)
    generated = dt.datetime(2026, 11, 1, 10, 0)
    jobs = []
    for i in range(k):
        m = f"S{i:06d}"
        ctx = key_account_context(data, m) | {"generated_at": generated}
        jobs.append(RenderJob(f"ka-{m}", "key_account", ctx, locale, out / f"{m}.html", out / f"{m}.pdf"))
    return jobs


REPORTS: dict[str, MakeJobs] = {"dq": dq_jobs, "key_account": key_account_jobs}


# ----------------------------------------------------------------------------------------------- main
def _mib(kib: float) -> float:
    return kib / 1024


class _PeakSampler(threading.Thread):
    """Peak tree RSS of each of ``roots``, sampled every ``interval`` seconds."""

    def __init__(self, roots: list[int], interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.roots, self.interval, self._done = roots, interval, threading.Event()
        self.peaks = dict.fromkeys(roots, 0)

    def run(self) -> None:
        while not self._done.is_set():
            for r in self.roots:
                self.peaks[r] = max(self.peaks[r], tree_rss_kib(r))
            self._done.wait(self.interval)

    def stop(self) -> dict[int, int]:
        self._done.set()
        self.join()
        return self.peaks


def _render_on_celery(jobs: list[RenderJob], workers: int, max_tasks_per_child: int, logs: Path):
    """Start ``workers`` render workers on a queue of their own, render ``jobs`` there; (results, wall,
    start-up seconds, peak tree RSS per worker in KiB)."""
    from crm.reports.celery_render import (
        delete_queue,
        render_many_celery,
        start_worker,
        stop_worker,
        wait_for_workers,
    )

    queue = f"crm-render-bench-{uuid.uuid4().hex[:8]}"
    env = {"CRM_RENDER_MAX_TASKS_PER_CHILD": str(max_tasks_per_child)}
    if os.geteuid() == 0:  # Celery refuses pickle in a worker running as root unless told to
        env["C_FORCE_ROOT"] = "1"
    logs.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    procs = [start_worker(f"bench{i}-{queue}@%h", queue, logs / f"worker{i}.log", env=env) for i in range(workers)]
    sampler = _PeakSampler([p.pid for p in procs])
    try:
        wait_for_workers(queue, workers, timeout=180, procs=procs)
        startup = time.perf_counter() - t
        sampler.start()
        start = time.perf_counter()
        results = render_many_celery(jobs, queue=queue, progress=True)
        wall = time.perf_counter() - start
    finally:
        peaks = sampler.stop() if sampler.is_alive() else sampler.peaks
        for p in procs:
            stop_worker(p)
        delete_queue(queue)
    return results, wall, startup, list(peaks.values())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--report", choices=sorted(REPORTS), default="dq")
    p.add_argument("-k", type=int, default=8, help="reports per run")
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    p.add_argument("--locale", default="zh_CN")
    p.add_argument("--max-tasks-per-child", type=int, default=50)
    p.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "crm-bench-reports")
    p.add_argument(
        "--backend",
        choices=["local", "celery"],
        default="local",
        help="local: the process pool; celery: N crm render-worker processes, concurrency 1 each",
    )
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    shutil.rmtree(a.out, ignore_errors=True)
    print(
        f"report={a.report} k={a.k} locale={a.locale} max_tasks_per_child={a.max_tasks_per_child} backend={a.backend}"
    )
    for w in (int(x) for x in a.workers.split(",")):
        out = a.out / f"w{w}"
        jobs = REPORTS[a.report](a.k, out, a.locale)
        if w == 1 and t0:
            print(f"  jobs built in {time.perf_counter() - t0:.1f} s")
        extra = ""
        if a.backend == "celery":
            results, wall, startup, trees = _render_on_celery(jobs, w, a.max_tasks_per_child, a.out / f"logs-w{w}")
            by_worker = {}
            for r in results:
                by_worker[r.worker] = by_worker.get(r.worker, 0) + 1
            extra = (
                f" | peak RSS per worker tree {', '.join(f'{_mib(x):.0f}' for x in trees)} MiB | "
                f"workers started in {startup:.1f} s | jobs per worker {sorted(by_worker.values())}"
            )
        else:
            start = time.perf_counter()
            results = render_many(
                jobs, workers=w, max_tasks_per_child=a.max_tasks_per_child, progress=True, backend="local"
            )
            wall = time.perf_counter() - start
        s = summary(results)
        worker_rss = max((r.worker_peak_rss_kib for r in results if r.ok), default=0)
        print(
            f"  workers={w}: {s['jobs'] - s['failed']}/{s['jobs']} ok in {wall:.1f} s wall | "
            f"{(s['jobs'] - s['failed']) / wall * 60:.1f} reports/min | {s['pages'] / wall:.2f} pages/s | "
            f"{s['pages'] / max(1, s['jobs'] - s['failed']):.0f} pages/report | "
            f"{s['seconds'] / max(1, s['jobs'] - s['failed']):.2f} s/report in worker | "
            f"peak RSS worker {_mib(worker_rss):.0f} MiB{extra}",
            flush=True,
        )
        for r in results:
            if not r.ok:
                print(f"    failed {r.job_id}: {r.error}", file=sys.stderr)
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"  peak RSS: this process {_mib(self_rss):.0f} MiB, reaped children {_mib(child_rss):.0f} MiB")


if __name__ == "__main__":
    main()
