"""Churn risk (crm.playbook.churn): no look-ahead in the features, the label at the 6-month boundary, the
churn rules at their thresholds, the out-of-time split, reason codes and actions worded in Chinese, and the
retention list ranked by value at risk. Hand-built frames only."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm.bank_calendar import month_end, months_before
from crm.playbook import load_config
from crm.playbook.churn import (
    FEATURES,
    TARGET,
    ChurnHistory,
    churn_scores,
    features_at,
    labelled_sample,
    retention_list,
    time_split,
)

MONTHS = [month_end(months_before(dt.date(2025, 6, 30), k)) for k in range(17, -1, -1)]  # 2024-01 .. 2025-06
CONFIG = load_config()


def _monthly(rows: dict[str, list[tuple[float, float, float]]]) -> pd.DataFrame:
    """customer -> per month (deposit, loan, txn)."""
    out = []
    for cid, values in rows.items():
        for m, (d, loan, t) in zip(MONTHS, values, strict=True):
            out.append({"customer_id": cid, "month_end": m, "deposit_balance": d, "loan_balance": loan, "txn_count": t})
    return pd.DataFrame(out)


def _steady():
    return [(10_000.0, 0.0, 5.0)] * len(MONTHS)


def _history(monthly: dict, **more) -> ChurnHistory:
    customers = pd.DataFrame(
        {"customer_id": list(monthly), "segment": "retail", "onboarding_date": dt.date(2020, 1, 1)}
    )
    return ChurnHistory(monthly=_monthly(monthly), months=list(MONTHS), customers=customers, **more)


def _rich_history() -> ChurnHistory:
    falling = [(10_000.0 * 0.9**k, 5_000.0, 5.0) for k in range(len(MONTHS))]
    return _history(
        {"A": _steady(), "B": falling},
        holdings=pd.DataFrame(
            {"customer_id": ["A", "A", "B"], "close_date": [dt.date(2024, 11, 5), dt.date(2025, 2, 1), None]}
        ),
        requests=pd.DataFrame(
            {
                "customer_id": ["A", "A", "B"],
                "opened_time": pd.to_datetime(["2024-10-01 09:00", "2025-01-20 10:00", "2024-12-31 23:00"]),
                "category": ["CMPL", "CMPL", "CMPL"],
            }
        ),
        requests_since=dt.date(2024, 1, 1),
        surveys=pd.DataFrame(
            {
                "customer_id": ["A", "A", "B"],
                "response_date": [dt.date(2024, 6, 1), dt.date(2025, 1, 15), dt.date(2024, 12, 1)],
                "csat": [5.0, 2.0, 4.0],
                "nps": [9.0, 3.0, 8.0],
            }
        ),
        coverage=pd.DataFrame(
            {
                "customer_id": ["A", "A", "A", "B"],
                "staff_id": ["S1", "S2", "S3", "S1"],
                "role": ["RM", "RM", "RM", "RM"],
                "from_date": [dt.date(2020, 1, 1), dt.date(2024, 8, 1), dt.date(2025, 3, 1), dt.date(2020, 1, 1)],
                "to_date": [dt.date(2024, 7, 31), dt.date(2025, 2, 28), None, None],
            }
        ),
    )


def _cut(history: ChurnHistory, m: dt.date) -> ChurnHistory:
    """The history as it stood at month end ``m``: nothing dated after it."""
    h = copy.deepcopy(history)
    h.monthly = h.monthly[pd.to_datetime(h.monthly["month_end"]).dt.date <= m]
    h.months = [x for x in h.months if x <= m]
    h.holdings = h.holdings.assign(
        close_date=h.holdings["close_date"].where(pd.to_datetime(h.holdings["close_date"]).dt.date <= m, None)
    )
    h.requests = h.requests[pd.to_datetime(h.requests["opened_time"]).dt.date <= m]
    h.surveys = h.surveys[pd.to_datetime(h.surveys["response_date"]).dt.date <= m]
    h.coverage = h.coverage[pd.to_datetime(h.coverage["from_date"]).dt.date <= m]
    return h


def test_features_ignore_records_after_the_month_end():
    history = _rich_history()
    m = dt.date(2024, 12, 31)
    full = features_at(history, m).set_index("customer_id")
    cut = features_at(_cut(history, m), m).set_index("customer_id")
    pd.testing.assert_frame_equal(full, cut)
    a, b = full.loc["A"], full.loc["B"]
    assert a["closures_6m"] == 1  # the 2025-02-01 closure is after m
    assert a["complaints_6m"] == 1  # 2024-10-01 only; 2025-01-20 is after m
    assert b["complaints_6m"] == 1  # 2024-12-31 23:00 is on the month end
    assert a["csat_latest"] == 5.0 and a["nps_latest"] == 9.0  # the January answer is after m
    assert a["manager_changes_6m"] == 1 and a["manager_changes_12m"] == 1  # S2 from 2024-08-01; S3 later
    assert b["manager_changes_12m"] == 0
    assert b["deposit_change_3m"] == pytest.approx(0.9**3 - 1)
    assert b["deposit_change_6m"] == pytest.approx(0.9**6 - 1)
    assert b["loan_change_3m"] == pytest.approx(0.0)
    assert np.isnan(a["loan_change_3m"])  # no loan 3 months earlier: missing, its own bin
    assert a["txn_3m"] == 15 and a["txn_change_3m"] == pytest.approx(0.0)
    # a later month sees the later records
    later = features_at(history, dt.date(2025, 3, 31)).set_index("customer_id").loc["A"]
    assert later["csat_latest"] == 2.0 and later["complaints_6m"] == 2 and later["manager_changes_6m"] == 1
    assert later["manager_changes_12m"] == 2


def test_complaints_missing_where_the_extract_does_not_cover_the_window():
    history = _rich_history()
    history.requests_since = dt.date(2024, 8, 1)  # the delta extracts start with the run
    early = features_at(history, dt.date(2024, 12, 31))  # window from 2024-07-01: not covered
    late = features_at(history, dt.date(2025, 1, 31))  # window from 2024-08-01: covered
    assert early["complaints_6m"].isna().all()
    assert late["complaints_6m"].notna().all()
    history.coverage = None  # no coverage extract: manager changes unknown, not zero
    assert features_at(history, dt.date(2025, 1, 31))["manager_changes_12m"].isna().all()


def _churning_at(k: int) -> list[tuple[float, float, float]]:
    """Steady, then nothing from month index ``k`` on (closed)."""
    return [(10_000.0, 0.0, 5.0) if i < k else (0.0, 0.0, 0.0) for i in range(len(MONTHS))]


def test_label_at_the_six_month_boundary():
    m_idx = 6  # observation month 2024-07-31
    history = _history({"AT6": _churning_at(m_idx + 6), "AT7": _churning_at(m_idx + 7), "AT1": _churning_at(m_idx + 1)})
    sample = labelled_sample(history, CONFIG, [MONTHS[m_idx]]).set_index("customer_id")
    assert sample.loc["AT6", TARGET] == 1  # churned at m + 6: inside the horizon
    assert sample.loc["AT7", TARGET] == 0  # at m + 7: outside
    assert sample.loc["AT1", TARGET] == 1
    # a month without its 6 following month ends is refused (outcome unknown)
    with pytest.raises(ValueError, match="lacks"):
        labelled_sample(history, CONFIG, [MONTHS[-6]])
    # already churned at m: not in the population
    gone = labelled_sample(history, CONFIG, [MONTHS[m_idx + 2]]).set_index("customer_id")
    assert "AT1" not in gone.index and "AT6" in gone.index


def test_churn_rules_at_their_thresholds():
    floor = float(CONFIG["churn"]["balance_floor"])
    k = int(CONFIG["churn"]["inactive_months"])
    m = 6
    below = [(10_000.0, 0.0, 5.0) if i <= m else (floor - 0.01, 0.0, 5.0) for i in range(len(MONTHS))]
    at = [(10_000.0, 0.0, 5.0) if i <= m else (floor, 0.0, 5.0) for i in range(len(MONTHS))]
    quiet_k = [(10_000.0, 0.0, 0.0 if m < i <= m + k else 5.0) for i in range(len(MONTHS))]
    quiet_less = [(10_000.0, 0.0, 0.0 if m < i <= m + k - 1 else 5.0) for i in range(len(MONTHS))]
    quiet_loan = [(10_000.0, 50_000.0, 0.0 if m < i <= m + k else 5.0) for i in range(len(MONTHS))]
    status = pd.DataFrame({"customer_id": ["ST"], "month_end": [MONTHS[m + 3]], "status": ["D"]})
    history = _history(
        {"BELOW": below, "AT": at, "QK": quiet_k, "QLESS": quiet_less, "QLOAN": quiet_loan, "ST": _steady()},
        status=status,
    )
    y = labelled_sample(history, CONFIG, [MONTHS[m]]).set_index("customer_id")[TARGET]
    assert y["BELOW"] == 1 and y["AT"] == 0
    assert y["QK"] == 1 and y["QLESS"] == 0 and y["QLOAN"] == 0
    assert y["ST"] == 1  # a dormant status where the month end's status is known


def test_out_of_time_split():
    months = MONTHS[:12]  # 2024-01 .. 2024-12
    sample = pd.DataFrame(
        {"month_end": np.repeat(months, 2), "customer_id": ["A", "B"] * len(months), TARGET: [0, 1] * len(months)}
    )
    config = copy.deepcopy(CONFIG)
    config["churn"]["validation"]["test_months"] = 1
    train, test, info = time_split(sample, config)
    assert set(test["month_end"]) == {months[-1]}
    # training months end horizon (6) months before the first test month: every training label was known
    assert max(train["month_end"]) == month_end(months_before(months[-1], 6))
    assert max(train["month_end"]) < min(test["month_end"])
    assert info["train_months"] == 6 and info["test_months"] == 1 and info["train_customers"] == 2
    config["churn"]["validation"]["test_months"] = 2
    train2, test2, _ = time_split(sample, config)
    assert set(test2["month_end"]) == set(months[-2:]) and max(train2["month_end"]) == months[4]


def _catalogue() -> dict:
    with open(Path(__file__).resolve().parents[2] / "crm/reports/messages_churn.toml", "rb") as fh:
        return tomllib.load(fh)


def _has_han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_reason_codes_and_actions_are_worded_in_chinese():
    cat = _catalogue()
    for f in FEATURES:
        assert _has_han(cat[f"churn.reason.{f}"]["zh_CN"]), f
    for action in set(CONFIG["retention"]["actions"].values()):
        assert _has_han(cat[f"churn.action.{action}"]["zh_CN"]), action
    for band in CONFIG["churn"]["bands"]["names"]:
        assert _has_han(cat[f"churn.band.{band}"]["zh_CN"]), band


def _scores_frame() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    ids = ["C1", "C2", "C3", "C4", "C5"]
    rows = pd.DataFrame({"customer_id": ids, "segment": "retail"})
    scores = pd.DataFrame(
        {
            "pd": [0.5, 0.35, 0.9, 0.31, 0.02],
            "reason_1": ["deposit_change_3m", "complaints_6m", "tenure_months", None, "txn_3m"],
            "reason_2": None,
            "reason_3": None,
            "reason_4": None,
        }
    )
    value = pd.DataFrame(
        {
            "customer_id": ids,
            "contribution_annualised": [1_000.0, 10_000.0, -500.0, 2_000.0, 99_000.0],
            "branch_id": "0001",
            "manager_id": ["M1", "M1", "M1", "M2", "M1"],
        }
    )
    return rows, scores, value


def test_scores_value_at_risk_and_action():
    rows, scores, value = _scores_frame()
    out = churn_scores(dt.date(2025, 6, 30), rows, scores, value, "v1", CONFIG).set_index("customer_id")
    assert out.loc["C2", "value_at_risk"] == pytest.approx(3_500.0)
    assert out.loc["C3", "value_at_risk"] == 0.0  # a negative contribution puts nothing at risk
    assert out.loc["C1", "action"] == CONFIG["retention"]["actions"]["deposit_change_3m"]
    assert out.loc["C4", "action"] == CONFIG["retention"]["actions"]["default"]
    assert out.loc["C5", "band"] == "low" and not out.loc["C5", "at_risk"]
    assert out.loc["C4", "band"] == "very_high" and out.loc["C2", "band"] == "very_high"


def test_retention_list_ranked_by_value_at_risk():
    rows, scores, value = _scores_frame()
    out = churn_scores(dt.date(2025, 6, 30), rows, scores, value, "v1", CONFIG)
    lst = retention_list(out, CONFIG)
    m1 = lst[lst["manager_id"] == "M1"]
    assert list(m1["customer_id"]) == ["C2", "C1", "C3"]  # 3,500 > 500 > 0; C5 is low risk: not listed
    assert list(m1["rank"]) == [1, 2, 3]
    assert list(lst.loc[lst["manager_id"] == "M2", "customer_id"]) == ["C4"]
    config = copy.deepcopy(CONFIG)
    config["churn"]["list_per_manager"] = 1
    assert list(retention_list(out, config)["customer_id"]) == ["C2", "C4"]


def test_labelled_sample_columns():
    sample = labelled_sample(_rich_history(), CONFIG)
    assert list(sample.columns) == ["month_end", "customer_id", *FEATURES, TARGET]
    assert sample["month_end"].min() == MONTHS[6] and sample["month_end"].max() == MONTHS[-7]


def test_retention_outcome_counts_who_stayed():
    then = dt.date(2025, 3, 31)
    scored_then = pd.DataFrame(
        {"month_end": then, "customer_id": ["C1", "C2", "C3", "C4"], "branch_id": ["B1", "B1", "B2", "B2"]}
    )
    listed_then = scored_then[scored_then["customer_id"].isin(["C1", "C2", "C3"])]
    now = pd.DataFrame({"customer_id": ["C1", "C4", "C9"]})  # C2 and C3 are gone
    from crm.playbook.churn import retention_outcomes

    out = retention_outcomes(dt.date(2025, 6, 30), listed_then, now, scored_then).set_index("branch_id")
    assert out.loc["ALL", "active_then"] == 4 and out.loc["ALL", "churned"] == 2
    assert out.loc["ALL", "churn_rate"] == pytest.approx(0.5)
    assert out.loc["ALL", "listed"] == 3 and out.loc["ALL", "stayed"] == 1
    assert out.loc["B1", "stayed"] == 1 and out.loc["B2", "stayed"] == 0 and out.loc["B2", "churned"] == 1
    assert out.loc["ALL", "cohort"] == then
    assert retention_outcomes(dt.date(2025, 6, 30), listed_then.iloc[:0], now, None).empty


def test_scoring_reads_only_the_recent_months_and_matches_the_full_history():
    from crm.playbook.churn import scoring_rows

    history = _rich_history()
    m = dt.date(2025, 3, 31)
    rows = scoring_rows(history, m, CONFIG).set_index("customer_id")
    full = features_at(history, m).set_index("customer_id").loc[rows.index]
    pd.testing.assert_frame_equal(rows, full)


def test_a_large_history_is_drawn_by_customer():
    from crm.playbook.churn import draw_customers, draw_history

    monthly = {f"C{i:03d}": _steady() for i in range(60)}
    history = _history(monthly)
    drawn = draw_history(history, 20)
    ids = set(drawn.monthly["customer_id"])
    assert 5 < len(ids) < 40 and set(drawn.customers["customer_id"]) == ids
    sample = labelled_sample(history, CONFIG)
    assert set(draw_customers(sample, 20)["customer_id"]) == ids  # the same draw either way
    assert draw_history(history, 100) is history
