"""Priority service by tier (green channel): the tighter of the priority and tier targets, at the limit and
one minute over; the month's tables (compliance, breaches, per staff, key accounts' record)."""

from __future__ import annotations

import copy
import datetime as dt

import pandas as pd
import pytest

from crm.satisfaction.analytics import load_config, sla
from crm.satisfaction.service import service_tables

T0 = pd.Timestamp("2026-03-02 09:00:00")
M = pd.Timedelta(minutes=1)
DAY = dt.date(2026, 3, 31)


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def _requests(response_minutes: list[int], customers: list[str], priority: str = "P1") -> pd.DataFrame:
    n = len(response_minutes)
    return pd.DataFrame(
        {
            "request_id": [f"R{i}" for i in range(n)],
            "customer_id": customers,
            "opened_time": [T0] * n,
            "channel": "PHONE",
            "category": "LOAN",
            "priority": priority,
            "assigned_staff_id": ["S1", "S2"] * (n // 2) + ["S1"] * (n % 2),
            "first_response_time": [T0 + m * M for m in response_minutes],
            "resolved_time": [T0 + 100 * M] * n,
            "status": "RSLV",
            "description": None,
        }
    )


VALUE = pd.DataFrame(
    {
        "customer_id": ["CS", "CK", "CG", "CW"],
        "tier": ["strategic", "key", "growth", "watch"],
        "key_account": [True, True, False, False],
        "branch_id": ["B1", "B1", "B2", "B2"],
        "manager_id": ["M1", "M1", "M2", "M2"],
    }
)
STAFF = pd.DataFrame({"staff_id": ["S1", "S2"], "branch_id": ["B1", "B2"]})


def test_the_tighter_target_applies_exactly_at_it_met_one_minute_over_breached(cfg):
    strategic = cfg["sla_tier"]["strategic"]["P1"]["response_minutes"]
    priority = cfg["sla"]["P1"]["response_minutes"]
    assert strategic < priority  # the tier target is the tighter one for a strategic P1 request
    reqs = _requests([strategic, strategic + 1, strategic + 1], ["CS", "CS", "CG"])
    d = sla(reqs, cfg, T0 + 2000 * M, customers=VALUE).detail.set_index("request_id")
    assert d.loc["R0", "response_limit"] == strategic and not d.loc["R0", "response_breach"]
    assert d.loc["R1", "response_breach"] and d.loc["R1", "response_over"] == 1
    assert d.loc["R1", "target_source"] == "tier" and d.loc["R1", "green_channel"]
    # the same minutes for a growth customer: no tier target, the priority's applies, met
    assert d.loc["R2", "response_limit"] == priority and not d.loc["R2", "response_breach"]
    assert d.loc["R2", "target_source"] == "priority" and not d.loc["R2", "green_channel"]
    # without customers: the priority target for all (the behaviour before tiers)
    plain = sla(reqs, cfg, T0 + 2000 * M).detail
    assert not plain["response_breach"].any()


def test_a_looser_tier_target_never_relaxes_the_priority_target(cfg):
    loose = copy.deepcopy(cfg)
    loose["sla_tier"]["strategic"]["P1"] = {"response_minutes": 600, "resolution_minutes": 99999}
    p1 = cfg["sla"]["P1"]["response_minutes"]
    d = sla(_requests([p1 + 1], ["CS"]), loose, T0 + 2000 * M, customers=VALUE).detail.iloc[0]
    assert d["response_limit"] == p1 and d["response_breach"] and d["target_source"] == "priority"


def test_changing_the_tier_config_changes_the_breach_count(cfg):
    # four strategic/key requests answered in 40 minutes
    reqs = _requests([40, 40, 40, 40], ["CS", "CS", "CK", "CK"])
    as_of = T0 + 2000 * M

    def breached(config):
        return int(sla(reqs, config, as_of, customers=VALUE).detail["any_breach"].sum())

    assert (
        cfg["sla_tier"]["strategic"]["P1"]["response_minutes"] < 40 <= cfg["sla_tier"]["key"]["P1"]["response_minutes"]
    )
    assert breached(cfg) == 2  # the strategic two
    tighter = copy.deepcopy(cfg)
    tighter["sla_tier"]["key"]["P1"]["response_minutes"] = 39
    assert breached(tighter) == 4
    none = copy.deepcopy(cfg)
    none["sla_tier"] = {}
    assert breached(none) == 0


def test_the_month_tables(cfg):
    strategic = cfg["sla_tier"]["strategic"]["P1"]["response_minutes"]
    reqs = _requests([strategic, strategic + 5, 10, 10], ["CS", "CS", "CG", "CW"])
    earlier = _requests([strategic + 1], ["CS"]).assign(
        request_id="R9",
        opened_time=pd.Timestamp("2026-01-05 10:00"),
        first_response_time=pd.Timestamp("2026-01-05 11:00"),
        resolved_time=pd.Timestamp("2026-01-05 11:30"),
    )
    t = service_tables(pd.concat([reqs, earlier], ignore_index=True), STAFF, VALUE, cfg, DAY)
    tiers = t["service_sla_tier"]
    bank = tiers[tiers["branch_id"] == "ALL"].set_index(["tier", "green_channel"])
    assert bank.loc[("strategic", True), "requests"] == 2 and bank.loc[("strategic", True), "breached"] == 1
    assert bank.loc[("strategic", True), "met_share"] == pytest.approx(0.5)
    assert bank.loc[("growth", False), "met"] == 1
    assert tiers.loc[tiers["branch_id"] != "ALL", "requests"].sum() == 4  # January's request is not the month's
    b = t["service_sla_breaches"]
    assert list(b["request_id"]) == ["R1"] and b.iloc[0]["minutes_over"] == 5
    assert b.iloc[0]["assigned_staff_id"] == "S2" and b.iloc[0]["branch_id"] == "B1"
    assert b.iloc[0]["breach_kind"] == "response" and b.iloc[0]["tier"] == "strategic"
    s = t["service_sla_staff"].set_index("staff_id")
    assert s.loc["S1", "requests"] == 2 and s.loc["S2", "response_breached"] == 1
    assert s.loc["S1", "response_minutes_median"] == pytest.approx((strategic + 10) / 2)
    assert s.loc["S2", "branch_id"] == "B2"
    a = t["service_sla_accounts"].set_index("customer_id")
    assert list(a.index) == ["CS"]  # the key account with requests; CG and CW are not key accounts
    assert a.loc["CS", "requests_month"] == 2 and a.loc["CS", "breached_month"] == 1
    assert a.loc["CS", "requests_year"] == 3 and a.loc["CS", "breached_year"] == 2


def test_no_requests_give_typed_empty_tables(cfg):
    empty = _requests([], [])
    t = service_tables(empty, STAFF, VALUE, cfg, DAY)
    assert all(len(f) == 0 for f in t.values())
    assert "minutes_over" in t["service_sla_breaches"].columns
