"""Where the customer stands outside the bank: share of wallet (credit bureau) and industry position
(financial statements against peers and an external benchmark). Config sections ``[wallet]`` and
``[industry]``; formulas in docs/playbook.md."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crm.value.contribution import term_months

BENCHMARK_COLUMNS = ["version", "industry", "enterprise_size", "revenue_median", "total_assets_median"]


def annuity_annual(balance: np.ndarray, rate: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Payments over the next 12 months of ``balance`` repaid as an annuity at annual ``rate`` over ``months``
    (at least 1): 12 payments, or all of them when fewer remain."""
    b = np.asarray(balance, dtype="float64")
    r = np.asarray(rate, dtype="float64") / 12.0
    n = np.maximum(np.asarray(months, dtype="float64"), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pay = np.where(r > 0, b * r / (1.0 - (1.0 + r) ** (-n)), b / n)
    return pay * np.minimum(n, 12.0)


def latest_bureau(bureau: pd.DataFrame, month_end: dt.date, staleness_days: int) -> pd.DataFrame:
    """Per customer the latest pull with query_date in [month_end - staleness_days, month_end] (indexed by
    customer_id): bureau_query_date, bureau_age_days, external_loan_balance, external_loan_count."""
    cols = ["bureau_query_date", "bureau_age_days", "external_loan_balance", "external_loan_count"]
    if bureau is None or bureau.empty:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="customer_id"))
    b = bureau[["customer_id", "report_id", "query_date", "external_loan_balance", "external_loan_count"]].copy()
    b["query_date"] = pd.to_datetime(b["query_date"], errors="coerce")
    end = pd.Timestamp(month_end)
    b = b[(b["query_date"] <= end) & (b["query_date"] >= end - pd.Timedelta(days=int(staleness_days)))]
    b = b.sort_values(["customer_id", "query_date", "report_id"]).drop_duplicates("customer_id", keep="last")
    out = pd.DataFrame(
        {
            "bureau_query_date": b["query_date"].dt.date.to_numpy(),
            "bureau_age_days": (end - b["query_date"]).dt.days.to_numpy(dtype="int64"),
            "external_loan_balance": pd.to_numeric(b["external_loan_balance"], errors="coerce").to_numpy("float64"),
            "external_loan_count": pd.to_numeric(b["external_loan_count"], errors="coerce").to_numpy("float64"),
        },
        index=pd.Index(b["customer_id"].to_numpy(), name="customer_id"),
    )
    return out


# The columns :func:`share_of_wallet` gives (after customer_id), in the mart's order.
WALLET_COLUMNS = (
    "bureau_query_date",
    "bureau_age_days",
    "external_loan_balance",
    "external_loan_count",
    "total_debt",
    "wallet_share",
    "main_bank",
    "wallet_headroom",
    "debt_service_annual",
    "dsti",
)
# The columns :func:`industry_position` gives (after customer_id), in the mart's order.
INDUSTRY_COLUMNS = (
    "industry",
    "industry_region",
    "industry_peers",
    "revenue",
    "total_assets",
    "revenue_growth",
    "industry_rank_revenue",
    "industry_rank_assets",
    "industry_rank_growth",
    "bench_revenue_ratio",
    "bench_assets_ratio",
    "industry_position",
    "benchmark_version",
)


def share_of_wallet(
    c360: pd.DataFrame,
    month_end: dt.date,
    last_month_loans: pd.DataFrame,
    bureau: pd.DataFrame,
    config: dict[str, Any],
) -> pd.DataFrame:
    """One row per customer of ``c360`` (same order): the bureau columns, total_debt, wallet_share, main_bank,
    wallet_headroom, debt_service_annual and dsti.

    ``last_month_loans``: the priced loan records of the month end (:func:`crm.value.contribution.loan_records`
    with _month the last), giving our balance, own rate and maturity per loan. Unknown share of wallet (no
    usable pull): external figures, total_debt, wallet_share, wallet_headroom, debt_service_annual, dsti NaN
    and main_bank NA (our own debt service alone would understate it). dsti for retail customers with an
    ``annual_income`` > 0 in ``c360`` only."""
    wc = config["wallet"]
    ids = c360["customer_id"]
    lm = last_month_loans
    rate = (pd.to_numeric(lm["interest_rate"], errors="coerce") / 100.0).fillna(float(wc["assumed_rate"]))
    remaining = term_months(pd.Series(pd.Timestamp(month_end), index=lm.index), lm["maturity_date"])
    remaining = remaining.fillna(float(wc["assumed_term_months"])).clip(lower=1)
    service = annuity_annual(lm["balance"].to_numpy(), rate.to_numpy(), remaining.to_numpy())
    by = pd.DataFrame({"ours": lm["balance"].to_numpy("float64"), "service": service}).groupby(
        lm["customer_id"].to_numpy()
    )
    ours_all = by.sum()
    ours = ids.map(ours_all["ours"]).fillna(0.0).astype("float64")
    our_service = ids.map(ours_all["service"]).fillna(0.0).astype("float64")

    pull = latest_bureau(bureau, month_end, wc["staleness_days"])
    out = pd.DataFrame({"customer_id": ids})
    for col in pull.columns:
        out[col] = ids.map(pull[col])
    out["bureau_age_days"] = out["bureau_age_days"].astype("Int64")
    out["external_loan_count"] = out["external_loan_count"].astype("Int64")
    ext = out["external_loan_balance"].astype("float64")
    known = out["bureau_query_date"].notna() & ext.notna()
    out["total_debt"] = (ours + ext).where(known)
    out["wallet_share"] = (ours / out["total_debt"]).where(known & (out["total_debt"] > 0))
    no_external = (ext == 0) & (out["external_loan_count"].fillna(0) == 0)
    main = (out["wallet_share"] >= float(wc["main_bank_share"])) | no_external
    out["main_bank"] = pd.array(np.where(known, main.fillna(False), pd.NA), dtype="boolean")
    out["wallet_headroom"] = (ext * float(wc["winnable_share"])).where(known)
    ext_service = annuity_annual(
        ext.fillna(0.0).to_numpy(),
        np.full(len(out), float(wc["assumed_rate"])),
        np.full(len(out), float(wc["assumed_term_months"])),
    )
    out["debt_service_annual"] = (our_service + ext_service).where(known)
    income = (
        pd.to_numeric(c360["annual_income"], errors="coerce").astype("float64")
        if "annual_income" in c360.columns
        else pd.Series(np.nan, index=c360.index)
    )
    retail = (c360["segment"] == "retail").to_numpy()
    out["dsti"] = (out["debt_service_annual"] / income.where(income > 0).to_numpy()).where(retail)
    for col in ("total_debt", "wallet_headroom", "debt_service_annual"):
        out[col] = out[col].round(2)
    return out


def load_benchmarks(config: dict[str, Any], folder: Path | None = None) -> pd.DataFrame:
    """The external benchmark table named by ``[industry] benchmark_file`` (empty when "" or absent)."""
    name = config["industry"].get("benchmark_file", "")
    path = (folder or Path(__file__).parent) / name if name else None
    if path is None or not path.exists():
        return pd.DataFrame(columns=BENCHMARK_COLUMNS)
    table = pd.read_csv(path, comment="#", dtype={"version": str, "industry": str, "enterprise_size": str})
    missing = [c for c in BENCHMARK_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path.name} lacks the columns {missing}")
    return table[BENCHMARK_COLUMNS]


def _latest_statements(statements: pd.DataFrame, month_end: dt.date) -> pd.DataFrame:
    """Per customer the latest annual statement received by ``month_end`` (else the latest of any type),
    with the revenue of the statement of the same type one year earlier (prior_revenue)."""
    cols = ["customer_id", "statement_id", "report_period", "period_type", "received_date", "revenue", "total_assets"]
    st = statements[cols].copy()
    st["received_date"] = pd.to_datetime(st["received_date"], errors="coerce")
    st = st[st["received_date"] <= pd.Timestamp(month_end)]
    st["report_period"] = pd.to_datetime(st["report_period"], errors="coerce")
    st["_annual"] = (st["period_type"].astype(str) == "A").astype("int8")
    st = st.sort_values(["customer_id", "_annual", "report_period", "received_date", "statement_id"])
    chosen = st.drop_duplicates("customer_id", keep="last").copy()
    # the same type's statement of the period a year before (latest received when restated)
    key = st["report_period"].dt.year * 12 + st["report_period"].dt.month
    prior = st.assign(_key=key + 12).drop_duplicates(["customer_id", "period_type", "_key"], keep="last")
    prior = prior.set_index(["customer_id", "period_type", "_key"])["revenue"]
    chosen["_key"] = chosen["report_period"].dt.year * 12 + chosen["report_period"].dt.month
    idx = pd.MultiIndex.from_frame(chosen[["customer_id", "period_type", "_key"]])
    chosen["prior_revenue"] = pd.to_numeric(prior.reindex(idx), errors="coerce").to_numpy("float64")
    return chosen.drop(columns=["_annual", "_key"])


def industry_position(
    c360: pd.DataFrame,
    corporates: pd.DataFrame,
    statements: pd.DataFrame,
    month_end: dt.date,
    config: dict[str, Any],
    benchmarks: pd.DataFrame,
) -> pd.DataFrame:
    """One row per customer of ``c360`` (same order): industry, industry_region, industry_peers, revenue,
    total_assets, revenue_growth, industry_rank_revenue, industry_rank_assets, industry_rank_growth,
    bench_revenue_ratio, bench_assets_ratio, industry_position, benchmark_version; null for retail customers.

    Peers are the bank's corporate customers of ``c360`` with a statement, grouped by industry and province
    (``corporates``); a group of fewer than ``min_peers`` falls back to the industry in all provinces
    (industry_region null). Ranks are ``rank(pct=True, method="average")`` within the group."""
    ic = config["industry"]
    ids = c360["customer_id"]
    corp_ids = c360.loc[c360["segment"] == "corporate", "customer_id"]
    co = corporates.drop_duplicates("customer_id").set_index("customer_id") if len(corporates) else pd.DataFrame()
    frame = pd.DataFrame({"customer_id": corp_ids.to_numpy()})
    for col in ("industry", "enterprise_size", "province"):
        from_corp = frame["customer_id"].map(co[col]) if col in co.columns else pd.Series(None, index=frame.index)
        from_c360 = (
            frame["customer_id"].map(c360.drop_duplicates("customer_id").set_index("customer_id")[col])
            if (col in c360.columns)
            else pd.Series(None, index=frame.index)
        )
        frame[col] = from_corp.where(from_corp.notna(), from_c360)
    st = _latest_statements(statements, month_end) if len(statements) else None
    if st is not None:
        frame = frame.merge(
            st[["customer_id", "revenue", "total_assets", "prior_revenue"]], on="customer_id", how="left"
        )
    else:
        frame[["revenue", "total_assets", "prior_revenue"]] = np.nan
    for col in ("revenue", "total_assets", "prior_revenue"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["revenue_growth"] = (frame["revenue"] / frame["prior_revenue"] - 1.0).where(frame["prior_revenue"] > 0)
    has = frame["revenue"].notna() | frame["total_assets"].notna()
    peers = frame[has & frame["industry"].notna()]
    regional = peers.groupby(["industry", "province"], dropna=True)["customer_id"].transform("size")
    use_region = (regional >= int(ic["min_peers"])).reindex(frame.index, fill_value=False)
    frame["industry_region"] = frame["province"].where(use_region & has)
    frame["industry_peers"] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    frame.loc[peers.index, "industry_peers"] = np.where(
        use_region[peers.index], regional, peers.groupby("industry")["customer_id"].transform("size")
    )
    for col, name in (
        ("revenue", "industry_rank_revenue"),
        ("total_assets", "industry_rank_assets"),
        ("revenue_growth", "industry_rank_growth"),
    ):
        by_region = peers.groupby(["industry", "province"])[col].rank(pct=True, method="average")
        by_industry = peers.groupby("industry")[col].rank(pct=True, method="average")
        frame[name] = np.nan
        frame.loc[peers.index, name] = by_region.where(use_region[peers.index], by_industry)
    if len(benchmarks):
        bm = benchmarks.drop_duplicates(["industry", "enterprise_size"]).set_index(["industry", "enterprise_size"])
        cell = pd.MultiIndex.from_frame(frame[["industry", "enterprise_size"]].astype(object))
        rev_med = pd.to_numeric(bm["revenue_median"].reindex(cell), errors="coerce").to_numpy("float64")
        ta_med = pd.to_numeric(bm["total_assets_median"].reindex(cell), errors="coerce").to_numpy("float64")
        version = bm["version"].astype(str).reindex(cell).to_numpy(dtype=object)
    else:
        rev_med = ta_med = np.full(len(frame), np.nan)
        version = np.full(len(frame), None, dtype=object)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["bench_revenue_ratio"] = np.where(rev_med > 0, frame["revenue"] / rev_med, np.nan)
        frame["bench_assets_ratio"] = np.where(ta_med > 0, frame["total_assets"] / ta_med, np.nan)
    frame["benchmark_version"] = pd.Series(version, index=frame.index).where(
        frame["bench_revenue_ratio"].notna() | frame["bench_assets_ratio"].notna()
    )
    w = ic["weights"]
    parts = {
        "revenue_rank": frame["industry_rank_revenue"],
        "assets_rank": frame["industry_rank_assets"],
        "growth_rank": frame["industry_rank_growth"],
        "bench_revenue": frame["bench_revenue_ratio"] / (1.0 + frame["bench_revenue_ratio"]),
        "bench_assets": frame["bench_assets_ratio"] / (1.0 + frame["bench_assets_ratio"]),
    }
    num = sum(float(w[k]) * v.fillna(0.0) for k, v in parts.items())
    den = sum(float(w[k]) * v.notna() for k, v in parts.items())
    frame["industry_position"] = (100.0 * num / den.where(den > 0)).round(4)
    out = pd.DataFrame({"customer_id": ids}).merge(
        frame[["customer_id", *INDUSTRY_COLUMNS]], on="customer_id", how="left"
    )
    out.index = c360.index
    return out
