"""Service histories of the synthetic bank (issue 20): value-added services by band, contact frequency, stage
actions and their timing, the green channel, referrals. One small bank over half a year, module-scoped."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from crm.synthetic import cal, events, params, service
from crm.synthetic import extracts as X
from crm.synthetic import service_truth as T
from crm.synthetic.bank import Bank

SEED, N = 3, 1500
START, END = dt.date(2025, 10, 1), dt.date(2026, 3, 31)
DAYS = range(cal.day(START), cal.day(END) + 1)


@pytest.fixture(scope="module")
def bank():
    return Bank(SEED, N, START, END)


@pytest.fixture(scope="module")
def inter(bank):
    """Every interaction of the range with its customer row and sequence number."""
    parts = []
    for d in DAYS:
        iv = bank.interactions(d)
        parts.append(pd.DataFrame({"row": iv.rows, "seq": iv.seq, "purpose": iv.purpose, "day": d}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def plan(bank):
    return service.plan(bank)


def _stable(bank, plan):
    """Customer rows alive over the whole range (onboarded before it, no churn before its end)."""
    c = bank.c
    return (c.onboard < DAYS[0]) & (c.t_churn > DAYS[-1])


def _weekday_units() -> float:
    return float(sum(events._weekday_factor(d) for d in DAYS))


def test_bands_are_the_valuable_customers(bank, plan):
    c = bank.c
    size = np.full(len(c.uid), "", dtype=object)
    size[bank.corp.pos] = bank.corp.size
    assert set(plan.band[c.is_corp & (size == "L")]) == {1}
    assert set(plan.band[c.is_corp & (size == "M")]) == {2}
    assert set(plan.band[c.is_corp & np.isin(size, ["S", "X"])]) == {0}
    ind = ~c.is_corp
    assert (plan.band[ind & (c.dep_level >= 600_000)] == 1).all()
    assert (plan.band[ind & (c.dep_level < 250_000)] == 0).all()
    share = (plan.band > 0).mean()
    assert 0.05 < share < 0.15


@pytest.mark.parametrize("band", [1, 2])
def test_value_added_services_at_the_band_rates(bank, plan, inter, band):
    stable = _stable(bank, plan)
    vas = inter[inter.purpose.isin(service.VAS_PURPOSES)]
    assert (vas.seq == service.SEQ_VAS).all()
    assert (plan.band[vas.row] > 0).all()  # only key-account-like customers receive them
    units = _weekday_units() / service._YEAR_UNITS
    for short in (False, True):
        rows = np.flatnonzero(stable & (plan.band == band) & (plan.vas_short == short))
        expected = sum(params.VAS_RATES[band].values()) * (params.VAS_SHORTFALL_FACTOR if short else 1.0)
        expected *= units * len(rows)
        got = vas.row.isin(rows).sum()
        assert abs(got - expected) < 4 * np.sqrt(expected) + 3, (band, short, got, expected)


def test_shortfall_customers_get_fewer_services(bank, plan, inter):
    stable = _stable(bank, plan)
    vas = inter[inter.purpose.isin(service.VAS_PURPOSES)]
    per = np.bincount(vas.row, minlength=len(bank.c.uid))
    full = per[stable & (plan.band > 0) & ~plan.vas_short].mean()
    short = per[stable & (plan.band > 0) & plan.vas_short].mean()
    assert short < 0.6 * full


def test_key_accounts_contacted_more_some_under_contacted(bank, plan, inter):
    c = bank.c
    regular = inter[inter.seq < 4]
    collected = np.zeros(len(c.uid), bool)
    collected[inter.row[inter.purpose == "COLLECT"]] = True
    stable = _stable(bank, plan) & (c.t_dec > DAYS[-1]) & ~collected
    per = np.bincount(regular.row, minlength=len(c.uid)).astype(float)
    size = np.full(len(c.uid), "", dtype=object)
    size[bank.corp.pos] = bank.corp.size
    # the regular rate before the key-account factor (events.interactions)
    base = np.where(
        c.is_corp,
        pd.Series(size).map({"L": 3.0, "M": 2.0, "S": 1.0, "X": 0.5}).fillna(0).to_numpy(),
        np.where(c.dep_level > 200_000, 0.5, 0.08),
    )

    def ratio(m):
        return per[m].sum() / base[m].sum()

    key = stable & (plan.band > 0)
    ordinary = stable & (plan.band == 0) & (base >= 0.5)
    assert (key & plan.under).sum() >= 5
    assert ratio(key & ~plan.under) > 1.3 * ratio(ordinary)
    assert ratio(key & plan.under) < 0.8 * ratio(ordinary)


def test_onboard_visits_match_truth_and_timing(bank, inter):
    truth = T.stage_actions(bank, START - dt.timedelta(days=params.ONBOARD_LATE_MAX_DAYS), END)
    c = bank.c
    got = inter[inter.purpose == "ONBOARD"]
    got_ids = set(zip(c.cid[got.row], cal.to_datetime64(got.day.to_numpy()), strict=True))
    all_onb = truth[truth.action == "ONBOARD"]
    done = all_onb[all_onb.done_date.between(pd.Timestamp(START), pd.Timestamp(END))]
    onb = all_onb[all_onb.trigger_date >= pd.Timestamp(START)]
    assert set(zip(done.customer_id, done.done_date.to_numpy(), strict=True)) == got_ids
    # timing: for the customers onboarded early enough to be late, the shares of the outcomes
    early = onb[onb.trigger_date <= pd.Timestamp(END) - pd.Timedelta(days=params.ONBOARD_LATE_MAX_DAYS)]
    assert len(early) >= 20
    on_time = (early.done_date.notna()) & (early.done_date <= early.due_date)
    assert on_time.mean() > 0.6
    assert (early.outcome == "ON_TIME").eq(on_time).all()
    assert (early.outcome != "ON_TIME").any()  # a documented share late or never
    assert ((early.done_date - early.trigger_date).dt.days.dropna() >= 1).all()


@pytest.mark.parametrize("action", ["RETAIN", "ALERT"])
def test_retain_and_alert_match_truth(bank, inter, action):
    truth = T.stage_actions(bank, dt.date(2024, 1, 1), END)
    t = truth[(truth.action == action) & truth.done_date.between(pd.Timestamp(START), pd.Timestamp(END))]
    got = inter[inter.purpose == action]
    c = bank.c
    pairs = set(zip(c.cid[got.row], cal.to_datetime64(got.day.to_numpy()), strict=True))
    assert set(zip(t.customer_id, t.done_date.to_numpy(), strict=True)) == pairs
    assert len(pairs) > 0
    window = params.RETAIN_WINDOW_DAYS if action == "RETAIN" else params.ALERT_WINDOW_DAYS
    past = truth[(truth.action == action) & (truth.trigger_date <= pd.Timestamp(END) - pd.Timedelta(days=60))]
    on_time = past.done_date.notna() & (past.done_date <= past.trigger_date + pd.Timedelta(days=window))
    share = params.RETAIN_OUTCOME[0] if action == "RETAIN" else params.ALERT_OUTCOME[0]
    assert abs(on_time.mean() - share) < 0.2
    assert (past.outcome == "NEVER").any()


def test_alert_follows_an_overdue_episode(bank, plan):
    ln = bank.loans
    # each episode start is a due date on which a loan of the customer goes into arrears
    m = cal.month_of(plan.alert_start)
    col = m - ln.store_from
    assert (col >= 1).all()
    for cust, j in list(zip(plan.alert_cust, col, strict=True))[:50]:
        loans = np.flatnonzero(ln.cust == cust)
        assert (ln.S[loans, j] > 0).any()
        assert (ln.S[loans, j - 1] == 0).all()


def test_green_channel_answers_key_accounts_faster(bank, plan):
    parts = [events.sr_openings(bank, d) for d in DAYS]
    green = np.concatenate([o.green for o in parts])
    band = np.concatenate([plan.band[o.rows] for o in parts])
    resp = np.concatenate([o.resp_ratio for o in parts])
    res = np.concatenate([o.res_ratio for o in parts])
    assert not green[band == 0].any()
    key = band > 0
    assert key.sum() >= 15
    assert 0.55 < green[key].mean() < 0.98
    assert np.median(resp[green]) < 0.6 * np.median(resp[band == 0])
    assert np.median(res[green]) < 0.7 * np.median(res[band == 0])


@pytest.fixture(scope="module")
def referrals_truth(bank):
    return T.referrals(bank, dt.date(2012, 1, 1), END)


def test_referrers_are_promoters_more_often_than_not(bank, referrals_truth):
    rf = referrals_truth
    assert len(rf) > 80
    assert rf.referrer_is_promoter.mean() > 0.5
    assert rf.referrer_is_promoter.mean() > 2 * T.promoters(bank).mean()
    assert rf.referred_value_z.mean() > 0.15  # referred customers are more valuable on average


def test_no_self_referral_and_referrer_exists_before(bank, referrals_truth):
    rf = referrals_truth
    assert (rf.referrer_customer_id != rf.referred_customer_id).all()
    c = bank.c
    onboard = pd.Series(cal.to_datetime64(c.onboard), index=c.cid)
    assert (onboard[rf.referrer_customer_id].to_numpy() < rf.referral_date.to_numpy()).all()
    assert (onboard[rf.referred_customer_id].to_numpy() == rf.referral_date.to_numpy()).all()


def test_referrals_extract(bank, referrals_truth):
    frames = []
    for d in DAYS:
        f = X.referrals(bank, d)
        if len(f):
            known = set(X.customers(bank, d).customer_id) | set(X.corporates(bank, d).customer_id)
            assert set(f.referrer_customer_id) <= known
            assert set(f.referred_customer_id) <= known
            frames.append(f)
    assert frames, "no referral in the range"
    rf = pd.concat(frames, ignore_index=True)
    assert rf.referral_id.map(lambda s: bool(re.fullmatch(r"RF\d{8}\d{12}", s))).all()
    assert rf.referral_id.is_unique
    assert (rf.referrer_customer_id != rf.referred_customer_id).all()
    assert rf.staff_id.isna().eq(rf.channel == "APP").all()
    assert set(rf.channel) <= {"RM", "APP", "EVENT", "BRANCH"}
    t = referrals_truth[referrals_truth.referral_date >= pd.Timestamp(START)]
    assert sorted(t.referral_id) == sorted(rf.referral_id)


def test_plan_is_deterministic(bank):
    other = Bank(SEED, N, START, END)
    a, b = service.plan(bank), service.plan(other)
    for k in ("band", "onb_day", "ret_day", "alert_day", "referred", "weight"):
        assert np.array_equal(getattr(a, k), getattr(b, k)), k


def test_referrals_pass_the_contract_rules(bank):
    from crm.quality.evaluate import evaluate_pandas

    checked = 0
    for d in DAYS:
        f = X.referrals(bank, d)
        if not len(f):
            continue
        frames = {"referrals": f, "customers": X.customers(bank, d), "corporates": X.corporates(bank, d)}
        frames["staff"] = X.staff(bank, d)
        ev = evaluate_pandas(frames, cal.date(d), extracts=["referrals"])["referrals"]
        assert not ev.skipped, ev.skipped
        failed = ev.failed.sum()
        assert failed.sum() == 0, failed[failed > 0]
        assert "referrals.consistency.referrer_not_referred" in ev.failed.columns
        checked += 1
        if checked == 3:
            break
    assert checked == 3
