"""Referrals (客户推荐): who referred whom, promoters who refer, and the value of referred customers.

- **Referrers** (:func:`referrers`): per referring customer, the referrals made (all on record up to the month
  end, and within ``[referrals] window_days``), its NPS category from its latest answered survey on or before the
  month end (promoter ``nps >= promoter_min``, detractor ``nps <= detractor_max``, passive between, ``none``
  without an answer; cut-offs of crm/satisfaction/config.toml ``[nps]``), and the current value of the customers
  it referred (sum of contribution, mean value score).
- **Value of referred customers** (:func:`referral_value`): per onboarding cohort (the onboarding month, customer
  360) and branch (and ``ALL``), customers and the means of ``[referrals] value_columns`` (customer_value) for
  referred and non-referred customers. The summary's comparison is cohort-matched: the non-referred mean of each
  cohort weighted by that cohort's referred customers, so tenure does not flatter either side.
- **Summary** (:func:`referral_summary`): per branch and ``ALL``: new customers in the window (onboarding date
  within ``window_days``), those referred and their share; promoters, passives, detractors, how many of each
  referred someone in the window and the referrals per customer of the category; the cohort-matched value
  comparison. A customer is referred when it is the referred customer of a referral on record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

CATEGORIES = ["promoter", "passive", "detractor", "none"]
REFERRER_COLUMNS = [
    "customer_id",
    "branch_id",
    "manager_id",
    "referrals",
    "referrals_window",
    "nps",
    "nps_category",
    "referred_customers_now",
    "referred_contribution",
    "referred_value_score_mean",
]


def nps_categories(surveys: pd.DataFrame, day: dt.date, nps_config: dict[str, Any]) -> pd.DataFrame:
    """customer_id, nps and nps_category of each customer's latest answered survey on or before ``day``."""
    if surveys is None or surveys.empty:
        return pd.DataFrame(columns=["customer_id", "nps", "nps_category"])
    s = surveys[surveys["nps"].notna() & surveys["response_date"].notna()].copy()
    s["_d"] = pd.to_datetime(s["response_date"])
    s = s[s["_d"] <= pd.Timestamp(day)]
    s = s.sort_values(["customer_id", "_d", "survey_id"]).drop_duplicates("customer_id", keep="last")
    nps = pd.to_numeric(s["nps"])
    cat = np.select(
        [nps >= nps_config["promoter_min"], nps <= nps_config["detractor_max"]], ["promoter", "detractor"], "passive"
    )
    return pd.DataFrame({"customer_id": s["customer_id"].astype(str), "nps": nps.to_numpy(), "nps_category": cat})


def _clean(referrals: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    if referrals is None or referrals.empty:
        return pd.DataFrame(
            {
                "referrer_customer_id": pd.Series(dtype=object),
                "referred_customer_id": pd.Series(dtype=object),
                "referral_date": pd.Series(dtype="datetime64[ns]"),
            }
        )
    r = referrals.drop_duplicates("referral_id", keep="last") if "referral_id" in referrals else referrals
    r = r.assign(
        referral_date=pd.to_datetime(r["referral_date"]),
        referrer_customer_id=r["referrer_customer_id"].astype(str),
        referred_customer_id=r["referred_customer_id"].astype(str),
    )
    return r[r["referral_date"] <= pd.Timestamp(day)]


def referrers(
    referrals: pd.DataFrame,
    value: pd.DataFrame,
    nps: pd.DataFrame,
    day: dt.date,
    config: dict[str, Any],
) -> pd.DataFrame:
    """One row per referring customer (:data:`REFERRER_COLUMNS`). ``value``: this month's customer_value
    (customer_id, branch_id, manager_id, contribution, value_score); ``nps``: :func:`nps_categories`."""
    r = _clean(referrals, day)
    if r.empty:
        ints = {"referrals", "referrals_window", "referred_customers_now"}
        floats = {"nps", "referred_contribution", "referred_value_score_mean"}
        return pd.DataFrame(
            {
                c: pd.Series(dtype="int64" if c in ints else "float64" if c in floats else object)
                for c in REFERRER_COLUMNS
            }
        )
    since = pd.Timestamp(day) - pd.Timedelta(days=int(config["referrals"]["window_days"]))
    # only the customers of a referral (either side): a small index, not the whole bank's
    involved = pd.unique(
        np.concatenate([r["referrer_customer_id"].to_numpy(object), r["referred_customer_id"].to_numpy(object)])
    )
    v = value[value["customer_id"].isin(involved)].drop_duplicates("customer_id").set_index("customer_id")
    rv = r.assign(
        in_window=(r["referral_date"] > since).astype("int64"),
        contribution=pd.to_numeric(v["contribution"], errors="coerce").reindex(r["referred_customer_id"]).to_numpy(),
        value_score=pd.to_numeric(v["value_score"], errors="coerce").reindex(r["referred_customer_id"]).to_numpy(),
        present=r["referred_customer_id"].isin(v.index).astype("int64"),
    )
    g = rv.groupby("referrer_customer_id").agg(
        referrals=("referred_customer_id", "size"),
        referrals_window=("in_window", "sum"),
        referred_customers_now=("present", "sum"),
        referred_contribution=("contribution", "sum"),
        referred_value_score_mean=("value_score", "mean"),
    )
    n = nps.assign(customer_id=nps["customer_id"].astype(str)).set_index("customer_id") if len(nps) else None
    out = g.reset_index().rename(columns={"referrer_customer_id": "customer_id"})
    out["branch_id"] = v["branch_id"].reindex(out["customer_id"]).to_numpy() if "branch_id" in v else None
    out["manager_id"] = v["manager_id"].reindex(out["customer_id"]).to_numpy() if "manager_id" in v else None
    out["nps"] = n["nps"].reindex(out["customer_id"]).to_numpy() if n is not None else np.nan
    out["nps_category"] = (
        n["nps_category"].reindex(out["customer_id"]).fillna("none").to_numpy() if n is not None else "none"
    )
    for c in ("referrals", "referrals_window", "referred_customers_now"):
        out[c] = out[c].astype("int64")
    return out[REFERRER_COLUMNS].sort_values("customer_id", ignore_index=True)


def referral_customers(
    value: pd.DataFrame, onboarding: pd.DataFrame, referrals: pd.DataFrame, day: dt.date, config: dict[str, Any]
) -> pd.DataFrame:
    """One row per customer of ``value``: customer_id, branch_id, the ``[referrals] value_columns``,
    onboarding_date and its month (``cohort``), ``referred`` (the referred customer of a referral on record on or
    before ``day``). Built once and passed to :func:`referral_value` and :func:`referral_summary` at scale."""
    cols = list(config["referrals"]["value_columns"])
    c = value[["customer_id", "branch_id", *cols]].drop_duplicates("customer_id").reset_index(drop=True)
    o = onboarding.drop_duplicates("customer_id").set_index("customer_id")["onboarding_date"]
    c["onboarding_date"] = pd.to_datetime(o, errors="coerce").reindex(c["customer_id"]).to_numpy()
    c["cohort"] = pd.to_datetime(c["onboarding_date"].to_numpy().astype("datetime64[M]"))
    c["referred"] = c["customer_id"].isin(_clean(referrals, day)["referred_customer_id"].unique())
    c["branch_id"] = c["branch_id"].fillna("(none)")
    for col in cols:
        c[col] = pd.to_numeric(c[col], errors="coerce")
    return c


def referral_value(
    value: pd.DataFrame,
    onboarding: pd.DataFrame,
    referrals: pd.DataFrame,
    day: dt.date,
    config: dict[str, Any],
    customers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per branch (and ``ALL``) and onboarding cohort with at least one referred customer: referred_customers,
    non_referred_customers and, per value column X, ``referred_X_mean`` and ``non_referred_X_mean``.
    ``customers``: :func:`referral_customers` when already built."""
    cols = list(config["referrals"]["value_columns"])
    c = referral_customers(value, onboarding, referrals, day, config) if customers is None else customers
    c = c[c["cohort"].notna()]
    c = c[c["cohort"].isin(c.loc[c["referred"], "cohort"].unique())]  # only cohorts with a referred customer
    both = pd.concat([c.assign(branch_id="ALL"), c], ignore_index=True)
    keys = ["branch_id", "cohort"]
    agg = {"customers": ("customer_id", "size"), **{f"{x}_mean": (x, "mean") for x in cols}}
    g = both.groupby([*keys, "referred"]).agg(**agg).reset_index()
    ref = g[g["referred"]].drop(columns="referred").set_index(keys)
    non = g[~g["referred"]].drop(columns="referred").set_index(keys)
    out = ref.add_prefix("referred_").join(non.add_prefix("non_referred_"), how="left").reset_index()
    names = ["referred_customers", "non_referred_customers"] + [
        f"{p}{x}_mean" for x in cols for p in ("referred_", "non_referred_")
    ]
    if out.empty:
        return pd.DataFrame(
            {
                "branch_id": pd.Series(dtype=object),
                "cohort": pd.Series(dtype="datetime64[ns]"),
                **{c: pd.Series(dtype="int64" if c.endswith("customers") else "float64") for c in names},
            }
        )
    out["non_referred_customers"] = out["non_referred_customers"].fillna(0)
    for k in ("referred_customers", "non_referred_customers"):
        out[k] = out[k].astype("int64")
    return out[[*keys, *names]].sort_values(keys, ignore_index=True)


def referral_summary(
    value: pd.DataFrame,
    onboarding: pd.DataFrame,
    referrals: pd.DataFrame,
    nps: pd.DataFrame,
    cohorts: pd.DataFrame,
    day: dt.date,
    config: dict[str, Any],
    customers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per branch and ``ALL`` (see the module docstring). ``cohorts``: :func:`referral_value`; ``customers``:
    :func:`referral_customers` when already built."""
    cols = list(config["referrals"]["value_columns"])
    r = _clean(referrals, day)
    since = pd.Timestamp(day) - pd.Timedelta(days=int(config["referrals"]["window_days"]))
    c = (referral_customers(value, onboarding, referrals, day, config) if customers is None else customers).copy()
    c["new"] = (c["onboarding_date"] > since) & (c["onboarding_date"] <= pd.Timestamp(day))
    n = (
        nps.assign(customer_id=nps["customer_id"].astype(str)).set_index("customer_id")["nps_category"]
        if len(nps)
        else None
    )
    c["nps_category"] = n.reindex(c["customer_id"]).fillna("none").to_numpy() if n is not None else "none"
    made = r[r["referral_date"] > since].groupby("referrer_customer_id").size()
    c["referrals_window"] = made.reindex(c["customer_id"]).fillna(0).astype("int64").to_numpy()
    c["referrer"] = c["referrals_window"] > 0
    # sums per branch by integer codes (np.bincount), then the bank-wide row (ALL) as their total
    code, branches = pd.factorize(c["branch_id"], sort=True)
    k = len(branches)

    def per_branch(weights) -> np.ndarray:
        w = np.asarray(weights, dtype="float64")
        sums = np.bincount(code, weights=w, minlength=k)
        return np.concatenate([[w.sum()], sums])

    new, referred = c["new"].to_numpy(bool), c["referred"].to_numpy(bool)
    made_n = c["referrals_window"].to_numpy("int64")
    out = pd.DataFrame(
        {
            "customers": per_branch(np.ones(len(c))),
            "new_customers": per_branch(new),
            "new_referred": per_branch(new & referred),
            "referrals_window": per_branch(made_n),
        },
        index=pd.Index(["ALL", *branches.astype(str)], name="branch_id"),
    )
    category = c["nps_category"].to_numpy(object)
    for cat in ("promoter", "passive", "detractor"):
        is_cat = category == cat
        out[f"{cat}s"] = per_branch(is_cat)
        out[f"{cat}s_referring"] = per_branch(is_cat & c["referrer"].to_numpy(bool))
        out[f"referrals_by_{cat}s"] = per_branch(np.where(is_cat, made_n, 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"referrals_per_{cat}"] = out[f"referrals_by_{cat}s"] / out[f"{cat}s"].where(out[f"{cat}s"] > 0)
    out = out.fillna({c: 0 for c in out.columns if not c.startswith("referrals_per_")})
    with np.errstate(divide="ignore", invalid="ignore"):
        out["referred_share_new"] = out["new_referred"] / out["new_customers"].where(out["new_customers"] > 0)
    # cohort-matched value comparison
    for x in cols:
        out[f"referred_{x}_mean"] = np.nan
        out[f"matched_non_referred_{x}_mean"] = np.nan
    out["referred_customers_compared"] = 0
    if len(cohorts):
        k = cohorts[cohorts["non_referred_customers"] > 0]
        w = k["referred_customers"].astype(float)
        cg = k.assign(_w=w).groupby("branch_id")
        out["referred_customers_compared"] = cg["_w"].sum().reindex(out.index).fillna(0)
        for x in cols:
            for p in ("referred_", "non_referred_"):
                s = (k[f"{p}{x}_mean"] * w).groupby(k["branch_id"]).sum() / w.groupby(k["branch_id"]).sum()
                name = f"{p}{x}_mean" if p == "referred_" else f"matched_non_referred_{x}_mean"
                out[name] = s.reindex(out.index)
    for x in cols:
        out[f"referred_{x}_difference"] = out[f"referred_{x}_mean"] - out[f"matched_non_referred_{x}_mean"]
    ints = ["customers", "new_customers", "new_referred", "referrals_window", "referred_customers_compared"]
    for cat in ("promoter", "passive", "detractor"):
        ints += [f"{cat}s", f"{cat}s_referring", f"referrals_by_{cat}s"]
    out[ints] = out[ints].astype("int64")
    return out.reset_index().rename(columns={"index": "branch_id"})
