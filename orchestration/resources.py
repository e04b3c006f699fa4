"""Resources. One switch, ``CRM_ENV=local|prod``, picks the set (see :func:`resources_for`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from crm.retention import DEFAULT_DAYS
from crm.zones import CrmHome


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
        import crm.delivery.outbox  # noqa: F401  (declares report_outbox on the warehouse metadata)
        from crm.warehouse import ensure_schema, make_engine

        engine = make_engine(self.resolved_url())
        ensure_schema(engine, self.schema or None)
        return engine

    @property
    def schema(self) -> str | None:
        return self.schema_name or None

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One transaction on a short-lived engine (disposed after: DuckDB allows one writing process, so no
        step keeps the file open between its reads and writes)."""
        from crm.warehouse import begin

        engine = self.engine()
        try:
            with begin(engine, self.schema) as conn:
                yield conn
        finally:
            engine.dispose()


class QualityResource(dg.ConfigurableResource):
    """Data-quality settings. A staged partition blocks downstream assets only when its quarantined rows
    exceed both its share allowance and its row allowance (or rows are unaccounted for). Each extract's
    allowances come from the contract (``Extract.quarantine_share``, 2 %; ``Extract.quarantine_rows``, 5
    rows); ``default_threshold`` / ``default_rows_threshold`` replace them for every extract
    (``CRM_DQ_THRESHOLD``, ``CRM_DQ_ROWS_THRESHOLD``), ``thresholds`` / ``rows_thresholds`` for one extract.
    ``arrival_cutoff``: HH:MM bank time by which a business date's extracts are due (``CRM_ARRIVAL_CUTOFF``),
    on the ``arrival_working_days``-th working day after the business date (``CRM_ARRIVAL_WORKING_DAYS``,
    default 1: a Friday's files by Monday 08:00, a holiday eve's by the first working day after the holiday;
    working days from crm/holidays_cn.toml, a year it lacks fails the arrival register);
    ``engine``: ``gx`` (Great Expectations, the default) or ``pandas`` (the same rules, plain pandas)."""

    default_threshold: float | None = None
    thresholds: dict[str, float] = {}
    default_rows_threshold: int | None = None
    rows_thresholds: dict[str, int] = {}
    arrival_cutoff: str = "08:00"
    arrival_working_days: int = 1
    engine: str = "gx"

    def threshold_for(self, extract: str) -> float:
        """Share allowance (0.02 = 2 % of the partition's parsed rows). ``ValueError`` naming the setting when
        an override is not a share from 0 to 1 (``2`` meant as 2 %, or NaN, would never block)."""
        from crm.contract import get

        if extract in self.thresholds:
            return _share(self.thresholds[extract], f"quality.thresholds[{extract!r}]")
        if self.default_threshold is not None:
            return _share(self.default_threshold, "CRM_DQ_THRESHOLD (quality.default_threshold)")
        return float(get(extract).quarantine_share)

    def rows_threshold_for(self, extract: str) -> int:
        """Row allowance (quarantined rows). ``ValueError`` naming the setting when an override is negative."""
        from crm.contract import get

        if extract in self.rows_thresholds:
            return _rows(self.rows_thresholds[extract], f"quality.rows_thresholds[{extract!r}]")
        if self.default_rows_threshold is not None:
            return _rows(self.default_rows_threshold, "CRM_DQ_ROWS_THRESHOLD (quality.default_rows_threshold)")
        return int(get(extract).quarantine_rows)


def _share(value: float, name: str) -> float:
    share = float(value)
    if not 0.0 <= share <= 1.0:  # NaN fails too
        raise ValueError(f"{name} must be a share from 0 to 1 (0.02 = 2 % of the parsed rows), not {value!r}")
    return share


def _rows(value: int, name: str) -> int:
    rows = int(value)
    if rows < 0:
        raise ValueError(f"{name} must be a number of rows, 0 or more, not {value!r}")
    return rows


class PrivacyResource(dg.ConfigurableResource):
    """The masking key ring. ``key``: a key file's path, or a key inline (64+ hex digits); from
    ``CRM_MASKING_KEY``. Empty: locally (``create_if_missing``) ``CRM_HOME/masking-keys.json`` is used and
    created on first use; in production the run stops with an error naming the variable."""

    key: str = ""
    crm_home: str = "data"
    create_if_missing: bool = False
    raw_retention_days: int = 400

    def ring(self, log=None):
        from crm.privacy.tokens import KeyError_, ensure_local_ring, load_ring

        if self.key:
            return load_ring(self.key)
        if not self.create_if_missing:
            raise KeyError_(
                "no masking key: set CRM_MASKING_KEY to the key file (or the key) before running in production"
            )
        ring, path, created = ensure_local_ring(Path(self.crm_home).resolve())
        if created and log is not None:
            log.warning(f"created a new local masking key file {path} (keep it: tokens depend on it)")
        return ring


class RetentionResource(dg.ConfigurableResource):
    """Retention periods in days beyond the raw zone (whose period is ``PrivacyResource.raw_retention_days``):
    ``reports``, ``outbox``, ``dq`` (files under CRM_HOME) and ``dagster`` (the instance's runs, event logs
    and compute logs). From CRM_REPORTS_RETENTION_DAYS, CRM_OUTBOX_RETENTION_DAYS, CRM_DQ_RETENTION_DAYS and
    CRM_DAGSTER_RETENTION_DAYS; defaults :data:`crm.retention.DEFAULT_DAYS` (400, 400, 1825, 180)."""

    reports_days: int = DEFAULT_DAYS["reports"]
    outbox_days: int = DEFAULT_DAYS["outbox"]
    dq_days: int = DEFAULT_DAYS["dq"]
    dagster_days: int = DEFAULT_DAYS["dagster"]

    def days(self) -> dict[str, int]:
        return {
            "reports": self.reports_days,
            "outbox": self.outbox_days,
            "dq": self.dq_days,
            "dagster": self.dagster_days,
        }


def _retention() -> RetentionResource:
    from crm.retention import retention_days

    days = retention_days()
    return RetentionResource(
        reports_days=days["reports"], outbox_days=days["outbox"], dq_days=days["dq"], dagster_days=days["dagster"]
    )


class ScoringResource(dg.ConfigurableResource):
    """Scorecard settings. ``auto_approve_first``: approve a segment's first trained version automatically
    (local and demo only; production approves by hand after reading the model card). ``min_bads``: fewer bad
    outcomes than this in a segment's development sample and no model is trained."""

    auto_approve_first: bool = False
    min_bads: int = 50


class DeliveryResource(dg.ConfigurableResource):
    """How reports are mailed. ``transport``: ``file`` writes each message as an exact ``.eml`` file into
    ``CRM_HOME/outbox/`` (the local default); ``smtp`` hands them to ``smtp_host``:``smtp_port`` (STARTTLS
    when ``smtp_starttls``; login when ``smtp_user`` is set, password from ``CRM_SMTP_PASSWORD``).
    ``sender``: the From address. ``locale``: zh_CN or en. ``workers``: rendering processes (0 = one per
    core). ``retries``: attempts per message before it is left pending for the next run."""

    transport: str = "file"
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_timeout: float = 30.0
    sender: str = "crm-reports@bank.example"
    locale: str = "zh_CN"
    workers: int = 0
    retries: int = 5

    def transport_for(self, outbox: Path):
        from crm.delivery import FileTransport, SmtpSettings, SmtpTransport

        if self.transport == "file":
            return FileTransport(outbox)
        if self.transport == "smtp":
            if not self.smtp_host:
                raise ValueError("CRM_SMTP_HOST is not set: the smtp transport needs a server")
            return SmtpTransport(
                SmtpSettings(
                    host=self.smtp_host,
                    port=self.smtp_port,
                    starttls=self.smtp_starttls,
                    username=self.smtp_user or None,
                    password=self.smtp_password or None,
                    timeout=self.smtp_timeout,
                    sender=self.sender,
                ),
                retries=self.retries,
            )
        raise ValueError(f"delivery transport must be file or smtp, not {self.transport!r}")


def _delivery(env: str) -> DeliveryResource:
    """Local: .eml files unless CRM_SMTP_HOST names a server. Production: SMTP, everything from the
    environment (EnvVar, so the password never shows in the UI)."""
    if env == "local" and not os.environ.get("CRM_SMTP_HOST"):
        return DeliveryResource(
            transport="file",
            locale=os.environ.get("CRM_REPORT_LOCALE", "zh_CN"),
            sender=os.environ.get("CRM_MAIL_FROM", "crm-reports@bank.example"),
        )
    return DeliveryResource(
        transport="smtp",
        smtp_host=dg.EnvVar("CRM_SMTP_HOST"),
        smtp_port=int(os.environ.get("CRM_SMTP_PORT") or 25),
        smtp_starttls=os.environ.get("CRM_SMTP_STARTTLS", "1" if env == "prod" else "0") == "1",
        smtp_user=os.environ.get("CRM_SMTP_USER", ""),
        smtp_password=dg.EnvVar("CRM_SMTP_PASSWORD") if os.environ.get("CRM_SMTP_PASSWORD") else "",
        sender=os.environ.get("CRM_MAIL_FROM", "crm-reports@bank.example"),
        locale=os.environ.get("CRM_REPORT_LOCALE", "zh_CN"),
    )


def _float_env(name: str, default: float | None) -> float | None:
    text = os.environ.get(name)
    return float(text) if text else default


def _int_env(name: str, default: int | None) -> int | None:
    text = os.environ.get(name)
    return int(text) if text else default


def resources_for(env: str | None = None) -> dict:
    env = env or os.environ.get("CRM_ENV", "local")
    if env == "local":
        # Local defaults are paths, not secrets: CRM_HOME (default ./data) and its DuckDB file.
        home = os.environ.get("CRM_HOME", "data")
        return {
            "crm_home": CrmHomeResource(root=home),
            "warehouse": WarehouseResource(url=os.environ.get("CRM_WAREHOUSE_URL", ""), crm_home=home),
            "quality": QualityResource(
                default_threshold=_float_env("CRM_DQ_THRESHOLD", None),
                default_rows_threshold=_int_env("CRM_DQ_ROWS_THRESHOLD", None),
                arrival_cutoff=os.environ.get("CRM_ARRIVAL_CUTOFF", "08:00"),
                arrival_working_days=_int_env("CRM_ARRIVAL_WORKING_DAYS", 1),
            ),
            # an EnvVar, so the key never shows in the UI's resource config
            "privacy": PrivacyResource(
                key=dg.EnvVar("CRM_MASKING_KEY") if os.environ.get("CRM_MASKING_KEY") else "",
                crm_home=home,
                create_if_missing=True,
                raw_retention_days=int(os.environ.get("CRM_RAW_RETENTION_DAYS") or 400),
            ),
            "scoring": ScoringResource(auto_approve_first=True),
            "delivery": _delivery("local"),
            "retention": _retention(),
        }
    if env == "prod":
        return {
            "crm_home": CrmHomeResource(root=dg.EnvVar("CRM_HOME")),
            "warehouse": WarehouseResource(url=dg.EnvVar("CRM_WAREHOUSE_URL"), crm_home=dg.EnvVar("CRM_HOME")),
            "quality": QualityResource(
                default_threshold=_float_env("CRM_DQ_THRESHOLD", None),
                default_rows_threshold=_int_env("CRM_DQ_ROWS_THRESHOLD", None),
                arrival_cutoff=os.environ.get("CRM_ARRIVAL_CUTOFF", "08:00"),
                arrival_working_days=_int_env("CRM_ARRIVAL_WORKING_DAYS", 1),
            ),
            # unset, the run stops: Dagster names the missing variable
            "privacy": PrivacyResource(
                key=dg.EnvVar("CRM_MASKING_KEY"),
                create_if_missing=False,
                raw_retention_days=int(os.environ.get("CRM_RAW_RETENTION_DAYS") or 400),
            ),
            "scoring": ScoringResource(auto_approve_first=False),
            "delivery": _delivery("prod"),
            "retention": _retention(),
        }
    raise ValueError(f"CRM_ENV must be local or prod, not {env!r}")
