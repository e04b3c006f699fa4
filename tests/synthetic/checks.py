"""An independent rule checker for generated extracts, used by the tests: it parses every file with the ingest
parser and lists every record that breaks a contract rule, so a test can compare that list with defects.csv.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from stdnum import luhn
from stdnum.cn import ric, uscc

from crm import contract
from crm.ingest.fileformat import ExtractRejected, FileName, read_extract
from crm.synthetic.defects import DATE_RULES

# further order and "nothing in the future" rules a bank's quality suite applies (earlier, later)
ORDER = {
    "customers": (("birth_date", "onboarding_date"),),
    "corporates": (("established_date", "onboarding_date"),),
    "related_parties": (("start_date", "end_date"),),
    "loans": (("start_date", "maturity_date"),),
    "deposits": (("open_date", "maturity_date"), ("open_date", "close_date")),
    "product_holdings": (("open_date", "close_date"),),
    "financial_statements": (("report_period", "received_date"),),
    "bureau_records": (("first_credit_date", "query_date"),),
    "interactions": (("interaction_time", "next_visit_date"),),
    "service_requests": (
        ("opened_time", "first_response_time"),
        ("opened_time", "resolved_time"),
        ("first_response_time", "resolved_time"),
    ),
    "surveys": (("sent_date", "response_date"),),
    "opportunities": (("offered_date", "outcome_date"),),
}
NOT_FUTURE = {
    "customers": ("birth_date",),
    "deposits": ("close_date",),
    "product_holdings": ("close_date",),
    "financial_statements": ("report_period",),
    "bureau_records": ("first_credit_date",),
    "service_requests": ("first_response_time", "resolved_time"),
    "surveys": ("response_date",),
    "opportunities": ("offered_date", "outcome_date"),
}

VALIDATORS = {
    "id_number": ric.is_valid,
    "uscc": uscc.is_valid,
    "card_number": lambda v: luhn.is_valid(v) and 16 <= len(v) <= 19,
}


@dataclass
class DayResult:
    day: dt.date
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # extract -> file name
    rejected: dict[str, ExtractRejected] = field(default_factory=dict)  # file name -> error
    violations: set[tuple[str, int, str]] = field(default_factory=set)  # (file, row, rule)


def parse_day(folder: Path) -> DayResult:
    day = dt.datetime.strptime(folder.name, "%Y%m%d").date()
    res = DayResult(day)
    for f in sorted(folder.glob("*.dat")):
        ex = contract.BY_FILE_CODE[FileName.parse(f.name).file_code]
        assert f.with_suffix(".ok").exists(), f"{f.name} has no .ok flag"
        res.files[ex.name] = f.name
        try:
            parsed = read_extract(f, ex)
        except ExtractRejected as e:
            res.rejected[f.name] = e
            continue
        df = parsed.table.to_pandas()
        assert parsed.type_error_rows == 0, f"{f.name}: values that do not parse as their contract type"
        res.tables[ex.name] = df
    return res


def _day(df: pd.DataFrame, ex, col: str) -> pd.Series:
    s = pd.to_datetime(df[col])
    return s.dt.normalize() if ex.column(col).type == "timestamp" else s


def check_day(res: DayResult) -> set[tuple[str, int, str]]:
    """Every (file, record number, rule) that breaks the contract on this day."""
    out: set[tuple[str, int, str]] = set()
    t = pd.Timestamp(res.day)
    keys = {n: df for n, df in res.tables.items()}
    master = set()
    for n in contract.CUSTOMER_MASTER:
        if n in keys:
            master |= set(keys[n]["customer_id"].dropna())

    def flag(name, mask, rule):
        df = keys[name]
        for r in df.loc[np.asarray(mask, dtype=bool), "_row_number"]:
            out.add((res.files[name], int(r), rule))

    for name, df in keys.items():
        ex = contract.get(name)
        for c in ex.columns:
            s = df[c.name]
            present = s.notna().to_numpy()
            if not c.nullable:
                flag(name, ~present, f"null:{c.name}")
            if c.code_set:
                flag(name, present & ~s.isin(list(contract.CODE_SETS[c.code_set])).to_numpy(), f"code:{c.name}")
            if c.semantic in VALIDATORS:
                ok = np.array([VALIDATORS[c.semantic](v) if v is not None else True for v in s], dtype=bool)
                flag(name, ~ok, f"check:{c.name}")
            if c.type in ("int", "decimal"):
                v = pd.to_numeric(s).to_numpy(dtype=float)
                if c.min_value is not None:
                    flag(name, present & (v < c.min_value), f"min:{c.name}")
                if c.max_value is not None:
                    flag(name, present & (v > c.max_value), f"max:{c.name}")
            if c.max_length:
                lengths = s.astype("string").str.len().fillna(0).to_numpy(dtype=np.int64)
                flag(name, present & (lengths > c.max_length), f"len:{c.name}")
            if c.id_kind:  # the whole value has the shape of one of its kinds
                kinds = contract.identifier_kinds()
                ok = np.array(
                    [v is None or any(re.fullmatch(kinds[k].pattern, v) for k in c.id_kind) for v in s], dtype=bool
                )
                flag(name, ~ok, f"id:{c.name}")
            if c.text == "reject":  # control and format characters, by Unicode category
                ok = np.array(
                    [
                        v is None
                        or not any(unicodedata.category(ch) in ("Cc", "Cf") or ch in "\u2028\u2029" for ch in v)
                        for v in s
                    ],
                    dtype=bool,
                )
                flag(name, ~ok, f"control:{c.name}")
        dup = df.duplicated(list(ex.key), keep=False).to_numpy()
        flag(name, dup, "duplicate_key")
        for fk in ex.references:
            if fk.extract == "customer_master":
                ref = master
            elif fk.extract in keys:
                ref = set(keys[fk.extract][fk.ref_columns[0]].dropna())
            else:
                continue
            v = df[fk.columns[0]]
            flag(name, v.notna().to_numpy() & ~v.isin(ref).to_numpy(), f"orphan:{fk.columns[0]}")

        for earlier, later in ORDER.get(name, ()):
            a, b = pd.to_datetime(df[earlier]), pd.to_datetime(df[later])
            if ex.column(earlier).type != ex.column(later).type:
                a, b = _day(df, ex, earlier), _day(df, ex, later)
            flag(name, (a.notna() & b.notna() & (a > b)).to_numpy(), f"order:{earlier}<={later}")
        for col in NOT_FUTURE.get(name, ()):
            flag(name, (_day(df, ex, col) > t).fillna(False).to_numpy(dtype=bool), f"future:{col}")
        for rule in DATE_RULES.get(name, ()):
            col = pd.to_datetime(df[rule[1]])
            if rule[0] == "before":
                ref = pd.to_datetime(df[rule[2]])
                bad = col.notna() & ref.notna() & (col < ref)
            else:
                limit = t + pd.Timedelta(days=1) if ex.column(rule[1]).type == "timestamp" else t
                bad = col.notna() & ((col >= limit) if ex.column(rule[1]).type == "timestamp" else (col > limit))
            flag(name, bad.to_numpy(), f"date:{rule[1]}")
    return out
