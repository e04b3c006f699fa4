import subprocess
import sys
import time
import types

import sqlalchemy as sa

import crm.warehouse as wh
from crm.warehouse import begin, ensure_schema, ingest_files, make_engine


def test_duckdb_writer_waits_for_another_process_lock(tmp_path, monkeypatch):
    """Another process holds the file lock until it is told to let go; begin() must retry (its back-off
    sleep is where the test lets the holder go) and then succeed. No clock is read by the test."""
    path = tmp_path / "w.duckdb"
    engine = make_engine(f"duckdb:///{path}")
    ensure_schema(engine)
    engine.dispose()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('held', flush=True); sys.stdin.readline(); "
            "c.close(); print('released', flush=True)",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        waits = []

        def sleep(seconds):  # begin() backs off: the lock was held when it tried
            waits.append(seconds)
            if len(waits) == 1:
                holder.stdin.write("go\n")
                holder.stdin.flush()
                assert holder.stdout.readline().strip() == "released"
                holder.wait(30)

        monkeypatch.setattr(wh, "time", types.SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
        with begin(engine) as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(ingest_files)).scalar()
    finally:
        holder.kill()
        holder.wait(30)
        engine.dispose()
    assert n == 0
    assert len(waits) == 1, "the other process held the lock, so begin() must have waited (once: then it let go)"
