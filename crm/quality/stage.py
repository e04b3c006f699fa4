"""Stage one extract of one business date: validate its raw rows, split them into accepted and quarantined,
write both where they belong and record the evidence.

Where things go:

- quarantined rows, with their raw values and the failing rule ids, to ``raw/_quarantine/<extract>/<date>
  .parquet``: the restricted zone, next to the raw file they came from;
- accepted rows to ``staged/<extract>/<date>.parquet`` after the privacy policy (:mod:`crm.privacy`):
  join keys tokenised, names, IDs, phones and cards masked for display, birth dates and addresses
  generalised, free text scrubbed; no raw personal value leaves the raw zone. Before the scrub, free-text
  columns (text policy ``strip``) lose their control and format characters (in :func:`crm.privacy.apply.protect`,
  :func:`crm.quality.text.strip_frame`), counted per column;
- the evidence to the warehouse (:data:`crm.warehouse.dq_rule_results`, ``dq_file_outcomes``,
  ``dq_quarantine``, ``dq_rules``, ``dq_partition_gates``, ``dq_text_cleaning``), appended per run: no
  value from the data, only file names, checksums, row numbers, rule ids and counts.

The gate of a partition: it is *blocked* (its checks stop downstream work) when its quarantined rows exceed
both its share allowance (``threshold`` x parsed rows) and its row allowance (``rows_threshold``), or when
rows are unaccounted for. Both default to the extract's contract values (``quarantine_share``,
``quarantine_rows``).

Both Parquet files are replaced atomically on every run, so a restated file that fixes a quarantined row
re-admits it: the next run of the partition accepts it and the quarantine file no longer holds it.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from crm.contract import BY_NAME, Extract
from crm.ingest.load import raw_path, write_parquet_atomically
from crm.quality.evaluate import Evaluation, evaluate_extract_pandas
from crm.quality.outcome import decide_from
from crm.quality.rules import Rule, rule_catalogue, rules_for
from crm.zones import safe_path

PERSONAL_SEMANTICS = frozenset(
    {"id_number", "card_number", "mobile", "email", "person_name", "address", "free_text", "birth_date"}
)
QUARANTINE_FOLDER = "_quarantine"


def withheld_columns(extract: Extract) -> list[str]:
    """Columns whose raw values must not leave the raw zone: class C2, or personal by meaning."""
    return [c.name for c in extract.columns if c.pii != "C1" or c.semantic in PERSONAL_SEMANTICS]


def raw_file(raw: Path, extract: str, day: dt.date) -> Path:
    return raw_path(raw, BY_NAME[extract], day)


def quarantine_file(raw: Path, extract: str, day: dt.date) -> Path:
    return safe_path(raw, QUARANTINE_FOLDER, extract, f"{day.isoformat()}.parquet",
                     origin=f"the quarantine of {extract} for {day.isoformat()}")


def staged_file(staged: Path, extract: str, day: dt.date) -> Path:
    return safe_path(staged, extract, f"{day.isoformat()}.parquet",
                     origin=f"the staged {extract} partition of {day.isoformat()}")


def reference_targets(extract: str) -> list[str]:
    """The other extracts whose keys the rules of ``extract`` look up (same business date)."""
    out: list[str] = []
    for r in rules_for(extract):
        if r.kind == "reference":
            out.extend(t for t in r.params["targets"] if t != extract and t not in out)
    return out


def load_frames(raw: Path, extract: str, day: dt.date) -> dict[str, pd.DataFrame]:
    """The raw rows of ``extract`` and of the extracts it references, for one business date. A referenced
    extract with no raw file is left out (its reference rules are then reported as not evaluated)."""
    own = raw_file(raw, extract, day)
    if not own.exists():
        raise FileNotFoundError(f"{extract} {day}: no raw file {own} (not ingested, or its file was rejected)")
    return {extract: pd.read_parquet(own), **reference_frames(raw, extract, day)}


def reference_frames(raw: Path, extract: str, day: dt.date) -> dict[str, pd.DataFrame]:
    """The key columns of the other extracts ``extract`` references, for one business date (those with a raw
    file): references need nothing else."""
    frames = {}
    for target in reference_targets(extract):
        path = raw_file(raw, target, day)
        if path.exists():
            keys = sorted({c for r in rules_for(extract) if r.kind == "reference" and target in r.params["targets"]
                           for c in r.params["ref_columns"]})
            frames[target] = pd.read_parquet(path, columns=keys)
    return frames


SCRUB_NAME_SOURCES = {"customers": ["customer_id", "customer_name"], "corporates": ["customer_id", "legal_rep_name"],
                      "contacts": ["customer_id", "contact_name"]}


def load_names(raw: Path, day: dt.date, customer_ids=None) -> pd.Series | None:
    """customer_id -> the personal names free text about that customer must lose (the customer's, the legal
    representative's and the contacts'), from the raw zone of the business date; only for ``customer_ids``
    when given (a day's notes name a few thousand customers, not the million); None if no source is there."""
    from crm.privacy.scrub import names_by_customer

    wanted = None if customer_ids is None else pa.array(pd.unique(pd.Series(customer_ids).dropna()), pa.string())
    frames = {}
    for name, cols in SCRUB_NAME_SOURCES.items():
        path = raw_file(raw, name, day)
        if not path.exists():
            frames[name] = pd.DataFrame(columns=cols)
            continue
        table = pq.read_table(path, columns=cols)
        if wanted is not None:
            table = table.filter(pc.is_in(table.column("customer_id").cast(pa.string()), value_set=wanted))
        frames[name] = table.to_pandas()
    if all(f.empty for f in frames.values()):
        return None
    return names_by_customer(frames["customers"], frames["corporates"], frames["contacts"])


def needs_names(extract: str) -> bool:
    from crm.privacy.policy import load_policy

    return any(p.treatment == "scrub" for p in load_policy().for_extract(extract).values())


def row_names(frame: pd.DataFrame, extract: str, raw: Path, day: dt.date) -> pd.Series | None:
    """Per row of ``frame``, the personal names its free text must lose: those of its customer (see
    :func:`load_names`) and the row's own name columns (a transaction's counterparty). None when the extract
    has no free text to scrub."""
    from crm.contract import BY_NAME
    from crm.privacy.scrub import merge_names

    if not needs_names(extract):
        return None
    parts = []
    if "customer_id" in frame.columns:
        by_customer = load_names(raw, day, frame["customer_id"])
        if by_customer is not None:
            parts.append(frame["customer_id"].map(by_customer))
    parts += [frame[c.name] for c in BY_NAME[extract].columns if c.semantic == "person_name"]
    return merge_names(*parts) if parts else None


def write_frame(df: pd.DataFrame, target: Path) -> None:
    """A frame as Parquet, atomically (:func:`crm.ingest.load.write_parquet_atomically`)."""
    write_parquet_atomically(pa.Table.from_pandas(df, preserve_index=False), target)


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


class PartWriter:
    """Row frames written piece by piece into one Parquet file at ``target``, published atomically.

    The pieces stream into a temporary file beside ``target`` under the first piece's schema, so a large
    partition is never held whole; :meth:`finish` renames it into place. A piece whose types do not fit that schema (a column all null in the first
    piece and filled in a later one) turns the pieces into separate files, streamed into one file under their
    unified schema at the end. :meth:`abort` removes the temporary files and leaves ``target`` as it was."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.parts: list[Path] = []  # closed temporary files
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None

    def _tmp(self, what: str) -> Path:
        return self.target.with_name(f".{self.target.stem}.{uuid.uuid4().hex}.{what}.tmp")

    def _open(self, schema: pa.Schema) -> None:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.parts.append(self._tmp(f"part{len(self.parts)}"))
        self.writer, self.schema = pq.ParquetWriter(self.parts[-1], schema, compression="zstd"), schema

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def add(self, df: pd.DataFrame) -> None:
        if self.parts and df.empty:  # an empty piece adds nothing (the first gives an empty file its schema)
            return
        table = pa.Table.from_pandas(df, preserve_index=False)
        if self.writer is None or not table.schema.equals(self.schema):
            try:
                if self.writer is None:
                    raise pa.ArrowInvalid("no file open")
                table = table.cast(self.schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                self._close()
                self._open(table.schema)
        self.writer.write_table(table)

    def finish(self) -> None:
        self._close()
        if len(self.parts) == 1:
            os.replace(self.parts.pop(), self.target)
            return
        schema = pa.unify_schemas([pq.read_schema(p) for p in self.parts], promote_options="permissive")
        tmp = self._tmp("all")
        try:
            with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
                for p in self.parts:
                    writer.write_table(pq.read_table(p).cast(schema))
            os.replace(tmp, self.target)
        finally:
            tmp.unlink(missing_ok=True)
        self.abort()

    def abort(self) -> None:
        self._close()
        for p in self.parts:
            p.unlink(missing_ok=True)
        self.parts.clear()


def _combine_summaries(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Rule summaries of disjoint row sets of one date as one: counts added, success when nothing failed
    (NA where the rule was not evaluated)."""
    if len(parts) == 1:
        return parts[0]
    cat = pd.concat(parts, ignore_index=True)
    out = cat.groupby("rule_id", sort=True).agg(
        extract=("extract", "first"), family=("family", "first"), severity=("severity", "first"),
        evaluated=("evaluated", "sum"), failed=("failed", "sum"), known=("success", "count"),
    ).reset_index()
    out["success"] = (out["failed"] == 0).astype("boolean").where(out.pop("known") > 0, pd.NA)
    return out[list(cat.columns)]


def _combine_files(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if len(parts) == 1:
        return parts[0]
    cat = pd.concat(parts, ignore_index=True)
    keys = ["extract", "business_date", "_source_file"]
    out = cat.groupby(keys, dropna=False, sort=True)[["parsed", "accepted", "quarantined",
                                                       "accepted_with_warnings"]].sum().reset_index()
    out["balanced"] = out["accepted"] + out["quarantined"] == out["parsed"]
    return out[list(cat.columns)]


def _combine_families(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if len(parts) == 1:
        return parts[0]
    cat = pd.concat(parts, ignore_index=True)
    out = cat.groupby("family", sort=True).agg(
        rules=("rules", "first"), skipped=("skipped", "max"), critical_rows=("critical_rows", "sum"),
        warning_rows=("warning_rows", "sum"),
        failed_rules=("failed_rules", lambda s: sorted(set().union(*s))),  # a few rule families, not rows
    ).reset_index()
    return out[list(cat.columns)]


def _finish(
    extract: str, day: dt.date, parts: Iterable[tuple[pd.DataFrame, Evaluation]], *, raw: Path, staged: Path,
    partition_key: str | None, threshold: float, rows_threshold: int, ring,
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
            q_rows["_rule_ids"] = pd.Series(
                outcome.quarantine_index["rule_ids"].map(",".join).to_numpy(), dtype=object
            ) if len(q_rows) else pd.Series([], dtype=object)
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
    pairs_df = (pd.concat(pairs).drop_duplicates().sort_values("_source_file") if pairs
                else pd.DataFrame(columns=["_source_file", "_sha256"]))
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
    :func:`record`). ``ring``: the masking key ring (:mod:`crm.privacy.tokens`). A large partition is staged
    in pieces (:func:`stage_partitions`)."""
    batch = stage_partitions(extract, [(partition_key or day.isoformat(), day)], raw=raw, staged=staged,
                             engine=engine, threshold=threshold, rows_threshold=rows_threshold, context=context,
                             ring=ring)
    if batch.absent:
        raise FileNotFoundError(next(iter(batch.absent.values())))
    return batch.results[0]


# At most this many rows are validated (and held as pandas frames) at once: several small business dates of
# one step go into one GX validation up to it, and a larger partition is split into pieces of about this size
CHUNK_ROWS = 1_000_000
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
            batch.results.append(_finish(extract, d, [(f[extract], evaluations[d])], raw=raw, staged=staged,
                                         partition_key=pk, threshold=threshold, rows_threshold=rows_threshold,
                                         ring=ring))
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
            parts = _pieces(extract, day, pieces, raw=raw, engine=engine, context=context,
                            gx_results=batch.gx_results)
            batch.results.append(_finish(extract, day, parts, raw=raw, staged=staged, partition_key=pk,
                                         threshold=threshold, rows_threshold=rows_threshold, ring=ring))
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


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def evidence(result: StageResult, run_id: str | None) -> dict[str, pd.DataFrame]:
    """The warehouse rows of one staged partition, table name -> frame (no value from the data)."""
    now = _now()
    sha_by_file = dict(zip(result.source_files, result.sha256, strict=True))
    summary = result.summary
    rule_results = pd.DataFrame(
        {
            "run_id": run_id,
            "partition_key": result.partition_key,
            "business_date": result.business_date,
            "extract": result.extract,
            "source_files": ",".join(result.source_files),
            "file_sha256": ",".join(result.sha256),
            "suite_version": result.suite_version,
            "engine": result.engine,
            "rule_id": summary["rule_id"],
            "family": summary["family"],
            "severity": summary["severity"],
            "success": summary["success"].astype(object).where(summary["success"].notna(), None),
            "evaluated": summary["evaluated"],
            "failed": summary["failed"],
            "skipped_reason": summary["rule_id"].map(result.skipped),
            "recorded_at": now,
        }
    )
    files = result.files.rename(columns={"_source_file": "source_file"}).assign(
        run_id=run_id, suite_version=result.suite_version, recorded_at=now
    )
    files["sha256"] = files["source_file"].map(sha_by_file)
    qi = result.quarantine_index
    quarantine = pd.DataFrame(
        {
            "run_id": run_id,
            "extract": result.extract,
            "business_date": result.business_date,
            "source_file": qi["_source_file"].to_numpy(),
            "sha256": qi["_source_file"].map(sha_by_file).to_numpy(),
            "row_number": qi["_row_number"].to_numpy(),
            "rule_ids": qi["rule_ids"].map(",".join).to_numpy(),
            "recorded_at": now,
        }
    )
    rules = set(summary["rule_id"])
    catalogue = pd.DataFrame([c for c in rule_catalogue() if c["id"] in rules]).rename(columns={"id": "rule_id"})
    catalogue["suite_version"] = result.suite_version
    catalogue["recorded_at"] = now
    gate = pd.DataFrame(
        {
            "run_id": [run_id],
            "extract": [result.extract],
            "partition_key": [result.partition_key],
            "business_date": [result.business_date],
            "parsed": [result.parsed],
            "quarantined": [result.quarantined],
            "share_threshold": [float(result.threshold)],
            "rows_threshold": [int(result.rows_threshold)],
            "blocked": [result.blocked],
            "reason": [result.block_reason],
            "recorded_at": [now],
        }
    )
    cols = sorted(result.text_stripped)
    text = pd.DataFrame(
        {
            "run_id": pd.Series([run_id] * len(cols), dtype=object),
            "extract": result.extract,
            "partition_key": result.partition_key,
            "business_date": result.business_date,
            "column_name": cols,
            "rows": pd.Series([result.text_stripped[c][0] for c in cols], dtype="int64"),
            "characters": pd.Series([result.text_stripped[c][1] for c in cols], dtype="int64"),
            "recorded_at": now,
        }
    )
    return {"dq_rule_results": rule_results, "dq_file_outcomes": files, "dq_quarantine": quarantine,
            "dq_rules": catalogue, "dq_partition_gates": gate, "dq_text_cleaning": text}


def record(conn: sa.Connection, results: list[StageResult], run_id: str | None) -> dict[str, int]:
    """Append the evidence of staged partitions in the caller's transaction (rules once per suite version):
    rule results, file outcomes, the quarantine index, each partition's gate verdict and the free-text
    clean-up counts."""
    from crm import warehouse as wh

    appended = ("dq_rule_results", "dq_file_outcomes", "dq_quarantine", "dq_partition_gates", "dq_text_cleaning")
    counts = {name: 0 for name in appended} | {"dq_rules": 0}
    known = {
        (v, e)
        for v, e in conn.execute(sa.select(wh.dq_rules.c.suite_version, wh.dq_rules.c.extract).distinct())
    }
    for result in results:
        rows = evidence(result, run_id)
        for name in appended:
            counts[name] += wh.append_frame(conn, wh.metadata.tables[name], rows[name])
        token = (result.suite_version, result.extract)
        if token not in known:
            counts["dq_rules"] += wh.append_frame(conn, wh.dq_rules, rows["dq_rules"])
            known.add(token)
    return counts
