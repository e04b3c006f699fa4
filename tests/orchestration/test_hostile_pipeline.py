"""Hostile values through the whole month: landing files whose values were changed, the daily and month-end
pipelines, the month's reports, their scans and their delivery, in real ``dg.materialize`` runs.

The generated bank's month-end files are rewritten with the real writer, value by value: markup, spreadsheet
formulas and SQL fragments in company names, branch names and free text; a path-shaped staff id and a
path-shaped manager reference; bidirectional, zero-width and C0 control characters in names and free text; two
addresses in one manager's e-mail field. One test per family checks what the issue promises for it: no
uncontrolled error, no path built from data outside its zone, no raw markup or control character in any
report or message, every row accounted for, every reader either served or listed as undeliverable with the
reason. The bank and the runs are built once per module; the tests only read."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import uuid
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from assets import all_assets
from crm.contract import BY_NAME
from crm.delivery import report_outbox
from crm.ingest.fileformat import read_extract, write_extract
from crm.reports.leakscan import pdf_text
from crm.synthetic import generate
from crm.text import CONTROL_RE
from crm.warehouse import begin, make_engine
from crm.zones import landing_dir
from orchestration.jobs import DAILY_SELECTION, MONTH_END_SELECTION, QUARTERLY_SELECTION, REPORTS_SELECTION
from orchestration.resources import (
    CrmHomeResource,
    DeliveryResource,
    PrivacyResource,
    QualityResource,
    ScoringResource,
    WarehouseResource,
)

pytestmark = pytest.mark.slow

DAY = dt.date(2026, 1, 31)
MONTH, PERIOD = "2026-01-01", "2026-01"
KEY = "6c" * 32
MARKUP = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x.example","点击")'
SQL = "'; DROP TABLE loans;--"
BIDI = "\u202e\u2066\u200b\x1b"
TWO_ADDRESSES = "a.rm@bank.example.cn,b.rm@bank.example.cn"
OUTSIDE = f"/tmp/{uuid.uuid4().hex[:5]}"  # a staff id that is an absolute path and fits the 10 characters


def _resources(home: Path) -> dict:
    return {
        "crm_home": CrmHomeResource(root=str(home)),
        "warehouse": WarehouseResource(crm_home=str(home)),
        "quality": QualityResource(engine="pandas"),
        "privacy": PrivacyResource(key=KEY),
        "scoring": ScoringResource(auto_approve_first=True),
        "delivery": DeliveryResource(workers=1),
    }


def _rewrite(home: Path, name: str, change) -> None:
    """Replace the month-end file of ``name`` by a restatement (sequence 2) changed by ``change(frame)``."""
    extract = BY_NAME[name]
    folder = landing_dir(home / "landing", DAY)
    (first,) = sorted(folder.glob(f"{extract.file_code}_{DAY:%Y%m%d}_001.dat"))
    frame = read_extract(first, extract).table.to_pandas()[extract.column_names]
    write_extract(change(frame)[extract.column_names], extract, DAY, folder, sequence=2)


def _staff(frame: pd.DataFrame) -> pd.DataFrame:
    rm = frame[(frame["role"] == "RM") & (frame["status"] == "A")].sort_values("staff_id")
    frame.loc[rm.index[0], "email"] = TWO_ADDRESSES
    frame.loc[rm.index[1], "staff_name"] = f"王{BIDI}五"  # a name must be clean: quarantined
    extra = frame.loc[[rm.index[0]]].assign(staff_id=OUTSIDE, email="c.rm@bank.example.cn")
    return pd.concat([frame, extra], ignore_index=True)


def _corporates(frame: pd.DataFrame) -> pd.DataFrame:
    for i, value in enumerate((f"{MARKUP}有限公司", f"{FORMULA}", f"{SQL}公司", "<img src=x onerror=alert(1)>")):
        frame.loc[frame.index[i], "company_name"] = value
    frame.loc[frame.index[4], "company_name"] = f"康{BIDI}宇有限公司"  # quarantined: control characters
    return frame


def _branches(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[frame["branch_level"] != "HO", "branch_name"] = f"<b>{MARKUP}</b>支行"
    return frame


def _customers(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[frame.index[0], "manager_id"] = "../../x"  # a reference shaped like a path: quarantined
    return frame


def _free_text(column: str):
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        rows = frame.index[frame[column].notna()][:3]
        for row, value in zip(rows, (f"客户说{BIDI}好", FORMULA, MARKUP), strict=False):
            frame.loc[row, column] = value
        return frame

    return change


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("hostile") / "home"
    generate(home / "landing", customers=80, start=DAY, end=DAY, seed=23)
    for name, change in (
        ("staff", _staff),
        ("corporates", _corporates),
        ("branches", _branches),
        ("customers", _customers),
        ("interactions", _free_text("notes")),
        ("service_requests", _free_text("description")),
        ("surveys", _free_text("comment")),
    ):
        _rewrite(home, name, change)
    runs = {}
    # the reports: the monthly and the quarterly report jobs' assets, in one run
    for label, selection, pk in (
        ("daily", DAILY_SELECTION, DAY.isoformat()),
        ("month_end", MONTH_END_SELECTION, MONTH),
        ("reports", REPORTS_SELECTION | QUARTERLY_SELECTION, MONTH),
    ):
        runs[label] = dg.materialize(
            all_assets,
            selection=selection,
            partition_key=pk,
            resources=_resources(home),
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
    home.joinpath("_runs").write_text(
        repr({k: (r.success, [e.step_key for e in r.all_events if e.is_step_failure]) for k, r in runs.items()})
    )
    return home


def _runs(home: Path) -> dict:
    import ast

    return ast.literal_eval(home.joinpath("_runs").read_text())


def _table(home: Path, table) -> pd.DataFrame:
    engine = make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        with begin(engine) as conn:
            stmt = sa.select(table) if isinstance(table, sa.Table) else sa.text(f"select * from {table}")
            return pd.DataFrame(conn.execute(stmt).mappings().all())
    finally:
        engine.dispose()


def _outputs(home: Path) -> dict[str, str]:
    """Every text a reader gets: each report's HTML and PDF text, each message's headers, bodies and PDF."""
    texts = {}
    for path in sorted((home / "reports").rglob("*")):
        if path.suffix == ".html":
            texts[str(path)] = path.read_text(encoding="utf-8")
        elif path.suffix == ".pdf":
            texts[str(path)] = pdf_text(path)
    for path in sorted((home / "outbox").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        texts[f"{path}:headers"] = "\n".join(f"{k}: {v}" for k, v in msg.items())
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                texts[f"{path}:{part.get_content_type()}"] = part.get_content()
    return texts


def test_no_uncontrolled_error(home):
    runs = _runs(home)
    assert runs["daily"] == (True, []) and runs["month_end"] == (True, []), runs
    assert runs["reports"] == (True, []), runs
    assert list((home / "reports" / PERIOD / "key_account").glob("*.pdf")) and list((home / "outbox").glob("*.eml"))


def test_every_row_is_accounted_for(home):
    files = _table(home, "dq_file_outcomes")
    assert len(files) and (files["accepted"] + files["quarantined"] == files["parsed"]).all()
    quarantine = _table(home, "dq_quarantine")
    expected = {
        ("staff", "staff.email.email_format"),
        ("staff", "staff.staff_name.control_chars"),
        ("staff", "staff.staff_id.id_pattern"),
        ("corporates", "corporates.company_name.control_chars"),
        ("customers", "customers.manager_id.id_pattern"),
    }
    found = {
        (e, r) for e, rules in zip(quarantine["extract"], quarantine["rule_ids"], strict=True) for r in rules.split(",")
    }
    assert expected <= found, expected - found


def test_markup_formulas_and_sql_are_text(home):
    outputs = _outputs(home)
    html = {k: v for k, v in outputs.items() if k.endswith(".html") or k.endswith("text/html")}
    shown = "".join(html.values())
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown  # the company or branch name, as text
    for source, text in html.items():
        # the one script a report may carry is its own table sorting (reports/templates/_sortable.html.j2); in a
        # message's HTML part its lines end in CRLF
        text = re.sub(
            r'<script id="crm-sortable">\r?\ndocument\.querySelectorAll\("table\.sortable"\).*?</script>',
            "",
            text,
            flags=re.S,
        )
        assert "<script" not in text and "<img" not in text and "<b><" not in text, source
    pdfs = "".join(v for k, v in outputs.items() if k.endswith(".pdf")).replace(" ", "")
    assert MARKUP in pdfs  # printed as its characters
    # formulas and SQL are names like any other: accepted, staged as they came, no step failed on them
    staged = pd.read_parquet(home / "staged" / "corporates" / f"{DAY}.parquet", columns=["company_name"])
    assert {FORMULA, f"{SQL}公司"} <= set(staged["company_name"])


def test_no_path_built_from_data_leaves_its_zone(home):
    assert not [p for p in Path("/tmp").glob(f"{Path(OUTSIDE).name}*")]
    root = home.resolve()
    for path in home.rglob("*"):
        assert path.resolve().is_relative_to(root), path
    rows = _table(home, report_outbox)
    unusable = rows[rows["recipient_id"].str.startswith("row-")]
    assert len(unusable) >= 1 and set(unusable["status"]) == {"undeliverable"}
    assert unusable["last_error"].str.startswith("unusable staff id: staff.staff_id.id_pattern").all()
    assert not rows["recipient_id"].str.contains("/").any()


def test_no_control_character_in_any_report_or_message(home):
    for source, text in _outputs(home).items():
        found = {f"U+{ord(c):04X}" for c in CONTROL_RE.findall(text) if c not in "\t\n\r\f"}
        assert not found, f"{source}: {sorted(found)}"
    # free text with control characters was accepted with them removed, and counted
    notes = pd.read_parquet(home / "staged" / "interactions" / f"{DAY}.parquet", columns=["notes"])["notes"]
    assert notes.str.contains("客户说好").any() and not notes.dropna().map(lambda s: bool(CONTROL_RE.search(s))).any()


def test_every_reader_is_served_or_listed_undeliverable_with_the_reason(home):
    raw = pd.read_parquet(home / "raw" / "staff" / f"{DAY}.parquet")

    def plain(s: pd.Series) -> pd.Series:  # a code as a person reads it, whatever control character it holds
        return s.fillna("").astype(str).map(lambda v: CONTROL_RE.sub("", v).strip().upper())

    readers = raw[(plain(raw["status"]) == "A") & plain(raw["role"]).isin(["RM", "BH", "AU"])]
    rows = _table(home, report_outbox)
    assert set(rows["status"]) <= {"sent", "skipped_empty", "undeliverable"}
    mailed = set(rows["recipient_id"])
    served = set(readers["staff_id"]) - {OUTSIDE}
    assert served <= mailed, served - mailed
    bad = rows[rows["status"] == "undeliverable"]
    two = raw.loc[raw["email"] == TWO_ADDRESSES, "staff_id"].iloc[0]
    assert (
        bad.loc[bad["recipient_id"] == two, "last_error"].str.startswith("quarantined: staff.email.email_format").all()
    )
    assert (bad["last_error"].str.len() > 0).all()
    everything = rows.to_csv() + "".join(_outputs(home).values())
    assert "a.rm@bank.example.cn" not in everything and "b.rm@" not in everything
