"""Customer value: 12-month contribution, within-segment value score, tiers and lifecycle stage.

Conventions (every number lives in ``config.toml`` next to this file):

- Contribution is a trailing-12-month figure APPROXIMATED from the month-end balances of the customer 360
  (balance x annual rate, as if the month-end balance had been held for the whole year); fees and servicing
  costs are annual amounts per product held. Components are rounded to the cent and ``contribution`` is the
  sum of the rounded components, so ``loan_nii + deposit_spread + fees - expected_loss - servicing_cost ==
  contribution`` holds exactly.
- Loan NII = loan_balance x (loan rate - FTP rate of the term bucket). Customer 360 carries neither the loan
  rate nor the term nor the guarantee type; ``loan_attributes`` derives them from the loans extract
  (balance-weighted rate and term, guarantee type of the largest balance) to be merged in. Without
  ``loan_rate_pct`` the config product margin over FTP is used; without ``loan_term_months`` the default term
  bucket; without ``guarantee_type`` the default LGD (the ``*_source`` columns say which was used).
- Expected loss = PD (scores frame) x LGD x EAD, EAD = loan_balance; a customer with a balance but no PD gets
  the config ``unscored_pd``.
- Value segments: retail; SME = corporate with enterprise_size in ``sme_sizes`` (S 小型, X 微型); corporate.
  Percentile ranks are pandas ``rank(pct=True, method="average")`` within the value segment (ties share the
  average rank; values in (0, 1]); missing inputs rank as 0.

:func:`customer_value` puts the steps together into the month's ``customer_value`` mart (its columns:
:func:`mart_columns`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CONFIG_PATH = Path(__file__).with_name("config.toml")

COMPONENTS = ["loan_nii", "deposit_spread", "fees", "expected_loss", "servicing_cost"]
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


def _ftp_table(config: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(config["contribution"]["ftp_loan"]).sort_values("max_months").reset_index(drop=True)


def loan_attributes(loans: pd.DataFrame) -> pd.DataFrame:
    """Per customer from the loans extract (open loans, status N/O): balance-weighted ``loan_rate_pct``
    (percent, as in the extract) and ``loan_term_months`` (start to maturity), and the ``guarantee_type`` of the
    largest balance. Merge into customer 360 on customer_id before ``contribution``."""
    live = loans[loans["status"].isin(["N", "O"])].copy()
    start, end = pd.to_datetime(live["start_date"]), pd.to_datetime(live["maturity_date"])
    live["term"] = (end.dt.year - start.dt.year) * 12 + (end.dt.month - start.dt.month)
    bal = live["balance"].astype("float64")
    live["w"] = bal.where(bal > 0, 1e-9)  # settled-to-zero but open loans still count, negligibly
    live["rate_w"] = live["interest_rate"].astype("float64") * live["w"]
    live["term_w"] = live["term"].astype("float64") * live["w"]
    agg = live.groupby("customer_id").agg(w=("w", "sum"), rate_w=("rate_w", "sum"), term_w=("term_w", "sum"))
    top = (
        live.sort_values(["customer_id", "balance", "loan_id"], ascending=[True, False, True])
        .drop_duplicates("customer_id")
        .set_index("customer_id")["guarantee_type"]
    )
    return (
        pd.DataFrame(
            {
                "loan_rate_pct": agg["rate_w"] / agg["w"],
                "loan_term_months": agg["term_w"] / agg["w"],
                "guarantee_type": top,
            }
        )
        .rename_axis("customer_id")
        .reset_index()
    )


def contribution(c360: pd.DataFrame, scores: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """One row per customer of ``c360`` with every contribution component and ``contribution`` (yuan, 12 months).

    ``scores`` needs customer_id and pd (grade is carried along when present). Optional c360 columns:
    loan_rate_pct, loan_term_months, guarantee_type (see ``loan_attributes``)."""
    cc = config["contribution"]
    df = c360.reset_index(drop=True)
    out = pd.DataFrame({"customer_id": df["customer_id"]})
    balance = _num(df, "loan_balance")
    deposits = _num(df, "deposit_mtd_avg")

    # FTP by term bucket: first bucket whose max_months >= term; beyond the last -> last bucket.
    ftp = _ftp_table(config)
    default_rate = float(ftp.loc[ftp["bucket"] == cc["default_term_bucket"], "rate"].iloc[0])
    if "loan_term_months" in df.columns:
        term = pd.to_numeric(df["loan_term_months"], errors="coerce")
        idx = np.searchsorted(ftp["max_months"].to_numpy(dtype="float64"), term.to_numpy(dtype="float64"), side="left")
        idx = np.minimum(idx, len(ftp) - 1)
        ftp_rate = pd.Series(ftp["rate"].to_numpy()[idx], index=df.index).where(term.notna(), default_rate)
        bucket = pd.Series(ftp["bucket"].to_numpy()[idx], index=df.index).where(term.notna(), cc["default_term_bucket"])
    else:
        ftp_rate = pd.Series(default_rate, index=df.index)
        bucket = pd.Series(cc["default_term_bucket"], index=df.index)
    out["ftp_bucket"] = bucket
    out["ftp_loan_rate"] = ftp_rate
    if "loan_rate_pct" in df.columns:
        rate = pd.to_numeric(df["loan_rate_pct"], errors="coerce") / 100.0
        margin = (rate - ftp_rate).where(rate.notna(), cc["default_loan_margin"])
        out["margin_source"] = np.where(rate.notna(), "loan_rate", "config_margin")
    else:
        margin = pd.Series(cc["default_loan_margin"], index=df.index, dtype="float64")
        out["margin_source"] = "config_margin"
    out["loan_margin"] = margin
    out["loan_nii"] = (balance * margin).round(2)

    out["deposit_spread"] = (deposits * (cc["ftp_deposit_rate"] - cc["deposit_rate"])).round(2)

    families = df["product_families"] if "product_families" in df.columns else pd.Series("", index=df.index)
    dummies = families.fillna("").astype(str).str.replace(" ", "", regex=False).str.get_dummies(sep=",")
    fee_vec = np.array([cc["fees"].get(f, cc["default_fee"]) for f in dummies.columns], dtype="float64")
    out["fees"] = (dummies.to_numpy(dtype="float64") @ fee_vec).round(2) if len(dummies.columns) else 0.0

    sc = scores.drop_duplicates("customer_id").set_index("customer_id")
    pd_ = pd.to_numeric(df["customer_id"].map(sc["pd"]), errors="coerce")
    out["pd"] = pd_.fillna(cc["unscored_pd"]).where(balance > 0, pd_.fillna(0.0))
    out["pd_source"] = np.where(pd_.notna(), "scores", np.where(balance > 0, "config_unscored", "none"))
    if "grade" in sc.columns:
        out["grade"] = df["customer_id"].map(sc["grade"])
    if "guarantee_type" in df.columns:
        lgd = df["guarantee_type"].map(cc["lgd"]).astype("float64")
        out["lgd_source"] = np.where(lgd.notna(), "guarantee_type", "config_default")
        out["lgd"] = lgd.fillna(cc["default_lgd"])
    else:
        out["lgd"] = float(cc["default_lgd"])
        out["lgd_source"] = "config_default"
    out["ead"] = balance
    out["expected_loss"] = (out["pd"] * out["lgd"] * balance).round(2)

    out["servicing_cost"] = (
        cc["cost_per_product"] * _num(df, "products_held") + cc["cost_per_loan"] * _num(df, "loans")
    ).round(2)
    out["contribution"] = (
        out["loan_nii"] + out["deposit_spread"] + out["fees"] - out["expected_loss"] - out["servicing_cost"]
    ).round(2)
    out["config_version"] = config["version"]
    return out


def value_segment(frame: pd.DataFrame, config: dict[str, Any]) -> pd.Series:
    """retail / sme / corporate: SME = corporate with enterprise_size in config sme_sizes (S 小型, X 微型)."""
    size = frame["enterprise_size"] if "enterprise_size" in frame.columns else pd.Series(None, index=frame.index)
    sme = (frame["segment"] == "corporate") & size.isin(config["value_score"]["sme_sizes"])
    return pd.Series(
        np.where(frame["segment"] == "retail", "retail", np.where(sme, "sme", "corporate")), index=frame.index
    )


def value_score(frame: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """``frame`` (c360 columns plus ``contribution``) with value_segment, the percentile ranks (``rank_*``,
    0-1 within value segment) and ``value_score`` 0-100 = 100 x weighted mean of the ranks."""
    vc = config["value_score"]
    out = frame.copy()
    out["value_segment"] = value_segment(out, config)
    measures = {
        "contribution": _num(out, "contribution"),
        "balances": _num(out, "loan_balance") + _num(out, "deposit_mtd_avg"),
        "cross_sell": _num(out, "products_held"),
        "tenure": _num(out, "tenure_months"),
    }
    if vc.get("activity_column") in out.columns:
        measures["activity"] = _num(out, vc["activity_column"])
    weights = {k: float(vc["weights"][k]) for k in measures}
    total = sum(weights.values())
    score = pd.Series(0.0, index=out.index)
    for name, values in measures.items():
        rank = values.groupby(out["value_segment"]).rank(pct=True, method="average")
        out[f"rank_{name}"] = rank
        score += weights[name] / total * rank
    out["value_score"] = (100.0 * score).round(4)
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


def mart_columns(frame: pd.DataFrame, parts: pd.DataFrame) -> list[str]:
    """The columns of the ``customer_value`` mart that ``frame`` has, in order: the customer and its segments,
    every column of the contribution ``parts`` (:func:`contribution`), the value score and its ranks, tiers,
    key account, lifecycle stage and trends, branch and manager."""
    keep = [
        "customer_id",
        "segment",
        "value_segment",
        *[c for c in parts.columns if c != "customer_id"],
        "value_score",
        *[c for c in frame.columns if c.startswith("rank_")],
        "value_tier",
        "tier",
        "watch",
        "review_flag",
        "key_account",
        "lifecycle_stage",
        "deposit_change_3m",
        "balance_change_3m",
        "branch_id",
        "manager_id",
    ]
    return [c for c in dict.fromkeys(keep) if c in frame.columns]


def customer_value(
    c360: pd.DataFrame, earlier: pd.DataFrame, scores: pd.DataFrame, loans: pd.DataFrame, config: dict[str, Any]
) -> pd.DataFrame:
    """The ``customer_value`` mart of a month end (without its ``month_end``): the month's customer 360
    (``c360``) with the loan attributes of the staged ``loans`` (:func:`loan_attributes`), the trends against
    the customer 360 of three month ends before (``earlier``, :func:`trends`), the contribution with the
    credit scores' PD and grade (``scores``: customer_id, pd, grade), value score, tiers and lifecycle stage;
    the columns of :func:`mart_columns`."""
    frame = c360.merge(loan_attributes(loans), on="customer_id", how="left")
    frame = frame.merge(trends(c360, earlier), on="customer_id", how="left")
    parts = contribution(frame, scores[["customer_id", "pd", "grade"]], config)
    frame = frame.merge(
        parts.drop(columns=[c for c in ("grade",) if c in frame.columns], errors="ignore"), on="customer_id", how="left"
    )
    frame = lifecycle(tiers(value_score(frame, config), config), config)
    return frame[mart_columns(frame, parts)]
