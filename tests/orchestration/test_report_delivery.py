"""The month's reports in real ``dg.materialize`` runs on a small generated bank: the send gate at the point
of harm (a personal value planted into a rendered report is found by the scan, stops delivery in the same
run, and is held by delivery in a separate run where no blocking check can stop it; a file changed after a
passing scan is held too, and sent once a scan covers it).

One module fixture generates the bank and runs the daily and month-end pipelines once; each test copies that
home (warehouse file included) and runs the report assets on its copy, so tests do not depend on each
other."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from assets import all_assets
from crm.delivery import HELD, PENDING, SENT, leak_scan_files, report_outbox, sha256_of
from crm.reports.fmt import Formatter
from crm.synthetic import generate
from crm.warehouse import begin, make_engine
from orchestration.jobs import DAILY_SELECTION, MONTH_END_SELECTION
from orchestration.resources import (
    CrmHomeResource,
    DeliveryResource,
    PrivacyResource,
    QualityResource,
    ScoringResource,
    WarehouseResource,
)
from tests.delivery.conftest import smtp_server  # noqa: F401  (the SMTP server fixture)

DAY = dt.date(2026, 1, 31)
MONTH = "2026-01-01"
PERIOD = "2026-01"
KEY = "5b" * 32


def _resources(home: Path, quality: QualityResource | None = None, **delivery) -> dict:
    return {
        "crm_home": CrmHomeResource(root=str(home)),
        "warehouse": WarehouseResource(crm_home=str(home)),
        "quality": quality or QualityResource(engine="pandas"),
        "privacy": PrivacyResource(key=KEY),
        "scoring": ScoringResource(auto_approve_first=True),
        "delivery": DeliveryResource(workers=1, **delivery),
    }


def _run(
    home: Path, keys, partition_key: str = MONTH, quality: QualityResource | None = None, **delivery
) -> dg.ExecuteInProcessResult:
    selection = keys if isinstance(keys, dg.AssetSelection) else dg.AssetSelection.assets(*keys)
    return dg.materialize(
        all_assets,
        selection=selection,
        partition_key=partition_key,
        resources=_resources(home, quality, **delivery),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def key(*path: str) -> dg.AssetKey:
    return dg.AssetKey(list(path))


PORTFOLIO, LEAK_SCAN = key("reports", "portfolio"), key("dq", "report_leak_scan")
DQ_REPORT, DQ_SCAN, MONTHLY = (
    key("reports", "data_quality"),
    key("dq", "data_quality_leak_scan"),
    key("delivery", "monthly"),
)


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Path:
    """A small bank's home after the daily and month-end pipelines of 2026-01-31 (no report yet)."""
    home = tmp_path_factory.mktemp("bank") / "home"
    generate(home / "landing", customers=60, start=DAY, end=DAY, seed=11)
    for keys, pk in ((DAILY_SELECTION, DAY.isoformat()), (MONTH_END_SELECTION, MONTH)):
        result = _run(home, keys, pk)
        assert result.success, [e.step_key for e in result.all_events if e.is_step_failure]
    return home


@pytest.fixture
def home(bank, tmp_path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(bank, copy)
    return copy


def outbox(home: Path) -> pd.DataFrame:
    engine = make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    with begin(engine) as conn:
        df = pd.DataFrame(conn.execute(sa.select(report_outbox)).mappings().all())
    engine.dispose()
    return df.set_index(["report", "recipient_id"])


def scans(home: Path) -> pd.DataFrame:
    engine = make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    with begin(engine) as conn:
        df = pd.DataFrame(conn.execute(sa.select(leak_scan_files)).mappings().all())
    engine.dispose()
    return df


def emls(home: Path) -> dict[tuple[str, str], email.message.EmailMessage]:
    out = {}
    for path in sorted((home / "outbox").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        out[(str(msg["X-CRM-Report"]), str(msg["X-CRM-Recipient"]))] = msg
    return out


def check(result: dg.ExecuteInProcessResult, asset: dg.AssetKey, name: str = "no_personal_data"):
    (ev,) = [c for c in result.get_asset_check_evaluations() if c.asset_key == asset and c.check_name == name]
    return ev


def meta(result: dg.ExecuteInProcessResult, asset: dg.AssetKey) -> dict:
    (mat,) = result.asset_materializations_for_node("__".join(asset.path))
    return {k: v.value for k, v in mat.metadata.items()}


def a_customer_name(home: Path) -> str:
    """A raw customer name the scan looks for (three characters or more: shorter ones are not scanned)."""
    names = pd.read_parquet(home / "raw" / "customers" / f"{DAY}.parquet", columns=["customer_name"])
    return str(names["customer_name"][names["customer_name"].str.len() >= 3].sort_values().iloc[0])


def plant(path: Path, text: str) -> None:
    html = path.read_text(encoding="utf-8")
    path.write_text(html.replace("</main>", f"<p>{text}</p></main>", 1), encoding="utf-8")


def test_a_planted_personal_value_fails_the_scan_and_its_message_is_never_sent(home, smtp_server):  # noqa: F811
    assert _run(home, [PORTFOLIO]).success
    sent_to = outbox(home)
    target = sorted(i for i in sent_to.index if i[0] == "key_account")[0]
    report_file = home / "reports" / PERIOD / "key_account" / f"{target[1]}.html"
    plant(report_file, a_customer_name(home))

    # the scan, the auditors' report and delivery in one run: the blocking check stops delivery
    same_run = _run(home, [LEAK_SCAN, DQ_REPORT, DQ_SCAN, MONTHLY])
    scan = check(same_run, LEAK_SCAN)
    assert not scan.passed and scan.severity == dg.AssetCheckSeverity.ERROR
    source = f"{PERIOD}/key_account/{target[1]}.html"
    assert "person_name #" in scan.metadata["findings"].value and source in scan.metadata["findings"].value
    assert same_run.asset_materializations_for_node("delivery__monthly") == []
    assert not list((home / "outbox").glob("*.eml"))
    assert set(outbox(home)["status"]) <= {PENDING, "skipped_empty"}
    recorded = scans(home).set_index("source")
    assert not recorded.loc[source, "passed"] and recorded.loc[source, "findings"] >= 1
    assert recorded.loc[source, "sha256"] == sha256_of(report_file.read_bytes())
    assert recorded.drop(index=source)["passed"].all()

    # a clean period: no incomplete-data notice on any report
    assert not [p for p in (home / "reports").rglob("*.html") if 'class="incomplete-notice"' in p.read_text("utf-8")]

    # delivery alone, in a run of its own where no blocking check can stop it: over real SMTP
    separate = _run(
        home, [MONTHLY], transport="smtp", smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_timeout=5.0
    )
    assert separate.success
    rows = outbox(home)
    assert rows.loc[target, "status"] == HELD
    assert rows.loc[target, "last_error"] == f"the scan of {source} found personal data"
    got = {(str(m["X-CRM-Report"]), str(m["X-CRM-Recipient"])) for m in smtp_server.handler.messages()}
    assert target not in got
    others = rows[(rows["status"] != "skipped_empty") & (rows.index != target)]
    assert len(others) and set(others["status"]) == {SENT}
    assert got == set(others.index)
    m = meta(separate, MONTHLY)
    assert (m["held"], m["sent"]) == (1, len(others))
    assert f"{target[0]} {PERIOD} {target[1]}: the scan of {source} found personal data" in m["held_rows"]


def test_a_report_changed_after_its_passing_scan_is_held_until_scanned_again(home):
    rendered = _run(home, [PORTFOLIO, LEAK_SCAN])
    assert rendered.success and meta(rendered, PORTFOLIO)["incomplete_data"] == 0  # a clean period
    rows = outbox(home)
    target = sorted(i for i in rows.index if rows.loc[i, "status"] == PENDING)[-1]
    pdf = home / "reports" / PERIOD / target[0] / f"{target[1]}.pdf"
    pdf.write_bytes(pdf.read_bytes() + b"\n% appended after the scan\n")

    first = _run(home, [MONTHLY])
    assert first.success
    rows = outbox(home)
    source = f"{PERIOD}/{target[0]}/{target[1]}.pdf"
    assert rows.loc[target, "status"] == HELD
    assert rows.loc[target, "last_error"] == f"{source} changed since it was scanned"
    assert target not in emls(home)
    assert set(rows.drop(index=[target])["status"]) <= {SENT, "skipped_empty"}
    assert meta(first, MONTHLY)["held"] == 1

    # a scan of the file as it now is (still clean) covers it: the next delivery sends the held row
    assert _run(home, [LEAK_SCAN]).success
    second = _run(home, [MONTHLY])
    assert second.success and meta(second, MONTHLY)["sent"] == 1
    assert outbox(home).loc[target, "status"] == SENT
    attached = [p for p in emls(home)[target].iter_attachments() if p.get_content_type() == "application/pdf"]
    assert attached[0].get_content() == pdf.read_bytes()  # exactly the bytes the scan covered


def restate_staff(home: Path, change) -> pd.DataFrame:
    """Land a restated staff file (sequence 2) for the month end, changed by ``change(frame)``; returns it."""
    from crm.contract import BY_NAME
    from crm.ingest.fileformat import read_extract, write_extract
    from crm.zones import landing_dir

    staff = BY_NAME["staff"]
    folder = landing_dir(home / "landing", DAY)
    (first,) = sorted(folder.glob("STAFF_*_001.dat"))
    frame = read_extract(first, staff).table.to_pandas()[staff.column_names]
    frame = change(frame)
    write_extract(frame[staff.column_names], staff, DAY, folder, sequence=2)
    return frame


def test_a_manager_whose_staff_row_is_quarantined_is_recorded_undeliverable_and_the_others_are_served(home):
    two = "rm.first@bank.example.cn;rm.second@bank.example.cn"
    long_id = "S0000123456"  # 11 characters: over the staff id's 10, so the id itself fails a rule

    def change(frame):
        rm = frame[(frame["role"] == "RM") & (frame["status"] == "A")].sort_values("staff_id")
        frame.loc[rm.index[-1], "email"] = two
        extra = frame.loc[[rm.index[0]]].assign(staff_id=long_id, email="rm.new@bank.example.cn")
        return pd.concat([frame, extra], ignore_index=True)

    restated = restate_staff(home, change)
    quarantined_rm = str(restated.loc[restated["email"] == two, "staff_id"].iloc[0])
    # a bank that allows one quarantined staff row: two of thirteen block the day (the staging records the
    # verdict in dq_partition_gates, which the reports' incomplete-data notice reads)
    strict = QualityResource(engine="pandas", rows_thresholds={"staff": 1})
    staging = _run(home, [key("raw", "staff"), key("staged", "staff")], DAY.isoformat(), quality=strict)
    assert not staging.success
    raw = pd.read_parquet(home / "raw" / "staff" / f"{DAY}.parquet")
    row_of_long = int(raw.loc[raw["staff_id"] == long_id, "_row_number"].iloc[0])

    run = _run(home, [PORTFOLIO, LEAK_SCAN, DQ_REPORT, DQ_SCAN, MONTHLY])
    assert run.success, [e.step_key for e in run.all_events if e.is_step_failure]
    rows = outbox(home)
    unusable = f"row-{row_of_long}"
    assert rows.loc[("key_account", quarantined_rm), "status"] == "undeliverable"
    reason = rows.loc[("key_account", quarantined_rm), "last_error"]
    assert reason.startswith("quarantined: staff.email.email_format") and "STAFF_20260131_002.dat row" in reason
    assert rows.loc[("key_account", unusable), "status"] == "undeliverable"
    assert rows.loc[("key_account", unusable), "last_error"].startswith(
        "unusable staff id: staff.staff_id.id_pattern,staff.staff_id.max_length"
    )
    # the quarantined manager's report is rendered; nothing is rendered under the unusable id
    assert (home / "reports" / PERIOD / "key_account" / f"{quarantined_rm}.pdf").exists()
    assert not [p for p in (home / "reports").rglob("*") if long_id in p.name or unusable in p.name]
    # a manager's other report (the proposal list) is undeliverable too, when it has content
    theirs = [(k, r) for (k, r) in rows.index if r in (quarantined_rm, unusable)]
    assert {k for k, _ in theirs} <= {"key_account", "proposals"}
    assert set(rows.loc[theirs, "status"]) <= {"undeliverable", "skipped_empty"}
    # nobody else is affected: everyone else is sent (or empty), and neither of the two gets mail
    served = rows.drop(index=theirs)
    assert set(served["status"]) <= {SENT, "skipped_empty"} and (served["status"] == SENT).sum() >= 3
    assert set(emls(home)) == set(served[served["status"] == SENT].index)
    # operators see them: the render step's metadata and the auditors' report
    m = meta(run, PORTFOLIO)
    assert m["undeliverable"] == int((rows.loc[theirs, "status"] == "undeliverable").sum()) >= 2
    assert quarantined_rm in m["undeliverable_rows"] and unusable in m["undeliverable_rows"]
    dq = (home / "reports" / PERIOD / "data_quality" / "bank.html").read_text(encoding="utf-8")
    section = dq[dq.index('id="undeliverable"') :]
    assert quarantined_rm in section and "员工信息记录被隔离" in section and "staff.email.email_format" in section
    # the unusable id's row of the staff file, as a reader reads it (the outbox keeps ``row-<n>``)
    assert f"员工文件第 {row_of_long} 行" in section and "员工号不可用" in section
    # the period's reports carry the incomplete-data notice on their cover, the manager's included
    assert m["incomplete_data"] == 1
    for path in (
        home / "reports" / PERIOD / "key_account" / f"{quarantined_rm}.html",
        home / "reports" / PERIOD / "data_quality" / "bank.html",
    ):
        cover = path.read_text(encoding="utf-8").split("</header>")[0]
        assert (
            "数据不完整提示" in cover
            and f"员工信息（staff）· {Formatter('zh_CN').date(DAY)}：隔离记录超过阈值" in cover
        )
    # never the address, anywhere the reason goes
    for text in (dq, rows.to_csv(), str(m)):
        assert "rm.first" not in text and "rm.second" not in text
