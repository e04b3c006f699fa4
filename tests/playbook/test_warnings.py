"""Early-warning rules on hand-made frames: each rule just below and at its threshold."""

from __future__ import annotations

import copy
import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from crm.playbook import load_config
from crm.playbook.warnings import behaviour_psi, early_warnings, signals, watch_list

DAY, BEFORE = dt.date(2026, 10, 31), dt.date(2026, 9, 30)


@pytest.fixture
def config():
    cfg = copy.deepcopy(load_config())
    ew = cfg["early_warning"]
    ew["new_overdue"]["min_days"] = 1
    ew["rising_overdue"]["min_increase_days"] = 30
    ew["grade_drop"]["min_notches"] = 2
    ew["score_drop"]["min_points"] = 20
    ew["deposit_outflow"].update(min_drop=0.5, min_balance=50000.0)
    ew["ratio_deterioration"]["min_flags"] = 2
    ew["inquiry_spike"].update(min_inquiries_3m=4, min_increase=2)
    ew["new_external_debt"].update(min_increase=0.3, min_amount=100000.0)
    ew["related_trouble"].update(
        min_overdue_days=90, min_five_class="3", relation_types=["GUARANTOR", "CONTROLLER", "SHAREHOLDER", "AFFILIATE"]
    )
    ew["behaviour_shift"].update(
        recent_days=30, baseline_days=60, min_transactions=10, smoothing=0.5, psi=0.25, significance=0.01
    )
    return cfg


def sig(**cols) -> pd.DataFrame:
    """A signals frame; every column defaults to 0 / class 1."""
    n = len(next(iter(cols.values())))
    base = {
        "loan_balance": [100000.0] * n,
        "max_overdue_days": [0.0] * n,
        "overdue_amount": [0.0] * n,
        "worst_five_class": ["1"] * n,
        "deposit_balance": [0.0] * n,
        "inquiries_3m": [0.0] * n,
        "external_loan_count": [0.0] * n,
        "external_loan_balance": [0.0] * n,
    }
    base.update(cols)
    return pd.DataFrame(base, index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))


def raised(w: pd.DataFrame, rule: str) -> list[str]:
    return sorted(w.loc[w["rule"] == rule, "customer_id"])


def test_overdue_rules_edges(config):
    # c0: 0 -> 1 day (new, at threshold); c1: 0 -> 0 (nothing); c2: 10 -> 39 (+29, below rising);
    # c3: 10 -> 40 (+30, rising at threshold); c4: 5 -> 0 (cured: nothing)
    before = sig(max_overdue_days=[0, 0, 10, 10, 5])
    now = sig(max_overdue_days=[1, 0, 39, 40, 0], overdue_amount=[100.0, 0, 5, 5, 0])
    w = early_warnings(now, before, config, day=DAY)
    assert raised(w, "new_overdue") == ["c0"]
    assert raised(w, "rising_overdue") == ["c3"]
    row = w[w["rule"] == "new_overdue"].iloc[0]
    assert row["rule_id"] == "EW01" and row["severity"] == "high" and row["value"] == 1.0
    assert row["evidence"] == "worst days past due 0 -> 1, overdue amount 100.00"


def test_grade_and_score_drop_edges(config):
    now, before = sig(max_overdue_days=[0, 0, 0]), sig(max_overdue_days=[0, 0, 0])
    scores_before = pd.DataFrame(
        {"customer_id": ["c0", "c1", "c2"], "score": [600.0, 600.0, 600.0], "grade": ["B1", "B1", "B1"]}
    )
    # c0: B1 -> B3 (2 notches) and -20 points; c1: B1 -> B2 (1 notch), -19.9; c2: improves
    scores_now = pd.DataFrame(
        {"customer_id": ["c0", "c1", "c2"], "score": [580.0, 580.1, 650.0], "grade": ["B3", "B2", "A3"]}
    )
    w = early_warnings(now, before, config, day=DAY, scores_now=scores_now, scores_before=scores_before)
    assert raised(w, "grade_drop") == ["c0"]
    assert raised(w, "score_drop") == ["c0"]
    assert w.loc[w["rule"] == "grade_drop", "evidence"].iloc[0] == "grade B1 -> B3"


def test_deposit_inquiry_and_external_debt_edges(config):
    # deposits: c0 100k -> 50k (50%, at threshold); c1 100k -> 50,001 (below); c2 49,999 -> 0 (base too small)
    before = sig(
        deposit_balance=[100000.0, 100000.0, 49999.0],
        inquiries_3m=[2, 2, 0],
        external_loan_count=[1, 1, 1],
        external_loan_balance=[400000.0, 400000.0, 100000.0],
    )
    now = sig(
        deposit_balance=[50000.0, 50001.0, 0.0],
        inquiries_3m=[4, 5, 3],
        external_loan_count=[1, 1, 2],
        external_loan_balance=[520000.0, 519999.0, 100000.0],
    )
    w = early_warnings(now, before, config, day=DAY)
    assert raised(w, "deposit_outflow") == ["c0"]
    # inquiries: c0 2 -> 4 (at both thresholds); c1 2 -> 5; c2 0 -> 3 (below 4)
    assert raised(w, "inquiry_spike") == ["c0", "c1"]
    # external: c0 +120,000 = 30% of 400k (at both); c1 +119,999 (below the amount); c2 one more loan
    assert raised(w, "new_external_debt") == ["c0", "c2"]


def test_missing_inputs_raise_nothing(config):
    before = sig(
        max_overdue_days=[np.nan],
        deposit_balance=[np.nan],
        inquiries_3m=[np.nan],
        external_loan_count=[np.nan],
        external_loan_balance=[np.nan],
    )
    now = sig(
        max_overdue_days=[0.0],
        deposit_balance=[np.nan],
        inquiries_3m=[np.nan],
        external_loan_count=[np.nan],
        external_loan_balance=[np.nan],
    )
    assert early_warnings(now, before, config, day=DAY).empty


def test_ratio_deterioration_uses_the_latest_statement(config):
    # c0: an older statement had 2 flags, the latest has 1 -> not raised; c1: 1 flag
    ratios = pd.DataFrame(
        {
            "customer_id": ["c0", "c0", "c1"],
            "report_period": ["2025-12", "2026-06", "2026-06"],
            "received_date": [dt.date(2026, 3, 1), dt.date(2026, 8, 1), dt.date(2026, 8, 1)],
            "flag_leverage_up": [True, True, True],
            "flag_liquidity": [True, False, False],
            "flag_count": [2, 1, 1],
        }
    )
    now = before = sig(max_overdue_days=[0, 0])
    assert raised(early_warnings(now, before, config, day=DAY, ratios=ratios), "ratio_deterioration") == []
    ratios.loc[1, ["flag_liquidity", "flag_count"]] = [True, 2]  # the latest now has 2 (the threshold)
    w = early_warnings(now, before, config, day=DAY, ratios=ratios)
    assert raised(w, "ratio_deterioration") == ["c0"]
    assert w.loc[w["rule"] == "ratio_deterioration", "evidence"].iloc[0] == "statement 2026-06: leverage_up liquidity"


def test_related_party_in_trouble_both_directions(config):
    # c1 is 90 days past due; c0 has c1 as guarantor; c2 guarantees c1 (relation recorded on c1);
    # c3 is related to c4 who is 89 days past due, class 2 (not in trouble); ended relations do not count
    now = sig(max_overdue_days=[0, 90, 0, 0, 89], worst_five_class=["1", "2", "1", "1", "2"])
    related = pd.DataFrame(
        {
            "customer_id": ["c0", "c1", "c3", "c0"],
            "relation_type": ["GUARANTOR", "GUARANTOR", "AFFILIATE", "SUPPLIER"],
            "related_customer_id": ["c1", "c2", "c4", "c1"],
            "start_date": [dt.date(2020, 1, 1)] * 4,
            "end_date": [None, None, None, None],
        }
    )
    w = early_warnings(now, now, config, day=DAY, related=related)
    assert raised(w, "related_trouble") == ["c0", "c2"]
    assert set(w.loc[w["rule"] == "related_trouble", "related_customer_id"]) == {"c1"}
    ended = related.assign(end_date=[dt.date(2026, 10, 30)] * 4)
    assert raised(early_warnings(now, now, config, day=DAY, related=ended), "related_trouble") == []
    # class 3 (次级) is trouble even when not 90 days past due
    now.loc["c4", "worst_five_class"] = "3"
    assert raised(early_warnings(now, now, config, day=DAY, related=related), "related_trouble") == ["c0", "c2", "c3"]


def _txns(customer: str, counts: dict[tuple[str, str], int], end: dt.date) -> pd.DataFrame:
    rows = []
    for (window, cat), n in counts.items():
        day = end - dt.timedelta(days=5 if window == "recent" else 45)
        t, d = cat.split("/")
        rows += [
            {"customer_id": customer, "txn_time": pd.Timestamp(day), "txn_type": t, "direction": d, "amount": 100.0}
        ] * n
    return pd.DataFrame(rows)


def test_behaviour_shift_needs_size_and_significance(config):
    # c0: 40 baseline all TRF/D, 40 recent all CSH/C: a complete change -> raised
    # c1: same mix both windows -> PSI ~0, not raised; c2: 9 recent transactions (< 10): left out
    t = pd.concat(
        [
            _txns("c0", {("base", "TRF/D"): 40, ("recent", "CSH/C"): 40}, DAY),
            _txns(
                "c1",
                {("base", "TRF/D"): 20, ("base", "CSH/C"): 20, ("recent", "TRF/D"): 10, ("recent", "CSH/C"): 10},
                DAY,
            ),
            _txns("c2", {("base", "TRF/D"): 40, ("recent", "CSH/C"): 9}, DAY),
        ],
        ignore_index=True,
    )
    b = behaviour_psi(t, DAY, config)
    assert sorted(b.index) == ["c0", "c1"]
    assert b.loc["c1", "psi"] == pytest.approx(0.0, abs=1e-12)
    # hand computation for c0: smoothed shares r = (0.5/41, 40.5/41), b = (40.5/41, 0.5/41)
    r, q = np.array([0.5, 40.5]) / 41, np.array([40.5, 0.5]) / 41
    assert b.loc["c0", "psi"] == pytest.approx(float(((r - q) * np.log(r / q)).sum()))
    now = sig(max_overdue_days=[0, 0, 0])
    w = early_warnings(now, now, config, day=DAY, behaviour=b)
    assert raised(w, "behaviour_shift") == ["c0"]
    # the same shift on 10 + 10 transactions is still significant; a mild shift on few is not
    small = _txns(
        "c0", {("base", "TRF/D"): 6, ("base", "CSH/C"): 4, ("recent", "TRF/D"): 4, ("recent", "CSH/C"): 6}, DAY
    )
    bs = behaviour_psi(small, DAY, config)
    assert bs.loc["c0", "psi"] < 0.25 or bs.loc["c0", "p_value"] > 0.01
    assert raised(early_warnings(now, now, config, day=DAY, behaviour=bs), "behaviour_shift") == []


def test_signals_from_snapshots():
    loans = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b"],
            "balance": [100.0, 50.0, 70.0, 30.0],
            "overdue_days": [0, 12, 0, 200],
            "overdue_principal": [0.0, 5.0, 0.0, 30.0],
            "overdue_interest": [0.0, 1.0, 0.0, 0.0],
            "five_class": ["1", "2", "1", "4"],
            "status": ["N", "O", "N", "W"],
        }
    )  # b's written-off loan is not open
    deposits = pd.DataFrame({"customer_id": ["a", "c", "c"], "balance": [10.0, 20.0, 5.0], "status": ["A", "A", "C"]})
    bureau = pd.DataFrame(
        {
            "report_id": ["r1", "r2", "r3"],
            "customer_id": ["a", "a", "a"],
            "query_date": [dt.date(2026, 9, 1), dt.date(2026, 10, 1), dt.date(2026, 11, 2)],
            "inquiries_3m": [1, 3, 9],
            "external_loan_count": [1, 2, 5],
            "external_loan_balance": [10.0, 20.0, 90.0],
        }
    )
    s = signals(DAY, loans=loans, deposits=deposits, bureau=bureau)
    assert s.loc["a", "loan_balance"] == 150 and s.loc["a", "max_overdue_days"] == 12
    assert s.loc["a", "overdue_amount"] == 6 and s.loc["a", "worst_five_class"] == "2"
    assert s.loc["b", "loan_balance"] == 70 and s.loc["b", "max_overdue_days"] == 0
    assert s.loc["c", "deposit_balance"] == 20 and pd.isna(s.loc["c", "loan_balance"])
    assert s.loc["a", "inquiries_3m"] == 3  # the report of 2026-11-02 is after the date


def test_watch_list_ranks_by_severity_then_balance(config):
    w = pd.DataFrame(
        {
            "customer_id": ["x", "y", "y", "z"],
            "rule_id": ["EW06", "EW01", "EW08", "EW06"],
            "rule": ["deposit_outflow", "new_overdue", "inquiry_spike", "deposit_outflow"],
            "severity": ["medium", "high", "low", "medium"],
            "value": [0.6, 3, 5, 0.7],
            "threshold": ["0.5", "1", "4", "0.5"],
            "evidence": ["e1", "e2", "e3", "e4"],
            "related_customer_id": [None] * 4,
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["x", "y", "z"],
            "manager_id": ["M1", "M1", "M1"],
            "branch_id": ["B"] * 3,
            "loan_balance": [10.0, 1.0, 99.0],
            "tier": ["key"] * 3,
        }
    )
    wl = watch_list(w, customers, config)
    assert list(wl["customer_id"]) == ["y", "z", "x"]
    assert list(wl["rank_in_manager"]) == [1, 2, 3]
    assert wl.iloc[0]["severity"] == "high" and wl.iloc[0]["rule_ids"] == "EW01,EW08"
    assert wl.iloc[0]["evidence"] == "EW01: e2; EW08: e3"


def test_without_a_comparison_snapshot_only_single_date_rules_run(config):
    now = sig(max_overdue_days=[40.0], inquiries_3m=[9.0])
    ratios = pd.DataFrame(
        {"customer_id": ["c0"], "report_period": ["2026-06"], "flag_count": [3], "flag_liquidity": [True]}
    )
    w = early_warnings(now, None, config, day=DAY, ratios=ratios)
    assert list(w["rule"]) == ["ratio_deterioration"]


def test_behaviour_psi_in_duckdb_equals_pandas(config, tmp_path):
    """The asset computes the statistic in DuckDB from the Parquet files; same numbers as the pandas path."""
    from crm.playbook.warnings import behaviour_psi_files

    t = pd.concat(
        [
            _txns("c0", {("base", "TRF/D"): 40, ("recent", "CSH/C"): 40}, DAY),
            _txns(
                "c1",
                {
                    ("base", "TRF/D"): 20,
                    ("base", "CSH/C"): 20,
                    ("recent", "TRF/D"): 10,
                    ("recent", "CSH/C"): 13,
                    ("recent", "FEE/D"): 2,
                },
                DAY,
            ),
            _txns("c2", {("base", "TRF/D"): 40, ("recent", "CSH/C"): 9}, DAY),
            _txns("c3", {("base", "TRF/D"): 12}, DAY - dt.timedelta(days=200)),  # outside both windows
        ],
        ignore_index=True,
    )
    files = []
    for i, part in enumerate((t.iloc[::2], t.iloc[1::2])):
        files.append(tmp_path / f"{i}.parquet")
        part.to_parquet(files[-1])
    a = behaviour_psi(t, DAY, config).sort_index()
    b = behaviour_psi_files(files, DAY, config)
    assert list(b.index) == list(a.index) == ["c0", "c1"]
    pd.testing.assert_frame_equal(b[["psi", "p_value"]], a[["psi", "p_value"]].astype("float64"), check_names=False)
    assert list(b["categories"]) == [2, 3] and list(b["recent_transactions"]) == [40, 25]


def test_the_behaviour_window_is_baseline_and_recent_days_up_to_the_day(config):
    from crm.playbook.warnings import behaviour_window

    rc = config["early_warning"]["behaviour_shift"]
    rc.update(recent_days=30, baseline_days=60)
    assert behaviour_window(DAY, config) == (dt.date(2026, 8, 3), DAY)  # 90 days, DAY included
    rc.update(recent_days=1, baseline_days=1)
    assert behaviour_window(DAY, config) == (dt.date(2026, 10, 30), DAY)


def test_watch_customers_take_the_balance_of_now_and_manager_branch_tier_of_the_latest_value():
    from crm.playbook.warnings import watch_customers

    now = pd.DataFrame(
        {"loan_balance": [100.0, 50.0], "deposit_balance": [1.0, 2.0]}, index=pd.Index(["C1", "C2"], name="customer_id")
    )
    value = pd.DataFrame(
        {
            "customer_id": ["C2", "C3"],
            "manager_id": ["S1", "S2"],
            "branch_id": ["B1", "B2"],
            "tier": ["key", "watch"],
            "contribution": [1.0, 2.0],
        }
    )
    out = watch_customers(now, value).set_index("customer_id")
    assert list(out.columns) == ["loan_balance", "manager_id", "branch_id", "tier"]
    assert sorted(out.index) == ["C1", "C2", "C3"]  # a customer in either
    assert out.loc["C2", "tier"] == "key" and np.isnan(out.loc["C3", "loan_balance"])
    alone = watch_customers(now, pd.DataFrame())
    assert list(alone.columns) == ["customer_id", "loan_balance"] and len(alone) == 2


def _args(w: pd.DataFrame, rule: str, customer: str = "c0") -> dict:
    """The evidence_args of one warning, checked to be exactly json.dumps(..., sort_keys, ensure_ascii=False)."""
    text = w.loc[(w["rule"] == rule) & (w["customer_id"] == customer), "evidence_args"].iloc[0]
    args = json.loads(text)
    assert text == json.dumps(args, sort_keys=True, ensure_ascii=False)
    return args


def test_evidence_args_name_the_numbers_behind_each_rule(config):
    token = "k3.0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    before = sig(
        max_overdue_days=[0, 10, 0, 0],
        deposit_balance=[100000.0, 0, 0, 0],
        inquiries_3m=[2, 0, 0, 0],
        external_loan_count=[1, 0, 0, 0],
        external_loan_balance=[400000.0, 0, 0, 0],
    )
    now = sig(
        max_overdue_days=[30, 40, 0, 120],
        overdue_amount=[3656.21, 5, 0, 9],
        deposit_balance=[50000.0, 0, 0, 0],
        inquiries_3m=[4, 0, 0, 0],
        external_loan_count=[2, 0, 0, 0],
        external_loan_balance=[520000.0, 0, 0, 0],
        worst_five_class=["1", "1", "1", "3"],
    ).rename(index={"c3": token})
    scores_before = pd.DataFrame({"customer_id": ["c0"], "score": [600.04], "grade": ["B1"]})
    scores_now = pd.DataFrame({"customer_id": ["c0"], "score": [579.96], "grade": ["B3"]})
    behaviour = pd.DataFrame(
        {
            "psi": [1.23456],
            "p_value": [1e-9],
            "categories": [2],
            "recent_transactions": [40],
            "baseline_transactions": [41],
        },
        index=pd.Index(["c0"], name="customer_id"),
    )
    ratios = pd.DataFrame(
        {
            "customer_id": ["c0"],
            "report_period": pd.to_datetime(["2023-12-31"]),
            "flag_interest_coverage": [True],
            "flag_liquidity": [False],
            "flag_negative_ocf": [True],
            "flag_count": [2],
        }
    )
    related = pd.DataFrame(
        {
            "customer_id": ["c2"],
            "relation_type": ["GUARANTOR"],
            "related_customer_id": [token],
            "start_date": [None],
            "end_date": [None],
        }
    )
    w = early_warnings(
        now,
        before,
        config,
        day=DAY,
        scores_now=scores_now,
        scores_before=scores_before,
        behaviour=behaviour,
        ratios=ratios,
        related=related,
    )
    assert _args(w, "new_overdue") == {"days_before": 0, "days_now": 30, "overdue_amount": 3656.21}
    assert _args(w, "rising_overdue", "c1") == {"days_before": 10, "days_now": 40}
    assert _args(w, "grade_drop") == {"grade_before": "B1", "grade_now": "B3"}
    assert _args(w, "score_drop") == {"score_before": 600.0, "score_now": 580.0}
    assert _args(w, "behaviour_shift") == {
        "psi": 1.2346,
        "p_value": 0.0,
        "recent_transactions": 40,
        "baseline_transactions": 41,
    }
    assert _args(w, "deposit_outflow") == {"balance_before": 100000.0, "balance_now": 50000.0, "drop_share": 0.5}
    assert _args(w, "ratio_deterioration") == {"period": "2023-12-31", "flags": ["interest_coverage", "negative_ocf"]}
    assert _args(w, "inquiry_spike") == {"inquiries_before": 2, "inquiries_now": 4}
    assert _args(w, "new_external_debt") == {
        "loans_before": 1,
        "loans_now": 2,
        "balance_before": 400000.0,
        "balance_now": 520000.0,
    }
    # a related party by the reference readers search (last 8 characters), never its whole token
    assert _args(w, "related_trouble", "c2") == {
        "relation": "GUARANTOR",
        "related_ref": "c3d2e1f0",
        "days": 120,
        "five_class": "3",
    }
    ew10 = w[w["rule"] == "related_trouble"].iloc[0]
    assert token not in ew10["evidence"] and token not in ew10["evidence_args"] and token[-8:] in ew10["evidence"]
    assert ew10["related_customer_id"] == token  # the warehouse keeps the link for a program
    assert w["evidence_args"].notna().all()


def test_evidence_args_of_a_missing_value_is_null(config):
    # one more external loan, balances not reported: raised on the count, the balances are null
    before = sig(external_loan_count=[0.0], external_loan_balance=[np.nan])
    now = sig(external_loan_count=[1.0], external_loan_balance=[np.nan])
    w = early_warnings(now, before, config, day=DAY)
    assert _args(w, "new_external_debt") == {
        "loans_before": 0,
        "loans_now": 1,
        "balance_before": None,
        "balance_now": None,
    }
    ratios = pd.DataFrame({"customer_id": ["c0"], "report_period": [None], "flag_count": [2], "flag_liquidity": [True]})
    w = early_warnings(now, None, config, day=DAY, ratios=ratios)
    assert _args(w, "ratio_deterioration") == {"period": None, "flags": ["liquidity"]}


def test_watch_list_details_follow_the_evidence(config):
    w = pd.DataFrame(
        {
            "customer_id": ["y", "y"],
            "rule_id": ["EW08", "EW01"],
            "rule": ["inquiry_spike", "new_overdue"],
            "severity": ["low", "high"],
            "value": [5, 3],
            "threshold": ["4", "1"],
            "evidence": ["e3", "e2"],
            "evidence_args": ['{"inquiries_before": 1, "inquiries_now": 5}', '{"days_before": 0, "days_now": 3}'],
            "related_customer_id": [None] * 2,
        }
    )
    customers = pd.DataFrame(
        {"customer_id": ["y"], "manager_id": ["M1"], "branch_id": ["B"], "loan_balance": [1.0], "tier": ["key"]}
    )
    row = watch_list(w, customers, config).iloc[0]
    assert row["evidence"] == "EW01: e2; EW08: e3"
    details = json.loads(row["details"])
    assert row["details"] == json.dumps(details, sort_keys=True, ensure_ascii=False)
    assert details == [
        {"args": {"days_before": 0, "days_now": 3}, "rule_id": "EW01", "severity": "high"},
        {"args": {"inquiries_before": 1, "inquiries_now": 5}, "rule_id": "EW08", "severity": "low"},
    ]
    # a warnings frame of an earlier version (no evidence_args) still gives a details list
    old = watch_list(w.drop(columns="evidence_args"), customers, config).iloc[0]
    assert [d["args"] for d in json.loads(old["details"])] == [{}, {}]


def test_new_evidence_columns_reach_a_warehouse_written_before_them(config, warehouse):
    """A warehouse whose early_warnings and watch_list were written by the earlier version (no evidence_args,
    no details) takes the new columns on the next partition (DuckDB and PostgreSQL); the JSON comes back as
    written, Chinese and quotes included; the earlier partition reads NULL there."""
    from crm.warehouse import begin
    from crm.warehouse.marts import read_table, replace_partition

    before = sig(max_overdue_days=[0.0, 0.0], external_loan_count=[0.0, 0.0])
    now = sig(max_overdue_days=[30.0, 0.0], overdue_amount=[3656.21, 0.0], external_loan_count=[0.0, 1.0])
    w = early_warnings(now, before, config, day=DAY)
    w.loc[w["rule_id"] == "EW01", "evidence_args"] = '{"note": "担保人 \\"甲\\"\\t", "x": 1}'  # text a COPY must keep
    customers = pd.DataFrame(
        {"customer_id": ["c0", "c1"], "manager_id": ["M1"] * 2, "branch_id": ["B"] * 2, "loan_balance": [1.0, 2.0]}
    )
    wl = watch_list(w, customers, config)
    old_day = dt.date(2026, 9, 30)
    with begin(warehouse.engine, warehouse.schema) as conn:
        replace_partition(
            conn, "early_warnings", w.drop(columns="evidence_args").assign(month_end=old_day), {"month_end": old_day}
        )
        replace_partition(
            conn, "watch_list", wl.drop(columns="details").assign(month_end=old_day), {"month_end": old_day}
        )
        replace_partition(conn, "early_warnings", w.assign(month_end=DAY), {"month_end": DAY})
        replace_partition(conn, "watch_list", wl.assign(month_end=DAY), {"month_end": DAY})
    with begin(warehouse.engine, warehouse.schema) as conn:
        ew = read_table(conn, "early_warnings", {"month_end": DAY}).sort_values("rule_id")
        old = read_table(conn, "early_warnings", {"month_end": old_day})
        got = read_table(conn, "watch_list", {"month_end": DAY}).sort_values("customer_id")
    assert ew["evidence_args"].tolist() == w.sort_values("rule_id")["evidence_args"].tolist()
    assert json.loads(ew["evidence_args"].iloc[0]) == {"note": '担保人 "甲"\t', "x": 1}
    assert old["evidence_args"].isna().all()
    assert [json.loads(d) for d in got["details"]] == [json.loads(d) for d in wl.sort_values("customer_id")["details"]]
