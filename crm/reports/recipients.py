"""Who receives which report, from the staff extract, and where their mail goes.

Rules (one report per recipient and period; nobody receives a report about someone else's portfolio):

==================  ==========================================  ===========================================
report              recipients                                  content cut
==================  ==========================================  ===========================================
key_account         active relationship managers (role RM)      the customers they manage
watch_digest        active relationship managers                their own customers on the weekly watch list
branch              active branch heads (BH)                    their branch (staff.branch_id)
satisfaction        active branch heads                         their branch; a head of the head office
                                                                (branch level HO) gets the bank-wide report
data_quality        active auditors (AU)                        the whole bank's data-quality evidence
==================  ==========================================  ===========================================

Active = staff status A in the staff extract of the period's last business date. The e-mail address is C2
personal data: staged data holds a keyed token, so :func:`address_book` reads it from the restricted raw zone
at send time; addresses are never written to the warehouse, the outbox table, logs or Dagster metadata.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

ROLE_REPORTS = {"RM": ["key_account", "watch_digest"], "BH": ["branch", "satisfaction"], "AU": ["data_quality"]}


LINEAGE = ["_source_file", "_row_number"]


def recipients(staff: pd.DataFrame, branches: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (report, recipient): report, recipient_id, role, branch_id, scope (the branch the content
    is cut to, "bank" for bank-wide), and the lineage of the recipient's staff row, ``_source_file`` and
    ``_row_number`` (null when ``staff`` has none): a report path refused for that id names them."""
    active = staff[(staff["status"].astype(str) == "A") & staff["role"].isin(list(ROLE_REPORTS))]
    level = {}
    if branches is not None and len(branches):
        level = branches.drop_duplicates("branch_id").set_index("branch_id")["branch_level"].to_dict()
    rows = []
    for r in active.drop_duplicates("staff_id").sort_values("staff_id").itertuples(index=False):
        for report in ROLE_REPORTS[r.role]:
            scope = r.branch_id
            if report == "data_quality" or (report == "satisfaction" and level.get(r.branch_id) == "HO"):
                scope = "bank"
            rows.append({"report": report, "recipient_id": r.staff_id, "role": r.role, "branch_id": r.branch_id,
                         "scope": scope})
    return with_lineage(pd.DataFrame(rows, columns=["report", "recipient_id", "role", "branch_id", "scope"]), active)


def with_lineage(frame: pd.DataFrame, staff: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (with ``recipient_id``) plus the ``_source_file`` and ``_row_number`` of each recipient's
    first row in ``staff`` (null where ``staff`` lacks them or the id)."""
    first = staff.drop_duplicates("staff_id").set_index("staff_id")
    for col in LINEAGE:
        values = first[col] if col in first.columns else pd.Series(index=first.index, dtype="object")
        frame[col] = frame["recipient_id"].map(values)
    return frame


def address_book(raw: Path, day: dt.date) -> dict[str, str]:
    """staff_id -> e-mail address from the raw staff partition of ``day`` (or the latest one before it).
    Restricted zone: call only where mail is sent, keep the result in memory."""
    from crm.contract import BY_NAME
    from crm.ingest.load import latest_partition, raw_path

    path = latest_partition(raw_path(raw, BY_NAME["staff"], day))
    frame = pd.read_parquet(path, columns=["staff_id", "email"])
    return dict(zip(frame["staff_id"], frame["email"], strict=True))
