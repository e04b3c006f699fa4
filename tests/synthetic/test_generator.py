"""The synthetic bank: determinism, contract conformance, check digits, integrity, risk signal, encodings,
defects. Small banks over a few days around a month end, so the whole module runs in well under a minute."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stdnum import luhn
from stdnum.cn import ric, uscc

from crm import contract
from crm.ingest.fileformat import ExtractRejected, read_extract, write_extract
from crm.synthetic import cal, generate, ids
from crm.synthetic import loans as L
from crm.synthetic.bank import Bank
from crm.synthetic.bureau import report_contents
from crm.synthetic.defects import FILE_KINDS, ROW_KINDS
from crm.synthetic.writer import write_chunks
from tests.synthetic.checks import check_day, parse_day

START, END = dt.date(2026, 1, 29), dt.date(2026, 2, 3)  # crosses the January month end
N = 600


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def bank_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bank")
    generate(out, customers=N, start=START, end=END, seed=7)
    return out


@pytest.fixture(scope="module")
def days(bank_dir):
    return {p.name: parse_day(p) for p in sorted(bank_dir.iterdir()) if p.is_dir()}


# ------------------------------------------------------------------------------------------ layout, determinism


def test_layout_every_day_every_extract(bank_dir):
    folders = sorted(p.name for p in bank_dir.iterdir() if p.is_dir())
    assert folders == [(START + dt.timedelta(days=i)).strftime("%Y%m%d") for i in range((END - START).days + 1)]
    for name in folders:
        codes = {p.name.split("_2026")[0] for p in (bank_dir / name).glob("*.dat")}
        month_end = name == "20260131"
        expected = {e.file_code for e in contract.EXTRACTS if e.cadence == "daily" or month_end}
        assert codes == expected, name
        assert len(list((bank_dir / name).glob("*.ok"))) == len(expected)
    manifest = json.loads((bank_dir / "manifest.json").read_text())
    assert manifest["parameters"]["customers"] == N
    assert not (bank_dir / "defects.csv").exists()


def test_same_seed_same_bytes_other_seed_differs(bank_dir, tmp_path):
    again = tmp_path / "again"
    generate(again, customers=N, start=START, end=END, seed=7)
    assert _digest(again) == _digest(bank_dir)
    other = tmp_path / "other"
    generate(other, customers=N, start=START, end=START, seed=8)
    a = (bank_dir / "20260129" / "CUST_INDV_20260129_001.dat").read_bytes()
    b = (other / "20260129" / "CUST_INDV_20260129_001.dat").read_bytes()
    assert a != b


def test_a_date_does_not_depend_on_the_range(bank_dir, tmp_path):
    """Generating [d, d] gives the same files for d as a longer range containing d (d not a month end), except
    the daily extracts with an initial load (fees, bureau pulls), whose records of d are the same."""
    one = tmp_path / "one"
    generate(one, customers=N, start=dt.date(2026, 2, 2), end=dt.date(2026, 2, 2), seed=7)
    a, b = _digest(one / "20260202"), _digest(bank_dir / "20260202")
    loads = {"FEE_20260202_001.dat": "fee_date", "CREDIT_RPT_20260202_001.dat": "query_date"}
    assert {k: v for k, v in a.items() if k not in loads} == {k: v for k, v in b.items() if k not in loads}
    for f, col in loads.items():
        ex = contract.BY_FILE_CODE[f.split("_2026")[0]]
        x = read_extract(one / "20260202" / f, ex).table.to_pandas()
        y = read_extract(bank_dir / "20260202" / f, ex).table.to_pandas()
        x = x[pd.to_datetime(x[col]) == pd.Timestamp("2026-02-02")][ex.column_names].reset_index(drop=True)
        y = y[ex.column_names].reset_index(drop=True)
        assert len(y) and x.equals(y), f


# ------------------------------------------------------------------------------------------ contract


def test_every_file_conforms_to_the_contract(days):
    """Parsed by the ingest parser with no type errors; no null mandatory value, value outside its code set,
    bad check digit, duplicate key, orphan, out-of-range amount or impossible date anywhere."""
    for name, res in days.items():
        assert not res.rejected, (name, res.rejected)
        for ex_name, df in res.tables.items():
            assert list(df.columns[: len(contract.get(ex_name).columns)]) == contract.get(ex_name).column_names
        violations = check_day(res)
        assert not violations, sorted(violations)[:20]


def test_extracts_are_populated(days):
    me = days["20260131"]
    for ex in contract.EXTRACTS:
        if ex.name == "referrals":  # ~4 new customers a month here, ~1 in 9 referred: tests/synthetic/test_service.py
            continue
        assert len(me.tables[ex.name]) > 0, ex.name
    # the first month-end file carries 36 months of history, the first statements file three years
    perf = me.tables["loan_performance"]
    assert perf["snapshot_date"].nunique() == 37
    # the value history: 24 month-ends of deposit balances and months of transaction aggregates, 12 months of
    # fees and 24 months of bureau pulls in the first file of the range
    assert me.tables["deposit_balances"]["snapshot_date"].nunique() == 25
    assert me.tables["txn_monthly"]["snapshot_date"].nunique() == 25
    first = days["20260129"].tables
    fee_months = pd.to_datetime(first["fee_ledger"]["fee_date"]).dt.to_period("M")
    assert fee_months.min() == pd.Period("2025-01", "M") and fee_months.nunique() == 13
    pulls = pd.to_datetime(first["bureau_records"]["query_date"])
    assert pulls.min() >= pd.Timestamp("2024-01-29") and pulls.dt.to_period("M").nunique() == 25
    fs = me.tables["financial_statements"]
    assert pd.to_datetime(fs["received_date"]).min() <= pd.Timestamp("2023-03-01")
    assert set(fs["period_type"]) >= {"A", "H"}


def test_check_digits_against_stdnum(days):
    t = days["20260131"].tables
    assert all(ric.is_valid(v) for v in t["customers"]["id_number"])
    assert all(uscc.is_valid(v) for v in t["corporates"]["uscc"])
    assert all(luhn.is_valid(v) for v in t["deposits"]["card_number"].dropna())
    assert t["customers"]["mobile"].str.fullmatch(r"1[3-9]\d{9}").all()
    assert t["staff"]["email"].str.endswith("@bank.example").all()
    # identity numbers agree with birth date and gender (17th digit odd = male)
    c = t["customers"]
    births = pd.to_datetime(c["birth_date"]).dt.strftime("%Y%m%d")
    assert (c["id_number"].str[6:14] == births).all()
    assert ((c["id_number"].str[16].astype(int) % 2 == 1) == (c["gender"] == "1")).all()


def test_check_digit_functions_match_stdnum():
    g = np.random.default_rng(0)
    n = 3000
    birth = (np.datetime64("1950-01-01") + g.integers(0, 20000, n)).astype("datetime64[D]")
    idn = ids.id_numbers(np.full(n, 440305), birth, g.random(n) < 0.5, g.integers(0, 500, n))
    assert all(ric.calc_check_digit(v) == v[-1] for v in idn)
    codes = ids.usccs(np.full(n, 310115), g.integers(0, 10**8, n))
    assert all(uscc.is_valid(v) for v in codes)
    for length in (16, 19):
        cards = ids.card_numbers(g.random(n), g.integers(0, 2**62, n), length)
        assert all(luhn.is_valid(v) and len(v) == length and v.startswith("62") for v in cards)
    bad = ids.corrupt_check_char(idn[:200], "id_number", g.random(200))
    assert not any(ric.calc_check_digit(v) == v[-1] for v in bad)


def test_referential_integrity_and_structure(days):
    t = days["20260131"].tables
    staff = t["staff"].set_index("staff_id")
    roles = staff["role"].value_counts()
    assert roles["RM"] >= 2 and roles["AU"] >= 2 and roles["RO"] >= 1
    # risk officers at every branch and at head office (the bank-wide risk report), all active
    levels = t["branches"].set_index("branch_id")["branch_level"]
    ro = staff[staff["role"] == "RO"]
    assert set(levels[ro["branch_id"]]) == {"BR", "HO"} and (ro["status"] == "A").all()
    assert set(levels[levels == "BR"].index) <= set(ro["branch_id"])
    assert set(t["branches"]["branch_level"]) == {"HO", "BR", "SB"}
    for name in ("customers", "corporates"):
        df = t[name]
        mgr = staff.loc[df["manager_id"]]
        assert (mgr["role"] == "RM").all() and (mgr["status"] == "A").all()
        assert (mgr["branch_id"].to_numpy() == df["branch_id"].to_numpy()).all()
    share_corp = len(t["corporates"]) / (len(t["corporates"]) + len(t["customers"]))
    assert 0.1 < share_corp < 0.2
    n_sb = (t["branches"]["branch_level"] == "SB").sum()
    assert (staff["role"] == "BH").sum() == n_sb - (t["branches"]["status"] == "C").sum()
    # related parties: groups, guarantee chains with a circle, supply chains with customer partners
    rp = t["related_parties"]
    assert {"SHAREHOLDER", "CONTROLLER", "GUARANTOR", "SUPPLIER", "BUYER"} <= set(rp["relation_type"])
    assert rp.loc[rp["relation_type"] == "SHAREHOLDER", "share_ratio"].between(0, 100).all()
    assert rp["related_customer_id"].notna().any()
    # contacts: exactly one primary per customer
    ct = t["contacts"]
    assert (ct.groupby("customer_id")["is_primary"].apply(lambda s: (s == "Y").sum()) == 1).all()


def test_guarantee_circles_exist():
    bank = Bank(3, 4000, dt.date(2026, 1, 31), dt.date(2026, 1, 31))
    rp = bank.related
    g = (rp.relation_type == "GUARANTOR") & (rp.related >= 0)
    edges = dict(zip(rp.cust[g], rp.related[g], strict=False))
    cycles = 0
    for start in edges:  # small graph, a test
        seen, node = [], start
        while node in edges and node not in seen:
            seen.append(node)
            node = edges[node]
        cycles += node == start
    assert cycles >= 2


# ------------------------------------------------------------------------------------------ consistency


def test_balances_transactions_and_averages_agree(days):
    prev = None
    for name in ("20260201", "20260202", "20260203"):
        t = days[name].tables
        dep = t["deposits"].set_index("account_id")
        tx = t["transactions"]
        signed = np.where(tx["direction"] == "C", tx["amount"], -tx["amount"])
        net = pd.Series(signed, index=tx["account_id"]).groupby(level=0).sum()
        last_after = tx.sort_values(["account_id", "txn_time", "txn_id"]).groupby("account_id")["balance_after"].last()
        assert np.allclose(last_after.to_numpy(), dep.loc[last_after.index, "balance"].to_numpy(), atol=0.011)
        assert (tx["balance_after"] >= -0.001).all()
        if prev is not None:
            both = net.index.intersection(prev.index)
            change = dep.loc[both, "balance"] - prev.loc[both, "balance"]
            assert np.allclose(change.to_numpy(), net.loc[both].to_numpy(), atol=0.02)
            untouched = dep.index.intersection(prev.index).difference(net.index)
            assert np.allclose(dep.loc[untouched, "balance"], prev.loc[untouched, "balance"])
        prev = dep
    # month-to-date average = mean of the daily balances since the 1st (0 before opening)
    d1, d2, d3 = (
        days[n].tables["deposits"].set_index("account_id")["balance"] for n in ("20260201", "20260202", "20260203")
    )
    frame = pd.concat([d1, d2, d3], axis=1).fillna(0.0)
    mtd = days["20260203"].tables["deposits"].set_index("account_id")["mtd_avg_balance"]
    assert np.allclose(mtd.to_numpy(), frame.loc[mtd.index].mean(axis=1).to_numpy(), atol=0.011)


def test_loans_statements_and_classes(days):
    t = days["20260131"].tables
    ln = t["loans"]
    assert (ln["balance"] <= ln["contract_amount"] + 0.01).all()
    live = ~ln["status"].isin(["S", "W"])
    assert ((ln["status"] == "O") == (ln["overdue_days"] > 0))[live].all()
    assert (ln.loc[~live, "balance"] == 0).all()
    rule = np.select(
        [ln.overdue_days > 360, ln.overdue_days > 270, ln.overdue_days > 90, ln.overdue_days > 0],
        ["5", "4", "3", "2"],
        "1",
    )
    agree = (ln["five_class"][live] == rule[live]).mean()
    assert 0.9 < agree < 1.0  # mostly the rule, a few misreports and conservative classes
    assert (ln["overdue_principal"] <= ln["balance"] + 0.01).all()
    fs = t["financial_statements"]
    assert np.allclose(fs["total_assets"], fs["total_liabilities"] + fs["equity"], atol=0.011)
    assert (fs["current_assets"] <= fs["total_assets"] + 0.01).all()
    rp = t["repayments"]
    assert ((rp["paid_date"].isna()) | (rp["principal_paid"] >= 0)).all()


def test_satisfaction_surveys_and_free_text(tmp_path):
    out = tmp_path / "service"
    generate(out, customers=3000, start=dt.date(2026, 3, 9), end=dt.date(2026, 3, 13), seed=11)
    surveys = pd.concat([parse_day(p).tables["surveys"] for p in sorted(out.iterdir()) if p.is_dir()])
    visits = pd.concat([parse_day(p).tables["interactions"] for p in sorted(out.iterdir()) if p.is_dir()])
    assert {"VISIT", "SR", "PERIODIC"} <= set(surveys["trigger"])
    answered = surveys["response_date"].notna().mean()
    assert 0.25 < answered < 0.6
    r = surveys.dropna(subset=["csat"])
    assert r["csat"].between(1, 5).all() and r["nps"].between(0, 10).all()
    assert visits["notes"].str.contains(r"[\u4e00-\u9fff]").all()
    # some free text carries a phone number, an identity number or a name: the privacy scrubber's catch
    requests = pd.concat([parse_day(p).tables["service_requests"] for p in sorted(out.iterdir()) if p.is_dir()])
    text = pd.concat([visits["notes"], requests["description"], surveys["comment"].dropna()])
    assert text.str.contains(r"1[3-9]\d{9}").sum() >= 3
    names = set(parse_day(out / "20260313").tables["customers"]["customer_name"])
    assert sum(any(n in x for n in names) for x in visits["notes"]) >= 1
    # service levels: some requests breach their response or resolution SLA
    done = requests.dropna(subset=["resolved_time"]).drop_duplicates("request_id", keep="last")
    hours = (done["resolved_time"] - done["opened_time"]).dt.total_seconds() / 3600
    sla = done["priority"].map({"P1": 24, "P2": 72, "P3": 120, "P4": 240})
    assert 0.02 < (hours > sla).mean() < 0.5


# ------------------------------------------------------------------------------------------ risk


def test_bad_rate_is_plausible_and_predictable():
    """90+ days past due within 12 months of an observation month: 2-6%, rising with bureau utilisation."""
    bank = Bank(5, 20000, dt.date(2025, 6, 30), dt.date(2025, 6, 30))
    obs = cal.day(dt.date(2024, 3, 31))
    m = int(cal.month_of(obs))
    st = L.state_on(bank.seed, bank.loans, obs)
    rows = st.rows[(st.overdue_days <= 30) & ~st.ended]
    bad = np.zeros(len(rows), dtype=bool)
    for k in range(1, 13):
        bad |= L.state_on(bank.seed, bank.loans, int(cal.month_end(m + k)), rows).overdue_days > 90
    assert 0.02 < bad.mean() < 0.06
    cust = bank.loans.cust[rows]
    rep = report_contents(bank, obs, cust, np.full(len(cust), "02", dtype=object), np.full(len(cust), "", object))
    ind = ~bank.c.is_corp[cust]
    util = pd.cut(rep.util[ind], [-1, 30, 60, 90, 300])
    rates = pd.Series(bad[ind]).groupby(util, observed=True).mean().to_numpy()
    assert (np.diff(rates) > 0).all(), rates
    od = pd.cut(rep.od24, [-1, 0, 2, 100])
    rates = pd.Series(bad).groupby(od, observed=True).mean().to_numpy()
    assert (np.diff(rates) > 0).all(), rates


# ------------------------------------------------------------------------------------------ encodings, writer


def test_gb18030_output_decodes(tmp_path):
    out = tmp_path / "gb"
    generate(out, customers=200, start=dt.date(2026, 2, 27), end=dt.date(2026, 2, 27), seed=3, encoding="gb18030")
    f = out / "20260227" / "CUST_INDV_20260227_001.dat"
    raw = f.read_bytes()
    assert raw.startswith(b"H|CUST_INDV|20260227|001|GB18030|")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "|01|" in raw.decode("gb18030")
    res = parse_day(out / "20260227")
    assert not res.rejected
    assert res.tables["customers"]["customer_name"].str.contains(r"[\u4e00-\u9fff]").all()
    assert not check_day(res)


def test_streamed_file_is_byte_identical_to_write_extract(days, tmp_path):
    ex = contract.get("loan_performance")
    df = days["20260131"].tables["loan_performance"][ex.column_names]
    df = df.assign(snapshot_date=pd.to_datetime(df["snapshot_date"]), overdue_days=df["overdue_days"].astype("Int64"))
    a = write_extract(df, ex, dt.date(2026, 1, 31), tmp_path / "a")
    chunks = [df.iloc[i : i + 997] for i in range(0, len(df), 997)]
    b, n = write_chunks(chunks, ex, dt.date(2026, 1, 31), tmp_path / "b")
    assert n == len(df)
    assert a.read_bytes() == b.read_bytes()
    assert b.with_suffix(".ok").exists()


# ------------------------------------------------------------------------------------------ defects


@pytest.fixture(scope="module")
def defect_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("defects")
    generate(out, customers=300, start=dt.date(2026, 1, 30), end=dt.date(2026, 2, 1), seed=7, defect_rate=0.15)
    return out


def test_defects_listed_and_caught_exactly(defect_dir, bank_dir):
    with open(defect_dir / "defects.csv", newline="", encoding="utf-8") as f:
        listed = list(csv.DictReader(f))
    assert list(listed[0]) == ["kind", "extract", "file", "business_date", "row_number", "column", "detail"]
    kinds = {d["kind"] for d in listed}
    assert kinds == set(ROW_KINDS) | set(FILE_KINDS)
    row_listed = {(d["file"], int(d["row_number"])) for d in listed if d["kind"] in ROW_KINDS}
    originals = {(d["file"], int(d["detail"].rsplit(" ", 1)[1])) for d in listed if d["kind"] == "duplicate_key"}
    file_listed = {d["file"]: d for d in listed if d["kind"] in FILE_KINDS}
    flagged = set()
    for folder in sorted(p for p in defect_dir.iterdir() if p.is_dir()):
        res = parse_day(folder)
        # every file-level defect makes the parser reject its file, for the listed reason
        assert set(res.rejected) == {f for f, d in file_listed.items() if d["business_date"] == str(res.day)}
        for fname, err in res.rejected.items():
            d = file_listed[fname]
            assert (
                err.reason
                == {
                    "wrong_control_total": "control_total",
                    "truncated_file": "truncated",
                    "undecodable_bytes": "encoding",
                }[d["kind"]]
            )
            assert (folder / fname).with_suffix(".ok").exists()
            if d["kind"] == "undecodable_bytes":
                assert f"record {d['row_number']} " in str(err)
        flagged |= {(f, r) for f, r, _ in check_day(res)}
    # every listed row is caught, and nothing else (a duplicate's original is caught with its copy)
    assert row_listed <= flagged
    assert flagged - row_listed <= originals
    # row numbers point at the altered records
    for d in listed:
        if d["kind"] not in ROW_KINDS or d["kind"] == "duplicate_key":
            continue
        folder = defect_dir / d["file"].split("_")[-2]
        ex = contract.get(d["extract"])
        df = read_extract(folder / d["file"], ex).table.to_pandas()
        rec = df.iloc[int(d["row_number"]) - 1]
        if d["kind"] == "missing_mandatory":
            assert pd.isna(rec[d["column"]])
        elif d["kind"] == "negative_amount":
            assert rec[d["column"]] < 0
        elif d["kind"] == "unknown_code":
            assert rec[d["column"]] not in contract.CODE_SETS[ex.column(d["column"]).code_set]


def test_defects_leave_clean_rows_identical(defect_dir, tmp_path):
    clean = tmp_path / "clean"
    generate(clean, customers=300, start=dt.date(2026, 1, 30), end=dt.date(2026, 2, 1), seed=7)
    with open(defect_dir / "defects.csv", newline="", encoding="utf-8") as f:
        listed = list(csv.DictReader(f))
    touched_files = {d["file"] for d in listed}
    for p in sorted(clean.rglob("*.dat")):
        q = defect_dir / p.relative_to(clean)
        if p.name not in touched_files:
            assert p.read_bytes() == q.read_bytes(), p.name
    # in a file with row defects, removing the listed records leaves the clean file minus the records altered
    # in place, in order; a duplicate is an exact copy of the record it names
    by_file: dict[str, dict[int, dict]] = {}
    for d in listed:
        if d["kind"] in ROW_KINDS:
            by_file.setdefault(d["file"], {})[int(d["row_number"])] = d
    assert by_file
    for fname, rows in by_file.items():
        folder = fname.split("_")[-2]
        a = (clean / folder / fname).read_text(encoding="utf-8").splitlines()[1:-1]
        b = (defect_dir / folder / fname).read_text(encoding="utf-8").splitlines()[1:-1]
        in_place = [r for r, d in rows.items() if d["kind"] != "duplicate_key"]
        for r, d in rows.items():
            if d["kind"] == "duplicate_key":
                assert b[r - 1] == b[int(d["detail"].rsplit(" ", 1)[1]) - 1]
            else:
                assert b[r - 1] not in a
        rest = [line for i, line in enumerate(b, start=1) if i not in rows]
        assert len(rest) == len(a) - len(in_place)
        remaining = iter(a)
        assert all(line in remaining for line in rest)  # a subsequence of the clean records


def test_file_level_defect_rejected_with_message(defect_dir):
    with open(defect_dir / "defects.csv", newline="", encoding="utf-8") as f:
        d = next(r for r in csv.DictReader(f) if r["kind"] == "truncated_file")
    folder = defect_dir / d["file"].split("_")[-2]
    with pytest.raises(ExtractRejected):
        read_extract(folder / d["file"], contract.get(d["extract"]))
