"""What the needs and preferences of a month end read from the staged zone and the marts:
:func:`load_needs_inputs` builds a :class:`crm.playbook.needs.NeedsInputs`.

Every staged input is read through DuckDB with only the columns used and the dates cut in the scan; the month-end
history (deposit_balances, txn_monthly: two years at a million customers is hundreds of millions of rows) is
aggregated there in one scan to one row per customer and month end (:func:`crm.playbook.needs.customer_months_sql`,
a temporary table), from which come the flows (:func:`crm.playbook.needs.flows_sql`) and the 12 months' figures
per customer (:func:`crm.playbook.needs.txn_12m_sql`); never loaded as rows. Months
older than the retail signals need are read only for the customers of the segments whose signals use them
(SEASONAL, GROWTH). A month end carried by two files (an initial load and a later file) is taken from the later
file, as :func:`crm.value.inputs.load_inputs` does. Inputs that are not there (an extract the bank does not
send yet, a history shorter than the signals want) come back empty; the signals then do not fire and count
the customers that lacked them. Only customer_value of the month end is required.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from crm.bank_calendar import month_end, months_before
from crm.playbook.needs import (
    FLOW_COLUMNS,
    TXN12_COLUMNS,
    TXN_COLUMNS,
    NeedsInputs,
    customer_months_sql,
    flows_sql,
    limits_from,
    txn_12m_sql,
)
from crm.value.inputs import MartSource, MissingInput, _mart, window_month_ends

VALUE_COLUMNS = [
    "customer_id",
    "value_segment",
    "branch_id",
    "manager_id",
    "key_account",
    "external_loan_balance",
    "debt_service_annual",
]
C360_COLUMNS = ["customer_id", "status", "annual_income", "enterprise_size"]
LOAN_COLUMNS = [
    "loan_id",
    "customer_id",
    "product_code",
    "contract_amount",
    "balance",
    "interest_rate",
    "rate_type",
    "start_date",
    "maturity_date",
    "repayment_method",
    "guarantee_type",
    "status",
]
STAGED = (
    "loans",
    "deposit_balances",
    "txn_monthly",
    "financial_statements",
    "corporates",
    "interactions",
    "surveys",
    "opportunities",
)


def _list(files: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in files) + "]"


class _Staged:
    """DuckDB over the staged zone for one month end."""

    def __init__(self, staged: Path, day: dt.date, memory_limit: str | None = None):
        import duckdb

        self.staged, self.day = Path(staged), day
        self.con = duckdb.connect(config={"memory_limit": memory_limit} if memory_limit else {})
        self.con.execute("SET enable_progress_bar = false")

    def close(self) -> None:
        self.con.close()

    def files(self, extract: str, *, since: dt.date | None = None, until: dt.date | None = None) -> list[Path]:
        from crm.zones import partitions

        return partitions(self.staged, extract, since=since, until=until or self.day)

    def columns(self, files: list[Path], wanted: list[str]) -> list[str]:
        import pyarrow.parquet as pq

        have = set().union(*(pq.read_schema(p).names for p in {files[0], files[-1]}))
        return [c for c in wanted if c in have]

    def source(self, files: list[Path]) -> str:
        return f"read_parquet({_list(files)}, union_by_name = true, filename = true)"

    def frame(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or {}).df()

    def coded(self, sql: str, columns: list[str]) -> pd.DataFrame:
        """The query's rows with ``columns`` as pandas categories (customer ids and month ends repeated over
        millions of customer-months: one object per distinct value, not per row)."""
        table = self.con.sql(sql).to_arrow_table()
        for name in columns:
            i = table.column_names.index(name)
            table = table.set_column(i, name, table.column(i).combine_chunks().dictionary_encode())
        return table.to_pandas()

    def select(self, files: list[Path], wanted: list[str]) -> str:
        """``SELECT`` of the wanted columns the files have, the others as NULL."""
        have = set(self.columns(files, wanted))
        return ", ".join(f'"{c}"' if c in have else f'NULL AS "{c}"' for c in wanted)

    def snapshot(self, extract: str, day: dt.date, wanted: list[str], where: str = "true") -> pd.DataFrame | None:
        """The partition of ``day`` of a daily snapshot (None when it is not there)."""
        from crm.zones import staged_file

        path = staged_file(self.staged, extract, day)
        if not path.exists():
            return None
        return self.frame(f"SELECT {self.select([path], wanted)} FROM {self.source([path])} WHERE {where}")

    def delta(
        self, extract: str, key: str, wanted: list[str], where: str, params: dict, where_columns: list[str]
    ) -> pd.DataFrame:
        """A delta extract's records up to the month end meeting ``where`` (on ``where_columns``), the latest row
        of each ``key``; empty when no partition is there or none has those columns."""
        files = self.files(extract)
        if not files:
            return pd.DataFrame(columns=wanted)
        have = self.columns(files, [key, *where_columns])
        if len(have) < 1 + len(where_columns):
            return pd.DataFrame(columns=wanted)
        order = (
            'filename DESC, "_row_number" DESC'
            if "_row_number" in self.columns(files, ["_row_number"])
            else "filename DESC"
        )
        sql = (
            f"SELECT {self.select(files, wanted)} FROM {self.source(files)} WHERE {where} "
            f'QUALIFY row_number() OVER (PARTITION BY "{key}" ORDER BY {order}) = 1'
        )
        return self.frame(sql, params)

    def month_end_rows(self, extract: str, months: list[dt.date], wanted: list[str], extra: str = "true") -> str | None:
        """A subquery of the month-end rows of ``months`` (a month end carried by two files: the later file's),
        or None when no partition holds them."""
        files = self.files(extract, since=months[0].replace(day=1))
        if not files:
            return None
        have = set(self.columns(files, ["snapshot_date", "customer_id"]))
        if not {"snapshot_date", "customer_id"} <= have:
            return None
        src = self.source(files)
        dates = ", ".join(f"DATE '{m.isoformat()}'" for m in months)
        owners = self.con.execute(
            f"SELECT snapshot_date, max(filename) AS f FROM {src} WHERE snapshot_date IN ({dates}) GROUP BY 1"
        ).fetchall()
        if not owners:
            return None
        keep = " OR ".join(
            f"(snapshot_date = DATE '{d.isoformat()}' AND filename = '{f.replace(chr(39), chr(39) * 2)}')"
            for d, f in owners
        )
        return f"(SELECT {self.select(files, wanted)} FROM {src} WHERE ({keep}) AND ({extra}))"


def _short_months(config: dict[str, Any]) -> int:
    """How many month ends the signals of every segment read (the others read ``[needs] history_months``
    only for the segments of SEASONAL and GROWTH)."""
    n = config["needs"]
    return max(
        int(n["payroll_start"]["recent_months"]) + int(n["payroll_start"]["prior_months"]),
        int(n["large_inflow"]["recent_months"]) + 12,
        int(n["concentration"]["months"]),
        int(config["preferences"]["months"]),
    )


def load_needs_inputs(
    staged: Path,
    day: dt.date,
    marts: MartSource,
    config: dict[str, Any],
    *,
    memory_limit: str | None = None,
) -> NeedsInputs:
    """The :class:`NeedsInputs` of month end ``day`` from the staged zone ``staged`` and the marts
    (``marts``: :data:`crm.value.inputs.MartSource`, customer_value and customer_360 of the month end).
    customer_value must have rows (:class:`crm.value.inputs.MissingInput` otherwise)."""
    day = month_end(day)
    value = _mart(marts, "customer_value", day, VALUE_COLUMNS)
    if value.empty:
        raise MissingInput(
            f"customer needs of {day}: customer_value has no rows for {day}: materialise marts/customer_value first"
        )
    c360 = _mart(marts, "customer_360", day, C360_COLUMNS)
    customers = value.rename(columns={"value_segment": "segment"})
    if len(c360):
        customers = customers.merge(c360.drop_duplicates("customer_id"), on="customer_id", how="left")
    for col in C360_COLUMNS:
        if col not in customers.columns:
            customers[col] = None

    s = _Staged(staged, day, memory_limit)
    try:
        corp = s.snapshot("corporates", day, ["customer_id", "annual_revenue"])
        if corp is not None and len(corp):
            customers = customers.merge(corp.drop_duplicates("customer_id"), on="customer_id", how="left")
        else:
            customers["annual_revenue"] = None
        loans = s.snapshot("loans", day, LOAN_COLUMNS)
        if loans is None:
            raise MissingInput(
                f"customer needs of {day}: staged/loans has no partition for {day}: run the daily pipeline first"
            )

        mc = config["needs"]["mortgage_end"]
        history = []
        for k in range(1, int(mc["months"]) + 1):
            me = month_end(months_before(day, k))
            products = ", ".join("'" + p + "'" for p in mc["products"])
            rows = s.snapshot(
                "loans",
                me,
                ["loan_id", "customer_id", "product_code", "balance", "interest_rate", "maturity_date", "status"],
                f"product_code IN ({products})",
            )
            if rows is not None:
                history.append(rows.assign(snapshot_date=me))
        loan_history = pd.concat(history, ignore_index=True) if history else pd.DataFrame()
        year_ago = s.snapshot("loans", month_end(months_before(day, 12)), ["customer_id", "contract_amount", "status"])
        limits_before = limits_from(year_ago) if year_ago is not None else None

        months = window_month_ends(day, int(config["needs"]["history_months"]))
        short = window_month_ends(day, _short_months(config))
        long_segments = sorted(
            set(config["needs"]["seasonal"]["segments"]) | set(config["needs"]["growth"]["segments"])
        )
        long_ids = customers.loc[customers["segment"].isin(long_segments), ["customer_id"]].astype(object)
        s.con.register("long_ids", long_ids)
        extra = (
            f"(snapshot_date >= DATE '{short[0].replace(day=1).isoformat()}' "
            "OR customer_id IN (SELECT customer_id FROM long_ids))"
        )
        dep = s.month_end_rows("deposit_balances", months, ["snapshot_date", "customer_id", "balance", "status"], extra)
        txn = s.month_end_rows("txn_monthly", months, list(TXN_COLUMNS), extra)
        empty_dep = "(SELECT NULL::VARCHAR AS customer_id, NULL::DATE AS snapshot_date, NULL::DOUBLE AS balance, NULL::VARCHAR AS status WHERE false)"
        empty_txn = (
            "(SELECT NULL::VARCHAR AS customer_id, NULL::DATE AS snapshot_date, NULL::VARCHAR AS txn_type, "
            "NULL::VARCHAR AS channel, NULL::VARCHAR AS direction, NULL::DOUBLE AS txn_count, NULL::DOUBLE AS amount, "
            "NULL::DOUBLE AS counterparty_count, NULL::DOUBLE AS top_counterparty_amount WHERE false)"
        )
        s.con.execute(f"CREATE TEMP TABLE cm AS {customer_months_sql(txn or empty_txn, config)}")
        flows = s.coded(flows_sql(dep or empty_dep, "cm"), ["customer_id", "month_end"])
        last12 = window_month_ends(day, int(config["preferences"]["months"]))
        txn_12m = s.frame(txn_12m_sql("cm", last12[0].replace(day=1)))
        s.con.execute("DROP TABLE cm")

        upto = {"day": day}
        start = pd.Timestamp(months_before(day, int(config["preferences"]["months"]))) + pd.Timedelta(days=1)
        window = {"start": start.to_pydatetime(), "next": pd.Timestamp(day + dt.timedelta(days=1)).to_pydatetime()}
        statements = s.delta(
            "financial_statements",
            "statement_id",
            ["customer_id", "statement_id", "report_period", "period_type", "received_date", "revenue", "total_assets"],
            "received_date <= $day",
            upto,
            ["received_date"],
        )
        interactions = s.delta(
            "interactions",
            "interaction_id",
            ["customer_id", "interaction_time", "channel"],
            "interaction_time >= $start AND interaction_time < $next",
            window,
            ["interaction_time"],
        )
        surveys = s.delta(
            "surveys",
            "survey_id",
            ["customer_id", "response_date", "rating_pricing"],
            "response_date >= $start AND response_date < $next AND rating_pricing IS NOT NULL",
            window,
            ["response_date", "rating_pricing"],
        )
        opportunities = s.delta(
            "opportunities",
            "opportunity_id",
            ["customer_id", "offered_date", "outcome", "outcome_date", "decline_reason"],
            "offered_date <= $day",
            upto,
            ["offered_date"],
        )
    finally:
        s.close()
    return NeedsInputs(
        month_end=day,
        customers=customers,
        loans=loans,
        flows=flows[FLOW_COLUMNS],
        txn_12m=txn_12m[TXN12_COLUMNS],
        loan_history=loan_history,
        limits_before=limits_before,
        statements=statements,
        interactions=interactions,
        surveys=surveys,
        opportunities=opportunities,
    )
