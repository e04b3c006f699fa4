"""The staged (data-quality) assets in real ``dg.materialize`` runs: a partition over the threshold stops its
downstream assets, warnings do not, a restated file re-admits a quarantined row, the evidence in the
warehouse and in dq/ holds no raw value, and the arrival register reports late and missing extracts."""

import datetime as dt
import os

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from assets.ingest import ingest_assets
from assets.quality import arrivals, staged_assets
from crm import warehouse as wh
from crm.contract import BY_NAME
from crm.ingest.fileformat import write_extract
from crm.zones import landing_dir
from orchestration.resources import CrmHomeResource, PrivacyResource, QualityResource, WarehouseResource
from tests.quality.bank import BUSINESS_DATE, frames_by_hand

PK = BUSINESS_DATE.isoformat()
RAW = {a.key.path[1]: a for a in ingest_assets}
STAGED = {a.key.path[1]: a for a in staged_assets}
# customers reference branches and staff
CUSTOMER_SLICE = ["branches", "staff", "customers"]


@dg.asset(
    deps=[dg.AssetKey(["staged", "customers"])],
    partitions_def=STAGED["customers"].partitions_def,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def customer_probe(context: dg.AssetExecutionContext) -> None:
    """Stands in for the masking and scoring assets downstream of staged/customers."""


@pytest.fixture
def bank(tmp_path, warehouse):
    home = tmp_path / "home"
    resources = {
        "crm_home": CrmHomeResource(root=str(home)),
        "warehouse": WarehouseResource(url=warehouse.url, schema_name=warehouse.schema or ""),
        "quality": QualityResource(),
        "privacy": PrivacyResource(key="ab" * 32),
    }
    return home, resources, warehouse


def _land(home, frames, names, sequence=1):
    for name in names:
        e = BY_NAME[name]
        write_extract(
            frames[name][e.column_names],
            e,
            BUSINESS_DATE,
            landing_dir(home / "landing", BUSINESS_DATE),
            sequence=sequence,
        )


def _run(resources, names, extra=()):
    assets = [RAW[n] for n in names] + [STAGED[n] for n in names] + list(extra)
    return dg.materialize(
        assets, partition_key=PK, resources=resources, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )


def _checks(result, asset="customers"):
    return {
        c.check_name: c for c in result.get_asset_check_evaluations() if c.asset_key == dg.AssetKey(["staged", asset])
    }


def _table(warehouse, table):
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        return pd.DataFrame(conn.execute(sa.select(table)).mappings().all())


def _break_id(frames, row=0):
    v = frames["customers"].loc[row, "id_number"]
    frames["customers"].loc[row, "id_number"] = v[:-1] + ("0" if v[-1] != "0" else "1")


def test_clean_partition_passes_every_check_and_runs_downstream(bank):
    home, resources, _ = bank
    _land(home, frames_by_hand(), CUSTOMER_SLICE)
    result = _run(resources, CUSTOMER_SLICE, [customer_probe])
    assert result.success
    checks = _checks(result)
    assert {"completeness", "format", "referential", "uniqueness", "quarantine_rate", "rows_accounted"} <= set(checks)
    assert all(c.passed for c in checks.values())
    assert result.asset_materializations_for_node("customer_probe")
    staged = pq.read_table(home / "staged" / "customers" / f"{PK}.parquet").to_pandas()
    raw = frames_by_hand()["customers"]
    assert len(staged) == len(raw)
    # personal values do not leave the raw zone: tokens, masks and bands instead
    text = staged.to_csv()
    for col in ("customer_name", "id_number", "mobile", "address", "customer_id"):
        assert not any(str(v) in text for v in raw[col].dropna()), col
    assert staged["customer_id"].str.startswith("k1.").all() and "age_band" in staged
    assert (home / "dq" / "site" / "index.html").exists()


def _gates(warehouse, extract="customers"):
    gates = _table(warehouse, wh.dq_partition_gates)
    return gates[gates["extract"] == extract]


def test_one_bad_row_of_a_small_file_is_quarantined_without_blocking(bank):
    """1 of 4 rows is 25 %, over the 2 % share allowance but within the 5-row allowance: shown, not blocking."""
    home, resources, warehouse = bank
    frames = frames_by_hand()
    _break_id(frames)
    _land(home, frames, CUSTOMER_SLICE)
    result = _run(resources, CUSTOMER_SLICE, [customer_probe])
    assert result.success
    checks = _checks(result)
    fmt, rate = checks["format"], checks["quarantine_rate"]
    assert not fmt.passed and fmt.severity == dg.AssetCheckSeverity.WARN
    assert rate.passed and rate.metadata["allowance"].value == "2.00% and 5 rows"
    assert result.asset_materializations_for_node("customer_probe")
    assert pd.read_parquet(home / "raw" / "_quarantine" / "customers" / f"{PK}.parquet")["_row_number"].tolist() == [1]
    gate = _gates(warehouse).iloc[0]
    assert (gate["parsed"], gate["quarantined"], gate["rows_threshold"], bool(gate["blocked"])) == (4, 1, 5, False)
    assert gate["share_threshold"] == pytest.approx(0.02) and gate["reason"] is None
    assert gate["partition_key"] == PK and gate["run_id"] == result.run_id


def test_partition_over_both_allowances_blocks_downstream(bank):
    home, resources, warehouse = bank
    frames = frames_by_hand()
    _break_id(frames)
    n = len(frames["customers"])
    _land(home, frames, CUSTOMER_SLICE)
    resources["quality"] = QualityResource(default_rows_threshold=0)  # 1 row > 0 rows and > 2 %
    result = _run(resources, CUSTOMER_SLICE, [customer_probe])

    assert not result.success
    checks = _checks(result)
    fmt = checks["format"]
    assert not fmt.passed and fmt.severity == dg.AssetCheckSeverity.ERROR
    assert fmt.metadata["rows_failing_critical"].value == 1
    assert "customers.id_number.gb11643" in fmt.metadata["failed_rules"].value
    assert not checks["quarantine_rate"].passed
    assert checks["rows_accounted"].passed and checks["completeness"].passed
    # the downstream asset did not run
    assert result.asset_materializations_for_node("customer_probe") == []
    assert "customer_probe" not in {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}

    # the row is quarantined in the restricted zone, with its rule id; the others are staged
    q = pd.read_parquet(home / "raw" / "_quarantine" / "customers" / f"{PK}.parquet")
    assert list(q["_row_number"]) == [1] and q["_rule_ids"].iloc[0] == "customers.id_number.gb11643"
    assert pq.read_table(home / "staged" / "customers" / f"{PK}.parquet").num_rows == n - 1
    index = _table(warehouse, wh.dq_quarantine)
    assert index[["extract", "row_number", "rule_ids"]].values.tolist() == [
        ["customers", 1, "customers.id_number.gb11643"]
    ]
    outcomes = _table(warehouse, wh.dq_file_outcomes).set_index("extract").loc["customers"]
    assert (outcomes["parsed"], outcomes["accepted"], outcomes["quarantined"]) == (n, n - 1, 1)
    gate = _gates(warehouse).iloc[0]
    assert bool(gate["blocked"]) and gate["reason"] == "quarantine_over_threshold" and gate["rows_threshold"] == 0
    # the other extracts of the step were judged too, and are not blocked
    assert not _gates(warehouse, "staff")["blocked"].any()


def test_threshold_is_configurable_per_extract(bank):
    home, resources, _ = bank
    frames = frames_by_hand()
    _break_id(frames)
    _land(home, frames, CUSTOMER_SLICE)
    resources["quality"] = QualityResource(thresholds={"customers": 0.5}, default_rows_threshold=0)
    result = _run(resources, CUSTOMER_SLICE, [customer_probe])
    assert result.success
    fmt = _checks(result)["format"]
    assert not fmt.passed and fmt.severity == dg.AssetCheckSeverity.WARN  # shown, not blocking
    assert result.asset_materializations_for_node("customer_probe")


def test_allowances_resolve_extract_then_all_then_contract(monkeypatch):
    q = QualityResource(thresholds={"staff": 0.1}, rows_thresholds={"customers": 0}, default_rows_threshold=7)
    assert (q.threshold_for("staff"), q.threshold_for("loans")) == (0.1, BY_NAME["loans"].quarantine_share)
    assert (q.rows_threshold_for("customers"), q.rows_threshold_for("loans")) == (0, 7)
    assert QualityResource().rows_threshold_for("staff") == BY_NAME["staff"].quarantine_rows
    from orchestration.resources import resources_for

    monkeypatch.setenv("CRM_DQ_ROWS_THRESHOLD", "12")
    monkeypatch.setenv("CRM_DQ_THRESHOLD", "0.05")
    for env in ("local", "prod"):
        quality = resources_for(env)["quality"]
        assert (quality.threshold_for("staff"), quality.rows_threshold_for("staff")) == (0.05, 12)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"default_threshold": 2.0}, "CRM_DQ_THRESHOLD .* share from 0 to 1"),  # meant as 2 %: would never block
        ({"default_threshold": float("nan")}, "CRM_DQ_THRESHOLD"),
        ({"thresholds": {"staff": -0.1}}, "thresholds\\['staff'\\]"),
        ({"default_rows_threshold": -1}, "CRM_DQ_ROWS_THRESHOLD .* 0 or more"),
        ({"rows_thresholds": {"staff": -5}}, "rows_thresholds\\['staff'\\]"),
    ],
)
def test_an_allowance_that_could_never_block_is_refused_naming_the_setting(settings, message):
    q = QualityResource(**settings)
    with pytest.raises(ValueError, match=message):
        q.threshold_for("staff") if "rows" not in next(iter(settings)) else q.rows_threshold_for("staff")


def test_warning_rules_show_without_blocking(bank):
    home, resources, warehouse = bank
    frames = frames_by_hand()
    loans = frames["loans"]
    row = (
        loans.index[loans["overdue_days"].fillna(0).astype(float) > 0][0]
        if (loans["overdue_days"].fillna(0).astype(float) > 0).any()
        else loans.index[0]
    )
    loans.loc[row, "overdue_days"] = 400  # > 360 days overdue, reported class stays as it was
    loans.loc[row, "five_class"] = "1"
    names = ["branches", "staff", "customers", "corporates", "loans"]
    _land(home, frames, names)
    result = _run(resources, names)
    assert result.success
    consistency = _checks(result, "loans")["consistency"]
    assert not consistency.passed and consistency.severity == dg.AssetCheckSeverity.WARN
    assert consistency.metadata["rows_failing_warning_only_rules"].value == 1
    assert _checks(result, "loans")["quarantine_rate"].passed
    results = _table(warehouse, wh.dq_rule_results).set_index("rule_id")
    assert results.loc["loans.consistency.five_class_vs_overdue", "failed"] == 1


def test_restated_file_readmits_the_row_and_history_is_kept(bank):
    home, resources, warehouse = bank
    frames = frames_by_hand()
    broken = frames_by_hand()
    _break_id(broken)
    _land(home, broken, CUSTOMER_SLICE)
    resources["quality"] = QualityResource(thresholds={"customers": 0.5})
    first = _run(resources, CUSTOMER_SLICE)
    _land(home, frames, ["customers"], sequence=2)  # the bank restates the file with the row fixed
    second = _run(resources, CUSTOMER_SLICE)
    assert first.success and second.success

    assert pd.read_parquet(home / "raw" / "_quarantine" / "customers" / f"{PK}.parquet").empty
    assert pq.read_table(home / "staged" / "customers" / f"{PK}.parquet").num_rows == len(frames["customers"])
    index = _table(warehouse, wh.dq_quarantine)
    assert index["run_id"].tolist() == [first.run_id]  # history: the first run's entry stays, none since
    results = _table(warehouse, wh.dq_rule_results)
    gb = results[(results["rule_id"] == "customers.id_number.gb11643")].set_index("run_id")
    assert gb.loc[first.run_id, "failed"] == 1 and gb.loc[second.run_id, "failed"] == 0
    assert gb.loc[second.run_id, "source_files"] == "CUST_INDV_20260131_002.dat"
    assert len(gb.loc[second.run_id, "file_sha256"]) == 64


def test_evidence_holds_no_raw_value(bank):
    home, resources, warehouse = bank
    frames = frames_by_hand()
    for r in range(len(frames["customers"])):
        _break_id(frames, r)  # every row fails: the values must still appear nowhere
    frames["customers"].loc[0, "mobile"] = "99912345678"
    _land(home, frames, CUSTOMER_SLICE)
    _run(resources, CUSTOMER_SLICE)
    secrets = [
        str(v) for col in ("customer_name", "id_number", "mobile", "address") for v in frames["customers"][col].dropna()
    ]
    assert secrets
    texts = [
        p.read_text(errors="ignore") for p in (home / "dq").rglob("*") if p.is_file() and p.suffix in (".json", ".html")
    ]
    assert any("customers.id_number.gb11643" in t for t in texts)  # the failures are documented ...
    for table in (wh.dq_rule_results, wh.dq_quarantine, wh.dq_file_outcomes, wh.dq_rules):
        texts.append(_table(warehouse, table).to_csv())
    leaks = [s for s in secrets for t in texts if s in t]
    assert leaks == []  # ... by row number, never by value


def test_arrival_register_reports_late_and_missing(bank):
    home, resources, warehouse = bank
    frames = frames_by_hand()
    _land(home, frames, ["branches", "staff"])
    folder = landing_dir(home / "landing", BUSINESS_DATE)
    # Saturday 31 January 2026: due by 08:00 on the first working day after it, Monday 2 February
    on_time = dt.datetime(2026, 2, 1, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp()  # Sunday
    late = dt.datetime(2026, 2, 2, 8, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp()
    os.utime(folder / "BRANCH_20260131_001.ok", (on_time, on_time))
    os.utime(folder / "STAFF_20260131_001.ok", (late, late))
    result = dg.materialize(
        [arrivals], partition_key=PK, resources=resources, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["late_extracts"].value == "2026-01-31 staff"
    register = _table(warehouse, wh.dq_arrivals)
    assert set(register["expected_by"]) == {pd.Timestamp(2026, 2, 2, 8, 0)}
    reg = register.set_index("extract")["status"]
    assert reg["branches"] == "on_time" and reg["staff"] == "late" and reg["customers"] == "missing"
    (mat,) = result.asset_materializations_for_node("dq__arrivals")
    assert mat.metadata["cutoff"].value.startswith("08:00 Asia/Shanghai on the first working day after the business")
    assert len(reg) == len(BY_NAME)  # 2026-01-31 is a month end: month-end extracts are due too
