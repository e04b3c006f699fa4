"""Retention of the restricted raw zone, and re-tokenisation after a key rotation.

**Retention**: raw partitions (``raw/<extract>/<date>.parquet`` and ``raw/_quarantine/<extract>/<date>
.parquet``, listed by :func:`crm.zones.raw_partitions`) whose business date is more than ``keep_days`` days
before today are deleted, and each deletion is recorded in the warehouse table ``raw_purges`` (what, when,
why, by which run). Staged data, the warehouse and the DQ evidence are not touched: they hold no raw
personal value.

**Re-tokenisation**: after :meth:`KeyRing.rotated`, every staged partition is rebuilt from the raw zone
under the new key version: the accepted rows (raw rows minus the quarantined ones) are protected again and
written atomically. Partitions whose raw file was purged keep their old version; tokens carry their
version, so readers tell them apart (:func:`tokens_all_versions` looks a value up under every version).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from crm.atomic import CHUNK_ROWS, PartWriter
from crm.privacy.tokens import KeyRing, token_of
from crm.zones import QUARANTINE, quarantine_file, raw_file, raw_partitions, staged_file

REASON = "raw zone retention"


def purge_raw(
    raw: Path,
    keep_days: int,
    *,
    today: dt.date | None = None,
    conn: sa.Connection | None = None,
    run_id: str | None = None,
    dry_run: bool = False,
) -> pd.DataFrame:
    """Delete raw partitions older than ``keep_days`` (by business date) and record each deletion in
    ``raw_purges`` through ``conn``. Returns what was (or, dry run, would be) purged."""
    from crm import warehouse as wh

    if keep_days < 1:
        raise ValueError("keep_days must be at least 1")
    today = today or dt.date.today()
    cutoff = today - dt.timedelta(days=keep_days)
    rows = []
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for part in raw_partitions(raw):
        if part.business_date >= cutoff:
            continue
        size = part.path.stat().st_size
        if not dry_run:
            os.remove(part.path)
        rows.append(
            {
                "run_id": run_id,
                "extract": part.extract,
                "business_date": part.business_date,
                "zone": f"raw/{QUARANTINE}" if part.quarantine else "raw",
                "file": part.path.name,
                "bytes": size,
                "reason": f"{REASON}: business date before {cutoff.isoformat()} ({keep_days} days)",
                "purged_at": now,
            }
        )
    frame = pd.DataFrame(
        rows, columns=["run_id", "extract", "business_date", "zone", "file", "bytes", "reason", "purged_at"]
    )
    if conn is not None and not dry_run:
        wh.append_frame(conn, wh.raw_purges, frame)
    return frame


def retokenise(
    raw: Path, staged: Path, ring: KeyRing, *, progress: Callable[[int, int], None] | None = None
) -> dict[str, int]:
    """Rebuild every staged partition from the raw zone under ``ring.current``. Returns counts."""
    import pyarrow.parquet as pq

    from crm.privacy.apply import protect
    from crm.privacy.names import row_names

    todo = [
        p for p in raw_partitions(raw) if not p.quarantine and staged_file(staged, p.extract, p.business_date).exists()
    ]
    counts = {"partitions": 0, "rows": 0}
    for i, part in enumerate(todo, 1):
        qpath = quarantine_file(raw, part.extract, part.business_date)
        held = (
            pd.MultiIndex.from_frame(pd.read_parquet(qpath, columns=["_source_file", "_row_number"]))
            if qpath.exists()
            else None
        )
        out = PartWriter(staged_file(staged, part.extract, part.business_date))
        try:  # in batches of rows, in file order: a 14 M-row partition is never held whole
            source = pq.ParquetFile(raw_file(raw, part.extract, part.business_date))
            for batch in source.iter_batches(batch_size=CHUNK_ROWS):
                frame = batch.to_pandas()
                if held is not None:
                    keys = pd.MultiIndex.from_frame(frame[["_source_file", "_row_number"]])
                    frame = frame[~keys.isin(held)]
                names = row_names(frame, part.extract, raw, part.business_date)
                protected = protect(frame, part.extract, ring, part.business_date, names=names)
                out.add(protected.reset_index(drop=True))
                counts["rows"] += len(protected)
            out.finish()
        except BaseException:
            out.abort()
            raise
        counts["partitions"] += 1
        if progress:
            progress(i, len(todo))
    return counts


def tokens_all_versions(value: str, domain: str, ring: KeyRing) -> dict[str, str]:
    """The token of one value under every key version of the ring (to find it during a rotation window)."""
    return {v: token_of(value, domain, ring, v) for v in sorted(ring.keys)}
