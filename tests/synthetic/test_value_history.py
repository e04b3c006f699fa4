"""The value-history extracts of the synthetic bank (issue 18): deposit balances against the deposits snapshot,
month aggregates against the daily transactions, the fee ledger's ids and reversals, the initial loads, the
month-ends-only mode against the daily mode, own deposit rates and external borrowing. A small bank over two
full months (daily and month-ends-only), so the module runs in well under a minute."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm import contract
from crm.synthetic import generate
from tests.synthetic.checks import check_day, parse_day

START, END = dt.date(2026, 1, 1), dt.date(2026, 2, 28)
N, SEED, HISTORY = 300, 11, 2


@pytest.fixture(scope="module")
def daily(tmp_path_factory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("daily")
    generate(out, customers=N, start=START, end=END, seed=SEED, history_months=HISTORY)
    return {"root": out, "days": {p.name: parse_day(p) for p in sorted(out.iterdir()) if p.is_dir()}}


@pytest.fixture(scope="module")
def month_ends(tmp_path_factory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("month_ends")
    generate(out, customers=N, start=START, end=END, seed=SEED, history_months=HISTORY, month_ends_only=True)
    return {"root": out, "days": {p.name: parse_day(p) for p in sorted(out.iterdir()) if p.is_dir()}}


def _all(days: dict, name: str) -> pd.DataFrame:
    return pd.concat(
        [r.tables[name].assign(_file_day=d) for d, r in days.items() if name in r.tables], ignore_index=True
    )


# ------------------------------------------------------------------------------------------ consistency


def test_deposit_balances_equal_the_deposits_snapshot_at_a_month_end(daily):
    for day in ("20260131", "20260228"):
        t = daily["days"][day].tables
        bal = t["deposit_balances"]
        bal = bal[pd.to_datetime(bal["snapshot_date"]) == pd.Timestamp(day)].set_index("account_id").sort_index()
        dep = t["deposits"].set_index("account_id").sort_index()
        assert list(bal.index) == list(dep.index)
        assert (bal["balance"] == dep["balance"]).all()
        assert (bal["avg_balance"] == dep["mtd_avg_balance"]).all()
        assert (bal["interest_rate"] == dep["interest_rate"]).all()
        assert (
            (
                bal[["customer_id", "product_type", "currency", "status", "branch_id"]]
                == dep[["customer_id", "product_type", "currency", "status", "branch_id"]]
            )
            .all()
            .all()
        )


def test_txn_monthly_equals_the_month_of_daily_transactions(daily):
    days = daily["days"]
    for month, me in (("202601", "20260131"), ("202602", "20260228")):
        tx = _all({d: r for d, r in days.items() if d.startswith(month)}, "transactions")
        keys = ["customer_id", "txn_type", "channel", "direction"]
        tx["cents"] = (tx["amount"].astype(float) * 100).round().astype("int64")
        agg = tx.groupby(keys).agg(txn_count=("txn_id", "size"), cents=("cents", "sum"))
        cp = tx.dropna(subset=["counterparty_account"])
        agg["counterparty_count"] = cp.groupby(keys)["counterparty_account"].nunique()
        per_cp = cp.groupby([*keys, "counterparty_account"])["cents"].sum()
        agg["top"] = per_cp.groupby(level=list(range(len(keys)))).max()
        agg["counterparty_count"] = agg["counterparty_count"].fillna(0).astype("int64")
        mon = days[me].tables["txn_monthly"]
        mon = mon[pd.to_datetime(mon["snapshot_date"]) == pd.Timestamp(me)].set_index(keys).sort_index()
        agg = agg.sort_index()
        assert len(mon) == len(agg) > 100
        assert list(mon.index) == list(agg.index)
        assert (mon["txn_count"].astype("int64") == agg["txn_count"]).all()
        assert ((mon["amount"].astype(float) * 100).round().astype("int64") == agg["cents"]).all()
        assert (mon["counterparty_count"].astype("int64") == agg["counterparty_count"]).all()
        top = (mon["top_counterparty_amount"].astype(float) * 100).round()
        assert top.isna().equals(agg["top"].isna())
        assert (top.dropna().astype("int64") == agg["top"].dropna().astype("int64")).all()
        # regular counterparties: fewer counterparties than transactions for many groups
        many = mon[mon["txn_count"] >= 5]
        assert (many["counterparty_count"] < many["txn_count"]).mean() > 0.3


def test_every_file_is_clean(daily, month_ends):
    for bank in (daily, month_ends):
        for name, res in bank["days"].items():
            assert not res.rejected, (name, res.rejected)
            assert not check_day(res), (name, sorted(check_day(res))[:10])


# ------------------------------------------------------------------------------------------ initial loads


def test_initial_loads_cover_their_months(daily):
    days = daily["days"]
    first_me = days["20260131"].tables
    for name in ("deposit_balances", "txn_monthly"):
        dates = sorted(pd.to_datetime(first_me[name]["snapshot_date"]).unique())
        assert [d.strftime("%Y-%m-%d") for d in dates] == ["2025-11-30", "2025-12-31", "2026-01-31"], name
        later = pd.to_datetime(days["20260228"].tables[name]["snapshot_date"]).unique()
        assert [d.strftime("%Y-%m-%d") for d in later] == ["2026-02-28"], name
    fees = pd.to_datetime(days["20260101"].tables["fee_ledger"]["fee_date"])
    # the fee ledger's 12 months, at most the history months: 2025-11-02 .. 2026-01-01
    assert fees.min() >= pd.Timestamp("2025-11-02") and fees.max() == pd.Timestamp("2026-01-01")
    assert fees.dt.to_period("M").nunique() == 3
    assert (pd.to_datetime(days["20260102"].tables["fee_ledger"]["fee_date"]) == pd.Timestamp("2026-01-02")).all()
    cr = pd.to_datetime(days["20260101"].tables["bureau_records"]["query_date"])
    assert cr.min() >= pd.Timestamp("2025-11-01") and cr.max() <= pd.Timestamp("2026-01-01")
    assert cr.dt.to_period("M").nunique() >= 2
    assert (pd.to_datetime(days["20260102"].tables["bureau_records"]["query_date"]) == pd.Timestamp("2026-01-02")).all()


# ------------------------------------------------------------------------------------------ fees


def test_fee_ids_are_unique_and_well_formed_and_reversals_name_earlier_fees(daily):
    fees = _all(daily["days"], "fee_ledger")
    assert fees["fee_id"].is_unique
    pattern = contract.identifier_kinds()["fee"].pattern
    assert fees["fee_id"].str.fullmatch(pattern).all()
    assert (fees["fee_id"].str[2:10] == pd.to_datetime(fees["fee_date"]).dt.strftime("%Y%m%d")).all()
    rev = fees[fees["reversal_of"].notna()]
    assert len(rev) > 0 and (rev["amount"] < 0).all()
    assert (fees.loc[fees["reversal_of"].isna(), "amount"] > 0).all()
    orig = fees.set_index("fee_id")
    assert rev["reversal_of"].isin(orig.index).all()
    o = orig.loc[rev["reversal_of"]]
    assert (pd.to_datetime(o["fee_date"]).to_numpy() < pd.to_datetime(rev["fee_date"]).to_numpy()).all()
    assert (o["amount"].to_numpy() == -rev["amount"].to_numpy()).all()
    assert (o["customer_id"].to_numpy() == rev["customer_id"].to_numpy()).all()
    assert not rev["reversal_of"].duplicated().any()


def test_fees_depend_on_products_and_activity(daily):
    fees = _all(daily["days"], "fee_ledger")
    assert {"ACCT", "SETL", "LOAN", "CARD", "WMP", "FUND", "INS"} <= set(fees["fee_type"])
    # corporate account fees differ between customers of the same size (negotiated)
    acct = fees[(fees["fee_type"] == "ACCT") & (fees["amount"] > 0) & fees["customer_id"].str.startswith("C")]
    if len(acct):
        assert acct["amount"].nunique() > 5
    # settlement fees follow the month's transfers and payments sent
    tx = _all({d: r for d, r in daily["days"].items() if d.startswith("202602")}, "transactions")
    sent = tx[
        (tx["direction"] == "D") & tx["txn_type"].isin(["TRF", "PAY"]) & tx["channel"].isin(["CNTR", "NET", "API"])
    ]
    volume = sent.groupby("customer_id")["amount"].sum()
    setl = fees[(fees["fee_type"] == "SETL") & (pd.to_datetime(fees["fee_date"]) == pd.Timestamp("2026-02-28"))]
    setl = setl[setl["amount"] > 0].groupby("customer_id")["amount"].sum()
    assert setl.index.isin(volume.index).all()
    both = pd.concat([volume, setl], axis=1, join="inner")
    assert both.corr(method="spearman").iloc[0, 1] > 0.5


# ------------------------------------------------------------------------------------------ month-ends-only


def test_month_ends_only_writes_month_ends_and_keeps_totals(daily, month_ends):
    root = month_ends["root"]
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["20260131", "20260228"]
    md, dd = month_ends["days"], daily["days"]
    # snapshots of a month end are the daily mode's (not the first file of an initial load)
    for code in ("DEP_BAL", "TXN_MON", "DEPOSIT", "LOAN", "HOLDING"):
        a = (root / "20260228" / f"{code}_20260228_001.dat").read_bytes()
        b = (daily["root"] / "20260228" / f"{code}_20260228_001.dat").read_bytes()
        assert a == b, code
    # transactions: the day only
    assert (
        pd.to_datetime(md["20260228"].tables["transactions"]["txn_time"]).dt.normalize() == pd.Timestamp("2026-02-28")
    ).all()
    # fees: every record since the previous written date; the same records as the daily mode
    fa, fb = _all(md, "fee_ledger"), _all(dd, "fee_ledger")
    since = pd.Timestamp("2026-01-01")  # after both initial loads' first days
    fa = fa[pd.to_datetime(fa["fee_date"]) >= since].set_index("fee_id").sort_index()
    fb = fb[pd.to_datetime(fb["fee_date"]) >= since].set_index("fee_id").sort_index()
    assert list(fa.index) == list(fb.index)
    assert fa["amount"].sum() == pytest.approx(fb["amount"].sum(), abs=0.005)
    feb = md["20260228"].tables["fee_ledger"]
    booked = pd.to_datetime(feb["fee_date"])
    assert booked.min() >= pd.Timestamp("2026-02-01") and (booked < pd.Timestamp("2026-02-28")).any()
    # interactions and service requests since the previous written date
    ia, ib = _all(md, "interactions"), _all(dd, "interactions")
    assert sorted(ia["interaction_id"]) == sorted(ib["interaction_id"])
    sa, sb = _all(md, "service_requests"), _all(dd, "service_requests")
    last_a = sa.drop_duplicates("request_id", keep="last").set_index("request_id").sort_index()
    last_b = sb.drop_duplicates("request_id", keep="last").set_index("request_id").sort_index()
    assert list(last_a.index) == list(last_b.index)
    assert (last_a["status"] == last_b["status"]).all()


# ------------------------------------------------------------------------------------------ signals


def test_deposit_rates_are_the_accounts_own(daily):
    dep = daily["days"]["20260228"].tables["deposits"]
    fix = dep[dep["product_type"] == "FIX"]
    assert fix["interest_rate"].nunique() > 10
    cur = dep[(dep["product_type"] == "CUR") & (dep["currency"] == "CNY")]
    assert cur["interest_rate"].nunique() > 2  # board rate for most, a premium for large corporates
    fix = dep[dep["product_type"] == "FIX"]
    large = fix["balance"] >= 200_000
    assert fix.loc[large, "interest_rate"].mean() > fix.loc[~large, "interest_rate"].mean()


def test_external_borrowing_relates_to_our_exposure(daily):
    cr = _all(daily["days"], "bureau_records")
    loans = daily["days"]["20260131"].tables["loans"]
    ours = loans.groupby("customer_id")["balance"].sum()
    cr = cr[cr["customer_id"].isin(ours[ours > 0].index)].drop_duplicates("customer_id", keep="last")
    ext = cr.set_index("customer_id")["external_loan_balance"].astype(float)
    assert len(ext) > 30
    ours = ours.loc[ext.index]
    only_us = (ext == 0).mean()
    elsewhere = (ext > ours).mean()
    assert 0.05 < only_us < 0.6 and 0.05 < elsewhere < 0.6
    assert ((cr["external_loan_count"] == 0) == (cr["external_loan_balance"] == 0)).all()
    assert np.corrcoef(np.log1p(ext[ext > 0]), np.log1p(ours[ext > 0]))[0, 1] > 0.3
