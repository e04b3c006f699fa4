"""Warning follow-up: owner, due date by severity, closed by the matching interaction only (channel,
purpose, window), carried over across months; the per-manager counts."""

from __future__ import annotations

import copy
import datetime as dt

import pandas as pd
import pytest

from crm.playbook import load_config
from crm.playbook.followups import COLUMNS, by_owner, followups, on_watch_list

JAN, FEB = dt.date(2026, 1, 31), dt.date(2026, 2, 28)
CUSTOMERS = pd.DataFrame(
    {"customer_id": ["C1", "C2", "C3"], "manager_id": ["M1", "M2", "M9"], "branch_id": ["B1", "B1", "B2"]}
)
STAFF = pd.DataFrame(
    {
        "staff_id": ["M1", "M2", "H1", "H2"],
        "role": ["RM", "RM", "BH", "BH"],
        "branch_id": ["B1", "B1", "B1", "B2"],
        "status": ["A", "L", "A", "A"],
    }
)


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def _warnings(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "rule_id", "severity"])


def _interactions(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        [(f"I{i}", c, "S1", pd.Timestamp(t), ch, p) for i, (c, t, ch, p) in enumerate(rows)],
        columns=["interaction_id", "customer_id", "staff_id", "interaction_time", "channel", "purpose"],
    )


NONE = _interactions()


def test_owner_and_due_date_by_severity(cfg):
    w = _warnings(("C1", "EW01", "high"), ("C2", "EW06", "medium"), ("C3", "EW08", "low"))
    out = followups(w, pd.DataFrame(), NONE, CUSTOMERS, STAFF, JAN, cfg).set_index("customer_id")
    assert list(out.columns) == COLUMNS[1:]
    days = cfg["warning_followup"]["days"]
    assert out.loc["C1", "due_date"] == pd.Timestamp(JAN) + pd.Timedelta(days=days["high"])
    assert out.loc["C3", "due_date"] == pd.Timestamp(JAN) + pd.Timedelta(days=days["low"])
    assert out.loc["C1", "owner_id"] == "M1" and out.loc["C1", "owner_role"] == "manager"
    # M2 left: the head of the customer's branch owns it; M9 is not in the staff extract: B2's head
    assert out.loc["C2", "owner_id"] == "H1" and out.loc["C2", "owner_role"] == "branch_head"
    assert out.loc["C3", "owner_id"] == "H2"
    assert set(out["status"]) == {"open"}


def test_closed_by_the_matching_interaction_only(cfg):
    high = cfg["warning_followup"]["days"]["high"]
    due = pd.Timestamp(JAN) + pd.Timedelta(days=high)
    w = _warnings(("C1", "EW01", "high"))

    def status(*rows, day=FEB):
        return followups(w, pd.DataFrame(), _interactions(*rows), CUSTOMERS, STAFF, day, cfg, warning_date=JAN).iloc[0]

    on_due = status(("C1", due + pd.Timedelta(hours=15), "VISIT", "ALERT"))
    assert on_due["status"] == "closed_on_time" and on_due["days_to_close"] == high
    late = status(("C1", due + pd.Timedelta(days=1, hours=9), "PHONE", "REVIEW"))
    assert late["status"] == "closed_late" and late["days_to_close"] == high + 1
    # a marketing visit, a WeChat message, another customer's call, a call before the warning: not an answer
    missed = status(
        ("C1", pd.Timestamp(JAN) + pd.Timedelta(days=2), "VISIT", "MARKET"),
        ("C1", pd.Timestamp(JAN) + pd.Timedelta(days=2), "WECHAT", "ALERT"),
        ("C2", pd.Timestamp(JAN) + pd.Timedelta(days=2), "PHONE", "ALERT"),
        ("C1", pd.Timestamp(JAN) - pd.Timedelta(days=1), "PHONE", "ALERT"),
    )
    assert missed["status"] == "overdue" and pd.isna(missed["closing_interaction_id"])
    assert missed["days_overdue"] == (pd.Timestamp(FEB) - due).days
    # on the warning date itself (the month end) it counts; the earliest of two closes it
    first = status(
        ("C1", pd.Timestamp(JAN) + pd.Timedelta(hours=16), "VIDEO", "COLLECT"),
        ("C1", pd.Timestamp(JAN) + pd.Timedelta(days=3), "VISIT", "ALERT"),
    )
    assert first["status"] == "closed_on_time" and first["closing_interaction_id"] == "I0"
    assert first["days_to_close"] == 0
    # before the due date and with no interaction: open, not overdue
    assert status(day=JAN)["status"] == "open"


def test_a_purpose_taken_out_of_the_config_no_longer_closes(cfg):
    narrow = copy.deepcopy(cfg)
    narrow["warning_followup"]["purposes"] = ["ALERT"]
    w = _warnings(("C1", "EW01", "high"))
    its = _interactions(("C1", pd.Timestamp(JAN) + pd.Timedelta(days=1), "VISIT", "REVIEW"))
    for config, expected in ((cfg, "closed_on_time"), (narrow, "overdue")):
        out = followups(w, pd.DataFrame(), its, CUSTOMERS, STAFF, FEB, config, warning_date=JAN)
        assert out.iloc[0]["status"] == expected


def test_carried_over_across_months_and_closed_in_the_next(cfg):
    w = _warnings(("C1", "EW01", "low"), ("C2", "EW06", "high"))
    jan = followups(w, pd.DataFrame(), NONE, CUSTOMERS, STAFF, JAN, cfg)
    assert set(jan["status"]) == {"open"}
    # February: C1 answered in February within its 30 days; C2's high warning is past due; C1's EW01 raised
    # again opens no second follow-up, a new rule for C1 does
    its = _interactions(("C1", "2026-02-10 10:00", "PHONE", "ALERT"))
    again = _warnings(("C1", "EW01", "low"), ("C1", "EW08", "low"))
    feb = followups(again, jan, its, CUSTOMERS, STAFF, FEB, cfg)
    assert len(feb) == 3
    f = feb.set_index(["customer_id", "rule_id"])
    assert f.loc[("C1", "EW01"), "status"] == "closed_on_time"
    assert f.loc[("C1", "EW01"), "warning_date"] == pd.Timestamp(JAN)
    assert f.loc[("C1", "EW01"), "days_to_close"] == 10
    assert f.loc[("C2", "EW06"), "status"] == "overdue"
    # the new EW08 on Feb 28: the Feb 10 call came before it, so it stays open
    assert f.loc[("C1", "EW08"), "status"] == "open"
    # March: the closed one is not carried, the overdue and open ones are
    mar = followups(_warnings(), feb, NONE, CUSTOMERS, STAFF, dt.date(2026, 3, 31), cfg)
    assert set(zip(mar["customer_id"], mar["rule_id"], strict=True)) == {("C2", "EW06"), ("C1", "EW08")}


def test_per_manager_counts_and_on_time_share():
    rows = pd.DataFrame(
        {
            "manager_id": ["M1", "M1", "M1", "M1", "M2"],
            "status": ["open", "overdue", "closed_on_time", "closed_late", "open"],
        }
    )
    out = by_owner(rows)
    assert out.loc["M1", "followups_open"] == 2 and out.loc["M1", "followups_overdue"] == 1
    assert out.loc["M1", "followups_on_time_share"] == pytest.approx(1 / 3)
    assert pd.isna(out.loc["M2", "followups_on_time_share"])


def test_nothing_gives_a_typed_empty_partition(cfg):
    out = followups(_warnings(), pd.DataFrame(), NONE, CUSTOMERS, STAFF, JAN, cfg)
    assert out.empty and list(out.columns) == COLUMNS
    assert str(out["due_date"].dtype).startswith("datetime64")


def test_the_watch_list_carries_open_and_overdue_counts():
    watch = pd.DataFrame({"customer_id": ["C1", "C2"], "manager_id": ["M1", "M1"]})
    rows = pd.DataFrame({"customer_id": ["C1", "C1", "C1"], "status": ["open", "overdue", "closed_late"]})
    out = on_watch_list(watch, rows).set_index("customer_id")
    assert (out.loc["C1", "followups_open"], out.loc["C1", "followups_overdue"]) == (2, 1)
    assert out.loc["C2", "followups_open"] == 0
    assert on_watch_list(watch, rows[:0])["followups_overdue"].tolist() == [0, 0]
