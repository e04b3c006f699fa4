"""Raw-zone retention deletes old partitions and records why; a key rotation re-tokenises staged data."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from crm import warehouse as wh
from crm.privacy.retention import purge_raw, retokenise, tokens_all_versions
from crm.privacy.tokens import KeyRing, token_of
from crm.quality.stage import stage_partition
from tests.quality.bank import BUSINESS_DATE, frames_by_hand, raw_frames

RING = KeyRing(keys={"k1": bytes(range(32))}, current="k1")


def _raw_bank(tmp_path, day):
    raw = tmp_path / "raw"
    for name, df in raw_frames(tmp_path / f"files{day:%Y%m%d}", frames_by_hand(), day).items():
        (raw / name).mkdir(parents=True, exist_ok=True)
        df.to_parquet(raw / name / f"{day.isoformat()}.parquet")
    return raw


def test_purge_deletes_old_raw_partitions_and_records_them(tmp_path, warehouse):
    old, recent = dt.date(2025, 1, 31), BUSINESS_DATE
    raw = _raw_bank(tmp_path, old)
    _raw_bank(tmp_path, recent)
    (raw / "_quarantine" / "loans").mkdir(parents=True)
    pd.DataFrame({"_row_number": [1]}).to_parquet(raw / "_quarantine" / "loans" / f"{old.isoformat()}.parquet")
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        dry = purge_raw(raw, 100, today=dt.date(2026, 2, 1), conn=conn, dry_run=True)
        assert (raw / "loans" / f"{old.isoformat()}.parquet").exists()
        purged = purge_raw(raw, 100, today=dt.date(2026, 2, 1), conn=conn, run_id="r1")
    extracts = len(frames_by_hand())  # every extract of the contract
    assert len(dry) == len(purged) == extracts + 1  # every extract of the old date, and its quarantine file
    assert not list(raw.rglob(f"{old.isoformat()}.parquet"))
    assert len(list(raw.rglob(f"{recent.isoformat()}.parquet"))) == extracts == 23
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        rows = pd.DataFrame(conn.execute(sa.select(wh.raw_purges)).mappings().all())
    assert (
        len(rows) == extracts + 1 and set(rows["run_id"]) == {"r1"} and set(rows["zone"]) == {"raw", "raw/_quarantine"}
    )
    assert rows["reason"].str.contains("retention").all() and (rows["bytes"] > 0).all()


def test_rotation_retokenises_staged_data_from_the_raw_zone(tmp_path):
    raw = _raw_bank(tmp_path, BUSINESS_DATE)
    staged = tmp_path / "staged"
    for name in ("customers", "corporates", "loans"):
        stage_partition(name, BUSINESS_DATE, raw=raw, staged=staged, engine="pandas", ring=RING)
    before = pd.read_parquet(staged / "customers" / f"{BUSINESS_DATE.isoformat()}.parquet")
    raw_ids = pd.read_parquet(raw / "customers" / f"{BUSINESS_DATE.isoformat()}.parquet")["customer_id"]
    assert before["customer_id"].tolist() == [token_of(v, "customer", RING) for v in raw_ids]

    rotated = RING.rotated()
    counts = retokenise(raw, staged, rotated)
    assert counts["partitions"] == 3
    after = pd.read_parquet(staged / "customers" / f"{BUSINESS_DATE.isoformat()}.parquet")
    loans = pd.read_parquet(staged / "loans" / f"{BUSINESS_DATE.isoformat()}.parquet")
    assert after["customer_id"].str.startswith("k2.").all()
    assert after["customer_id"].tolist() == [token_of(v, "customer", rotated) for v in raw_ids]
    corporates = pd.read_parquet(staged / "corporates" / f"{BUSINESS_DATE.isoformat()}.parquet")
    owners = pd.concat([after["customer_id"], corporates["customer_id"]])
    assert loans["customer_id"].isin(owners).all()  # joins still work under the new version
    both = tokens_all_versions(raw_ids.iloc[0], "customer", rotated)
    assert both == {"k1": before["customer_id"].iloc[0], "k2": after["customer_id"].iloc[0]}
