import subprocess
import sys
import time

import sqlalchemy as sa

from crm.warehouse import begin, ensure_schema, ingest_files, make_engine


def test_duckdb_writer_waits_for_another_process_lock(tmp_path):
    path = tmp_path / "w.duckdb"
    engine = make_engine(f"duckdb:///{path}")
    ensure_schema(engine)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, time, sys; c = duckdb.connect({str(path)!r}); print('held', flush=True); time.sleep(2); c.close()"],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    t = time.monotonic()
    with begin(engine) as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(ingest_files)).scalar()
    waited = time.monotonic() - t
    holder.wait(10)
    assert n == 0
    assert waited > 0.5, "the other process held the lock, so begin() must have waited"
