import subprocess
import sys

import dagster as dg

from crm.contract import EXTRACTS


def test_definitions_load_and_cover_every_extract():
    from orchestration.definitions import defs

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {f"raw/{e.name}" for e in EXTRACTS} <= keys
    for name in ("daily_pipeline", "month_end_pipeline"):
        assert isinstance(defs.resolve_job_def(name), dg.JobDefinition)
    assert defs.resolve_sensor_def("landing_sensor") and defs.resolve_sensor_def("run_failure_notice")
    for spec in defs.resolve_all_asset_specs():
        assert spec.owners and spec.kinds and spec.description and spec.group_name


def test_definitions_import_without_heavy_libraries():
    """Loading the definitions (every Dagster process and step does) must not import the heavy libraries; how
    long the import takes is measured by bench/definitions.py, not asserted here."""
    code = (
        "import sys; import orchestration.definitions; "
        "print(','.join(m for m in ('great_expectations', 'weasyprint', 'optbinning', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "", f"heavy libraries imported at load: {out.strip()}"
