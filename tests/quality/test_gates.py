"""The gate of a staged partition (quarantined rows over both the share and the row allowance, or rows
unaccounted for), its record in ``dq_partition_gates``, and the strip-and-count of free text, recorded in
``dq_text_cleaning`` and the StageResult, on DuckDB and PostgreSQL."""

import dataclasses

import pandas as pd
import pytest
import sqlalchemy as sa

from crm import warehouse as wh
from crm.contract import BY_NAME
from crm.privacy.tokens import KeyRing
from crm.quality import evidence, stage
from tests.quality.bank import BUSINESS_DATE, raw_frames

RING = KeyRing(keys={"k1": bytes(range(32))}, current="k1")
PK = BUSINESS_DATE.isoformat()


def _write_raw(root, frames):
    for name, df in frames.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        df.to_parquet(root / name / f"{PK}.parquet")


def _stage(tmp_path, extract, **kw):
    return stage.stage_partition(
        extract, BUSINESS_DATE, raw=tmp_path / "raw", staged=tmp_path / "staged", engine="pandas", ring=RING, **kw
    )


@pytest.fixture
def bank(tmp_path):
    frames = raw_frames(tmp_path / "files")
    frames["customers"].loc[0, "customer_id"] = "/etc/passwd"  # one bad row of four
    notes = frames["interactions"]["notes"].astype(object)
    notes.iloc[0] = "客户表示\r\n下月\u202e还款\u200b"  # free text: 4 characters to take out
    frames["interactions"]["notes"] = notes
    _write_raw(tmp_path / "raw", frames)
    return tmp_path, frames


def test_allowances_default_to_the_contract_and_block_only_over_both(bank):
    tmp_path, _ = bank
    r = _stage(tmp_path, "customers")
    assert (r.parsed, r.quarantined) == (4, 1)
    assert (r.threshold, r.rows_threshold) == (
        BY_NAME["customers"].quarantine_share,
        BY_NAME["customers"].quarantine_rows,
    )
    assert r.quarantine_rate > r.threshold  # 25 % is over the share allowance ...
    assert not r.blocked and r.block_reason is None  # ... but one row is within the row allowance
    strict = _stage(tmp_path, "customers", rows_threshold=0)
    assert strict.blocked and strict.block_reason == "quarantine_over_threshold"
    lenient = _stage(tmp_path, "customers", rows_threshold=0, threshold=0.25)
    assert not lenient.blocked  # 1 row is not more than 25 % of 4
    assert _stage(tmp_path, "customers", rows_threshold=0, threshold=0.2499).blocked
    q = pd.read_parquet(r.quarantine_path)
    assert q["_rule_ids"].tolist() == ["customers.customer_id.id_pattern"]


def test_rows_unaccounted_always_block(bank):
    tmp_path, _ = bank
    r = _stage(tmp_path, "branches")
    assert not r.blocked
    lost = dataclasses.replace(r, accepted=r.accepted - 1)
    assert lost.blocked and lost.block_reason == "rows_unaccounted"
    files = r.files.copy()
    files["balanced"] = False
    assert dataclasses.replace(r, files=files).block_reason == "rows_unaccounted"


def test_free_text_is_stripped_before_staging_and_counted(bank):
    tmp_path, frames = bank
    r = _stage(tmp_path, "interactions")
    assert r.quarantined == 0  # accepted: the text rule of free text is a warning
    assert r.summary.set_index("rule_id").loc["interactions.notes.control_chars", "failed"] == 1
    assert r.text_stripped == {"notes": (1, 4)} and r.text_chars_removed == 4
    staged = pd.read_parquet(r.staged_path).sort_values("_row_number")
    assert staged["notes"].iloc[0] == "客户表示 下月还款"
    # the raw zone keeps the value as it came
    raw = pd.read_parquet(tmp_path / "raw" / "interactions" / f"{PK}.parquet")
    assert raw["notes"].iloc[0] == frames["interactions"]["notes"].iloc[0]


def _read(warehouse, table):
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        return pd.DataFrame(conn.execute(sa.select(table)).mappings().all())


def test_gate_and_text_counts_are_recorded_with_the_evidence(bank, warehouse):
    tmp_path, _ = bank
    results = [_stage(tmp_path, "customers", rows_threshold=0), _stage(tmp_path, "interactions")]
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        counts = evidence.record(conn, results, "run-1")
    assert counts["dq_partition_gates"] == 2 and counts["dq_text_cleaning"] == 1
    gates = _read(warehouse, wh.dq_partition_gates).set_index("extract")
    c, i = gates.loc["customers"], gates.loc["interactions"]
    assert (c["run_id"], c["partition_key"], str(c["business_date"])) == ("run-1", PK, PK)
    assert (c["parsed"], c["quarantined"], c["rows_threshold"], bool(c["blocked"]), c["reason"]) == (
        4,
        1,
        0,
        True,
        "quarantine_over_threshold",
    )
    assert c["share_threshold"] == pytest.approx(0.02)
    assert not bool(i["blocked"]) and i["reason"] is None and i["quarantined"] == 0
    assert pd.notna(c["recorded_at"])
    text = _read(warehouse, wh.dq_text_cleaning)
    assert text[["extract", "partition_key", "column_name", "rows", "characters"]].values.tolist() == [
        ["interactions", PK, "notes", 1, 4]
    ]


def test_gate_rows_roll_back_with_the_other_evidence(bank, warehouse):
    tmp_path, _ = bank
    results = [_stage(tmp_path, "customers")]
    with pytest.raises(RuntimeError), wh.begin(warehouse.engine, warehouse.schema) as conn:
        evidence.record(conn, results, "run-2")
        raise RuntimeError("the step failed after recording")
    for table in (wh.dq_partition_gates, wh.dq_rule_results, wh.dq_text_cleaning):
        assert _read(warehouse, table).empty, table.name


def test_staged_data_rebuilt_after_a_key_rotation_is_stripped_too(bank):
    from crm.privacy.retention import retokenise

    tmp_path, _ = bank
    r = _stage(tmp_path, "interactions")
    rotated = KeyRing(keys={"k1": bytes(range(32)), "k2": bytes(range(1, 33))}, current="k2")
    retokenise(tmp_path / "raw", tmp_path / "staged", rotated)
    staged = pd.read_parquet(r.staged_path).sort_values("_row_number")
    assert staged["customer_id"].str.startswith("k2.").all()  # rebuilt
    assert staged["notes"].iloc[0] == "客户表示 下月还款"
