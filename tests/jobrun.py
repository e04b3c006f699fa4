"""Run the pipeline's jobs as its schedules and sensor would, in a fresh process with its own environment.

The end-to-end tests (tests/test_scheduled_jobs.py, tests/test_production_path.py) call :func:`run_jobs`: it
starts ``python -m tests.jobrun`` with the environment the test built (``CRM_HOME``, ``CRM_DAGSTER_DIR``,
``DAGSTER_HOME``, ``CRM_ENV``, the warehouse URL, the SMTP server ...), which runs each (job, first partition,
last partition) with :func:`orchestration.runner.run_job` in the instance ``DAGSTER_HOME`` names and prints
one ``RUN {json}`` line per run (its :class:`orchestration.runner.RunSummary`).

A process per environment, not the test's own: ``orchestration.definitions`` builds its resources from the
environment when it is imported, and the multiprocess executor's forkserver (started once per process, with
the definitions preloaded) hands every later step the environment and the resources it started with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARK = "RUN "


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any ``CRM_*`` or ``DAGSTER_*`` setting, plus ``settings``.
    PYTHONPATH is kept (a worktree's code, not the installed one, runs the jobs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "DAGSTER_"))}
    env.update(settings)
    return env


def run_jobs(env: dict[str, str], runs: list[tuple[str, str, str | None]], timeout: float = 1200) -> list[dict]:
    """Run ``runs`` one after the other in a new process with ``env`` (each runs whether the one before
    succeeded or not, as scheduled runs do); their summaries, in order, each with ``errors``: the run's
    failed steps' log lines, each with its exception. Fails (with the process's output) when the process
    does not finish cleanly or a run is missing."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.jobrun", json.dumps(runs)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    summaries = [json.loads(line[len(MARK) :]) for line in proc.stdout.splitlines() if line.startswith(MARK)]
    assert proc.returncode == 0 and len(summaries) == len(runs), (
        f"exit {proc.returncode}, {len(summaries)} of {len(runs)} runs\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    )
    lines = (proc.stderr + proc.stdout).splitlines()
    for s in summaries:
        s["errors"] = [
            _error_at(lines, i)
            for i, line in enumerate(lines)
            if " - ERROR - " in line and s["run_id"] in line and "STEP_FAILURE" in line
        ][:10]
    return summaries


def _error_at(lines: list[str], i: int) -> str:
    """The log line ``i`` and the exception lines of the traceback after it (its unindented lines)."""
    out = [lines[i]]
    for line in lines[i + 1 : i + 120]:
        if " - dagster - " in line:
            break
        if line.strip() and not line.startswith((" ", "Traceback", "The above exception", "Stack Trace")):
            out.append(line[:500])
    return "\n".join(out)


def assert_succeeded(runs: list[dict]) -> None:
    """Every run succeeded: no failed step, no failed check of severity ERROR (warnings are allowed)."""
    for r in runs:
        assert r["success"] and not r["failed_steps"] and not r["failed_checks"], (
            f"{r['job']} {r['first_partition']}..{r['last_partition']} (run {r['run_id']}): steps "
            f"{r['failed_steps']}, checks {r['failed_checks']}\n" + "\n".join(r["errors"])
        )


def main(runs: list[list]) -> None:
    import dataclasses

    import dagster as dg

    from crm.zones import CrmHome
    from orchestration.runner import configure_dagster_home, run_job

    configure_dagster_home()
    CrmHome.from_env().ensure()
    with dg.DagsterInstance.get() as instance:
        for job, first, last in runs:
            summary = run_job(job, first, last, instance=instance, trigger="schedule")
            print(MARK + json.dumps(dataclasses.asdict(summary)), flush=True)


if __name__ == "__main__":  # the forkserver imports this module again in each step: nothing runs there
    main(json.loads(sys.argv[1]))
