"""Reports: render per recipient (HTML + PDF, in a pool of worker processes) and put each message in the
outbox; their leak scans and delivery are :mod:`assets.delivery`.

- ``reports/portfolio`` (month): key-account reports and proposal lists per manager, branch and satisfaction
  reports per branch head, the bank-wide satisfaction report on file.
- ``reports/risk`` (month): the risk report per risk officer (their branch and its sub-branches; a head-office
  officer the bank).
- ``reports/satisfaction_quarterly`` (month; quarter-closing months only): the quarterly satisfaction report.
- ``reports/data_quality`` (month): the auditors' data-quality report, with the result of the month's report
  leak scan (``dq/report_leak_scan``).
- ``reports/watch_digest`` (week): the weekly early-warning digest per manager.

Who reads what is :mod:`crm.reports.recipients`, what a period renders :mod:`crm.reports.periods` (its plans
:mod:`crm.reports.plan`; the time every report shows: the period's logical time), the rendering and queueing
:mod:`crm.reports.queue`, the incomplete-data notice on every cover :mod:`crm.reports.completeness`.

A rerun or a backfill re-renders and re-queues; a message already sent stays sent unless the render asset
is run with ``resend: true`` (run config), which queues it once more under a new Message-ID.
"""

import dagster as dg

from assets.factory import OWNERS, month_end_asset
from crm.bank_calendar import business_date_for
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
    "customer_needs",  # customer_needs, customer_preferences, segment_needs, segment_preferences
    "proposals",
    "proposal_outcomes",  # proposal_takeup, proposal_uplift, opportunity_conversion
    "coverage",  # key_account_coverage, relationship_map, service_delivery, key_account_findings
]
RISK_MARTS = [
    "customer_360",
    "five_class_reconciliation",
    "financial_ratios",
    "related_party_groups",
    "early_warnings",
]
LEAK_SCAN_KEY = dg.AssetKey(["dq", "report_leak_scan"])  # assets.delivery: its result is in the auditors' report
WEEKLY_TAGS = {"layer": "reports", "sensitivity": "internal"}


class RenderConfig(dg.Config):
    """``resend``: queue messages already sent for this period once more (a new Message-ID)."""

    resend: bool = False


def _marts(*names: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(["marts", n]) for n in names]


def _render_and_queue(context, warehouse: WarehouseResource, delivery: DeliveryResource, plan, *, resend: bool) -> dict:
    """Log a period's incomplete-data notice, render its plan (:mod:`crm.reports.periods`) in the pool and
    queue the mailed entries (:func:`crm.reports.queue.render_and_queue`; a failed rendering fails the step);
    the run's metadata."""
    from crm.reports.periods import log_notice
    from crm.reports.queue import render_and_queue

    log_notice(context.log, plan.notice)
    meta = render_and_queue(
        plan.planned,
        warehouse.transaction,
        workers=delivery.workers or None,
        resend=resend,
        log=context.log,
        period=plan.period,
    )
    meta["undeliverable_rows"] = dg.MetadataValue.md(meta["undeliverable_rows"])
    return meta


@month_end_asset(
    "reports",
    "portfolio",
    deps=[*_marts(*PORTFOLIO_MARTS), dg.AssetKey(["staged", "staff"]), dg.AssetKey(["staged", "branches"])],
    kinds=("python", "pdf", "html"),
    description="The month's portfolio reports as HTML and PDF: key-account report and proposal list per "
    "relationship manager (their customers only; the list never names a customer held out of a proposal), "
    "branch report and satisfaction report per branch head (their branch only), the "
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
    from crm.reports import periods

    home = crm_home.home()
    meta: dict = {}
    for pk in context.partition_keys:
        plan = periods.portfolio(home, warehouse.transaction, business_date_for(pk, "month_end"), delivery.locale)
        meta = _render_and_queue(context, warehouse, delivery, plan, resend=config.resend)
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
    from crm.reports import periods

    home = crm_home.home()
    meta: dict = {}
    for pk in context.partition_keys:
        plan = periods.risk(home, warehouse.transaction, business_date_for(pk, "month_end"), delivery.locale)
        meta = _render_and_queue(context, warehouse, delivery, plan, resend=config.resend)
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
    from crm.reports import periods

    home = crm_home.home()
    meta: dict = {"quarters": 0}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        plan = periods.quarterly(home, warehouse.transaction, day, delivery.locale)
        if plan is None:
            context.log.info(f"{day:%Y-%m} does not close a quarter: no quarterly report")
            continue
        served = _render_and_queue(context, warehouse, delivery, plan, resend=config.resend)
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
    from crm.reports import periods

    home = crm_home.home()
    meta: dict = {}
    ring = privacy.ring(context.log)
    for pk in context.partition_keys:
        plan = periods.data_quality(
            home,
            warehouse.transaction,
            business_date_for(pk, "month_end"),
            delivery.locale,
            policy_version=load_policy().version,
            key_versions=list(ring.keys),
        )
        meta = _render_and_queue(context, warehouse, delivery, plan, resend=config.resend)
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
    from crm.reports import periods

    home = crm_home.home()
    meta: dict = {}
    for pk in context.partition_keys:
        plan = periods.digest(home, warehouse.transaction, pk, delivery.locale)
        meta = _render_and_queue(context, warehouse, delivery, plan, resend=config.resend)
    return dg.MaterializeResult(metadata=meta)


report_assets = [portfolio, risk, satisfaction_quarterly, data_quality]
weekly_report_assets = [watch_digest]
REPORT_KEYS = [a.key for a in report_assets]
WEEKLY_REPORT_KEYS = [a.key for a in weekly_report_assets]
