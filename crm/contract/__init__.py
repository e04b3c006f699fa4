"""The extract contract: the single source of truth for every extract."""

from __future__ import annotations

from crm.contract.codes import CODE_SETS
from crm.contract.extracts import CUSTOMER_MASTER, EXTRACTS
from crm.contract.identifiers import IdKind, id_regex
from crm.contract.identifiers import kinds as identifier_kinds
from crm.contract.model import Column, DelimitedLayout, Extract, ForeignKey

BY_NAME: dict[str, Extract] = {e.name: e for e in EXTRACTS}
BY_FILE_CODE: dict[str, Extract] = {e.file_code: e for e in EXTRACTS}


def get(name: str) -> Extract:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no extract named {name!r}; known: {', '.join(BY_NAME)}") from None


def _check() -> None:
    known_kinds = identifier_kinds()
    for e in EXTRACTS:
        for c in e.columns:
            where = f"{e.name}.{c.name}"
            if c.code_set and c.code_set not in CODE_SETS:
                raise ValueError(f"{where}: unknown code set {c.code_set!r}")
            unknown = [k for k in c.id_kind if k not in known_kinds]
            if unknown:
                raise ValueError(f"{where}: unknown identifier kinds {unknown} (crm/contract/identifiers.toml)")
            if c.type == "string" and not c.code_set and c.text is None:
                raise ValueError(f"{where}: a text column needs a text policy ('reject' or 'strip')")
            if (c.semantic == "free_text") != (c.text == "strip"):
                raise ValueError(f"{where}: free text, and only free text, has the text policy 'strip'")
            if c.id_kind and c.text != "reject":
                raise ValueError(f"{where}: an identifier column must reject control characters")
        identifying = set(e.key) | {c for fk in e.references for c in fk.columns}
        for name in identifying:
            c = e.column(name)
            if c.type == "string" and not c.code_set and not c.id_kind:
                raise ValueError(f"{e.name}.{name}: a key or reference column needs an identifier kind")
        for ref in e.references:
            if ref.extract != "customer_master" and ref.extract not in BY_NAME:
                raise ValueError(f"{e.name}: reference to unknown extract {ref.extract!r}")
            targets = CUSTOMER_MASTER if ref.extract == "customer_master" else (ref.extract,)
            for col, ref_col in zip(ref.columns, ref.ref_columns, strict=True):
                for t in targets:
                    if set(e.column(col).id_kind) != set(BY_NAME[t].column(ref_col).id_kind):
                        raise ValueError(f"{e.name}.{col}: identifier kind differs from {t}.{ref_col}'s")


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
    "IdKind",
    "get",
    "id_regex",
    "identifier_kinds",
]
