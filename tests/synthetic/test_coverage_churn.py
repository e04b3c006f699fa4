"""Issue 20 in the synthetic bank: staff roles, manager changes, coverage teams and churn with causes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm.synthetic import cal, churn, coverage, params, world
from crm.synthetic import extracts as X
from crm.synthetic.bank import Bank
from crm.synthetic.world import NEVER

START, END = dt.date(2026, 1, 1), dt.date(2026, 2, 28)
ME = dt.date(2026, 1, 31)


@pytest.fixture(scope="module")
def bank():
    return Bank(7, 1500, START, END)


@pytest.fixture(scope="module")
def pooled(bank):
    """churn_truth of the active customers at the month ends 2024-01 .. 2025-06 (outcomes known by 2025-12)."""
    frames = []
    for m in range(cal.month_number(dt.date(2024, 1, 1)), cal.month_number(dt.date(2025, 7, 1))):
        me = cal.date(int(cal.month_end(np.array([m]))[0]))
        tr = churn.churn_truth(bank, me)
        frames.append(tr[tr.active].assign(month_end=me))
    return pd.concat(frames, ignore_index=True)


def _day(d: dt.date) -> int:
    return cal.day(d)


def test_staff_directory_has_specialists_and_approvers(bank):
    st = X.staff(bank, _day(ME))
    levels = X.branches(bank, _day(ME)).set_index("branch_id")["branch_level"]
    for role in ("PS", "CA"):
        rows = st[st["role"] == role]
        assert set(levels[rows["branch_id"]]) == {"BR", "HO"}
        assert set(levels[levels == "BR"].index) <= set(rows.loc[rows["status"] == "A", "branch_id"])
    # leavers: status L from their leave day, A the day before
    s = bank.org.staff
    lv = np.flatnonzero(s.leave < NEVER)
    assert len(lv) and {"RM"} <= set(s.role[lv])
    first = int(s.leave[lv].min())
    i = lv[np.argmin(s.leave[lv])]
    before, on = X.staff(bank, first - 1), X.staff(bank, first)
    sid = s.staff_id[i]
    assert before.set_index("staff_id").at[sid, "status"] == "A"
    assert on.set_index("staff_id").at[sid, "status"] == "L"


def _active_rm(cv: pd.DataFrame) -> pd.Series:
    rm = cv[(cv["role"] == "RM") & cv["to_date"].isna()]
    assert rm["customer_id"].is_unique  # one lead manager at a time
    return rm.set_index("customer_id")["staff_id"]


@pytest.mark.parametrize("when", [dt.date(2024, 6, 30), dt.date(2025, 9, 30), ME])
def test_manager_id_is_the_coverage_lead_of_the_day(bank, when):
    t = _day(when)
    cv = X.coverage(bank, t)
    lead = _active_rm(cv)
    for name in ("customers", "corporates"):
        df = X.DAILY[name](bank, t).set_index("customer_id")
        assert df.index.isin(lead.index).all()
        assert (lead.loc[df.index] == df["manager_id"]).all()
    # the customer's manager on the day is an active RM of its sub-branch
    st = X.staff(bank, t).set_index("staff_id")
    mgr = st.loc[lead.to_numpy()]
    assert (mgr["role"] == "RM").all() and (mgr["status"] == "A").all()


def test_managers_change_with_history_and_ids_stable(bank):
    t = _day(ME)
    cv = X.coverage(bank, t)
    assert cv["coverage_id"].is_unique and cv["coverage_id"].str.fullmatch(r"CV\d{16}").all()
    ended = cv[cv["to_date"].notna()]
    assert len(ended) and (ended["role"] == "RM").all()
    assert (ended["to_date"] >= ended["from_date"]).all()
    horizon = pd.Timestamp(cal.date(int(cal.month_end(np.array([cal.month_number(ME) - 24]))[0])))
    assert (ended["to_date"] > horizon).all() and (ended["to_date"] <= pd.Timestamp(ME)).all()
    # the next tenure starts the day after the previous one ended, with another manager
    rm = cv[cv["role"] == "RM"].sort_values(["customer_id", "from_date"])
    nxt = rm.groupby("customer_id").shift(-1)
    has = nxt["from_date"].notna()
    assert (nxt.loc[has, "from_date"] == rm.loc[has, "to_date"] + pd.Timedelta(days=1)).all()
    assert (nxt.loc[has, "staff_id"] != rm.loc[has, "staff_id"]).all()
    # a leaver's book moved on their leave day
    s = bank.org.staff
    left = pd.Series(s.leave, index=s.staff_id)
    from_leaver = ended[ended["staff_id"].isin(s.staff_id[bank.org.rm_leavers])]
    assert len(from_leaver)
    assert (from_leaver["to_date"] + pd.Timedelta(days=1) == cal.to_datetime64(left[from_leaver["staff_id"]])).all()
    # the same assignment keeps its id and dates in the next month's snapshot
    nxt_cv = X.coverage(bank, _day(dt.date(2026, 2, 28))).set_index("coverage_id")
    same = cv[cv["to_date"].isna()].set_index("coverage_id")
    common = same.index.intersection(nxt_cv.index)
    assert len(common) > 0.95 * len(same)
    assert (
        (
            same.loc[common, ["customer_id", "staff_id", "role", "from_date"]]
            == nxt_cv.loc[common, ["customer_id", "staff_id", "role", "from_date"]]
        )
        .all()
        .all()
    )


def test_manager_history_is_a_function_of_seed_and_uid(bank):
    longer = Bank(7, 1500, START, dt.date(2026, 8, 31))
    n = len(bank.c.uid)
    assert (longer.c.mgr_from[:n] == bank.c.mgr_from).all() and (longer.c.mgr_staff[:n] == bank.c.mgr_staff).all()


def test_interactions_and_requests_name_the_manager_of_the_day(bank):
    c = bank.c
    rm = bank.org.staff.role == "RM"
    changed_seen = 0
    for t in range(_day(dt.date(2026, 1, 5)), _day(dt.date(2026, 1, 10))):
        iv = bank.interactions(t)
        is_rm = rm[iv.staff]
        assert (iv.staff[is_rm] == coverage.manager_at(bank, iv.rows[is_rm], t)).all()
        changed_seen += int((iv.staff[is_rm] != c.manager[iv.rows[is_rm]]).sum())
        sr = bank.sr_openings(t)
        is_rm = rm[sr.staff]
        assert (sr.staff[is_rm] == coverage.manager_at(bank, sr.rows[is_rm], t)).all()
    assert changed_seen > 0  # some served by a manager other than their first


def test_teams_for_key_account_like_customers_some_incomplete(bank):
    t = _day(ME)
    cv = X.coverage(bank, t)
    team = cv[cv["role"] != "RM"]
    roles = team.groupby("customer_id")["role"].nunique()
    like = coverage.key_account_like(bank.c, bank.corp) & (bank.c.onboard <= t - params.TEAM_JOIN_DAYS)
    ids = set(bank.c.cid[like])
    assert set(roles.index) <= set(bank.c.cid[coverage.key_account_like(bank.c, bank.corp)])
    assert ids <= set(roles.index)  # every settled key-account-like customer has a team
    incomplete = (roles.loc[list(ids)] < 4).mean()
    assert abs(incomplete - params.TEAM_INCOMPLETE_SHARE) < 0.1
    truth = coverage.team_truth(bank, ME).set_index("customer_id")
    assert set(truth.index) == set(bank.c.cid[coverage.key_account_like(bank.c, bank.corp) & (bank.c.onboard <= t)])
    settled = truth.loc[list(ids)]
    assert (settled["complete"] == settled["missing_role"].isna()).all()
    assert (~settled["complete"] == (roles.loc[list(ids)] < 4)).all()
    # large corporates all warrant a team
    big = bank.c.cid[bank.corp.pos[bank.corp.size == "L"]]
    assert set(big[bank.c.onboard[bank.corp.pos[bank.corp.size == "L"]] <= t - params.TEAM_JOIN_DAYS]) <= ids
    # team members: RMs as co-managers, the branch's PS/RO/CA otherwise
    st = X.staff(bank, t).set_index("staff_id")
    assert (st.loc[team["staff_id"], "role"].to_numpy() == np.where(team["role"] == "CO", "RM", team["role"])).all()
    assert (team["from_date"].to_numpy() >= st.loc[team["staff_id"], "hire_date"].to_numpy()).all()


@pytest.mark.parametrize("driver", ["manager_changed", "declining", "dissatisfied", "complaining"])
def test_churn_rate_higher_with_each_driver(pooled, driver):
    mask = {
        "manager_changed": pooled["manager_changed"],
        "declining": pooled["declining"],
        "dissatisfied": pooled["dissatisfaction"] > 1,
        "complaining": pooled["complaint_propensity"] > 1,
    }[driver]
    with_, without = pooled.loc[mask, "churn_within_6m"].mean(), pooled.loc[~mask, "churn_within_6m"].mean()
    assert mask.sum() > 200 and with_ > 1.3 * without


def test_causes_precede_their_effect(bank, pooled):
    c = bank.c
    m = c.exit_cause == churn.CAUSES.index("MANAGER")
    lag = c.exit_day[m] - c.exit_trigger[m]
    lo, hi = params.MANAGER_CHANGE_EXIT_DAYS
    assert m.any() and (lag >= lo).all() and (lag <= hi).all()
    # dormancy follows the decline: the decline starts before the exit, mostly 1-6 months before
    d = c.exit_cause == churn.CAUSES.index("DECLINE")
    gap = c.exit_day[d] - c.t_dec[d]
    assert (gap >= 0).all() and np.mean((gap >= 30) & (gap <= 183)) > 0.5
    # a naive "balance fell 30% in 3 months" rule catches only part of the churners
    rows = pd.Index(c.cid).get_indexer(pooled["customer_id"])
    days = pooled["month_end"].map({x: cal.day(x) for x in pooled["month_end"].unique()}).to_numpy(np.int64)
    f1, f0 = world.lifecycle_factor(c, rows, days), world.lifecycle_factor(c, rows, days - 91)
    naive = (f0 > 0) & (f1 < 0.7 * f0)
    y = pooled["churn_within_6m"].to_numpy()
    assert 0 < (naive & y).sum() < 0.6 * y.sum()
    # abrupt exits exist: no run-off before them
    assert pooled.loc[pooled["churn_within_6m"], "abrupt"].mean() > 0.1


def test_dormant_customers_stop_transacting(bank):
    c = bank.c
    m = cal.month_number(dt.date(2025, 12, 1))
    me = int(cal.month_end(np.array([m]))[0])
    tx = X.txn_monthly_month(bank, m).groupby("customer_id")["txn_count"].sum()
    dormant = set(c.cid[(c.t_dorm < me - 40) & (c.onboard < me - 400)])
    active = c.cid[(c.t_dorm > me) & (c.t_churn > me) & (c.onboard < me - 400)]
    assert len(dormant) > 50
    assert tx[tx.index.isin(dormant)].sum() < 0.02 * tx[tx.index.isin(active)].sum()


def test_churn_truth_layout(bank):
    tr = churn.churn_truth(bank, ME)
    assert list(tr.columns) == list(churn.COLUMNS)
    assert set(tr["churn_cause"]) <= set(churn.CAUSES)
    assert (tr.loc[tr["churn_within_6m"], "active"]).all()
    assert (tr.loc[tr["manager_changed"], "last_manager_change"] > pd.Timestamp(ME) - pd.Timedelta(days=183)).all()
