"""Row outcome: every parsed row is accepted (goes on to masking) or quarantined with every failing rule id.

- A row failing at least one ``critical`` rule is quarantined; its index entry lists every rule it fails,
  critical and warning, sorted.
- A row failing only ``warning`` rules is accepted; the warnings are counted in the rule summary.
- Per source file: accepted + quarantined = parsed (:attr:`RowOutcome.files`, ``balanced``).

The quarantine *index* (extract, business date, source file, row number, rule ids) carries no value from the
data and may go to the warehouse. The quarantined rows themselves (:attr:`RowOutcome.quarantined`) keep their
raw values and belong in the restricted zone only, like the accepted rows before masking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm.quality.evaluate import Evaluation, _select, as_date, evaluate_extract_pandas
from crm.quality.rules import Rule, suite_version

INDEX_COLUMNS = ("extract", "business_date", "_source_file", "_row_number", "rule_ids")
SUMMARY_COLUMNS = ("rule_id", "extract", "family", "severity", "evaluated", "failed", "success")
FILE_COLUMNS = (
    "extract",
    "business_date",
    "_source_file",
    "parsed",
    "accepted",
    "quarantined",
    "accepted_with_warnings",
    "balanced",
)


@dataclass
class RowOutcome:
    """Where every row of one extract and business date went.

    ``accepted`` / ``quarantined``: the input rows (all their columns), split; restricted data.
    ``quarantine_index``: one row per quarantined row, columns :data:`INDEX_COLUMNS`; no raw value.
    ``summary``: one row per rule, columns :data:`SUMMARY_COLUMNS` (``success`` is NA and ``evaluated`` 0
    for a rule that could not be evaluated, e.g. its referenced extract is absent).
    ``files``: per source file, columns :data:`FILE_COLUMNS`.
    """

    extract: str
    business_date: dt.date
    suite_version: str
    accepted: pd.DataFrame
    quarantined: pd.DataFrame
    quarantine_index: pd.DataFrame
    summary: pd.DataFrame
    files: pd.DataFrame
    evaluation: Evaluation

    @property
    def parsed(self) -> int:
        return self.evaluation.rows

    @property
    def critical_failure_rate(self) -> float:
        """Share of parsed rows quarantined (for the blocking threshold)."""
        return len(self.quarantined) / self.parsed if self.parsed else 0.0


def _rule_lists(failed: pd.DataFrame, rows: np.ndarray) -> list[list[str]]:
    """Sorted failing rule ids of each of ``rows`` (positions). Vectorised over the (row, rule) pairs; the
    only Python-level work is one list per quarantined row."""
    if not len(rows):
        return []
    names = np.asarray(failed.columns, dtype=object)  # sorted rule ids
    r, c = np.nonzero(failed.to_numpy()[rows])  # row-major: rule ids of a row come out in column order
    groups = pd.Series(names[c]).groupby(r, sort=True).agg(list)
    return groups.reindex(range(len(rows))).tolist()


def summarise(evaluation: Evaluation) -> pd.DataFrame:
    """One row per rule: rule_id, extract, family, severity, evaluated, failed, success."""
    rules = sorted(evaluation.rules, key=lambda r: r.id)
    counts = evaluation.failed.sum(axis=0)
    rows = []
    for r in rules:  # one row per rule
        if r.id in evaluation.skipped:
            rows.append((r.id, r.extract, r.family, r.severity, 0, 0, pd.NA))
        else:
            n_failed = int(counts[r.id])
            rows.append((r.id, r.extract, r.family, r.severity, evaluation.rows, n_failed, n_failed == 0))
    out = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    out["evaluated"] = out["evaluated"].astype("int64")
    out["failed"] = out["failed"].astype("int64")
    out["success"] = out["success"].astype("boolean")
    return out


def decide_from(frame: pd.DataFrame, evaluation: Evaluation, business_date: dt.date | str) -> RowOutcome:
    """The row outcome of one extract from an existing :class:`Evaluation` (pandas or GX) of its rows."""
    day = as_date(business_date)
    extract = evaluation.extract
    if len(frame) != evaluation.rows:
        raise ValueError(f"{extract}: frame has {len(frame)} rows, the evaluation {evaluation.rows}")
    by_id: dict[str, Rule] = {r.id: r for r in evaluation.rules}
    failed = evaluation.failed
    critical_cols = [c for c in failed.columns if by_id[c].severity == "critical"]
    warning_cols = [c for c in failed.columns if by_id[c].severity == "warning"]
    f = failed.to_numpy()
    col_pos = {c: i for i, c in enumerate(failed.columns)}
    crit = f[:, [col_pos[c] for c in critical_cols]].any(axis=1) if critical_cols else np.zeros(len(frame), bool)
    warn = f[:, [col_pos[c] for c in warning_cols]].any(axis=1) if warning_cols else np.zeros(len(frame), bool)
    q_pos = np.flatnonzero(crit)

    n = len(frame)
    source = (
        frame["_source_file"].to_numpy(dtype=object)
        if "_source_file" in frame.columns
        else np.full(n, None, dtype=object)
    )
    row_number = (
        frame["_row_number"].to_numpy(dtype="int64")
        if "_row_number" in frame.columns
        else np.arange(1, n + 1, dtype="int64")
    )
    index = pd.DataFrame(
        {
            "extract": pd.Series([extract] * len(q_pos), dtype=object),
            "business_date": pd.Series([day] * len(q_pos), dtype=object),
            "_source_file": source[q_pos],
            "_row_number": row_number[q_pos],
            "rule_ids": pd.Series(_rule_lists(failed, q_pos), dtype=object),
        },
        columns=list(INDEX_COLUMNS),
    )

    files = (
        pd.DataFrame(
            {
                "_source_file": source,
                "parsed": 1,
                "quarantined": crit.astype("int64"),
                "accepted_with_warnings": (warn & ~crit).astype("int64"),
            }
        )
        .groupby("_source_file", dropna=False, sort=True)
        .sum()
        .reset_index()
    )
    files["accepted"] = files["parsed"] - files["quarantined"]
    files["balanced"] = files["accepted"] + files["quarantined"] == files["parsed"]
    files.insert(0, "extract", extract)
    files.insert(1, "business_date", day)
    files = files[list(FILE_COLUMNS)]

    rules = evaluation.rules
    return RowOutcome(
        extract=extract,
        business_date=day,
        suite_version=suite_version(extract, rules),
        accepted=frame[~crit],
        quarantined=frame[crit],
        quarantine_index=index,
        summary=summarise(evaluation),
        files=files,
        evaluation=evaluation,
    )


def decide(
    extract: str,
    frames: Mapping[str, pd.DataFrame],
    business_date: dt.date | str,
    *,
    evaluation: Evaluation | None = None,
    engine: str = "pandas",
    rules: list[Rule] | None = None,
) -> RowOutcome:
    """Accept or quarantine every row of ``frames[extract]`` (the raw rows of one business date; the other
    frames are the other extracts of that date, for references). ``evaluation`` reuses an existing verdict;
    otherwise the rules are evaluated with ``engine`` ("pandas" or "gx")."""
    if evaluation is None:
        if engine == "pandas":
            evaluation = evaluate_extract_pandas(extract, frames, business_date, rules)
        elif engine == "gx":
            from crm.quality.gx import evaluate_extract_gx

            evaluation = evaluate_extract_gx(extract, frames, business_date, rules)
        else:
            raise ValueError(f"unknown engine {engine!r}: use 'pandas' or 'gx'")
    return decide_from(frames[extract], evaluation, business_date)


def decide_all(
    frames: Mapping[str, pd.DataFrame],
    business_date: dt.date | str,
    *,
    engine: str = "pandas",
    extracts: Iterable[str] | None = None,
    rules: list[Rule] | None = None,
) -> dict[str, RowOutcome]:
    """:func:`decide` for every extract of one business date."""
    names = _select(frames, extracts)
    if engine == "gx":
        from crm.quality.gx import evaluate_gx

        evaluations = evaluate_gx(frames, business_date, extracts=names, rules=rules)
    elif engine == "pandas":
        evaluations = {n: evaluate_extract_pandas(n, frames, business_date, rules) for n in names}
    else:
        raise ValueError(f"unknown engine {engine!r}: use 'pandas' or 'gx'")
    return {n: decide_from(frames[n], evaluations[n], business_date) for n in names}
