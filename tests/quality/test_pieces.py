"""A partition larger than the validation chunk is staged in pieces (bounded memory) and comes out exactly as
staged in one piece: the same accepted and quarantined rows, the same rule counts and file balances, and a
duplicated key is still caught when its rows are many pieces apart."""

import pandas as pd
import pyarrow.parquet as pq
import pytest

from crm.privacy.tokens import KeyRing
from crm.quality import stage
from tests.quality.bank import BUSINESS_DATE, raw_frames
from tests.quality.test_agreement import inject_everything

RING = KeyRing(keys={"k1": bytes(range(32))}, current="k1")
EXTRACTS = ("customers", "loans", "deposits", "transactions", "interactions")


def _write_raw(root, frames):
    for name, df in frames.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        df.to_parquet(root / name / f"{BUSINESS_DATE.isoformat()}.parquet")


def _sorted(path):
    return pd.read_parquet(path).sort_values("_row_number").reset_index(drop=True)


def _stage(tmp_path, sub, engine, extract):
    raw, staged = tmp_path / "raw", tmp_path / sub
    batch = stage.stage_partitions(
        extract, [(BUSINESS_DATE.isoformat(), BUSINESS_DATE)], raw=raw, staged=staged, engine=engine, ring=RING
    )
    return batch, batch.results[0]


@pytest.mark.parametrize("engine", ["pandas", "gx"])
def test_pieces_give_the_same_outcome_as_one_piece(tmp_path, monkeypatch, engine):
    frames = inject_everything(raw_frames(tmp_path / "files"))
    c = frames["customers"]
    last = len(c) - 1
    c.loc[last, "customer_id"] = c.loc[0, "customer_id"]  # first and last rows share a key
    _write_raw(tmp_path / "raw", frames)
    whole = {x: _stage(tmp_path, "whole", engine, x) for x in EXTRACTS}
    monkeypatch.setattr(stage, "CHUNK_ROWS", 1)
    cut = {x: _stage(tmp_path, "cut", engine, x) for x in EXTRACTS}
    validations = 0
    for x in EXTRACTS:
        (_, w), (cb, p) = whole[x], cut[x]
        rows = w.parsed
        assert stage.piece_count(x, rows) > 1, x
        pd.testing.assert_frame_equal(_sorted(p.staged_path), _sorted(w.staged_path), obj=f"{x} staged")
        pd.testing.assert_frame_equal(_sorted(p.quarantine_path), _sorted(w.quarantine_path), obj=f"{x} quarantine")
        assert (p.parsed, p.accepted, p.quarantined) == (w.parsed, w.accepted, w.quarantined), x
        pd.testing.assert_frame_equal(p.summary, w.summary, obj=f"{x} summary")
        pd.testing.assert_frame_equal(p.files, w.files, obj=f"{x} files")
        pd.testing.assert_frame_equal(p.quarantine_index, w.quarantine_index, obj=f"{x} quarantine index")
        pd.testing.assert_frame_equal(p.families, w.families, obj=f"{x} families")
        assert p.skipped == w.skipped and p.source_files == w.source_files and p.sha256 == w.sha256
        if engine == "gx":  # one validation per non-empty piece, labelled as such
            labels = [label for _, label in cb.gx_results]
            table = pq.read_table(tmp_path / "raw" / x / f"{BUSINESS_DATE.isoformat()}.parquet")
            ids = stage.piece_ids(table, stage._key_columns(x), stage.piece_count(x, rows))
            assert len(labels) == len(set(ids.tolist())), labels
            assert all(label.startswith("20260131-part") for label in labels), labels
            validations += len(labels)
        assert not list(p.staged_path.parent.glob(".*.tmp")), "temporary part files left behind"
    assert engine == "pandas" or validations > len(EXTRACTS)  # several pieces were validated separately
    # the duplicated key is caught although its two rows were split from their neighbours
    q = cut["customers"][1].quarantine_index
    dup = q[q["rule_ids"].map(lambda ids: "customers.key.unique" in ids)]
    assert {1, len(c)} <= set(dup["_row_number"])


def test_a_failing_piece_leaves_the_previous_files_in_place(tmp_path, monkeypatch):
    _write_raw(tmp_path / "raw", raw_frames(tmp_path / "files"))
    _, first = _stage(tmp_path, "staged", "pandas", "customers")
    before = first.staged_path.read_bytes()
    monkeypatch.setattr(stage, "CHUNK_ROWS", 1)
    calls = {"n": 0}
    real = stage.decide_from

    def fail_on_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(stage, "decide_from", fail_on_second)
    with pytest.raises(RuntimeError, match="disk full"):
        _stage(tmp_path, "staged", "pandas", "customers")
    assert first.staged_path.read_bytes() == before
    assert not [p for p in first.staged_path.parent.iterdir() if p.name.startswith(".")]
    assert not [p for p in first.quarantine_path.parent.iterdir() if p.name.startswith(".")]
