"""Atomic writers (crm.atomic): readers see the old file or the new one, never a partial one."""

import pandas as pd

from crm.atomic import PartWriter


def test_part_writer_unifies_a_column_that_fills_in_a_later_piece(tmp_path):
    target = tmp_path / "out" / "2026-01-31.parquet"
    w = PartWriter(target)
    w.add(pd.DataFrame({"a": [1, 2], "note": [None, None]}))  # `note` is Arrow null here
    w.add(pd.DataFrame({"a": [3], "note": [None]}))  # fits the open file
    assert len(w.parts) == 1
    w.add(pd.DataFrame({"a": [4], "note": ["x"]}))  # does not: a second file, unified at the end
    w.add(pd.DataFrame({"a": pd.Series([], dtype="int64"), "note": pd.Series([], dtype=object)}))
    assert len(w.parts) == 2
    w.finish()
    got = pd.read_parquet(target)
    assert got["a"].tolist() == [1, 2, 3, 4] and got["note"].tolist() == [None, None, None, "x"]
    assert [p.name for p in target.parent.iterdir()] == [target.name]
