"""The evidence of staged partitions, appended to the warehouse per run (:data:`crm.warehouse.dq_rule_results`,
``dq_file_outcomes``, ``dq_quarantine``, ``dq_rules``, ``dq_partition_gates``, ``dq_text_cleaning``): no
value from the data, only file names, checksums, row numbers, rule ids and counts. One run's evidence shares
one ``recorded_at``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from crm.quality.rules import rule_catalogue

if TYPE_CHECKING:
    from crm.quality.stage import StageResult


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
    return {
        "dq_rule_results": rule_results,
        "dq_file_outcomes": files,
        "dq_quarantine": quarantine,
        "dq_rules": catalogue,
        "dq_partition_gates": gate,
        "dq_text_cleaning": text,
    }


def record(conn: sa.Connection, results: list[StageResult], run_id: str | None) -> dict[str, int]:
    """Append the evidence of staged partitions in the caller's transaction (rules once per suite version):
    rule results, file outcomes, the quarantine index, each partition's gate verdict and the free-text
    clean-up counts."""
    from crm import warehouse as wh

    appended = ("dq_rule_results", "dq_file_outcomes", "dq_quarantine", "dq_partition_gates", "dq_text_cleaning")
    counts = {name: 0 for name in appended} | {"dq_rules": 0}
    known = {(v, e) for v, e in conn.execute(sa.select(wh.dq_rules.c.suite_version, wh.dq_rules.c.extract).distinct())}
    for result in results:
        rows = evidence(result, run_id)
        for name in appended:
            counts[name] += wh.append_frame(conn, wh.metadata.tables[name], rows[name])
        token = (result.suite_version, result.extract)
        if token not in known:
            counts["dq_rules"] += wh.append_frame(conn, wh.dq_rules, rows["dq_rules"])
            known.add(token)
    return counts
