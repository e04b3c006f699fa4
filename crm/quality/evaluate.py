"""Evaluate the rules on the parsed rows of one business date, in plain vectorised pandas.

Input: ``frames``, extract name -> DataFrame of the raw zone (contract columns typed, null where a value did
not parse, plus the lineage columns ``_source_file``, ``_row_number``, ``_type_errors``...). Output, per
extract: an :class:`Evaluation` holding one boolean "failed" column per rule, aligned with the input rows.

:func:`crm.quality.gx.evaluate_gx` evaluates the same rules with Great Expectations and returns the same
structure; a test proves the two give identical failing rows. The split of the work:

- rules whose ``kind`` GX expresses natively (``Rule.native``) are written here independently, mirroring
  the semantics of the GX expectation (nulls ignored, every duplicate of a key fails...);
- the others (check digits, references across extracts, comparisons between columns or with the business
  date) are computed once by :func:`derived_ok`, a vectorised pandas/numpy function; the pandas evaluator
  uses it directly and the GX evaluator validates its output as a derived boolean column.

No function loops over rows in Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crm.contract import BY_NAME, Extract
from crm.quality import checks
from crm.quality.rules import Rule, build_rules

LINEAGE = ("_source_file", "_sha256", "_row_number", "_business_date", "_type_errors")


@dataclass
class Evaluation:
    """The verdict of every rule on every row of one extract.

    ``failed``: boolean DataFrame, same index and order as the input rows, one column per evaluated rule id
    (sorted). ``skipped``: rule id -> reason, for rules that could not be evaluated (a referenced extract of
    the same business date is absent). ``engine``: "pandas" or "gx". ``gx_result``: the JSON-able GX
    validation result (no raw value in it), for the GX engine.
    """

    extract: str
    rows: int
    failed: pd.DataFrame
    rules: list[Rule]
    skipped: dict[str, str] = field(default_factory=dict)
    engine: str = "pandas"
    gx_result: dict | None = None

    def failing_rows(self, rule_id: str) -> np.ndarray:
        """Positions (0-based) of the rows failing ``rule_id``."""
        return np.flatnonzero(self.failed[rule_id].to_numpy())


def as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value)
    return dt.datetime.strptime(text, "%Y%m%d" if len(text) == 8 else "%Y-%m-%d").date()


def _as_datetime(s: pd.Series) -> pd.Series:
    """Dates/timestamps as datetime64[s] (any unit kept when already datetime64), nulls as NaT.
    ``datetime.date`` objects (Arrow date32 read into pandas) go through Arrow, which is fast and has no
    nanosecond range limit (9999-12-31 stays a date)."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s
    values = s.to_numpy(dtype=object)
    try:
        arr = pa.array(values, from_pandas=True)
        if pa.types.is_null(arr.type):
            arr = arr.cast(pa.timestamp("s"))
        out = arr.cast(pa.timestamp("s"), safe=False).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        out = pd.to_datetime(s, errors="coerce").to_numpy()
    return pd.Series(out, index=s.index, name=s.name)


def prepare(frame: pd.DataFrame, extract: Extract) -> pd.DataFrame:
    """The columns the rules read, in the dtypes both evaluators expect, on a fresh ``RangeIndex``: strings
    as objects (None for null), numbers as float64, dates and timestamps as datetime64, ``_row_number``
    int64 (1..n when absent), ``_source_file`` and ``_type_errors`` objects (all null when absent). The
    input frame is not modified."""
    missing = [c for c in extract.column_names if c not in frame.columns]
    if missing:
        raise KeyError(f"{extract.name}: columns of the contract missing from the frame: {missing}")
    n = len(frame)
    out: dict[str, object] = {}
    for c in extract.columns:
        s = frame[c.name]
        if c.type in ("string", "bool"):
            out[c.name] = s.to_numpy() if s.dtype == object else s.astype(object).where(s.notna(), None).to_numpy()
        elif c.type in ("int", "decimal"):
            out[c.name] = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        else:
            out[c.name] = _as_datetime(s).to_numpy()
    none = np.full(n, None, dtype=object)
    out["_row_number"] = (
        frame["_row_number"].to_numpy(dtype="int64")
        if "_row_number" in frame.columns
        else np.arange(1, n + 1, dtype="int64")
    )
    out["_source_file"] = frame["_source_file"].to_numpy(dtype=object) if "_source_file" in frame.columns else none
    out["_type_errors"] = (
        frame["_type_errors"].astype(object).where(frame["_type_errors"].notna(), None).to_numpy()
        if "_type_errors" in frame.columns
        else none
    )
    return pd.DataFrame(out, index=pd.RangeIndex(n), copy=False)  # no block consolidation: read-only use


def _lengths(s: pd.Series) -> np.ndarray:
    """Length in characters (code points, as ``len(str)``) of each value; 0 for null. Arrow's kernel when the
    values are strings, else ``astype(str)`` as GX does."""
    try:
        arr = pa.array(s.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return s.astype(str).str.len().where(s.notna(), 0).to_numpy(dtype=np.int64)
    return pc.utf8_length(arr).fill_null(0).to_numpy(zero_copy_only=False)


def _on_present(s: pd.Series, present: np.ndarray, test) -> np.ndarray:
    """``test`` applied to the non-null values only, as a full-length boolean array (False on nulls)."""
    out = np.zeros(len(s), dtype=bool)
    if present.any():
        out[present] = test(s[present]).to_numpy(dtype=bool)
    return out


# ------------------------------------------------------------------------------ references across extracts


def reference_keys(frames: Mapping[str, pd.DataFrame], rule: Rule, cache: dict | None = None) -> pd.Index | None:
    """The key values a reference rule may point to, from the extracts of the same business date, or None
    when a referenced extract is absent (``customer_master`` needs both customers and corporates).
    ``cache`` (one dict per evaluation run) avoids rebuilding the customer master for every extract."""
    targets = rule.params["targets"]
    ref_cols = rule.params["ref_columns"]
    if any(t not in frames for t in targets):
        return None
    token = (tuple(targets), tuple(ref_cols), tuple(id(frames[t]) for t in targets))
    if cache is not None and token in cache:
        return cache[token]
    parts = []
    for t in targets:
        df = frames[t]
        if len(ref_cols) == 1:
            parts.append(pd.Index(df[ref_cols[0]].dropna().unique()))
        else:
            parts.append(pd.MultiIndex.from_frame(df[ref_cols].dropna()).unique())
    keys = parts[0]
    for part in parts[1:]:
        keys = keys.append(part)
    keys = keys.unique()
    if cache is not None:
        cache[token] = keys
    return keys


def skipped_reason(frames: Mapping[str, pd.DataFrame], rule: Rule, business_date: dt.date | None = None) -> str | None:
    """Why a rule is not evaluated on these frames of ``business_date``, or None: it is not in force on that
    date (it reads a column the bank sends only from a later date), or a referenced extract is absent."""
    if business_date is not None and not rule.in_force(business_date):
        return f"not in force before {rule.since}: files of earlier business dates do not carry its column"
    if rule.kind != "reference":
        return None
    absent = [t for t in rule.params["targets"] if t not in frames]
    return f"referenced extract absent for the business date: {', '.join(absent)}" if absent else None


# ------------------------------------------------------------------------------ derived (non-native) rules


def _day(s: pd.Series) -> np.ndarray:
    return s.to_numpy(dtype="datetime64[s]").astype("datetime64[D]")


def _when(df: pd.DataFrame, rule: Rule) -> np.ndarray:
    """Rows the rule applies to (``params['when']``: column -> required value)."""
    ok = np.ones(len(df), dtype=bool)
    for col, value in rule.params.get("when", {}).items():
        ok &= (df[col] == value).to_numpy(dtype=bool)
    return ok


def _cents(s: pd.Series) -> np.ndarray:
    return np.rint(s.to_numpy(dtype="float64") * 100)


def derived_ok(
    df: pd.DataFrame,
    rule: Rule,
    business_date: dt.date,
    frames: Mapping[str, pd.DataFrame] | None = None,
    cache: dict | None = None,
) -> np.ndarray:
    """For a non-native rule: a boolean array, True where the row passes (a row the rule does not apply to,
    or whose values are null, passes). ``df`` is a :func:`prepare`-d frame; ``frames`` the raw frames of the
    business date (for references). Vectorised: no loop over rows."""
    k = rule.kind
    p = rule.params
    n = len(df)
    if k in ("gb11643", "gb32100", "luhn"):
        col = rule.columns[0]
        s = df[col]
        present = s.notna().to_numpy()
        if k == "gb11643":
            valid = checks.valid_gb11643(s)
        elif k == "gb32100":
            valid = checks.valid_gb32100(s)
        else:
            valid = checks.valid_luhn(s, p["min_length"], p["max_length"])
        return ~(present & _when(df, rule) & ~valid)
    if k == "reference":
        keys = reference_keys(frames or {}, rule, cache)
        if keys is None:
            raise LookupError(skipped_reason(frames or {}, rule))
        cols = list(rule.columns)
        present = df[cols].notna().all(axis=1).to_numpy()
        # get_indexer probes the key index's hash table, built once per index (and cached with it)
        target = pd.Index(df[cols[0]]) if len(cols) == 1 else pd.MultiIndex.from_frame(df[cols])
        found = keys.get_indexer(target) >= 0
        return ~(present & ~found)
    if k == "date_order":
        a, b = df[p["earlier"]], df[p["later"]]
        both = (a.notna() & b.notna()).to_numpy()
        e = BY_NAME[rule.extract]
        # two timestamps compare to the second; as soon as one side is a date, compare days
        date_level = {e.column(p["earlier"]).type, e.column(p["later"]).type} != {"timestamp"}
        av, bv = (_day(a), _day(b)) if date_level else (a.to_numpy("datetime64[s]"), b.to_numpy("datetime64[s]"))
        bad = (av >= bv) if p["strict"] else (av > bv)
        return ~(both & bad)
    if k == "not_after_business_date":
        s = df[p["column"]]
        present = s.notna().to_numpy()
        return ~(present & (_day(s) > np.datetime64(business_date, "D")))
    if k == "not_greater":
        v, lim = df[p["value"]], df[p["limit"]]
        both = (v.notna() & lim.notna()).to_numpy()
        return ~(both & (_cents(v) > _cents(lim)))
    if k == "not_equal":
        a, b = df[p["column"]], df[p["other"]]
        return ~(a.notna() & b.notna() & (a == b)).to_numpy(dtype=bool)
    if k == "required_when":
        applies = df[p["when_column"]].isin(p["when_values"]).to_numpy(dtype=bool)
        return ~(applies & df[p["column"]].isna().to_numpy())
    if k == "five_class":
        codes = pd.Categorical(df[p["class_column"]], categories=["1", "2", "3", "4", "5"]).codes
        od = df[p["overdue_column"]].to_numpy(dtype="float64")
        floor = np.ones(n)
        for days, klass in p["floor"]:  # four thresholds, not rows
            floor = np.where(od > days, klass, floor)
        known = (codes >= 0) & ~np.isnan(od)
        cls = codes + 1
        return ~(known & (cls < floor))
    if k == "balance_identity":
        a, liab, eq = (df[p[x]].to_numpy(dtype="float64") for x in ("assets", "liabilities", "equity"))
        known = ~np.isnan(a) & ~np.isnan(liab) & ~np.isnan(eq)
        with np.errstate(invalid="ignore"):  # compared in cents, exact for any realistic amount
            bad = np.abs(np.rint(a * 100) - np.rint(liab * 100) - np.rint(eq * 100)) > round(p["tolerance"] * 100)
        return ~(known & bad)
    if k == "id_birth_date":
        shaped, born = checks.gb11643_birth_dates(df[p["id_column"]])
        birth = df[p["birth_column"]]
        applies = shaped & ~np.isnat(born) & birth.notna().to_numpy() & _when(df, rule)
        return ~(applies & (_day(birth) != born))
    if k == "id_gender":
        shaped, odd = checks.gb11643_sex_digit_odd(df[p["id_column"]])
        g = df[p["gender_column"]]
        known = g.isin([p["male"], p["female"]]).to_numpy()
        male = (g == p["male"]).to_numpy()
        return ~(shaped & known & _when(df, rule) & (male != odd))
    raise ValueError(f"{rule.id}: no derived evaluation for kind {k!r}")


# ------------------------------------------------------------------------------ native rules, pandas side


def native_failed(df: pd.DataFrame, rule: Rule) -> np.ndarray:
    """Failed mask of a GX-native rule, computed in pandas with the semantics of the GX expectation."""
    k = rule.kind
    p = rule.params
    if k == "not_null":  # ExpectColumnValuesToNotBeNull
        return df[rule.columns[0]].isna().to_numpy()
    if k in ("type", "field_count"):  # ExpectColumnValuesToNotMatchRegex on _type_errors, nulls ignored
        s = df["_type_errors"]
        return _on_present(s, s.notna().to_numpy(), lambda v: v.astype(str).str.contains(p["regex"], regex=True))
    s = df[rule.columns[0]]
    present = s.notna().to_numpy()
    if k == "in_set":  # ExpectColumnValuesToBeInSet
        return present & ~s.isin(p["values"]).to_numpy()
    if k == "between":  # ExpectColumnValuesToBeBetween (inclusive)
        v = s.to_numpy(dtype="float64")
        bad = np.zeros(len(v), dtype=bool)
        with np.errstate(invalid="ignore"):
            if p["min_value"] is not None:
                bad |= v < p["min_value"]
            if p["max_value"] is not None:
                bad |= v > p["max_value"]
        return present & bad
    if k == "max_length":  # ExpectColumnValueLengthsToBeBetween(max_value=...): length of str(value)
        return present & (_lengths(s) > p["max_length"])
    if k == "regex":  # ExpectColumnValuesToMatchRegex
        return _on_present(s, present, lambda v: ~v.astype(str).str.contains(p["regex"], regex=True))
    if k == "not_regex":  # ExpectColumnValuesToNotMatchRegex
        return _on_present(s, present, lambda v: v.astype(str).str.contains(p["regex"], regex=True))
    if k == "unique":  # ExpectColumnValuesToBeUnique / ExpectCompoundColumnsToBeUnique(any missing ignored)
        cols = list(rule.columns)
        complete = df[cols].notna().all(axis=1).to_numpy()
        dup = np.zeros(len(df), dtype=bool)
        sub = df.loc[complete, cols]
        dup[complete] = (sub[cols[0]] if len(cols) == 1 else sub).duplicated(keep=False).to_numpy()
        return dup
    raise ValueError(f"{rule.id}: kind {k!r} is not native")


# ------------------------------------------------------------------------------ the pandas evaluator


def _select(frames: Mapping[str, pd.DataFrame], extracts: Iterable[str] | None) -> list[str]:
    names = list(frames) if extracts is None else list(extracts)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise KeyError(f"unknown extracts: {unknown}")
    return names


def evaluate_extract_pandas(
    extract: str,
    frames: Mapping[str, pd.DataFrame],
    business_date: dt.date | str,
    rules: list[Rule] | None = None,
    cache: dict | None = None,
) -> Evaluation:
    """Evaluate the rules of one extract (``frames[extract]``) with plain pandas; see :func:`evaluate_pandas`."""
    day = as_date(business_date)
    e = BY_NAME[extract]
    frame = frames[extract]
    rules = [r for r in (rules if rules is not None else build_rules([extract])) if r.extract == extract]
    df = prepare(frame, e)
    failed: dict[str, np.ndarray] = {}
    skipped: dict[str, str] = {}
    for rule in rules:  # a loop over rules (tens), each vectorised over all rows
        reason = skipped_reason(frames, rule, day)
        if reason:
            skipped[rule.id] = reason
            continue
        failed[rule.id] = native_failed(df, rule) if rule.native else ~derived_ok(df, rule, day, frames, cache)
    ordered = sorted(failed)
    out = pd.DataFrame({r: failed[r] for r in ordered}, index=pd.RangeIndex(len(frame)), columns=ordered)
    out = out.astype(bool)
    out.index = frame.index
    return Evaluation(
        extract, len(frame), out, [r for r in rules if r.id in failed or r.id in skipped], skipped, "pandas"
    )


def evaluate_pandas(
    frames: Mapping[str, pd.DataFrame],
    business_date: dt.date | str,
    *,
    extracts: Iterable[str] | None = None,
    rules: list[Rule] | None = None,
) -> dict[str, Evaluation]:
    """Evaluate every rule of every extract in ``frames`` (or of ``extracts`` only) with plain pandas.

    ``frames`` holds the raw rows of one business date, extract name -> DataFrame; references are checked
    against the other frames. Returns extract name -> :class:`Evaluation`.
    """
    cache: dict = {}
    return {
        name: evaluate_extract_pandas(name, frames, business_date, rules, cache) for name in _select(frames, extracts)
    }
