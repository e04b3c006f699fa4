"""The jobs select their assets by the ``crm/cadence`` tag, and select exactly what they selected when they
were built from key lists: the expected sets below were written out from the key-list jobs (commit c9ca048,
``orchestration/jobs.py`` with ``assets.DAILY_KEYS`` ...), asset by asset with the checks each job runs; the extracts added to the contract since (deposit_balances,
txn_monthly, fee_ledger, issue 18; opportunities, issue 19; coverage and referrals, issue 20) with the checks their rules give them."""

from __future__ import annotations

import dagster as dg
import pytest

from crm.contract import EXTRACTS

# the staged assets' checks: these for every extract, plus the extract's own below
STAGED = "code_set completeness format length quarantine_rate referential rows_accounted text type uniqueness"
STAGED_DAILY = {
    "branches": "date_order",
    "bureau_records": "date_order range",
    "contacts": "",
    "corporates": "date_order range",
    "customers": "consistency date_order range",
    "deposits": "date_order range",
    "fee_ledger": "date_order range",
    "interactions": "date_order range",
    "loans": "consistency date_order range",
    "opportunities": "consistency date_order range",
    "product_holdings": "date_order range",
    "referrals": "consistency date_order",
    "related_parties": "date_order range",
    "repayments": "date_order range",
    "service_requests": "date_order",
    "staff": "date_order",
    "surveys": "date_order range",
    "transactions": "date_order range",
}
STAGED_MONTH_END = {
    "coverage": "date_order",
    "deposit_balances": "date_order range",
    "financial_statements": "consistency date_order range",
    "loan_performance": "consistency date_order range",
    "txn_monthly": "consistency date_order range",
}
SCAN = "no_personal_data"


def _extract_assets(extracts: dict[str, str]) -> dict[str, str]:
    out = {f"raw/{name}": "file_accepted" for name in extracts}
    out |= {f"staged/{name}": f"{STAGED} {extra}" for name, extra in extracts.items()}
    return out


# job -> {asset: its checks in the job, space-separated ("" none)}
EXPECTED = {
    "daily_pipeline": {**_extract_assets(STAGED_DAILY), "dq/arrivals": "extracts_arrived"},
    "month_end_pipeline": {
        **_extract_assets(STAGED_MONTH_END),
        "marts/coverage": "",
        "marts/credit_scores": "characteristic_drift score_drift",
        "marts/churn_scores": "churn_characteristic_drift churn_score_drift",
        "marts/cross_sell": "",
        "marts/customer_360": "",
        "marts/customer_needs": "",
        "marts/customer_value": "",
        "marts/early_warnings": "",
        "marts/financial_ratios": "",
        "marts/lifecycle": "",
        "marts/five_class_reconciliation": "",
        "marts/manager_scorecards": "",
        "marts/proposal_outcomes": "",
        "marts/proposals": "",
        "marts/referrals": "",
        "marts/related_party_groups": "",
        "marts/revisit_plan": "",
        "marts/satisfaction": "",
        "marts/warning_followups": "",
        "models/scorecard": "",
        "models/churn": "",
    },
    "weekly_watch_list": {"marts/watch_list_weekly": "", "reports/watch_digest": "", "delivery/weekly": ""},
    "monthly_reports": {
        "reports/portfolio": "",
        "reports/risk": "",
        "dq/report_leak_scan": SCAN,
        "reports/data_quality": "",
        "dq/data_quality_leak_scan": SCAN,
        "delivery/monthly": "",
    },
    "quarterly_satisfaction": {
        "reports/satisfaction_quarterly": "",
        "dq/report_leak_scan": SCAN,
        "delivery/monthly": "",
    },
}


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs


def _selected(job: dg.JobDefinition) -> tuple[set[str], set[str]]:
    layer = job.asset_layer
    return (
        {k.to_user_string() for k in layer.executable_asset_keys},
        {f"{c.asset_key.to_user_string()}:{c.name}" for c in layer.asset_graph.asset_check_keys},
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_job_selects_the_assets_and_checks_it_selected_by_key_list(defs, name):
    assets, checks = _selected(defs.resolve_job_def(name))
    assert assets == set(EXPECTED[name])
    assert checks == {f"{a}:{c}" for a, names in EXPECTED[name].items() for c in names.split()}


def test_the_expected_sets_cover_every_extract_and_every_asset_once_but_the_shared_report_steps():
    daily = {e.name for e in EXTRACTS if e.cadence == "daily"}
    month_end = {e.name for e in EXTRACTS if e.cadence == "month_end"}
    assert set(STAGED_DAILY) == daily and set(STAGED_MONTH_END) == month_end
    assert len(EXPECTED["daily_pipeline"]) == 37 and len(EXPECTED["month_end_pipeline"]) == 31
    # the report leak scan and the monthly delivery serve both the monthly and the quarterly job
    seen: dict[str, list[str]] = {}
    for job, assets in EXPECTED.items():
        for a in assets:
            seen.setdefault(a, []).append(job)
    assert {a for a, jobs in seen.items() if len(jobs) > 1} == {"dq/report_leak_scan", "delivery/monthly"}


def test_jobs_select_by_tag_and_every_asset_has_one_cadence(defs):
    from assets import CADENCE_TAG, CADENCES
    from orchestration import jobs

    specs = list(defs.resolve_all_asset_specs())
    assert {s.tags.get(CADENCE_TAG) for s in specs} == set(CADENCES)
    # every asset is built by some job
    built = set().union(*(_selected(defs.resolve_job_def(n))[0] for n in EXPECTED))
    assert built == {s.key.to_user_string() for s in specs}
    for selection in (
        jobs.DAILY_SELECTION,
        jobs.MONTH_END_SELECTION,
        jobs.WEEKLY_SELECTION,
        jobs.REPORTS_SELECTION,
        jobs.QUARTERLY_SELECTION,
    ):
        assert CADENCE_TAG in repr(selection) and "AssetKey" not in repr(selection)


def test_the_executor_is_chosen_in_one_place(defs, monkeypatch):
    from orchestration.definitions import executor

    for name in [*EXPECTED, "raw_retention"]:
        assert defs.resolve_job_def(name).executor_def.name == "multiprocess"
    assert executor("in_process") is dg.in_process_executor
    monkeypatch.setenv("CRM_EXECUTOR", "threads")
    with pytest.raises(ValueError, match="CRM_EXECUTOR must be one of multiprocess, in_process, celery"):
        executor()
