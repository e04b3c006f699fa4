"""The relationship playbook's marts: early warnings and watch lists (monthly and weekly), cross-sell and
supply-chain finance leads, the revisit plan and manager scorecards. Each asset loads its inputs (staged
partitions and earlier marts), calls :mod:`crm.playbook`, replaces its partition in the warehouse with the
configuration version stamped on every row, and returns metadata (counts only, never personal values).
"""

import datetime as dt

import dagster as dg
import pandas as pd

from assets.factory import (
    OWNERS,
    latest_month_rows,
    mart_reader,
    month_end_asset,
    month_rows,
    write_mart,
)
from crm.bank_calendar import business_date_for, months_before, week_end
from crm.zones import partitions, read_staged, read_staged_until
from orchestration.partitions import weekly_partitions
from orchestration.resources import CrmHomeResource, WarehouseResource

MART = "marts"


def _mart(name: str) -> dg.AssetKey:
    return dg.AssetKey([MART, name])


def _staged(*names: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(["staged", n]) for n in names]


def _warnings_at(home, warehouse: WarehouseResource, day: dt.date, before: dt.date, config: dict):
    """Early warnings at ``day`` against ``before`` and the customer frame (manager, branch, tier, balance)."""
    from crm.playbook.warnings import (
        behaviour_psi_files,
        behaviour_window,
        early_warnings,
        signals,
        watch_customers,
    )

    bureau = read_staged_until(home.staged, "bureau_records", day)
    now = signals(
        day,
        loans=read_staged(home.staged, "loans", day),
        deposits=read_staged(home.staged, "deposits", day),
        bureau=bureau,
    )
    try:
        then = signals(
            before,
            loans=read_staged(home.staged, "loans", before),
            deposits=read_staged(home.staged, "deposits", before),
            bureau=bureau,
        )
    except FileNotFoundError:  # e.g. the first month loaded: the comparing rules are not evaluated
        then = None
    first, last = behaviour_window(day, config)
    files = partitions(home.staged, "transactions", since=first, until=last)
    behaviour = behaviour_psi_files(files, day, config)
    scores_now = latest_month_rows(warehouse, "credit_scores", day)
    scores_before = (
        latest_month_rows(warehouse, "credit_scores", scores_now["month_end"].iloc[0], before=True)
        if len(scores_now)
        else pd.DataFrame()
    )
    warnings = early_warnings(
        now,
        then,
        config,
        day=day,
        scores_now=scores_now,
        scores_before=scores_before,
        behaviour=behaviour,
        ratios=latest_month_rows(warehouse, "financial_ratios", day),
        related=read_staged(home.staged, "related_parties", day),
    )
    customers = watch_customers(now, latest_month_rows(warehouse, "customer_value", day))
    return warnings, customers, behaviour, then is not None


def _warn_and_write(
    context,
    home,
    warehouse: WarehouseResource,
    config: dict,
    day: dt.date,
    before: dt.date,
    partition: str,
    warnings_table: str,
    watch_table: str,
    followups: pd.DataFrame | None = None,
) -> dict:
    """The early warnings at ``day`` against ``before`` and the watch list, written to the two tables under
    ``partition`` = ``day``; with ``followups`` (warning follow-ups at ``day``) the watch list carries each
    customer's open and overdue follow-ups. Returns the metadata (counts only)."""
    from crm.playbook.followups import on_watch_list
    from crm.playbook.warnings import watch_list

    warnings, customers, behaviour, compared = _warnings_at(home, warehouse, day, before, config)
    if not compared:
        context.log.warning(f"{day}: no snapshot at {before}; rules comparing two dates skipped")
    # a timestamp column either way (NaT without a comparison), so the table's type does not depend on
    # whether the first period loaded had one
    stamp = {
        partition: day,
        "compared_with": pd.Timestamp(before) if compared else pd.NaT,
        "config_version": config["version"],
    }
    watch = watch_list(warnings, customers, config)
    if followups is not None:
        watch = on_watch_list(watch, followups)
    write_mart(warehouse, warnings_table, warnings.assign(**stamp), {partition: day})
    write_mart(warehouse, watch_table, watch.assign(**stamp), {partition: day})
    return {
        "warnings": len(warnings),
        "customers_on_watch_list": len(watch),
        "by_rule": ", ".join(f"{k}: {v}" for k, v in warnings["rule_id"].value_counts().sort_index().items()) or "none",
        "high": int((watch["severity"] == "high").sum()),
        "managers": int(watch["manager_id"].nunique()),
        "behaviour_customers_tested": len(behaviour),
        "compared": compared,
    }


@month_end_asset(
    MART,
    "early_warnings",
    deps=[
        _mart("customer_value"),
        _mart("credit_scores"),
        _mart("financial_ratios"),
        *_staged("loans", "deposits", "bureau_records", "transactions", "related_parties"),
    ],
    description="Early warnings at month end against the previous month end: new or rising overdue, grade or "
    "score drop, a significant shift in the customer's own transaction mix (PSI), deposit outflow, financial-"
    "ratio deterioration, credit-bureau inquiry spike, new external debt, a related party or guarantor in "
    "trouble (related-party graph). Every warning with rule id, severity, measure, threshold, evidence (English "
    "text) and evidence_args (its numbers as JSON, for the reports' sentences), and the watch list per manager "
    "(details: the warnings' rule, severity and evidence_args as JSON). Configuration crm/playbook/config.toml (version on every row). Warehouse "
    "tables early_warnings and watch_list (month_end).",
)
def early_warnings(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.playbook import load_config

    home = crm_home.home()
    config = load_config()
    meta: dict = {"config_version": str(config["version"])}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        meta.update(
            _warn_and_write(
                context,
                home,
                warehouse,
                config,
                day,
                months_before(day, 1),
                "month_end",
                "early_warnings",
                "watch_list",
            )
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("warnings", 0), **meta})


@dg.asset(
    key=_mart("watch_list_weekly"),
    group_name=MART,
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        dg.AssetDep(_mart(n), partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1))
        for n in ("customer_value", "credit_scores", "financial_ratios")
    ]
    + [dg.AssetDep(_mart("warning_followups"), partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1))]
    + _staged("loans", "deposits", "bureau_records", "transactions", "related_parties", "interactions", "staff"),
    kinds={"python", "duckdb"},
    owners=OWNERS,
    tags={"layer": MART, "sensitivity": "internal"},
    description="The weekly early-warning watch list per relationship manager: the early-warning rules at the "
    "week's last day (Sunday) against seven days earlier, with the latest month-end scores, ratios and tiers. "
    "Partition: the week (key = its Monday, Asia/Shanghai). The warning follow-ups of the latest month end "
    "still open, judged at the week end against the interactions since (open or overdue, with their owner): "
    "counted per customer on the watch list and listed. Warehouse tables early_warnings_weekly, "
    "watch_list_weekly and warning_followups_weekly (week_end).",
)
def watch_list_weekly(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.playbook import load_config

    home = crm_home.home()
    config = load_config()
    meta: dict = {"config_version": str(config["version"])}
    for pk in context.partition_keys:
        day = week_end(pk)
        follow = _followups_at(home, warehouse, config, day, pd.DataFrame(), day, before=False)
        follow = follow[follow["status"].isin(["open", "overdue"])].reset_index(drop=True)
        write_mart(
            warehouse,
            "warning_followups_weekly",
            follow.assign(week_end=day, config_version=config["version"]),
            {"week_end": day},
        )
        meta.update(
            {
                "week_end": day.isoformat(),
                "followups_open": len(follow),
                "followups_overdue": int((follow["status"] == "overdue").sum()),
                **_warn_and_write(
                    context,
                    home,
                    warehouse,
                    config,
                    day,
                    day - dt.timedelta(days=7),
                    "week_end",
                    "early_warnings_weekly",
                    "watch_list_weekly",
                    follow,
                ),
            }
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("customers_on_watch_list", 0), **meta})


def _followups_at(
    home, warehouse: WarehouseResource, config: dict, day: dt.date, warnings, warning_date, *, before: bool = True
):
    """The warning follow-ups at ``day``: the open ones of the latest warning_followups partition before
    ``warning_date`` (on or before it with ``before`` False) carried, plus ``warnings`` raised on
    ``warning_date``, judged with the interactions since the earliest open warning date
    (:func:`crm.playbook.followups.followups`)."""
    from crm.playbook.followups import OPEN, followups

    previous = latest_month_rows(warehouse, "warning_followups", warning_date, before=before)
    if len(previous):
        previous = previous[previous["status"].isin(OPEN)]
    since = pd.to_datetime(previous["warning_date"]).min().date() if len(previous) else warning_date
    interactions = _staged_columns(
        home,
        "interactions",
        since,
        day,
        ["interaction_id", "customer_id", "interaction_time", "channel", "purpose"],
    )
    customers = latest_month_rows(warehouse, "customer_value", day)
    customers = customers[["customer_id", "manager_id", "branch_id"]] if len(customers) else customers
    if customers.empty:
        customers = pd.DataFrame(columns=["customer_id", "manager_id", "branch_id"])
    staff = read_staged(home.staged, "staff", day)[["staff_id", "role", "branch_id", "status"]]
    return followups(warnings, previous, interactions, customers, staff, day, config, warning_date=warning_date)


@month_end_asset(
    MART,
    "warning_followups",
    deps=[_mart("early_warnings"), _mart("customer_value"), *_staged("interactions", "staff")],
    description="Warning follow-up (预警跟进): every early warning of the month end gets an owner (the customer's "
    "manager of the month; the branch head when the manager left) and a due date by severity; the earliest "
    "visit, call or video of a follow-up purpose (预警核查, 贷后检查, 催收) on or after the warning date closes it, "
    "on time or late; without one it stays open, overdue past its due date, and carries over to the next month "
    "end until closed. Configuration crm/playbook/config.toml [warning_followup] (version on every row). "
    "Warehouse table warning_followups (month_end): status, owner, due date, closing interaction id, days to "
    "close. Materialise the months in order (each reads the previous month's open follow-ups).",
)
def warning_followups(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.playbook import load_config

    home = crm_home.home()
    config = load_config()
    meta: dict = {"config_version": str(config["version"])}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        warnings = month_rows(warehouse, "early_warnings", day, ["customer_id", "rule_id", "severity"])
        out = _followups_at(home, warehouse, config, day, warnings, day)
        stamp = {"month_end": day, "config_version": config["version"]}
        write_mart(warehouse, "warning_followups", out.assign(**stamp), {"month_end": day})
        counts = out["status"].value_counts()
        meta.update(
            {
                "followups": len(out),
                "raised_this_month": int((pd.to_datetime(out["warning_date"]) == pd.Timestamp(day)).sum()),
                **{k: int(counts.get(k, 0)) for k in ("closed_on_time", "closed_late", "open", "overdue")},
                "owned_by_branch_head": int((out["owner_role"] == "branch_head").sum()),
            }
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("followups", 0), **meta})


@month_end_asset(
    MART,
    "cross_sell",
    deps=[_mart("customer_value"), _mart("customer_360"), _mart("related_party_groups")],
    description="Next-best product families per customer by co-occurrence lift within the value segment "
    "(excluding families held, not offered to the segment, credit for customers on watch, closed customers), "
    "the lift table, and supply-chain finance leads around key corporate accounts (their suppliers and "
    "buyers). Warehouse tables cross_sell_suggestions, cross_sell_lifts and supply_chain_leads (month_end).",
)
def cross_sell(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.playbook import load_config
    from crm.playbook.crosssell import cross_sell_customers, next_best, supply_chain_leads

    config = load_config()
    meta: dict = {"config_version": str(config["version"])}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        value = month_rows(warehouse, "customer_value", day, [])
        c360 = month_rows(warehouse, "customer_360", day, [])
        if value.empty or c360.empty:
            raise FileNotFoundError(f"customer_value / customer_360 have no rows for {day}: materialise them first")
        suggestions, lifts = next_best(cross_sell_customers(value, c360), config)
        links = month_rows(
            warehouse,
            "supply_chain_links",
            day,
            ["supplier", "buyer", "amount", "supplier_is_customer", "buyer_is_customer"],
        )
        leads = supply_chain_leads(links, value, c360, config)
        stamp = {"month_end": day, "config_version": config["version"]}
        write_mart(warehouse, "cross_sell_suggestions", suggestions.assign(**stamp), {"month_end": day})
        write_mart(warehouse, "cross_sell_lifts", lifts.assign(**stamp), {"month_end": day})
        write_mart(warehouse, "supply_chain_leads", leads.assign(**stamp), {"month_end": day})
        meta.update(
            {
                "suggestions": len(suggestions),
                "customers_with_suggestions": int(suggestions["customer_id"].nunique()),
                "supply_chain_leads": len(leads),
                "by_family": ", ".join(
                    f"{k}: {v}" for k, v in suggestions["product_family"].value_counts().sort_index().items()
                )
                or "none",
            }
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("suggestions", 0), **meta})


@month_end_asset(
    MART,
    "revisit_plan",
    deps=[_mart("customer_value"), _mart("customer_360"), *_staged("interactions")],
    description="Revisit plan by tier (strategic and watch monthly, key quarterly, growth half-yearly, standard "
    "yearly): last relationship visit, next due date, days overdue and status per customer, and per manager "
    "the overdue revisits and compliance. Warehouse tables revisit_plan and revisit_by_manager (month_end).",
)
def revisit_plan(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.playbook import load_config
    from crm.playbook.revisit import overdue_by_manager, revisit_customers
    from crm.playbook.revisit import revisit_plan as plan_for

    home = crm_home.home()
    config = load_config()
    meta: dict = {"config_version": str(config["version"])}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        value = month_rows(warehouse, "customer_value", day, [])
        c360 = month_rows(warehouse, "customer_360", day, [])
        if value.empty:
            raise FileNotFoundError(f"customer_value has no rows for {day}: materialise marts/customer_value first")
        interactions = read_staged_until(home.staged, "interactions", day)
        plan = plan_for(revisit_customers(value, c360), interactions, day, config)
        by_manager = overdue_by_manager(plan)
        stamp = {"month_end": day, "config_version": config["version"]}
        write_mart(warehouse, "revisit_plan", plan.assign(**stamp), {"month_end": day})
        write_mart(warehouse, "revisit_by_manager", by_manager.assign(**stamp), {"month_end": day})
        meta.update({f"status_{k}": int(v) for k, v in plan["status"].value_counts().items()})
        meta["customers_in_plan"] = len(plan)
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("customers_in_plan", 0), **meta})


@month_end_asset(
    MART,
    "manager_scorecards",
    deps=[
        _mart("customer_value"),
        _mart("customer_360"),
        _mart("early_warnings"),
        _mart("cross_sell"),
        _mart("revisit_plan"),
        _mart("warning_followups"),
        *_staged("loans", "surveys"),
    ],
    description="Manager scorecards: per relationship manager, portfolio size and value, key accounts and their "
    "revisit coverage, revisit compliance, CSAT and NPS of the month's surveys, cross-sell depth and open "
    "suggestions, overdue and non-performing shares of the loan balance, warned customers, warning follow-ups "
    "open, overdue and closed on time (share of those decided). Warehouse table "
    "manager_scorecards (month_end).",
)
def manager_scorecards(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.playbook import load_config
    from crm.playbook.managers import manager_scorecards as build
    from crm.satisfaction.analytics import load_config as satisfaction_config
    from crm.satisfaction.analytics import satisfaction_by
    from crm.satisfaction.marts import month_surveys

    home = crm_home.home()
    config = load_config()
    meta: dict = {"config_version": str(config["version"])}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        value = month_rows(warehouse, "customer_value", day, [])
        if value.empty:
            raise FileNotFoundError(f"customer_value has no rows for {day}: materialise marts/customer_value first")
        surveys = month_surveys(read_staged_until(home.staged, "surveys", day), day)
        card = build(
            value,
            month_rows(warehouse, "customer_360", day, []),
            read_staged(home.staged, "loans", day),
            config,
            revisits=month_rows(warehouse, "revisit_by_manager", day, []),
            satisfaction=satisfaction_by(surveys, ["staff_id"], satisfaction_config()),
            suggestions=month_rows(warehouse, "cross_sell_suggestions", day, []),
            watch=month_rows(warehouse, "watch_list", day, []),
            followups=month_rows(warehouse, "warning_followups", day, []),
        )
        write_mart(
            warehouse,
            "manager_scorecards",
            card.assign(month_end=day, config_version=config["version"]),
            {"month_end": day},
        )
        meta.update(
            {
                "managers": len(card),
                "key_accounts": int(card["key_accounts"].sum()),
                "mean_revisit_compliance": round(float(card["revisit_compliance"].mean()), 4),
            }
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("managers", 0), **meta})


@month_end_asset(
    MART,
    "customer_needs",
    deps=[
        _mart("customer_value"),
        _mart("customer_360"),
        *_staged(
            "loans",
            "deposit_balances",
            "txn_monthly",
            "financial_statements",
            "corporates",
            "interactions",
            "surveys",
            "opportunities",
        ),
    ],
    description="What each customer needs at the month end, each need with its evidence (numbers, dates and "
    "codes as JSON) and deadline: maturities in 30/60/90 days, credit headroom, seasonal working-capital peaks "
    "(two years of monthly deposit balances and transactions), growth outpacing limits, counterparty "
    "concentration, payroll start, mortgage end, large inflows; each active customer's preference profile "
    "(rate type, term, repayment method, collateral, channel, digital share, price sensitivity); and per "
    "branch and bank-wide (ALL) the segments' needs and preferences. Configuration crm/playbook/config.toml "
    "[needs] and [preferences] (version on every row). Warehouse tables customer_needs, customer_preferences, "
    "segment_needs and segment_preferences (month_end).",
)
def customer_needs(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.playbook import load_config
    from crm.playbook.inputs import load_needs_inputs
    from crm.playbook.needs import NEEDS
    from crm.playbook.needs import customer_needs as needs_of
    from crm.playbook.preferences import customer_preferences, segment_needs, segment_preferences

    home = crm_home.home()
    config = load_config()
    meta: dict = {"config_version": str(config["version"])}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        inputs = load_needs_inputs(home.staged, day, mart_reader(warehouse), config)
        result = needs_of(inputs, config, day)
        needs = result.needs
        preferences = customer_preferences(inputs, config, day)
        stamp = {"month_end": day, "config_version": config["version"]}
        # deadlines as a timestamp column either way (a month whose needs have none would make it text)
        deadlines = pd.to_datetime(needs["deadline"], errors="coerce")
        write_mart(warehouse, "customer_needs", needs.assign(deadline=deadlines, **stamp), {"month_end": day})
        write_mart(warehouse, "customer_preferences", preferences.assign(**stamp), {"month_end": day})
        write_mart(
            warehouse,
            "segment_needs",
            segment_needs(needs, inputs.customers, config).assign(**stamp),
            {"month_end": day},
        )
        write_mart(
            warehouse, "segment_preferences", segment_preferences(preferences).assign(**stamp), {"month_end": day}
        )
        counts = needs["need"].value_counts()
        meta.update(
            {
                "needs": len(needs),
                "customers_with_needs": int(needs["customer_id"].nunique()),
                "profiles": len(preferences),
                "by_need": ", ".join(f"{n}: {int(counts.get(n, 0))}" for n in NEEDS),
                "lacking_history": ", ".join(f"{n}: {result.lacking[n]}" for n in NEEDS if result.lacking[n]) or "none",
                "month_ends_of_flows": int(inputs.flows["month_end"].nunique()) if len(inputs.flows) else 0,
            }
        )
        if result.lacking["SEASONAL"]:
            context.log.info(
                f"{day}: SEASONAL not computed for {result.lacking['SEASONAL']} of {result.in_scope['SEASONAL']} "
                "customers in scope (fewer month ends of history than [needs.seasonal] min_months)"
            )
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("needs", 0), **meta})


def _staged_columns(home, extract: str, since: dt.date, until: dt.date, columns: list[str]) -> pd.DataFrame:
    """The given columns of the staged partitions of ``extract`` dated in [since, until], in date order (an
    empty frame with those columns when there is none)."""
    files = partitions(home.staged, extract, since=since, until=until)
    frames = [pd.read_parquet(p, columns=columns) for p in files]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


@month_end_asset(
    MART,
    "proposals",
    deps=[
        _mart("customer_needs"),
        _mart("customer_value"),
        _mart("customer_360"),
        _mart("early_warnings"),
        _mart("cross_sell"),
        *_staged("loans", "fee_ledger"),
    ],
    description="Tailored proposals: per customer and proposal type (renewal, limit increase, seasonal line, "
    "supply-chain finance, repayment or rate switch, deposit, wealth, payroll, settlement) the candidate from the "
    "month's needs and preferences, supply-chain leads, balances and activity, with its reasons and evidence, "
    "eligibility gates (status, segment, product held, five-category class, grade, early warnings, policy "
    "limits), the hold-out (a random control group of the eligible, keyed by salt, month, type and customer "
    "token), the offered amount, deadline, expected contribution if accepted and the rank among the customer's "
    "offered proposals. Configuration crm/playbook/config.toml [proposals] (version, hold-out share and salt on "
    "every row). Warehouse table proposals (month_end).",
)
def proposals(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.playbook import load_config
    from crm.playbook.proposals import build_proposals, peer_fees, proposal_customers
    from crm.value.value import load_config as value_config

    home = crm_home.home()
    config = load_config()
    vconfig = value_config()
    meta: dict = {"config_version": str(config["version"])}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        value = month_rows(warehouse, "customer_value", day, [])
        if value.empty:
            raise FileNotFoundError(f"customer_value has no rows for {day}: materialise marts/customer_value first")
        customers = proposal_customers(value, month_rows(warehouse, "customer_360", day, []))
        needs = month_rows(warehouse, "customer_needs", day, [])
        if needs.empty:
            context.log.warning(f"{day}: customer_needs has no rows; proposals from the other sources only")
        fees = _staged_columns(
            home,
            "fee_ledger",
            months_before(day, 13),
            day,
            ["customer_id", "product_family", "amount", "fee_date"],
        )
        out = build_proposals(
            day,
            customers,
            needs,
            month_rows(warehouse, "customer_preferences", day, []),
            read_staged(home.staged, "loans", day),
            month_rows(warehouse, "early_warnings", day, []),
            month_rows(warehouse, "supply_chain_leads", day, []),
            config,
            vconfig,
            peer_fees(fees, customers, day, config),
        )
        write_mart(warehouse, "proposals", out, {"month_end": day})
        offered = out[out["offered"]]
        meta.update(
            {
                "considered": len(out),
                "eligible": int(out["eligible"].sum()),
                "held_out": int(out["held_out"].sum()),
                "offered": len(offered),
                "customers_offered": int(offered["customer_id"].nunique()),
                "expected_contribution_offered": round(float(offered["expected_contribution"].sum()), 2),
                "gates_failed": ", ".join(
                    f"{k}: {v}" for k, v in out["gate_failed"].value_counts().sort_index().items()
                )
                or "none",
                "offered_by_type": ", ".join(
                    f"{k}: {v}" for k, v in offered["proposal_type"].value_counts().sort_index().items()
                )
                or "none",
            }
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("considered", 0), **meta})


@month_end_asset(
    MART,
    "proposal_outcomes",
    deps=[_mart("proposals"), _mart("customer_value"), *_staged("product_holdings", "opportunities")],
    description="What became of the proposals: take-up of the cohorts whose window closes this month (a product "
    "of the type's families opened within the window after the proposals' month end, product_holdings of the "
    "window's last day) for the offered and the held-out customers; uplift per proposal type and branch (take-up "
    "offered minus held out over the cohorts closed in 12 months, Newcombe hybrid score 95% interval, reading "
    "effective / no effect seen / too few); conversion of the opportunities offered in 12 months (latest record "
    "per opportunity) by type, family, segment, manager, channel and source. Warehouse tables proposal_takeup "
    "(month_end = the cohort), proposal_uplift and opportunity_conversion (month_end).",
)
def proposal_outcomes(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.playbook import load_config
    from crm.playbook.outcomes import cohorts_closing, opportunity_conversion, takeup, uplift, window_end
    from crm.zones import latest_staged_file, partition_date

    home = crm_home.home()
    config = load_config()
    version = config["version"]
    meta: dict = {"config_version": str(version)}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        closed = []
        for cohort in cohorts_closing(day, config):
            props = month_rows(warehouse, "proposals", cohort, [])
            if props.empty:
                context.log.warning(f"{day}: no proposals of the cohort {cohort}; its take-up is not measured")
                continue
            end = window_end(cohort, config)
            path = latest_staged_file(home.staged, "product_holdings", end)
            if (end - partition_date(path)).days > 7:
                raise FileNotFoundError(
                    f"staged/product_holdings has no partition within 7 days before {end} (the take-up window's "
                    f"end of the cohort {cohort}): run the daily pipeline for those dates first"
                )
            holdings = pd.read_parquet(path, columns=["customer_id", "product_family", "open_date"])
            rows = takeup(props, holdings, config, cohort)
            write_mart(warehouse, "proposal_takeup", rows.assign(config_version=version), {"month_end": cohort})
            closed.append(cohort.isoformat())
        months = int(config["proposals"]["uplift"]["months"])
        pooled = [month_rows(warehouse, "proposal_takeup", months_before(day, k), []) for k in range(months + 4)]
        pooled = [p for p in pooled if len(p)]
        lift = uplift(pd.concat(pooled, ignore_index=True) if pooled else pd.DataFrame(), day, config)
        stamp = {"month_end": day, "config_version": version}
        write_mart(warehouse, "proposal_uplift", lift.assign(**stamp), {"month_end": day})
        try:
            opportunities = read_staged_until(home.staged, "opportunities", day)
        except FileNotFoundError:  # before the extract's first file (2025-01-01)
            opportunities = pd.DataFrame(columns=["opportunity_id"])
        value = month_rows(warehouse, "customer_value", day, [])
        customers = pd.DataFrame(
            {
                "customer_id": value.get("customer_id", pd.Series(dtype=object)),
                "segment": value.get("value_segment", pd.Series(dtype=object)),
                "branch_id": value.get("branch_id", pd.Series(dtype=object)),
            }
        )
        conversion = opportunity_conversion(opportunities, customers, day, config)
        write_mart(warehouse, "opportunity_conversion", conversion.assign(**stamp), {"month_end": day})
        bank = lift[lift["branch_id"] == "ALL"] if len(lift) else lift
        meta.update(
            {
                "cohorts_closed": ", ".join(closed) or "none",
                "uplift_rows": len(lift),
                "effective_types": ", ".join(sorted(bank.loc[bank["reading"] == "effective", "proposal_type"]))
                if len(bank)
                else "none",
                "conversion_rows": len(conversion),
                "opportunities_offered_12m": int(
                    conversion.loc[
                        (conversion["dimension"] == "proposal_type") & (conversion["branch_id"] == "ALL"), "offered"
                    ].sum()
                )
                if len(conversion)
                else 0,
            }
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("uplift_rows", 0), **meta})


def _latest_staged_or_empty(home, extract: str, day: dt.date, columns: list[str]) -> pd.DataFrame:
    """The staged snapshot of ``extract`` at ``day`` (or the latest before it); an empty frame with ``columns``
    when there is none (e.g. before the extract's first file)."""
    from crm.zones import latest_staged_file

    try:
        return pd.read_parquet(latest_staged_file(home.staged, extract, day))
    except FileNotFoundError:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _staged_or_empty(home, extract: str, day, columns: list[str]) -> pd.DataFrame:
    """Every staged partition of a delta extract up to ``day``, or an empty frame of ``columns`` before its
    first file (e.g. opportunities and referrals are sent from 2025-01-01)."""
    try:
        return read_staged_until(home.staged, extract, day)
    except FileNotFoundError:
        return pd.DataFrame(columns=columns)


@month_end_asset(
    MART,
    "coverage",
    deps=[_mart("customer_value"), *_staged("coverage", "contacts", "related_parties", "interactions")],
    description="Coverage teams of key accounts (客户服务团队) at the month end: every customer's active team "
    "(staged/coverage: assignments started on or before the month end and not ended before it), the lead-manager "
    "history (manager_changes_12m, last_manager_change: for the churn features), each key account's team against "
    "the roles its tier requires, its relationship map (team, contacts by type with masked names, related parties, "
    "guarantors and guarantees given, guarantee reach in the related-party graph), the value-added services "
    "delivered this year (BRIEF, TRAIN, EVENT, ADVISE) and the contacts this quarter by channel group against the "
    "tier's pro-rated plans, and the findings (missing role, service shortfall, contact shortfall). Configuration "
    "crm/playbook/config.toml [coverage], [service_plan], [contact_plan] (version on every row). Masked and coded "
    "values only. Warehouse tables coverage_teams, manager_changes, key_account_coverage, relationship_map, "
    "service_delivery and key_account_findings (month_end).",
)
def coverage(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.playbook import coverage as cov
    from crm.playbook import load_config
    from crm.scoring.graph import build_graphs, guarantee_reach

    home = crm_home.home()
    config = load_config()
    meta: dict = {"config_version": str(config["version"])}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        value = month_rows(warehouse, "customer_value", day, [])
        if value.empty:
            raise FileNotFoundError(f"customer_value has no rows for {day}: materialise marts/customer_value first")
        accounts = cov.key_accounts(value)
        snapshot = _latest_staged_or_empty(home, "coverage", day, ["coverage_id", *cov.TEAM_COLUMNS])
        if snapshot.empty:
            context.log.warning(f"{day}: staged/coverage has no snapshot on or before the month end; no team")
        contacts = _latest_staged_or_empty(
            home, "contacts", day, ["customer_id", "contact_type", "relationship", "contact_name", "is_primary"]
        )
        related = read_staged(home.staged, "related_parties", day)
        interactions = _staged_columns(
            home,
            "interactions",
            dt.date(day.year, 1, 1),
            day,
            ["customer_id", "interaction_time", "channel", "purpose"],
        )
        team = cov.active_team(snapshot, day)
        changes = cov.manager_changes(snapshot, day, config)
        complete = cov.team_completeness(team, accounts, config)
        delivery = cov.service_delivery(interactions, accounts, day, config)
        found = cov.findings(complete, delivery)
        relmap = cov.relationship_map(team, contacts, related, accounts, day, config)
        reach = guarantee_reach(build_graphs(related, as_of=day))
        summary = cov.key_account_coverage(
            complete, changes, delivery, cov.map_counts(contacts, related, accounts, day), reach
        )
        stamp = {"month_end": day, "config_version": config["version"]}
        for table, frame in (
            ("coverage_teams", team),
            ("manager_changes", changes),
            ("key_account_coverage", summary),
            ("relationship_map", relmap),
            ("service_delivery", delivery),
            ("key_account_findings", found),
        ):
            write_mart(warehouse, table, frame.assign(**stamp), {"month_end": day})
        kinds = found["finding"].value_counts()
        meta.update(
            {
                "customers_with_team": int(team["customer_id"].nunique()),
                "key_accounts": len(accounts),
                "incomplete_teams": int((~summary["complete"]).sum()) if len(summary) else 0,
                "customers_with_manager_change_12m": int((changes["manager_changes_12m"] > 0).sum()),
                "findings": ", ".join(f"{k}: {int(kinds.get(k, 0))}" for k in cov.FINDINGS),
                "service_shortfalls": int(kinds.get("service_shortfall", 0)),
            }
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("key_accounts", 0), **meta})


@month_end_asset(
    MART,
    "lifecycle",
    deps=[_mart("customer_value"), _mart("customer_360"), *_staged("interactions", "opportunities")],
    description="Lifecycle as a strategy: each customer's stage, previous stage, the month end the stage began "
    "and months in stage (customer_stages); the month-over-month transition matrix of customer_value's "
    "lifecycle_stage bank-wide, per branch and per value segment, rows summing to the customers in the earlier "
    "stage, customers new this month coming from '(none)' (stage_transitions); the stage playbooks' dated "
    "actions (onboarding visit, product review, retention call, reactivation offer) carried from month to month "
    "and closed by the matching interaction or opportunity in their window: on_time, late, open, overdue "
    "(stage_actions) and their counts per branch (stage_action_counts). Configuration crm/playbook/config.toml "
    "[lifecycle] and [lifecycle_playbook.*] (version on every row). Warehouse tables customer_stages, "
    "stage_transitions, stage_actions and stage_action_counts (month_end). Tokens only.",
)
def lifecycle(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.playbook import load_config
    from crm.playbook.lifecycle import action_counts, customer_stages, stage_actions, transition_matrix

    home = crm_home.home()
    config = load_config()
    read = mart_reader(warehouse)
    meta: dict = {"config_version": str(config["version"])}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        before_day = months_before(day, 1)
        cols = ["customer_id", "lifecycle_stage", "branch_id", "value_segment", "manager_id"]
        value = read("customer_value", day, cols)
        if value.empty:
            raise FileNotFoundError(f"customer_value has no rows for {day}: materialise marts/customer_value first")
        before = read("customer_value", before_day, cols)
        previous = read("customer_stages", before_day, ["customer_id", "lifecycle_stage", "stage_since"])
        history = None
        if previous.empty:
            history = []
            for k in range(1, int(config["lifecycle"]["history_months"]) + 1):
                m = months_before(day, k)
                f = read("customer_value", m, ["customer_id", "lifecycle_stage"])
                if f.empty:
                    break
                history.append((m, f))
        stages = customer_stages(value, day, previous if len(previous) else None, history)
        matrix = transition_matrix(value, before) if len(before) else transition_matrix(value.head(0), value.head(0))
        interactions = _staged_or_empty(
            home, "interactions", day, ["customer_id", "interaction_time", "channel", "purpose"]
        )
        opportunities = _staged_or_empty(
            home, "opportunities", day, ["opportunity_id", "customer_id", "offered_date", "proposal_type"]
        )
        c360 = read("customer_360", day, ["customer_id", "onboarding_date"])
        actions = stage_actions(
            stages, read("stage_actions", before_day, None), c360, interactions, opportunities, day, config
        )
        stamp = {"month_end": day, "config_version": config["version"]}
        write_mart(warehouse, "customer_stages", stages.assign(**stamp), {"month_end": day})
        write_mart(warehouse, "stage_transitions", matrix.assign(**stamp), {"month_end": day})
        write_mart(warehouse, "stage_actions", actions.assign(**stamp), {"month_end": day})
        write_mart(warehouse, "stage_action_counts", action_counts(actions, day).assign(**stamp), {"month_end": day})
        status = actions["status"].value_counts()
        meta.update(
            {
                "customers": len(stages),
                "entered_a_stage": int(stages["entered"].sum()),
                "compared_with_previous_month": bool(len(before)),
                "transition_rows": len(matrix),
                "stage_actions": len(actions),
                "by_status": ", ".join(f"{k}: {int(v)}" for k, v in status.sort_index().items()) or "none",
            }
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("customers", 0), **meta})


@month_end_asset(
    MART,
    "referrals",
    deps=[_mart("customer_value"), _mart("customer_360"), *_staged("referrals", "surveys")],
    description="Referrals (客户推荐): per referring customer the referrals made (to date and in the window), its "
    "NPS category from its latest answered survey and the current value of the customers it referred "
    "(referrers); per branch and onboarding cohort the value (contribution, value score) of referred against "
    "non-referred customers (referral_value); per branch and bank-wide (ALL) the share of new customers "
    "referred, referrals per promoter, passive and detractor, and the cohort-matched value comparison "
    "(referral_summary). Configuration crm/playbook/config.toml [referrals] and the NPS cut-offs of "
    "crm/satisfaction/config.toml. Warehouse tables referrers, referral_value and referral_summary (month_end). "
    "Tokens only.",
)
def referrals(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    from crm.playbook import load_config
    from crm.playbook.referrals import (
        nps_categories,
        referral_customers,
        referral_summary,
        referral_value,
        referrers,
    )
    from crm.satisfaction.analytics import load_config as satisfaction_config

    home = crm_home.home()
    config = load_config()
    read = mart_reader(warehouse)
    meta: dict = {"config_version": str(config["version"])}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        cols = ["customer_id", "branch_id", "manager_id", *config["referrals"]["value_columns"]]
        value = read("customer_value", day, cols)
        if value.empty:
            raise FileNotFoundError(f"customer_value has no rows for {day}: materialise marts/customer_value first")
        c360 = read("customer_360", day, ["customer_id", "onboarding_date"])
        refs = _staged_or_empty(
            home, "referrals", day, ["referral_id", "referrer_customer_id", "referred_customer_id", "referral_date"]
        )
        surveys = _staged_or_empty(home, "surveys", day, ["survey_id", "customer_id", "response_date", "nps"])
        nps = nps_categories(surveys, day, satisfaction_config()["nps"])
        by_referrer = referrers(refs, value, nps, day, config)
        customers = referral_customers(value, c360, refs, day, config)
        cohorts = referral_value(value, c360, refs, day, config, customers=customers)
        summary = referral_summary(value, c360, refs, nps, cohorts, day, config, customers=customers)
        stamp = {"month_end": day, "config_version": config["version"]}
        write_mart(warehouse, "referrers", by_referrer.assign(**stamp), {"month_end": day})
        write_mart(warehouse, "referral_value", cohorts.assign(**stamp), {"month_end": day})
        write_mart(warehouse, "referral_summary", summary.assign(**stamp), {"month_end": day})
        bank = summary.set_index("branch_id").loc["ALL"] if len(summary) else None
        meta.update(
            {
                "referrers": len(by_referrer),
                "referrals_in_window": int(bank["referrals_window"]) if bank is not None else 0,
                "new_customers_referred": int(bank["new_referred"]) if bank is not None else 0,
                "promoters_referring": int(bank["promoters_referring"]) if bank is not None else 0,
            }
        )
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("referrers", 0), **meta})


playbook_month_end_assets = [
    early_warnings,
    warning_followups,
    cross_sell,
    revisit_plan,
    manager_scorecards,
    customer_needs,
    proposals,
    proposal_outcomes,
    coverage,
    lifecycle,
    referrals,
]
PLAYBOOK_KEYS = [a.key for a in playbook_month_end_assets]
WEEKLY_KEYS = [watch_list_weekly.key]
