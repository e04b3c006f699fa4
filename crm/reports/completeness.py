"""Is a period's data complete? The incomplete-data notice every report shows first on its cover.

We chose the notice over holding the reports: a relationship manager still needs this month's warnings when
one extract of one day did not load. A report of a period carries the notice when, for a business date of
that period,

- an extract's partition has a **current blocking failure**: its latest verdict in ``dq_partition_gates``
  (the latest row per extract and business date by ``recorded_at``; on a tie a blocked row wins) has
  ``blocked`` true: quarantined rows over both the share and the row allowance, or rows unaccounted for;
- or a file of the extract was **rejected at ingest and no later accepted file replaced it**: the latest
  ``ingest_files`` row of that file name is ``rejected`` and no file of the same extract and business date
  with a higher sequence was accepted (or found unchanged).

:func:`incomplete_data` returns one entry per (extract, business date, cause), sorted by date and extract:
machine fields only (extract, its Chinese title from the contract, date, cause code, detail such as the
rejection reason); the templates word them through the message catalogue. ``dq_partition_gates`` is written
by the data-quality staging (:mod:`crm.quality.stage`, declared in :mod:`crm.warehouse`); a warehouse created
before the table existed contributes no blocking failure. :func:`period_notice` gives the notice of the month,
quarter or week a report covers, :func:`notice_log_line` the warning a run logs about it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import sqlalchemy as sa

from crm import warehouse as wh

ACCEPTED = ("accepted", "unchanged")


def _frame(conn: sa.Connection, stmt: sa.Select) -> pd.DataFrame:
    rows = conn.execute(stmt).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=list(stmt.selected_columns.keys()))


def _day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _has(conn: sa.Connection, table: str) -> bool:
    return sa.inspect(conn).has_table(table, schema=wh.schema_of(conn))


def _blocked(conn: sa.Connection, start: dt.date, end: dt.date) -> pd.DataFrame:
    cols = ["extract", "business_date", "cause", "detail"]
    if not _has(conn, "dq_partition_gates"):
        return pd.DataFrame(columns=cols)
    g = wh.dq_partition_gates.c
    df = _frame(
        conn,
        sa.select(g.extract, g.business_date, g.blocked, g.reason, g.recorded_at).where(
            g.business_date.between(start, end)
        ),
    )
    if df.empty:
        return pd.DataFrame(columns=cols)
    df["business_date"] = df["business_date"].map(_day)
    df["blocked"] = df["blocked"].fillna(False).astype(bool)
    latest = df.groupby(["extract", "business_date"])["recorded_at"].transform("max")
    current = df[df["recorded_at"] == latest].sort_values("blocked", kind="stable")  # on a tie, blocked wins
    current = current.drop_duplicates(["extract", "business_date"], keep="last")
    current = current[current["blocked"]]
    return pd.DataFrame(
        {
            "extract": current["extract"],
            "business_date": current["business_date"],
            "cause": current["reason"].fillna("blocked"),
            "detail": "",
        }
    )[cols]


def _rejected(conn: sa.Connection, start: dt.date, end: dt.date) -> pd.DataFrame:
    cols = ["extract", "business_date", "cause", "detail"]
    t = wh.ingest_files.c
    df = _frame(
        conn,
        sa.select(t.file_name, t.extract, t.business_date, t.sequence, t.status, t.reason, t.recorded_at).where(
            t.business_date.between(start, end)
        ),
    )
    if df.empty:
        return pd.DataFrame(columns=cols)
    df["business_date"] = df["business_date"].map(_day)
    df = df.sort_values("recorded_at", kind="stable").drop_duplicates("file_name", keep="last")
    rejected = df[df["status"] == "rejected"]
    if rejected.empty:
        return pd.DataFrame(columns=cols)
    accepted = (
        df[df["status"].isin(ACCEPTED)]
        .groupby(["extract", "business_date"], as_index=False)["sequence"]
        .max()
        .rename(columns={"sequence": "accepted_sequence"})
    )
    merged = rejected.merge(accepted, on=["extract", "business_date"], how="left")
    open_ = merged[~(merged["accepted_sequence"] > merged["sequence"])]
    if open_.empty:
        return pd.DataFrame(columns=cols)
    out = (
        open_.assign(reason=open_["reason"].fillna("unknown"))
        .groupby(["extract", "business_date"], as_index=False)["reason"]
        .agg(lambda r: ", ".join(sorted(set(r))))
    )
    return pd.DataFrame(
        {"extract": out["extract"], "business_date": out["business_date"], "cause": "rejected", "detail": out["reason"]}
    )[cols]


def incomplete_data(conn: sa.Connection, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """The extracts and business dates in ``start``..``end`` whose data is not complete (see the module):
    ``extract``, ``title`` (the contract's Chinese title), ``business_date``, ``cause``
    (``quarantine_over_threshold``, ``rows_unaccounted``, ``blocked``, ``rejected``) and ``detail`` (the
    rejection reasons). Empty when the period is clean."""
    from crm.contract import BY_NAME

    both = pd.concat([_blocked(conn, start, end), _rejected(conn, start, end)], ignore_index=True)
    if both.empty:
        return []
    both = both.sort_values(["business_date", "extract", "cause"], kind="stable")
    return [
        {
            "extract": str(e),
            "title": BY_NAME[e].title if e in BY_NAME else str(e),
            "business_date": d,
            "cause": str(c),
            "detail": str(x or ""),
        }
        for e, d, c, x in zip(both["extract"], both["business_date"], both["cause"], both["detail"], strict=True)
    ]


def period_notice(conn: sa.Connection, kind: str, day: dt.date) -> list[dict[str, Any]]:
    """The incomplete-data notice (:func:`incomplete_data`) of the ``kind`` period (``month``, ``quarter``,
    ``week``: :func:`crm.bank_calendar.period_bounds`) ending with ``day``."""
    from crm.bank_calendar import period_bounds

    return incomplete_data(conn, *period_bounds(kind, day))


def notice_log_line(notice: list[dict[str, Any]], limit: int = 20) -> str | None:
    """The warning a run logs when its period's data is incomplete (extract, date and cause of the first
    ``limit`` entries; no value from the data), or None when the notice is empty."""
    if not notice:
        return None
    return "incomplete data this period, shown on every report's cover: " + "; ".join(
        f"{n['extract']} {n['business_date']} {n['cause']}" for n in notice[:limit]
    )
