"""What the customer-value assessment of a month end reads: :class:`ValueInputs`.

Every frame holds staged data only (tokens and masked values) or warehouse marts, never raw personal data.
Staged frames keep their lineage columns (``_source_file``, ``_row_number``, ``_sha256``) so that every
component of a customer's contribution can be traced to the records it came from (:mod:`crm.value.trace`).

The window of a month end ``M`` is the trailing twelve calendar months ``M-11 .. M`` (month ends
:func:`window_month_ends`); history frames are cut to it by their own date column.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from crm.bank_calendar import month_end, months_before

WINDOW_MONTHS = 12


def window_month_ends(day: dt.date, months: int = WINDOW_MONTHS) -> list[dt.date]:
    """The month ends of the trailing window of ``day``'s month, oldest first (``months`` of them, the last
    being ``day``'s own month end)."""
    last = month_end(day)
    return [month_end(months_before(last, k)) for k in range(months - 1, -1, -1)]


@dataclass
class ValueInputs:
    """The inputs of one month end's value assessment (see the module docstring for the window).

    Marts (warehouse, this month end unless said otherwise):

    - ``c360``: customer_360 of the month end (one row per customer; segment, status, tenure, balances,
      products, branch, manager, enterprise size, annual income where known).
    - ``earlier``: customer_360 three month ends before (empty when there is none).
    - ``scores``: credit_scores of the month end: customer_id, pd, grade.
    - ``value_history``: the customer_value rows of the eleven month ends before (empty when none): for
      the value trend (value score and contribution per month).

    Staged, cut to the window unless said otherwise:

    - ``loans``: the loans snapshot of the month end (rate, term, guarantee of each loan alive then).
    - ``loan_rates``: every loan's latest known ``interest_rate``, ``start_date``, ``maturity_date``,
      ``guarantee_type`` from the loans snapshots staged up to the month end (so that a loan repaid within the
      window still has its own rate); one row per loan_id.
    - ``loan_performance``: loan month-end rows (snapshot_date, loan_id, customer_id, product_code, balance,
      status) with snapshot_date in the window.
    - ``deposit_balances``: account month-end rows (snapshot_date, account_id, customer_id, product_type,
      balance, avg_balance, interest_rate, status) with snapshot_date in the window.
    - ``txn_monthly``: customer month aggregates (snapshot_date, customer_id, txn_type, channel, direction,
      txn_count, amount, counterparty_count, top_counterparty_amount) with snapshot_date in the window.
    - ``fee_ledger``: fee records with fee_date in the window.
    - ``interactions``: interactions with interaction_time in the window.
    - ``service_requests``: the latest record of every request opened in the window.
    - ``bureau_records``: every bureau pull with query_date on or before the month end (not cut: the
      staleness window of the configuration picks the latest usable pull).
    - ``corporates``: the corporates snapshot of the month end (industry, enterprise_size, province).
    - ``statements``: financial statements received on or before the month end.
    - ``records_since``: the first business date for which the platform holds interactions and service
      requests (their deltas have no initial load): cost-to-serve from them covers the window from then on.
    """

    month_end: dt.date
    c360: pd.DataFrame
    earlier: pd.DataFrame
    scores: pd.DataFrame
    value_history: pd.DataFrame
    loans: pd.DataFrame
    loan_rates: pd.DataFrame
    loan_performance: pd.DataFrame
    deposit_balances: pd.DataFrame
    txn_monthly: pd.DataFrame
    fee_ledger: pd.DataFrame
    interactions: pd.DataFrame
    service_requests: pd.DataFrame
    bureau_records: pd.DataFrame
    corporates: pd.DataFrame
    statements: pd.DataFrame
    records_since: dt.date | None = None
