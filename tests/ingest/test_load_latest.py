"""latest_partition: the date's partition, else the latest one before it."""

from __future__ import annotations

import pytest

from crm.ingest.load import latest_partition


def test_latest_partition_on_or_before(tmp_path):
    folder = tmp_path / "staff"
    folder.mkdir()
    for d in ("2026-01-05", "2026-01-09", "2026-01-20"):
        (folder / f"{d}.parquet").write_bytes(b"")
    assert latest_partition(folder / "2026-01-09.parquet").stem == "2026-01-09"
    assert latest_partition(folder / "2026-01-15.parquet").stem == "2026-01-09"  # never a later one
    with pytest.raises(FileNotFoundError, match="on or before 2026-01-01"):
        latest_partition(folder / "2026-01-01.parquet")
