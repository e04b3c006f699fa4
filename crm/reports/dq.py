"""The monthly data-quality report for auditors: what arrived, what was checked, what failed, where the
rows went, and the masking evidence, for every business date of one month.

:func:`dq_context` reads the warehouse's data-quality history (``ingest_files``, ``dq_arrivals``,
``dq_rule_results``, ``dq_rules``, ``dq_file_outcomes``, ``dq_quarantine``, ``raw_purges``) with SQLAlchemy
Core, so it runs on DuckDB and PostgreSQL alike, and returns a plain, picklable context (dicts, lists,
dates, numbers; no DataFrame) for ``render_html("dq_report", ctx, locale)``. Charts are drawn at render
time by :func:`crm.reports.dq_charts.prepare` (their labels depend on the locale).

The DQ tables are append-only history; the report uses the **current verdict** of each partition:

- arrivals: the latest ``dq_arrivals`` row per business date and extract;
- rule results: the latest row per business date, extract and rule;
- file outcomes and quarantine: the latest run per extract and business date, the run being identified by
  ``dq_file_outcomes.recorded_at`` (a run that quarantined nothing writes outcomes but no quarantine rows,
  so the quarantine index alone cannot tell which run is current); quarantine rows of that run are those
  with the same ``recorded_at`` (one run's evidence shares one timestamp, see ``crm.quality.stage``);
- ``ingest_files``: every rejected file of the month counts once (by file name), with whether a later,
  accepted file of the same extract and date replaced it.

Pass rate of a rule = (evaluated − failed) / evaluated over the rows its evaluations covered in the month;
evaluations that were skipped (``success`` null) are counted apart and not in the rate. A quarantined row
that failed several rules counts once per rule in "by rule" and once in "by extract".

The incomplete-data notice on the cover: :func:`crm.reports.completeness.incomplete_data` of the month.

The figures of the tiles and summary tables are recomputed from the same tables by the queries of
``crm/reports/figures.toml`` (``dq.*``) with the context's ``figure_params`` (``month_start``, ``month_end``).

Undeliverable recipients: the ``report_outbox`` rows with status ``undeliverable`` of the month's periods
(the month, a quarter it closes, the weeks ending in it) as recorded when the report is rendered: the
recipient id and the reason (rule ids, staff file and row, ``no_address``, ``invalid_address``), never an
address or a name.

Raw-zone purges are those performed in the month: ``purged_at`` within the month as recorded (UTC, as the
retention job writes it; a purge in the first eight hours of a month, bank time, counts in the month before). Nothing in the
context is a value from the data: files, record numbers, rule ids, counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from crm import warehouse as wh
from crm.bank_calendar import month_period, month_periods, period_bounds, release_time
from crm.reports.completeness import incomplete_data

WORST_RULES = 15
TOP_QUARANTINE_RULES = 12


def _frame(conn: sa.Connection, stmt: sa.Select) -> pd.DataFrame:
    rows = conn.execute(stmt).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=list(stmt.selected_columns.keys()))


def _day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _latest(df: pd.DataFrame, keys: list[str], order: str = "recorded_at") -> pd.DataFrame:
    if df.empty:
        return df
    return df.sort_values(order, kind="stable").drop_duplicates(keys, keep="last")


def _rate(evaluated: float, failed: float) -> float | None:
    return (evaluated - failed) / evaluated if evaluated else None


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = df.astype(object).where(df.notna(), None).to_dict("records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in out]


def month_bounds(month_end: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of the month of ``month_end`` (any day of the month is accepted)."""
    return period_bounds("month", month_end)


# ------------------------------------------------------------------------------------------- sections
def _arrivals(conn: sa.Connection, start: dt.date, end: dt.date) -> pd.DataFrame:
    t = wh.dq_arrivals
    df = _frame(
        conn,
        sa.select(
            t.c.business_date, t.c.extract, t.c.expected_by, t.c.file_name, t.c.arrived_at, t.c.status, t.c.recorded_at
        ).where(t.c.business_date.between(start, end)),
    )
    df = _latest(df, ["business_date", "extract"])
    if not df.empty:
        df["business_date"] = df["business_date"].map(_day)
    return df


def _ingest(conn: sa.Connection, start: dt.date, end: dt.date) -> pd.DataFrame:
    t = wh.ingest_files
    df = _frame(
        conn,
        sa.select(
            t.c.file_name,
            t.c.extract,
            t.c.business_date,
            t.c.sequence,
            t.c.records,
            t.c.control_column,
            t.c.control_sum,
            t.c.status,
            t.c.reason,
            t.c.recorded_at,
        ).where(t.c.business_date.between(start, end)),
    )
    if not df.empty:
        df["business_date"] = df["business_date"].map(_day)
    return df


def _rejections(ingest: pd.DataFrame) -> list[dict[str, Any]]:
    if ingest.empty:
        return []
    rejected = _latest(ingest[ingest["status"] == "rejected"], ["file_name"])
    accepted = ingest[ingest["status"].isin(["accepted", "unchanged"])]
    out = []
    for r in rejected.sort_values(["business_date", "extract", "sequence"]).itertuples():
        later = accepted[
            (accepted["extract"] == r.extract)
            & (accepted["business_date"] == r.business_date)
            & (accepted["sequence"] > r.sequence)
        ]
        out.append(
            {
                "business_date": r.business_date,
                "extract": r.extract,
                "file_name": r.file_name,
                "reason": r.reason or "unknown",
                "replaced_by": later.sort_values("sequence")["file_name"].iloc[0] if len(later) else None,
            }
        )
    return out


def _daily_files(arrivals: pd.DataFrame, rejections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    days = set(arrivals["business_date"]) if not arrivals.empty else set()
    days |= {r["business_date"] for r in rejections}
    rejected_by_day: dict[dt.date, int] = {}
    for r in rejections:
        rejected_by_day[r["business_date"]] = rejected_by_day.get(r["business_date"], 0) + 1
    out = []
    for d in sorted(days):
        a = arrivals[arrivals["business_date"] == d] if not arrivals.empty else arrivals
        status = a["status"].value_counts() if len(a) else pd.Series(dtype=int)
        row = {s: int(status.get(s, 0)) for s in ("on_time", "late", "missing", "pending")}
        out.append(
            {
                "business_date": d,
                "expected": len(a),
                "arrived": row["on_time"] + row["late"],
                **row,
                "rejected": rejected_by_day.get(d, 0),
            }
        )
    return out


def _arrival_exceptions(arrivals: pd.DataFrame) -> list[dict[str, Any]]:
    if arrivals.empty:
        return []
    bad = arrivals[arrivals["status"].isin(["late", "missing", "pending"])]
    bad = bad.sort_values(["business_date", "extract"])
    return [
        {
            "business_date": r.business_date,
            "extract": r.extract,
            "status": r.status,
            "file_name": r.file_name,
            "expected_by": r.expected_by,
            "arrived_at": r.arrived_at,
        }
        for r in bad.itertuples()
    ]


def _outcomes(conn: sa.Connection, start: dt.date, end: dt.date) -> pd.DataFrame:
    t = wh.dq_file_outcomes
    df = _frame(
        conn,
        sa.select(
            t.c.extract,
            t.c.business_date,
            t.c.source_file,
            t.c.suite_version,
            t.c.parsed,
            t.c.accepted,
            t.c.quarantined,
            t.c.accepted_with_warnings,
            t.c.balanced,
            t.c.recorded_at,
        ).where(t.c.business_date.between(start, end)),
    )
    if df.empty:
        return df
    df["business_date"] = df["business_date"].map(_day)
    latest = df.groupby(["extract", "business_date"])["recorded_at"].transform("max")
    return df[df["recorded_at"] == latest]


def _control_totals(outcomes: pd.DataFrame, ingest: pd.DataFrame) -> list[dict[str, Any]]:
    files = pd.DataFrame(columns=["file_name", "extract", "business_date", "records", "control_column", "control_sum"])
    if not ingest.empty:
        acc = ingest[ingest["status"] == "accepted"].sort_values(["sequence", "recorded_at"], kind="stable")
        acc = acc.drop_duplicates(["extract", "business_date"], keep="last")  # a restatement replaces a file
        files = acc[list(files.columns)]
    out = (
        outcomes.rename(columns={"source_file": "file_name"})
        if not outcomes.empty
        else pd.DataFrame(
            columns=[
                "file_name",
                "extract",
                "business_date",
                "parsed",
                "accepted",
                "quarantined",
                "accepted_with_warnings",
                "balanced",
            ]
        )
    )
    out = out[
        [
            "file_name",
            "extract",
            "business_date",
            "parsed",
            "accepted",
            "quarantined",
            "accepted_with_warnings",
            "balanced",
        ]
    ]
    if files.empty and out.empty:
        return []
    merged = out.merge(files, on=["file_name", "extract", "business_date"], how="outer")
    # the current accepted file of each partition, with its current outcome; a file accepted but not (yet)
    # validated has no outcome (validated = False)
    merged["validated"] = merged["parsed"].notna()
    merged["records_match"] = [
        (None if pd.isna(r) or pd.isna(p) else int(r) == int(p))
        for r, p in zip(merged["records"], merged["parsed"], strict=True)
    ]
    merged = merged.sort_values(["business_date", "extract", "file_name"])
    return _records(merged)


def _rule_results(conn: sa.Connection, start: dt.date, end: dt.date) -> pd.DataFrame:
    t = wh.dq_rule_results
    df = _frame(
        conn,
        sa.select(
            t.c.business_date,
            t.c.extract,
            t.c.rule_id,
            t.c.family,
            t.c.severity,
            t.c.suite_version,
            t.c.success,
            t.c.evaluated,
            t.c.failed,
            t.c.recorded_at,
        ).where(t.c.business_date.between(start, end)),
    )
    if df.empty:
        return df
    df["business_date"] = df["business_date"].map(_day)
    return _latest(df, ["business_date", "extract", "rule_id"])


def _descriptions(conn: sa.Connection, rule_ids: Sequence[str]) -> dict[str, str]:
    if not rule_ids:
        return {}
    t = wh.dq_rules
    out: dict[str, tuple[Any, str]] = {}
    ids = list(rule_ids)
    for i in range(0, len(ids), 500):
        stmt = sa.select(t.c.rule_id, t.c.description, t.c.recorded_at).where(t.c.rule_id.in_(ids[i : i + 500]))
        for rule_id, description, at in conn.execute(stmt):
            if rule_id not in out or at >= out[rule_id][0]:
                out[rule_id] = (at, description)
    return {k: v[1] for k, v in out.items()}


def _rules_section(conn: sa.Connection, results: pd.DataFrame) -> dict[str, Any]:
    empty = {
        "evaluated": 0,
        "failed": 0,
        "pass_rate": None,
        "rules": 0,
        "skipped": 0,
        "daily": [],
        "by_family": [],
        "worst": [],
        "suite_versions": [],
        "failing_rules": 0,
    }
    if results.empty:
        return empty
    skipped = results["success"].isna()
    ev = results[~skipped].copy()
    ev["evaluated"] = ev["evaluated"].astype("int64")
    ev["failed"] = ev["failed"].astype("int64")
    total_e, total_f = int(ev["evaluated"].sum()), int(ev["failed"].sum())
    daily = ev.groupby("business_date", as_index=False)[["evaluated", "failed"]].sum()
    daily["pass_rate"] = [_rate(e, f) for e, f in zip(daily["evaluated"], daily["failed"], strict=True)]
    fam = ev.groupby(["family", "severity"], as_index=False)[["evaluated", "failed"]].sum()
    fam["pass_rate"] = [_rate(e, f) for e, f in zip(fam["evaluated"], fam["failed"], strict=True)]
    per_rule = (
        ev.assign(failing_day=ev["failed"] > 0)
        .groupby("rule_id", as_index=False)
        .agg(
            extract=("extract", "first"),
            family=("family", "first"),
            severity=("severity", "first"),
            evaluated=("evaluated", "sum"),
            failed=("failed", "sum"),
            days_failed=("failing_day", "sum"),
        )
    )
    per_rule["pass_rate"] = [_rate(e, f) for e, f in zip(per_rule["evaluated"], per_rule["failed"], strict=True)]
    failing = per_rule[per_rule["failed"] > 0].sort_values(
        ["pass_rate", "failed", "rule_id"], ascending=[True, False, True]
    )
    worst = failing.head(WORST_RULES).copy()
    desc = _descriptions(conn, worst["rule_id"].tolist())
    worst["description"] = worst["rule_id"].map(desc)
    return {
        "evaluated": total_e,
        "failed": total_f,
        "pass_rate": _rate(total_e, total_f),
        "rules": int(results["rule_id"].nunique()),
        "skipped": int(skipped.sum()),
        "failing_rules": int(len(failing)),
        "daily": _records(daily.sort_values("business_date")),
        "by_family": _records(fam.sort_values(["family", "severity"])),
        "worst": _records(worst),
        "suite_versions": sorted(results["suite_version"].dropna().unique().tolist()),
    }


def _quarantine(conn: sa.Connection, start: dt.date, end: dt.date, outcomes: pd.DataFrame) -> dict[str, Any]:
    t = wh.dq_quarantine
    q = _frame(
        conn,
        sa.select(t.c.extract, t.c.business_date, t.c.rule_ids, t.c.recorded_at).where(
            t.c.business_date.between(start, end)
        ),
    )
    if not q.empty:
        q["business_date"] = q["business_date"].map(_day)
        current = (
            outcomes[["extract", "business_date", "recorded_at"]].drop_duplicates()
            if not outcomes.empty
            else pd.DataFrame(columns=["extract", "business_date", "recorded_at"])
        )
        known = (
            q.merge(
                current[["extract", "business_date"]].drop_duplicates(),
                on=["extract", "business_date"],
                how="left",
                indicator=True,
            )["_merge"]
            .eq("both")
            .to_numpy()
        )
        matched = q[known].merge(current, on=["extract", "business_date", "recorded_at"])
        orphan = q[~known]  # quarantine index without file outcomes: its own latest run
        if len(orphan):
            latest = orphan.groupby(["extract", "business_date"])["recorded_at"].transform("max")
            orphan = orphan[orphan["recorded_at"] == latest]
        q = pd.concat([matched, orphan], ignore_index=True)
    rows = len(q)
    by_rule = pd.DataFrame(columns=["rule_id", "rows"])
    by_extract_q = pd.Series(dtype="int64")
    if rows:
        rules = q["rule_ids"].str.split(",").explode().str.strip()
        by_rule = rules[rules != ""].value_counts().rename_axis("rule_id").reset_index(name="rows")
        by_rule = by_rule.sort_values(["rows", "rule_id"], ascending=[False, True])
        by_extract_q = q.groupby("extract").size()
    by_extract = []
    ext_outcomes = (
        outcomes.groupby("extract")[["parsed", "quarantined"]].sum()
        if not outcomes.empty
        else pd.DataFrame(columns=["parsed", "quarantined"])
    )
    for extract in sorted(set(ext_outcomes.index) | set(by_extract_q.index)):
        parsed = int(ext_outcomes["parsed"].get(extract, 0))
        counted = int(ext_outcomes["quarantined"].get(extract, 0))
        indexed = int(by_extract_q.get(extract, 0))
        by_extract.append(
            {
                "extract": extract,
                "parsed": parsed,
                "quarantined": counted,
                "indexed": indexed,
                "rate": counted / parsed if parsed else None,
                "agrees": counted == indexed,
            }
        )
    parsed_total = int(outcomes["parsed"].sum()) if not outcomes.empty else 0
    return {
        "rows": rows,
        "parsed": parsed_total,
        "rate": rows / parsed_total if parsed_total else None,
        "by_rule": _records(by_rule.head(TOP_QUARANTINE_RULES)),
        "rules_total": int(len(by_rule)),
        "by_extract": [r for r in by_extract if r["quarantined"] or r["indexed"]],
        "index_agrees": all(r["agrees"] for r in by_extract),
    }


def _purges(conn: sa.Connection, start: dt.date, end: dt.date) -> dict[str, Any]:
    t = wh.raw_purges
    lo = dt.datetime.combine(start, dt.time())
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    df = _frame(
        conn,
        sa.select(t.c.extract, t.c.business_date, t.c.zone, t.c.file, t.c.bytes, t.c.reason).where(
            t.c.purged_at >= lo, t.c.purged_at < hi
        ),
    )
    if df.empty:
        return {"files": 0, "bytes": 0, "by_extract": [], "reasons": []}
    df["business_date"] = df["business_date"].map(_day)
    g = df.groupby(["zone", "extract"], as_index=False).agg(
        files=("file", "count"),
        bytes=("bytes", "sum"),
        first_date=("business_date", "min"),
        last_date=("business_date", "max"),
    )
    return {
        "files": int(len(df)),
        "bytes": int(df["bytes"].sum()),
        "by_extract": _records(g.sort_values(["zone", "extract"])),
        "reasons": sorted(df["reason"].dropna().unique().tolist()),
    }


REASON_CODES = (
    ("quarantined", "quarantined"),
    ("unusable staff id", "unusable_id"),
    ("no_address", "no_address"),
    ("invalid_address", "invalid_address"),
)


def reason_parts(reason: str | None) -> tuple[str, str]:
    """An undeliverable reason as (code, detail): ``quarantined``, ``unusable_id`` (detail: rule ids, staff
    file and row), ``no_address``, ``invalid_address``, else ``other`` with the reason as detail."""
    text = (reason or "").strip()
    for prefix, code in REASON_CODES:
        if text == prefix or text.startswith(prefix + ":"):
            return code, text[len(prefix) + 1 :].strip()
    return "other", text


def _undeliverable(conn: sa.Connection, month_end: dt.date) -> list[dict[str, Any]]:
    from crm.delivery.outbox import UNDELIVERABLE, report_outbox

    if not sa.inspect(conn).has_table(report_outbox.name, schema=wh.schema_of(conn)):
        return []
    t = report_outbox.c
    df = _frame(
        conn,
        sa.select(t.report, t.period, t.recipient_id, t.last_error)
        .where(t.status == UNDELIVERABLE, t.period.in_(month_periods(month_end)))
        .order_by(t.period, t.report, t.recipient_id),
    )
    out = []
    for r in _records(df):
        code, detail = reason_parts(r.pop("last_error"))
        out.append({**r, "reason": code, "detail": detail})
    return out


# ----------------------------------------------------------------------------------------------- API
def dq_context(
    conn: sa.Connection,
    month_end: dt.date,
    *,
    policy_version: str,
    key_versions: Sequence[str],
    leak_scan: Mapping[str, Any] | None,
    generated_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The template context of the data-quality report for the month of ``month_end``.

    ``conn``: a connection from ``crm.warehouse.begin(engine, schema)``. ``policy_version``: the privacy
    policy's ``version``; ``key_versions``: the masking key versions in use (e.g. ``["k1", "k2"]``);
    ``leak_scan``: the result of the month's leak scan as made by
    :func:`crm.reports.leakscan.scan_summary` (``files_scanned``, ``passed``, ``findings``), or ``None``
    if none was run. ``generated_at`` defaults to the month's logical time (its release time,
    :func:`crm.bank_calendar.release_time`), never the wall clock. See :func:`is_empty`."""
    start, end = month_bounds(month_end)
    arrivals = _arrivals(conn, start, end)
    ingest = _ingest(conn, start, end)
    rejections = _rejections(ingest)
    outcomes = _outcomes(conn, start, end)
    results = _rule_results(conn, start, end)
    daily = _daily_files(arrivals, rejections)
    files = {
        k: sum(d[k] for d in daily)
        for k in ("expected", "arrived", "on_time", "late", "missing", "pending", "rejected")
    }
    control = _control_totals(outcomes, ingest)
    validated = [c for c in control if c["validated"]]
    return {
        "month_start": start,
        "month_end": end,
        "generated_at": generated_at or release_time(month_period(end)),
        "business_dates": len(daily),
        "files": {
            **files,
            "daily": daily,
            "exceptions": _arrival_exceptions(arrivals),
            "rejections": rejections,
            "accepted": int((ingest["status"] == "accepted").sum()) if not ingest.empty else 0,
        },
        "control": {
            "files": control,
            "validated": len(validated),
            "balanced": sum(1 for c in validated if c["balanced"]),
            "unbalanced": [c for c in validated if not c["balanced"]],
            "records_mismatch": [c for c in control if c["records_match"] is False],
        },
        "rules": _rules_section(conn, results),
        "quarantine": _quarantine(conn, start, end, outcomes),
        "masking": {
            "policy_version": policy_version,
            "key_versions": sorted(key_versions),
            "leak_scan": dict(leak_scan) if leak_scan is not None else None,
        },
        "purges": _purges(conn, start, end),
        "undeliverable": _undeliverable(conn, end),
        "incomplete": incomplete_data(conn, start, end),
        "figure_params": {"month_start": start.isoformat(), "month_end": end.isoformat()},
    }


def is_empty(ctx: Mapping[str, Any]) -> bool:
    """True when the month has no data-quality evidence at all (no arrival, no ingested file, no rule
    result, no file outcome): the caller skips the report rather than sending an empty one."""
    return not (
        ctx["files"]["expected"]
        or ctx["files"]["rejected"]
        or ctx["files"]["accepted"]
        or ctx["rules"]["evaluated"]
        or ctx["rules"]["skipped"]
        or ctx["control"]["files"]
    )
