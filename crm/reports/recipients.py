"""Who receives which report, from the staff extract, and where their mail goes.

Rules (one report per recipient and period; nobody receives a report about someone else's portfolio):

==================  ==========================================  ===========================================
report              recipients                                  content cut
==================  ==========================================  ===========================================
key_account         active relationship managers (role RM)      the customers they manage
proposals           active relationship managers                the proposals offered to the customers they
                                                                manage (never a held-out one)
watch_digest        active relationship managers                their own customers on the weekly watch list
branch              active branch heads (BH)                    their branch (staff.branch_id)
satisfaction        active branch heads                         their branch; a head of the head office
                                                                (branch level HO) gets the bank-wide report
data_quality        active auditors (AU)                        the whole bank's data-quality evidence
risk                active risk officers (RO)                   their branch and its sub-branches; a risk
                                                                officer of the head office (HO): the bank
==================  ==========================================  ===========================================

Active = staff status A in the staff extract of the period's last business date. The e-mail address is C2
personal data: staged data holds a keyed token, so :func:`address_book` reads it from the restricted raw zone
at send time; addresses are never written to the warehouse, the outbox table, logs or Dagster metadata.

Nobody is dropped silently: an active reader whose staff row was quarantined (it is not in the staged
extract) is still a recipient, from :func:`quarantined_recipients`, with the reason they cannot be mailed
(``undeliverable``: the row's failing rule ids, its staff file and row); their report is rendered and the
outbox records them ``undeliverable``. When the row's staff id itself is unusable (a rule on ``staff_id``
failed, or it is not a plain file name) no file can be named after it: the recipient is ``row-<n>`` (the row
of the staff file), ``usable`` is False, and nothing is rendered for them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from crm.zones import CrmHome

ROLE_REPORTS = {
    "RM": ["key_account", "proposals", "watch_digest"],
    "BH": ["branch", "satisfaction"],
    "AU": ["data_quality"],
    "RO": ["risk"],
}
# reports whose reader at the head office (branch level HO) reads the whole bank
BANK_WIDE_AT_HEAD_OFFICE = ("satisfaction", "risk")


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
    # one row per staff id and role (the staged extract has one per id; two quarantined rows of one id with
    # two roles are two readers of different reports)
    for r in active.drop_duplicates(["staff_id", "role"]).sort_values(["staff_id", "role"]).itertuples(index=False):
        for report in ROLE_REPORTS[r.role]:
            scope = r.branch_id
            if report == "data_quality" or (report in BANK_WIDE_AT_HEAD_OFFICE and level.get(r.branch_id) == "HO"):
                scope = "bank"
            rows.append(
                {"report": report, "recipient_id": r.staff_id, "role": r.role, "branch_id": r.branch_id, "scope": scope}
            )
    return with_lineage(pd.DataFrame(rows, columns=["report", "recipient_id", "role", "branch_id", "scope"]), active)


def with_lineage(frame: pd.DataFrame, staff: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (with ``recipient_id``) plus the ``_source_file`` and ``_row_number`` of each recipient's
    first row in ``staff`` (null where ``staff`` lacks them or the id)."""
    first = staff.drop_duplicates("staff_id").set_index("staff_id")
    for col in LINEAGE:
        values = first[col] if col in first.columns else pd.Series(index=first.index, dtype="object")
        frame[col] = frame["recipient_id"].map(values)
    return frame


# what may be read from the restricted quarantine file: ids, role, status, branch, rule ids and lineage
QUARANTINE_COLUMNS = ["staff_id", "role", "branch_id", "status", "_rule_ids", "_source_file", "_row_number"]
ID_RULES = r"(?:^|,)\s*staff\.staff_id\."  # any rule on the staff_id column itself: the id is unusable
MAX_RECIPIENT_ID = 20  # the outbox's recipient_id width


def _safe_name(root: Path, name: str, origin: str) -> bool:
    """Whether ``name`` can name a report file inside ``root`` (:func:`crm.zones.safe_path`)."""
    from crm.zones import UnsafePathError, safe_path

    try:
        safe_path(root, name, origin=origin)
    except UnsafePathError:
        return False
    return True


def _plain(values: pd.Series) -> pd.Series:
    """Codes as a person reads them: text without control or format characters, stripped, upper case ("" for
    null)."""
    from crm.text import CONTROL_CLASS

    text = values.astype("string").fillna("")
    return text.str.replace(CONTROL_CLASS, "", regex=True).str.strip().str.upper().astype(object)


def quarantined_staff(raw: Path, day: dt.date, root: Path, roles: Iterable[str]) -> pd.DataFrame:
    """The active staff of ``roles`` whose staff row of ``day`` was quarantined, one row per quarantined row
    in file order: ``staff_id`` (the recipient id), ``role``, ``branch_id``, ``undeliverable`` (why they
    cannot be mailed: the row's failing rule ids, its staff file and row; never a value), ``usable`` (False
    when the staff id cannot name a file: a rule on ``staff_id`` failed, it is longer than the outbox allows,
    holds ``@``, or :func:`crm.zones.safe_path` refuses it under ``root``; the id is then ``row-<n>``, n the
    row of the staff file) and the lineage. The row failed a rule, perhaps on its role or status: they are
    read as a person reads them (:func:`_plain`), so an ``RM\u200b`` or a `` a`` is still an active manager.
    Reads only ids, role, status, branch, rule ids and lineage of the restricted quarantine file; nothing if
    there is none."""
    import pyarrow.parquet as pq

    from crm.zones import quarantine_file

    columns = ["staff_id", "role", "branch_id", "undeliverable", "usable", "_source_file", "_row_number"]
    path = quarantine_file(raw, "staff", day)
    if not path.exists():
        return pd.DataFrame(columns=columns)
    present = set(pq.read_schema(path).names)
    q = pd.read_parquet(path, columns=[c for c in QUARANTINE_COLUMNS if c in present])
    q = q.reindex(columns=QUARANTINE_COLUMNS)
    q = q.assign(role=_plain(q["role"]), status=_plain(q["status"]))
    q = q[(q["status"] == "A") & q["role"].isin(list(roles))]
    if q.empty:
        return pd.DataFrame(columns=columns)
    rules = q["_rule_ids"].fillna("").astype(str)
    row = q["_row_number"].astype("Int64").astype(str)
    where = "staff file " + q["_source_file"].fillna("?").astype(str) + " row " + row
    ids = q["staff_id"]
    text = ids.where(ids.map(lambda v: isinstance(v, str)), "")
    usable = (
        ~rules.str.contains(ID_RULES, regex=True)
        & text.str.len().between(1, MAX_RECIPIENT_ID)
        & ~text.str.contains("@", regex=False)
    )
    usable &= pd.Series(
        [_safe_name(root, n, w) if ok else False for n, w, ok in zip(text, where, usable, strict=True)], index=q.index
    )
    q = q.assign(
        staff_id=text.where(usable, "row-" + row),
        undeliverable=("quarantined: " + rules + " (" + where + ")").where(
            usable, "unusable staff id: " + rules.where(rules != "", "not a plain file name") + " (" + where + ")"
        ),
        usable=usable,
    )
    return q[columns]


def quarantined_recipients(raw: Path, day: dt.date, root: Path, branches: pd.DataFrame | None = None) -> pd.DataFrame:
    """The readers (active, role RM/BH/AU/RO) whose staff row of ``day`` was quarantined
    (:func:`quarantined_staff`), one row per (report, recipient) as :func:`recipients` gives, plus
    ``undeliverable`` and ``usable`` of their row."""
    columns = [
        "report",
        "recipient_id",
        "role",
        "branch_id",
        "scope",
        "undeliverable",
        "usable",
        "_source_file",
        "_row_number",
    ]
    q = quarantined_staff(raw, day, root, ROLE_REPORTS)
    if q.empty:
        return pd.DataFrame(columns=columns)
    found = recipients(q.assign(status="A"), branches)
    extra = q.drop_duplicates(["staff_id", "role"]).set_index(["staff_id", "role"])
    for col in ("undeliverable", "usable", "_source_file", "_row_number"):
        found[col] = pd.Series(
            list(zip(found["recipient_id"], found["role"], strict=True)), index=found.index, dtype=object
        ).map(extra[col])
    return found.reindex(columns=columns)


def with_quarantined(served: pd.DataFrame, quarantined: pd.DataFrame) -> pd.DataFrame:
    """Everyone to plan for: the recipients from the staged staff extract (``undeliverable`` null, ``usable``
    True) and the quarantined ones (:func:`quarantined_recipients`) whose (report, recipient) the staged
    extract does not already serve."""
    served = served.assign(undeliverable=None, usable=True)
    if quarantined.empty:
        return served
    both = pd.concat([served, quarantined], ignore_index=True)
    return both.drop_duplicates(["report", "recipient_id"], keep="first").reset_index(drop=True)


def readers(
    home: CrmHome, day: dt.date, staff: pd.DataFrame | None = None, branches: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Everyone a report of ``day`` is for (:func:`with_quarantined`): the readers of the staged staff extract
    (``staff``, read from the staged partition of ``day`` when not given; ``branches`` likewise, an empty
    frame for no branch cut) and those whose staff row was quarantined (undeliverable, with the reason; read
    from the restricted quarantine file: ids, role, status, branch, rule ids and lineage only)."""
    from crm.zones import read_staged

    staff = read_staged(home.staged, "staff", day) if staff is None else staff
    if branches is None:
        branches = read_staged(home.staged, "branches", day)
    return with_quarantined(recipients(staff, branches), quarantined_recipients(home.raw, day, home.reports, branches))


def servable(recipients: pd.DataFrame) -> pd.DataFrame:
    """The recipients a report file can be named after (``usable``; all of them without that column)."""
    if "usable" not in recipients.columns:
        return recipients
    return recipients[recipients["usable"].astype(bool)]


def address_book(raw: Path, day: dt.date) -> dict[str, str]:
    """staff_id -> e-mail address from the raw staff partition of ``day`` (or the latest one before it).
    Restricted zone: call only where mail is sent, keep the result in memory."""
    from crm.zones import latest_raw_file

    path = latest_raw_file(raw, "staff", day)
    frame = pd.read_parquet(path, columns=["staff_id", "email"])
    return dict(zip(frame["staff_id"], frame["email"], strict=True))
