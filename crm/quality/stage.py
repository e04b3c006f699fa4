"""Stage one extract of one business date: validate its raw rows, split them into accepted and quarantined,
write both where they belong and record the evidence.

Where things go:

- quarantined rows, with their raw values and the failing rule ids, to ``raw/_quarantine/<extract>/<date>
  .parquet``: the restricted zone, next to the raw file they came from;
- accepted rows to ``staged/<extract>/<date>.parquet`` after the privacy policy (:mod:`crm.privacy`):
  join keys tokenised, names, IDs, phones and cards masked for display, birth dates and addresses
  generalised, free text scrubbed; no raw personal value leaves the raw zone;
- the evidence to the warehouse (:data:`crm.warehouse.dq_rule_results`, ``dq_file_outcomes``,
  ``dq_quarantine``, ``dq_rules``), appended per run: no value from the data, only file names, checksums,
  row numbers, rule ids and counts.

Both Parquet files are replaced atomically on every run, so a restated file that fixes a quarantined row
re-admits it: the next run of the partition accepts it and the quarantine file no longer holds it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

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

PERSONAL_SEMANTICS = frozenset(
    {"id_number", "card_number", "mobile", "email", "person_name", "address", "free_text", "birth_date"}
)
QUARANTINE_FOLDER = "_quarantine"
DEFAULT_THRESHOLD = 0.02


def withheld_columns(extract: Extract) -> list[str]:
    """Columns whose raw values must not leave the raw zone: class C2, or personal by meaning."""
    return [c.name for c in extract.columns if c.pii != "C1" or c.semantic in PERSONAL_SEMANTICS]


def raw_file(raw: Path, extract: str, day: dt.date) -> Path:
    return raw_path(raw, BY_NAME[extract], day)


def quarantine_file(raw: Path, extract: str, day: dt.date) -> Path:
    return raw / QUARANTINE_FOLDER / extract / f"{day.isoformat()}.parquet"


def staged_file(staged: Path, extract: str, day: dt.date) -> Path:
    return staged / extract / f"{day.isoformat()}.parquet"


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
    frames = {extract: pd.read_parquet(own)}
    for target in reference_targets(extract):
        path = raw_file(raw, target, day)
        if path.exists():
            # only the key columns are read: references need nothing else
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
    threshold: float
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

    @property
    def quarantine_rate(self) -> float:
        return self.quarantined / self.parsed if self.parsed else 0.0

    @property
    def over_threshold(self) -> bool:
        return self.quarantine_rate > self.threshold


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


def _finish(
    extract: str, day: dt.date, frame: pd.DataFrame, evaluation: Evaluation, *, raw: Path, staged: Path,
    partition_key: str | None, threshold: float, ring,
) -> StageResult:
    """Split one date's rows by their evaluation, protect the accepted ones, write both files, summarise."""
    from crm.privacy.apply import protect

    outcome = decide_from(frame, evaluation, day)
    if not outcome.files["balanced"].all():  # cannot happen by construction; never lose a row silently
        raise AssertionError(f"{extract} {day}: accepted + quarantined != parsed")
    q_rows = outcome.quarantined.reset_index(drop=True).copy()
    q_rows["_rule_ids"] = outcome.quarantine_index["rule_ids"].map(",".join).to_numpy() if len(q_rows) else []
    q_path = quarantine_file(raw, extract, day)
    write_frame(q_rows, q_path)
    s_path = staged_file(staged, extract, day)
    accepted = outcome.accepted
    protected = protect(accepted, extract, ring, day, names=row_names(accepted, extract, raw, day))
    write_frame(protected.reset_index(drop=True), s_path)
    pairs = (
        frame[["_source_file", "_sha256"]].drop_duplicates().dropna().sort_values("_source_file")
        if {"_source_file", "_sha256"} <= set(frame.columns)
        else pd.DataFrame(columns=["_source_file", "_sha256"])
    )
    return StageResult(
        extract=extract,
        business_date=day,
        partition_key=partition_key or day.isoformat(),
        suite_version=outcome.suite_version,
        engine=evaluation.engine,
        parsed=outcome.parsed,
        accepted=len(outcome.accepted),
        quarantined=len(outcome.quarantined),
        threshold=threshold,
        summary=outcome.summary,
        files=outcome.files,
        quarantine_index=outcome.quarantine_index,
        families=family_counts(evaluation),
        skipped=dict(evaluation.skipped),
        source_files=[str(f) for f in pairs["_source_file"]],
        sha256=[str(x) for x in pairs["_sha256"]],
        staged_path=s_path,
        quarantine_path=q_path,
        gx_result=evaluation.gx_result,
        privacy_policy=protected.attrs["privacy_policy"],
    )


def stage_partition(
    extract: str,
    day: dt.date,
    *,
    raw: Path,
    staged: Path,
    partition_key: str | None = None,
    engine: str = "gx",
    threshold: float = DEFAULT_THRESHOLD,
    context=None,
    ring=None,
) -> StageResult:
    """Validate, split, protect and write one extract of one business date (no warehouse: see
    :func:`record`). ``ring``: the masking key ring (:mod:`crm.privacy.tokens`)."""
    frames = load_frames(raw, extract, day)
    evaluation = evaluate(extract, frames, day, engine=engine, context=context)
    return _finish(extract, day, frames[extract], evaluation, raw=raw, staged=staged,
                   partition_key=partition_key, threshold=threshold, ring=ring)


# GX validates this many rows at most in one call when a step stages several business dates
CHUNK_ROWS = 1_000_000


@dataclass
class StagedBatch:
    """The partitions one step staged, the partitions with no raw file, and the GX results (one per
    validation; a validation covers one or several business dates)."""

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
    threshold: float = DEFAULT_THRESHOLD,
    context=None,
    progress=None,
    ring=None,
) -> StagedBatch:
    """Stage many partitions ((partition key, business date) pairs) of one extract. With GX, dates are
    validated together, up to :data:`CHUNK_ROWS` rows per validation, so GX's fixed cost per expectation is
    paid per chunk rather than per date. ``progress(done, total)`` is called after each chunk."""
    batch = StagedBatch([], {}, [])
    pending: list[tuple[str, dt.date, dict[str, pd.DataFrame]]] = []

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
            batch.results.append(_finish(extract, d, f[extract], evaluations[d], raw=raw, staged=staged,
                                         partition_key=pk, threshold=threshold, ring=ring))
        pending.clear()
        if progress:
            progress(len(batch.results) + len(batch.absent), len(partitions))

    rows = 0
    for pk, day in partitions:
        try:
            frames = load_frames(raw, extract, day)
        except FileNotFoundError as e:
            batch.absent[pk] = str(e)
            continue
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
    return {"dq_rule_results": rule_results, "dq_file_outcomes": files, "dq_quarantine": quarantine,
            "dq_rules": catalogue}


def record(conn: sa.Connection, results: list[StageResult], run_id: str | None) -> dict[str, int]:
    """Append the evidence of staged partitions in the caller's transaction; rules once per suite version."""
    from crm import warehouse as wh

    counts = {"dq_rule_results": 0, "dq_file_outcomes": 0, "dq_quarantine": 0, "dq_rules": 0}
    known = {
        (v, e)
        for v, e in conn.execute(sa.select(wh.dq_rules.c.suite_version, wh.dq_rules.c.extract).distinct())
    }
    for result in results:
        rows = evidence(result, run_id)
        for name in ("dq_rule_results", "dq_file_outcomes", "dq_quarantine"):
            counts[name] += wh.append_frame(conn, wh.metadata.tables[name], rows[name])
        token = (result.suite_version, result.extract)
        if token not in known:
            counts["dq_rules"] += wh.append_frame(conn, wh.dq_rules, rows["dq_rules"])
            known.add(token)
    return counts
