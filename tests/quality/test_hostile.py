"""Hostile values in every text and identifier column of every extract, at the data-quality level.

A small generated bank day is changed value by value (markup, spreadsheet formulas, SQL fragments, path-shaped
ids, control and bidi characters, two addresses in one e-mail field), written as valid extract files with the
real writer (a value with a line break is put in a quoted field, as a bank's export would), ingested with the
real parser and staged (Great Expectations for the control-character and path-shaped families, whose rules
are new; the pandas engine, held equal to it rule by rule, for the others). For each family: no uncontrolled
error, every file accepted at ingest, per file accepted + quarantined = parsed, and for each changed value,
in its own row:

- a value an identifier, e-mail, mobile, card, ID or credit-code rule cannot accept, or a control character in
  a column whose text policy is ``reject``, quarantines the row with the expected rule ids (the id pattern,
  the format rule, ``control_chars``, and the length rule when it is too long);
- anything else (markup, formulas, SQL in a name, address or free text) is accepted as plain data: it is
  neutralised where it is shown (escaping in reports, formula-safe CSV), not here;
- control characters in free text are accepted, removed in staged/ and counted;
- the raw zone holds every value exactly as it arrived.

A key that another extract points at is changed in an added copy of a row, so the clean rows that refer to the
original stay clean; every other value is changed in an existing row, one value per row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm.contract import BY_NAME, EXTRACTS, Extract, identifier_kinds
from crm.ingest.fileformat import FileName, read_extract, write_extract
from crm.ingest.load import ingest_partition
from crm.privacy.tokens import KeyRing
from crm.quality import evidence, stage
from crm.quality.evaluate import evaluate_pandas
from crm.quality.outcome import decide_from
from crm.quality.text import CONTROL_CLASS
from crm.synthetic import generate
from crm.warehouse import begin, ensure_schema, make_engine
from crm.zones import landing_dir, raw_file

DAY = dt.date(2026, 3, 31)  # a month end (month-end extracts too) and a working day
FIRST = dt.date(2026, 3, 24)  # delta extracts gather a week of events, so every extract has rows
pytestmark = pytest.mark.slow  # six stagings of a whole bank day, two with GX

RING = KeyRing(keys={"k1": bytes(range(32))}, current="k1")
STRIP_TEXT = "备注{}内容"  # free text given a control character: neutral words the privacy scrub leaves alone

FAMILIES: dict[str, list[str]] = {
    "markup": ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"],
    "formula": ['=HYPERLINK("http://x.example","y")', "+cmd|' /C calc'!A0", "-1+1", "@SUM(1)"],
    "sql": ["'; DROP TABLE loans;--"],
    "path": ["/etc/passwd", "../../x", "C:\\x"],
    # inserted into the column's own value (after its first character; the line break at the end, where
    # `$` would have let it through); free text gets STRIP_TEXT around it
    "control": ["\u202e", "\u2066", "\u200b", "\x00", "\x1b", "\n"],
    "email": ["a@b.cn,c@d.cn", "a@b.cn c@d.cn", "a@b.cn\nBcc: x@y.cn"],
}
# The families whose rules are new here (the text family; the id patterns) are staged with Great Expectations,
# the production engine; the others with the pandas engine, which tests/quality/test_agreement.py holds to
# the same failing rows rule by rule (a GX staging of a whole bank day costs about 20 s).
ENGINES = {"control": "gx", "path": "gx"}
FORMAT_RULES = {
    "email": "email_format",
    "mobile": "mobile_format",
    "card_number": "luhn",
    "uscc": "gb32100",
    "id_number": "gb11643",
}
REFERENCED = {
    (t, ref)
    for e in EXTRACTS
    for fk in e.references
    for t in (("customers", "corporates") if fk.extract == "customer_master" else (fk.extract,))
    for ref in fk.ref_columns
}


def text_columns(e: Extract, family: str) -> list[str]:
    """Every text and identifier column (a string column with a text policy: not a code set)."""
    cols = [c.name for c in e.columns if c.type == "string" and c.text]
    if family == "email":
        cols = [c for c in cols if e.column(c).semantic == "email"]
    return cols


def cases(family: str) -> list[tuple[str, str]]:
    return [(e.name, c) for e in EXTRACTS for c in text_columns(e, family)]


def _fresh_key(value: str, i: int, taken: set) -> str:
    """An identifier of the same shape: its last four digits replaced by a counter."""
    m = list(re.finditer(r"[0-9]{4}", value))
    assert m, value
    start = m[-1].start()
    new = f"{value[:start]}{9000 + i:04d}{value[start + 4 :]}"
    assert new not in taken, new
    return new


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict[str, pd.DataFrame]:
    """The generated day, contract columns only: snapshots of DAY, a week of events for the delta extracts, every
    row clean (rows that a week's gathering made dirty, e.g. a repayment of a loan since settled, are dropped),
    and at least as many rows as the extract has text columns."""
    out = tmp_path_factory.mktemp("hostile_bank")
    generate(out, customers=200, start=FIRST, end=DAY, seed=14)
    frames = {}
    for e in EXTRACTS:
        parts = []
        for path in sorted(out.glob("*/*.dat")):
            name = FileName.parse(path.name)
            if name.file_code != e.file_code or (e.mode == "snapshot" and name.business_date != DAY):
                continue
            parts.append(read_extract(path, e).table.to_pandas()[e.column_names])
        df = pd.concat(parts, ignore_index=True)
        frames[e.name] = df.drop_duplicates(list(e.key), keep="last").reset_index(drop=True)
    for _ in range(3):  # drop rows failing a critical rule, until none does
        evaluations = evaluate_pandas(frames, DAY)
        dirty = False
        for name, ev in evaluations.items():
            bad = decide_from(frames[name], ev, DAY).quarantined.index
            if len(bad):
                frames[name] = frames[name].drop(index=bad).reset_index(drop=True)
                dirty = True
        if not dirty:
            break
    assert not dirty
    if not len(frames["referrals"]):  # a week of a 200-customer bank may onboard nobody who was referred
        cust = frames["customers"]["customer_id"]
        frames["referrals"] = pd.DataFrame(
            {
                "referral_id": ["RF20260330000000000001"],
                "referrer_customer_id": [cust.iloc[0]],
                "referred_customer_id": [cust.iloc[1]],
                "referral_date": [pd.Timestamp(DAY - dt.timedelta(days=1))],
                "channel": ["APP"],
                "staff_id": [None],
            }
        )
    for e in EXTRACTS:  # pad small extracts with copies of their first row under new keys
        df = frames[e.name]
        assert len(df), e.name
        need = len(text_columns(e, "markup")) - len(df)
        if need > 0:
            (key,) = e.key
            taken = set(df[key])
            copies = df.iloc[[0] * need].copy()
            copies[key] = [_fresh_key(df[key].iloc[0], i, taken) for i in range(need)]
            frames[e.name] = pd.concat([df, copies], ignore_index=True)
    return frames


@dataclasses.dataclass
class Injection:
    extract: str
    column: str
    row_number: int  # record number in the written file
    value: str
    expected: set[str]  # rule ids the row must fail (empty: accepted)
    cleaned: str | None = None  # free text: the staged value


@dataclasses.dataclass
class Run:
    injections: dict[tuple[str, str], list[Injection]]
    ingest: dict
    results: dict[str, stage.StageResult]
    raw: Path
    engine: object


def _hostile_value(family: str, e: Extract, col: str, i: int, original) -> tuple[str, str | None]:
    values = FAMILIES[family]
    c = e.column(col)
    if family != "control":
        return values[i % len(values)], None
    ch = values[i % len(values)]
    if c.text == "strip":
        value = STRIP_TEXT.format(ch)
        return value, STRIP_TEXT.format(" " if ch == "\n" else "")
    if original is None or pd.isna(original):
        original = identifier_kinds()[c.id_kind[0]].example if c.id_kind else "文本"
    original = str(original)
    return (original + ch if ch == "\n" else original[:1] + ch + original[1:]), None


def expected_rules(e: Extract, col: str, value: str, row: pd.Series) -> set[str]:
    """The rules the value must fail, stated independently of the rule builder."""
    c = e.column(col)
    out = set()
    kinds = identifier_kinds()
    if c.id_kind and not any(re.fullmatch(kinds[k].pattern, value) for k in c.id_kind):
        out.add(f"{e.name}.{col}.id_pattern")
    if c.max_length and len(value) > c.max_length:
        out.add(f"{e.name}.{col}.max_length")
    if c.text == "reject" and any(ord(ch) < 0x20 or ch in "\u202e\u2066\u200b" for ch in value):
        out.add(f"{e.name}.{col}.control_chars")
    if c.semantic in FORMAT_RULES and not (
        c.semantic == "id_number" and "id_type" in e.column_names and row["id_type"] != "01"
    ):
        out.add(f"{e.name}.{col}.{FORMAT_RULES[c.semantic]}")  # no hostile value is a valid one
    return out


def _land(frames: dict[str, pd.DataFrame], folder: Path) -> None:
    """Write every extract with the real writer; values with a line break go into a quoted field (the writer
    itself would turn them into spaces), the record count and control sum staying right."""
    for e in EXTRACTS:
        df = frames[e.name].copy()
        breaks = {}
        for col in df.columns:
            s = df[col]
            if s.dtype == object:
                has = s.map(lambda v: isinstance(v, str) and ("\n" in v or "\r" in v)).to_numpy(dtype=bool)
                for pos in np.flatnonzero(has):  # a handful of injected values
                    token = f"QQBREAK{len(breaks)}QQ"
                    breaks[token] = s.iloc[pos]
                    df.iloc[pos, df.columns.get_loc(col)] = token
        path = write_extract(df[e.column_names], e, DAY, folder)
        if breaks:
            data = path.read_bytes()
            for token, value in breaks.items():
                data = data.replace(token.encode(), b'"' + value.replace('"', '""').encode("utf-8") + b'"')
            path.write_bytes(data)


def _run_family(family: str, base: dict[str, pd.DataFrame], tmp: Path) -> Run:
    frames = {k: v.copy() for k, v in base.items()}
    injections: dict[tuple[str, str], list[Injection]] = {}
    per_column = len(FAMILIES[family]) if family == "email" else 1  # every e-mail form; else one value
    for e in EXTRACTS:
        df = frames[e.name]
        added = []
        i = 0  # values cycle over the extract's columns; existing rows are used in turn
        for col in text_columns(e, family):
            for _ in range(per_column):
                if (e.name, col) in REFERENCED:  # in a copy of the first row: rows referring to it stay clean
                    row = base[e.name].iloc[0].copy()
                    value, cleaned = _hostile_value(family, e, col, i, row[col])
                    row[col] = value
                    added.append(row)
                    position = len(df) + len(added) - 1
                else:
                    position = sum(
                        len(v) for (x, c), v in injections.items() if x == e.name and (x, c) not in REFERENCED
                    )
                    assert position < len(df), (e.name, col)
                    value, cleaned = _hostile_value(family, e, col, i, df.loc[position, col])
                    df.loc[position, col] = value
                    row = df.loc[position]
                injections.setdefault((e.name, col), []).append(
                    Injection(e.name, col, position + 1, value, expected_rules(e, col, value, row), cleaned)
                )
                i += 1
        if added:
            frames[e.name] = pd.concat([df, pd.DataFrame(added)], ignore_index=True)
    home = tmp / family
    landing, raw, staged = home / "landing", home / "raw", home / "staged"
    _land(frames, landing_dir(landing, DAY))
    engine = make_engine(f"duckdb:///{home / 'warehouse.duckdb'}")
    ensure_schema(engine)
    ingest = {e.name: ingest_partition(e, DAY, landing=landing, raw=raw, engine=engine) for e in EXTRACTS}
    engine_name = ENGINES.get(family, "pandas")
    context = None
    if engine_name == "gx":
        from crm.quality.gx import ephemeral_context

        context = ephemeral_context()
    results = {}
    for e in EXTRACTS:
        batch = stage.stage_partitions(
            e.name, [(DAY.isoformat(), DAY)], raw=raw, staged=staged, engine=engine_name, context=context, ring=RING
        )
        assert not batch.absent, batch.absent
        results[e.name] = batch.results[0]
    with begin(engine) as conn:
        evidence.record(conn, list(results.values()), f"hostile-{family}")
    return Run(injections, ingest, results, raw, engine)


@pytest.fixture(scope="module")
def runs(base, tmp_path_factory):
    cache: dict[str, Run] = {}
    tmp = tmp_path_factory.mktemp("hostile_runs")

    def get(family: str) -> Run:
        if family not in cache:
            cache[family] = _run_family(family, base, tmp)
        return cache[family]

    yield get
    for run in cache.values():
        run.engine.dispose()


def _check(run: Run, extract: str, column: str) -> None:
    for inj in run.injections[(extract, column)]:
        _check_one(run, inj)


def _check_one(run: Run, inj: Injection) -> None:
    extract, column = inj.extract, inj.column
    result = run.results[extract]
    quarantine = pd.read_parquet(result.quarantine_path)
    staged = pd.read_parquet(result.staged_path)
    raw = pd.read_parquet(raw_file(run.raw, extract, DAY))
    q = quarantine[quarantine["_row_number"] == inj.row_number]
    s = staged[staged["_row_number"] == inj.row_number]
    # the raw zone keeps the value exactly as it arrived
    assert raw.loc[raw["_row_number"] == inj.row_number, column].tolist() == [inj.value]
    if inj.expected:
        assert len(q) == 1 and s.empty, f"{extract}.{column}: row not quarantined"
        got = set(q["_rule_ids"].iloc[0].split(","))
        assert inj.expected <= got, (inj.expected - got, got)
    else:
        assert q.empty, f"{extract}.{column}: accepted value quarantined by {q['_rule_ids'].tolist()}"
        assert len(s) == 1
        from crm.privacy.policy import load_policy

        treatment = load_policy().for_extract(extract)[column].treatment
        if inj.cleaned is not None:
            assert s[column].iloc[0] == inj.cleaned
            assert not re.search(CONTROL_CLASS, s[column].iloc[0])
        elif treatment in ("keep", "scrub"):  # shown as it came: plain data
            assert s[column].iloc[0] == inj.value


def _accounted(run: Run) -> None:
    for name, out in run.ingest.items():
        assert out.status == "accepted", (name, out.reason, out.error)
    for name, r in run.results.items():
        assert r.files["balanced"].all() and r.accepted + r.quarantined == r.parsed == int(run.ingest[name].records)
        assert len(pd.read_parquet(r.staged_path)) == r.accepted
        assert len(pd.read_parquet(r.quarantine_path)) == r.quarantined
        assert not r.unaccounted


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_row_is_accounted_for(runs, family):
    run = runs(family)
    _accounted(run)
    with begin(run.engine) as conn:
        gates = pd.read_sql("select extract, parsed, quarantined, blocked from dq_partition_gates", conn)
    assert sorted(gates["extract"]) == sorted(BY_NAME)
    assert (gates["parsed"] == gates["extract"].map({n: r.parsed for n, r in run.results.items()})).all()


@pytest.mark.parametrize("extract, column", cases("markup"))
def test_markup(runs, extract, column):
    _check(runs("markup"), extract, column)


@pytest.mark.parametrize("extract, column", cases("formula"))
def test_spreadsheet_formulas(runs, extract, column):
    _check(runs("formula"), extract, column)


@pytest.mark.parametrize("extract, column", cases("sql"))
def test_sql_fragments(runs, extract, column):
    _check(runs("sql"), extract, column)


@pytest.mark.parametrize("extract, column", cases("path"))
def test_path_shaped_values(runs, extract, column):
    _check(runs("path"), extract, column)


@pytest.mark.parametrize("extract, column", cases("control"))
def test_control_and_bidi_characters(runs, extract, column):
    _check(runs("control"), extract, column)


@pytest.mark.parametrize("extract, column", cases("email"))
def test_two_addresses_in_one_email_field(runs, extract, column):
    run = runs("email")
    assert [i.value for i in run.injections[(extract, column)]] == FAMILIES["email"]
    _check(run, extract, column)


@pytest.mark.parametrize("family", ["markup", "formula", "sql"])
def test_markup_formulas_and_sql_in_names_and_free_text_are_plain_data(runs, family):
    """Expected to be accepted whenever they fit the column (checked row by row in the family's test)."""
    run = runs(family)
    plain = [
        i
        for injs in run.injections.values()
        for i in injs
        if BY_NAME[i.extract].column(i.column).semantic in ("person_name", "company_name", "free_text")
    ]
    assert len(plain) >= 10
    for inj in plain:
        fits = len(inj.value) <= (BY_NAME[inj.extract].column(inj.column).max_length or 10**6)
        assert (inj.expected == set()) == fits, (inj.extract, inj.column, inj.expected)
    assert sum(not i.expected for i in plain) >= 5


def test_every_family_reaches_ids_names_and_free_text():
    """The cases cover the identifier columns, the personal and company names, addresses, e-mails and the
    free text of every extract (a guard against a contract change silently shrinking the test)."""
    covered = set(cases("markup"))
    for e in EXTRACTS:
        for c in e.columns:
            if c.id_kind or c.semantic in ("person_name", "company_name", "address", "email", "free_text"):
                assert (e.name, c.name) in covered, (e.name, c.name)
    assert len(cases("email")) >= 1


def test_free_text_control_characters_are_counted(runs):
    run = runs("control")
    strip = [i for injs in run.injections.values() for i in injs if i.cleaned is not None]
    assert strip
    for inj in strip:
        r = run.results[inj.extract]
        rows, chars = r.text_stripped[inj.column]
        assert (rows, chars) == (1, 1), (inj.extract, inj.column)
        assert r.summary.set_index("rule_id").loc[f"{inj.extract}.{inj.column}.control_chars", "failed"] == 1
    with begin(run.engine) as conn:
        text = pd.read_sql("select extract, column_name, rows, characters from dq_text_cleaning", conn)
    got = {(e, c): (r, n) for e, c, r, n in text.itertuples(index=False) if r}
    assert got == {(i.extract, i.column): (1, 1) for i in strip}
