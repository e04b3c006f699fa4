"""What the churn model and scores of a month end read from the staged zone: :func:`load_churn_history` builds
a :class:`crm.playbook.churn.ChurnHistory` as of the month end.

The month-end history (deposit_balances, txn_monthly, loan_performance) is aggregated by DuckDB in the scan to
one row per customer and month end (a month end carried by two files: the later file's rows, as the value and
needs inputs do); never loaded as account rows. Snapshots (customers, corporates, product_holdings, coverage)
are the partition of the month end (or the latest before it); the customer status at earlier month ends comes
from the customer masters' month-end partitions the staged zone holds (the run's range). Delta extracts
(service_requests, surveys) are every partition up to the month end, the latest record per key;
``requests_since`` is the first day the service-request partitions cover (complaint features of windows that
start earlier are missing, not zero). Records dated after the month end are never read.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from crm.bank_calendar import month_end, months_before
from crm.playbook.churn import ChurnHistory, history_from_frames
from crm.zones import latest_partition, partition_date, partitions, staged_file

_BUCKETS = 1_000_000


def _list(files: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in files) + "]"


def _monthly_sql(con, files: list[Path], value: str, where: str = "true") -> pd.DataFrame:
    """customer_id, snapshot_date, sum(value) per customer and month end, from the latest file carrying the
    month end (the join with ``o``)."""
    if not files:
        return pd.DataFrame(columns=["customer_id", "snapshot_date", value])
    src = f"read_parquet({_list(files)}, union_by_name = true, filename = true)"
    sql = (
        f"WITH r AS (SELECT customer_id, CAST(snapshot_date AS DATE) AS snapshot_date, {value} AS v, filename "
        f"FROM {src} WHERE {where}), o AS (SELECT snapshot_date, max(filename) AS f FROM r GROUP BY 1) "
        f"SELECT r.customer_id, r.snapshot_date, sum(r.v) AS {value} "
        "FROM r JOIN o ON r.snapshot_date = o.snapshot_date AND r.filename = o.f GROUP BY 1, 2"
    )
    return con.execute(sql).df()


def _snapshot(staged: Path, extract: str, day: dt.date, columns: list[str]) -> pd.DataFrame | None:
    try:
        path = latest_partition(staged_file(staged, extract, day))
    except FileNotFoundError:
        return None
    import pyarrow.parquet as pq

    have = set(pq.read_schema(path).names)
    return pd.read_parquet(path, columns=[c for c in columns if c in have])


def _delta(
    staged: Path, extract: str, day: dt.date, key: str, columns: list[str]
) -> tuple[pd.DataFrame | None, dt.date | None]:
    files = partitions(staged, extract, until=day)
    if not files:
        return None, None
    frames = [pd.read_parquet(p, columns=[key, *columns]) for p in files]
    frame = pd.concat(frames, ignore_index=True).drop_duplicates(key, keep="last")
    return frame, partition_date(files[0])


def _share(con, files: list[Path], max_customers: int | None) -> float:
    """The share of customers to keep so that about ``max_customers`` remain (1.0: all)."""
    if not max_customers or not files:
        return 1.0
    n = con.execute(f"SELECT count(DISTINCT customer_id) FROM read_parquet({_list(files)}, union_by_name = true)")
    count = int(n.fetchone()[0])
    return 1.0 if count <= max_customers else max_customers / count


def load_churn_history(
    staged: Path,
    day: dt.date,
    memory_limit: str | None = None,
    *,
    max_customers: int | None = None,
    months: int | None = None,
) -> ChurnHistory:
    """The churn history as of month end ``day`` from the staged zone (module docstring). ``max_customers``:
    read the month-end history of about that many customers only, drawn in the scan by a hash of their token
    (the development sample of a large bank); ``months``: only the last ``months`` month ends (scoring)."""
    import duckdb

    day = month_end(day)
    con = duckdb.connect(config={"memory_limit": memory_limit} if memory_limit else {})
    con.execute("SET enable_progress_bar = false")
    try:
        dep_files = partitions(staged, "deposit_balances", until=day)
        share = _share(con, dep_files, max_customers)
        cond = ["true"]
        if share < 1:
            cond.append(f"hash(customer_id) % {_BUCKETS} < {max(1, round(share * _BUCKETS))}")
        if months:
            first = month_end(months_before(day, months - 1))
            cond.append(f"CAST(snapshot_date AS DATE) >= DATE '{first.isoformat()}'")
        where = " AND ".join(cond)
        dep = _monthly_sql(con, dep_files, "balance", where)
        txn = _monthly_sql(con, partitions(staged, "txn_monthly", until=day), "txn_count", where)
        perf = _monthly_sql(
            con,
            partitions(staged, "loan_performance", until=day),
            "balance",
            f"status NOT IN ('S', 'W') AND {where}",
        )
    finally:
        con.close()
    if dep.empty and txn.empty:
        raise FileNotFoundError(
            f"churn history of {day}: no staged deposit_balances or txn_monthly partition on or before {day}"
        )
    customers = _snapshot(staged, "customers", day, ["customer_id", "onboarding_date", "status"])
    if customers is None:
        raise FileNotFoundError(f"churn history of {day}: no staged customers partition on or before {day}")
    corporates = _snapshot(staged, "corporates", day, ["customer_id", "onboarding_date", "status"])
    months = sorted(
        set(pd.to_datetime(dep["snapshot_date"]).dt.date) | set(pd.to_datetime(txn["snapshot_date"]).dt.date)
    )
    status = []
    for extract in ("customers", "corporates"):
        for m in months:
            path = staged_file(staged, extract, m)
            if path.exists():
                s = pd.read_parquet(path, columns=["customer_id", "status"])
                status.append(s[s["status"].isin(["C", "D"])].assign(month_end=m))
    holdings = _snapshot(staged, "product_holdings", day, ["customer_id", "open_date", "close_date"])
    requests, since = _delta(staged, "service_requests", day, "request_id", ["customer_id", "opened_time", "category"])
    surveys, _ = _delta(staged, "surveys", day, "survey_id", ["customer_id", "response_date", "csat", "nps"])
    coverage = _snapshot(staged, "coverage", day, ["customer_id", "staff_id", "role", "from_date", "to_date"])
    if requests is not None:
        requests = requests[pd.to_datetime(requests["opened_time"]) < pd.Timestamp(day + dt.timedelta(days=1))]
    return history_from_frames(
        deposit_balances=dep.rename(columns={}),
        txn_monthly=txn,
        loan_performance=perf.assign(status="N"),
        customers=customers,
        corporates=corporates,
        status=pd.concat(status, ignore_index=True) if status else None,
        holdings=holdings,
        requests=requests,
        requests_since=since,
        surveys=surveys,
        coverage=coverage,
    )
