"""Customer value: contribution from the window's history, activity, share of wallet, industry position,
value score ranked within segment, tiers, lifecycle stage and trends.

Every number lives in ``config.toml`` next to this file; docs/playbook.md ("Customer value") has each formula
with its configuration key.

- Contribution (:mod:`crm.value.contribution`): the trailing 12 months (``inputs.window``), month by month for
  the months the customer held a relationship (``months_held``, its onboarding month on): loan NII over FTP at
  each loan's own rate, deposit spread at each account's own rate, fees from the fee ledger, expected loss
  PD x LGD x month-end balance, cost to serve from recorded work. Each component is rounded to the cent per
  customer and month; totals are sums of months; ``contribution`` is the sum of the rounded components, so the
  identity holds exactly per month and in total. Components are actual, not annualised;
  ``contribution_annualised`` = contribution x 12 / months_held is what the value score ranks.
- Value segments: retail; SME = corporate with enterprise_size in ``sme_sizes`` (S 小型, X 微型); corporate.
  Percentile ranks are pandas ``rank(pct=True, method="average")`` within the value segment (ties share the
  average rank; values in (0, 1]); missing inputs rank as 0.

:func:`customer_value` puts the steps together into a :class:`ValueResult` (``value``: the customer_value
mart, columns :data:`MART_COLUMNS`; ``monthly``: the customer_value_month mart, :data:`MONTH_COLUMNS`).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crm.bank_calendar import month_end, months_before
from crm.value.contribution import (
    COMPONENTS,
    COSTS,
    cents,
    customer_codes,
    customer_pd,
    held_from,
    month_index,
    monthly_cents,
    price_records,
)
from crm.value.inputs import RECORD_INPUTS, ValueInputs, window_month_ends
from crm.value.position import INDUSTRY_COLUMNS, WALLET_COLUMNS, industry_position, load_benchmarks, share_of_wallet

CONFIG_PATH = Path(__file__).with_name("config.toml")

TIERS = ["strategic", "key", "growth", "standard"]
STAGES = ["churned", "dormant", "new", "decline", "growth", "mature", "unknown"]


def load_config(path: str | Path = CONFIG_PATH) -> dict[str, Any]:
    """The parsed value configuration (``config.toml`` by default)."""
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def _num(frame: pd.DataFrame, col: str, default: float = 0.0) -> pd.Series:
    if col not in frame.columns:
        return pd.Series(default, index=frame.index, dtype="float64")
    return pd.to_numeric(frame[col], errors="coerce").astype("float64").fillna(default)


def value_segment(frame: pd.DataFrame, config: dict[str, Any]) -> pd.Series:
    """retail / sme / corporate: SME = corporate with enterprise_size in config sme_sizes (S 小型, X 微型)."""
    size = frame["enterprise_size"] if "enterprise_size" in frame.columns else pd.Series(None, index=frame.index)
    sme = (frame["segment"] == "corporate") & size.isin(config["value_score"]["sme_sizes"])
    return pd.Series(
        np.where(frame["segment"] == "retail", "retail", np.where(sme, "sme", "corporate")), index=frame.index
    )


def score_measures(frame: pd.DataFrame, config: dict[str, Any]) -> dict[str, tuple[pd.Series, float]]:
    """The measures of the value score and their weights: contribution (``contribution_annualised``),
    balances, cross_sell, tenure, every configured activity feature (``[value_score.activity]``; a feature
    that is not a column of ``frame`` raises ValueError) and ``industry`` (industry_position / 100, for the
    segments of ``[value_score.industry]``; ranked as is, not re-ranked)."""
    vc = config["value_score"]
    contribution = "contribution_annualised" if "contribution_annualised" in frame.columns else "contribution"
    measures = {
        "contribution": (_num(frame, contribution), float(vc["weights"]["contribution"])),
        "balances": (_num(frame, "loan_balance") + _num(frame, "deposit_mtd_avg"), float(vc["weights"]["balances"])),
        "cross_sell": (_num(frame, "products_held"), float(vc["weights"]["cross_sell"])),
        "tenure": (_num(frame, "tenure_months"), float(vc["weights"]["tenure"])),
    }
    for feature, weight in vc.get("activity", {}).items():
        if feature not in frame.columns:
            raise ValueError(
                f"value_score.activity lists {feature!r} but the frame has no such column: build it (crm.value."
                "value.activity_features) or remove it from the configuration"
            )
        measures[feature] = (pd.to_numeric(frame[feature], errors="coerce").astype("float64"), float(weight))
    return measures


def value_score(frame: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """``frame`` with value_segment, the percentile ranks ``rank_<measure>`` (0-1 within value segment,
    ``rank(pct=True, method="average")``; a missing value ranks 0) and ``value_score`` 0-100 = 100 x the
    weighted mean of the ranks that apply to the segment (:func:`score_measures`)."""
    vc = config["value_score"]
    out = frame.copy()
    out["value_segment"] = value_segment(out, config)
    num = pd.Series(0.0, index=out.index)
    den = pd.Series(0.0, index=out.index)
    for name, (values, weight) in score_measures(out, config).items():
        rank = values.groupby(out["value_segment"]).rank(pct=True, method="average").fillna(0.0)
        out[f"rank_{name}"] = rank
        num += weight * rank
        den += weight
    ic = vc.get("industry")
    if ic and float(ic["weight"]) > 0:
        applies = out["value_segment"].isin(ic["segments"])
        position = _num(out, "industry_position", np.nan)
        rank = (position.fillna(float(ic["missing_position"])) / 100.0).where(applies)
        out["rank_industry"] = rank
        num += float(ic["weight"]) * rank.fillna(0.0)
        den += float(ic["weight"]) * applies
    out["value_score"] = (100.0 * num / den).round(4)
    return out


def _five_class(frame: pd.DataFrame) -> pd.Series:
    if "worst_five_class" not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    return frame["worst_five_class"].astype("string")


def tiers(frame: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """``value_tier`` from value_score thresholds (lower bounds inclusive); ``tier`` = value_tier unless the
    customer is on watch (grade in watch_grades or worst_five_class >= '2' 关注): then ``watch``, never promoted.
    ``key_account`` = tier strategic/key, grade acceptable (ungraded per config) and worst class null or '1'.
    ``review_flag`` = worst_five_class 关注 or worse."""
    tc = config["tiers"]
    out = frame.copy()
    s = _num(out, "value_score")
    out["value_tier"] = np.select(
        [s >= tc["strategic"], s >= tc["key"], s >= tc["growth"]], TIERS[:3], default="standard"
    )
    fc = _five_class(out)
    grade = out["grade"] if "grade" in out.columns else pd.Series(pd.NA, index=out.index, dtype="object")
    bad_class = (fc >= tc["watch_five_class"]).fillna(False).astype(bool)
    watch = grade.isin(tc["watch_grades"]) | bad_class
    out["watch"] = watch
    out["review_flag"] = bad_class
    out["tier"] = np.where(watch, "watch", out["value_tier"])
    grade_ok = grade.isin(tc["key_account_grades"]) | (grade.isna() & bool(tc["ungraded_acceptable"]))
    class_ok = (fc.isna() | (fc == "1")).fillna(False).astype(bool)
    out["key_account"] = out["tier"].isin(["strategic", "key"]) & grade_ok & class_ok
    return out


def trends(now: pd.DataFrame, earlier: pd.DataFrame) -> pd.DataFrame:
    """Relative 3-month changes for :func:`lifecycle`: ``deposit_change_3m`` (deposit_mtd_avg) and
    ``balance_change_3m`` (loan_balance) of each customer of ``now`` against ``earlier`` (customer 360 rows of
    three month ends before). NaN when the customer is not in ``earlier`` or the earlier amount is 0."""
    out = pd.DataFrame({"customer_id": now["customer_id"]})
    if earlier is None or earlier.empty:
        out["deposit_change_3m"] = np.nan
        out["balance_change_3m"] = np.nan
        return out
    e = earlier.drop_duplicates("customer_id").set_index("customer_id")
    for col, name in (("deposit_mtd_avg", "deposit_change_3m"), ("loan_balance", "balance_change_3m")):
        before = out["customer_id"].map(_num(e, col)).where(lambda x: x > 0)
        out[name] = (_num(now, col).to_numpy() - before) / before
    return out


def lifecycle(frame: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """``lifecycle_stage``, first matching rule wins:
    1 churned (status C 销户); 2 dormant (status D 休眠); 3 new (tenure_months < new_months);
    4 decline (deposit_change_3m or balance_change_3m, when given, below decline_change);
    5 unknown (tenure missing); 6 growth (tenure < mature_months); 7 mature."""
    lc = config["lifecycle"]
    out = frame.copy()
    status = (
        out["status"].astype("string") if "status" in out.columns else pd.Series(pd.NA, index=out.index, dtype="string")
    )
    tenure = (
        pd.to_numeric(out["tenure_months"], errors="coerce")
        if "tenure_months" in out.columns
        else pd.Series(np.nan, index=out.index)
    )
    decline = pd.Series(False, index=out.index)
    for col in ("deposit_change_3m", "balance_change_3m"):
        if col in out.columns:
            decline |= (pd.to_numeric(out[col], errors="coerce") < lc["decline_change"]).fillna(False)
    conds = [
        (status == "C").fillna(False).to_numpy(bool),
        (status == "D").fillna(False).to_numpy(bool),
        (tenure < lc["new_months"]).fillna(False).to_numpy(bool),
        decline.to_numpy(bool),
        tenure.isna().to_numpy(bool),
        (tenure < lc["mature_months"]).fillna(False).to_numpy(bool),
    ]
    out["lifecycle_stage"] = np.select(
        conds, ["churned", "dormant", "new", "decline", "unknown", "growth"], default="mature"
    )
    return out


def activity_counts(
    customers: pd.Index, transactions: pd.DataFrame, n_months: int, config: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Per customer and month of the window (customers x months): transactions, and those through
    ``[activity] digital_channels``, from the priced txn_monthly records."""
    n = len(customers)
    if transactions.empty:
        return np.zeros((n, n_months)), np.zeros((n, n_months))
    code = customer_codes(customers, transactions)
    ok = code >= 0
    flat = code[ok] * n_months + transactions["_month"].to_numpy(dtype="int64")[ok]
    count = transactions["txn_count"].to_numpy(dtype="float64")[ok]
    digital = transactions["channel"].astype(str).isin(config["activity"]["digital_channels"]).to_numpy()[ok]
    per_month = np.bincount(flat, weights=count, minlength=n * n_months).reshape(n, n_months)
    dig_month = np.bincount(flat, weights=count * digital, minlength=n * n_months).reshape(n, n_months)
    return per_month, dig_month


def activity_from_counts(per_month: np.ndarray, dig_month: np.ndarray) -> pd.DataFrame:
    """txn_count_3m (transactions in the window's last 3 months), digital_share_3m (their digital share; NaN
    without transactions) and months_active_12m (months of the window with a transaction) from
    :func:`activity_counts`."""
    last3 = per_month[:, -3:].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(last3 > 0, dig_month[:, -3:].sum(axis=1) / last3, np.nan)
    return pd.DataFrame(
        {
            "txn_count_3m": last3.astype("int64"),
            "digital_share_3m": share,
            "months_active_12m": (per_month > 0).sum(axis=1).astype("int64"),
        }
    )


def activity_features(
    customers: pd.Index, transactions: pd.DataFrame, n_months: int, config: dict[str, Any]
) -> pd.DataFrame:
    """Per customer (``customers`` order): txn_count_3m, digital_share_3m and months_active_12m
    (:func:`activity_from_counts`) from the priced txn_monthly records."""
    return activity_from_counts(*activity_counts(customers, transactions, n_months, config))


def value_trends(
    frame: pd.DataFrame, contribution_cents: np.ndarray, months_held: np.ndarray, inputs: Any, config: dict[str, Any]
) -> pd.DataFrame:
    """contribution_change_3m (last 3 months of the window against the 3 before, relative to the absolute
    earlier amount; NaN when the customer did not hold all 6 months or the earlier amount is below
    ``[trend] min_base``), value_score_change_3m (points against the customer's value_score 3 month ends
    before in ``inputs.value_history``; NaN when none) and value_trend (``[trend]``)."""
    tc = config["trend"]
    last3 = contribution_cents[:, -3:].sum(axis=1) / 100.0
    prev3 = contribution_cents[:, -6:-3].sum(axis=1) / 100.0
    ok = (months_held >= 6) & (np.abs(prev3) >= float(tc["min_base"]))
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(ok, (last3 - prev3) / np.abs(prev3), np.nan)
    out = pd.DataFrame({"contribution_change_3m": np.round(change, 6)}, index=frame.index)
    history = inputs.value_history
    before = month_end(months_before(inputs.month_end, 3))
    score_before = pd.Series(np.nan, index=frame.index)
    if history is not None and len(history) and {"month_end", "customer_id", "value_score"} <= set(history.columns):
        when = pd.to_datetime(history["month_end"], errors="coerce").dt.date
        then = history[when == before].drop_duplicates("customer_id", keep="last").set_index("customer_id")
        score_before = pd.to_numeric(frame["customer_id"].map(then["value_score"]), errors="coerce")
    out["value_score_change_3m"] = (_num(frame, "value_score") - score_before).round(4)
    pts, rel = out["value_score_change_3m"], out["contribution_change_3m"]
    up = np.where(pts.notna(), pts >= float(tc["score_points"]), rel >= float(tc["contribution_change"]))
    down = np.where(pts.notna(), pts <= -float(tc["score_points"]), rel <= -float(tc["contribution_change"]))
    out["value_trend"] = np.select(
        [months_held < int(tc["new_months"]), up, down], ["new", "up", "down"], default="flat"
    )
    return out


@dataclass
class ValueResult:
    """``value``: the customer_value mart of the month end (columns :data:`MART_COLUMNS`, without
    month_end); ``monthly``: the customer_value_month mart (:data:`MONTH_COLUMNS`, without month_end);
    ``figures``: counts for the asset's metadata (fallbacks, records left out)."""

    value: pd.DataFrame
    monthly: pd.DataFrame
    figures: dict[str, Any] = field(default_factory=dict)


MONTH_COLUMNS = ["customer_id", "month", *COMPONENTS, "contribution"]
MART_COLUMNS = [
    "customer_id",
    "segment",
    "value_segment",
    "months_held",
    *COMPONENTS,
    "contribution",
    "contribution_annualised",
    *COSTS,
    "pd",
    "pd_source",
    "grade",
    "lgd",
    "ead",
    "ftp_bucket",
    "rate_fallback_months",
    "cost_records_months",
    "txn_count_3m",
    "digital_share_3m",
    "months_active_12m",
    *WALLET_COLUMNS,
    *INDUSTRY_COLUMNS,
    "value_score",
    "rank_contribution",
    "rank_balances",
    "rank_cross_sell",
    "rank_tenure",
    "value_tier",
    "tier",
    "watch",
    "review_flag",
    "key_account",
    "lifecycle_stage",
    "deposit_change_3m",
    "balance_change_3m",
    "contribution_change_3m",
    "value_score_change_3m",
    "value_trend",
    "branch_id",
    "manager_id",
    "config_version",
]


def _loan_state(customers: pd.Index, last: pd.DataFrame, scores: pd.DataFrame, had_loans: np.ndarray, config):
    """pd, pd_source, grade, lgd (balance-weighted over the month-end loans), ead (month-end balance) and
    ftp_bucket (of the largest month-end loan) per customer."""
    ids = pd.Series(customers, index=pd.RangeIndex(len(customers)))
    pds = customer_pd(ids, scores, config)
    scored = pds["pd_source"] == "scores"
    out = pd.DataFrame(index=ids.index)
    out["pd"] = pds["pd"].where(scored | had_loans, 0.0)
    out["pd_source"] = np.where(scored, "scores", np.where(had_loans, "config_unscored", "none"))
    grade = scores.drop_duplicates("customer_id").set_index("customer_id")["grade"] if "grade" in scores else None
    out["grade"] = ids.map(grade) if grade is not None else None
    code = customers.get_indexer(last["customer_id"])
    ok = code >= 0
    bal = last["balance"].to_numpy("float64")[ok]
    ead = np.bincount(code[ok], weights=bal, minlength=len(customers))
    lgd_w = np.bincount(code[ok], weights=bal * last["lgd"].to_numpy("float64")[ok], minlength=len(customers))
    out["ead"] = np.round(ead, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["lgd"] = np.where(ead > 0, lgd_w / ead, np.nan).round(6)
    top = last[ok].sort_values(["customer_id", "balance", "loan_id"], ascending=[True, False, True])
    top = top.drop_duplicates("customer_id").set_index("customer_id")["ftp_bucket"]
    out["ftp_bucket"] = ids.map(top)
    return out


@dataclass
class _Priced:
    """What the priced records of every shard add up to, per customer (``customers`` order)."""

    parts: dict[str, np.ndarray]  # component -> (customers x months) cents
    held: np.ndarray  # (customers x months) the customer held a relationship in the month
    counts: dict[str, int]
    had_loans: np.ndarray  # a loan-month in a held month
    fallback_months: np.ndarray  # loan-months priced without the loan's own rate
    last_loans: pd.DataFrame  # the priced loan records of the window's last month (held)
    txn_per_month: np.ndarray  # (customers x months) transactions
    digital_per_month: np.ndarray  # (customers x months) transactions through digital channels
    loan_months: int
    shards: int


def _price_shards(
    customers: pd.Index, start: np.ndarray, inputs: ValueInputs, shards: Any, months: list, config: dict[str, Any]
) -> _Priced:
    """Price the records of ``shards`` (None: those of ``inputs``; else an iterable of :class:`ValueInputs` each
    holding the record inputs of a disjoint set of customers, the rest taken from ``inputs``) and add them up per
    customer and month. A customer's records all lie in one shard, so adding the shards' rounded cents gives what
    one pass over all records gives."""
    n, n_months = len(customers), len(months)
    parts: dict[str, np.ndarray] | None = None
    counts: dict[str, int] = {}
    held = np.arange(n_months)[None, :] >= start[:, None]
    had_loans = np.zeros(n, dtype=bool)
    fallback_months = np.zeros(n, dtype="int64")
    txn = np.zeros((n, n_months), dtype="float64")
    digital = np.zeros((n, n_months), dtype="float64")
    last: list[pd.DataFrame] = []
    loan_months = used = 0
    for shard in [inputs] if shards is None else shards:
        used += 1
        # a shard brings its customers' records; prices, rates, scores and dates are the bank's
        shard = dataclasses.replace(inputs, **{n: getattr(shard, n) for n in RECORD_INPUTS})
        records = price_records(shard, months, config, lineage=False)
        shard_parts, _, shard_counts = monthly_cents(customers, start, records, n_months)
        if parts is None:
            parts = shard_parts
        else:
            for k, v in shard_parts.items():
                parts[k] += v
        for k, v in shard_counts.items():
            counts[k] = counts.get(k, 0) + v
        loans = records.loans
        code = customer_codes(customers, loans)
        month = loans["_month"].to_numpy(dtype="int64")
        in_held = code >= 0
        in_held[in_held] = month[in_held] >= start[code[in_held]]
        had_loans |= np.bincount(code[in_held], minlength=n) > 0
        fallback = in_held & (loans["margin_source"].to_numpy(dtype=object) != "own_rate")
        fallback_months += np.bincount(code[fallback], minlength=n).astype("int64")
        loan_months += int(in_held.sum())
        last.append(loans[in_held & (month == n_months - 1)])
        per_month, dig_month = activity_counts(customers, records.transactions, n_months, config)
        txn += per_month
        digital += dig_month
        del records, loans
    if parts is None:
        raise ValueError("customer value: no record shard to price")
    return _Priced(
        parts=parts,
        held=held,
        counts=counts,
        had_loans=had_loans,
        fallback_months=fallback_months,
        last_loans=pd.concat(last, ignore_index=True) if len(last) > 1 else last[0],
        txn_per_month=txn,
        digital_per_month=digital,
        loan_months=loan_months,
        shards=used,
    )


def customer_value(inputs: ValueInputs, config: dict[str, Any], shards: Any = None) -> ValueResult:
    """The month end's ``customer_value`` and ``customer_value_month`` marts from ``inputs``.

    Every staged record of the 12-month window is priced (:mod:`crm.value.contribution`), summed per customer
    and month, rounded to the cent per component, and kept for the months the customer held a relationship
    (its onboarding month on). The customer's components are the sums of its months and contribution is the
    sum of the rounded components: loan_nii + deposit_spread + fees - expected_loss - servicing_cost ==
    contribution, per month and in total; servicing_cost == cost_visits + cost_calls + cost_requests +
    cost_transactions. contribution_annualised = contribution x 12 / months_held ranks the customer.

    ``shards``: the record inputs (:data:`crm.value.inputs.RECORD_INPUTS`) in parts, an iterable of
    :class:`ValueInputs` each holding the records of a disjoint set of customers
    (:func:`crm.value.inputs.load_record_shards`), priced one after another so that a big bank's records are
    never in memory at once; None: the records of ``inputs``."""
    months = window_month_ends(inputs.month_end)
    n_months = len(months)
    c360 = inputs.c360.drop_duplicates("customer_id").reset_index(drop=True)
    customers = pd.Index(c360["customer_id"])
    start = held_from(c360, months)
    priced = _price_shards(customers, start, inputs, shards, months, config)
    parts, held, counts = priced.parts, priced.held, priced.counts
    parts["servicing_cost"] = sum(parts[c] for c in COSTS)
    parts["contribution"] = (
        parts["loan_nii"] + parts["deposit_spread"] + parts["fees"] - parts["expected_loss"] - parts["servicing_cost"]
    )

    mask = held.ravel()
    monthly = pd.DataFrame(
        {
            "customer_id": np.repeat(customers.to_numpy(dtype=object), n_months)[mask],
            "month": np.tile(np.array(months, dtype=object), len(customers))[mask],
        }
    )
    for col in [*COMPONENTS, "contribution"]:
        monthly[col] = parts[col].ravel()[mask] / 100.0

    frame = c360.copy()
    months_held = held.sum(axis=1).astype("int64")
    frame["months_held"] = months_held
    for col in [*COMPONENTS, "contribution", *COSTS]:
        frame[col] = parts[col].sum(axis=1) / 100.0
    total = parts["contribution"].sum(axis=1)
    frame["contribution_annualised"] = cents(total / 100.0 * 12.0 / months_held) / 100.0

    frame["rate_fallback_months"] = priced.fallback_months
    last = priced.last_loans
    state = _loan_state(customers, last, inputs.scores, priced.had_loans, config)
    for col in state.columns:
        frame[col] = state[col].to_numpy()
    since = inputs.records_since
    since_idx = 0 if since is None else int(month_index(pd.Series([pd.Timestamp(since)]), months).iloc[0])
    if since is not None and since_idx < 0:  # records start after the window (never) or before it
        since_idx = n_months if pd.Timestamp(since) > pd.Timestamp(months[-1]) else 0
    frame["cost_records_months"] = held[:, since_idx:].sum(axis=1).astype("int64")

    act = activity_from_counts(priced.txn_per_month, priced.digital_per_month)
    for col in act.columns:
        frame[col] = act[col].to_numpy()
    wallet = share_of_wallet(c360, inputs.month_end, last, inputs.bureau_records, config)
    industry = industry_position(
        c360, inputs.corporates, inputs.statements, inputs.month_end, config, load_benchmarks(config)
    )
    frame = frame.drop(columns=[c for c in (*wallet.columns, *industry.columns) if c != "customer_id"], errors="ignore")
    frame = pd.concat([frame, wallet.drop(columns="customer_id"), industry.drop(columns="customer_id")], axis=1)
    frame = frame.merge(trends(c360, inputs.earlier), on="customer_id", how="left")
    frame = lifecycle(tiers(value_score(frame, config), config), config)
    trend = value_trends(frame, parts["contribution"], months_held, inputs, config)
    frame = pd.concat([frame, trend], axis=1)
    frame["config_version"] = config["version"]
    ranks = [c for c in frame.columns if c.startswith("rank_") and c not in MART_COLUMNS]
    cols = [c for c in MART_COLUMNS if c in frame.columns]
    at = cols.index("value_tier")
    cols = cols[:at] + ranks + cols[at:]
    figures = {
        **counts,
        "loan_months": priced.loan_months,
        "rate_fallback_months": int(priced.fallback_months.sum()),
        "record_shards": priced.shards,
        "window": f"{months[0]}..{months[-1]}",
        "records_since": str(since) if since else "",
        "benchmark_version": ", ".join(sorted(frame["benchmark_version"].dropna().astype(str).unique())),
    }
    return ValueResult(value=frame[cols].reset_index(drop=True), monthly=monthly[MONTH_COLUMNS], figures=figures)
