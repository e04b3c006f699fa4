"""The customer_value mart of the session bank (tests/conftest.py ``scheduled_bank``: the month end of
February 2024, 600 customers, run through the real jobs) against an independent recomputation: one DuckDB
query over the staged Parquet files (read_parquet on staged/<extract>/, the partitions up to the month end)
and the values of crm/value/config.toml, written from the formulas of the configuration's comments and
docs/playbook.md, not from crm.value's code.

For a handful of customers held over the whole window (onboarded before it) whose every earning loan-month
has its own rate in a staged loans snapshot, with loan NII, deposit spread and fees all non-zero, loan_nii,
deposit_spread, fees, expected_loss, servicing_cost and contribution agree to the cent, month by month in
customer_value_month and summed in customer_value.

Conventions of the recomputation (from the configuration): a month's part is the sum of its records,
rounded once to the cent half away from zero; the mart's figure is the sum of the 12 months' parts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm.value.value import load_config
from tests.conftest import FIRST_MONTH_END

pytestmark = [pytest.mark.slow]

DAY = FIRST_MONTH_END  # 2024-02-29: the window is March 2023 .. February 2024
CUSTOMERS = 5
PARTS = ["loan_nii", "deposit_spread", "fees", "expected_loss", "servicing_cost", "contribution"]


def _start(day: dt.date) -> dt.date:
    """The first day of the 12-month window ending with ``day``'s month."""
    y, m = divmod(day.year * 12 + day.month - 1 - 11, 12)
    return dt.date(y, m + 1, 1)


def _files(staged: Path, extract: str, day: dt.date) -> list[str]:
    files = [str(p) for p in sorted((staged / extract).glob("*.parquet")) if p.stem <= day.isoformat()]
    assert files, f"staged/{extract} has no partition up to {day}"
    return files


def _curve(rows: list[dict]) -> str:
    """A term curve of the configuration as SQL rows (bucket upper bound in months, rate)."""
    return ", ".join(f"({float(r['max_months'])}, {float(r['rate'])})" for r in rows)


def recompute(home: Path, day: dt.date = DAY) -> pd.DataFrame:
    """Per customer and month of the window: loan_nii, deposit_spread, fees, expected_loss, servicing_cost and
    contribution (yuan, each part rounded to the cent), plus the flags the choice of customers needs."""
    import duckdb

    cfg = load_config()
    start = _start(day)
    cc, cost = cfg["contribution"], cfg["cost_to_serve"]
    staged = home / "staged"
    con = duckdb.connect()
    con.execute(f"ATTACH '{home / 'warehouse.duckdb'}' AS wh (READ_ONLY)")
    for name in ("loan_performance", "loans", "deposit_balances", "fee_ledger", "interactions",
                 "service_requests", "txn_monthly"):  # fmt: skip
        files = ", ".join("'" + f.replace("'", "''") + "'" for f in _files(staged, name, day))
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{files}], union_by_name = true, filename = true)"
        )
    statuses = ", ".join(f"'{s}'" for s in cc["earning_statuses"])
    lgd = " ".join(f"WHEN '{k}' THEN {float(v)}" for k, v in cc["lgd"].items())
    dep_ftp = " ".join(f"WHEN '{k}' THEN {float(v)}" for k, v in cc["ftp_deposit"].items())
    fix_months = float(cc["ftp_deposit_fix_default_months"])
    visits = [k for k, v in cost["interactions"].items() if v["column"] == "cost_visits"]
    channel_cost = " ".join(f"WHEN '{k}' THEN {float(v['unit_cost'])}" for k, v in cost["interactions"].items())
    priority_cost = " ".join(f"WHEN '{k}' THEN {float(v)}" for k, v in cost["requests"].items())
    txn_cost = " ".join(f"WHEN '{k}' THEN {float(v)}" for k, v in cost["transactions"].items())
    since = con.execute("SELECT min(CAST(regexp_extract(filename, '(\\d{4}-\\d{2}-\\d{2})\\.parquet$', 1) AS DATE)) "
                        "FROM interactions").fetchall()[0][0]  # fmt: skip
    sql = f"""
    WITH
    loan_curve(max_months, rate) AS (VALUES {_curve(cc["ftp_loan"])}),
    fix_curve(max_months, rate) AS (VALUES {_curve(cc["ftp_deposit_fix"])}),
    -- every loan's latest staged snapshot record up to the month end
    terms AS (
        SELECT loan_id, arg_max(interest_rate, filename) AS rate, arg_max(guarantee_type, filename) AS guarantee,
               arg_max(date_diff('month', date_trunc('month', start_date), date_trunc('month', maturity_date)),
                       filename) AS term
        FROM loans GROUP BY loan_id),
    loan_months AS (
        SELECT p.customer_id, date_diff('month', DATE '{start}', date_trunc('month', p.snapshot_date)) AS m,
               p.balance, t.rate,
               coalesce(CASE t.guarantee {lgd} END, {float(cc["default_lgd"])}) AS lgd,
               coalesce((SELECT c.rate FROM loan_curve c WHERE c.max_months >= t.term ORDER BY c.max_months LIMIT 1),
                        (SELECT c.rate FROM loan_curve c ORDER BY c.max_months DESC LIMIT 1)) AS ftp
        FROM loan_performance p LEFT JOIN terms t USING (loan_id)
        WHERE p.snapshot_date BETWEEN DATE '{start}' AND DATE '{day}' AND p.status IN ({statuses})),
    pds AS (SELECT customer_id, any_value(pd) AS pd FROM wh.credit_scores WHERE month_end = DATE '{day}'
            GROUP BY customer_id),
    loan_parts AS (
        SELECT l.customer_id, m,
               sum(balance * (rate / 100 - ftp) / 12) AS loan_nii,
               sum(coalesce(s.pd, {float(cc["unscored_pd"])}) * lgd * balance / 12) AS expected_loss,
               count(*) FILTER (WHERE rate IS NULL OR ftp IS NULL) AS unpriced
        FROM loan_months l LEFT JOIN pds s USING (customer_id) GROUP BY ALL),
    dep_parts AS (
        SELECT customer_id, date_diff('month', DATE '{start}', date_trunc('month', snapshot_date)) AS m,
               sum(avg_balance * (CASE WHEN product_type = 'FIX' THEN
                        (SELECT c.rate FROM fix_curve c WHERE c.max_months >= {fix_months} ORDER BY c.max_months LIMIT 1)
                        ELSE CASE product_type {dep_ftp} END END - interest_rate / 100) / 12) AS deposit_spread
        FROM deposit_balances WHERE snapshot_date BETWEEN DATE '{start}' AND DATE '{day}' GROUP BY ALL),
    fee_parts AS (
        SELECT customer_id, date_diff('month', DATE '{start}', date_trunc('month', fee_date)) AS m, sum(amount) AS fees
        FROM (SELECT DISTINCT ON (fee_id) * FROM fee_ledger ORDER BY fee_id, filename DESC, _row_number DESC)
        WHERE fee_date BETWEEN DATE '{start}' AND DATE '{day}' GROUP BY ALL),
    visit_parts AS (
        SELECT customer_id, date_diff('month', DATE '{start}', date_trunc('month', interaction_time)) AS m,
               sum(CASE channel {channel_cost} END) FILTER (WHERE channel IN ({", ".join(f"'{v}'" for v in visits)}))
                   AS cost_visits,
               sum(CASE channel {channel_cost} END) FILTER (WHERE channel NOT IN ({", ".join(f"'{v}'" for v in visits)}))
                   AS cost_calls
        FROM interactions
        WHERE interaction_time >= GREATEST(DATE '{start}', DATE '{since}') AND interaction_time < DATE '{day}' + 1
        GROUP BY ALL),
    request_parts AS (
        SELECT customer_id, date_diff('month', DATE '{start}', date_trunc('month', opened_time)) AS m,
               sum(CASE priority {priority_cost} END) AS cost_requests
        FROM (SELECT DISTINCT ON (request_id) * FROM service_requests ORDER BY request_id, filename DESC, _row_number DESC)
        WHERE opened_time >= GREATEST(DATE '{start}', DATE '{since}') AND opened_time < DATE '{day}' + 1
        GROUP BY ALL),
    txn_parts AS (
        SELECT customer_id, date_diff('month', DATE '{start}', date_trunc('month', snapshot_date)) AS m,
               sum(txn_count * CASE channel {txn_cost} END) AS cost_transactions
        FROM txn_monthly WHERE snapshot_date BETWEEN DATE '{start}' AND DATE '{day}' GROUP BY ALL),
    grid AS (
        SELECT c.customer_id, g.m FROM wh.customer_360 c, range(12) g(m)
        WHERE c.month_end = DATE '{day}' AND c.onboarding_date < DATE '{start}')
    SELECT grid.customer_id, grid.m, coalesce(l.unpriced, 0) AS unpriced,
           {", ".join(f"coalesce({p}, 0) AS {p}" for p in
                      ["loan_nii", "expected_loss", "deposit_spread", "fees", "cost_visits", "cost_calls",
                       "cost_requests", "cost_transactions"])}
    FROM grid
    LEFT JOIN loan_parts l USING (customer_id, m) LEFT JOIN dep_parts USING (customer_id, m)
    LEFT JOIN fee_parts USING (customer_id, m) LEFT JOIN visit_parts USING (customer_id, m)
    LEFT JOIN request_parts USING (customer_id, m) LEFT JOIN txn_parts USING (customer_id, m)
    """  # fmt: skip
    raw = con.execute(sql).df()
    con.close()

    def cents(x: pd.Series) -> pd.Series:  # half away from zero
        a = x.to_numpy(dtype="float64") * 100
        return pd.Series(np.sign(a) * np.floor(np.abs(a) + 0.5 + 1e-9), index=x.index).astype("int64")

    out = raw[["customer_id", "m", "unpriced"]].copy()
    for p in ["loan_nii", "expected_loss", "deposit_spread", "fees"]:
        out[p] = cents(raw[p])
    out["servicing_cost"] = sum(
        cents(raw[p]) for p in ("cost_visits", "cost_calls", "cost_requests", "cost_transactions")
    )
    out["contribution"] = (
        out["loan_nii"] + out["deposit_spread"] + out["fees"] - out["expected_loss"] - out["servicing_cost"]
    )
    out["month"] = out["m"].map(lambda k: (pd.Timestamp(start) + pd.offsets.MonthEnd(k + 1)).date())
    return out


def _warehouse(home: Path, name: str, day: dt.date) -> pd.DataFrame:
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(f"SELECT * FROM {name} WHERE month_end = ?", [day]).df()


def check(home: Path, day: dt.date = DAY) -> list[str]:
    """Compare the marts of ``day`` in ``home``'s warehouse with :func:`recompute` for a handful of eligible
    customers (assertions); returns the customers compared."""
    mine = recompute(home, day)
    value = _warehouse(home, "customer_value", day).set_index("customer_id")
    monthly = _warehouse(home, "customer_value_month", day)

    per_customer = mine.groupby("customer_id")[[*PARTS, "unpriced"]].sum()
    eligible = per_customer[
        (per_customer["unpriced"] == 0)
        & (per_customer["loan_nii"] != 0)
        & (per_customer["deposit_spread"] != 0)
        & (per_customer["fees"] != 0)
    ]
    assert len(eligible) >= CUSTOMERS, f"only {len(eligible)} customers with loans, deposits and fees all priced"
    chosen = sorted(eligible.index)[:: max(1, len(eligible) // CUSTOMERS)][:CUSTOMERS]

    for customer in chosen:
        row = value.loc[customer]
        assert int(row["months_held"]) == 12, customer
        expected = {p: int(eligible.loc[customer, p]) for p in PARTS}
        got = {p: round(float(row[p]) * 100) for p in PARTS}
        assert got == expected, (customer, got, expected)
        theirs = monthly[monthly["customer_id"] == customer].copy()
        theirs["month"] = pd.to_datetime(theirs["month"]).dt.date
        theirs = theirs.set_index("month").sort_index()
        ours = mine[mine["customer_id"] == customer].set_index("month").sort_index()
        assert list(theirs.index) == list(ours.index)  # the 12 month ends of the window
        for p in PARTS:
            assert [round(float(v) * 100) for v in theirs[p]] == ours[p].tolist(), (customer, p)
    return chosen


def test_customer_value_agrees_to_the_cent_with_an_independent_query(scheduled_bank):
    assert len(check(scheduled_bank.home)) == CUSTOMERS
