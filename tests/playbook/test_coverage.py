"""Coverage teams, manager changes, team completeness, service and contact plans, relationship map
(crm.playbook.coverage): hand-built frames, each rule at its threshold."""

import datetime as dt

import pandas as pd
import pytest

from crm.playbook import coverage as cov
from crm.playbook import load_config

DAY = dt.date(2026, 3, 31)


@pytest.fixture(scope="module")
def config():
    return load_config()


def T(s):
    return pd.Timestamp(s) if s else pd.NaT


def coverage_rows(rows):
    f = pd.DataFrame(rows, columns=["customer_id", "staff_id", "role", "from_date", "to_date"])
    f["from_date"] = pd.to_datetime(f["from_date"])
    f["to_date"] = pd.to_datetime(f["to_date"])
    return f.assign(snapshot_date=pd.Timestamp(DAY), coverage_id=[f"CV{i:016d}" for i in range(len(f))])


def accounts(*rows):
    return pd.DataFrame(rows, columns=cov.ACCOUNT_COLUMNS)


KEY = ("K1", "key", "S1", "B1")  # key tier: RM, PS, RO required


def test_key_account_missing_a_required_role_is_flagged_and_not_when_complete(config):
    base = [("K1", "S1", "RM", "2024-01-01", None), ("K1", "S2", "PS", "2024-01-01", None)]
    team = cov.active_team(coverage_rows(base), DAY)
    c = cov.team_completeness(team, accounts(KEY), config)
    assert c.loc[0, "missing_roles"] == "RO" and not c.loc[0, "complete"] and c.loc[0, "missing_count"] == 1
    f = cov.findings(
        c,
        cov.service_delivery(
            pd.DataFrame(columns=["customer_id", "interaction_time", "channel", "purpose"]), accounts(), DAY, config
        ),
    )
    assert f[["finding", "code"]].values.tolist() == [["missing_role", "RO"]]
    complete = cov.team_completeness(
        cov.active_team(coverage_rows([*base, ("K1", "S3", "RO", "2024-01-01", None)]), DAY), accounts(KEY), config
    )
    assert complete.loc[0, "complete"] and complete.loc[0, "missing_roles"] == ""
    assert complete.loc[0, "team_size"] == 3 and complete.loc[0, "present_roles"] == "RM,PS,RO"


def test_a_role_whose_to_date_has_passed_does_not_count(config):
    rows = [
        ("K1", "S1", "RM", "2024-01-01", None),
        ("K1", "S2", "PS", "2024-01-01", None),
        ("K1", "S3", "RO", "2024-01-01", "2026-03-30"),  # ended the day before the month end
    ]
    c = cov.team_completeness(cov.active_team(coverage_rows(rows), DAY), accounts(KEY), config)
    assert c.loc[0, "missing_roles"] == "RO"
    rows[2] = ("K1", "S3", "RO", "2024-01-01", "2026-03-31")  # ends on the month end: still active
    c = cov.team_completeness(cov.active_team(coverage_rows(rows), DAY), accounts(KEY), config)
    assert c.loc[0, "complete"]
    rows[2] = ("K1", "S3", "RO", "2026-04-01", None)  # starts after the month end
    c = cov.team_completeness(cov.active_team(coverage_rows(rows), DAY), accounts(KEY), config)
    assert c.loc[0, "missing_roles"] == "RO"


def test_strategic_requires_all_roles_and_a_tier_without_requirement_is_complete(config):
    team = cov.active_team(coverage_rows([("K2", "S1", "RM", "2024-01-01", None)]), DAY)
    c = cov.team_completeness(team, accounts(("K2", "strategic", "S1", "B1"), ("K3", "growth", "S1", "B1")), config)
    assert c.loc[0, "missing_roles"] == "CO,PS,RO,CA" and c.loc[0, "missing_count"] == 4
    assert c.loc[1, "complete"] and c.loc[1, "required_roles"] == "" and c.loc[1, "team_size"] == 0


def test_manager_changes_in_12_months_and_last_change(config):
    rows = [
        ("A", "S1", "RM", "2020-01-01", "2025-03-30"),
        ("A", "S2", "RM", "2025-03-31", "2026-01-14"),  # a change exactly 12 months back: outside the window
        ("A", "S3", "RM", "2026-01-15", None),  # change inside the window
        ("B", "S1", "RM", "2020-01-01", "2025-12-31"),
        ("B", "S1", "RM", "2026-01-01", None),  # renewal of the same manager: no change
        ("C", "S4", "RM", "2025-06-01", None),  # first assignment: no change
        ("C", "S5", "RO", "2025-07-01", None),  # not a lead role
    ]
    out = cov.manager_changes(coverage_rows(rows), DAY, config).set_index("customer_id")
    assert out.loc["A", "manager_changes_12m"] == 1
    assert out.loc["A", "last_manager_change"] == pd.Timestamp("2026-01-15")
    assert out.loc["A", "lead_manager_id"] == "S3" and out.loc["A", "lead_since"] == pd.Timestamp("2026-01-15")
    assert out.loc["B", "manager_changes_12m"] == 0 and pd.isna(out.loc["B", "last_manager_change"])
    assert out.loc["B", "lead_since"] == pd.Timestamp("2020-01-01")
    assert out.loc["C", "manager_changes_12m"] == 0 and out.loc["C", "lead_manager_id"] == "S4"
    rows[1] = ("A", "S2", "RM", "2025-04-01", "2026-01-14")  # one day later: inside the window
    out = cov.manager_changes(coverage_rows(rows), DAY, config).set_index("customer_id")
    assert out.loc["A", "manager_changes_12m"] == 2


def interactions(rows):
    return pd.DataFrame(rows, columns=["customer_id", "interaction_time", "channel", "purpose"]).assign(
        interaction_time=lambda f: pd.to_datetime(f["interaction_time"])
    )


def _row(d, plan, item):
    return d[(d["plan"] == plan) & (d["item"] == item)].iloc[0]


def test_services_against_the_prorated_plan_at_the_boundary(config):
    # key tier: ADVISE 2 a year -> floor(2 * 6 / 12) = 1 due by June, floor(2 * 5 / 12) = 0 by May
    june, may = dt.date(2026, 6, 30), dt.date(2026, 5, 31)
    none = interactions([])
    d = cov.service_delivery(none, accounts(KEY), june, config)
    r = _row(d, "service", "ADVISE")
    assert (r["planned"], r["delivered"], r["gap"], r["shortfall"]) == (1, 0, 1, True)
    assert not _row(cov.service_delivery(none, accounts(KEY), may, config), "service", "ADVISE")["shortfall"]
    one = interactions([("K1", "2026-02-10 10:00", "VISIT", "ADVISE")])
    r = _row(cov.service_delivery(one, accounts(KEY), june, config), "service", "ADVISE")
    assert (r["planned"], r["delivered"], r["gap"], r["shortfall"]) == (1, 1, 0, False)
    # last year's service does not count this year; a later one (after the month end) neither
    old = interactions([("K1", "2025-12-31 10:00", "VISIT", "ADVISE"), ("K1", "2026-07-01 09:00", "VISIT", "ADVISE")])
    assert _row(cov.service_delivery(old, accounts(KEY), june, config), "service", "ADVISE")["delivered"] == 0


def test_contacts_by_channel_group_against_the_quarter_plan(config):
    # key tier: remote 3 a quarter -> by the quarter's second month floor(3 * 2 / 3) = 2
    day = dt.date(2026, 5, 31)
    rows = [
        ("K1", "2026-04-02 10:00", "PHONE", "SERVICE"),
        ("K1", "2026-03-31 10:00", "WECHAT", "CARE"),  # last quarter
        ("K1", "2026-05-10 10:00", "PHONE", "COLLECT"),  # collection is not a relationship contact
    ]
    r = _row(cov.service_delivery(interactions(rows), accounts(KEY), day, config), "contact", "remote")
    assert (r["planned"], r["delivered"], r["shortfall"]) == (2, 1, True)
    rows.append(("K1", "2026-05-31 18:00", "VIDEO", "MARKET"))  # on the month end
    d = cov.service_delivery(interactions(rows), accounts(KEY), day, config)
    r = _row(d, "contact", "remote")
    assert (r["planned"], r["delivered"], r["shortfall"]) == (2, 2, False)
    assert r["period_start"] == pd.Timestamp("2026-04-01")
    f = cov.findings(cov.team_completeness(cov.active_team(coverage_rows([]), day), accounts(), config), d)
    assert set(f["finding"]) <= {"service_shortfall", "contact_shortfall"}
    assert "remote" not in set(f.loc[f["finding"] == "contact_shortfall", "code"])


def test_findings_show_an_incomplete_team_first(config):
    team = cov.active_team(coverage_rows([("K1", "S1", "RM", "2024-01-01", None)]), DAY)
    c = cov.team_completeness(team, accounts(KEY), config)
    d = cov.service_delivery(interactions([]), accounts(KEY), DAY, config)
    f = cov.findings(c, d)
    assert f["finding"].iloc[0] == "missing_role" and list(f.loc[f["finding"] == "missing_role", "code"]) == [
        "PS",
        "RO",
    ]
    assert f["finding"].tolist().index("service_shortfall") > 1


def test_relationship_map_reads_masked_columns_only(config):
    contacts = pd.DataFrame(
        {
            "contact_id": ["C1", "C2"],
            "customer_id": ["K1", "K1"],
            "contact_type": ["FAMILY", "FINANCE"],
            "relationship": ["SPOUSE", "CFO"],
            "contact_name": ["王*", "李**"],
            "contact_id_number": ["tokenid1", "tokenid2"],
            "contact_id_number_masked": ["310***1234", "310***5678"],
            "contact_mobile": ["tokenm1", "tokenm2"],
            "contact_mobile_masked": ["138****0000", "139****0000"],
            "is_primary": [False, True],
        }
    )
    related = pd.DataFrame(
        {
            "relation_id": ["R1", "R2", "R3", "R4"],
            "customer_id": ["K1", "K1", "X9", "K1"],
            "relation_type": ["GUARANTOR", "SHAREHOLDER", "GUARANTOR", "AFFILIATE"],
            "party_type": ["C", "I", "C", "C"],
            "related_customer_id": ["tok0000ABCDEF12", None, "K1", None],
            "related_name": ["某*公司", "赵*", "某*", "钱*"],
            "related_cert_number": ["t1", "t2", "t3", "t4"],
            "share_ratio": [None, 30.0, None, None],
            "amount": [5e6, None, 1e6, None],
            "start_date": pd.to_datetime(["2024-01-01", "2023-01-01", "2025-01-01", "2020-01-01"]),
            "end_date": pd.to_datetime([None, None, None, "2026-03-31"]),  # R4 ended at the month end
        }
    )
    team = cov.active_team(coverage_rows([("K1", "S1", "RM", "2024-01-01", None)]), DAY)
    m = cov.relationship_map(team, contacts, related, accounts(KEY), DAY, config)
    assert list(m["section"]) == ["team", "contact", "contact", "guarantor", "related", "guarantees"]
    assert m.loc[m["section"] == "contact", "code"].tolist() == ["FINANCE", "FAMILY"]  # primary first
    assert m.loc[m["section"] == "guarantor", "party_ref"].iloc[0] == "ABCDEF12"
    assert m.loc[m["section"] == "guarantees", "party_ref"].iloc[0] == "X9"
    text = m.astype(str).to_string()
    for raw in ("tokenid", "tokenm", "310***", "138****", "t1", "tok0000"):
        assert raw not in text
    counts = cov.map_counts(contacts, related, accounts(KEY), DAY).loc["K1"]
    assert (counts["contacts"], counts["contact_types"], counts["related_parties"], counts["guarantors"]) == (
        2,
        2,
        1,
        1,
    )
    assert counts["guarantees_given"] == 1 and counts["guaranteed_amount"] == 5e6


def test_empty_inputs_give_typed_empty_frames(config):
    none = cov.key_accounts(pd.DataFrame())
    assert list(none.columns) == cov.ACCOUNT_COLUMNS
    assert cov.manager_changes(pd.DataFrame(), DAY, config)["manager_changes_12m"].dtype == "int64"
    d = cov.service_delivery(interactions([]), none, DAY, config)
    assert d.empty and d["shortfall"].dtype == bool
    c = cov.team_completeness(cov.active_team(pd.DataFrame(), DAY), none, config)
    assert cov.findings(c, d).empty
