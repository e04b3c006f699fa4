"""Marts layer: what relationship managers, risk officers and reports read, per month-end, from staged data
only (tokens and masked values; no raw personal data).

Each mart is partitioned by month (key ``YYYY-MM-01``, business date the month's last day), reads the staged
partitions of that date, calls a plain function of :mod:`crm.scoring` and replaces its month in a warehouse
table (idempotent). Monthly assets depend on the daily staged assets of the month (Dagster maps a month to its
days); they read the month-end date's partitions.
"""

import dagster as dg

from assets.factory import mart_reader, month_end_asset, month_rows, write_mart
from crm.bank_calendar import business_date_for
from crm.value.inputs import STAGED_EXTRACTS as VALUE_EXTRACTS
from crm.zones import read_staged, read_staged_until
from orchestration.resources import CrmHomeResource, WarehouseResource


def _keys(*names: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(["staged", n]) for n in names]


@month_end_asset(
    "marts",
    "customer_360",
    deps=_keys(
        "customers",
        "corporates",
        "loans",
        "deposits",
        "product_holdings",
        "related_parties",
        "bureau_records",
        "branches",
        "staff",
    ),
    description="Customer 360 at month end: one row per customer with a loan, a guarantee or a deposit: masked "
    "profile, branch and manager, products held, exposure (loans, overdue, worst class), guarantees given and "
    "received, deposits and the latest credit-bureau summary. Warehouse table customer_360 (month_end). "
    "Sensitivity: internal (tokens and masked values).",
)
def customer_360(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.scoring.customer360 import customer_360 as build

    home = crm_home.home()
    rows, customers = 0, 0
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        frames = {
            n: read_staged(home.staged, n, day)
            for n in (
                "customers",
                "corporates",
                "loans",
                "deposits",
                "product_holdings",
                "related_parties",
                "branches",
                "staff",
            )
        }
        frames["bureau_records"] = read_staged_until(home.staged, "bureau_records", day)
        view = build(day, **frames).rename(columns={"business_date": "month_end"})
        rows += write_mart(warehouse, "customer_360", view, {"month_end": day})
        customers += int(view["is_credit_customer"].sum())
    return dg.MaterializeResult(
        metadata={"dagster/row_count": rows, "credit_customers": customers, "months": len(context.partition_keys)}
    )


@month_end_asset(
    "marts",
    "five_class_reconciliation",
    deps=_keys("loans"),
    description="Five-category classification by the 2023 rule (金融资产风险分类办法: any overdue 关注, > 90 days "
    "次级, > 270 可疑, > 360 损失, restructured at least 关注, written off 损失) against the class the bank "
    "reported, at month end: every loan that differs, with the direction and the reason. Warehouse table "
    "five_class_differences (month_end).",
)
def five_class_reconciliation(
    context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource
):
    from crm.scoring.five_class import reconcile, summary

    home = crm_home.home()
    checked = differences = better = 0
    balance = 0.0
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        diff = reconcile(read_staged(home.staged, "loans", day))
        figures = summary(diff)
        checked += int(figures["loans_checked"] or 0)
        differences += figures["differences"]
        better += figures["reported_better"]
        balance += float(figures["balance_affected"])
        write_mart(warehouse, "five_class_differences", diff.assign(month_end=day), {"month_end": day})
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": differences,
            "loans_checked": checked,
            "differences": differences,
            "reported_better_than_rule": better,
            "balance_affected": round(balance, 2),
        }
    )


@month_end_asset(
    "marts",
    "financial_ratios",
    deps=[dg.AssetKey(["staged", "financial_statements"])],
    description="Financial-statement analysis of corporate customers: debt-to-asset, current and quick ratio, "
    "interest coverage, ROA, ROE (interim statements annualised), operating cash flow to debt, revenue and "
    "profit growth against a year earlier, trends and deterioration flags, for every statement received up "
    "to the month end; statements failing the balance identity are excluded and counted. Warehouse table "
    "financial_ratios (month_end).",
)
def financial_ratios(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.scoring.financials import ratios

    home = crm_home.home()
    meta: dict = {}
    rows = 0
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        frame, counts = ratios(read_staged_until(home.staged, "financial_statements", day))
        rows += write_mart(warehouse, "financial_ratios", frame.assign(month_end=day), {"month_end": day})
        meta = {k: int(v) for k, v in counts.items() if isinstance(v, (int, float))}
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, **meta})


@month_end_asset(
    "marts",
    "related_party_groups",
    deps=_keys("related_parties", "loans"),
    description="Related-party graph at month end (networkx): corporate groups connected by control, "
    "affiliation and shareholdings of 20% or more; guarantee circles (cycles of up to 6 guarantors); group "
    "exposure and the largest single-group concentration; supply-chain links (suppliers and buyers). Warehouse "
    "tables party_groups, group_exposure, guarantee_circles and supply_chain_links (month_end).",
)
def related_party_groups(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.scoring.graph import (
        build_graphs,
        group_exposure,
        groups,
        guarantee_circles,
        largest_group_concentration,
        supply_chain_links,
    )

    home = crm_home.home()
    meta: dict = {}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        graphs = build_graphs(read_staged(home.staged, "related_parties", day), as_of=day)
        members = groups(graphs)
        exposure = group_exposure(members, read_staged(home.staged, "loans", day))
        circles = guarantee_circles(graphs)
        circles = circles.assign(members=circles["members"].map(",".join))
        write_mart(warehouse, "party_groups", members.assign(month_end=day), {"month_end": day})
        write_mart(warehouse, "group_exposure", exposure.assign(month_end=day), {"month_end": day})
        write_mart(warehouse, "guarantee_circles", circles.assign(month_end=day), {"month_end": day})
        supply = supply_chain_links(graphs)
        write_mart(warehouse, "supply_chain_links", supply.assign(month_end=day), {"month_end": day})
        top, share = largest_group_concentration(exposure)
        meta = {
            "groups_with_2_or_more_customers": int((exposure["customers"] >= 2).sum()),
            "guarantee_circles": len(circles),
            "supply_chain_links": len(supply),
            "largest_group": str(top),
            "largest_group_share": round(float(share), 4) if share == share else 0.0,
        }
    return dg.MaterializeResult(metadata={"months": len(context.partition_keys), **meta})


@month_end_asset(
    "marts",
    "satisfaction",
    deps=[*_keys("surveys", "service_requests", "staff"), dg.AssetKey(["marts", "customer_value"])],
    description="Satisfaction and service for the month: CSAT and NPS (with 95% intervals, response rates, "
    "small groups suppressed) by branch, manager, channel, product family and tier; key drivers of CSAT among the "
    "attribute ratings; complaint themes from the (scrubbed) comments; service-request SLAs by priority and "
    "by staff; service-level targets by tier as well as priority (the tighter applies; key accounts' requests "
    "flagged green channel): compliance by branch, tier and green channel, the breached requests with the "
    "responsible staff, response and resolution times per staff, each key account's record of the month and "
    "year; SLA breaches against the scores of the surveys they triggered; the detractors' comments (scrubbed "
    "of personal data at staging) with their themes. Configuration: "
    "crm/satisfaction/config.toml (its version is recorded in every table). Warehouse tables "
    "satisfaction_by_dimension, satisfaction_drivers, complaint_themes, service_sla, sla_vs_satisfaction, "
    "satisfaction_verbatims, service_sla_tier, service_sla_breaches, service_sla_staff, service_sla_accounts "
    "(month_end); in a quarter's last month also satisfaction_by_dimension_quarter, "
    "satisfaction_drivers_quarter, complaint_themes_quarter, satisfaction_verbatims_quarter over its three "
    "months.",
)
def satisfaction(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.satisfaction.analytics import load_config
    from crm.satisfaction.marts import satisfaction_month

    home = crm_home.home()
    config = load_config()
    version = str(config.get("version"))
    meta: dict = {"config_version": version}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        month = satisfaction_month(
            read_staged_until(home.staged, "surveys", day),
            read_staged_until(home.staged, "service_requests", day),
            read_staged(home.staged, "staff", day),
            month_rows(
                warehouse, "customer_value", day, ["customer_id", "tier", "key_account", "branch_id", "manager_id"]
            ),
            config,
            day,
        )
        stamp = {"month_end": day, "config_version": version}
        for name, frame in month.tables.items():
            write_mart(warehouse, name, frame.assign(**stamp), {"month_end": day})
        meta.update(month.figures)
    return dg.MaterializeResult(metadata=meta)


@month_end_asset(
    "marts",
    "customer_value",
    deps=[
        dg.AssetKey(["marts", "customer_360"]),
        dg.AssetKey(["marts", "credit_scores"]),
        *_keys(*VALUE_EXTRACTS),
    ],
    description="Customer value at month end from what really happened over the 12 months up to it: loan "
    "interest margin over the funds-transfer price from every loan's month-end balance and own rate "
    "(loan_performance, loans), deposit spread from the accounts' average balances and own rates "
    "(deposit_balances), fees booked net of reversals (fee_ledger), minus expected loss PD x LGD x EAD and the "
    "cost to serve from recorded work (interactions, service requests, transactions), every part its own column "
    "and per month; activity (txn_monthly), share of wallet from the latest fresh bureau pull (bureau_records), "
    "industry position of corporates (corporates, financial_statements); value score ranked within segment "
    "(retail, SME, corporate), tiers, key accounts, lifecycle stage and the trend against the 11 month ends "
    "before. Configuration crm/value/config.toml, its version recorded. Warehouse tables customer_value and "
    "customer_value_month (month_end). Sensitivity: internal (tokens and masked values).",
)
def customer_value(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.value.figures import value_figures
    from crm.value.inputs import load_inputs, load_record_shards, shard_count
    from crm.value.value import customer_value as build
    from crm.value.value import load_config

    home = crm_home.home()
    config = load_config()
    version = str(config.get("version"))
    meta: dict = {"config_version": version}
    rows = 0
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        # the marts and the bank-wide inputs once; the window's records a shard of customers at a time
        inputs = load_inputs(home.staged, day, mart_reader(warehouse), records=False)
        shards = shard_count(len(inputs.c360), config["compute"]["customers_per_shard"])
        result = build(inputs, config, load_record_shards(home.staged, day, shards))
        value, monthly = result.value.assign(month_end=day), result.monthly.assign(month_end=day)
        rows += write_mart(warehouse, "customer_value", value, {"month_end": day})
        write_mart(warehouse, "customer_value_month", monthly, {"month_end": day})
        meta.update(value_figures(value, monthly))
        # the domain's own counts (rate and PD fallbacks, records left out): numbers only
        meta.update({k: v for k, v in getattr(result, "figures", {}).items() if isinstance(v, (int, float))})
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "months": len(context.partition_keys), **meta})


mart_assets = [
    customer_360,
    five_class_reconciliation,
    financial_ratios,
    related_party_groups,
    satisfaction,
    customer_value,
]
MART_KEYS = [a.key for a in mart_assets]
