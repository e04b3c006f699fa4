"""With the synthetic generator's defects: every row-level defect of its manifest is quarantined by a rule of the
matching family, no other row is quarantined, and every file-level defect rejects its file at ingest."""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
import pytest

from crm import synthetic
from crm.contract import BY_FILE_CODE, BY_NAME
from crm.ingest.fileformat import ExtractRejected, FileName, read_extract
from crm.quality.evaluate import evaluate_pandas
from crm.quality.outcome import decide_from
from crm.quality.rules import DEFECT_FAMILY, FILE_LEVEL_DEFECTS, rule_by_id

START, END = dt.date(2026, 1, 30), dt.date(2026, 1, 31)  # a day and a month-end (monthly extracts too)
REJECT_REASON = {
    "wrong_control_total": "control_total",
    "truncated_file": "truncated",
    "undecodable_bytes": "encoding",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    synthetic.generate(out, customers=1500, start=START, end=END, seed=20260131, encoding="utf-8", defect_rate=0.05)
    defects = pd.read_csv(out / "defects.csv", dtype={"row_number": "Int64"})
    frames: dict[dt.date, dict[str, pd.DataFrame]] = {}
    rejected: dict[str, str] = {}
    for path in sorted(out.glob("*/*.dat")):
        name = FileName.parse(path.name)
        extract = BY_FILE_CODE[name.file_code]
        try:
            parsed = read_extract(path, extract)
        except ExtractRejected as e:
            rejected[path.name] = e.reason
            continue
        frames.setdefault(name.business_date, {})[extract.name] = parsed.table.to_pandas()
    outcomes = {}
    for day, fr in frames.items():
        evaluations = evaluate_pandas(fr, day)
        outcomes[day] = {n: decide_from(fr[n], evaluations[n], day) for n in fr}
    return defects, frames, rejected, outcomes


def _expected(defects: pd.DataFrame) -> dict[tuple[str, int], set[str]]:
    """(file, row) -> families that must appear among its rule ids. Every row of a duplicated key fails, so the
    original record of a listed duplicate ("same key as record N") is expected too."""
    out: dict[tuple[str, int], set[str]] = {}
    rows = defects[defects["kind"].isin(list(DEFECT_FAMILY))]
    for d in rows.itertuples(index=False):
        out.setdefault((d.file, int(d.row_number)), set()).add(DEFECT_FAMILY[d.kind])
        if d.kind == "duplicate_key":
            m = re.search(r"same key as record (\d+)", str(d.detail))
            assert m, d.detail
            out.setdefault((d.file, int(m.group(1))), set()).add("uniqueness")
    return out


def test_file_level_defects_reject_their_file(generated):
    defects, _, rejected, _ = generated
    file_level = defects[defects["kind"].isin(FILE_LEVEL_DEFECTS)]
    assert len(file_level) >= 1
    assert {f: REJECT_REASON[k] for f, k in zip(file_level["file"], file_level["kind"], strict=True)} == rejected


def test_every_row_defect_is_quarantined_by_its_family(generated):
    defects, _, _, outcomes = generated
    expected = _expected(defects)
    assert len(expected) > 20
    assert set(DEFECT_FAMILY) <= set(defects["kind"])  # every row-level kind was planted (and is checked)
    got: dict[tuple[str, int], list[str]] = {}
    for per_day in outcomes.values():
        for out in per_day.values():
            for f, r, ids in out.quarantine_index[["_source_file", "_row_number", "rule_ids"]].itertuples(index=False):
                got[(f, int(r))] = ids
    missed = sorted(k for k in expected if k not in got)
    wrong_family = sorted(
        (k, sorted(fam), got[k])
        for k, fam in expected.items()
        if k in got and not fam <= {rule_by_id(r).family for r in got[k]}
    )
    assert not missed, f"defects not quarantined: {missed[:10]}"
    assert not wrong_family, f"quarantined without a rule of the defect's family: {wrong_family[:10]}"


def test_no_clean_row_is_quarantined(generated):
    """Zero false positives: a row outside the manifest is never quarantined. (While this was written the
    generator had clean rows with close_date < open_date in product_holdings, end_date < start_date for chain
    guarantors in related_parties and first_credit_date after the query date in bureau_records; all three
    were fixed in the generator, not by loosening a rule.)"""
    defects, _, _, outcomes = generated
    expected = _expected(defects)
    counts: dict[str, int] = {}
    examples = []
    for per_day in outcomes.values():
        for out in per_day.values():
            for f, r, ids in out.quarantine_index[["_source_file", "_row_number", "rule_ids"]].itertuples(index=False):
                if (f, int(r)) not in expected:
                    for rid in ids:
                        counts[rid] = counts.get(rid, 0) + 1
                    examples.append((f, int(r), ids))
    assert not counts, f"clean rows quarantined, per rule: {counts}; e.g. {examples[:5]}"


def test_accepted_plus_quarantined_is_parsed_per_file(generated):
    _, frames, _, outcomes = generated
    for day, per_day in outcomes.items():
        for name, out in per_day.items():
            assert out.files["balanced"].all()
            assert int(out.files["parsed"].sum()) == len(frames[day][name])
            assert len(out.accepted) + len(out.quarantined) == len(frames[day][name])


def test_pandas_and_gx_agree_on_generated_data(generated):
    from crm.quality.gx import evaluate_gx

    _, frames, _, _ = generated
    day = max(frames)
    fr = frames[day]
    names = [
        n
        for n in (
            "customers",
            "corporates",
            "loans",
            "deposits",
            "transactions",
            "product_holdings",
            "financial_statements",
            "txn_monthly",
            "fee_ledger",
        )
        if n in fr
    ]
    a = evaluate_pandas(fr, day, extracts=names)
    b = evaluate_gx(fr, day, extracts=names)
    for n in names:
        pd.testing.assert_frame_equal(a[n].failed, b[n].failed, obj=n)
    # no personal value of a failing row reaches the GX results
    text = json.dumps({n: b[n].gx_result for n in names}, ensure_ascii=False, default=str)
    leaked, checked = [], 0
    for n in names:
        bad = fr[n][a[n].failed.any(axis=1).to_numpy()]
        for c in BY_NAME[n].columns:
            if c.pii == "C2" or c.semantic in ("uscc", "company_name", "card_number"):
                values = [v for v in bad[c.name].dropna().astype(str).unique() if len(v) >= 6]
                checked += len(values)
                leaked += [v for v in values if v in text]
    assert checked > 50 and not leaked


def test_landing_layout(generated):
    defects, frames, _, _ = generated
    assert set(frames) <= {START, END}
    assert set(defects.columns) >= {
        "kind",
        "extract",
        "file",
        "business_date",
        "row_number",
        "column",
        "detail",
    }
