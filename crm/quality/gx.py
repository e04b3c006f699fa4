"""Evaluate the rules with Great Expectations 1.x, on a pandas DataFrame batch, in an ephemeral context.

Suites are built in code from :mod:`crm.quality.rules` (one suite per extract, one expectation per rule, the
rule id, family and severity in the expectation). ``great_expectations`` is imported inside the functions
only: importing this module costs nothing.

How each rule becomes an expectation:

- native expectations where GX has one: ``not_null`` -> ExpectColumnValuesToNotBeNull; ``in_set`` ->
  ExpectColumnValuesToBeInSet; ``between`` -> ExpectColumnValuesToBeBetween; ``max_length`` ->
  ExpectColumnValueLengthsToBeBetween; ``regex`` (mobile, e-mail, identifier patterns) ->
  ExpectColumnValuesToMatchRegex; ``not_regex`` (control and format characters in text) ->
  ExpectColumnValuesToNotMatchRegex;
  ``unique`` -> ExpectColumnValuesToBeUnique / ExpectCompoundColumnsToBeUnique; ``type`` and
  ``field_count`` -> ExpectColumnValuesToNotMatchRegex on the parser's ``_type_errors`` column;
- rules GX cannot express natively -- check digits (GB 11643, GB 32100, Luhn), references to the other
  extracts of the business date, comparisons between columns (date order, balance vs contract amount,
  balance-sheet identity, five-category class vs overdue days, ID vs birth date and gender) and with the
  business date -- are computed vectorised in pandas by :func:`crm.quality.evaluate.derived_ok` into a
  derived boolean column ``dq__<rule id>`` (True = the row passes), which GX validates with the native
  ExpectColumnValuesToBeInSet(value_set=[True]). The derived column is the only thing GX sees of them.

A rule that reads a column the bank sends only from a date (its ``since``) is not evaluated on a business date
before it (reported as skipped, like the pandas engine); when several dates are validated at once
(:func:`evaluate_days_gx`), its expectation carries a row condition on the date's position.

Results use ``result_format`` COMPLETE with ``unexpected_index_column_names=["_row_number"]`` (plus
``_source_file`` when a frame holds several files) and ``exclude_unexpected_values: True``: GX reports the
row numbers that failed and never a value from the data. Frames above :data:`NARROW_BATCH_ROWS` rows are
validated in several narrow batches (one per set of columns the rules read), merged into one suite result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from crm.contract import BY_NAME
from crm.quality.evaluate import Evaluation, _select, as_date, derived_ok, prepare, skipped_reason
from crm.quality.rules import Rule, build_rules, suite_version


def derived_column(rule: Rule) -> str:
    """Name of the derived boolean column that carries a non-native rule into GX."""
    return "dq__" + rule.id.replace(".", "__")


def result_format(index_columns: list[str]) -> dict[str, Any]:
    return {
        "result_format": "COMPLETE",
        "unexpected_index_column_names": list(index_columns),
        "exclude_unexpected_values": True,
        "return_unexpected_index_query": False,  # the pandas "query" would only repeat the row index
        "partial_unexpected_count": 0,
    }


def expectation_for(rule: Rule):
    """The GX expectation of one rule (import of GX inside)."""
    import great_expectations.expectations as gxe

    kw: dict[str, Any] = {
        "meta": {"rule_id": rule.id, "extract": rule.extract, "family": rule.family, "native": rule.native},
        "severity": rule.severity,
        "description": rule.description,
    }
    p = rule.params
    k = rule.kind
    col = rule.columns[0]
    if "from_dq_day" in p:  # several business dates at once, the rule in force on the later ones only
        from great_expectations.expectations.row_conditions import Column

        kw["row_condition"] = Column("_dq_day") >= p["from_dq_day"]
    if not rule.native:
        # derived boolean column computed in pandas (check digits, references, cross-column comparisons)
        return gxe.ExpectColumnValuesToBeInSet(column=derived_column(rule), value_set=[True], **kw)
    if k == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=col, **kw)
    if k in ("type", "field_count"):
        return gxe.ExpectColumnValuesToNotMatchRegex(column="_type_errors", regex=p["regex"], **kw)
    if k == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(column=col, value_set=list(p["values"]), **kw)
    if k == "between":
        return gxe.ExpectColumnValuesToBeBetween(column=col, min_value=p["min_value"], max_value=p["max_value"], **kw)
    if k == "max_length":
        return gxe.ExpectColumnValueLengthsToBeBetween(column=col, max_value=p["max_length"], **kw)
    if k == "regex":
        return gxe.ExpectColumnValuesToMatchRegex(column=col, regex=p["regex"], **kw)
    if k == "not_regex":
        return gxe.ExpectColumnValuesToNotMatchRegex(column=col, regex=p["regex"], **kw)
    if k == "unique":
        if len(rule.columns) == 1:
            return gxe.ExpectColumnValuesToBeUnique(column=col, **kw)
        return gxe.ExpectCompoundColumnsToBeUnique(
            column_list=list(rule.columns), ignore_row_if="any_value_is_missing", **kw
        )
    raise ValueError(f"{rule.id}: no expectation for kind {k!r}")


def build_suite(extract: str, rules: Iterable[Rule] | None = None, version: str | None = None):
    """The expectation suite of one extract, built in code from its rules (``version``: the suite version to
    record, by default that of ``rules``)."""
    import great_expectations as gx

    rules = [r for r in (rules if rules is not None else build_rules([extract])) if r.extract == extract]
    suite = gx.ExpectationSuite(
        name=f"crm.{extract}",
        meta={"suite_version": version or suite_version(extract, rules), "extract": extract},
    )
    for rule in rules:
        suite.add_expectation(expectation_for(rule))
    return suite


def ephemeral_config():
    """The configuration of an in-memory GX context: no files, no analytics, no progress bars."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    return DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )


def ephemeral_context():
    """An in-memory GX context (:func:`ephemeral_config`)."""
    import great_expectations as gx

    return gx.get_context(mode="ephemeral", project_config=ephemeral_config())


def whole_dataframe(context):
    """The whole-dataframe batch definition of the context's pandas data source ``crm`` (asset ``frame``),
    created on first use and reused by every batch after: adding or deleting a data source or an asset
    re-serialises the context's whole configuration, which cost more than validating a small extract."""
    try:
        source = context.data_sources.get("crm")
    except KeyError:
        source = context.data_sources.add_pandas(name="crm")
    try:
        asset = source.get_asset("frame")
    except LookupError:
        asset = source.add_dataframe_asset(name="frame")
    try:
        return asset.get_batch_definition("whole")
    except KeyError:
        return asset.add_batch_definition_whole_dataframe("whole")


def validate_dataframe(batch_definition, df: pd.DataFrame, suite, result_format: dict[str, Any]):
    """Validate ``suite`` on ``df`` as one batch of ``batch_definition``, loading the batch once.

    This is what ``Batch.validate`` and ``ValidationDefinition.run`` do inside (GX's v1 ``Validator`` on a
    batch definition and batch parameters), without ``get_batch`` first: that would load the batch twice,
    and loading a pandas batch below 1 GB fingerprints every value of it (``hash_pandas_object``)."""
    from great_expectations.validator.v1_validator import Validator

    validator = Validator(
        batch_definition=batch_definition, batch_parameters={"dataframe": df}, result_format=result_format
    )
    return validator.validate_expectation_suite(suite)


# Above this many rows, the rules are validated in narrow batches, one per set of columns read (the row
# identifiers plus those columns): GX copies every column of the batch for each expectation it evaluates, so
# a wide batch costs (expectations x columns); narrow batches cut GX's time at 1M rows by about a third.
NARROW_BATCH_ROWS = 50_000


def batch_columns(rule: Rule) -> tuple[str, ...]:
    """The columns of the GX batch an expectation of ``rule`` reads."""
    if not rule.native:
        return (derived_column(rule),)
    condition = ("_dq_day",) if "from_dq_day" in rule.params else ()
    if rule.kind in ("type", "field_count"):
        return ("_type_errors", *condition)
    return (*rule.columns, *condition)


def index_columns(df: pd.DataFrame) -> list[str]:
    """Columns that identify a row in GX results: ``_row_number``, or with ``_source_file`` when a frame
    holds several files. Both are lineage, never a value from the data."""
    if df["_row_number"].is_unique:
        return ["_row_number"]
    if not df.duplicated(["_source_file", "_row_number"]).any():
        return ["_source_file", "_row_number"]
    raise ValueError("rows are not identified by (_source_file, _row_number)")


def as_categorical(values: pd.Series | np.ndarray) -> pd.Series | np.ndarray:
    """Strings (an object column) as a pandas categorical of the same values, nulls missing; anything else
    as it is. GX reads a categorical as it reads the strings (``isin``, ``duplicated``, ``astype(str)``,
    nulls), but its per-expectation null tests and row filters become cheap integer operations, and so does
    the fingerprint GX takes of every batch (``hash_pandas_object``, otherwise a hash of every string)."""
    if values.dtype != np.dtype(object):
        return values
    codes, uniques = pd.factorize(np.asarray(values), use_na_sentinel=True)
    cat = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(uniques), validate=False)
    return pd.Series(cat, index=values.index, name=values.name) if isinstance(values, pd.Series) else cat


def gx_columns(
    df: pd.DataFrame,
    rules: list[Rule],
    business_date: dt.date,
    frames: Mapping[str, pd.DataFrame],
    keys: list[str],
    cache: dict | None = None,
) -> dict[str, Any]:
    """The columns GX validates, by name: the row identifiers, the columns the native rules read and one
    derived boolean column per non-native rule."""
    cols: dict[str, Any] = {k: df[k] for k in keys}
    for rule in rules:
        if rule.native:
            for c in ("_type_errors",) if rule.kind in ("type", "field_count") else rule.columns:
                cols.setdefault(c, df[c])
        else:
            cols[derived_column(rule)] = derived_ok(df, rule, business_date, frames, cache)
    return cols


def gx_frame(
    df: pd.DataFrame,
    rules: list[Rule],
    business_date: dt.date,
    frames: Mapping[str, pd.DataFrame],
    keys: list[str],
    cache: dict | None = None,
) -> pd.DataFrame:
    """The batch GX validates, as one frame: see :func:`gx_columns`."""
    cols = gx_columns(df, rules, business_date, frames, keys, cache)
    return pd.DataFrame(cols, index=df.index)  # consolidated blocks: GX runs about twice as fast on them


def _exception_message(info: dict | None) -> str | None:
    """The message of an exception GX caught while evaluating an expectation (flat or per-metric form)."""
    if not info:
        return None
    if "raised_exception" in info:
        return (info.get("exception_message") or "exception") if info["raised_exception"] else None
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return value.get("exception_message") or "exception"
    return None


def _failed_positions(result: dict, keys: list[str], lookup: pd.Index) -> np.ndarray:
    """Row positions GX reported as failing, checked against GX's own unexpected count."""
    if "unexpected_count" not in result:
        raise ValueError("GX result without unexpected_count")
    listed = result.get("unexpected_index_list") or []
    if not listed:
        if result["unexpected_count"]:
            raise ValueError("GX counted failing rows but did not list them")
        return np.zeros(0, dtype=np.int64)
    if len(listed) != 1 or not isinstance(listed[0], dict) or set(listed[0]) != set(keys):
        raise ValueError("unexpected shape of unexpected_index_list (is exclude_unexpected_values on?)")
    ids = listed[0]
    wanted = pd.Index(ids[keys[0]]) if len(keys) == 1 else pd.MultiIndex.from_arrays([ids[k] for k in keys])
    pos = lookup.get_indexer(wanted)
    if (pos < 0).any() or len(pos) != result["unexpected_count"]:
        raise ValueError("GX's failing rows do not match the frame or its own count")
    return pos


def _merge_results(parts: list[dict], extract: str, version: str) -> dict:
    """One suite validation result (JSON form) from the results of the batches of one extract."""
    if len(parts) == 1:
        return parts[0]
    results = [r for p in parts for r in p["results"]]
    ok = sum(1 for r in results if r["success"])
    merged = {k: v for k, v in parts[0].items() if k not in ("results", "statistics", "success")}
    merged["success"] = all(p["success"] for p in parts)
    merged["results"] = results
    merged["statistics"] = {
        "evaluated_expectations": len(results),
        "successful_expectations": ok,
        "unsuccessful_expectations": len(results) - ok,
        "success_percent": 100.0 * ok / len(results) if results else None,
    }
    meta = dict(parts[0].get("meta") or {})
    meta["batches"] = len(parts)
    meta.update({"extract": extract, "suite_version": version})
    merged["meta"] = meta
    return merged


def _validate(
    extract: str,
    columns: dict[str, Any],
    index: pd.Index,
    keys: list[str],
    rules: list[Rule],
    version: str,
    context,
    failed: dict[str, np.ndarray],
) -> dict:
    """Validate ``rules`` with GX on ``columns`` (see :func:`gx_columns`), in one batch or, above
    :data:`NARROW_BATCH_ROWS` rows, one narrow batch per set of columns read; mark the failing rows in
    ``failed`` (rule id -> boolean array) and return the merged JSON-able result."""
    n = len(index)
    columns = {c: v if c in keys else as_categorical(v) for c, v in columns.items()}
    batch_definition = whole_dataframe(context or ephemeral_context())
    groups: dict[tuple[str, ...], list[Rule]] = {}
    for rule in rules:
        groups.setdefault(batch_columns(rule) if n > NARROW_BATCH_ROWS else (), []).append(rule)
    parts = []
    for cols, group in groups.items():  # one batch per group of rules (tens at most)
        # each batch is built from the columns it needs (one consolidated frame of the whole extract
        # would copy every column once more, for nothing, before the narrow batches copy theirs)
        names = keys + [c for c in cols if c not in keys] if cols else list(columns)
        frame_i = pd.DataFrame({c: columns[c] for c in names}, index=index)
        result = validate_dataframe(
            batch_definition, frame_i, build_suite(extract, group, version), result_format(keys)
        )
        parts.append(result.to_json_dict())
    gx_result = _merge_results(parts, extract, version)
    lookup = pd.Index(columns[keys[0]]) if len(keys) == 1 else pd.MultiIndex.from_arrays([columns[k] for k in keys])
    for r in gx_result["results"]:
        rule_id = r["expectation_config"]["meta"]["rule_id"]
        error = _exception_message(r.get("exception_info"))
        if error:
            raise RuntimeError(f"GX could not evaluate {rule_id}: {error}")
        try:
            failed[rule_id][_failed_positions(r["result"], keys, lookup)] = True
        except ValueError as e:
            raise RuntimeError(f"{rule_id}: {e}") from None
    return gx_result


def evaluate_extract_gx(
    extract: str,
    frames: Mapping[str, pd.DataFrame],
    business_date: dt.date | str,
    rules: list[Rule] | None = None,
    context=None,
    cache: dict | None = None,
) -> Evaluation:
    """Evaluate the rules of one extract with GX; see :func:`evaluate_gx`. ``context``: an existing
    (ephemeral) GX context to reuse; ``cache``: reference keys shared across extracts of one run."""
    day = as_date(business_date)
    frame = frames[extract]
    rules = [r for r in (rules if rules is not None else build_rules([extract])) if r.extract == extract]
    skipped = {r.id: reason for r in rules if (reason := skipped_reason(frames, r, day))}
    active = [r for r in rules if r.id not in skipped]
    df = prepare(frame, BY_NAME[extract])
    n = len(df)
    failed = {r.id: np.zeros(n, dtype=bool) for r in active}
    gx_result = None
    if n and active:
        keys = index_columns(df)
        columns = gx_columns(df, active, day, frames, keys, cache)
        gx_result = _validate(extract, columns, df.index, keys, active, suite_version(extract, rules), context, failed)
    ordered = sorted(failed)
    out = pd.DataFrame({r: failed[r] for r in ordered}, index=pd.RangeIndex(n), columns=ordered).astype(bool)
    out.index = frame.index
    return Evaluation(
        extract, n, out, [r for r in rules if r.id in failed or r.id in skipped], skipped, "gx", gx_result
    )


def evaluate_gx(
    frames: Mapping[str, pd.DataFrame],
    business_date: dt.date | str,
    *,
    extracts: Iterable[str] | None = None,
    rules: list[Rule] | None = None,
) -> dict[str, Evaluation]:
    """Evaluate every rule of every extract in ``frames`` (or of ``extracts`` only) with Great Expectations.

    Same input and output as :func:`crm.quality.evaluate.evaluate_pandas`; each :class:`Evaluation` also
    carries ``gx_result``, the JSON-able validation result (row numbers, counts, no raw value).
    """
    context = ephemeral_context()
    cache: dict = {}
    return {
        name: evaluate_extract_gx(name, frames, business_date, rules, context, cache)
        for name in _select(frames, extracts)
    }


# ------------------------------------------------------------------------------ several business dates at once


def evaluate_days_gx(
    extract: str,
    days: Mapping[dt.date, Mapping[str, pd.DataFrame]],
    rules: list[Rule] | None = None,
    context=None,
) -> tuple[dict[dt.date, Evaluation], dict | None]:
    """Evaluate the rules of one extract on several business dates in *one* GX validation.

    GX pays a fixed cost per expectation and validation (about 10 ms each, a second for a 40-rule suite),
    which dominates when a backfill stages many small partitions; here it is paid once. ``days`` maps each
    business date to its frames (as :func:`evaluate_extract_gx` takes them). Derived columns are computed per
    date (references against that date's extracts, comparisons with that date); a rule whose referenced
    extract is absent on a date passes there and is reported as skipped for that date. Key uniqueness is
    checked within each business date: the expectation is ExpectCompoundColumnsToBeUnique over the key and
    the date. Rows are identified in GX by (``_source_file``, ``_row_number``): file names carry the date. A
    rule not in force on the earlier dates (it reads a column the bank sends from a later ``since``) is skipped
    there: a derived one passes there, a native one judges only the rows of the dates from its ``since`` (a GX
    row condition on the date's position).

    Returns one :class:`Evaluation` per date (``gx_result`` None) and the single JSON-able GX result.
    """
    import dataclasses

    ordered_days = sorted(days)
    e = BY_NAME[extract]
    rules = [r for r in (rules if rules is not None else build_rules([extract])) if r.extract == extract]
    skipped = {d: {r.id: why for r in rules if (why := skipped_reason(days[d], r, d))} for d in ordered_days}
    active = [r for r in rules if any(r.id not in skipped[d] for d in ordered_days)]
    # a native rule in force on the later dates only (it reads a column sent from its ``since``) judges the rows
    # of those dates only: a GX row condition on the date's position (the earlier ones are reported as skipped)
    later = {
        r.id: next(i for i, d in enumerate(ordered_days) if r.in_force(d))
        for r in active
        if r.native and not r.in_force(ordered_days[0])
    }
    keys = ["_source_file", "_row_number"]
    parts, sizes = [], []
    cache: dict = {}
    for i, d in enumerate(ordered_days):
        df = prepare(days[d][extract], e)
        here = [r for r in active if r.id not in skipped[d]]
        part = gx_frame(df, here, d, days[d], keys, cache)
        for r in active:  # a rule not evaluated on this date passes there (reported as skipped)
            if r.id in skipped[d] and not r.native:
                part[derived_column(r)] = True
            elif r.id in skipped[d]:  # held out by its row condition; its columns are in every part
                for c in batch_columns(r):
                    if c not in part:
                        part[c] = df[c]
        part["_dq_day"] = i
        parts.append(part)
        sizes.append(len(df))
    n = sum(sizes)
    failed_all = {r.id: np.zeros(n, dtype=bool) for r in active}
    gx_result = None
    if n and active:
        columns = {c: pd.concat([p[c] for p in parts], ignore_index=True) for c in parts[0]}
        if pd.DataFrame({k: columns[k] for k in keys}).duplicated().any():
            raise ValueError(f"{extract}: rows are not identified by (_source_file, _row_number)")
        # uniqueness holds within a business date: the date joins the key
        judged = []
        for r in active:
            if r.kind == "unique":
                r = dataclasses.replace(r, columns=(*r.columns, "_dq_day"))
            elif r.id in later:  # judges the rows of the dates from its since only
                r = dataclasses.replace(r, params={**r.params, "from_dq_day": later[r.id]})
            judged.append(r)
        gx_result = _validate(
            extract, columns, pd.RangeIndex(n), keys, judged, suite_version(extract, rules), context, failed_all
        )
        gx_result.setdefault("meta", {})["business_dates"] = [d.isoformat() for d in ordered_days]
    out: dict[dt.date, Evaluation] = {}
    start = 0
    for d, size in zip(ordered_days, sizes, strict=True):
        evaluated = sorted(r.id for r in active if r.id not in skipped[d])
        frame = days[d][extract]
        failed = pd.DataFrame(
            {rid: failed_all[rid][start : start + size] for rid in evaluated},
            index=pd.RangeIndex(size),
            columns=evaluated,
        ).astype(bool)
        failed.index = frame.index
        out[d] = Evaluation(
            extract, size, failed, [r for r in rules if r.id in evaluated or r.id in skipped[d]], skipped[d], "gx"
        )
        start += size
    return out, gx_result
