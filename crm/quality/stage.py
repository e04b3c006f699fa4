"""Stage one extract of one business date: validate its raw rows, split them into accepted and quarantined,
and write both where they belong; :mod:`crm.quality.evidence` records what was done.

Where things go (paths: :mod:`crm.zones`):

- quarantined rows, with their raw values and the failing rule ids, to ``raw/_quarantine/<extract>/<date>
  .parquet``: the restricted zone, next to the raw file they came from;
- accepted rows to ``staged/<extract>/<date>.parquet`` after the privacy policy (:mod:`crm.privacy`):
  join keys tokenised, names, IDs, phones and cards masked for display, birth dates and addresses
  generalised, free text scrubbed of the names it must lose (:func:`crm.privacy.names.row_names`); no raw
  personal value leaves the raw zone. Before the scrub, free-text columns (text policy ``strip``) lose their
  control and format characters (in :func:`crm.privacy.apply.protect`, :func:`crm.text.strip_frame`), counted
  per column;
- the evidence to the warehouse (:func:`crm.quality.evidence.record`: ``dq_rule_results``,
  ``dq_file_outcomes``, ``dq_quarantine``, ``dq_rules``, ``dq_partition_gates``, ``dq_text_cleaning``),
  appended per run: no value from the data, only file names, checksums, row numbers, rule ids and counts.

The gate of a partition: it is *blocked* (its checks stop downstream work) when its quarantined rows exceed
both its share allowance (``threshold`` x parsed rows) and its row allowance (``rows_threshold``), or when
rows are unaccounted for. Both default to the extract's contract values (``quarantine_share``,
``quarantine_rows``).

Both Parquet files are replaced atomically on every run (:class:`crm.atomic.PartWriter`), so a restated file
that fixes a quarantined row re-admits it: the next run of the partition accepts it and the quarantine file
no longer holds it. At most :data:`crm.atomic.CHUNK_ROWS` rows are validated (and held as pandas frames) at
once: several small business dates of one step go into one GX validation up to it, and a larger partition is
split into pieces of about this size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crm.atomic import CHUNK_ROWS, PartWriter
from crm.contract import BY_NAME
from crm.privacy.names import row_names
from crm.quality.evaluate import Evaluation, evaluate_extract_pandas
from crm.quality.outcome import decide_from
from crm.quality.references import load_frames, reference_frames
from crm.quality.rules import Rule, rules_for
from crm.zones import quarantine_file, raw_file, staged_file


@dataclass
class StageResult:
    """What staging one extract and business date did. Counts, ids and row numbers only (the row frames are
    written and dropped, so a long backfill does not hold them): safe for logs and metadata."""

    extract: str
    business_date: dt.date
    partition_key: str
    suite_version: str
    engine: str
    parsed: int
    accepted: int
    quarantined: int
    threshold: float  # share allowance: 0.02 = 2 % of the parsed rows
    summary: pd.DataFrame  # per rule: rule_id, extract, family, severity, evaluated, failed, success
    files: pd.DataFrame  # per source file: parsed, accepted, quarantined, balanced ...
    quarantine_index: pd.DataFrame  # extract, business_date, _source_file, _row_number, rule_ids
    families: pd.DataFrame  # per rule family: rules, skipped, critical_rows, warning_rows, failed_rules
    skipped: dict[str, str]
    source_files: list[str]
    sha256: list[str]
    staged_path: Path
    quarantine_path: Path
    gx_result: dict | None = None
    privacy_policy: str = ""
    rows_threshold: int = 0  # row allowance
    # free-text column -> (rows cleaned, control and format characters replaced or removed)
    text_stripped: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def quarantine_rate(self) -> float:
        return self.quarantined / self.parsed if self.parsed else 0.0

    @property
    def unaccounted(self) -> bool:
        """True when some row is neither accepted nor quarantined (cannot happen by construction)."""
        files_ok = bool(self.files["balanced"].all()) if len(self.files) else True
        return not files_ok or self.accepted + self.quarantined != self.parsed

    @property
    def over_threshold(self) -> bool:
        """Quarantined rows exceed both the share allowance and the row allowance."""
        return self.quarantined > self.threshold * self.parsed and self.quarantined > self.rows_threshold

    @property
    def blocked(self) -> bool:
        """The partition's checks stop downstream work: over both allowances, or rows unaccounted for."""
        return self.over_threshold or self.unaccounted

    @property
    def block_reason(self) -> str | None:
        if self.unaccounted:
            return "rows_unaccounted"
        return "quarantine_over_threshold" if self.over_threshold else None

    @property
    def text_chars_removed(self) -> int:
        return sum(chars for _, chars in self.text_stripped.values())


def family_counts(evaluation: Evaluation) -> pd.DataFrame:
    """Per rule family: rules, rules not evaluated, rows failing a critical rule of the family, rows failing
    a warning rule of it, and the ids of the rules that failed."""
    by_id: dict[str, Rule] = {r.id: r for r in evaluation.rules}
    failed = evaluation.failed
    out = []
    for family in sorted({r.family for r in evaluation.rules}):
        crit = [c for c in failed.columns if by_id[c].family == family and by_id[c].severity == "critical"]
        warn = [c for c in failed.columns if by_id[c].family == family and by_id[c].severity == "warning"]
        out.append(
            {
                "family": family,
                "rules": sum(1 for r in evaluation.rules if r.family == family),
                "skipped": sum(1 for r in evaluation.rules if r.family == family and r.id in evaluation.skipped),
                "critical_rows": int(failed[crit].any(axis=1).sum()) if crit else 0,
                "warning_rows": int(failed[warn].any(axis=1).sum()) if warn else 0,
                "failed_rules": sorted(c for c in crit + warn if failed[c].any()),
            }
        )
    return pd.DataFrame(out, columns=["family", "rules", "skipped", "critical_rows", "warning_rows", "failed_rules"])


def evaluate(
    extract: str, frames: dict[str, pd.DataFrame], day: dt.date, *, engine: str = "gx", context=None
) -> Evaluation:
    if engine == "gx":
        from crm.quality.gx import evaluate_extract_gx

        return evaluate_extract_gx(extract, frames, day, context=context)
    if engine == "pandas":
        return evaluate_extract_pandas(extract, frames, day)
    raise ValueError(f"unknown engine {engine!r}: use 'gx' or 'pandas'")


def _combine_summaries(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Rule summaries of disjoint row sets of one date as one: counts added, success when nothing failed
    (NA where the rule was not evaluated)."""
    if len(parts) == 1:
        return parts[0]
    cat = pd.concat(parts, ignore_index=True)
    out = (
        cat.groupby("rule_id", sort=True)
        .agg(
            extract=("extract", "first"),
            family=("family", "first"),
            severity=("severity", "first"),
            evaluated=("evaluated", "sum"),
            failed=("failed", "sum"),
            known=("success", "count"),
        )
        .reset_index()
    )
    out["success"] = (out["failed"] == 0).astype("boolean").where(out.pop("known") > 0, pd.NA)
    return out[list(cat.columns)]


def _combine_files(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if len(parts) == 1:
        return parts[0]
    cat = pd.concat(parts, ignore_index=True)
    keys = ["extract", "business_date", "_source_file"]
    out = (
        cat.groupby(keys, dropna=False, sort=True)[["parsed", "accepted", "quarantined", "accepted_with_warnings"]]
        .sum()
        .reset_index()
    )
    out["balanced"] = out["accepted"] + out["quarantined"] == out["parsed"]
    return out[list(cat.columns)]


def _combine_families(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if len(parts) == 1:
        return parts[0]
    cat = pd.concat(parts, ignore_index=True)
    out = (
        cat.groupby("family", sort=True)
        .agg(
            rules=("rules", "first"),
            skipped=("skipped", "max"),
            critical_rows=("critical_rows", "sum"),
            warning_rows=("warning_rows", "sum"),
            failed_rules=("failed_rules", lambda s: sorted(set().union(*s))),  # a few rule families, not rows
        )
        .reset_index()
    )
    return out[list(cat.columns)]


def _finish(
    extract: str,
    day: dt.date,
    parts: Iterable[tuple[pd.DataFrame, Evaluation]],
    *,
    raw: Path,
    staged: Path,
    partition_key: str | None,
    threshold: float,
    rows_threshold: int,
    ring,
) -> StageResult:
    """Split one date's rows by their evaluation, protect the accepted ones, write both files, summarise.
    ``parts``: the date's rows with their evaluation, in one piece or in disjoint pieces (a large partition,
    see :func:`stage_partitions`); each piece is split, protected and written before the next is asked for."""
    from crm.privacy.apply import protect

    q_path, s_path = quarantine_file(raw, extract, day), staged_file(staged, extract, day)
    q_out, s_out = PartWriter(q_path), PartWriter(s_path)
    summaries, files, indexes, families, pairs = [], [], [], [], []
    skipped: dict[str, str] = {}
    parsed, gx_results, engines, versions, policies = 0, [], set(), set(), set()
    strip_columns = [c.name for c in BY_NAME[extract].columns if c.text == "strip"]
    stripped = {c: (0, 0) for c in strip_columns}
    try:
        for frame, evaluation in parts:
            outcome = decide_from(frame, evaluation, day)
            if not outcome.files["balanced"].all():  # cannot happen by construction; never lose a row silently
                raise AssertionError(f"{extract} {day}: accepted + quarantined != parsed")
            q_rows = outcome.quarantined.reset_index(drop=True).copy()
            q_rows["_rule_ids"] = (
                pd.Series(outcome.quarantine_index["rule_ids"].map(",".join).to_numpy(), dtype=object)
                if len(q_rows)
                else pd.Series([], dtype=object)
            )
            q_out.add(q_rows)
            accepted = outcome.accepted
            protected = protect(accepted, extract, ring, day, names=row_names(accepted, extract, raw, day))
            for col, (rows, chars) in protected.attrs["text_stripped"].items():  # free text, before the scrub
                stripped[col] = (stripped[col][0] + rows, stripped[col][1] + chars)
            s_out.add(protected.reset_index(drop=True))
            policies.add(protected.attrs["privacy_policy"])
            summaries.append(outcome.summary)
            files.append(outcome.files)
            indexes.append(outcome.quarantine_index)
            families.append(family_counts(evaluation))
            skipped.update(evaluation.skipped)
            parsed += outcome.parsed
            gx_results.append(evaluation.gx_result)
            engines.add(evaluation.engine)
            versions.add(outcome.suite_version)
            if {"_source_file", "_sha256"} <= set(frame.columns):
                pairs.append(frame[["_source_file", "_sha256"]].drop_duplicates().dropna())
            del frame, evaluation, outcome, q_rows, accepted, protected  # the next piece replaces them
        q_out.finish()
        s_out.finish()
    except BaseException:
        q_out.abort()
        s_out.abort()
        raise
    pairs_df = (
        pd.concat(pairs).drop_duplicates().sort_values("_source_file")
        if pairs
        else pd.DataFrame(columns=["_source_file", "_sha256"])
    )
    index = pd.concat(indexes, ignore_index=True) if len(indexes) > 1 else indexes[0]
    if len(indexes) > 1:
        index = index.sort_values(["_source_file", "_row_number"], kind="stable").reset_index(drop=True)
    file_counts = _combine_files(files)
    quarantined = int(file_counts["quarantined"].sum())
    return StageResult(
        extract=extract,
        business_date=day,
        partition_key=partition_key or day.isoformat(),
        suite_version=versions.pop(),
        engine=engines.pop(),
        parsed=parsed,
        accepted=parsed - quarantined,
        quarantined=quarantined,
        threshold=threshold,
        summary=_combine_summaries(summaries),
        files=file_counts,
        quarantine_index=index,
        families=_combine_families(families),
        skipped=skipped,
        source_files=[str(f) for f in pairs_df["_source_file"]],
        sha256=[str(x) for x in pairs_df["_sha256"]],
        staged_path=s_path,
        quarantine_path=q_path,
        gx_result=gx_results[0] if len(gx_results) == 1 else None,
        privacy_policy=", ".join(sorted(policies)),
        rows_threshold=rows_threshold,
        text_stripped=stripped,
    )


def stage_partition(
    extract: str,
    day: dt.date,
    *,
    raw: Path,
    staged: Path,
    partition_key: str | None = None,
    engine: str = "gx",
    threshold: float | None = None,
    rows_threshold: int | None = None,
    context=None,
    ring=None,
) -> StageResult:
    """Validate, split, protect and write one extract of one business date (no warehouse: see
    :func:`crm.quality.evidence.record`). ``ring``: the masking key ring (:mod:`crm.privacy.tokens`). A large
    partition is staged in pieces (:func:`stage_partitions`)."""
    batch = stage_partitions(
        extract,
        [(partition_key or day.isoformat(), day)],
        raw=raw,
        staged=staged,
        engine=engine,
        threshold=threshold,
        rows_threshold=rows_threshold,
        context=context,
        ring=ring,
    )
    if batch.absent:
        raise FileNotFoundError(next(iter(batch.absent.values())))
    return batch.results[0]


# lineage columns repeated on every row of a file: held dictionary-encoded while a large partition is split
_REPEATED = ("_source_file", "_sha256")


def _key_columns(extract: str) -> list[str]:
    return [c for r in rules_for(extract) if r.kind == "unique" for c in r.columns]


def _self_referencing(extract: str) -> bool:
    return any(r.kind == "reference" and extract in r.params["targets"] for r in rules_for(extract))


def piece_count(extract: str, rows: int) -> int:
    """Into how many pieces a partition of ``rows`` rows is split: one up to :data:`CHUNK_ROWS`, and always one
    for an extract whose references point at itself (they need every row of the date at once)."""
    if rows <= CHUNK_ROWS or _self_referencing(extract):
        return 1
    return -(-rows // CHUNK_ROWS)


def piece_ids(table: pa.Table, key: list[str], pieces: int) -> np.ndarray:
    """The piece of every row: a hash of its key modulo ``pieces`` (DuckDB's ``hash``, in row order), so all
    rows sharing a key fall in one piece and the key's uniqueness is judged exactly within pieces; without a
    key, consecutive ranges."""
    if not key:
        return (np.arange(table.num_rows) * pieces // max(table.num_rows, 1)).astype("int64")
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.register("keys", table.select(key))
        cols = ", ".join(f'"{c}"' for c in key)
        ids = con.execute(f"SELECT (hash({cols}) % {int(pieces)})::BIGINT AS piece FROM keys").fetchnumpy()["piece"]
    finally:
        con.close()
    if len(ids) != table.num_rows:
        raise AssertionError(f"piece ids for {len(ids)} of {table.num_rows} rows")
    return np.asarray(ids, dtype="int64")


def _pieces(
    extract: str, day: dt.date, pieces: int, *, raw: Path, engine: str, context, gx_results: list
) -> Iterator[tuple[pd.DataFrame, Evaluation]]:
    """A large partition's rows, piece by piece (:func:`piece_ids`), each with its evaluation; the raw file is
    read once and held in Arrow, its repeated lineage columns dictionary-encoded. GX results are appended to
    ``gx_results`` labelled ``YYYYMMDD-partNNofMM``."""
    path = raw_file(raw, extract, day)
    schema = pq.read_schema(path)
    table = pq.read_table(path, read_dictionary=[c for c in _REPEATED if c in schema.names])
    refs = reference_frames(raw, extract, day)
    ids = piece_ids(table, _key_columns(extract), pieces)
    for i in range(pieces):
        frame = table.filter(pa.array(ids == i)).cast(schema).to_pandas()
        frames = {extract: frame, **refs}
        if engine == "gx":
            from crm.quality.gx import evaluate_days_gx

            evaluations, gx_result = evaluate_days_gx(extract, {day: frames}, context=context)
            evaluation = evaluations[day]
            if gx_result is not None:
                gx_results.append((gx_result, f"{day:%Y%m%d}-part{i + 1:02d}of{pieces:02d}"))
        else:
            evaluation = evaluate(extract, frames, day, engine=engine)
        yield frame, evaluation
        del frame, frames, evaluation  # before the next piece is built


@dataclass
class StagedBatch:
    """The partitions one step staged, the partitions with no raw file, and the GX results (one per
    validation; a validation covers one or several business dates, or a piece of a large one)."""

    results: list[StageResult]
    absent: dict[str, str]  # partition key -> why
    gx_results: list[tuple[dict, str]]  # (GX result, business-date label)


def stage_partitions(
    extract: str,
    partitions: list[tuple[str, dt.date]],
    *,
    raw: Path,
    staged: Path,
    engine: str = "gx",
    threshold: float | None = None,
    rows_threshold: int | None = None,
    context=None,
    progress=None,
    ring=None,
) -> StagedBatch:
    """Stage many partitions ((partition key, business date) pairs) of one extract. With GX, dates are
    validated together, up to :data:`CHUNK_ROWS` rows per validation, so GX's fixed cost per expectation is
    paid per chunk rather than per date. A partition of more rows (the loan-performance initial load: 14 M
    rows at 1 M customers) is validated, protected and written in pieces of about that size
    (:func:`piece_ids`), so memory stays bounded by the piece, not the partition. ``progress(done, total)``
    is called after each chunk. ``threshold`` (share) and ``rows_threshold``: the partitions' quarantine
    allowances, by default the extract's contract values."""
    e = BY_NAME[extract]
    threshold = e.quarantine_share if threshold is None else float(threshold)
    rows_threshold = e.quarantine_rows if rows_threshold is None else int(rows_threshold)
    batch = StagedBatch([], {}, [])
    pending: list[tuple[str, dt.date, dict[str, pd.DataFrame]]] = []

    def report() -> None:
        if progress:
            progress(len(batch.results) + len(batch.absent), len(partitions))

    def flush() -> None:
        if not pending:
            return
        if engine == "gx":
            from crm.quality.gx import evaluate_days_gx

            evaluations, gx_result = evaluate_days_gx(extract, {d: f for _, d, f in pending}, context=context)
            if gx_result is not None:
                days = [d for _, d, _ in pending]
                label = f"{min(days):%Y%m%d}" if len(days) == 1 else f"{min(days):%Y%m%d}-{max(days):%Y%m%d}"
                batch.gx_results.append((gx_result, label))
        else:
            evaluations = {d: evaluate(extract, f, d, engine=engine) for _, d, f in pending}
        for pk, d, f in pending:
            batch.results.append(
                _finish(
                    extract,
                    d,
                    [(f[extract], evaluations[d])],
                    raw=raw,
                    staged=staged,
                    partition_key=pk,
                    threshold=threshold,
                    rows_threshold=rows_threshold,
                    ring=ring,
                )
            )
        pending.clear()
        report()

    rows = 0
    for pk, day in partitions:
        own = raw_file(raw, extract, day)
        if not own.exists():
            batch.absent[pk] = f"{extract} {day}: no raw file {own} (not ingested, or its file was rejected)"
            continue
        pieces = piece_count(extract, pq.ParquetFile(own).metadata.num_rows)
        if pieces > 1:
            flush()
            rows = 0
            parts = _pieces(extract, day, pieces, raw=raw, engine=engine, context=context, gx_results=batch.gx_results)
            batch.results.append(
                _finish(
                    extract,
                    day,
                    parts,
                    raw=raw,
                    staged=staged,
                    partition_key=pk,
                    threshold=threshold,
                    rows_threshold=rows_threshold,
                    ring=ring,
                )
            )
            report()
            continue
        frames = load_frames(raw, extract, day)
        pending.append((pk, day, frames))
        rows += len(frames[extract])
        if rows >= CHUNK_ROWS:
            flush()
            rows = 0
    flush()
    return batch
