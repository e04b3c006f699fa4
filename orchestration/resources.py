"""Resources. One switch, ``CRM_ENV=local|prod``, picks the set (see :func:`resources_for`)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from crm.config import CrmHome


class CrmHomeResource(dg.ConfigurableResource):
    """The folder that holds landing/, raw/, staged/, reports/, outbox/, dq/, models/."""

    root: str

    def home(self) -> CrmHome:
        return CrmHome(root=Path(self.root).resolve()).ensure()


class WarehouseResource(dg.ConfigurableResource):
    """SQLAlchemy URL of the warehouse; empty means the DuckDB file inside CRM_HOME."""

    url: str = ""
    schema_name: str = ""
    crm_home: str = "data"

    def resolved_url(self) -> str:
        return self.url or CrmHome(root=Path(self.crm_home).resolve()).warehouse_url

    def engine(self) -> sa.Engine:
        from crm.warehouse import ensure_schema, make_engine

        engine = make_engine(self.resolved_url())
        ensure_schema(engine, self.schema or None)
        return engine

    @property
    def schema(self) -> str | None:
        return self.schema_name or None


class QualityResource(dg.ConfigurableResource):
    """Data-quality settings. ``default_threshold``: share of a partition's rows that may be quarantined
    before its checks block downstream assets (0.02 = 2 %); ``thresholds``: per-extract overrides;
    ``arrival_cutoff``: HH:MM bank time on the day after the business date by which extracts are due;
    ``engine``: ``gx`` (Great Expectations, the default) or ``pandas`` (the same rules, plain pandas)."""

    default_threshold: float = 0.02
    thresholds: dict[str, float] = {}
    arrival_cutoff: str = "08:00"
    engine: str = "gx"

    def threshold_for(self, extract: str) -> float:
        return float(self.thresholds.get(extract, self.default_threshold))


def _float_env(name: str, default: float) -> float:
    text = os.environ.get(name)
    return float(text) if text else default


def resources_for(env: str | None = None) -> dict:
    env = env or os.environ.get("CRM_ENV", "local")
    if env == "local":
        # Local defaults are paths, not secrets: CRM_HOME (default ./data) and its DuckDB file.
        home = os.environ.get("CRM_HOME", "data")
        return {
            "crm_home": CrmHomeResource(root=home),
            "warehouse": WarehouseResource(url=os.environ.get("CRM_WAREHOUSE_URL", ""), crm_home=home),
            "quality": QualityResource(
                default_threshold=_float_env("CRM_DQ_THRESHOLD", 0.02),
                arrival_cutoff=os.environ.get("CRM_ARRIVAL_CUTOFF", "08:00"),
            ),
        }
    if env == "prod":
        return {
            "crm_home": CrmHomeResource(root=dg.EnvVar("CRM_HOME")),
            "warehouse": WarehouseResource(url=dg.EnvVar("CRM_WAREHOUSE_URL"), crm_home=dg.EnvVar("CRM_HOME")),
            "quality": QualityResource(
                default_threshold=_float_env("CRM_DQ_THRESHOLD", 0.02),
                arrival_cutoff=os.environ.get("CRM_ARRIVAL_CUTOFF", "08:00"),
            ),
        }
    raise ValueError(f"CRM_ENV must be local or prod, not {env!r}")
