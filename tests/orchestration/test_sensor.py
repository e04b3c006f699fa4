import datetime as dt
import os

import dagster as dg

from crm import contract
from crm.ingest.fileformat import write_extract
from crm.zones import landing_dir
from orchestration.resources import CrmHomeResource, WarehouseResource
from orchestration.sensors import landing_sensor
from tests.ingest.frames import branches_frame, loans_frame

D = dt.date(2026, 1, 31)


def _evaluate(home, cursor=None):
    from orchestration.definitions import defs

    resources = {"crm_home": CrmHomeResource(root=str(home)), "warehouse": WarehouseResource(crm_home=str(home))}
    ctx = dg.build_sensor_context(cursor=cursor, resources=resources, definitions=defs)
    result = landing_sensor.evaluate_tick(ctx)
    return result, ctx.cursor


def test_no_flags_skips(tmp_path):
    result, _ = _evaluate(tmp_path)
    assert result.run_requests == [] and "no .ok flags" in result.skip_message


def _keys(req):
    return {k.to_user_string() for k in req.asset_selection}


def test_one_run_per_date_selecting_what_the_arrived_extracts_feed(tmp_path):
    landing = tmp_path / "landing"
    write_extract(loans_frame(), contract.get("loans"), D, landing_dir(landing, D))
    write_extract(branches_frame(), contract.get("branches"), D, landing_dir(landing, D))
    day2 = D + dt.timedelta(days=1)
    write_extract(branches_frame(), contract.get("branches"), day2, landing_dir(landing, day2))
    # a file without its .ok flag has not arrived
    write_extract(loans_frame(), contract.get("loans"), day2, landing_dir(landing, day2), write_ok=False)

    result, _ = _evaluate(tmp_path)
    reqs = sorted(result.run_requests, key=lambda r: r.partition_key)
    assert [r.partition_key for r in reqs] == ["2026-01-31", "2026-02-01"]
    assert all(r.job_name == "daily_pipeline" for r in reqs)
    # raw and staged of what arrived, the staged extracts whose references read branches, the arrival register
    assert {"raw/loans", "raw/branches", "staged/loans", "staged/branches", "dq/arrivals"} <= _keys(reqs[0])
    assert {"staged/customers", "staged/staff", "staged/deposits"} <= _keys(reqs[1])
    assert not any(k.startswith("raw/") and k != "raw/branches" for k in _keys(reqs[1]))
    assert "staged/loan_performance" not in _keys(reqs[1])  # another partitioning, another job

    # the same files keep the same run keys: Dagster launches a run key once
    again, _ = _evaluate(tmp_path)
    assert sorted(r.run_key for r in again.run_requests) == sorted(r.run_key for r in reqs)

    # the late .ok flag, even with an old modification time, launches a run with a new key
    ok = landing_dir(landing, day2) / "LOAN_20260201_001.ok"
    ok.touch()
    os.utime(ok, (1, 1))
    third, _ = _evaluate(tmp_path)
    keys = {r.run_key for r in third.run_requests} - {r.run_key for r in reqs}
    (new,) = [r for r in third.run_requests if r.run_key in keys]
    assert new.partition_key == "2026-02-01" and {"raw/loans", "raw/branches"} <= _keys(new)


def test_month_end_extract_goes_to_monthly_job(tmp_path):
    import pandas as pd

    perf = contract.get("loan_performance")
    df = pd.DataFrame({c: [] for c in perf.column_names})
    write_extract(df, perf, D, landing_dir(tmp_path / "landing", D))
    result, _ = _evaluate(tmp_path)
    (req,) = result.run_requests
    assert req.job_name == "month_end_pipeline" and req.partition_key == "2026-01-01"
    assert {
        "raw/loan_performance",
        "staged/loan_performance",
        "marts/customer_360",
        "models/scorecard",
        "marts/credit_scores",
    } <= {k.to_user_string() for k in req.asset_selection}


def test_value_history_extracts_go_to_their_cadences_job(tmp_path):
    """Deposit balances and monthly transaction aggregates are month-end files (the month's run, which builds
    customer value); the fee ledger is a daily file (the date's run)."""
    import pandas as pd

    landing = landing_dir(tmp_path / "landing", D)
    for name in ("deposit_balances", "txn_monthly", "fee_ledger"):
        e = contract.get(name)
        write_extract(pd.DataFrame({c: [] for c in e.column_names}), e, D, landing)
    result, _ = _evaluate(tmp_path)
    by_job = {r.job_name: r for r in result.run_requests}
    assert sorted(by_job) == ["daily_pipeline", "month_end_pipeline"]
    month, day = by_job["month_end_pipeline"], by_job["daily_pipeline"]
    assert month.partition_key == "2026-01-01" and day.partition_key == "2026-01-31"
    assert {
        "raw/deposit_balances",
        "staged/deposit_balances",
        "raw/txn_monthly",
        "staged/txn_monthly",
        "marts/customer_value",
    } <= _keys(month)
    assert "raw/fee_ledger" not in _keys(month)
    assert {"raw/fee_ledger", "staged/fee_ledger", "dq/arrivals"} <= _keys(day)


def test_files_already_in_the_registry_launch_nothing(tmp_path):
    from crm.ingest.load import ingest_partition
    from crm.warehouse import ensure_schema, make_engine

    landing = tmp_path / "landing"
    loans = contract.get("loans")
    write_extract(loans_frame(), loans, D, landing_dir(landing, D))
    engine = make_engine(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    ensure_schema(engine)
    assert ingest_partition(loans, D, landing=landing, raw=tmp_path / "raw", engine=engine).status == "accepted"
    engine.dispose()
    write_extract(branches_frame(), contract.get("branches"), D, landing_dir(landing, D))

    result, _ = _evaluate(tmp_path)
    (req,) = result.run_requests
    assert [k for k in _keys(req) if k.startswith("raw/")] == ["raw/branches"]

    # once every flagged file is in the registry, the sensor skips
    engine = make_engine(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    ingest_partition(contract.get("branches"), D, landing=landing, raw=tmp_path / "raw", engine=engine)
    engine.dispose()
    quiet, _ = _evaluate(tmp_path)
    assert quiet.run_requests == [] and "already in the registry" in quiet.skip_message
