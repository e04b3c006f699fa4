"""The data lake's lookups (crm.zones): the date's partition or the latest one before it, an extract's
partitions within dates, the raw zone's dated partitions, reading the staged zone."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from crm.zones import (
    latest_partition,
    newest_partition,
    partition_date,
    partitions,
    quarantine_file,
    raw_file,
    raw_partitions,
    read_staged,
    read_staged_until,
    staged_file,
)


def test_latest_partition_on_or_before(tmp_path):
    folder = tmp_path / "staff"
    folder.mkdir()
    for d in ("2026-01-05", "2026-01-09", "2026-01-20"):
        (folder / f"{d}.parquet").write_bytes(b"")
    assert latest_partition(folder / "2026-01-09.parquet").stem == "2026-01-09"
    assert latest_partition(folder / "2026-01-15.parquet").stem == "2026-01-09"  # never a later one
    with pytest.raises(FileNotFoundError, match="on or before 2026-01-01"):
        latest_partition(folder / "2026-01-01.parquet")


def test_the_layout(tmp_path):
    day = dt.date(2026, 1, 31)
    assert raw_file(tmp_path / "raw", "loans", day) == tmp_path / "raw" / "loans" / "2026-01-31.parquet"
    assert quarantine_file(tmp_path / "raw", "loans", day) == (
        tmp_path / "raw" / "_quarantine" / "loans" / "2026-01-31.parquet"
    )
    assert staged_file(tmp_path / "staged", "loans", day) == tmp_path / "staged" / "loans" / "2026-01-31.parquet"
    assert partition_date(staged_file(tmp_path / "staged", "loans", day)) == day


def test_partitions_within_dates_oldest_first(tmp_path):
    folder = tmp_path / "transactions"
    folder.mkdir()
    for d in ("2026-01-20", "2026-01-05", "2026-01-09"):
        (folder / f"{d}.parquet").write_bytes(b"")
    (folder / ".2026-01-07.x.tmp").write_bytes(b"")  # a write in progress is no partition
    names = lambda found: [p.stem for p in found]  # noqa: E731
    assert names(partitions(tmp_path, "transactions")) == ["2026-01-05", "2026-01-09", "2026-01-20"]
    assert names(partitions(tmp_path, "transactions", until=dt.date(2026, 1, 9))) == ["2026-01-05", "2026-01-09"]
    assert names(partitions(tmp_path, "transactions", since=dt.date(2026, 1, 6), until=dt.date(2026, 1, 20))) == [
        "2026-01-09",
        "2026-01-20",
    ]
    assert partitions(tmp_path, "loans") == []  # no folder
    assert newest_partition(tmp_path, "transactions").stem == "2026-01-20"
    assert newest_partition(tmp_path, "loans") is None


def test_raw_partitions_with_their_dates_and_zone(tmp_path):
    raw = tmp_path / "raw"
    for path in (
        raw / "loans" / "2026-01-31.parquet",
        raw / "loans" / "notes.parquet",
        raw / "_quarantine" / "loans" / "2026-01-30.parquet",
        raw / "staff" / "2026-01-31.parquet",
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    found = raw_partitions(raw, ["loans"])
    assert [(p.extract, p.business_date, p.quarantine) for p in found] == [
        ("loans", dt.date(2026, 1, 31), False),
        ("loans", dt.date(2026, 1, 30), True),
    ]
    assert {p.extract for p in raw_partitions(raw)} == {"loans", "staff"}  # every extract of the contract


def test_read_staged_and_until(tmp_path):
    staged = tmp_path / "staged"
    for d, v in (("2026-01-05", 1), ("2026-01-09", 2), ("2026-01-20", 3)):
        (staged / "surveys").mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"v": [v]}).to_parquet(staged / "surveys" / f"{d}.parquet")
    assert read_staged(staged, "surveys", dt.date(2026, 1, 9))["v"].tolist() == [2]
    with pytest.raises(FileNotFoundError, match="no partition for 2026-01-10"):
        read_staged(staged, "surveys", dt.date(2026, 1, 10))
    assert read_staged_until(staged, "surveys", dt.date(2026, 1, 10))["v"].tolist() == [1, 2]
    with pytest.raises(FileNotFoundError, match="no partition on or before 2026-01-01"):
        read_staged_until(staged, "surveys", dt.date(2026, 1, 1))
