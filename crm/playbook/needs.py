"""Needs signals: what each customer needs at a month end, each with its evidence and the deadline that matters.

One function per need (codes of the spec, labels ``code.need.<CODE>`` in the message catalogue), each
vectorised over the whole bank (customer x month matrices in numpy, no Python loop over customers), each
returning rows ``customer_id, need, strength, deadline, evidence``; :func:`customer_needs` runs them all.
Every threshold is in ``config.toml`` ``[needs.*]`` (docs/playbook.md, "Needs and preferences").

============== =================================================================== ===========================
need           fires when (as of the month end m)                                  deadline
============== =================================================================== ===========================
MATURITY       a live loan matures within 90 days (band 30/60/90)                  first maturity
HEADROOM       policy capacity - exposure (+ unused lines) is large                none
SEASONAL       recurring peaks of outflows / troughs of balances in the same       first day of the offer month
               calendar months, in every year seen (>= 13 months, >= 2 years)
GROWTH         revenue or credit turnover up >= 20% a year, limits did not follow  none
CONCENTRATION  top counterparty share of payments or receipts over 12 months       none
PAYROLL_START  salary credits in the last 3 months after none in the 9 before      none
MORTGAGE_END   a housing loan ends within the last / next 6 months                 the loan end (if ahead)
LARGE_INFLOW   a month's credits >= 3 x the median month of the 12 before          60 days after that month
============== =================================================================== ===========================

Evidence is a JSON object (keys sorted) of numbers, ISO dates, ``YYYY-MM`` months and codes: never a name, an
id number, a customer or loan id. Its keys per need are in :data:`EVIDENCE`.

The inputs are one :class:`NeedsInputs` (built by :func:`needs_inputs` from contract-shaped frames, or by
:func:`crm.playbook.inputs.load_needs_inputs` from the staged zone through DuckDB); month-by-month history comes
as customer-month aggregates (:func:`month_aggregates`) so a million customers' two years of monthly transactions
are never in memory as rows.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm.bank_calendar import month_end as _month_end
from crm.bank_calendar import months_before
from crm.playbook.warnings import _args_json

NEEDS = [
    "MATURITY",
    "HEADROOM",
    "SEASONAL",
    "GROWTH",
    "CONCENTRATION",
    "PAYROLL_START",
    "MORTGAGE_END",
    "LARGE_INFLOW",
]
COLUMNS = ["customer_id", "need", "strength", "deadline", "evidence"]
# the customer_needs mart (without month_end and config_version)
MART_COLUMNS = [*COLUMNS, "segment", "branch_id", "manager_id", "key_account"]
EVIDENCE = {
    "MATURITY": ["loans", "amount", "contract_amount", "first_maturity", "band_days", "days"],
    "HEADROOM": ["capacity", "exposure", "headroom", "unused", "basis"],
    "SEASONAL": ["peak_months", "offer_month", "peak_ratio", "trough_ratio", "months_seen", "basis", "amount"],
    "GROWTH": ["growth", "source", "turnover_12m", "limits", "limits_before", "limit_growth"],
    "CONCENTRATION": ["direction", "top_share", "counterparties", "amount", "transactions", "months"],
    "PAYROLL_START": ["first_month", "monthly_amount", "months"],
    "MORTGAGE_END": ["loan_end", "monthly_payment_freed", "loans", "ended"],
    "LARGE_INFLOW": ["month", "amount", "multiple", "median_month"],
}
LIVE_LOANS = ("N", "O")
# ratios are rounded to this many decimals before they meet a threshold (12e6 / 10e6 - 1 is 0.19999999999999996)
RATIO_DIGITS = 9

# --------------------------------------------------------------------------------------------- the inputs

FLOW_COLUMNS = ["customer_id", "month_end", "deposit_balance", "credits", "outflows", "salary"]
TXN12_COLUMNS = [
    "customer_id",
    "txn_count",
    "digital_count",
    "pay_amount",
    "pay_top",
    "pay_transactions",
    "pay_counterparties",
    "pay_months",
    "rec_amount",
    "rec_top",
    "rec_transactions",
    "rec_counterparties",
    "rec_months",
]


@dataclass
class NeedsInputs:
    """What the needs and the preference profiles of month end ``month_end`` read.

    - ``customers``: one row per customer: customer_id, segment (the value segment: retail, sme, corporate),
      status, branch_id, manager_id, key_account; for HEADROOM annual_income (individuals), enterprise_size
      and annual_revenue (corporates, the corporates extract), external_loan_balance and debt_service_annual
      (customer_value: the latest bureau pull's external debt and the annual debt service; missing: 0).
    - ``loans``: the loans snapshot of the month end (contract columns: loan_id, customer_id, product_code,
      contract_amount, balance, interest_rate (percent), rate_type, start_date, maturity_date,
      repayment_method, guarantee_type, status).
    - ``loan_history``: rows of the loans snapshots of earlier month ends, with ``snapshot_date`` (MORTGAGE_END
      reads those of its products in the last ``[needs.mortgage_end] months``): snapshot_date, loan_id,
      customer_id, product_code, balance, interest_rate, maturity_date, status.
    - ``limits_before``: customer_id, limits: the contract amounts of the customer's live loans at the month
      end 12 months before (GROWTH); None when that snapshot is not there (GROWTH does not fire then).
    - ``flows``: customer-month aggregates (:data:`FLOW_COLUMNS`, :func:`month_aggregates`): month-end deposit
      balance, credits, outflows and salary credits of each month end a customer was seen.
    - ``txn_12m``: per customer over the last ``[preferences] months`` (:data:`TXN12_COLUMNS`,
      :func:`month_aggregates`): transactions, digital ones, and per direction (pay: D, rec: C) the amount, the
      top-counterparty amount, the transactions, the largest monthly counterparty count and the months seen.
    - ``statements``: financial statements (customer_id, statement_id, report_period, period_type,
      received_date, revenue, total_assets).
    - ``interactions`` (customer_id, interaction_time, channel), ``surveys`` (customer_id, response_date,
      rating_pricing), ``opportunities`` (latest state: customer_id, offered_date, outcome, outcome_date,
      decline_reason): the preference profiles (:mod:`crm.playbook.preferences`).
    """

    month_end: dt.date
    customers: pd.DataFrame
    loans: pd.DataFrame
    flows: pd.DataFrame
    txn_12m: pd.DataFrame
    loan_history: pd.DataFrame = field(default_factory=pd.DataFrame)
    limits_before: pd.DataFrame | None = None
    statements: pd.DataFrame = field(default_factory=pd.DataFrame)
    interactions: pd.DataFrame = field(default_factory=pd.DataFrame)
    surveys: pd.DataFrame = field(default_factory=pd.DataFrame)
    opportunities: pd.DataFrame = field(default_factory=pd.DataFrame)


# the monthly transaction aggregates' columns the needs read (the staged loader and the frames path alike)
TXN_COLUMNS = (
    "snapshot_date",
    "customer_id",
    "txn_type",
    "channel",
    "direction",
    "txn_count",
    "amount",
    "counterparty_count",
    "top_counterparty_amount",
)


def _in(values: list[str]) -> str:
    return "(" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + ")" if values else "(NULL)"


def customer_months_sql(txn: str, config: dict[str, Any]) -> str:
    """The DuckDB query of one row per customer and month end of ``txn`` (txn_monthly rows: snapshot_date,
    customer_id, txn_type, channel, direction, txn_count, amount, counterparty_count, top_counterparty_amount,
    already cut to the month ends wanted): what :func:`flows_sql` and :func:`txn_12m_sql` read, so the monthly
    transactions are scanned once.

    credits leave out ``[needs.large_inflow] excluded_types``; outflows are debits of ``[needs.seasonal]
    outflow_types``; salary is credits of type SAL; digital_count counts transactions through ``[preferences]
    digital_channels``. Counterparty figures over the rows of ``[needs.concentration] types``, per direction
    (pay: D, rec: C): ``*_amount`` and ``*_top`` sum the rows' amounts and top-counterparty amounts
    (txn_monthly names the top counterparty of each type, channel and direction: summed over a month's rows it
    is the top counterparty's amount when the customer deals with it through every channel, more otherwise),
    ``*_transactions`` their transactions, ``*_counterparties`` the largest row count, ``*_rows`` the rows."""
    out_types = _in(list(config["needs"]["seasonal"]["outflow_types"]))
    excluded = list(config["needs"]["large_inflow"].get("excluded_types", []))
    credit = "direction = 'C'" + (f" AND txn_type NOT IN {_in(excluded)}" if excluded else "")
    types = _in(list(config["needs"]["concentration"]["types"]))
    digital = _in(list(config["preferences"]["digital_channels"]))
    parts = []
    for prefix, direction in (("pay", "D"), ("rec", "C")):
        cond = f"direction = '{direction}' AND txn_type IN {types}"
        parts.append(
            f"coalesce(sum(amount) FILTER (WHERE {cond}), 0) AS {prefix}_amount, "
            f"coalesce(sum(top_counterparty_amount) FILTER (WHERE {cond}), 0) AS {prefix}_top, "
            f"coalesce(sum(txn_count) FILTER (WHERE {cond}), 0) AS {prefix}_transactions, "
            f"max(counterparty_count) FILTER (WHERE {cond}) AS {prefix}_counterparties, "
            f"count(*) FILTER (WHERE {cond}) AS {prefix}_rows"
        )
    return f"""
    SELECT customer_id, snapshot_date,
           coalesce(sum(amount) FILTER (WHERE {credit}), 0) AS credits,
           coalesce(sum(amount) FILTER (WHERE direction = 'D' AND txn_type IN {out_types}), 0) AS outflows,
           coalesce(sum(amount) FILTER (WHERE direction = 'C' AND txn_type = 'SAL'), 0) AS salary,
           coalesce(sum(txn_count), 0) AS txn_count,
           coalesce(sum(txn_count) FILTER (WHERE channel IN {digital}), 0) AS digital_count,
           {", ".join(parts)}
    FROM {txn} GROUP BY customer_id, snapshot_date
    """


def flows_sql(deposits: str, months: str) -> str:
    """The DuckDB query of :data:`FLOW_COLUMNS` over ``deposits`` (deposit_balances rows: snapshot_date,
    customer_id, balance, status, cut to the month ends wanted) and ``months`` (the customer-month rows of
    :func:`customer_months_sql`). Closed accounts (C) are not counted. One row per customer and month end seen
    in either."""
    return f"""
    WITH d AS (
        SELECT customer_id, snapshot_date, sum(balance) AS deposit_balance
        FROM {deposits} WHERE status IS DISTINCT FROM 'C' GROUP BY ALL
    )
    SELECT customer_id, snapshot_date AS month_end, d.deposit_balance, coalesce(t.credits, 0) AS credits,
           coalesce(t.outflows, 0) AS outflows, coalesce(t.salary, 0) AS salary
    FROM d FULL OUTER JOIN (SELECT customer_id, snapshot_date, credits, outflows, salary FROM {months}) t
         USING (customer_id, snapshot_date)
    """


def txn_12m_sql(months: str, start: dt.date) -> str:
    """The DuckDB query of :data:`TXN12_COLUMNS` over ``months`` (:func:`customer_months_sql`'s rows) of the
    month ends from ``start`` on: transactions, digital ones and, per direction, the counterparty figures
    summed (``*_counterparties`` the largest, ``*_months`` the months with such rows)."""
    parts = []
    for p in ("pay", "rec"):
        parts.append(
            f"sum({p}_amount) AS {p}_amount, sum({p}_top) AS {p}_top, sum({p}_transactions) AS {p}_transactions, "
            f"max({p}_counterparties) AS {p}_counterparties, count(*) FILTER (WHERE {p}_rows > 0) AS {p}_months"
        )
    return f"""
    SELECT customer_id, sum(txn_count) AS txn_count, sum(digital_count) AS digital_count, {", ".join(parts)}
    FROM {months} WHERE snapshot_date >= DATE '{start.isoformat()}' GROUP BY customer_id
    """


def month_aggregates(
    deposit_balances: pd.DataFrame, txn_monthly: pd.DataFrame, month_end: dt.date, config: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(:data:`FLOW_COLUMNS`, :data:`TXN12_COLUMNS`) from contract-shaped deposit_balances and txn_monthly
    frames: the flows over the last ``[needs] history_months`` month ends up to ``month_end``, the 12-month
    figures over the last ``[preferences] months`` (the staged loader's queries)."""
    import duckdb

    from crm.value.inputs import window_month_ends

    months = window_month_ends(month_end, int(config["needs"]["history_months"]))
    recent = window_month_ends(month_end, int(config["preferences"]["months"]))

    def cut(frame: pd.DataFrame, cols: list[str], numbers: tuple[str, ...]) -> pd.DataFrame:
        f = frame[[c for c in cols if c in frame.columns]].copy()
        for c in cols:
            if c not in f.columns:
                f[c] = None
        f["snapshot_date"] = pd.to_datetime(f["snapshot_date"]).dt.date
        f = f[f["snapshot_date"].isin(months)]
        for c in cols:
            if c in numbers:
                f[c] = pd.to_numeric(f[c], errors="coerce").astype("float64")
            elif c != "snapshot_date":
                f[c] = f[c].astype(object)
        return f

    dep = cut(deposit_balances, ["snapshot_date", "customer_id", "balance", "status"], ("balance",))
    txn = cut(txn_monthly, list(TXN_COLUMNS), ("txn_count", "amount", "counterparty_count", "top_counterparty_amount"))
    con = duckdb.connect()
    try:
        con.register("dep", dep)
        con.register("txn", txn)
        con.execute(f"CREATE TEMP TABLE cm AS {customer_months_sql('txn', config)}")
        flows = con.execute(flows_sql("dep", "cm")).df()
        txn12 = con.execute(txn_12m_sql("cm", recent[0].replace(day=1))).df()
    finally:
        con.close()
    flows["month_end"] = pd.to_datetime(flows["month_end"]).dt.date
    flows = flows[FLOW_COLUMNS].sort_values(["customer_id", "month_end"]).reset_index(drop=True)
    return flows, txn12[TXN12_COLUMNS].sort_values("customer_id").reset_index(drop=True)


def needs_inputs(
    month_end: dt.date,
    config: dict[str, Any],
    *,
    customers: pd.DataFrame,
    loans: pd.DataFrame,
    deposit_balances: pd.DataFrame,
    txn_monthly: pd.DataFrame,
    loan_history: pd.DataFrame | None = None,
    limits_before: pd.DataFrame | None = None,
    statements: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    surveys: pd.DataFrame | None = None,
    opportunities: pd.DataFrame | None = None,
) -> NeedsInputs:
    """:class:`NeedsInputs` from contract-shaped frames (tests, the synthetic bank's truth tests): the month-end
    aggregates are computed here by the staged loader's queries. ``loan_history`` may hold every loans snapshot
    row of earlier month ends (with snapshot_date); ``limits_before`` None and ``loan_history`` holding the
    snapshot 12 month ends before: the limits are summed from it."""
    me = _month_end(month_end)
    history = loan_history if loan_history is not None else pd.DataFrame()
    if limits_before is None and len(history):
        year_ago = _month_end(months_before(me, 12))
        snap = history[pd.to_datetime(history["snapshot_date"]).dt.date == year_ago]
        if len(snap):
            limits_before = limits_from(snap)
    flows, txn_12m = month_aggregates(deposit_balances, txn_monthly, me, config)
    return NeedsInputs(
        month_end=me,
        customers=customers,
        loans=loans,
        flows=flows,
        txn_12m=txn_12m,
        loan_history=history,
        limits_before=limits_before,
        statements=statements if statements is not None else pd.DataFrame(),
        interactions=interactions if interactions is not None else pd.DataFrame(),
        surveys=surveys if surveys is not None else pd.DataFrame(),
        opportunities=opportunities if opportunities is not None else pd.DataFrame(),
    )


def limits_from(loans: pd.DataFrame) -> pd.DataFrame:
    """customer_id, limits: the contract amounts of the live loans (status N, O) of a loans snapshot."""
    live = loans[loans["status"].astype(object).isin(LIVE_LOANS).to_numpy(bool)]
    amount = _f(live["contract_amount"]).fillna(0.0)
    out = amount.groupby(live["customer_id"].to_numpy()).sum()
    return pd.DataFrame({"customer_id": out.index.to_numpy(dtype=object), "limits": out.to_numpy("float64")})


# ------------------------------------------------------------------------------------------------ helpers


def _f(x: pd.Series) -> pd.Series:
    return pd.to_numeric(x, errors="coerce").astype("float64")


def _dates(x: pd.Series) -> pd.Series:
    return pd.to_datetime(x, errors="coerce")


def _clip01(x) -> np.ndarray:
    return np.clip(np.nan_to_num(np.asarray(x, dtype="float64"), nan=0.0, posinf=1.0), 0.0, 1.0)


@dataclass
class _Bank:
    """The customers a month end's signals look at: ids (index order of every matrix), segment, active. A
    subset (:meth:`subset`) shares its parent's memo of the inputs' customer codes (:meth:`codes_in`): each
    input's ids are hashed once per :func:`customer_needs`, not once per signal."""

    ids: pd.Index
    segment: np.ndarray
    active: np.ndarray
    frame: pd.DataFrame  # customers, one row per id, in ids order
    memo: dict = field(default_factory=dict)  # input name -> codes into the whole bank's ids
    local: np.ndarray | None = None  # the whole bank's position -> this subset's (-1: not in it); None: whole
    whole: pd.Index | None = None  # the whole bank's ids (None: these)

    def scope(self, cfg: dict[str, Any]) -> np.ndarray:
        """The active customers of the need's ``segments``."""
        return self.active & np.isin(self.segment, list(cfg.get("segments", ["retail", "sme", "corporate"])))

    def subset(self, cfg: dict[str, Any]) -> _Bank:
        """The customers in the need's scope (:meth:`scope`): every matrix of the signal is that size."""
        keep = self.scope(cfg)
        return self if keep.all() else self._sub(keep)

    def _sub(self, keep: np.ndarray) -> _Bank:
        local = np.full(len(self.ids), -1, dtype="int64")
        local[keep] = np.arange(int(keep.sum()))
        if self.local is not None:  # a subset of a subset: compose
            local = np.where(self.local >= 0, local[np.maximum(self.local, 0)], -1)
        return _Bank(
            self.ids[keep],
            self.segment[keep],
            self.active[keep],
            self.frame[keep].reset_index(drop=True),
            memo=self.memo,
            local=local,
            whole=self.whole if self.whole is not None else self.ids,
        )

    def everyone(self) -> np.ndarray:
        return np.ones(len(self.ids), dtype=bool)

    @staticmethod
    def _lookup(index: pd.Index, ids: pd.Series) -> np.ndarray:
        if isinstance(ids.dtype, pd.CategoricalDtype):  # once per category (the loader's month-end aggregates)
            at = np.append(index.get_indexer(ids.cat.categories.astype(object)), -1)
            return at[ids.cat.codes.to_numpy()]  # code -1 (missing) takes the appended -1
        return index.get_indexer(ids.astype(object))

    def codes(self, ids: pd.Series) -> np.ndarray:
        """The position of each id in :attr:`ids` (-1: not a customer in scope)."""
        return self._lookup(self.ids, ids)

    def codes_in(self, name: str, frame: pd.DataFrame) -> np.ndarray:
        """:meth:`codes` of the whole ``frame``'s customer_id (input ``name`` of the inputs), memoised."""
        if name not in self.memo:
            self.memo[name] = self._lookup(self.whole if self.whole is not None else self.ids, frame["customer_id"])
        codes = self.memo[name]
        if self.local is None:
            return codes
        return np.where(codes >= 0, self.local[np.maximum(codes, 0)], -1)


def _bank(inputs: NeedsInputs, config: dict[str, Any]) -> _Bank:
    c = inputs.customers.drop_duplicates("customer_id").reset_index(drop=True)
    status = c["status"].astype(object) if "status" in c.columns else pd.Series(None, index=c.index, dtype=object)
    active = ~status.isin(config["needs"]["excluded_status"]).to_numpy(bool)
    return _Bank(pd.Index(c["customer_id"].astype(object)), c["segment"].astype(object).to_numpy(), active, c)


def _months(inputs: NeedsInputs, config: dict[str, Any]) -> list[dt.date]:
    from crm.value.inputs import window_month_ends

    return window_month_ends(inputs.month_end, int(config["needs"]["history_months"]))


def _day64(values) -> np.ndarray:
    """Dates (date objects, datetime64, strings; None / NaT missing) as a numpy datetime64[D] array."""
    if isinstance(values, pd.Series) and pd.api.types.is_datetime64_any_dtype(values):
        return values.to_numpy(dtype="datetime64[D]")
    return pd.to_datetime(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype="datetime64[D]")


def _month_codes(values: pd.Series, months: list[dt.date]) -> np.ndarray:
    """The position of each month end of ``values`` in ``months`` (-1: another date), once per distinct value."""
    cat = values.array if isinstance(values.dtype, pd.CategoricalDtype) else pd.Categorical(values)
    cats = _day64(pd.Series(np.asarray(cat.categories, dtype=object)))
    at = np.append(pd.Index(np.array(months, dtype="datetime64[D]")).get_indexer(cats), -1)
    return at[np.asarray(cat.codes)]


def _matrices(bank: _Bank, flows: pd.DataFrame, months: list[dt.date], cols: list[str]):
    """customers x months matrices of ``cols`` of ``flows`` (NaN where the customer was not seen that month end;
    a missing figure of a month seen is 0, the deposit balance NaN) and the ``seen`` mask."""
    n, t = len(bank.ids), len(months)
    seen = np.zeros((n, t), dtype=bool)
    out = {c: np.full((n, t), np.nan) for c in cols}
    if flows is None or flows.empty:
        return out, seen
    key = ("flows.month_end", months[0], len(months))
    if key not in bank.memo:  # once per customer_needs: the month ends of millions of customer-months
        bank.memo[key] = _month_codes(flows["month_end"], months)
    col = bank.memo[key]
    row = bank.codes_in("flows", flows)
    ok = (row >= 0) & (col >= 0)
    row, col = row[ok], col[ok]
    seen[row, col] = True
    for c in cols:
        v = _f(flows[c]).to_numpy()[ok]
        m = out[c]
        m[row, col] = v if c == "deposit_balance" else np.nan_to_num(v, nan=0.0)
    return out, seen


def _rows(
    need: str,
    bank: _Bank,
    mask: np.ndarray,
    strength: np.ndarray,
    deadline: pd.Series | None,
    args: dict[str, tuple[pd.Series | np.ndarray, int | str]],
) -> pd.DataFrame:
    """The rows of ``need`` for the customers of ``mask`` (arrays in bank order)."""
    n = len(bank.ids)
    idx = pd.Index(np.flatnonzero(mask))

    def whole(v) -> pd.Series:  # a bank-order array or series, indexed 0..n-1 (the caller's left alone)
        values = v.to_numpy() if isinstance(v, pd.Series) else np.asarray(v)
        return pd.Series(values, index=pd.RangeIndex(n), dtype=v.dtype if isinstance(v, pd.Series) else None)

    series = {k: (whole(v), kind) for k, (v, kind) in args.items()}
    dl = np.full(len(idx), None, dtype=object)
    if deadline is not None:  # the rows' dates only, as date objects (None where missing)
        d = deadline if isinstance(deadline, np.ndarray) and deadline.dtype == "datetime64[D]" else _day64(deadline)
        dl = d[idx.to_numpy()].astype(object)
    return pd.DataFrame(
        {
            "customer_id": bank.ids.to_numpy(dtype=object)[idx],
            "need": need,
            "strength": np.round(_clip01(np.asarray(strength, dtype="float64")[idx]), 4),
            "deadline": dl,
            "evidence": _args_json(idx, series).to_numpy(dtype=object) if len(idx) else np.array([], dtype=object),
        }
    )


def _month_text(days) -> np.ndarray:
    """``YYYY-MM`` of each date (None where missing), vectorised."""
    d = np.asarray(days, dtype="datetime64[D]") if not isinstance(days, np.ndarray) else days.astype("datetime64[D]")
    text = np.datetime_as_string(d.astype("datetime64[M]")).astype(object)
    return np.where(np.isnat(d), None, text)


def _iso(values) -> np.ndarray:
    """``YYYY-MM-DD`` of each date (None where missing), vectorised."""
    d = values if isinstance(values, np.ndarray) and values.dtype == "datetime64[D]" else _day64(values)
    return np.where(np.isnat(d), None, np.datetime_as_string(d).astype(object))


@dataclass
class NeedsResult:
    """``needs``: the rows that fire (:data:`MART_COLUMNS`), sorted by customer and need; ``in_scope``: per need
    the active customers of its segments; ``lacking``: per need those of them whose input was missing or too
    short for the signal to be computed (it did not fire for them)."""

    needs: pd.DataFrame
    in_scope: dict[str, int]
    lacking: dict[str, int]


# ------------------------------------------------------------------------------------------------ the needs


def _done(rows: pd.DataFrame, in_scope: np.ndarray, lacking: np.ndarray | int = 0) -> pd.DataFrame:
    """``rows`` with the counts :func:`customer_needs` reports in ``attrs``: in_scope and lacking."""
    rows.attrs["in_scope"] = int(np.sum(in_scope))
    rows.attrs["lacking"] = int(np.sum(lacking))
    return rows


def maturity(inputs: NeedsInputs, config: dict[str, Any], as_of: dt.date | None = None, *, bank=None):
    """MATURITY: live loans (N, O) not of ``excluded_products`` maturing in (as_of, as_of + the last band];
    per customer the loans, their balance (``amount``) and contract amount, the first maturity, its band and
    the days to it. Deadline: the first maturity. Strength: the band's (``band_strength``)."""
    cfg = config["needs"]["maturity"]
    as_of = as_of or inputs.month_end
    bank = (bank or _bank(inputs, config)).subset(cfg)  # the customers in scope only
    bands = [int(b) for b in cfg["bands_days"]]
    loans = inputs.loans
    live = loans["status"].astype(object).isin(LIVE_LOANS) & ~loans["product_code"].astype(object).isin(
        cfg["excluded_products"]
    )
    days = (_dates(loans["maturity_date"]) - pd.Timestamp(as_of)).dt.days
    pick = (live & (days > 0) & (days <= bands[-1])).fillna(False).to_numpy(bool)
    due = loans[pick]
    due_days = days[pick].to_numpy(dtype="float64")
    n = len(bank.ids)
    code = bank.codes_in("loans", loans)[pick]
    ok = code >= 0
    code = code[ok]
    amount = np.bincount(code, weights=_f(due["balance"]).fillna(0).to_numpy()[ok], minlength=n)
    contract = np.bincount(code, weights=_f(due["contract_amount"]).fillna(0).to_numpy()[ok], minlength=n)
    count = np.bincount(code, minlength=n)
    first = np.full(n, np.inf)
    np.minimum.at(first, code, due_days[ok])
    has = count > 0
    first_days = np.where(has, first, 0).astype("int64")
    scope = bank.everyone()
    mask = scope & has & (amount >= float(cfg["min_amount"]))
    conds = [first_days <= b for b in bands]
    band = np.select(conds, bands, default=bands[-1])
    strength = np.select(conds, [float(s) for s in cfg["band_strength"]], default=0.0)
    first_date = np.where(
        has, np.datetime64(as_of, "D") + first_days.astype("timedelta64[D]"), np.datetime64("NaT", "D")
    )
    rows = _rows(
        "MATURITY",
        bank,
        mask,
        strength,
        first_date,
        {
            "loans": (count, 0),
            "amount": (amount, 2),
            "contract_amount": (contract, 2),
            "first_maturity": (pd.Series(_iso(first_date), dtype=object), "text"),
            "band_days": (band, 0),
            "days": (first_days, 0),
        },
    )
    return _done(rows, scope)


def _annuity_pv(payment_annual: np.ndarray, rate: float, months: int) -> np.ndarray:
    """The loan a yearly debt service of ``payment_annual`` repays as an annuity at ``rate`` over ``months``."""
    r = rate / 12.0
    pay = np.asarray(payment_annual, dtype="float64") / 12.0
    return pay * (1.0 - (1.0 + r) ** (-months)) / r if r > 0 else pay * months


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    return _f(frame[name]) if name in frame.columns else pd.Series(np.nan, index=frame.index, dtype="float64")


def _annual_revenue(inputs: NeedsInputs, bank: _Bank) -> np.ndarray:
    """Per customer: the revenue of the latest annual statement received by the month end, else the
    corporates extract's annual_revenue (``customers``), else NaN."""
    from crm.value.position import _latest_statements

    rev = _col(bank.frame, "annual_revenue").to_numpy()
    st = inputs.statements
    if st is not None and len(st) and {"customer_id", "revenue", "period_type"} <= set(st.columns):
        st = st.copy()
        for c in ("statement_id", "total_assets"):
            if c not in st.columns:
                st[c] = None
        latest = _latest_statements(st, inputs.month_end)
        annual = latest[latest["period_type"].astype(object) == "A"]
        code = bank.codes(annual["customer_id"])
        ok = code >= 0
        r = _f(annual["revenue"]).to_numpy()[ok]
        rev = rev.copy()
        rev[code[ok]] = np.where(np.isfinite(r), r, rev[code[ok]])
    return rev


def _live_by_customer(bank: _Bank, loans: pd.DataFrame, mask: pd.Series, col: str) -> np.ndarray:
    pick = mask.fillna(False).to_numpy(bool)
    sel = loans[pick]
    code = bank.codes_in("loans", loans)[pick]
    ok = code >= 0
    return np.bincount(code[ok], weights=_f(sel[col]).fillna(0).to_numpy()[ok], minlength=len(bank.ids))


def headroom(inputs: NeedsInputs, config: dict[str, Any], as_of: dt.date | None = None, *, bank=None):
    """HEADROOM: policy capacity (corporates revenue x factor of their size; individuals income x multiple,
    capped by the loan the DSTI cap leaves room for) minus exposure (our live loan balance + external loan
    balance), plus the unused part of live lines repaid at the end; with ``borrowers_only`` only for customers
    with a live loan here (a limit to raise). Evidence: capacity, exposure, headroom, unused, basis (REVENUE,
    INCOME or LINES). No deadline."""
    cfg = config["needs"]["headroom"]
    bank = (bank or _bank(inputs, config)).subset(cfg)  # the customers in scope only
    c = bank.frame
    seg = bank.segment
    retail = seg == "retail"
    loans = inputs.loans
    live = loans["status"].astype(object).isin(LIVE_LOANS)
    ours = _live_by_customer(bank, loans, live, "balance")
    lines = live & loans["repayment_method"].astype(object).isin(cfg["line_methods"])
    line_contract = _live_by_customer(bank, loans, lines, "contract_amount")
    line_balance = _live_by_customer(bank, loans, lines, "balance")
    unused = np.maximum(line_contract - line_balance, 0.0)
    external = _col(c, "external_loan_balance").fillna(0.0).to_numpy()
    exposure = ours + external

    revenue = _annual_revenue(inputs, bank)
    size = c["enterprise_size"].astype(object) if "enterprise_size" in c.columns else pd.Series(None, index=c.index)
    factors = {str(k): float(v) for k, v in cfg["revenue_factor"].items()}
    factor = size.map(factors).fillna(float(cfg["revenue_factor_default"])).to_numpy("float64")
    corp_capacity = np.where(revenue > 0, revenue * factor, np.nan)
    income = _col(c, "annual_income").to_numpy()
    service = _col(c, "debt_service_annual").fillna(0.0).to_numpy()
    room = np.maximum(np.nan_to_num(income) * float(cfg["dsti_cap"]) - service, 0.0)
    dsti_loan = _annuity_pv(room, float(cfg["assumed_rate"]), int(cfg["assumed_term_months"]))
    retail_capacity = np.where(
        income > 0, np.minimum(income * float(cfg["income_multiple"]), dsti_loan + exposure), np.nan
    )
    capacity = np.where(retail, retail_capacity, corp_capacity)
    free = np.maximum(np.nan_to_num(capacity - exposure, nan=0.0), 0.0)
    head = free + unused
    min_amount = pd.Series(seg).map({k: float(v) for k, v in cfg["min_amount"].items()}).fillna(np.inf).to_numpy()
    known = np.isfinite(capacity) & (capacity > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fires = np.where(
            known,
            (head >= min_amount) & (head >= float(cfg["min_share"]) * capacity),
            (unused >= min_amount) & (unused >= float(cfg["min_share"]) * line_contract) & (line_contract > 0),
        )
        strength = np.where(known, head / capacity, unused / line_contract)
    scope = bank.everyone()
    borrower = _live_by_customer(bank, loans, live, "contract_amount") > 0
    mask = scope & fires & (borrower | (not bool(cfg["borrowers_only"])))
    basis = np.where(known, np.where(retail, "INCOME", "REVENUE"), "LINES")
    rows = _rows(
        "HEADROOM",
        bank,
        mask,
        strength,
        None,
        {
            "capacity": (np.where(known, capacity, np.nan), 2),
            "exposure": (exposure, 2),
            "headroom": (head, 2),
            "unused": (unused, 2),
            "basis": (pd.Series(basis, dtype=object), "text"),
        },
    )
    return _done(rows, scope, scope & ~known & (line_contract <= 0))


def _list_json(flags: np.ndarray, labels: list[int]) -> pd.Series:
    """Per row a JSON list of the labels whose column of ``flags`` (rows x labels) is true."""
    out = pd.Series("", index=pd.RangeIndex(flags.shape[0]), dtype=object)
    for j, lab in enumerate(labels):
        out = out + np.where(flags[:, j], f"{lab}, ", "")
    return "[" + out.str.removesuffix(", ") + "]"


def _local_ratio(x: np.ndarray, half: int, least: int) -> tuple[np.ndarray, np.ndarray]:
    """Each month's value over the median of its neighbours, the ``half`` months either side (itself left out;
    NaN with fewer than ``least`` of them seen, or a median <= 0): a level that follows the customer's trend, so
    a growing or shrinking business does not peak in every late month and trough in every early one. Returns
    (ratios, medians)."""
    n, t = x.shape
    neighbours = np.full((n, t, 2 * half), np.nan)
    for k, off in enumerate(range(1, half + 1)):
        neighbours[:, off:, 2 * k] = x[:, :-off]
        neighbours[:, :-off, 2 * k + 1] = x[:, off:]
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: months never seen
        med = np.nanmedian(neighbours, axis=2)
        ok = ((~np.isnan(neighbours)).sum(axis=2) >= least) & (med > 0)
        med = np.where(ok, med, np.nan)
        return np.round(x / med, RATIO_DIGITS), med


def seasonal(inputs: NeedsInputs, config: dict[str, Any], as_of: dt.date | None = None, *, bank=None):
    """SEASONAL: from the month ends of ``flows`` (at least ``min_months`` seen), the calendar months whose
    outflows were a peak (>= ``peak_ratio`` x the median of the ``baseline_months`` months either side,
    :func:`_local_ratio`, and >= ``min_peak_amount``) or whose deposit balance was a trough (<=
    ``trough_ratio`` x that median) in every year they were seen, seen in at
    least ``min_years`` years; at most ``max_season_months`` of them, and peaks (troughs) in at most
    ``max_off_season_share`` of the months seen outside the season months. The offer month is ``lead_months`` before
    the first month of each run of season months; the deadline is the first day of the next offer month after
    as_of. Evidence: peak_months (calendar months 1-12), offer_month (YYYY-MM), peak_ratio (mean outflow ratio
    of the season months' observations), trough_ratio (mean balance ratio), months_seen, basis (OUTFLOWS,
    BALANCES or BOTH), amount (the season's funding need a month: the larger of the mean outflows above their
    neighbourhood and the mean balance below it, over the season months seen; yuan)."""
    cfg = config["needs"]["seasonal"]
    as_of = as_of or inputs.month_end
    bank = (bank or _bank(inputs, config)).subset(cfg)  # the customers in scope only
    months = _months(inputs, config)
    m, seen = _matrices(bank, inputs.flows, months, ["outflows", "deposit_balance"])
    out, bal = m["outflows"], m["deposit_balance"]
    months_seen = seen.sum(axis=1)
    cal = np.array([d.month for d in months])
    half, least = int(cfg["baseline_months"]), int(cfg["baseline_min_months"])
    r_out, base_out = _local_ratio(out, half, least)
    r_bal, base_bal = _local_ratio(bal, half, least)
    peak = (r_out >= float(cfg["peak_ratio"])) & (out >= float(cfg["min_peak_amount"]))
    trough = r_bal <= float(cfg["trough_ratio"])
    bal_seen = ~np.isnan(bal)
    n = len(bank.ids)
    season_out = np.zeros((n, 12), dtype=bool)
    season_bal = np.zeros((n, 12), dtype=bool)
    min_years = int(cfg["min_years"])
    for c in range(1, 13):
        cols = cal == c
        if not cols.any():
            continue
        n_out = seen[:, cols].sum(axis=1)
        season_out[:, c - 1] = (n_out >= min_years) & (peak[:, cols].sum(axis=1) == n_out)
        n_bal = bal_seen[:, cols].sum(axis=1)
        season_bal[:, c - 1] = (n_bal >= min_years) & (trough[:, cols].sum(axis=1) == n_bal)
    # consistency outside the season: a customer whose months peak at random also peaks twice in some calendar
    # month by chance; its peaks (troughs) outside the season months must stay rare
    off_share = float(cfg["max_off_season_share"])
    for flags, hits, obs in ((season_out, peak, seen), (season_bal, trough, bal_seen)):
        off = ~flags[:, cal - 1] & obs
        with np.errstate(divide="ignore", invalid="ignore"):
            share = (hits & off).sum(axis=1) / off.sum(axis=1)
        flags &= (np.nan_to_num(share, nan=0.0) <= off_share)[:, None]
    season = season_out | season_bal
    count = season.sum(axis=1)
    enough = months_seen >= int(cfg["min_months"])
    scope = bank.everyone()
    mask = scope & enough & (count >= 1) & (count <= int(cfg["max_season_months"]))
    # offer months: lead_months before the first month of each run (circular: December runs into January)
    starts = season & ~np.roll(season, 1, axis=1)
    offer = np.roll(starts, -int(cfg["lead_months"]), axis=1)
    k_next = np.zeros(n, dtype="int64")
    for k in range(12, 0, -1):  # the smallest k in 1..12 whose calendar month (as_of + k) is an offer month
        cm = (as_of.month - 1 + k) % 12
        k_next = np.where(offer[:, cm], k, k_next)
    first_of_month = as_of.replace(day=1)
    offer_days = [_month_end(months_before(first_of_month, -k)).replace(day=1) for k in range(13)]
    offer64 = np.array(offer_days, dtype="datetime64[D]")
    deadline = np.where(k_next > 0, offer64[k_next], np.datetime64("NaT", "D"))
    in_season = season[:, cal - 1]  # customers x months: the month is a season month of the customer
    obs = in_season & seen
    with np.errstate(divide="ignore", invalid="ignore"):
        peak_ratio = np.nansum(np.where(obs, r_out, np.nan), axis=1) / np.sum(obs & ~np.isnan(r_out), axis=1)
        bobs = in_season & bal_seen
        trough_ratio = np.nansum(np.where(bobs, r_bal, np.nan), axis=1) / np.sum(bobs & ~np.isnan(r_bal), axis=1)
        # the season's funding need a month: the outflows above their neighbourhood, or the balance below it
        extra = np.where(obs & ~np.isnan(base_out), out - base_out, np.nan)
        dip = np.where(bobs & ~np.isnan(base_bal), base_bal - bal, np.nan)
        extra_mean = np.nansum(extra, axis=1) / np.sum(~np.isnan(extra), axis=1)
        dip_mean = np.nansum(dip, axis=1) / np.sum(~np.isnan(dip), axis=1)
    amount = np.maximum(np.nan_to_num(extra_mean, nan=0.0), np.nan_to_num(dip_mean, nan=0.0))
    full = float(cfg["full_ratio"])
    strength = np.maximum(
        _clip01((peak_ratio - 1.0) / (full - 1.0)),
        _clip01((1.0 / np.where(trough_ratio > 0, trough_ratio, np.nan) - 1.0) / (full - 1.0)) * season_bal.any(axis=1),
    )
    basis = np.select(
        [season_out.any(axis=1) & season_bal.any(axis=1), season_out.any(axis=1)], ["BOTH", "OUTFLOWS"], "BALANCES"
    )
    offer_text = pd.Series(_month_text(deadline), dtype=object)
    rows = _rows(
        "SEASONAL",
        bank,
        mask,
        strength,
        deadline,
        {
            "peak_months": (_list_json(season, list(range(1, 13))), "json"),
            "offer_month": (offer_text, "text"),
            "peak_ratio": (peak_ratio, 4),
            "trough_ratio": (trough_ratio, 4),
            "months_seen": (months_seen, 0),
            "amount": (amount, 2),
            "basis": (pd.Series(basis, dtype=object), "text"),
        },
    )
    return _done(rows, scope, scope & ~enough)


def growth(inputs: NeedsInputs, config: dict[str, Any], as_of: dt.date | None = None, *, bank=None):
    """GROWTH: revenue growth (the latest statement against the same type's a year earlier) or credit turnover
    growth (credits of the last 12 month ends against the 12 before, every one of the 24 seen), the smaller
    when both are known (both must show it: turnover alone swings with a few large payments), at least
    ``min_growth``, while the limits (contract amounts of live loans) grew by less than
    ``max_limit_follow`` x that growth since the month end 12 months before (``limits_before``); the customer
    has a live loan (limits > 0). The larger of
    turnover_12m and revenue must reach ``min_turnover``. Evidence: growth, source (REVENUE, TURNOVER or
    REVENUE_TURNOVER: both known),
    turnover_12m, limits, limits_before, limit_growth (null: no limit a year ago). No deadline."""
    from crm.value.position import _latest_statements

    cfg = config["needs"]["growth"]
    bank = (bank or _bank(inputs, config)).subset(cfg)  # the customers in scope only
    n = len(bank.ids)
    months = _months(inputs, config)
    m, seen = _matrices(bank, inputs.flows, months, ["credits"])
    credits = np.nan_to_num(m["credits"], nan=0.0)
    last12 = credits[:, -12:].sum(axis=1)
    prev12 = credits[:, -24:-12].sum(axis=1) if len(months) >= 24 else np.zeros(n)
    complete = (seen[:, -24:].sum(axis=1) == 24) if len(months) >= 24 else np.zeros(n, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        turn_growth = np.where(complete & (prev12 > 0), last12 / prev12 - 1.0, np.nan)
    rev_growth = np.full(n, np.nan)
    revenue = np.full(n, np.nan)
    st = inputs.statements
    if st is not None and len(st) and {"customer_id", "revenue", "period_type"} <= set(st.columns):
        st = st.copy()
        for c in ("statement_id", "total_assets"):
            if c not in st.columns:
                st[c] = None
        latest = _latest_statements(st, inputs.month_end)
        code = bank.codes(latest["customer_id"])
        ok = code >= 0
        rv, prior = _f(latest["revenue"]).to_numpy()[ok], _f(latest["prior_revenue"]).to_numpy()[ok]
        with np.errstate(divide="ignore", invalid="ignore"):
            rev_growth[code[ok]] = np.where(prior > 0, rv / prior - 1.0, np.nan)
        revenue[code[ok]] = np.where(latest["period_type"].astype(object).to_numpy()[ok] == "A", rv, np.nan)
    # both known: both must show the growth (the smaller counts: turnover alone swings with a few payments)
    use_rev = np.nan_to_num(rev_growth, nan=np.inf) <= np.nan_to_num(turn_growth, nan=np.inf)
    g = np.round(np.where(use_rev, rev_growth, turn_growth), RATIO_DIGITS)
    both = np.isfinite(rev_growth) & np.isfinite(turn_growth)
    source = np.where(both, "REVENUE_TURNOVER", np.where(use_rev, "REVENUE", "TURNOVER"))
    loans = inputs.loans
    limits = _live_by_customer(bank, loans, loans["status"].astype(object).isin(LIVE_LOANS), "contract_amount")
    known_before = inputs.limits_before is not None
    before = np.zeros(n)
    if known_before and len(inputs.limits_before):
        lb = inputs.limits_before
        code = bank.codes_in("limits_before", lb)
        ok = code >= 0
        before = np.bincount(code[ok], weights=_f(lb["limits"]).fillna(0).to_numpy()[ok], minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        limit_growth = np.where(before > 0, limits / before - 1.0, np.where(limits > 0, np.inf, 0.0))
    size = np.fmax(last12, np.nan_to_num(revenue, nan=0.0))
    scope = bank.everyone()
    known = np.isfinite(g) & known_before
    mask = (
        scope
        & known
        & (np.nan_to_num(g, nan=-np.inf) >= float(cfg["min_growth"]))
        & (limit_growth < float(cfg["max_limit_follow"]) * np.nan_to_num(g, nan=0.0))
        & (size >= float(cfg["min_turnover"]))
        & (limits > 0)  # outgrowing limits needs limits: a firm without a live loan has no limit to raise
    )
    rows = _rows(
        "GROWTH",
        bank,
        mask,
        (g - np.where(np.isfinite(limit_growth), limit_growth, 0.0)) / float(cfg["full_gap"]),
        None,
        {
            "growth": (g, 4),
            "source": (pd.Series(source, dtype=object), "text"),
            "turnover_12m": (last12, 2),
            "limits": (limits, 2),
            "limits_before": (before, 2),
            "limit_growth": (np.where(before > 0, limit_growth, np.nan), 4),
        },
    )
    return _done(rows, scope, scope & ~known)


def _txn12(bank: _Bank, txn: pd.DataFrame, cols: list[str]) -> dict[str, np.ndarray]:
    n = len(bank.ids)
    out = {c: np.zeros(n) for c in cols}
    if txn is None or txn.empty:
        return out
    code = bank.codes_in("txn_12m", txn)
    ok = code >= 0
    for c in cols:
        out[c][code[ok]] = _f(txn[c]).fillna(0).to_numpy()[ok]
    return out


def concentration(inputs: NeedsInputs, config: dict[str, Any], as_of: dt.date | None = None, *, bank=None):
    """CONCENTRATION: over the last 12 month ends, per direction (D payments, C receipts; txn_monthly rows of
    ``types``) the top-counterparty share sum(top_counterparty_amount) / sum(amount); fires when a direction's
    share >= ``min_share`` on >= ``min_amount`` yuan and >= ``min_transactions`` transactions seen in >=
    ``min_months`` months (a handful of payments always has a large top counterparty). Evidence (the more
    concentrated qualifying direction): direction, top_share, counterparties (the largest monthly count),
    amount, transactions, months. No deadline."""
    cfg = config["needs"]["concentration"]
    bank = (bank or _bank(inputs, config)).subset(cfg)  # the customers in scope only
    t = _txn12(bank, inputs.txn_12m, [c for c in TXN12_COLUMNS if c != "customer_id"])
    ok_dir, share = {}, {}
    for p in ("pay", "rec"):
        with np.errstate(divide="ignore", invalid="ignore"):
            share[p] = np.round(np.where(t[f"{p}_amount"] > 0, t[f"{p}_top"] / t[f"{p}_amount"], np.nan), RATIO_DIGITS)
        ok_dir[p] = (
            (np.nan_to_num(share[p]) >= float(cfg["min_share"]))
            & (t[f"{p}_amount"] >= float(cfg["min_amount"]))
            & (t[f"{p}_months"] >= int(cfg["min_months"]))
            & (t[f"{p}_transactions"] >= int(cfg["min_transactions"]))
        )
    use_pay = ok_dir["pay"] & (~ok_dir["rec"] | (np.nan_to_num(share["pay"]) >= np.nan_to_num(share["rec"])))
    pick = {
        k: np.where(use_pay, t[f"pay_{k}"], t[f"rec_{k}"])
        for k in ("amount", "counterparties", "months", "transactions")
    }
    top_share = np.where(use_pay, share["pay"], share["rec"])
    scope = bank.everyone()
    mask = scope & (ok_dir["pay"] | ok_dir["rec"])
    rows = _rows(
        "CONCENTRATION",
        bank,
        mask,
        top_share,
        None,
        {
            "direction": (pd.Series(np.where(use_pay, "D", "C"), dtype=object), "text"),
            "top_share": (top_share, 4),
            "counterparties": (pick["counterparties"], 0),
            "amount": (pick["amount"], 2),
            "transactions": (pick["transactions"], 0),
            "months": (pick["months"], 0),
        },
    )
    lacking = scope & (np.maximum(t["pay_months"], t["rec_months"]) < int(cfg["min_months"]))
    return _done(rows, scope, lacking)


def payroll_start(inputs: NeedsInputs, config: dict[str, Any], as_of: dt.date | None = None, *, bank=None):
    """PAYROLL_START: salary credits (SAL, C) of at least ``min_amount`` in >= ``min_recent_months`` of the last
    ``recent_months`` month ends, none in the ``prior_months`` before, the customer seen in >=
    ``min_prior_seen`` of those. Evidence: first_month (YYYY-MM), monthly_amount (mean of the months with
    salary), months (recent months with salary). No deadline."""
    cfg = config["needs"]["payroll_start"]
    bank = (bank or _bank(inputs, config)).subset(cfg)  # the customers in scope only
    months = _months(inputs, config)
    recent, prior = int(cfg["recent_months"]), int(cfg["prior_months"])
    m, seen = _matrices(bank, inputs.flows, months, ["salary"])
    sal = np.nan_to_num(m["salary"], nan=0.0)
    n = len(bank.ids)
    if len(months) < recent + prior:
        scope = bank.everyone()
        return _done(_rows("PAYROLL_START", bank, np.zeros(n, bool), np.zeros(n), None, {}), scope, scope)
    r = sal[:, -recent:]
    p = sal[:, -(recent + prior) : -recent]
    has = r >= float(cfg["min_amount"])
    k = has.sum(axis=1)
    prior_seen = seen[:, -(recent + prior) : -recent].sum(axis=1)
    enough = prior_seen >= int(cfg["min_prior_seen"])
    scope = bank.everyone()
    mask = scope & enough & (k >= int(cfg["min_recent_months"])) & ((p > 0).sum(axis=1) == 0)
    first_col = np.argmax(has, axis=1)
    texts = _month_text(np.array(months[-recent:], dtype="datetime64[D]"))
    with np.errstate(divide="ignore", invalid="ignore"):
        amount = np.where(k > 0, (r * has).sum(axis=1) / k, np.nan)
    rows = _rows(
        "PAYROLL_START",
        bank,
        mask,
        k / recent,
        None,
        {
            "first_month": (pd.Series(texts[first_col], dtype=object), "text"),
            "monthly_amount": (amount, 2),
            "months": (k, 0),
        },
    )
    return _done(rows, scope, scope & ~enough)


def _monthly_payment(balance: pd.Series, rate_pct: pd.Series, months_left: pd.Series) -> pd.Series:
    """The annuity payment a month of ``balance`` at ``rate_pct`` (percent a year) over ``months_left``."""
    r = (_f(rate_pct) / 1200.0).fillna(0.0).to_numpy()
    n = np.maximum(_f(months_left).fillna(1.0).to_numpy(), 1.0)
    b = _f(balance).fillna(0.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pay = np.where(r > 0, b * r / (1.0 - (1.0 + r) ** (-n)), b / n)
    return pd.Series(pay, index=balance.index)


def mortgage_end(inputs: NeedsInputs, config: dict[str, Any], as_of: dt.date | None = None, *, bank=None):
    """MORTGAGE_END: a loan of ``products`` (RHL) whose end falls within ``months`` months of as_of either way:
    live now (N, O) with balance > 0 and maturing in (as_of, as_of + months]; or ended: its latest row in the
    snapshots (``loans`` at as_of, ``loan_history`` before) has status S (结清), or it is gone from the latest
    snapshot, after a row with balance > 0 within the lookback. The end of an ended loan: its maturity date when
    that lies between its last live row and the snapshot that shows it ended, else that snapshot's month end.
    monthly_payment_freed: the annuity of the last balance > 0 at the loan's rate over the months then left.
    Per customer: the loan whose end is nearest as_of (payments summed over the customer's loans). Deadline:
    the loan end when ahead of as_of. Evidence: loan_end, monthly_payment_freed, loans, ended (0/1)."""
    from crm.value.contribution import term_months

    cfg = config["needs"]["mortgage_end"]
    as_of = as_of or inputs.month_end
    bank = (bank or _bank(inputs, config)).subset(cfg)  # the customers in scope only
    span = int(cfg["months"])
    start = _month_end(months_before(as_of, span))
    cols = [
        "snapshot_date",
        "loan_id",
        "customer_id",
        "product_code",
        "balance",
        "interest_rate",
        "maturity_date",
        "status",
    ]
    now = inputs.loans.assign(snapshot_date=as_of)
    parts = [f for f in (inputs.loan_history, now) if f is not None and len(f)]
    n = len(bank.ids)
    scope = bank.everyone()
    empty = _rows("MORTGAGE_END", bank, np.zeros(n, bool), np.zeros(n), None, {})
    if not parts:
        return _done(empty, scope)
    rows = pd.concat([f[[c for c in cols if c in f.columns]] for f in parts], ignore_index=True)
    rows["snapshot_date"] = _dates(rows["snapshot_date"])
    rows = rows[rows["product_code"].astype(object).isin(cfg["products"]).to_numpy(bool)]
    rows = rows[(rows["snapshot_date"] >= pd.Timestamp(start)) & (rows["snapshot_date"] <= pd.Timestamp(as_of))]
    if rows.empty:
        return _done(empty, scope)
    rows = rows.sort_values(["loan_id", "snapshot_date"])
    latest_snapshot = rows["snapshot_date"].max()
    last = rows.drop_duplicates("loan_id", keep="last").set_index("loan_id")
    pos = rows[_f(rows["balance"]).fillna(0) > 0].drop_duplicates("loan_id", keep="last").set_index("loan_id")
    last = last[last.index.isin(pos.index)]
    pos = pos.reindex(last.index)
    maturity = _dates(pos["maturity_date"])
    status = last["status"].astype(object)
    ts = pd.Timestamp(as_of)
    live = status.isin(LIVE_LOANS) & (last["snapshot_date"] == ts) & (_f(last["balance"]).fillna(0) > 0)
    horizon = pd.Timestamp(months_before(as_of, -span))  # the month end `span` months ahead
    ahead = live & (maturity > ts) & (maturity <= horizon)
    gone = (last["snapshot_date"] < latest_snapshot) & (status != "S")
    ended = (status == "S") | gone
    shown = pd.to_datetime(
        np.where(gone, (last["snapshot_date"] + pd.offsets.MonthEnd(1)).to_numpy(), last["snapshot_date"].to_numpy())
    )
    shown = pd.Series(shown, index=last.index)
    end_ended = maturity.where((maturity > pos["snapshot_date"]) & (maturity <= shown), shown)
    end = maturity.where(ahead, end_ended.where(ended))
    keep = (ahead | (ended & (end >= pd.Timestamp(start)) & (end <= ts))).fillna(False)
    sel = last[keep.to_numpy(bool)]
    if sel.empty:
        return _done(empty, scope)
    end = end[keep]
    pay = _monthly_payment(
        pos.loc[sel.index, "balance"],
        pos.loc[sel.index, "interest_rate"],
        term_months(pos.loc[sel.index, "snapshot_date"], maturity[keep]),
    )
    per = pd.DataFrame(
        {
            "customer_id": sel["customer_id"].astype(object).to_numpy(),
            "end": end.to_numpy(),
            "distance": (end - ts).abs().dt.days.to_numpy(),
            "pay": pay.to_numpy(),
            "ended": (end <= ts).to_numpy(),
        }
    )
    per = per.sort_values(["customer_id", "distance", "end"])
    g = per.groupby("customer_id", sort=False)
    best = per.drop_duplicates("customer_id").set_index("customer_id")
    code = bank.codes(pd.Series(best.index))
    ok = code >= 0
    loan_end = pd.Series(pd.NaT, index=pd.RangeIndex(n), dtype="datetime64[ns]")
    loan_end.iloc[code[ok]] = pd.to_datetime(best["end"]).to_numpy()[ok]
    payment = np.zeros(n)
    payment[code[ok]] = g["pay"].sum().reindex(best.index).to_numpy()[ok]
    count = np.zeros(n)
    count[code[ok]] = g.size().reindex(best.index).to_numpy()[ok]
    was_ended = np.zeros(n)
    was_ended[code[ok]] = best["ended"].to_numpy(dtype="float64")[ok]
    has = np.zeros(n, dtype=bool)
    has[code[ok]] = True
    months_from = (loan_end - ts).abs().dt.days.to_numpy(dtype="float64") / 30.4375
    end64 = loan_end.to_numpy(dtype="datetime64[D]")
    deadline = np.where((loan_end > ts).to_numpy(), end64, np.datetime64("NaT", "D"))
    out = _rows(
        "MORTGAGE_END",
        bank,
        scope & has,
        1.0 - months_from / (span + 1),
        deadline,
        {
            "loan_end": (pd.Series(_iso(end64), dtype=object), "text"),
            "monthly_payment_freed": (payment, 2),
            "loans": (count, 0),
            "ended": (was_ended, 0),
        },
    )
    return _done(out, scope)


def large_inflow(inputs: NeedsInputs, config: dict[str, Any], as_of: dt.date | None = None, *, bank=None):
    """LARGE_INFLOW: in one of the last ``recent_months`` month ends, credits >= ``multiple`` x the customer's
    median month of the 12 month ends before it (>= ``min_months`` of them seen) and >= ``min_amount``; the
    largest such month. Deadline: ``deadline_days`` after that month end. Evidence: month (YYYY-MM), amount,
    multiple (null when the median month is 0), median_month."""
    cfg = config["needs"]["large_inflow"]
    bank = (bank or _bank(inputs, config)).subset(cfg)  # the customers in scope only
    months = _months(inputs, config)
    m, seen = _matrices(bank, inputs.flows, months, ["credits"])
    cr = m["credits"]
    n = len(bank.ids)
    scope = bank.everyone()
    best_amount = np.full(n, -np.inf)
    best_col = np.full(n, -1)
    best_mult = np.full(n, np.nan)
    best_med = np.full(n, np.nan)
    enough_last = np.zeros(n, dtype=bool)
    for r in range(int(cfg["recent_months"])):
        j = len(months) - 1 - r
        if j < 12:
            continue
        base = np.where(seen[:, j - 12 : j], cr[:, j - 12 : j], np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(base, axis=1)
        enough = seen[:, j - 12 : j].sum(axis=1) >= int(cfg["min_months"])
        if r == 0:
            enough_last = enough
        amount = np.where(seen[:, j], np.nan_to_num(cr[:, j]), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            mult = np.where(med > 0, np.round(amount / med, RATIO_DIGITS), np.inf)
        hit = enough & (amount >= float(cfg["min_amount"])) & (mult >= float(cfg["multiple"]))
        better = hit & (amount > best_amount)
        best_amount = np.where(better, amount, best_amount)
        best_col = np.where(better, j, best_col)
        best_mult = np.where(better, mult, best_mult)
        best_med = np.where(better, med, best_med)
    has = best_col >= 0
    months64 = np.array([*months, None], dtype="datetime64[D]")  # the last: NaT for customers without one
    month_ends = months64[np.where(has, best_col, len(months))]
    deadline = month_ends + np.timedelta64(int(cfg["deadline_days"]), "D")
    rows = _rows(
        "LARGE_INFLOW",
        bank,
        scope & has,
        best_mult / (2.0 * float(cfg["multiple"])),
        deadline,
        {
            "month": (pd.Series(_month_text(month_ends), dtype=object), "text"),
            "amount": (np.where(has, best_amount, np.nan), 2),
            "multiple": (np.where(np.isfinite(best_mult), best_mult, np.nan), 2),
            "median_month": (best_med, 2),
        },
    )
    return _done(rows, scope, scope & ~enough_last)


SIGNALS = {
    "MATURITY": maturity,
    "HEADROOM": headroom,
    "SEASONAL": seasonal,
    "GROWTH": growth,
    "CONCENTRATION": concentration,
    "PAYROLL_START": payroll_start,
    "MORTGAGE_END": mortgage_end,
    "LARGE_INFLOW": large_inflow,
}


def customer_needs(inputs: NeedsInputs, config: dict[str, Any], as_of: dt.date | None = None) -> NeedsResult:
    """Every need of :data:`NEEDS` at ``as_of`` (default the inputs' month end): the rows that fire with the
    customer's segment, branch_id, manager_id and key_account (from ``inputs.customers``, null when it lacks
    them), sorted by customer then need (the order of :data:`NEEDS`); per need the customers in scope and those
    that lacked the history (:class:`NeedsResult`)."""
    as_of = as_of or inputs.month_end
    bank = _bank(inputs, config)
    parts, in_scope, lacking = [], {}, {}
    for need, fn in SIGNALS.items():
        rows = fn(inputs, config, as_of, bank=bank)
        in_scope[need] = int(rows.attrs.get("in_scope", 0))
        lacking[need] = int(rows.attrs.get("lacking", 0))
        if len(rows):
            parts.append(rows)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    info = bank.frame.set_index("customer_id")
    for col in ("segment", "branch_id", "manager_id", "key_account"):
        out[col] = out["customer_id"].map(info[col]) if col in info.columns and len(out) else None
    order = {k: i for i, k in enumerate(NEEDS)}
    out = (
        out.assign(_o=out["need"].map(order))
        .sort_values(["customer_id", "_o"])
        .drop(columns="_o")
        .reset_index(drop=True)
    )
    return NeedsResult(needs=out[MART_COLUMNS], in_scope=in_scope, lacking=lacking)
