"""Where things live: everything under one folder, ``CRM_HOME`` (default ``./data``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SUBFOLDERS = ("landing", "raw", "staged", "reports", "outbox", "dq", "models")


@dataclass(frozen=True)
class CrmHome:
    root: Path

    @classmethod
    def from_env(cls, default: str | os.PathLike = "data") -> CrmHome:
        return cls(Path(os.environ.get("CRM_HOME") or default).resolve())

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def staged(self) -> Path:
        return self.root / "staged"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def dq(self) -> Path:
        return self.root / "dq"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def warehouse_url(self) -> str:
        return f"duckdb:///{self.warehouse_path}"

    def ensure(self) -> CrmHome:
        for name in SUBFOLDERS:
            (self.root / name).mkdir(parents=True, exist_ok=True)
        return self
