import datetime as dt
import json
import os

import dagster as dg

from crm import contract
from crm.ingest.fileformat import write_extract
from crm.ingest.load import landing_dir
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
    assert result.run_requests == [] and "no new .ok" in result.skip_message


def test_one_run_per_date_selecting_arrived_extracts_then_quiet(tmp_path):
    landing = tmp_path / "landing"
    write_extract(loans_frame(), contract.get("loans"), D, landing_dir(landing, D))
    write_extract(branches_frame(), contract.get("branches"), D, landing_dir(landing, D))
    day2 = D + dt.timedelta(days=1)
    write_extract(branches_frame(), contract.get("branches"), day2, landing_dir(landing, day2))
    # a file without its .ok flag has not arrived
    write_extract(loans_frame(), contract.get("loans"), day2, landing_dir(landing, day2), write_ok=False)

    result, cursor = _evaluate(tmp_path)
    reqs = sorted(result.run_requests, key=lambda r: r.partition_key)
    assert [r.partition_key for r in reqs] == ["2026-01-31", "2026-02-01"]
    assert {k.to_user_string() for k in reqs[0].asset_selection} == {"raw/loans", "raw/branches"}
    assert {k.to_user_string() for k in reqs[1].asset_selection} == {"raw/branches"}
    assert all(r.job_name == "daily_pipeline" for r in reqs)

    again, cursor2 = _evaluate(tmp_path, cursor)
    assert again.run_requests == []

    # the late .ok flag and a restatement each trigger exactly one new run
    ok = landing_dir(landing, day2) / "LOAN_20260201_001.ok"
    ok.touch()
    later = json.loads(cursor2)["mtime_ns"] + 10**9
    os.utime(ok, ns=(later, later))
    third, _ = _evaluate(tmp_path, cursor2)
    assert [(r.partition_key, [k.to_user_string() for k in r.asset_selection]) for r in third.run_requests] == [
        ("2026-02-01", ["raw/loans"])
    ]


def test_month_end_extract_goes_to_monthly_job(tmp_path):
    import pandas as pd

    perf = contract.get("loan_performance")
    df = pd.DataFrame({c: [] for c in perf.column_names})
    write_extract(df, perf, D, landing_dir(tmp_path / "landing", D))
    result, _ = _evaluate(tmp_path)
    (req,) = result.run_requests
    assert req.job_name == "month_end_pipeline" and req.partition_key == "2026-01-01"


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
    assert [k.to_user_string() for k in req.asset_selection] == ["raw/branches"]
