"""Every path built from data goes through crm.zones.safe_path: report files (the staff file and row named),
.eml files, the model registry, raw / quarantine / staged partitions, landing files and Data Docs keys."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from crm.zones import UnsafePathError

STAFF_FILE = "STAFF_20260131_001.dat"


def _hostile_month(hostile: str):
    """The hand-made month of tests/reports/test_portfolio.py with manager S1 renamed ``hostile``."""
    from tests.reports.test_portfolio import _data

    data = _data()
    for name in ("customer_value", "manager_scorecards", "watch_list"):
        data.frames[name] = data.frames[name].replace({"manager_id": {"S1": hostile}})
    data.frames["staff"] = data.frames["staff"].replace({"staff_id": {"S1": hostile}})
    return data


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_an_absolute_staff_id_reaching_portfolio_plan_is_refused_naming_file_and_row(tmp_path):
    from crm.reports.plan import portfolio_plan

    hostile = f"/tmp/{uuid.uuid4().hex[:5]}"  # 10 characters: fits the staff id column
    assert len(hostile) == 10
    data = _hostile_month(hostile)
    assert not data["customer_value"].query("manager_id == @hostile").empty  # the id has customers
    recipients = pd.DataFrame(
        {
            "report": ["key_account", "key_account"],
            "recipient_id": ["S2", hostile],
            "role": ["RM", "RM"],
            "branch_id": ["B2", "B1"],
            "scope": ["B2", "B1"],
            "_source_file": [STAFF_FILE, STAFF_FILE],
            "_row_number": [3, 7],
        }
    )
    reports = tmp_path / "home" / "reports"
    with pytest.raises(UnsafePathError) as info:
        portfolio_plan(data, recipients, reports, "zh_CN", dt.datetime(2026, 11, 1, 10))
    msg = str(info.value)
    assert f"staff file {STAFF_FILE} row 7" in msg and "absolute" in msg and "zone reports" in msg
    assert hostile not in msg and hostile[5:] not in msg
    for suffix in (".html", ".pdf"):
        assert not Path(hostile + suffix).exists()
    assert not reports.exists() or _files(reports) == []


def test_recipients_carry_the_staff_rows_lineage_to_the_error(tmp_path):
    from crm.reports.plan import quarterly_plan
    from crm.reports.recipients import recipients
    from tests.reports.test_portfolio import _branches, _staff

    staff = _staff()
    staff["_source_file"], staff["_row_number"] = STAFF_FILE, range(1, len(staff) + 1)
    staff.loc[staff["staff_id"] == "S3", "staff_id"] = ".."  # a branch head (row 3)
    r = recipients(staff, _branches())
    assert {"_source_file", "_row_number"} <= set(r.columns)
    assert r.loc[r["recipient_id"] == "S6", "_row_number"].tolist() == [6, 6]
    with pytest.raises(UnsafePathError, match=f"staff file {STAFF_FILE} row 3 is '.' or '..'"):
        quarterly_plan(_hostile_month("S1"), r, tmp_path / "reports", "zh_CN", dt.datetime(2026, 11, 1, 10))
    # without lineage (a hand-made frame) the error still says where the id came from
    bare = r.drop(columns=["_source_file", "_row_number"])
    with pytest.raises(UnsafePathError, match="staff directory"):
        quarterly_plan(_hostile_month("S1"), bare, tmp_path / "reports", "zh_CN", dt.datetime(2026, 11, 1, 10))


def test_a_report_file_symlinked_out_of_the_reports_folder_is_refused(tmp_path):
    from crm.reports.plan import portfolio_plan
    from crm.reports.recipients import recipients
    from tests.reports.test_portfolio import _branches, _data, _staff

    reports, outside = tmp_path / "reports", tmp_path / "outside"
    folder = reports / "2026-10" / "key_account"
    folder.mkdir(parents=True)
    outside.mkdir()
    os.symlink(outside / "stolen.pdf", folder / "S2.pdf")
    with pytest.raises(UnsafePathError, match="resolves outside the zone"):
        portfolio_plan(_data(), recipients(_staff(), _branches()), reports, "zh_CN", dt.datetime(2026, 11, 1, 10))
    assert list(outside.iterdir()) == []


def test_an_eml_file_symlinked_out_of_the_outbox_is_a_permanent_failure(tmp_path):
    import email.policy

    from crm.delivery import FileTransport, eml_name
    from tests.delivery.test_message_transport import _msg

    outbox, outside = tmp_path / "outbox", tmp_path / "outside"
    outbox.mkdir()
    outside.mkdir()
    victim = outside / "victim"
    victim.write_bytes(b"keep")
    os.symlink(victim, outbox / eml_name("rm_monthly", "2026-10", "S0001"))
    transport = FileTransport(outbox)
    result = transport.send(_msg("S0001"))
    assert not result.ok and result.permanent and "outbox message of report rm_monthly period 2026-10" in result.error
    assert "S0001" not in result.error and victim.read_bytes() == b"keep"
    ok = transport.send(_msg("S0002"))  # the others are written
    assert ok.ok and Path(ok.location).read_bytes() == _msg("S0002").as_bytes(policy=email.policy.SMTP)


def test_model_registry_refuses_a_version_leading_out(tmp_path):
    from crm.scoring.models import APPROVED, load_approved, segment_dir

    models = tmp_path / "models"
    (models / "scorecard" / "retail").mkdir(parents=True)
    (models / "scorecard" / "retail" / APPROVED).write_text("../../../outside\n")
    with pytest.raises(UnsafePathError, match="APPROVED file of the retail scorecards holds a path separator"):
        load_approved(models, "retail")
    with pytest.raises(UnsafePathError, match="scorecard segment name"):
        segment_dir(models, "../x")


def test_a_scorecard_json_naming_a_model_file_outside_is_refused(tmp_path):
    from crm.scoring.scorecard import FORMAT_VERSION, JSON_FILE, Scorecard

    d = tmp_path / "model"
    d.mkdir()
    (d / JSON_FILE).write_text(
        json.dumps({"format_version": FORMAT_VERSION, "model_file": {"name": "../evil.joblib", "sha256": "0" * 64}})
    )
    with pytest.raises(UnsafePathError, match=r"scorecard.json \(model_file.name\) holds a path separator"):
        Scorecard.load(d)


def test_partitions_symlinked_out_of_their_zone_are_refused(tmp_path):
    from crm.zones import (
        latest_partition,
        latest_raw_file,
        latest_staged_file,
        quarantine_file,
        raw_file,
        staged_file,
    )

    home, outside = tmp_path / "home", tmp_path / "outside"
    outside.mkdir()
    day = dt.date(2026, 1, 31)
    for zone in ("raw", "staged"):
        (home / zone).mkdir(parents=True)
    (home / "raw" / "_quarantine").mkdir()
    os.symlink(outside, home / "raw" / "staff")
    os.symlink(outside, home / "staged" / "staff")
    os.symlink(outside, home / "raw" / "_quarantine" / "staff")
    for build in (
        lambda: raw_file(home / "raw", "staff", day),
        lambda: quarantine_file(home / "raw", "staff", day),
        lambda: staged_file(home / "staged", "staff", day),
        lambda: latest_raw_file(home / "raw", "staff", day),
        lambda: latest_staged_file(home / "staged", "staff", day),
    ):
        with pytest.raises(UnsafePathError, match="staff .*2026-01-31.* resolves outside the zone"):
            build()
    assert raw_file(home / "raw", "loans", day) == home / "raw" / "loans" / "2026-01-31.parquet"
    # an older partition found by listing is checked too
    (home / "staged" / "loans").mkdir()
    os.symlink(outside / "x.parquet", home / "staged" / "loans" / "2026-01-30.parquet")
    with pytest.raises(UnsafePathError, match="loans partitions"):
        latest_partition(staged_file(home / "staged", "loans", day))
    with pytest.raises(UnsafePathError, match="loans partitions"):
        latest_staged_file(home / "staged", "loans", day)


def test_a_landed_file_symlinked_out_of_landing_is_rejected_unread(tmp_path, warehouse):
    from crm import contract
    from crm.ingest.fileformat import write_extract
    from crm.ingest.load import ingest_partition
    from crm.warehouse import begin, ingest_files
    from crm.zones import landing_dir
    from tests.ingest.frames import loans_frame

    day, loans = dt.date(2026, 1, 31), contract.get("loans")
    landing, raw, outside = tmp_path / "landing", tmp_path / "raw", tmp_path / "outside"
    path = write_extract(loans_frame(), loans, day, outside, sequence=1, write_ok=True)
    folder = landing_dir(landing, day)
    folder.mkdir(parents=True)
    os.symlink(path, folder / path.name)
    (folder / path.name).with_suffix(".ok").touch()
    out = ingest_partition(loans, day, landing=landing, raw=raw, engine=warehouse.engine, schema=warehouse.schema)
    assert out.status == "rejected" and out.reason == "unsafe_path"
    assert f"landing file {path.name}" in out.error and "resolves outside the zone" in out.error
    assert not raw.exists() or _files(raw) == []
    with begin(warehouse.engine, warehouse.schema) as c:
        rows = c.execute(sa.select(ingest_files)).mappings().all()
    assert [(r["status"], r["reason"], r["sha256"]) for r in rows] == [("rejected", "unsafe_path", None)]


def test_data_docs_key_parts_are_plain_names():
    from crm.quality.docs import result_key

    key = result_key("crm.staff", "3f2a-run", "20260131", dt.datetime(2026, 2, 1, 1))
    assert key.batch_identifier == "20260131"
    with pytest.raises(UnsafePathError, match="zone dq: the name from the run id is '.' or '..'"):
        result_key("crm.staff", "..", "20260131", dt.datetime(2026, 2, 1, 1))
    with pytest.raises(UnsafePathError, match="suite name holds a path separator"):
        result_key("../crm", "r", "20260131", dt.datetime(2026, 2, 1, 1))


@pytest.mark.parametrize(
    ("folder", "what"), [("site", "Data Docs site"), ("validations", "Data Docs validation store")]
)
def test_data_docs_folders_symlinked_out_of_dq_are_refused(tmp_path, folder, what):
    from crm.quality.docs import docs_context
    from crm.reports.dq_site import publish, rebuild

    dq, outside = tmp_path / "dq", tmp_path / "outside"
    dq.mkdir()
    outside.mkdir()
    os.symlink(outside, dq / folder)
    with pytest.raises(UnsafePathError, match=f"{what} resolves outside the zone"):
        publish(dq, [], "run-1")
    with pytest.raises(UnsafePathError, match=f"{what} resolves outside the zone"):
        rebuild(dq)
    if folder == "validations":
        with pytest.raises(UnsafePathError, match=f"{what} resolves outside the zone"):
            docs_context(dq)
    assert not any(outside.iterdir())
