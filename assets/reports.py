"""Reports: render per recipient (HTML + PDF, in a pool of worker processes) and put each message in the
outbox; their leak scans and delivery are :mod:`assets.delivery`.

- ``reports/portfolio`` (month): key-account reports per manager, branch and satisfaction reports per branch
  head, the bank-wide satisfaction report on file.
- ``reports/risk`` (month): the risk report per risk officer (their branch and its sub-branches; a head-office
  officer the bank).
- ``reports/satisfaction_quarterly`` (month; quarter-closing months only): the quarterly satisfaction report.
- ``reports/data_quality`` (month): the auditors' data-quality report, with the result of the month's report
  leak scan (``dq/report_leak_scan``).
- ``reports/watch_digest`` (week): the weekly early-warning digest per manager.

Who reads what is :mod:`crm.reports.recipients`, the plans :mod:`crm.reports.plan`, the rendering and queueing
:mod:`crm.reports.queue`, the incomplete-data notice on every cover :mod:`crm.reports.completeness`.

A rerun or a backfill re-renders and re-queues; a message already sent stays sent unless the render asset
is run with ``resend: true`` (run config), which queues it once more under a new Message-ID.
"""

import datetime as dt

import dagster as dg
import pandas as pd

from assets.factory import OWNERS, latest_month_rows, month_end_asset, month_rows
from crm.bank_calendar import (
    bank_now_naive,
    business_date_for,
    closes_quarter,
    month_period,
    quarter_period,
    week_end,
    week_period,
)
from crm.reports.recipients import readers
from crm.zones import latest_staged_file, partition_date, read_staged
from orchestration.partitions import weekly_partitions
from orchestration.resources import CrmHomeResource, DeliveryResource, PrivacyResource, WarehouseResource

PORTFOLIO_MARTS = [
    "customer_360",
    "customer_value",
    "credit_scores",
    "early_warnings",
    "cross_sell",
    "revisit_plan",
    "manager_scorecards",
    "satisfaction",
    "related_party_groups",
]
RISK_MARTS = [
    "customer_360",
    "five_class_reconciliation",
    "financial_ratios",
    "related_party_groups",
    "early_warnings",
]
LEAK_SCAN_KEY = dg.AssetKey(["dq", "report_leak_scan"])  # assets.delivery: its result is in the auditors' report
PORTFOLIO_REPORTS = {"key_account": "key_account", "branch": "branch", "satisfaction": "satisfaction"}
WEEKLY_TAGS = {"layer": "reports", "sensitivity": "internal"}


class RenderConfig(dg.Config):
    """``resend``: queue messages already sent for this period once more (a new Message-ID)."""

    resend: bool = False


def _marts(*names: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(["marts", n]) for n in names]


def _incomplete(warehouse: WarehouseResource, kind: str, day: dt.date) -> list[dict]:
    """The incomplete-data notice of the ``kind`` period (month, quarter, week) ending with ``day``."""
    from crm.reports.completeness import period_notice

    with warehouse.transaction() as conn:
        return period_notice(conn, kind, day)


def _log_incomplete(context, notice: list[dict]) -> None:
    from crm.reports.completeness import notice_log_line

    line = notice_log_line(notice)
    if line:
        context.log.warning(line)


READERS = object()  # where _serve puts the servable readers among a plan function's arguments


def _serve(
    context,
    warehouse: WarehouseResource,
    delivery: DeliveryResource,
    everyone: pd.DataFrame,
    notice: list[dict],
    plan,
    *plan_args,
    period: str,
    reports: dict[str, str],
    resend: bool,
) -> dict:
    """One period of a report asset: log the incomplete-data notice, call ``plan(*plan_args)`` with the servable
    readers of ``everyone`` in place of :data:`READERS`, finish the plan for everyone
    (:func:`crm.reports.plan.complete`: the notice on every cover, undeliverable readers recorded), render and
    queue; the run's metadata."""
    from crm.reports.plan import complete
    from crm.reports.recipients import servable

    _log_incomplete(context, notice)
    who = servable(everyone)
    planned = complete(
        plan(*(who if a is READERS else a for a in plan_args)), everyone, notice, period=period, reports=reports
    )
    return _render_and_queue(context, warehouse, delivery, planned, resend=resend)


def _render_and_queue(
    context, warehouse: WarehouseResource, delivery: DeliveryResource, planned, *, resend: bool
) -> dict:
    """Render the planned jobs in the pool, queue the mailed ones (:func:`crm.reports.queue.render_and_queue`;
    a failed rendering fails the step); the run's metadata."""
    from crm.reports.queue import render_and_queue

    meta = render_and_queue(
        planned, warehouse.transaction, workers=delivery.workers or None, resend=resend, log=context.log
    )
    meta["undeliverable_rows"] = dg.MetadataValue.md(meta["undeliverable_rows"])
    return meta


@month_end_asset(
    "reports",
    "portfolio",
    deps=[*_marts(*PORTFOLIO_MARTS), dg.AssetKey(["staged", "staff"]), dg.AssetKey(["staged", "branches"])],
    kinds=("python", "pdf", "html"),
    description="The month's portfolio reports as HTML and PDF: key-account report per relationship manager "
    "(their customers only), branch report and satisfaction report per branch head (their branch only), the "
    "bank-wide satisfaction report on file. Files under CRM_HOME/reports/<YYYY-MM>/; each mailed report queued "
    "in the outbox table (report, period, recipient). A reader whose staff row was quarantined is rendered and "
    "recorded undeliverable with the reason (metadata undeliverable_rows); a period with incomplete data "
    "(a current blocking DQ failure, an unrestated rejected file) carries the notice on every cover.",
)
def portfolio(
    context: dg.AssetExecutionContext,
    config: RenderConfig,
    crm_home: CrmHomeResource,
    warehouse: WarehouseResource,
    delivery: DeliveryResource,
):
    from crm.reports.data import load_month
    from crm.reports.plan import portfolio_plan

    home = crm_home.home()
    meta: dict = {}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        with warehouse.transaction() as conn:
            data = load_month(conn, day, read_staged(home.staged, "staff", day))
        if data["customer_value"].empty:
            raise FileNotFoundError(f"marts/customer_value has no rows for {day}: run the month-end pipeline first")
        meta = _serve(
            context,
            warehouse,
            delivery,
            readers(home, day),
            _incomplete(warehouse, "month", day),
            portfolio_plan,
            data,
            READERS,
            home.reports,
            delivery.locale,
            bank_now_naive(),
            period=month_period(day),
            reports=PORTFOLIO_REPORTS,
            resend=config.resend,
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("rendered", 0), **meta})


@month_end_asset(
    "reports",
    "risk",
    deps=[*_marts(*RISK_MARTS), dg.AssetKey(["staged", "staff"]), dg.AssetKey(["staged", "branches"])],
    kinds=("python", "pdf", "html"),
    description="The month's risk report per risk officer (role RO), HTML and PDF: for their branch and its "
    "sub-branches (a head-office officer: the bank) the five-category differences to review, customers whose "
    "financial ratios deteriorated, corporate groups and guarantee circles with a member in trouble, bureau "
    "signals (EW08, EW09), high-severity warnings as sentences, and concentration by industry and by obligor "
    "(shares, HHI). Files under CRM_HOME/reports/<YYYY-MM>/risk/; each report queued in the outbox table. A "
    "reader whose staff row was quarantined is rendered and recorded undeliverable; a period with incomplete "
    "data carries the notice on the cover.",
)
def risk(
    context: dg.AssetExecutionContext,
    config: RenderConfig,
    crm_home: CrmHomeResource,
    warehouse: WarehouseResource,
    delivery: DeliveryResource,
):
    from crm.reports.plan import risk_plan
    from crm.reports.risk import load_risk_month

    home = crm_home.home()
    meta: dict = {}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        staff, branches = read_staged(home.staged, "staff", day), read_staged(home.staged, "branches", day)
        with warehouse.transaction() as conn:
            data = load_risk_month(conn, day, staff, branches)
        if data["customer_360"].empty:
            raise FileNotFoundError(f"marts/customer_360 has no rows for {day}: run the month-end pipeline first")
        meta = _serve(
            context,
            warehouse,
            delivery,
            readers(home, day, staff, branches),
            _incomplete(warehouse, "month", day),
            risk_plan,
            data,
            READERS,
            home.reports,
            delivery.locale,
            bank_now_naive(),
            period=month_period(day),
            reports={"risk": "risk"},
            resend=config.resend,
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("rendered", 0), **meta})


@month_end_asset(
    "reports",
    "satisfaction_quarterly",
    deps=[*_marts("satisfaction"), dg.AssetKey(["staged", "staff"]), dg.AssetKey(["staged", "branches"])],
    kinds=("python", "pdf", "html"),
    description="The quarterly satisfaction report (CSAT and NPS over the quarter with intervals, the monthly "
    "trend, by branch, channel, product and tier, drivers, complaint themes, SLAs, verbatims) per branch head "
    "and bank-wide, for a quarter-closing month (March, June, September, December); other months do nothing.",
)
def satisfaction_quarterly(
    context: dg.AssetExecutionContext,
    config: RenderConfig,
    crm_home: CrmHomeResource,
    warehouse: WarehouseResource,
    delivery: DeliveryResource,
):
    from crm.reports.data import load_month
    from crm.reports.plan import quarterly_plan

    home = crm_home.home()
    meta: dict = {"quarters": 0}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        if not closes_quarter(day):
            context.log.info(f"{day:%Y-%m} does not close a quarter: no quarterly report")
            continue
        with warehouse.transaction() as conn:
            data = load_month(conn, day, read_staged(home.staged, "staff", day))
        served = _serve(
            context,
            warehouse,
            delivery,
            readers(home, day),
            _incomplete(warehouse, "quarter", day),
            quarterly_plan,
            data,
            READERS,
            home.reports,
            delivery.locale,
            bank_now_naive(),
            period=quarter_period(day),
            reports={"satisfaction": "satisfaction_quarter"},
            resend=config.resend,
        )
        meta = {"quarters": meta["quarters"] + 1, **served}
    return dg.MaterializeResult(metadata=meta)


@month_end_asset(
    "reports",
    "data_quality",
    deps=[LEAK_SCAN_KEY, dg.AssetKey(["dq", "arrivals"]), dg.AssetKey(["staged", "staff"])],
    kinds=("python", "pdf", "html"),
    description="The auditors' monthly data-quality report: files expected, arrived, late, rejected; control "
    "totals; rule pass rates with their trend; quarantine by rule; masking evidence (policy version, key "
    "versions, the month's report leak scan); raw-zone purges. Rendered once, mailed to every auditor.",
)
def data_quality(
    context: dg.AssetExecutionContext,
    config: RenderConfig,
    crm_home: CrmHomeResource,
    warehouse: WarehouseResource,
    privacy: PrivacyResource,
    delivery: DeliveryResource,
):
    from crm.privacy.policy import load_policy
    from crm.reports.dq import dq_context, is_empty
    from crm.reports.leakscan import leak_scan_of
    from crm.reports.plan import dq_plan

    home = crm_home.home()
    meta: dict = {}
    ring = privacy.ring(context.log)
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        scan = leak_scan_of(month_rows(warehouse, "report_leak_scans", day, []))
        with warehouse.transaction() as conn:
            ctx = dq_context(
                conn,
                day,
                policy_version=load_policy().version,
                key_versions=list(ring.keys),
                leak_scan=scan,
                generated_at=bank_now_naive(),
            )
        rows = 0 if is_empty(ctx) else 1
        meta = _serve(
            context,
            warehouse,
            delivery,
            readers(home, day),
            ctx["incomplete"],
            dq_plan,
            ctx,
            READERS,
            home.reports,
            delivery.locale,
            rows,
            period=month_period(day),
            reports={"data_quality": "data_quality"},
            resend=config.resend,
        )
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    key=dg.AssetKey(["reports", "watch_digest"]),
    group_name="reports",
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        dg.AssetKey(["marts", "watch_list_weekly"]),
        dg.AssetKey(["staged", "staff"]),
        dg.AssetKey(["marts", "customer_360"]),
    ],
    kinds={"python", "pdf", "html"},
    owners=OWNERS,
    tags=WEEKLY_TAGS,
    description="The weekly early-warning digest per relationship manager (their own customers on the weekly "
    "watch list), HTML and PDF under CRM_HOME/reports/<YYYY-Www>/, queued in the outbox.",
)
def watch_digest(
    context: dg.AssetExecutionContext,
    config: RenderConfig,
    crm_home: CrmHomeResource,
    warehouse: WarehouseResource,
    delivery: DeliveryResource,
):
    from crm.reports.plan import digest_plan
    from crm.warehouse.marts import read_table

    home = crm_home.home()
    meta: dict = {}
    for pk in context.partition_keys:
        day = week_end(pk)
        with warehouse.transaction() as conn:
            watch = read_table(conn, "watch_list_weekly", {"week_end": day})
        names = latest_month_rows(warehouse, "customer_360", day)
        names = (
            names[["customer_id", "display_name"]]
            if len(names)
            else pd.DataFrame(columns=["customer_id", "display_name"])
        )
        staff_day = _latest_staged_day(home, "staff", day)
        staff = read_staged(home.staged, "staff", staff_day)
        meta = _serve(
            context,
            warehouse,
            delivery,
            readers(home, staff_day, staff, branches=pd.DataFrame()),  # no branch cut in a digest
            _incomplete(warehouse, "week", day),
            digest_plan,
            watch,
            names,
            staff,
            READERS,
            day,
            home.reports,
            delivery.locale,
            bank_now_naive(),
            period=week_period(day),
            reports={"watch_digest": "watch_digest"},
            resend=config.resend,
        )
    return dg.MaterializeResult(metadata=meta)


def _latest_staged_day(home, extract: str, day: dt.date) -> dt.date:
    """The business date of the staged partition of ``day``, or of the latest one before it."""
    return partition_date(latest_staged_file(home.staged, extract, day))


report_assets = [portfolio, risk, satisfaction_quarterly, data_quality]
weekly_report_assets = [watch_digest]
REPORT_KEYS = [a.key for a in report_assets]
WEEKLY_REPORT_KEYS = [a.key for a in weekly_report_assets]
