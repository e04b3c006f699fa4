"""On the session's bank after its first month end (``scheduled_bank`` in tests/conftest.py: the daily pipeline,
the month-end pipeline and the monthly reports of February 2024, run as ``crm run`` runs them): privacy
outside the raw zone, value traced to its source rows, and reports mailed to exactly the right people.
Tests read February only: tests/test_scheduled_jobs.py may have added March to the same home. (Generating,
parsing, ``crm run``, defects and determinism on a bank of their own: tests/test_crm_run.py.)"""

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from crm.contract import EXTRACTS
from crm.warehouse import begin, make_engine

pytestmark = pytest.mark.slow  # the fixtures run pipelines: the longer per-test timeout
FEB = "2024-02-29"  # the session bank's first month end (tests/conftest.py FIRST_MONTH_END)
PERSONAL_SEMANTICS = ("person_name", "id_number", "mobile", "card_number", "email", "address")


def _personal_values(home: Path) -> dict[str, set[str]]:
    """Every distinct name, ID number, mobile, card number, e-mail and address the generator wrote, by
    semantic, read back from the raw zone."""
    values: dict[str, set[str]] = {s: set() for s in PERSONAL_SEMANTICS}
    for e in EXTRACTS:
        cols = [c for c in e.columns if c.semantic in PERSONAL_SEMANTICS and c.pii == "C2"]
        for path in sorted((home / "raw" / e.name).glob("*.parquet")):
            df = pd.read_parquet(path, columns=[c.name for c in cols])
            for c in cols:
                values[c.semantic] |= {str(v) for v in df[c.name].dropna().unique()}
    return values


def _outside_raw_text(home: Path, dagster_dir: Path) -> str:
    """Everything under CRM_HOME except landing/ and raw/, and the Dagster instance (event logs, run
    storage, compute logs), as text: Parquet decoded, the DuckDB warehouse dumped table by table, every
    other file as bytes. outbox/ holds the messages as sent, addressed to staff: their headers carry the
    recipient's address by necessity; their bodies and PDFs are scanned in
    test_reports_are_mailed_once_to_exactly_the_right_people."""
    parts = []
    for path in sorted(home.rglob("*")):
        rel = path.relative_to(home).parts
        if not path.is_file() or rel[0] in ("landing", "raw", "outbox") or path.name == "masking-keys.json":
            continue
        if path.suffix == ".parquet":
            parts.append(pd.read_parquet(path).to_csv())
        elif path.suffix == ".duckdb":
            engine = make_engine(f"duckdb:///{path}")
            with begin(engine) as c:
                for (table,) in c.execute(sa.text("select table_name from information_schema.tables")).all():
                    parts.append(pd.read_sql(sa.text(f'select * from "{table}"'), c).to_csv())
            engine.dispose()
        else:
            parts.append(path.read_bytes().decode("utf-8", errors="ignore"))
    for path in sorted(dagster_dir.rglob("*")):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", errors="ignore"))
    return "\n".join(parts)


def _leaks(values: dict[str, set[str]], blob: str) -> dict[str, list[str]]:
    """Which values occur in ``blob``; digit runs, e-mails and CJK substrings are extracted once and
    intersected, so this is fast for any number of values."""
    import re

    digits = set(re.findall(r"[0-9X]{11,19}", blob))
    emails = set(re.findall(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+", blob))
    cjk = set()
    for run in re.findall(r"[\u4e00-\u9fff]{2,}", blob):
        cjk |= {run[i : i + n] for n in (2, 3, 4) for i in range(len(run) - n + 1)}
    found = {
        "id_number": values["id_number"] & digits,
        "mobile": values["mobile"] & digits,
        "card_number": values["card_number"] & digits,
        "email": values["email"] & emails,
        "person_name": values["person_name"] & cjk,
        "address": {a for a in values["address"] if a in blob},
    }
    return {k: sorted(v)[:5] for k, v in found.items() if v}


def test_no_personal_value_outside_the_raw_zone(scheduled_bank):
    """The DQ evidence, Data Docs, staged data, the warehouse and the Dagster event log hold no name, ID
    number, mobile, card number, e-mail or address the generator wrote."""
    home, dagster_dir = scheduled_bank.home, Path(scheduled_bank.env["CRM_DAGSTER_DIR"])
    assert (home / "dq" / "site" / "index.html").exists()
    engine = make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    with begin(engine) as c:
        for table in ("dq_rule_results", "dq_file_outcomes", "dq_arrivals"):
            assert c.execute(sa.text(f"select count(*) from {table}")).scalar() > 0, table
        outcomes = pd.read_sql(sa.text("select * from dq_file_outcomes"), c)
        arrivals = pd.read_sql(sa.text("select status from dq_arrivals"), c)
    engine.dispose()
    assert outcomes["balanced"].all() and (outcomes["accepted"] + outcomes["quarantined"] == outcomes["parsed"]).all()
    assert set(arrivals["status"]) == {"on_time"}  # the generator delivers the night after each business date

    values = _personal_values(home)
    assert all(len(v) >= 10 for v in values.values()), {k: len(v) for k, v in values.items()}
    blob = _outside_raw_text(home, dagster_dir)
    assert len(blob) > 1_000_000
    # the scan finds values when they are there (a canary) ...
    canary = {k: set(sorted(v)[:3]) for k, v in values.items()}
    canary_blob = " ".join(v for vs in canary.values() for v in vs)
    assert set(_leaks(values, canary_blob)) == set(PERSONAL_SEMANTICS)
    # ... and finds none outside the raw zone
    assert _leaks(values, blob) == {}
    # the month-end marts are built from staged data: customer 360 rows carry tokens and masked names
    engine = make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    with begin(engine) as c:
        c360 = pd.read_sql(sa.text("select * from customer_360"), c)
    engine.dispose()
    assert len(c360) and FEB in set(c360["month_end"].astype(str))
    c360 = c360[c360["month_end"].astype(str) == FEB]
    assert c360["customer_id"].str.startswith("k1.").all() and c360["is_credit_customer"].any()
    # the same customer has the same token in two extracts
    loans = pd.read_parquet(home / "staged" / "loans" / f"{FEB}.parquet")
    customers = pd.concat(
        [pd.read_parquet(home / "staged" / n / f"{FEB}.parquet") for n in ("customers", "corporates")]
    )
    assert loans["customer_id"].str.startswith("k1.").all()
    assert loans["customer_id"].isin(customers["customer_id"]).all()


def test_a_key_accounts_value_traces_to_its_source_rows(scheduled_bank):
    """Pick a key account from the month-end customer_value mart: the trace (crm.value.trace) prices its
    staged records again and gives the mart's figures; every part is the per-month rounded sum of the traced
    records' amounts; and each record's lineage (file, row, checksum) leads back to a record of that file in
    the raw zone and to the file registered at ingest."""
    from crm.value.inputs import load_inputs
    from crm.value.trace import trace_value
    from crm.value.value import load_config

    home = scheduled_bank.home
    day = dt.date.fromisoformat(FEB)
    engine = make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    with begin(engine) as c:
        marts = {
            n: pd.read_sql(sa.text(f"select * from {n}"), c)
            for n in ("customer_360", "credit_scores", "customer_value")
        }
        registry = pd.read_sql(sa.text("select file_name, sha256 from ingest_files"), c)
    engine.dispose()
    value = marts["customer_value"]
    value = value[pd.to_datetime(value["month_end"]).dt.date == day]
    keys = value[
        value["key_account"] & (value["loan_nii"] != 0) & (value["deposit_spread"] > 0) & (value["fees"] > 0)
    ].sort_values("value_score", ascending=False)
    assert len(keys), "the demo bank has a key account with a loan, deposits and fees booked"
    row = keys.iloc[0]
    trace = trace_value(row["customer_id"], row, load_inputs(home / "staged", day, marts), load_config())

    comp = trace.components.set_index("component")
    assert (comp["amount"] - comp["mart_amount"]).abs().max() < 0.005, comp[["amount", "mart_amount"]]
    assert comp.loc["contribution", "amount"] == pytest.approx(
        comp.loc["loan_nii", "amount"]
        + comp.loc["deposit_spread", "amount"]
        + comp.loc["fees", "amount"]
        - comp.loc["expected_loss", "amount"]
        - comp.loc["servicing_cost", "amount"],
        abs=0.005,
    )
    # every part again from the traced records only: per month rounded to the cent, then summed
    src = trace.sources
    for component in ("loan_nii", "deposit_spread", "fees", "expected_loss", "cost_transactions"):
        mine = src[(src["component"] == component) & src["amount"].notna()]
        by_month = mine.groupby("month")["amount"].sum().round(2)
        assert by_month.sum() == pytest.approx(comp.loc[component, "amount"], abs=0.005), component
    assert comp.loc["loan_nii", "amount"] != 0 and len(src[src["extract"] == "fee_ledger"])

    # lineage: each traced record sits at that row of that file in the raw zone, and the file is the registered one
    keys_of = {"loan_performance": "loan_id", "deposit_balances": "account_id", "fee_ledger": "fee_id"}
    for extract in sorted(set(src["extract"]) - {"loan_rates"}):
        mine = src[src["extract"] == extract]
        raw = pd.concat(
            [pd.read_parquet(p) for p in sorted((home / "raw" / extract).glob("*.parquet"))], ignore_index=True
        ).set_index(["_source_file", "_row_number"])
        for r in mine.itertuples():
            at = raw.loc[(r.source_file, r.row_number)]
            assert at["_sha256"] == r.sha256, (extract, r.source_file, r.row_number)
            if extract in keys_of:
                assert at[keys_of[extract]] == r.record_key
        assert set(mine["sha256"]) <= set(registry["sha256"]), extract


def test_reports_are_mailed_once_to_exactly_the_right_people(scheduled_bank):
    """After the first month end: the month's reports are on disk, the outbox holds one .eml per (report, recipient) the staff directory names, addressed to that person,
    with the HTML as body and the PDF attached; the outbox table says each was sent once; and neither the
    bodies nor the PDFs carry a personal value of the generator's (only the To header carries the staff
    member's own address)."""
    import email
    import email.policy

    from crm.reports.leakscan import pdf_bytes_text
    from crm.reports.recipients import recipients

    home = scheduled_bank.home
    day = dt.date.fromisoformat(FEB)
    staff = pd.read_parquet(home / "staged" / "staff" / f"{day}.parquet")
    expected = recipients(staff, pd.read_parquet(home / "staged" / "branches" / f"{day}.parquet"))
    expected = expected[expected["report"] != "watch_digest"]  # weekly; the range holds no full week
    raw_staff = pd.read_parquet(home / "raw" / "staff" / f"{day}.parquet").set_index("staff_id")
    assert {"key_account", "branch", "satisfaction", "data_quality", "risk"} <= set(expected["report"])

    engine = make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    with begin(engine) as c:
        outbox = pd.read_sql(sa.text("select * from report_outbox where period = '2024-02'"), c)
    engine.dispose()
    # every recipient the directory names is accounted for: sent, or recorded as an empty report (a branch
    # with no survey response this month) that is never sent
    assert set(zip(outbox["report"], outbox["recipient_id"], strict=True)) == set(
        zip(expected["report"], expected["recipient_id"], strict=True)
    )
    assert set(outbox["status"]) <= {"sent", "skipped_empty"} and (outbox["status"] == "sent").sum() >= 6
    sent = outbox[outbox["status"] == "sent"]

    emls = sorted((home / "outbox").glob("*__2024-02__*.eml"))
    assert len(emls) == len(sent), [p.name for p in emls]
    seen, texts = set(), {}
    for path in emls:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        report, recipient = msg["X-CRM-Report"], path.stem.split("__")[-1]
        seen.add((report, recipient))
        assert msg["X-CRM-Period"] == "2024-02"
        assert msg["To"] == raw_staff.loc[recipient, "email"]  # the person, from the restricted raw zone
        body = msg.get_body(("html",))
        assert body is not None and "<!DOCTYPE html>" in body.get_content()
        pdfs = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
        assert len(pdfs) == 1 and pdfs[0].get_content()[:5] == b"%PDF-"
        texts[f"{path.name}:html"] = body.get_content()
        texts[f"{path.name}:pdf"] = pdf_bytes_text(pdfs[0].get_content())
        texts[f"{path.name}:subject"] = msg["Subject"]
    assert seen == set(zip(sent["report"], sent["recipient_id"], strict=True))
    for report in set(sent["report"]) | {"key_account", "branch", "data_quality", "risk"}:  # satisfaction: maybe empty
        assert list((home / "reports" / "2024-02" / report).glob("*.pdf")), report
    # each message went out once, on its first attempt
    assert (sent["attempts"] == 1).all() and (sent["generation"] == 0).all()
    table_text = " ".join(outbox.drop(columns=["message_id"]).astype(str).to_numpy().ravel())
    assert not any(address in table_text for address in raw_staff["email"])  # addresses are never stored

    values = _personal_values(home)
    values = {k: {v for v in vs if k != "person_name" or len(v) >= 3} for k, vs in values.items()}
    assert _leaks(values, " ".join(texts.values())) == {}
