"""The extract contract: the single source of truth for every extract."""

from __future__ import annotations

from crm.contract.codes import CODE_SETS
from crm.contract.extracts import CUSTOMER_MASTER, EXTRACTS
from crm.contract.model import Column, DelimitedLayout, Extract, ForeignKey

BY_NAME: dict[str, Extract] = {e.name: e for e in EXTRACTS}
BY_FILE_CODE: dict[str, Extract] = {e.file_code: e for e in EXTRACTS}


def get(name: str) -> Extract:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no extract named {name!r}; known: {', '.join(BY_NAME)}") from None


def _check() -> None:
    for e in EXTRACTS:
        for c in e.columns:
            if c.code_set and c.code_set not in CODE_SETS:
                raise ValueError(f"{e.name}.{c.name}: unknown code set {c.code_set!r}")
        for ref in e.references:
            if ref.extract != "customer_master" and ref.extract not in BY_NAME:
                raise ValueError(f"{e.name}: reference to unknown extract {ref.extract!r}")


_check()

__all__ = [
    "BY_FILE_CODE",
    "BY_NAME",
    "CODE_SETS",
    "CUSTOMER_MASTER",
    "EXTRACTS",
    "Column",
    "DelimitedLayout",
    "Extract",
    "ForeignKey",
    "get",
]
