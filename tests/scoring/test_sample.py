"""The development sample: characteristics from month-ends up to the observation month only, the outcome
over the next 12, the population and exclusions as stated in crm.scoring.sample."""

import numpy as np
import pandas as pd

from crm.scoring.sample import POPULATION_MAX_DPD, customer_month_features, loan_month_features

MONTHS = pd.date_range("2024-01-31", periods=16, freq="ME")


def _perf():
    rows = []
    dpd_a = [0, 0, 0, 0, 0, 15, 45, 75, 105, 135, 0, 0, 0, 0, 0, 0]  # A goes 90+ at month 8
    dpd_b = [0] * 16  # B never late
    for i, m in enumerate(MONTHS):
        rows.append((m, "L1", "A", "RCL", 1000.0 - 10 * i, dpd_a[i], "O" if dpd_a[i] else "N"))
        rows.append((m, "L2", "B", "RHL", 5000.0 - 10 * i, dpd_b[i], "N"))
        if i < 3:  # a loan of B that settles in month 3
            rows.append((m, "L3", "B", "RCL", 100.0, 0, "N" if i < 2 else "S"))
    return pd.DataFrame(
        rows, columns=["snapshot_date", "loan_id", "customer_id", "product_code", "balance", "overdue_days", "status"]
    )


def test_outcome_window_population_and_characteristics():
    cm = customer_month_features(loan_month_features(_perf())).set_index(["customer_id", "month_end"])
    a = cm.loc["A"]
    # outcome known only with 12 month-ends to come: months 0..3 of 16
    assert a["outcome_known"].tolist() == [True] * 4 + [False] * 12
    # A's 90+ at month 8 (105 days) is inside (m, m+12] for every known month
    assert a["bad"].iloc[:4].tolist() == [1, 1, 1, 1]
    assert cm.loc["B"]["bad"].iloc[:4].tolist() == [0, 0, 0, 0]
    # characteristics look back only
    assert a.loc[MONTHS[7], "max_dpd_now"] == 75 and a.loc[MONTHS[7], "max_dpd_6m"] == 75
    assert a.loc[MONTHS[4], "max_dpd_12m"] == 0  # the future arrears are not visible at month 4
    assert a.loc[MONTHS[9], "months_in_arrears_12m"] == 5
    assert a.loc[MONTHS[12], "balance_change_12m"] == (1000 - 120) / 1000
    # B: two loans open in months 0-1, the settled one drops out (status S), housing balance is secured
    b = cm.loc["B"]
    assert b.loc[MONTHS[0], "n_loans"] == 2 and b.loc[MONTHS[2], "n_loans"] == 1
    assert np.isclose(b.loc[MONTHS[2], "secured_share"], 1.0)
    # the population rule: customers more than 30 days past due at m are not in the development sample
    assert POPULATION_MAX_DPD == 30 and a.loc[MONTHS[6], "max_dpd_now"] > POPULATION_MAX_DPD


def _write_history(staged, perf, name):
    (staged / "loan_performance").mkdir(parents=True, exist_ok=True)
    out = perf.assign(snapshot_date=perf["snapshot_date"].dt.date)
    out.to_parquet(staged / "loan_performance" / name)


def test_history_from_files_restatements_windows_and_whole_customer_draws(tmp_path):
    import datetime as dt

    from crm.scoring.sample import customer_count, development_sample, load_performance

    rows = []
    for c in range(400):  # 400 customers, one loan each, 16 month-ends
        for i, m in enumerate(MONTHS):
            rows.append((m, f"L{c}", f"C{c}", "RCL", 100.0 + c, 120 if (c % 7 == 0 and i > 13) else 0, "N"))
    perf = pd.DataFrame(
        rows, columns=["snapshot_date", "loan_id", "customer_id", "product_code", "balance", "overdue_days", "status"]
    )
    _write_history(tmp_path, perf, "2025-04-30.parquet")
    # a later partition restates the last month-end of loan L1
    restated = perf[(perf["loan_id"] == "L1") & (perf["snapshot_date"] == MONTHS[-1])].assign(balance=1.0)
    _write_history(tmp_path, restated, "2025-05-31.parquet")

    full = load_performance(tmp_path)
    assert len(full) == len(perf) and not full.duplicated(["snapshot_date", "loan_id"]).any()
    assert full.loc[(full["loan_id"] == "L1") & (full["snapshot_date"] == MONTHS[-1]), "balance"].tolist() == [1.0]
    assert full["snapshot_date"].dtype == "datetime64[ns]"
    window = load_performance(tmp_path, since=MONTHS[2].date(), until=MONTHS[5].date())
    assert sorted(window["snapshot_date"].unique()) == list(MONTHS[3:6])

    assert customer_count(tmp_path) == 400 and customer_count(tmp_path, until=dt.date(2000, 1, 31)) == 0
    drawn = load_performance(tmp_path, share=0.25)
    per_customer = drawn.groupby("customer_id").size()
    assert (per_customer == len(MONTHS)).all()  # whole customers
    assert 60 <= len(per_customer) <= 140  # about a quarter of 400
    assert drawn.equals(load_performance(tmp_path, share=0.25))  # the same draw every time

    attrs = pd.DataFrame(
        {
            "customer_id": [f"C{c}" for c in range(400)],
            "annual_income": 1.0,
            "age_band": "30-39",
            "occupation": "X",
            "education": "B",
            "marital_status": "M",
        }
    )
    (tmp_path / "customers").mkdir()
    attrs.to_parquet(tmp_path / "customers" / "2025-05-31.parquet")
    everyone = development_sample(tmp_path, max_customers=None)["retail"]
    some = development_sample(tmp_path, max_customers=100)["retail"]
    assert everyone.attrs["drawn_share"] == 1.0 and some.attrs["drawn_share"] == 0.25
    assert some.attrs["customers"] == 400
    assert set(some["customer_id"]) == set(per_customer.index) & set(everyone["customer_id"])


def test_segment_features_and_their_binning():
    from crm.scoring.sample import CATEGORICAL, FEATURES, MONOTONIC, binning_options, segment_features

    columns = ["customer_id", "employees", "max_dpd_now", "industry", "bad", "balance"]
    features = segment_features("corporate", columns)
    assert (
        features
        == [f for f in FEATURES["corporate"] if f in columns]
        == ["max_dpd_now", "balance", "industry", "employees"]
    )
    assert segment_features("retail", ["industry"]) == []
    options = binning_options(features)
    assert options == {"monotonic": {"max_dpd_now": MONOTONIC["max_dpd_now"]}, "categorical": ["industry"]}
    assert set(binning_options(FEATURES["retail"])["categorical"]) <= set(CATEGORICAL)


def test_score_rows_of_a_segment():
    import datetime as dt

    from crm.scoring.models import score_rows

    scores = pd.DataFrame(
        {
            "score": [612.345, 580.0],
            "pd": [0.01, 0.05],
            "grade": ["A2", "B3"],
            "reason_1": ["max_dpd_now", "balance"],
            "points_balance": [10.0, 5.0],
        },
        index=[7, 9],
    )
    out = score_rows(dt.date(2026, 10, 31), "retail", "202610-1", pd.Series(["k1", "k2"], index=[3, 4]), scores)
    assert list(out.columns) == [
        "month_end",
        "segment",
        "customer_id",
        "model_version",
        "score",
        "pd",
        "grade",
        "reason_1",
    ]
    assert out["customer_id"].tolist() == ["k1", "k2"] and out["score"].tolist() == [612.3, 580.0]
    assert (out["segment"] == "retail").all() and (out["model_version"] == "202610-1").all()
