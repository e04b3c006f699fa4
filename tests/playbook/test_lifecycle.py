"""Lifecycle transitions, time in stage and stage actions on hand-built frames."""

import datetime as dt

import pandas as pd
import pytest

from crm.playbook import load_config
from crm.playbook.lifecycle import (
    NONE,
    action_counts,
    customer_stages,
    stage_actions,
    transition_matrix,
)

JAN, FEB, MAR = dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31)


@pytest.fixture(scope="module")
def config():
    return load_config()


def _value(rows):
    return pd.DataFrame(rows, columns=["customer_id", "lifecycle_stage", "branch_id", "value_segment", "manager_id"])


BEFORE = _value(
    [
        ("C1", "new", "B1", "retail", "M1"),
        ("C2", "mature", "B1", "retail", "M1"),
        ("C3", "mature", "B2", "sme", "M2"),
        ("C4", "growth", "B2", "sme", "M2"),
        ("C5", "decline", "B1", "sme", "M1"),  # gone from the mart in February
    ]
)
NOW = _value(
    [
        ("C1", "growth", "B1", "retail", "M1"),
        ("C2", "decline", "B2", "retail", "M2"),  # moved branch: counted in B1 (the earlier month)
        ("C3", "mature", "B2", "sme", "M2"),
        ("C4", "dormant", "B2", "sme", "M2"),
        ("C6", "new", "B1", "retail", "M1"),  # new this month
    ]
)


def test_transition_rows_sum_to_the_customers_in_the_earlier_stage():
    m = transition_matrix(NOW, BEFORE)
    for dim, key in (("bank", None), ("branch", "branch_id"), ("segment", "value_segment")):
        d = m[m["dimension"] == dim]
        sums = d[d["from_stage"] != NONE].groupby(["group_id", "from_stage"])["customers"].sum()
        groups = BEFORE.assign(g="ALL") if key is None else BEFORE.assign(g=BEFORE[key])
        expected = groups.groupby(["g", "lifecycle_stage"]).size()
        expected.index.names = ["group_id", "from_stage"]
        pd.testing.assert_series_equal(sums.sort_index(), expected.sort_index(), check_names=False)
    bank = m[m["dimension"] == "bank"].set_index(["from_stage", "to_stage"])["customers"]
    assert bank[(NONE, "new")] == 1 and bank[("decline", NONE)] == 1 and bank[("mature", "decline")] == 1
    assert bank.sum() == len(set(BEFORE["customer_id"]) | set(NOW["customer_id"]))
    b1 = m[(m["dimension"] == "branch") & (m["group_id"] == "B1")].set_index(["from_stage", "to_stage"])["customers"]
    assert b1[("mature", "decline")] == 1  # C2 counted where it was


def test_time_in_stage_from_history_and_incrementally():
    hist = [
        (JAN, _value([("C3", "mature", "B2", "sme", "M2"), ("C4", "growth", "B2", "sme", "M2")])),
        (dt.date(2025, 12, 31), _value([("C3", "growth", "B2", "sme", "M2"), ("C4", "growth", "B2", "sme", "M2")])),
    ]
    feb = customer_stages(NOW[NOW["customer_id"].isin(["C3", "C4"])], FEB, history=hist).set_index("customer_id")
    assert feb.loc["C3", "stage_since"] == pd.Timestamp(JAN) and feb.loc["C3", "months_in_stage"] == 1
    assert feb.loc["C4", "months_in_stage"] == 0 and bool(feb.loc["C4", "entered"])
    assert not bool(feb.loc["C3", "entered"])
    mar = customer_stages(NOW[NOW["customer_id"].isin(["C3", "C4"])], MAR, previous=feb.reset_index())
    mar = mar.set_index("customer_id")
    assert mar.loc["C3", "months_in_stage"] == 2 and mar.loc["C4", "months_in_stage"] == 1
    assert not mar["entered"].any()
    first = customer_stages(NOW, FEB)  # first month loaded: nobody entered
    assert not first["entered"].any() and (first["months_in_stage"] == 0).all()


def _interactions(rows):
    return pd.DataFrame(rows, columns=["customer_id", "interaction_time", "channel", "purpose"])


def _stages(stage, customers=("C1",)):
    v = _value([(c, stage, "B1", "retail", "M1") for c in customers])
    prev = pd.DataFrame({"customer_id": list(customers), "lifecycle_stage": "mature", "stage_since": JAN})
    return customer_stages(v, FEB, previous=prev)


def _later(stages, acts, inter, opps, day, config):
    """The actions created at February's month end re-evaluated at ``day`` (the customers stay in their stage)."""
    v = stages.rename(columns={"segment": "value_segment"})
    again = customer_stages(v, day, previous=stages)
    return stage_actions(again, acts, None, inter, opps, day, config)


def _status(acts, action, customer="C1"):
    return acts.set_index(["customer_id", "action"]).loc[(customer, action), "status"]


def test_new_customer_actions_closed_by_the_matching_interaction_only(config):
    stages = customer_stages(
        _value([(c, "new", "B1", "retail", "M1") for c in ("C1", "C2", "C3", "C4")]),
        FEB,
        previous=pd.DataFrame(columns=["customer_id", "lifecycle_stage", "stage_since"]),
    )
    onboarding = pd.DataFrame({"customer_id": ["C1", "C2", "C3", "C4"], "onboarding_date": [dt.date(2026, 2, 1)] * 4})
    inter = _interactions(
        [
            ("C1", "2026-02-20 10:00", "VISIT", "ONBOARD"),  # day 19: on time
            ("C2", "2026-02-20 10:00", "PHONE", "ONBOARD"),  # wrong channel
            ("C3", "2026-02-20 10:00", "VISIT", "SERVICE"),  # wrong purpose
            ("C4", "2026-01-20 10:00", "VISIT", "ONBOARD"),  # before the window
        ]
    )
    acts = stage_actions(stages, None, onboarding, inter, None, FEB, config)
    assert set(acts["action"]) == {"ONBOARD_VISIT", "PRODUCT_REVIEW"} and len(acts) == 8
    assert _status(acts, "ONBOARD_VISIT", "C1") == "on_time"
    for c in ("C2", "C3", "C4"):
        assert _status(acts, "ONBOARD_VISIT", c) == "open"  # due 2026-03-03, not yet passed
    assert (acts.loc[acts["action"] == "PRODUCT_REVIEW", "due_date"] == pd.Timestamp("2026-05-02")).all()
    # carried into March: still unclosed ones are overdue (due 03-03); a visit on day 31 (after the due
    # date, within late_days) closes C2's late
    late = pd.concat([inter, _interactions([("C2", "2026-03-04 09:00", "VIDEO", "ONBOARD")])])
    mar = stage_actions(
        customer_stages(
            _value([(c, "new", "B1", "retail", "M1") for c in ("C1", "C2", "C3", "C4")]), MAR, previous=stages
        ),
        acts,
        onboarding,
        late,
        None,
        MAR,
        config,
    )
    assert len(mar) == 8  # carried, not duplicated
    assert _status(mar, "ONBOARD_VISIT", "C2") == "late"
    assert _status(mar, "ONBOARD_VISIT", "C3") == "overdue"
    assert mar.set_index(["customer_id", "action"]).loc[("C3", "ONBOARD_VISIT"), "days_overdue"] == 28


def test_decline_retention_call_window_at_its_threshold(config):
    stages = _stages("decline", ("C1", "C2", "C3"))
    inter = _interactions(
        [
            ("C1", "2026-03-14 17:00", "PHONE", "RETAIN"),  # day 14: on time
            ("C2", "2026-03-15 09:00", "PHONE", "RETAIN"),  # day 15: late
            ("C3", "2026-04-14 09:00", "PHONE", "RETAIN"),  # day 45: after due + late_days (44): does not count
        ]
    )
    apr = dt.date(2026, 4, 30)
    feb = stage_actions(stages, None, None, inter, None, FEB, config)
    acts = _later(stages, feb, inter, None, apr, config)
    assert list(acts.sort_values("customer_id")["status"]) == ["on_time", "late", "overdue"]
    feb = stage_actions(stages, None, None, inter, None, FEB, config)
    assert (feb["status"] == "open").all()  # contacts after the as-of date do not count yet


def test_dormant_reactivation_closed_by_an_opportunity(config):
    stages = _stages("dormant", ("C1", "C2"))
    opps = pd.DataFrame(
        {
            "opportunity_id": ["O1"],
            "customer_id": ["C1"],
            "offered_date": [dt.date(2026, 3, 10)],
            "proposal_type": ["DEPOSIT"],
        }
    )
    feb = stage_actions(stages, None, None, _interactions([]), opps, FEB, config)
    acts = _later(stages, feb, _interactions([]), opps, MAR, config)
    assert list(acts.sort_values("customer_id")["status"]) == ["on_time", "overdue"]
    counts = action_counts(acts, MAR).set_index("branch_id")
    assert counts.loc["ALL", "on_time"] == 1 and counts.loc["ALL", "overdue"] == 1


def test_no_action_without_entering_a_stage(config):
    v = _value([("C1", "decline", "B1", "retail", "M1")])
    prev = pd.DataFrame({"customer_id": ["C1"], "lifecycle_stage": ["decline"], "stage_since": [JAN]})
    acts = stage_actions(customer_stages(v, FEB, previous=prev), None, None, _interactions([]), None, FEB, config)
    assert acts.empty and list(acts.columns)[:4] == ["customer_id", "stage", "action", "anchor_date"]
