"""Small lookups the report contexts share (crm.reports.data and crm.reports.proposals): row limits of the
reports' configuration, a customer's short reference, a staff member's name."""

from __future__ import annotations

from typing import Any

import pandas as pd


def row_limit(name: str) -> int:
    """A row limit of the reports (crm/reports/config.toml [limits])."""
    from crm.reports.settings import settings

    return int(settings()["limits"][name])


def customer_ref(customer_id: pd.Series) -> pd.Series:
    """A short reference of a customer token (its last 8 hex characters), not the token itself."""
    return customer_id.astype(str).str[-8:]


def staff_name(data: Any, staff_id: str) -> str | None:
    """The staff member's name from the month's staff frame (``data["staff"]``), None when unknown."""
    staff = data["staff"]
    if staff.empty:
        return None
    hit = staff.loc[staff["staff_id"] == staff_id, "staff_name"]
    return str(hit.iloc[0]) if len(hit) else None
