"""Contribution from history on hand-made ValueInputs (month end 2026-06-30, window 2025-07 .. 2026-06);
expected figures computed by hand in the comments."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm.value.trace import trace_value
from crm.value.value import customer_value
from tests.value.build import MONTHS, account_months, c360, inputs, loan, loan_months, pinned_config

D = dt.date
COMPONENTS = ["loan_nii", "deposit_spread", "fees", "expected_loss", "servicing_cost"]


@pytest.fixture
def config():
    return pinned_config()


def _cents(x) -> np.ndarray:
    return np.round(np.asarray(x, dtype="float64") * 100).astype("int64")


def assert_identities(result):
    """contribution == the sum of the rounded components, per month and in total, in whole cents; the
    costs sum to servicing_cost; every figure is whole cents; the months sum to the customer's totals."""
    v, m = result.value, result.monthly
    for frame in (v, m):
        parts = (
            _cents(frame["loan_nii"])
            + _cents(frame["deposit_spread"])
            + _cents(frame["fees"])
            - _cents(frame["expected_loss"])
            - _cents(frame["servicing_cost"])
        )
        assert (parts == _cents(frame["contribution"])).all()
        assert np.allclose(
            frame["loan_nii"]
            + frame["deposit_spread"]
            + frame["fees"]
            - frame["expected_loss"]
            - frame["servicing_cost"],
            frame["contribution"],
            rtol=0,
            atol=1e-6,
        )
        for col in [*COMPONENTS, "contribution"]:
            assert np.allclose(frame[col] * 100, np.round(frame[col] * 100), atol=1e-6)
    costs = sum(_cents(v[c]) for c in ("cost_visits", "cost_calls", "cost_requests", "cost_transactions"))
    assert (costs == _cents(v["servicing_cost"])).all()
    sums = m.groupby("customer_id")[[*COMPONENTS, "contribution"]].sum().reindex(v["customer_id"]).fillna(0.0)
    for col in [*COMPONENTS, "contribution"]:
        assert (_cents(sums[col]) == _cents(v[col])).all(), col
    held = m.groupby("customer_id").size().reindex(v["customer_id"]).fillna(0).astype(int)
    assert (held.to_numpy() == v["months_held"].to_numpy()).all()


def _twins():
    """A and B hold the same products: a 1.2m loan at 4.35% (3-year term, mortgage) all year and a current
    account averaging 600k; A's account pays 0.35%, B's 0.20%; their fee histories and work differ."""
    c = c360([{"customer_id": "A"}, {"customer_id": "B"}])
    lp, rates, dep = [], [], []
    for cust, acct_rate in (("A", 0.35), ("B", 0.20)):
        lp += loan_months(f"L{cust}", cust, {d: 1_200_000.0 for d in MONTHS})
        rates.append(loan(f"L{cust}", cust, 4.35, D(2025, 1, 15), D(2028, 1, 15), "MO"))
        dep += account_months(f"D{cust}", cust, 600_000.0, acct_rate)
    fee = dict(product_family="DEP", fee_type="ACCT", branch_id="B1")
    fees = [
        {**fee, "fee_id": "F1", "customer_id": "A", "amount": 1000.0, "fee_date": D(2025, 8, 10)},
        {**fee, "fee_id": "F2", "customer_id": "A", "amount": 500.0, "fee_date": D(2026, 3, 5)},
        {**fee, "fee_id": "F3", "customer_id": "A", "amount": -500.0, "fee_date": D(2026, 3, 6), "reversal_of": "F2"},
        {**fee, "fee_id": "F4", "customer_id": "B", "amount": 2500.0, "fee_date": D(2026, 1, 20)},
        {**fee, "fee_id": "F0", "customer_id": "B", "amount": 9999.0, "fee_date": D(2025, 6, 30)},  # before window
    ]
    txn = dict(txn_type="TRF", direction="D", amount=1000.0, counterparty_count=1)
    txns = [
        {**txn, "snapshot_date": D(2026, 6, 30), "customer_id": "A", "channel": "MOB", "txn_count": 10},
        {**txn, "snapshot_date": D(2026, 6, 30), "customer_id": "B", "channel": "CNTR", "txn_count": 5},
    ]
    inter = [
        {
            "interaction_id": "I1",
            "customer_id": "A",
            "staff_id": "S1",
            "interaction_time": pd.Timestamp("2026-05-12 10:00"),
        }
        | {"channel": "VISIT", "purpose": "MARKET"}
    ]
    req = [
        {"request_id": "R1", "customer_id": "A", "opened_time": pd.Timestamp("2026-04-02 09:00")}
        | {"channel": "PHONE", "category": "INQ", "priority": "P2", "status": "RSLV"}
    ]
    scores = pd.DataFrame({"customer_id": ["A", "B"], "pd": [0.02, 0.02], "grade": ["B1", "B1"]})
    return inputs(
        c,
        scores=scores,
        loan_perf=lp,
        loan_rates=rates,
        deposits=dep,
        fees=fees,
        txns=txns,
        interactions=inter,
        requests=req,
    )


def test_same_products_different_history_different_contribution(config):
    result = customer_value(_twins(), config)
    v = result.value.set_index("customer_id")
    # loan NII a month: 1.2m x (4.35% - 2.8% FTP 3y) / 12 = 1,550.00; 12 months 18,600
    assert v.loc["A", "loan_nii"] == v.loc["B", "loan_nii"] == 18_600.00
    # deposit spread a month: 600k x (1.8% - 0.35%) / 12 = 725.00 (A); 600k x (1.8% - 0.20%) / 12 = 800.00 (B)
    assert v.loc["A", "deposit_spread"] == 8_700.00 and v.loc["B", "deposit_spread"] == 9_600.00
    # fees: A 1000 + 500 - 500 (reversal) = 1000; B 2500 (the June 2025 fee is before the window)
    assert v.loc["A", "fees"] == 1_000.00 and v.loc["B", "fees"] == 2_500.00
    # expected loss a month: 2% x 25% (MO) x 1.2m / 12 = 500.00
    assert v.loc["A", "expected_loss"] == v.loc["B", "expected_loss"] == 6_000.00
    # cost: A visit 400 + P2 request 150 + 10 MOB x 0.20 = 552; B 5 counter x 12 = 60
    assert v.loc["A", ["cost_visits", "cost_calls", "cost_requests", "cost_transactions"]].tolist() == [
        400.0,
        0.0,
        150.0,
        2.0,
    ]
    assert v.loc["A", "servicing_cost"] == 552.00 and v.loc["B", "servicing_cost"] == 60.00
    assert v.loc["A", "contribution"] == 21_748.00  # 18600 + 8700 + 1000 - 6000 - 552
    assert v.loc["B", "contribution"] == 24_640.00  # 18600 + 9600 + 2500 - 6000 - 60
    assert v.loc["A", "contribution_annualised"] == 21_748.00  # 12 months held
    assert v.loc["A", "ftp_bucket"] == "3y" and v.loc["A", "lgd"] == 0.25 and v.loc["A", "ead"] == 1_200_000.0
    m = result.monthly.set_index(["customer_id", "month"])
    assert m.loc[("A", D(2025, 8, 31)), "fees"] == 1000.0 and m.loc[("A", D(2026, 3, 31)), "fees"] == 0.0
    assert m.loc[("A", D(2026, 5, 31)), "servicing_cost"] == 400.0
    assert_identities(result)


def _awkward():
    """40 customers, some onboarded within the window, with loans, two accounts, fees and transactions of
    awkward random amounts."""
    rng = np.random.default_rng(11)
    n = 40
    ids = [f"C{i}" for i in range(n)]
    onboard = [D(2019, 1, 1) if i % 3 else MONTHS[int(rng.integers(0, 12))] for i in range(n)]
    c = c360([{"customer_id": k, "onboarding_date": o} for k, o in zip(ids, onboard, strict=True)])
    lp, rates, dep, fees, txns = [], [], [], [], []
    for i, k in enumerate(ids):
        held = [d for d in MONTHS if rng.random() < 0.8]
        lp += loan_months(f"L{i}", k, {d: round(float(rng.uniform(1, 3e6)), 2) for d in held})
        rates.append(loan(f"L{i}", k, round(float(rng.uniform(3, 9)), 4), D(2024, 3, 1), D(2024 + i % 7 + 1, 3, 1)))
        dep += account_months(f"D{i}", k, round(float(rng.uniform(0, 1e6)), 2), round(float(rng.uniform(0, 1.5)), 4))
        dep += account_months(f"E{i}", k, round(float(rng.uniform(0, 1e6)), 2), 1.75, product="FIX")
        for j in range(5):
            fees.append(
                {"fee_id": f"F{i}_{j}", "customer_id": k, "product_family": "SETL", "fee_type": "SETL"}
                | {"amount": round(float(rng.uniform(-50, 300)), 2), "fee_date": MONTHS[j * 2], "branch_id": "B1"}
            )
        for d in MONTHS[::3]:
            txns.append(
                {"snapshot_date": d, "customer_id": k, "txn_type": "TRF", "direction": "C", "amount": 1.0}
                | {
                    "channel": ["NET", "POS", "ATM"][i % 3],
                    "txn_count": int(rng.integers(1, 40)),
                    "counterparty_count": 1,
                }
            )
    scores = pd.DataFrame({"customer_id": ids, "pd": rng.uniform(0.001, 0.3, n)})
    return inputs(c, scores=scores, loan_perf=lp, loan_rates=rates, deposits=dep, fees=fees, txns=txns)


def test_identity_to_the_cent_on_awkward_amounts(config):
    result = customer_value(_awkward(), config)
    assert_identities(result)
    assert (result.value["months_held"] < 12).any() and result.value["months_held"].between(1, 12).all()


def test_onboarded_mid_window_months_held_and_annualised(config):
    """Onboarded 2026-03-10: March to June held (4 months). A deposit row of February (before the
    relationship) is left out and counted."""
    c = c360([{"customer_id": "N", "onboarding_date": D(2026, 3, 10), "tenure_months": 3}])
    dep = account_months("DN", "N", 120_000.0, 0.30, months=[D(2026, 2, 28), *MONTHS[-4:]])
    result = customer_value(inputs(c, deposits=dep), config)
    row = result.value.iloc[0]
    assert row["months_held"] == 4
    # 120k x (1.8% - 0.3%) / 12 = 150.00 a month, 4 months
    assert row["deposit_spread"] == 600.00 and row["contribution"] == 600.00
    assert row["contribution_annualised"] == 1_800.00  # 600 x 12 / 4
    assert result.monthly["month"].tolist() == MONTHS[-4:]
    assert result.figures["records_before_onboarding"] == 1
    assert row["value_trend"] == "new"  # fewer than 6 months held
    assert_identities(result)


def test_loan_repaid_within_the_window_counts_its_months(config):
    """A loan alive July to December 2025, settled in January (status S, balance 0): not in the month-end
    loans snapshot any more, its rate comes from loan_rates; its six months count."""
    c = c360([{"customer_id": "R"}])
    balances = {d: 100_000.0 for d in MONTHS[:6]} | {MONTHS[6]: 0.0}
    lp = loan_months("LR", "R", balances)
    rates = [loan("LR", "R", 6.0, D(2025, 1, 1), D(2025, 12, 31), "CR")]  # 11-month term: FTP 1y 2.5%
    result = customer_value(inputs(c, loan_perf=lp, loan_rates=rates), config)
    row = result.value.iloc[0]
    # 100k x (6% - 2.5%) / 12 = 291.666.. -> 291.67 a month, 6 months
    assert row["loan_nii"] == pytest.approx(6 * 291.67)
    assert row["expected_loss"] == pytest.approx(6 * 150.00)  # unscored 4% x 45% x 100k / 12 = 150
    assert row["pd_source"] == "config_unscored" and row["ead"] == 0.0
    m = result.monthly.set_index("month")
    assert (m.loc[MONTHS[:6], "loan_nii"] == 291.67).all() and (m.loc[MONTHS[6:], "loan_nii"] == 0).all()
    assert_identities(result)


def test_loan_without_a_known_rate_uses_the_products_mean_margin_counted(config):
    c = c360([{"customer_id": "K"}, {"customer_id": "U"}])
    lp = loan_months("LK", "K", {d: 200_000.0 for d in MONTHS}) + loan_months("LU", "U", {MONTHS[-1]: 50_000.0})
    lp += loan_months("LX", "U", {MONTHS[-1]: 10_000.0}, product="CFA")  # no rate, no other CFA loan
    rates = [loan("LK", "K", 5.3, D(2025, 1, 1), D(2027, 1, 1), "GU")]  # 24 months: FTP 2.8%, margin 2.5%
    result = customer_value(inputs(c, loan_perf=lp, loan_rates=rates), config)
    v = result.value.set_index("customer_id")
    assert v.loc["U", "loan_nii"] == pytest.approx(104.17)  # 50k x 2.5% (RCL book mean) / 12; CFA loan: 0
    assert v.loc["U", "rate_fallback_months"] == 2 and v.loc["K", "rate_fallback_months"] == 0
    assert result.figures["rate_fallback_months"] == 2
    # unknown guarantee: default LGD 45%, balance-weighted over 60k at the month end
    assert v.loc["U", "lgd"] == pytest.approx(0.45) and v.loc["K", "lgd"] == pytest.approx(0.40)


def test_interaction_cost_covers_the_window_from_records_since_unscaled(config):
    """Interactions and service requests have no initial load: with records from 2026-01-01 the cost covers
    January to June (6 of 12 months) and is not scaled up to the year."""
    c = c360([{"customer_id": "V"}])
    base = {"customer_id": "V", "staff_id": "S1", "purpose": "SERVICE"}
    inter = [
        base | {"interaction_id": "I0", "interaction_time": pd.Timestamp("2025-12-20 10:00"), "channel": "VISIT"},
        base | {"interaction_id": "I1", "interaction_time": pd.Timestamp("2026-02-03 10:00"), "channel": "VISIT"},
        base | {"interaction_id": "I2", "interaction_time": pd.Timestamp("2026-05-03 10:00"), "channel": "PHONE"},
        base | {"interaction_id": "I3", "interaction_time": pd.Timestamp("2026-05-04 10:00"), "channel": "WECHAT"},
    ]
    req = [
        {"request_id": "R1", "customer_id": "V", "opened_time": pd.Timestamp("2026-03-01 08:00")}
        | {"channel": "APP", "category": "CHG", "priority": "P4", "status": "OPEN"},
        {"request_id": "R1", "customer_id": "V", "opened_time": pd.Timestamp("2026-03-01 08:00")}
        | {"channel": "APP", "category": "CHG", "priority": "P4", "status": "CLSD"},  # the same request, later
    ]
    result = customer_value(inputs(c, interactions=inter, requests=req, records_since=D(2026, 1, 1)), config)
    row = result.value.iloc[0]
    assert row["cost_records_months"] == 6
    assert row["cost_visits"] == 400.0  # the December visit predates the records: not counted, not scaled
    assert row["cost_calls"] == 35.0 and row["cost_requests"] == 40.0
    assert row["servicing_cost"] == 475.0 and row["contribution"] == -475.0
    assert row["contribution_annualised"] == -475.0  # 12 months held
    assert_identities(result)


def test_unconfigured_channel_stops_the_run(config):
    del config["cost_to_serve"]["transactions"]["POS"]
    c = c360([{"customer_id": "P"}])
    txns = [
        {"snapshot_date": MONTHS[-1], "customer_id": "P", "txn_type": "CON", "direction": "D", "amount": 1.0}
        | {"channel": "POS", "txn_count": 3, "counterparty_count": 1}
    ]
    with pytest.raises(ValueError, match="POS"):
        customer_value(inputs(c, txns=txns), config)


def test_trace_lists_the_source_rows_of_every_component(config):
    inp = _twins()
    result = customer_value(inp, config)
    row = result.value.set_index("customer_id").loc["A"]
    tr = trace_value("A", row, inp, config)
    comp = tr.components.set_index("component")
    assert (comp["amount"] == comp["mart_amount"]).all()
    src = tr.sources
    assert {"source_file", "row_number", "sha256"} <= set(src.columns) and src["sha256"].notna().all()
    assert set(src["extract"]) == {
        "loan_performance",
        "loan_rates",
        "deposit_balances",
        "fee_ledger",
        "interactions",
        "service_requests",
        "txn_monthly",
    }
    # every amount again from the traced records: each month's records summed, rounded, then summed
    for component in ("loan_nii", "deposit_spread", "fees", "expected_loss", "cost_visits", "cost_transactions"):
        mine = src[(src["component"] == component) & src["amount"].notna()]
        by_month = mine.groupby("month")["amount"].sum().round(2).sum()
        assert by_month == pytest.approx(comp.loc[component, "amount"], abs=1e-9), component
    fees = src[src["extract"] == "fee_ledger"]
    assert sorted(fees["record_key"]) == ["F1", "F2", "F3"] and fees["source_file"].str.startswith("FEE_").all()
    assert tr.months["contribution"].sum() == pytest.approx(row["contribution"])


def test_the_shipped_configuration_runs_and_keeps_the_identities():
    from crm.value.value import load_config

    result = customer_value(_twins(), load_config())
    assert_identities(result)
    assert result.value["config_version"].eq(load_config()["version"]).all()


def _arrow_text(frame):
    """``frame`` as the asset's reader hands it over: text as pandas' Arrow-backed str dtype, the lineage's
    file name and checksum as categories."""
    if not isinstance(frame, pd.DataFrame):
        return frame
    out = frame.copy()
    text = pd.StringDtype("pyarrow", na_value=np.nan)
    for col in out.columns:
        if col in ("_source_file", "_sha256"):
            out[col] = out[col].astype("category")
        elif out[col].dtype == object and out[col].map(lambda v: v is None or isinstance(v, str)).all():
            out[col] = out[col].astype(text)
    return out


def test_arrow_backed_text_gives_the_same_marts_and_trace(config):
    import dataclasses

    plain = _twins()
    arrow = dataclasses.replace(
        plain, **{f.name: _arrow_text(getattr(plain, f.name)) for f in dataclasses.fields(plain)}
    )
    a, b = customer_value(plain, config), customer_value(arrow, config)
    pd.testing.assert_frame_equal(a.monthly, b.monthly, check_dtype=False)
    for col in a.value.columns:
        assert a.value[col].astype(str).tolist() == b.value[col].astype(str).tolist(), col
    tr = trace_value("A", b.value.set_index("customer_id").loc["A"], arrow, config)
    comp = tr.components.set_index("component")
    assert (comp["amount"] == comp["mart_amount"]).all()
    txn = tr.sources[tr.sources["extract"] == "txn_monthly"]
    assert txn["record_key"].tolist() == ["2026-06-30|TRF|MOB|D"] and txn["month"].tolist() == [D(2026, 6, 30)]
    assert txn["source_file"].tolist() == ["TXN_MON_1.dat"]


def test_records_priced_in_shards_give_the_same_marts(config):
    """The asset prices a big bank's records a shard of customers at a time (crm.value.inputs.
    load_record_shards): three shards of the same records give exactly the marts of one pass."""
    import dataclasses

    from crm.value.inputs import RECORD_INPUTS

    whole = _awkward()
    ids = whole.c360["customer_id"].tolist()
    shards = []
    for k in range(3):
        mine = set(ids[k::3])
        # a shard holds its customers' records only (as load_record_shards reads them): no rates, no scores
        bare = {n: getattr(whole, n).iloc[0:0] for n in ("c360", "scores", "loans", "loan_rates", "bureau_records")}
        records = {n: getattr(whole, n)[getattr(whole, n)["customer_id"].isin(mine)] for n in RECORD_INPUTS}
        shards.append(dataclasses.replace(whole, **bare, **records))
    assert sum(len(s.deposit_balances) for s in shards) == len(whole.deposit_balances) > 0
    one = customer_value(whole, config)
    split = customer_value(whole, config, shards=iter(shards))
    pd.testing.assert_frame_equal(split.value, one.value)
    pd.testing.assert_frame_equal(split.monthly, one.monthly)
    assert split.figures["record_shards"] == 3 and one.figures["record_shards"] == 1
    # a shard missing its customers' records changes the figures: the comparison can fail
    short = customer_value(whole, config, shards=iter(shards[:2]))
    assert not short.value["contribution"].equals(one.value["contribution"])
