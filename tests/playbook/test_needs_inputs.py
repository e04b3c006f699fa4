"""crm.playbook.inputs.load_needs_inputs on staged partitions written in tmp_path: the needs and preference
profiles it gives are those of the same rows handed over as frames (needs_inputs), a month end carried by two
files is read from the later one, and missing optional extracts come back empty."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crm.playbook import load_config
from crm.playbook.inputs import load_needs_inputs
from crm.playbook.needs import customer_needs, needs_inputs
from crm.playbook.preferences import customer_preferences
from crm.value.inputs import MissingInput
from tests.playbook.needs_build import ME, customer, deposits, loan, month, txns


def write(staged, extract: str, day: dt.date, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    name = f"{extract.upper()}_{day:%Y%m%d}_001.dat"
    frame["_source_file"] = name
    frame["_sha256"] = hashlib.sha256(name.encode()).hexdigest()
    frame["_row_number"] = range(1, len(frame) + 1)
    folder = staged / extract
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / f"{day.isoformat()}.parquet")


FAR = dt.date(2030, 1, 1)
CUSTOMERS = [
    customer("SEASON", annual_revenue=None),
    customer("BIG", annual_revenue=None),
    customer("EMP", "retail", annual_income=120000.0, branch_id="B2"),
    customer("HOME", "retail", annual_income=90000.0, branch_id="B2"),
]
LOANS_NOW = [
    loan("L1", "SEASON", maturity=ME + dt.timedelta(days=45)),
    loan("L2", "BIG", maturity=FAR, balance=1e6, contract=2e6),
    loan("R1", "HOME", maturity=dt.date(2026, 10, 15), balance=4000.0, product="RHL", repayment_method="EPI"),
]
HIST = [
    {
        **loan("R2", "EMP", maturity=FAR, balance=90000.0, product="RHL", repayment_method="EPI"),
        "snapshot_date": month(3),
    },
    {**loan("R2", "EMP", maturity=FAR, balance=0.0, product="RHL", status="S"), "snapshot_date": month(2)},
]
YEAR_AGO = [loan("L2", "BIG", maturity=FAR, balance=1e6, contract=2e6)]
PEAKS = {k for k in range(25) if month(k).month in (9, 10)}
TXN = (
    txns("SEASON", {k: (300000.0 if k in PEAKS else 100000.0) for k in range(25)})
    + txns("BIG", {k: (3e6 if k < 12 else 2e6) for k in range(25)}, direction="C", top_share=0.8, txn_type="PAY")
    + txns("EMP", {0: 9000.0, 1: 9000.0}, txn_type="SAL", direction="C", channel="MOB")
    + txns("EMP", {k: 500.0 for k in range(25)}, txn_type="CON", direction="D", channel="POS")
    + txns("HOME", {**{k: 2000.0 for k in range(1, 25)}, 0: 80000.0}, txn_type="TRF", direction="C")
)
DEP = deposits("EMP", {k: 3000.0 for k in range(25)}) + deposits("SEASON", {k: 1e6 for k in range(25)})
STATEMENTS = [
    {
        "statement_id": "S1",
        "customer_id": "BIG",
        "report_period": dt.date(2024, 12, 31),
        "period_type": "A",
        "received_date": dt.date(2025, 4, 1),
        "revenue": 30e6,
        "total_assets": 1.0,
    },
    {
        "statement_id": "S2",
        "customer_id": "BIG",
        "report_period": dt.date(2025, 12, 31),
        "period_type": "A",
        "received_date": dt.date(2026, 4, 1),
        "revenue": 40e6,
        "total_assets": 1.0,
    },
]
INTERACTIONS = [
    {
        "interaction_id": "I1",
        "customer_id": "EMP",
        "interaction_time": pd.Timestamp("2026-03-01 09:00"),
        "channel": "PHONE",
        "notes": "x",
    },
    {
        "interaction_id": "I2",
        "customer_id": "EMP",
        "interaction_time": pd.Timestamp("2025-05-01 09:00"),
        "channel": "VISIT",
        "notes": "y",
    },
]
SURVEYS = [{"survey_id": "V1", "customer_id": "EMP", "response_date": dt.date(2026, 2, 1), "rating_pricing": 2}]
OPPS = [
    {
        "opportunity_id": "O1",
        "customer_id": "BIG",
        "offered_date": dt.date(2026, 3, 1),
        "outcome": "P",
        "outcome_date": None,
        "decline_reason": None,
    },
]
OPPS_LATER = [
    {
        "opportunity_id": "O1",
        "customer_id": "BIG",
        "offered_date": dt.date(2026, 3, 1),
        "outcome": "D",
        "outcome_date": dt.date(2026, 4, 2),
        "decline_reason": "PRICE",
    },
]


def _marts():
    value = pd.DataFrame(
        [
            {
                "customer_id": c["customer_id"],
                "value_segment": c["segment"],
                "branch_id": c["branch_id"],
                "manager_id": c["manager_id"],
                "key_account": c["key_account"],
                "external_loan_balance": 0.0,
                "debt_service_annual": 0.0,
                "month_end": ME,
            }
            for c in CUSTOMERS
        ]
    )
    c360 = pd.DataFrame(
        [
            {
                "customer_id": c["customer_id"],
                "status": "A",
                "annual_income": c["annual_income"],
                "enterprise_size": c["enterprise_size"],
                "month_end": ME,
            }
            for c in CUSTOMERS
        ]
    )
    return {"customer_value": value, "customer_360": c360}


@pytest.fixture(scope="module")
def config():
    return load_config()


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    s = tmp_path_factory.mktemp("needs") / "staged"
    write(s, "loans", ME, LOANS_NOW)
    for d in (month(3), month(2)):
        write(
            s,
            "loans",
            d,
            [{k: v for k, v in r.items() if k != "snapshot_date"} for r in HIST if r["snapshot_date"] == d],
        )
    write(s, "loans", month(12), YEAR_AGO)
    # the initial load (dated month(1)) carries month(24) .. month(1); month(1) again in the month-end file of
    # ME with other figures: the later file's rows are taken
    for extract, rows in (("deposit_balances", DEP), ("txn_monthly", TXN)):
        old = [r for r in rows if r["snapshot_date"] != ME]
        write(
            s,
            extract,
            month(1),
            [{**r, "amount": 1.0} if extract == "txn_monthly" and r["snapshot_date"] == month(1) else r for r in old],
        )
        write(s, extract, ME, [r for r in rows if r["snapshot_date"] in (ME, month(1))])
    write(
        s,
        "corporates",
        ME,
        [
            {"customer_id": "SEASON", "annual_revenue": 50e6, "company_name": "x"},
            {"customer_id": "BIG", "annual_revenue": 1.0, "company_name": "y"},
        ],
    )
    write(s, "financial_statements", dt.date(2026, 4, 1), STATEMENTS)
    write(s, "interactions", dt.date(2026, 3, 1), INTERACTIONS)
    write(s, "surveys", dt.date(2026, 2, 1), SURVEYS)
    write(s, "opportunities", dt.date(2026, 3, 1), OPPS)
    write(s, "opportunities", dt.date(2026, 4, 2), OPPS_LATER)
    return s


def _frames(config):
    from crm.contract.extracts import DEPOSIT_BALANCES, LOANS, TXN_MONTHLY
    from tests.value.build import staged as contract

    customers = pd.DataFrame(CUSTOMERS)
    customers.loc[customers["customer_id"] == "SEASON", "annual_revenue"] = 50e6
    customers.loc[customers["customer_id"] == "BIG", "annual_revenue"] = 1.0
    hist = contract(LOANS, HIST).assign(snapshot_date=[r["snapshot_date"] for r in HIST])
    year = contract(LOANS, YEAR_AGO).assign(snapshot_date=month(12))
    return needs_inputs(
        ME,
        config,
        customers=customers,
        loans=contract(LOANS, LOANS_NOW),
        deposit_balances=contract(DEPOSIT_BALANCES, DEP),
        txn_monthly=contract(TXN_MONTHLY, TXN),
        loan_history=pd.concat([hist, year], ignore_index=True),
        statements=pd.DataFrame(STATEMENTS),
        interactions=pd.DataFrame(INTERACTIONS),
        surveys=pd.DataFrame(SURVEYS),
        opportunities=pd.DataFrame(OPPS_LATER),
    )


def test_loaded_inputs_give_the_needs_and_profiles_of_the_frames(staged, config):
    loaded = load_needs_inputs(staged, ME, _marts(), config)
    frames = _frames(config)
    a = customer_needs(loaded, config).needs
    b = customer_needs(frames, config).needs
    assert set(a["need"]) == {
        "MATURITY",
        "HEADROOM",
        "SEASONAL",
        "GROWTH",
        "CONCENTRATION",
        "PAYROLL_START",
        "MORTGAGE_END",
        "LARGE_INFLOW",
    }
    pd.testing.assert_frame_equal(a, b)
    pa_, pb = customer_preferences(loaded, config), customer_preferences(frames, config)
    pd.testing.assert_frame_equal(pa_, pb)
    p = pa_.set_index("customer_id")
    assert p.loc["BIG", "price_sensitivity"] == "HIGH"  # the opportunity's latest record: declined on price
    assert p.loc["EMP", "channel"] == "PHONE" and p.loc["EMP", "pricing_rating"] == 2.0


def test_old_months_are_read_for_the_seasonal_segments_only(staged, config):
    loaded = load_needs_inputs(staged, ME, _marts(), config)
    seen = loaded.flows.groupby("customer_id", observed=True)["month_end"].nunique()
    assert seen["SEASON"] == 25 and seen["EMP"] == 14
    # month(1) from the later file
    big = loaded.flows[(loaded.flows["customer_id"] == "BIG") & (loaded.flows["month_end"] == month(1))]
    assert big["credits"].iloc[0] == 3e6


def test_missing_optional_extracts_come_back_empty_and_customer_value_is_required(tmp_path, config):
    s = tmp_path / "staged"
    write(s, "loans", ME, LOANS_NOW)
    inputs = load_needs_inputs(s, ME, _marts(), config)
    assert inputs.flows.empty and inputs.txn_12m.empty and inputs.opportunities.empty
    assert inputs.limits_before is None
    res = customer_needs(inputs, config)
    assert set(res.needs["need"]) == {"MATURITY", "HEADROOM", "MORTGAGE_END"}  # HEADROOM: from income
    assert res.lacking["SEASONAL"] == 2 and res.lacking["GROWTH"] == 2
    with pytest.raises(MissingInput, match="customer_value"):
        load_needs_inputs(s, ME, {}, config)
