"""Five-category classification by the 2023 rule and its reconciliation with the reported class."""

import numpy as np
import pandas as pd
import pytest

from crm.scoring.five_class import BETTER, WORSE, reconcile, rule_class, summary


def test_rule_edges_on_overdue_days():
    days = [0, 1, 90, 91, 270, 271, 360, 361]
    assert rule_class(days).tolist() == [1, 2, 2, 3, 3, 4, 4, 5]


def test_restructured_is_at_least_attention_and_days_still_apply():
    days = [0, 0, 10, 95, 300]
    assert rule_class(days, ["Y", "N", "Y", "Y", "Y"]).tolist() == [2, 1, 2, 3, 4]
    assert rule_class(days, np.array([True, False, True, True, True])).tolist() == [2, 1, 2, 3, 4]
    assert rule_class(days, [None, "n", "y", "N", None]).tolist() == [1, 1, 2, 3, 4]  # missing: not restructured
    assert rule_class(days).tolist() == [1, 1, 2, 3, 4]


def test_written_off_is_loss_and_missing_days_raise():
    assert rule_class([0, 30, 400], written_off=[True, True, False]).tolist() == [5, 5, 5]
    with pytest.raises(ValueError, match="without overdue days"):
        rule_class([0, np.nan])


def _loans():
    rows = [
        # loan, customer, reported, days, restructured, status, balance
        ("L1", "k1.a", "2", 95, "N", "O", 1000.0),  # 次级 by days, reported 关注: better than rule
        ("L2", "k1.b", "2", 0, "N", "N", 2000.0),  # current, reported 关注: conservative
        ("L3", "k1.c", "1", 0, "Y", "N", 3000.0),  # restructured, reported 正常: better than rule
        ("L4", "k1.d", "5", 400, "N", "O", 4000.0),  # 损失 and reported so: agrees
        ("L5", "k1.e", "3", 0, "N", "S", 0.0),  # settled: not classified
        ("L6", "k1.f", "4", 200, "N", "W", 0.0),  # written off, reported 可疑: better than rule
        ("L7", "k1.g", "2", 30, "Y", "O", 500.0),  # restructured, 30 days, 关注: agrees
        ("L8", "k1.h", "5", 0, "N", "W", 0.0),  # written off and 损失: agrees
        ("L9", "k1.i", "4", 271, "N", "O", 700.0),  # 可疑 at 271 days: agrees
        ("L10", "k1.j", "4", 100, "N", "O", 800.0),  # 次级 by days, reported 可疑: conservative
    ]
    return pd.DataFrame(
        rows, columns=["loan_id", "customer_id", "five_class", "overdue_days", "restructured", "status", "balance"]
    )


def test_reconciliation_lists_only_differences_with_reasons():
    d = reconcile(_loans()).set_index("loan_id")
    assert sorted(d.index) == ["L1", "L10", "L2", "L3", "L6"]
    assert d.loc["L1", "reason"] == "overdue 95 days implies 次级 (3), reported 关注 (2)"
    assert d.loc["L1", "direction"] == BETTER and d.loc["L1", "difference"] == 1
    assert d.loc["L2", "reason"] == "not overdue implies 正常 (1), reported 关注 (2)"
    assert d.loc["L2", "direction"] == WORSE and d.loc["L2", "difference"] == -1
    assert d.loc["L3", "reason"] == "restructured implies at least 关注 (2), reported 正常 (1)"
    assert d.loc["L6", "reason"] == "written off implies 损失 (5), reported 可疑 (4)"
    assert d.loc["L10", "reason"] == "overdue 100 days implies 次级 (3), reported 可疑 (4)"
    assert d.loc["L10", "direction"] == WORSE
    assert d["reported_class"].dtype == np.int64 and d["rule_class"].dtype == np.int64
    assert (d["difference"] == d["rule_class"] - d["reported_class"]).all()
    assert list(reconcile(_loans()).columns) == [
        "loan_id",
        "customer_id",
        "status",
        "balance",
        "overdue_days",
        "restructured",
        "reported_class",
        "rule_class",
        "difference",
        "direction",
        "reason",
    ]


def test_summary_counts_and_balances():
    s = summary(reconcile(_loans()))
    assert s["loans_checked"] == 9  # the settled loan is left out
    assert s["differences"] == 5 and s["reported_better"] == 3 and s["reported_worse"] == 2
    assert s["balance_affected"] == pytest.approx(1000 + 2000 + 3000 + 0 + 800)
    assert s["balance_reported_better"] == pytest.approx(4000.0)
    by_dir = s["by_direction"].set_index("direction")
    assert by_dir.loc[BETTER, "loans"] == 3 and by_dir.loc[WORSE, "balance"] == pytest.approx(2800.0)
    pairs = s["by_pair"].set_index(["reported_class", "rule_class"])
    assert pairs.loc[(2, 3), "loans"] == 1 and pairs.loc[(4, 5), "direction"] == BETTER
    assert pairs["loans"].sum() == 5


def test_performance_without_restructured_column_and_invalid_codes():
    perf = _loans().drop(columns=["restructured"]).assign(snapshot_date=pd.Timestamp("2026-01-31").date())
    d = reconcile(perf)
    assert "snapshot_date" in d.columns and d["restructured"].isna().all()
    assert "L3" not in set(d["loan_id"])  # no restructuring floor without the flag
    bad = _loans()
    bad.loc[0, "five_class"] = "9"
    with pytest.raises(ValueError, match="outside 1..5"):
        reconcile(bad)
    assert reconcile(_loans().iloc[[3, 6]]).empty  # agreeing loans give an empty frame
