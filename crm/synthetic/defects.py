"""Real defects, injected on purpose and listed in ``defects.csv``.

Row-level kinds alter one record each (chosen with probability ``rate`` per record, the kind drawn among those
that apply to the record); file-level kinds corrupt a whole file (chosen with probability ``rate`` per file,
at least one of each kind when there are enough files). Only files that no other extract references (no
foreign key points into them) receive file-level defects, so a rejected file never turns clean rows of
another file into orphans; a file with a file-level defect gets no row-level defects. Defects draw from their
own random streams: the clean data are the same with or without them.

Row-level kinds: a bad check digit, a missing mandatory value, an unknown code, a duplicated key, an orphan
reference, a negative amount, dates out of order, a bad identifier (a path-shaped variant of an id, never of
a key some other extract points at) and a control character (a bidi override, isolate, zero-width space, ESC,
BOM or BEL inserted into a name, address, e-mail or other text column whose policy is ``reject``).

``row_number`` is the record number in the file (the first record after the header is 1).
"""

from __future__ import annotations

import datetime as dt
import mmap
from pathlib import Path

import numpy as np
import pandas as pd

from crm import contract
from crm.contract import Extract
from crm.synthetic import ids
from crm.synthetic.rand import rng

ROW_KINDS = (
    "bad_check_digit",
    "missing_mandatory",
    "unknown_code",
    "duplicate_key",
    "orphan",
    "negative_amount",
    "date_order",
    "bad_identifier",
    "control_character",
)
FILE_KINDS = ("wrong_control_total", "truncated_file", "undecodable_bytes")
CSV_COLUMNS = ("kind", "extract", "file", "business_date", "row_number", "column", "detail")
CHECKED_SEMANTICS = ("id_number", "uscc", "card_number")
# extracts some foreign key points into: never given file-level defects
REFERENCED = {"customers", "corporates"} | {fk.extract for e in contract.EXTRACTS for fk in e.references} - {
    "customer_master"
}
FILE_DEFECT_EXTRACTS = tuple(e.name for e in contract.EXTRACTS if e.name not in REFERENCED)
# (extract, column) of the keys some foreign key points at: never given a bad identifier (that would turn the
# clean rows referring to it into orphans)
REFERENCED_KEYS = {
    (target, ref)
    for e in contract.EXTRACTS
    for fk in e.references
    for target in (contract.CUSTOMER_MASTER if fk.extract == "customer_master" else (fk.extract,))
    for ref in fk.ref_columns
}
# A bad identifier: a path-shaped variant of the real one (prefix or suffix)
BAD_IDENTIFIER_FORMS = (("../", ""), ("/", ""), ("\\", ""), ("", "/.."), ("", "."))
# Control and format characters inserted into names, addresses, e-mails ... (none that str.splitlines or the
# file format treats as a line break): right-to-left override, left-to-right isolate, zero-width space, ESC,
# byte-order mark, BEL
CONTROL_CHARACTERS = ("\u202e", "\u2066", "\u200b", "\x1b", "\ufeff", "\x07")
# preferred when a file-level kind must be forced: extracts that are never empty
ALWAYS_FILLED = ("contacts", "product_holdings", "related_parties", "loan_performance")

# date rules: ("before", column, reference column) or ("after_business_date", column)
DATE_RULES: dict[str, tuple[tuple, ...]] = {
    "branches": (("after_business_date", "opened_date"),),
    "staff": (("after_business_date", "hire_date"),),
    "customers": (("after_business_date", "onboarding_date"),),
    "corporates": (("after_business_date", "onboarding_date"), ("after_business_date", "established_date")),
    "related_parties": (("before", "end_date", "start_date"), ("after_business_date", "start_date")),
    "loans": (("before", "maturity_date", "start_date"), ("after_business_date", "start_date")),
    "repayments": (("after_business_date", "due_date"), ("after_business_date", "paid_date")),
    "loan_performance": (("after_business_date", "snapshot_date"),),
    "deposits": (("before", "close_date", "open_date"), ("after_business_date", "open_date")),
    "deposit_balances": (("after_business_date", "snapshot_date"),),
    "transactions": (("after_business_date", "txn_time"),),
    "txn_monthly": (("after_business_date", "snapshot_date"),),
    "fee_ledger": (("after_business_date", "fee_date"),),
    "product_holdings": (("before", "close_date", "open_date"), ("after_business_date", "open_date")),
    "financial_statements": (
        ("before", "received_date", "report_period"),
        ("after_business_date", "received_date"),
    ),
    "bureau_records": (("after_business_date", "query_date"),),
    "interactions": (("after_business_date", "interaction_time"),),
    "service_requests": (("before", "resolved_time", "opened_time"), ("after_business_date", "opened_time")),
    "surveys": (("before", "response_date", "sent_date"), ("after_business_date", "sent_date")),
    "opportunities": (("before", "outcome_date", "offered_date"), ("after_business_date", "offered_date")),
}


def _null_for(col) -> object:
    return {"string": None, "decimal": np.nan, "int": pd.NA, "date": pd.NaT, "timestamp": pd.NaT}[col.type]


def _orphan_ids(target: str, values: np.ndarray, g: np.random.Generator) -> np.ndarray:
    """Ids of the same shape as ``values`` that no record of ``target`` has: real ids never have '9' as their
    second character (branch numbers stay below 90)."""
    n = len(values)
    if target == "branches":
        return ids.zero_pad("99", g.integers(0, 100, size=n), 2)
    first = pd.Series(values, dtype=object).astype(str)
    length = int(first.str.len().max())
    digits = g.integers(0, 10, size=(n, max(length - 2, 1))) + 48
    tail = ids.digits_to_str(digits)
    return (first.str[0] + "9" + pd.Series(tail, dtype=object)).to_numpy(dtype=object)


def _unknown_code(code_set: str) -> str:
    known = contract.CODE_SETS[code_set]
    return next(c for c in ("ZZ", "X9", "99", "Q") if c not in known)


def _row_eligibility(df: pd.DataFrame, ex: Extract) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Per kind: [(column or rule id, rows where it applies)]."""
    n = len(df)
    notnull = {c: df[c].notna().to_numpy() for c in ex.column_names}
    key = set(ex.key)
    el: dict[str, list[tuple[str, np.ndarray]]] = {k: [] for k in ROW_KINDS}
    for col in ex.columns:
        if col.semantic in CHECKED_SEMANTICS:
            el["bad_check_digit"].append((col.name, notnull[col.name]))
        if not col.nullable and col.name not in key:
            el["missing_mandatory"].append((col.name, notnull[col.name]))
        if col.code_set:
            el["unknown_code"].append((col.name, notnull[col.name]))
        if col.type == "decimal" and col.min_value == 0:
            el["negative_amount"].append((col.name, notnull[col.name]))
        if col.id_kind and (ex.name, col.name) not in REFERENCED_KEYS:
            el["bad_identifier"].append((col.name, notnull[col.name]))
        if col.text == "reject" and not col.id_kind:
            el["control_character"].append((col.name, notnull[col.name]))
    el["duplicate_key"].append(("", np.ones(n, dtype=bool)))
    for fk in ex.references:
        for col in fk.columns:
            el["orphan"].append((f"{col}>{fk.extract}", notnull[col]))
    for i, rule in enumerate(DATE_RULES.get(ex.name, ())):
        if rule[0] == "before":
            el["date_order"].append((f"{i}", notnull[rule[2]]))
        else:
            el["date_order"].append((f"{i}", np.ones(n, dtype=bool)))
    return {k: v for k, v in el.items() if v}


def _frame(rows, kind, extract, file_name, day, column, detail) -> pd.DataFrame:
    n = len(rows)
    return pd.DataFrame(
        {
            "kind": np.full(n, kind, dtype=object),
            "extract": np.full(n, extract, dtype=object),
            "file": np.full(n, file_name, dtype=object),
            "business_date": np.full(n, day, dtype=object),
            "row_number": np.asarray(rows, dtype=np.int64),
            "column": np.full(n, column, dtype=object),
            "detail": np.broadcast_to(np.asarray(detail, dtype=object), (n,)).copy(),
        }
    )


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="Int64" if c == "row_number" else object) for c in CSV_COLUMNS})


def inject_rows(
    df: pd.DataFrame,
    ex: Extract,
    rate: float,
    g: np.random.Generator,
    *,
    file_name: str,
    business_date: dt.date,
    offset: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Alter about ``rate`` of the records of ``df``; returns the new frame and the defects (one row each,
    ``defects.csv`` columns, record numbers counted from ``offset`` + 1)."""
    n = len(df)
    if n == 0 or rate <= 0:
        return df, empty_frame()
    picked = np.flatnonzero(g.random(n) < rate)
    if len(picked) == 0:
        return df, empty_frame()
    el = _row_eligibility(df.iloc[picked], ex)
    kinds = [k for k in ROW_KINDS if k in el]
    # kind per picked row: uniform among the kinds with an applicable column for that row
    ok = np.stack([np.any(np.stack([m for _, m in el[k]], axis=1), axis=1) for k in kinds], axis=1)
    score = np.where(ok, g.random(ok.shape), -1.0)
    kind_idx = np.argmax(score, axis=1)
    valid = score.max(axis=1) >= 0
    picked, kind_idx = picked[valid], kind_idx[valid]
    df = df.copy()
    day = business_date.isoformat()
    parts: list[tuple[np.ndarray, str, str, object]] = []  # (rows, kind, column, detail)
    dup_rows = np.zeros(0, dtype=np.int64)
    for ki, kind in enumerate(kinds):  # loop over the row-level kinds
        sel = np.flatnonzero(kind_idx == ki)
        if len(sel) == 0:
            continue
        rows = picked[sel]
        cands = el[kind]
        # candidate matrix restricted to these rows: el was built on df.iloc[picked]
        m = np.stack([mask[valid][sel] for _, mask in cands], axis=1)
        choice = np.argmax(np.where(m, g.random(m.shape), -1.0), axis=1)
        if kind == "duplicate_key":
            dup_rows = np.sort(rows)
            continue
        for ci, (cname, _) in enumerate(cands):  # loop over the candidate columns
            rr = rows[choice == ci]
            if len(rr) == 0:
                continue
            if kind == "date_order":
                column, detail = _apply_date_rule(df, ex, int(cname), rr, g, business_date)
                parts.append((rr, kind, column, detail))
                continue
            col = cname.split(">")[0]
            column = ex.column(col)
            loc = df.columns.get_loc(col)
            if kind == "bad_check_digit":
                values = df.iloc[rr, loc].to_numpy(dtype=object)
                df.iloc[rr, loc] = ids.corrupt_check_char(values, column.semantic, g.random(len(rr)))
                detail = f"{column.semantic} check character altered"
            elif kind == "missing_mandatory":
                df.iloc[rr, loc] = _null_for(column)
                detail = "mandatory value emptied"
            elif kind == "unknown_code":
                code = _unknown_code(column.code_set)
                df.iloc[rr, loc] = code
                detail = f"{code!r} is not in code set {column.code_set}"
            elif kind == "orphan":
                target = cname.split(">")[1]
                new = _orphan_ids(target, df.iloc[rr, loc].to_numpy(dtype=object), g)
                df.iloc[rr, loc] = new
                detail = new + f" matches no {target} record"
            elif kind == "bad_identifier":
                form = g.integers(0, len(BAD_IDENTIFIER_FORMS), size=len(rr))
                pre = np.array([f[0] for f in BAD_IDENTIFIER_FORMS], dtype=object)[form]
                post = np.array([f[1] for f in BAD_IDENTIFIER_FORMS], dtype=object)[form]
                df.iloc[rr, loc] = pre + df.iloc[rr, loc].to_numpy(dtype=object) + post
                detail = np.where(
                    pre != "", "identifier given a path-shaped prefix", "identifier given a path-shaped suffix"
                ).astype(object)
            elif kind == "control_character":
                pick = g.integers(0, len(CONTROL_CHARACTERS), size=len(rr))
                chars = pd.Series(np.array(CONTROL_CHARACTERS, dtype=object)[pick], dtype=object)
                values = pd.Series(df.iloc[rr, loc].to_numpy(dtype=object), dtype=object)
                df.iloc[rr, loc] = (values.str[:1] + chars + values.str[1:]).to_numpy(dtype=object)
                named = np.array(
                    [f"U+{ord(c):04X} inserted after the first character" for c in CONTROL_CHARACTERS], dtype=object
                )
                detail = named[pick]
            else:  # negative_amount
                v = pd.to_numeric(df.iloc[rr, loc]).to_numpy(dtype=float)
                df.iloc[rr, loc] = np.where(v > 0, -v, -np.round(1 + g.random(len(rr)) * 999, 2))
                detail = "amount made negative"
            parts.append((rr, kind, col, detail))
    # duplicates: a copy of the record right after it; then renumber every record
    if len(dup_rows):
        order = np.sort(np.concatenate([np.arange(n), dup_rows]), kind="stable")
        df = df.iloc[order].reset_index(drop=True)
    shift = np.zeros(n + 1, dtype=np.int64)
    np.add.at(shift, dup_rows + 1, 1)
    shift = np.cumsum(shift)
    frames = [
        _frame(offset + rr + shift[rr] + 1, kind, ex.name, file_name, day, col, detail)
        for rr, kind, col, detail in parts
    ]
    if len(dup_rows):
        original = offset + dup_rows + shift[dup_rows] + 1
        frames.append(
            _frame(
                original + 1,
                "duplicate_key",
                ex.name,
                file_name,
                day,
                ", ".join(ex.key),
                "same key as record " + original.astype(str).astype(object),
            )
        )
    if not frames:
        return df, empty_frame()
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["row_number", "kind"], kind="stable").reset_index(drop=True)
    return df, out


def _apply_date_rule(
    df: pd.DataFrame, ex: Extract, i: int, rows: np.ndarray, g: np.random.Generator, business_date: dt.date
) -> tuple[str, str]:
    rule = DATE_RULES[ex.name][i]
    col = rule[1]
    loc = df.columns.get_loc(col)
    kind = ex.column(col).type
    days = g.integers(1, 400, size=len(rows))
    if rule[0] == "before":
        ref = pd.to_datetime(df.iloc[rows, df.columns.get_loc(rule[2])]).to_numpy()
        new = ref - days.astype("timedelta64[D]").astype("timedelta64[ns]")
        detail = f"{col} before {rule[2]}"
    else:
        base = np.datetime64(business_date, "ns")
        later = g.integers(1, 60, size=len(rows)).astype("timedelta64[D]").astype("timedelta64[ns]")
        new = base + later
        if kind == "timestamp":
            new = new + (g.integers(0, 86400, size=len(rows))).astype("timedelta64[s]").astype("timedelta64[ns]")
        detail = f"{col} after the business date"
    df.iloc[rows, loc] = new
    return col, detail


# ============================================================================================ file level


def plan_files(files: list[tuple[dt.date, str]], rate: float, seed: int) -> dict[tuple[dt.date, str], str]:
    """Which files get which file-level defect."""
    if rate <= 0:
        return {}
    g = rng(seed, "defects", "files")
    eligible = [f for f in files if f[1] in FILE_DEFECT_EXTRACTS]
    plan: dict[tuple[dt.date, str], str] = {}
    for f in eligible:  # a loop over files
        if g.random() < rate:
            plan[f] = FILE_KINDS[int(g.integers(0, len(FILE_KINDS)))]
    if len(eligible) >= len(FILE_KINDS):
        # a kind that corrupts records (truncated, undecodable) counts only on a file sure to have records: on an
        # empty one apply_file falls back to a wrong control total
        placed = {k for f, k in plan.items() if k == "wrong_control_total" or f[1] in ALWAYS_FILLED}
        for kind in FILE_KINDS:
            if kind in placed:
                continue
            free = [f for f in eligible if f not in plan and f[1] in ALWAYS_FILLED] or [
                f for f in eligible if f not in plan
            ]
            if not free:
                # take one from the commonest kind
                counts = {k: list(plan.values()).count(k) for k in FILE_KINDS}
                common = max(counts, key=counts.get)
                free = [f for f, k in plan.items() if k == common and counts[common] > 1]
                if not free:
                    continue
            plan[free[int(g.integers(0, len(free)))]] = kind
    return plan


def _record_offsets(mm: mmap.mmap, records: list[int]) -> dict[int, tuple[int, int]]:
    """(start, end) byte offsets of the given record numbers (record r is line r; the header is line 0)."""
    want = sorted(set(records))
    out: dict[int, tuple[int, int]] = {}
    block = 1 << 26
    line = 0  # lines ended before this block
    pos = 0
    size = len(mm)
    last_nl = -1
    wi = 0
    while pos < size and wi < len(want):
        chunk = np.frombuffer(mm[pos : pos + block], dtype=np.uint8)
        nl = np.flatnonzero(chunk == 10) + pos
        while wi < len(want):
            r = want[wi]
            # record r starts after newline number r (1-based) and ends at newline number r + 1
            i_start = r - 1 - line  # index in nl of the newline that ends line r - 1
            i_end = r - line
            if i_end >= len(nl):
                break
            start = (nl[i_start] if i_start >= 0 else last_nl) + 1
            out[r] = (int(start), int(nl[i_end]))
            wi += 1
        if len(nl):
            last_nl = int(nl[-1])
        line += len(nl)
        pos += block
    return out


def apply_file(
    path: Path, ex: Extract, kind: str, records: int, g: np.random.Generator, business_date: dt.date
) -> pd.DataFrame:
    """Corrupt a written file; returns its one-row defect listing."""
    day = business_date.isoformat()
    if kind in ("truncated_file", "undecodable_bytes") and records < 1:
        kind = "wrong_control_total"
    tmp = path.with_suffix(".dat.part")
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        size = len(mm)
        first_nl = mm.find(b"\n")
        header = mm[:first_nl].decode("ascii")
        body_end = mm.rfind(b"\n", 0, size - 1) + 1  # start of the trailer line
        trailer = mm[body_end : size - 1].decode("ascii")
        with open(tmp, "wb") as out:
            if kind == "wrong_control_total":
                h = header.split("|")
                tr = trailer.split("|")
                variants = ["header_count", "trailer_count"] + (
                    ["header_sum", "trailer_sum"] if ex.control_sum_column else []
                )
                v = variants[int(g.integers(0, len(variants)))]
                delta = int(g.integers(1, 6))
                if v == "header_count":
                    old, h[5] = h[5], str(int(h[5]) + delta)
                    detail = f"header record count {old} -> {h[5]}"
                elif v == "trailer_count":
                    old, tr[1] = tr[1], str(int(tr[1]) + delta)
                    detail = f"trailer record count {old} -> {tr[1]}"
                else:
                    target = h if v == "header_sum" else tr
                    i = 7 if v == "header_sum" else 2
                    old = target[i]
                    whole, _, frac = old.partition(".")
                    target[i] = f"{int(whole) + delta}.{frac}" if frac else str(int(whole) + delta)
                    detail = f"{v.replace('_', ' ')} {old} -> {target[i]}"
                out.write(("|".join(h) + "\n").encode("ascii"))
                out.write(mm[first_nl + 1 : body_end])
                out.write(("|".join(tr) + "\n").encode("ascii"))
                row = None
            elif kind == "truncated_file":
                r = int(g.integers(max(1, records // 2), records + 1))
                start, end = _record_offsets(mm, [r])[r]
                cut = start + 1 + int(g.integers(0, max(end - start - 1, 1)))
                cut = min(cut, end - 1) if end - start > 1 else start + 1
                out.write(mm[:cut])
                detail = f"file cut inside record {r} at byte {cut} of {size}; trailer missing"
                row = None
            else:
                r = int(g.integers(1, records + 1))
                start, end = _record_offsets(mm, [r])[r]
                bar = mm.find(b"|", start, end)
                at = bar + 1 if bar >= 0 else start + 1
                out.write(mm[:at])
                out.write(b"\xff")
                out.write(mm[at:])
                detail = f"byte 0xFF (invalid in {header.split('|')[4]}) inserted at byte offset {at}"
                row = r
    tmp.replace(path)
    out = _frame([row if row is not None else 0], kind, ex.name, path.name, day, "", detail)
    out["row_number"] = pd.array([row], dtype="Int64")
    return out


def write_csv(path: Path, frames: list[pd.DataFrame]) -> None:
    frames = [f for f in frames if len(f)]
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame()
    frame["row_number"] = frame["row_number"].astype("Int64")
    frame[list(CSV_COLUMNS)].to_csv(path, index=False, lineterminator="\n")
