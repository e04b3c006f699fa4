"""What the customer-value assessment of a month end reads: :class:`ValueInputs`.

Every frame holds staged data only (tokens and masked values) or warehouse marts, never raw personal data.
Staged frames keep their lineage columns (``_source_file``, ``_row_number``, ``_sha256``) so that every
component of a customer's contribution can be traced to the records it came from (:mod:`crm.value.trace`).

The window of a month end ``M`` is the trailing twelve calendar months ``M-11 .. M`` (month ends
:func:`window_month_ends`); history frames are cut to it by their own date column.

:func:`load_inputs` builds them from the staged zone (DuckDB over the Parquet partitions: only the columns
used, the window's filters in the scan, no partition dated before the window opened) and the marts. Its
frames hold text as pandas' Arrow-backed ``str`` dtype (missing as NaN, comparisons give numpy booleans, as
object text), dates as ``datetime.date`` objects and timestamps as ``datetime64``, as ``pd.read_parquet``
gives them, and the lineage's ``_source_file`` and ``_sha256`` as categories.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

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
    - ``value_history``: the customer_value rows of the eleven month ends before (empty when none), with
      month_end and the columns of :data:`HISTORY_COLUMNS` the mart has: for the value trend (value score and
      contribution per month).

    Staged, cut to the window unless said otherwise:

    - ``loans``: the loans snapshot of the month end (rate, term, guarantee of each loan alive then).
    - ``loan_rates``: every loan's latest known ``interest_rate``, ``start_date``, ``maturity_date``,
      ``guarantee_type`` from the loans snapshots of the window's month ends and the installation's first
      snapshot when it lies in the window (a loan of a month-end loan_performance row is in that month end's
      snapshot, so a loan repaid within the window still has its own rate); one row per loan_id.
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


# ------------------------------------------------------------------------------------------- reading them

# The marts a month end's assessment reads, and how: ``MartSource`` is either a mapping of mart name to a frame
# holding a ``month_end`` column (tests), or a callable ``(name, month_end, columns) -> frame`` giving the rows of
# one month end with those columns (``None``: all; a column the mart lacks is left out), an empty frame when the
# mart holds none (the asset's reader over the warehouse).
MartReader = Callable[[str, dt.date, "list[str] | None"], pd.DataFrame]
MartSource = Mapping[str, pd.DataFrame] | MartReader

# value_history: what the trend needs of the month ends before (not the whole mart: 11 x a million rows)
HISTORY_COLUMNS = ["customer_id", "value_score", "contribution", "months_held"]
SCORE_COLUMNS = ["customer_id", "pd", "grade"]
EARLIER_MONTHS = 3  # ``earlier``: customer_360 this many month ends before

# The staged inputs (ValueInputs attribute -> extract) in the order they are read.
STAGED_INPUTS = {
    "loans": "loans",
    "loan_rates": "loans",
    "loan_performance": "loan_performance",
    "deposit_balances": "deposit_balances",
    "txn_monthly": "txn_monthly",
    "fee_ledger": "fee_ledger",
    "interactions": "interactions",
    "service_requests": "service_requests",
    "bureau_records": "bureau_records",
    "corporates": "corporates",
    "statements": "financial_statements",
}
STAGED_EXTRACTS = tuple(dict.fromkeys(STAGED_INPUTS.values()))
# The inputs that hold records of the window, priced one by one (crm.value.contribution): what a shard splits.
RECORD_INPUTS = (
    "loan_performance",
    "deposit_balances",
    "txn_monthly",
    "fee_ledger",
    "interactions",
    "service_requests",
)
LINEAGE = ["_source_file", "_row_number", "_sha256"]
LOAN_RATE_COLUMNS = ["interest_rate", "start_date", "maturity_date", "guarantee_type"]
# columns never read: free text (scrubbed at staging, but no use here) and masked personal fields
SKIPPED = {
    "loans": {"repay_card_no", "contract_id"},
    "interactions": {"notes"},
    "service_requests": {"description"},
    "corporates": {"company_name", "uscc", "legal_rep_name", "legal_rep_id_number", "registered_address"},
}


class MissingInput(FileNotFoundError):
    """A staged partition or a mart month that the month end's assessment needs is not there; the message
    names the input, the extract or mart and the date, and what to run."""


def _contract(extract: str):
    from crm.contract import BY_NAME

    return BY_NAME[extract]


def _empty(extract: str, columns: list[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in _Reader.wanted(extract, columns)})


class _Reader:
    """The staged partitions of one month end's window, read through DuckDB (column projection, filters pushed
    into the Parquet scan), handed to pandas through Arrow. Lineage file names and checksums come as pandas
    categories (one value per file, not per row)."""

    def __init__(
        self,
        staged: Path,
        day: dt.date,
        months: int,
        required: set[str],
        memory_limit: str | None,
        shard: tuple[int, int] | None = None,
    ):
        import duckdb

        self.staged, self.day, self.required = Path(staged), day, required
        # the customers of one shard: hash(customer_id) % n == k (DuckDB's hash, the same on every read)
        self.shard_sql = "true" if shard is None else f"hash(customer_id) % {int(shard[1])} = {int(shard[0])}"
        self.months = window_month_ends(day, months)
        self.start = self.months[0].replace(day=1)  # the window's first day
        for name in sorted(required):  # an input the contract does not send yet, before any file is looked for
            self._check_sent(STAGED_INPUTS[name], name)
        # large_string results: what pandas' Arrow-backed str dtype holds, so text is wrapped, not copied
        settings = {"arrow_large_buffer_size": True}
        self.con = duckdb.connect(config={**settings, **({"memory_limit": memory_limit} if memory_limit else {})})
        self.con.execute("SET enable_progress_bar = false")
        self._types = 0  # ENUM types made for lineage columns (:meth:`_enum`)

    def close(self) -> None:
        self.con.close()

    # -- files

    def _check_sent(self, extract: str, name: str) -> None:
        ex = _contract(extract)
        if not ex.sent_on(self.day):
            raise ValueError(
                f"customer value of {self.day}: input {name} needs staged/{extract}, which the bank sends from "
                f"{ex.since} only (the contract); assess a month end on or after it"
            )

    def files(self, extract: str, name: str, *, since: dt.date | None = None, need_day: bool = False) -> list[Path]:
        """The staged partitions of ``extract`` dated ``since``..the month end; a :class:`MissingInput` when the
        input is required and there is none (or, with ``need_day``, the month end's own is not there)."""
        from crm.zones import partitions, staged_file

        files = partitions(self.staged, extract, since=since, until=self.day)
        if name in self.required:
            if need_day and not staged_file(self.staged, extract, self.day).exists():
                raise MissingInput(
                    f"customer value of {self.day}: input {name} needs the staged/{extract} partition of {self.day}, "
                    f"which is not there: run the {'month-end' if _contract(extract).cadence == 'month_end' else 'daily'} "
                    f"pipeline for {self.day} first"
                )
            if not files and not partitions(self.staged, extract, until=self.day):
                raise MissingInput(
                    f"customer value of {self.day}: input {name} needs staged/{extract}, which has no partition on "
                    f"or before {self.day}: run the daily pipeline first"
                )
        return files

    @staticmethod
    def wanted(extract: str, wanted: list[str] | None = None) -> list[str]:
        """The columns an input keeps: ``wanted``, by default the contract's columns but :data:`SKIPPED`, then
        the lineage."""
        if wanted is not None:
            return wanted
        skip = SKIPPED.get(extract, set())
        return [c for c in _contract(extract).column_names if c not in skip] + LINEAGE

    def complete(self, frame: pd.DataFrame, extract: str, wanted: list[str] | None = None) -> pd.DataFrame:
        """``frame`` with every wanted column, one no file holds added as nulls in its place (in place)."""
        names = self.wanted(extract, wanted)
        for i, c in enumerate(names):
            if c not in frame.columns:
                frame.insert(min(i, len(frame.columns)), c, pd.Series(None, index=frame.index, dtype="object"))
        return frame

    def columns(self, files: list[Path], extract: str, wanted: list[str] | None = None) -> list[str]:
        """The wanted columns (:meth:`wanted`) that the first or the last file holds (staging writes the contract's columns of the file's date into every file; a file
        without one gives nulls). Two footers are read, not one per daily file."""
        import pyarrow.parquet as pq

        have = set().union(*(pq.read_schema(p).names for p in {files[0], files[-1]}))
        return [c for c in self.wanted(extract, wanted) if c in have]

    # -- queries

    def arrow(self, sql: str, params: dict | None = None):
        return self.con.sql(sql, params=params or {}).to_arrow_table()

    @staticmethod
    def pandas(table) -> pd.DataFrame:
        """``table`` as pandas: text as pandas' Arrow-backed ``str`` dtype (NaN for missing, comparisons give
        numpy booleans, as object text does; a tenth of its memory for codes), the lineage's file name and
        checksum as categories (one value per file), dates as ``datetime.date`` objects as ``pd.read_parquet``
        gives them, but one object per distinct date shared by its rows (a pointer per row, not an object:
        twelve month ends over millions of rows)."""
        import numpy as np
        import pyarrow as pa

        dates = {}
        for i, field in enumerate(table.schema):
            if field.name in ("_source_file", "_sha256") and (
                pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
            ):
                table = table.set_column(i, field.name, table.column(i).dictionary_encode())
            elif pa.types.is_date32(field.type):
                dates[field.name] = table.column(i).combine_chunks().dictionary_encode()
        text = pd.StringDtype("pyarrow", na_value=np.nan)
        names, rest = table.column_names, table.drop_columns(list(dates))
        del table
        frame = rest.to_pandas(types_mapper={pa.string(): text, pa.large_string(): text}.get, split_blocks=True)
        del rest
        for name in [n for n in names if n in dates]:  # in place, in the table's column order (no copy)
            encoded = dates[name]
            values = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
            codes = encoded.indices.fill_null(len(encoded.dictionary)).to_numpy(zero_copy_only=False)
            frame.insert(names.index(name), name, values[codes])
        return frame

    def frame(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        return self.pandas(self.arrow(sql, params))

    @staticmethod
    def _list(files: list[Path]) -> str:
        return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in files) + "]"

    def _enum(self, files: list[Path], col: str) -> str | None:
        """A DuckDB ENUM of the values of lineage column ``col`` in ``files`` (a few per file), or None when
        there is none: the column is read as that type, which reaches Arrow as a dictionary and pandas as a
        category, so a file name or checksum is not repeated on every row on the way (at 7 million rows the
        checksums alone would be 0.5 GB)."""
        source = f"read_parquet({self._list(files)}, union_by_name = true)"
        values = [
            v for (v,) in self.con.sql(f'SELECT DISTINCT "{col}" FROM {source} WHERE "{col}" IS NOT NULL').fetchall()
        ]
        if not values:
            return None
        self._types += 1
        name = f"_lineage_{self._types}"
        quoted = ", ".join("'" + str(v).replace("'", "''") + "'" for v in sorted(values))
        self.con.execute(f"CREATE TYPE {name} AS ENUM ({quoted})")
        return name

    def _scan(self, files: list[Path], cols: list[str], with_file: bool = False) -> str:
        exprs = []
        for c in cols:
            kind = self._enum(files, c) if c in ("_source_file", "_sha256") else None
            exprs.append(f'CAST("{c}" AS {kind}) AS "{c}"' if kind else f'"{c}"')
        source = f"read_parquet({self._list(files)}, union_by_name = true, filename = true)"
        return f"SELECT {', '.join(exprs)}{', filename' if with_file else ''} FROM {source}"

    def month_end_rows(self, extract: str, name: str, wanted: list[str] | None = None) -> pd.DataFrame:
        """A month-end snapshot's rows with snapshot_date in the window. Any partition may carry several month
        ends (the first one the initial load), so the rows are cut by snapshot_date, not by file; a month end
        carried by two files is taken from the later one."""
        self.files(extract, name, need_day=True)
        files = self.files(extract, name, since=self.start)
        if not files:
            return _empty(extract, wanted)
        cols = self.columns(files, extract, wanted)
        where = f"snapshot_date BETWEEN $start AND $day AND ({self.shard_sql})"
        params = {"start": self.start, "day": self.day}
        owners = self.con.sql(
            f"SELECT snapshot_date, count(DISTINCT filename) AS n, max(filename) AS f "
            f"FROM ({self._scan(files, ['snapshot_date', 'customer_id'], True)}) WHERE {where} GROUP BY snapshot_date",
            params=params,
        ).fetchall()
        if all(n == 1 for _, n, _ in owners):
            return self.complete(self.frame(f"{self._scan(files, cols)} WHERE {where}", params), extract, wanted)
        by_file: dict[str, list[dt.date]] = {}
        for snapshot, _, f in owners:
            by_file.setdefault(f, []).append(snapshot)
        keep = " OR ".join(
            f"(filename = '{f.replace(chr(39), chr(39) * 2)}' AND snapshot_date IN "
            f"({', '.join(repr(d.isoformat()) + '::DATE' for d in dates)}))"
            for f, dates in sorted(by_file.items())
        )
        sql = f"SELECT * EXCLUDE (filename) FROM ({self._scan(files, cols, True)}) WHERE {where} AND ({keep})"
        return self.complete(self.frame(sql, params), extract, wanted)

    def delta_rows(
        self,
        extract: str,
        name: str,
        *,
        since: dt.date | None,
        where: str = "true",
        params: dict | None = None,
        wanted: list[str] | None = None,
        whole: bool = False,
    ) -> pd.DataFrame:
        """A delta extract's records in partitions dated ``since``..the month end that meet ``where`` (and, unless
        ``whole``, belong to the reader's shard); a record (the contract's key) sent again later is taken from its
        latest file (its latest row there)."""
        files = self.files(extract, name, since=since)
        if not files:
            return _empty(extract, wanted)
        cols = self.columns(files, extract, wanted)
        keys = list(_contract(extract).key)
        scan = self._scan(files, [*dict.fromkeys([*cols, *keys, "_row_number"])], True)
        shard = "true" if whole else self.shard_sql
        table = self.arrow(f"SELECT * FROM ({scan}) WHERE ({where}) AND ({shard})", params)
        if len(keys) == 1:
            import pyarrow.compute as pc

            # no row: unique (and a key column of no row may come typed null, which count_distinct refuses)
            unique = table.num_rows == 0 or pc.count_distinct(table[keys[0]], mode="all").as_py() == table.num_rows
        else:
            unique = table.num_rows == 0 or table.group_by(keys).aggregate([]).num_rows == table.num_rows
        if not unique:  # the latest row of each record: its latest file, its last row there; in file order
            key = ", ".join(f'"{k}"' for k in keys)
            self.con.register("_records", table)
            table = self.arrow(
                f"SELECT * FROM _records QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY filename DESC, "
                '"_row_number" DESC) = 1 ORDER BY filename, "_row_number"'
            )
            self.con.unregister("_records")
        return self.complete(self.pandas(table.select(cols)), extract, wanted)

    def snapshot(self, extract: str, name: str) -> pd.DataFrame:
        """A daily snapshot's partition of the month end itself."""
        files = self.files(extract, name, since=self.day, need_day=True)
        if not files:
            return _empty(extract)
        return self.complete(self.frame(self._scan(files, self.columns(files, extract))), extract)

    def loan_rates(self) -> pd.DataFrame:
        """Every loan's latest ``interest_rate``, ``start_date``, ``maturity_date``, ``guarantee_type`` from the
        loans snapshots of the window's month ends (and the first staged snapshot when it lies inside the window:
        an installation's loans repaid before its first month end). A loan of loan_performance within the window
        is alive at one of those month ends, so is in one of them. One aggregate over 5 columns, no frame per
        day."""
        every = self.files("loans", "loan_rates")
        month_ends = set(self.months)
        files = [p for p in every if dt.date.fromisoformat(p.stem) in month_ends]
        if every and self.start <= dt.date.fromisoformat(every[0].stem) and every[0] not in files:
            files.insert(0, every[0])
        cols = ["loan_id", *LOAN_RATE_COLUMNS]
        if not files:
            return _empty("loans", cols)
        cols = self.columns(files, "loans", cols)
        latest = ", ".join(f'arg_max("{c}", filename) AS "{c}"' for c in cols if c != "loan_id")
        return self.frame(
            f"SELECT loan_id, {latest} FROM ({self._scan(files, cols, True)}) GROUP BY loan_id ORDER BY loan_id"
        )


def _records(r: _Reader, day: dt.date) -> dict[str, pd.DataFrame]:
    """The record inputs (:data:`RECORD_INPUTS`) of the reader's window and shard."""
    window = {"start": r.start, "day": day}
    after = {"start": r.start, "next": day + dt.timedelta(days=1)}
    return dict(
        loan_performance=r.month_end_rows(
            "loan_performance",
            "loan_performance",
            ["snapshot_date", "loan_id", "customer_id", "product_code", "balance", "status", *LINEAGE],
        ),
        deposit_balances=r.month_end_rows("deposit_balances", "deposit_balances"),
        txn_monthly=r.month_end_rows("txn_monthly", "txn_monthly"),
        fee_ledger=r.delta_rows(
            "fee_ledger", "fee_ledger", since=r.start, where="fee_date BETWEEN $start AND $day", params=window
        ),
        interactions=r.delta_rows(
            "interactions",
            "interactions",
            since=r.start,
            where="interaction_time >= $start AND interaction_time < $next",
            params=after,
        ),
        service_requests=r.delta_rows(
            "service_requests",
            "service_requests",
            since=r.start,
            where="opened_time >= $start AND opened_time < $next",
            params=after,
        ),
    )


def _no_records() -> dict[str, pd.DataFrame]:
    """The record inputs, empty (their columns as :func:`_records` reads them)."""
    out = {name: _empty(name) for name in RECORD_INPUTS if name != "loan_performance"}
    out["loan_performance"] = _empty(
        "loan_performance", ["snapshot_date", "loan_id", "customer_id", "product_code", "balance", "status", *LINEAGE]
    )
    return out


def _mart(marts: MartSource, name: str, month_end: dt.date, columns: list[str] | None = None) -> pd.DataFrame:
    if callable(marts):
        out = marts(name, month_end, columns)
    else:
        frame = marts.get(name)
        if frame is None or frame.empty:
            return pd.DataFrame(columns=columns or [])
        out = frame[pd.to_datetime(frame["month_end"]).dt.date == month_end]
        if columns is not None:
            out = out[[c for c in columns if c in out.columns]]
    return out.reset_index(drop=True)


def load_inputs(
    staged: Path,
    day: dt.date,
    marts: MartSource,
    *,
    months: int = WINDOW_MONTHS,
    required: Collection[str] | None = None,
    memory_limit: str | None = None,
    shard: tuple[int, int] | None = None,
    records_only: bool = False,
    records: bool = True,
) -> ValueInputs:
    """The :class:`ValueInputs` of month end ``day``: the marts from ``marts`` (:data:`MartSource`), the staged
    extracts from ``staged`` (the staged zone's folder) cut to the window of ``months`` month ends.

    Staged partitions are read through DuckDB with only the columns used and the window's filters pushed into
    the scan; partitions dated before the window are not opened (their rows all lie before it), except where
    the input reaches back further (loans' first snapshot, bureau pulls, financial statements).

    ``required``: the staged inputs (:data:`STAGED_INPUTS` names) that must be there (default: all). A
    required one that is missing raises :class:`MissingInput` (a ``FileNotFoundError``) naming the input, the
    extract and the date; one the contract sends only from a later date a ``ValueError``; one not required
    comes back empty. customer_360 of the month end must have rows (:class:`MissingInput` otherwise); the
    other marts may be empty (a bank too small for a scorecard, the first month ends).

    ``shard`` = (k, n): the record inputs (:data:`RECORD_INPUTS`) only for the customers of shard k of n
    (DuckDB ``hash(customer_id) % n == k``), every other input whole: :func:`load_record_shards` reads a big
    bank's records one shard at a time. ``records_only``: read the record inputs only (the marts and the other
    staged inputs come back empty); ``records`` False: the record inputs come back empty (read them with
    :func:`load_record_shards`)."""
    from crm.bank_calendar import month_end, months_before

    day = month_end(day)
    required = set(STAGED_INPUTS) if required is None else set(required)
    unknown = required - set(STAGED_INPUTS)
    if unknown:
        raise ValueError(f"unknown value inputs {sorted(unknown)}: the inputs are {sorted(STAGED_INPUTS)}")

    if records_only:
        r = _Reader(staged, day, months, required & set(RECORD_INPUTS), memory_limit, shard)
        try:
            return ValueInputs(
                month_end=day,
                c360=pd.DataFrame(),
                earlier=pd.DataFrame(),
                scores=pd.DataFrame(columns=SCORE_COLUMNS),
                value_history=pd.DataFrame(columns=[*HISTORY_COLUMNS, "month_end"]),
                loans=_empty("loans"),
                loan_rates=_empty("loans", ["loan_id", *LOAN_RATE_COLUMNS]),
                bureau_records=_empty("bureau_records"),
                corporates=_empty("corporates"),
                statements=_empty("financial_statements"),
                records_since=None,
                **_records(r, day),
            )
        finally:
            r.close()
    c360 = _mart(marts, "customer_360", day)
    if c360.empty:
        raise MissingInput(
            f"customer value of {day}: customer_360 has no rows for {day}: materialise marts/customer_360 first"
        )
    earlier = _mart(marts, "customer_360", months_before(day, EARLIER_MONTHS))
    scores = _mart(marts, "credit_scores", day, SCORE_COLUMNS)
    history = [
        _mart(marts, "customer_value", m, HISTORY_COLUMNS).assign(month_end=m)
        for m in window_month_ends(day, months)[:-1]
    ]
    history = [h for h in history if not h.empty]
    value_history = (
        pd.concat(history, ignore_index=True) if history else pd.DataFrame(columns=[*HISTORY_COLUMNS, "month_end"])
    )

    r = _Reader(staged, day, months, required, memory_limit, shard)
    try:
        upto = {"day": day}
        first_interaction = r.files("interactions", "interactions")
        return ValueInputs(
            month_end=day,
            c360=c360,
            earlier=earlier,
            scores=scores,
            value_history=value_history,
            loans=r.snapshot("loans", "loans"),
            loan_rates=r.loan_rates(),
            **(_records(r, day) if records else _no_records()),
            bureau_records=r.delta_rows(
                "bureau_records", "bureau_records", since=None, where="query_date <= $day", params=upto, whole=True
            ),
            corporates=r.snapshot("corporates", "corporates"),
            statements=r.delta_rows(
                "financial_statements",
                "statements",
                since=None,
                where="received_date <= $day",
                params=upto,
                whole=True,
            ),
            records_since=dt.date.fromisoformat(first_interaction[0].stem) if first_interaction else None,
        )
    finally:
        r.close()


def shard_count(customers: int, customers_per_shard: int) -> int:
    """How many shards a bank of ``customers`` is priced in: one per ``customers_per_shard`` started."""
    if customers_per_shard < 1:
        raise ValueError("customers_per_shard must be at least 1")
    return max(1, -(-int(customers) // int(customers_per_shard)))


def load_record_shards(
    staged: Path,
    day: dt.date,
    shards: int,
    *,
    months: int = WINDOW_MONTHS,
    required: Collection[str] | None = None,
    memory_limit: str | None = None,
):
    """One :class:`ValueInputs` per shard of ``shards`` (an iterator: one shard in memory at a time) holding the
    record inputs (:data:`RECORD_INPUTS`) of that shard's customers; every other input is left empty. Every
    customer's records are in exactly one shard, so the per-customer sums of the shards are the whole's."""
    required = set(STAGED_INPUTS) if required is None else set(required)
    for k in range(shards):
        inputs = load_inputs(
            staged,
            day,
            {},
            months=months,
            required=required & set(RECORD_INPUTS),
            memory_limit=memory_limit,
            shard=(k, shards),
            records_only=True,
        )
        yield inputs
