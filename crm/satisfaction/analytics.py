"""Satisfaction analytics on staged ``surveys`` and ``service_requests`` extracts (docs/contract.md).

All thresholds and keywords come from ``config.toml`` next to this module (see :func:`load_config`); every
function takes the parsed dict (``config=None`` reads the file). Everything is vectorised with pandas/numpy;
the only Python loops run over themes, ratings or SLA priorities, never over rows.

Statistics:

- CSAT mean interval: Student's t, ``mean ± t_{(1+c)/2, n-1} · s/√n`` (c = ``stats.confidence``).
- NPS interval: each answer scores +1 (promoter), 0 (passive), -1 (detractor); NPS = 100 · mean. The
  variance of the promoter/detractor difference is ``(p_P + p_D − (p_P − p_D)²) / n`` and the interval is the
  normal (Wald) one, ``NPS ± z_{(1+c)/2} · 100 · √var``, clipped to [-100, 100].
- Groups with fewer than ``stats.min_responses`` responses: score metrics NaN, ``suppressed`` True.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CONFIG_FILE = Path(__file__).with_name("config.toml")

SCORE_COLUMNS = [
    "csat_n",
    "csat_mean",
    "csat_sd",
    "csat_ci_low",
    "csat_ci_high",
    "csat_top2_share",
    "nps_n",
    "promoter_share",
    "detractor_share",
    "nps",
    "nps_ci_low",
    "nps_ci_high",
]


def load_config(path: str | Path | None = None) -> dict:
    """Parse the satisfaction config (default: ``crm/satisfaction/config.toml``)."""
    return tomllib.loads(Path(path or CONFIG_FILE).read_text(encoding="utf-8"))


def _cfg(config: dict | None) -> dict:
    return load_config() if config is None else config


# ================================================================================== CSAT / NPS by group


def _num(s: pd.Series) -> pd.Series:
    """Numeric float64 with NaN for missing (staged integers may be nullable ``Int64``)."""
    return pd.to_numeric(s, errors="coerce").astype("float64")


def _score_parts(surveys: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Per-row additive parts (counts, sums) so that a group sum gives every statistic."""
    responded = surveys["response_date"].notna()
    csat = _num(surveys["csat"]).where(responded)
    nps = _num(surveys["nps"]).where(responded)
    return pd.DataFrame(
        {
            "sent": np.ones(len(surveys), dtype=np.int64),
            "responses": responded.to_numpy().astype(np.int64),
            "csat_n": csat.notna().to_numpy().astype(np.int64),
            "csat_sum": csat.fillna(0.0).to_numpy(),
            "csat_sq": (csat**2).fillna(0.0).to_numpy(),
            "csat_top2": (csat >= config["csat"]["top2_min"]).to_numpy().astype(np.int64),
            "nps_n": nps.notna().to_numpy().astype(np.int64),
            "promoters": (nps >= config["nps"]["promoter_min"]).to_numpy().astype(np.int64),
            "detractors": (nps <= config["nps"]["detractor_max"]).to_numpy().astype(np.int64),
        },
        index=surveys.index,
    )


def _finish(g: pd.DataFrame, config: dict) -> pd.DataFrame:
    """From summed parts to the reported statistics, with suppression."""
    from scipy import stats

    conf = float(config["stats"]["confidence"])
    out = pd.DataFrame(index=g.index)
    out["sent"] = g["sent"].astype(np.int64)
    out["responses"] = g["responses"].astype(np.int64)
    out["response_rate"] = g["responses"] / g["sent"].where(g["sent"] > 0)

    n = g["csat_n"].astype(float)
    mean = g["csat_sum"] / n.where(n > 0)
    var = ((g["csat_sq"] - n * mean**2) / (n - 1).where(n > 1)).clip(lower=0.0)
    sd = np.sqrt(var)
    tq = pd.Series(stats.t.ppf((1 + conf) / 2, (n - 1).where(n > 1)), index=g.index)
    half = tq * sd / np.sqrt(n)
    out["csat_n"] = g["csat_n"].astype(np.int64)
    out["csat_mean"] = mean
    out["csat_sd"] = sd
    out["csat_ci_low"] = mean - half
    out["csat_ci_high"] = mean + half
    out["csat_top2_share"] = g["csat_top2"] / n.where(n > 0)

    m = g["nps_n"].astype(float).where(g["nps_n"] > 0)
    pp = g["promoters"] / m
    pd_ = g["detractors"] / m
    diff = pp - pd_
    se = np.sqrt(((pp + pd_ - diff**2) / m).clip(lower=0.0))
    zq = float(stats.norm.ppf((1 + conf) / 2))
    out["nps_n"] = g["nps_n"].astype(np.int64)
    out["promoter_share"] = pp
    out["detractor_share"] = pd_
    out["nps"] = 100.0 * diff
    out["nps_ci_low"] = (100.0 * (diff - zq * se)).clip(lower=-100.0)
    out["nps_ci_high"] = (100.0 * (diff + zq * se)).clip(upper=100.0)

    suppressed = out["responses"] < int(config["stats"]["min_responses"])
    out.loc[suppressed, SCORE_COLUMNS] = np.nan
    out["suppressed"] = suppressed
    return out


def satisfaction_by(surveys: pd.DataFrame, by: list[str], config: dict | None = None) -> pd.DataFrame:
    """CSAT / NPS per group of ``by`` columns (``[]`` = one overall row).

    Columns: the ``by`` columns, ``sent``, ``responses``, ``response_rate``, ``csat_n``, ``csat_mean``,
    ``csat_sd``, ``csat_ci_low/high`` (t interval), ``csat_top2_share``, ``nps_n``, ``promoter_share``,
    ``detractor_share``, ``nps`` (points), ``nps_ci_low/high`` (Wald interval), ``suppressed``.
    Responses are rows with a ``response_date``; null group keys form their own group.
    """
    config = _cfg(config)
    by = list(by)
    parts = _score_parts(surveys, config)
    if by:
        keys = [surveys[c] for c in by]
        g = parts.groupby(keys, dropna=False, sort=True).sum()
    else:
        g = parts.sum().to_frame().T
    return _finish(g, config).reset_index(drop=not by)


def trend(
    surveys: pd.DataFrame, by: list[str] | None = None, period: str = "M", config: dict | None = None
) -> pd.DataFrame:
    """:func:`satisfaction_by` per ``by`` + sending period (``sent_date``, pandas period alias, default month).

    Adds ``period`` (``pd.Period``) and the change against the immediately preceding period of the same group:
    ``response_rate_change``, ``csat_mean_change``, ``csat_top2_share_change``, ``nps_change`` (NaN when that
    period is absent or either side is suppressed).
    """
    config = _cfg(config)
    by = list(by or [])
    per = pd.to_datetime(surveys["sent_date"]).dt.to_period(period).rename("period")
    frame = surveys.assign(period=per)
    out = satisfaction_by(frame, [*by, "period"], config)
    metrics = ["response_rate", "csat_mean", "csat_top2_share", "nps"]
    prev = out[[*by, "period", *metrics]].copy()
    prev["period"] = prev["period"] + 1  # this row is the "previous" of the next period
    merged = out.merge(prev, on=[*by, "period"], how="left", suffixes=("", "_prev"))
    for c in metrics:
        merged[f"{c}_change"] = merged[c] - merged[f"{c}_prev"]
    merged = merged.drop(columns=[f"{c}_prev" for c in metrics])
    return merged.sort_values([*by, "period"], kind="stable").reset_index(drop=True)


# ================================================================================== key drivers


def key_drivers(surveys: pd.DataFrame, config: dict | None = None) -> pd.DataFrame:
    """Importance of each attribute rating on CSAT, over responses with csat and every rating present.

    ``beta_std``: coefficient of the OLS of z(csat) on the z-scored ratings jointly (numpy ``lstsq``);
    ``pearson_r``: simple correlation of the rating with csat; ``n``: rows used (same for all). Sorted by
    ``beta_std`` descending, then ``pearson_r``; ``rank`` 1 = most important. A constant rating gets NaN.
    """
    config = _cfg(config)
    ratings = list(config["drivers"]["ratings"])
    labels = config["drivers"].get("labels", {})
    responded = surveys["response_date"].notna()
    data = surveys.loc[responded, ["csat", *ratings]].apply(_num).dropna()
    n = len(data)
    x = data[ratings].to_numpy(dtype=float)
    y = data["csat"].to_numpy(dtype=float)
    beta = np.full(len(ratings), np.nan)
    r = np.full(len(ratings), np.nan)
    if n >= 2:
        xs, ys = x.std(axis=0, ddof=1), y.std(ddof=1)
        ok = xs > 0
        if ys > 0 and ok.any():
            zx = (x[:, ok] - x[:, ok].mean(axis=0)) / xs[ok]
            zy = (y - y.mean()) / ys
            design = np.column_stack([np.ones(n), zx])
            coef, *_ = np.linalg.lstsq(design, zy, rcond=None)
            beta[ok] = coef[1:]
            r[ok] = (zx * zy[:, None]).sum(axis=0) / (n - 1)
    out = pd.DataFrame(
        {
            "attribute": ratings,
            "label": [labels.get(c, c) for c in ratings],
            "n": n,
            "beta_std": beta,
            "pearson_r": r,
        }
    )
    out = out.sort_values(["beta_std", "pearson_r"], ascending=False, na_position="last", kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    return out.reset_index(drop=True)


# ================================================================================== complaint themes


@dataclass(frozen=True)
class ThemeResult:
    """``flags``: per input row, one bool column per theme id plus ``any_theme``, ``has_comment`` and
    ``is_complaint`` (low csat or nps; False for a bare text series). ``counts``: per theme (index = theme
    id) its ``label``, ``comments`` (rows with text mentioning it), ``comment_share`` (of rows with text),
    ``complaints`` (complaint rows mentioning it) and ``complaint_share`` (of complaint rows with text)."""

    flags: pd.DataFrame
    counts: pd.DataFrame


def complaint_themes(data: pd.DataFrame | pd.Series, config: dict | None = None) -> ThemeResult:
    """Flag comments by theme with the keyword dictionary of ``config["themes"]``.

    ``data``: a surveys frame (text in ``comment``; complaints = responses with ``csat <= complaints.csat_max``
    or ``nps <= complaints.nps_max``) or any text series (no complaint flag). Plain substring match, ignoring
    case; one vectorised ``str.contains`` per theme.
    """
    config = _cfg(config)
    if isinstance(data, pd.DataFrame):
        text = data["comment"]
        c = config["complaints"]
        csat = _num(data["csat"]) if "csat" in data else pd.Series(np.nan, data.index)
        nps = _num(data["nps"]) if "nps" in data else pd.Series(np.nan, data.index)
        complaint = (csat <= c["csat_max"]) | (nps <= c["nps_max"])
        if "response_date" in data:
            complaint &= data["response_date"].notna()
    else:
        text = data
        complaint = pd.Series(False, index=data.index)
    text = text.astype("string")
    has = text.notna() & (text.str.strip().str.len() > 0)
    flags = pd.DataFrame(index=text.index)
    for theme, spec in config["themes"].items():
        pattern = "|".join(re.escape(k) for k in spec["keywords"])
        flags[theme] = text.str.contains(pattern, case=False, regex=True, na=False).astype(bool)
    theme_ids = list(config["themes"])
    flags["any_theme"] = flags[theme_ids].any(axis=1)
    flags["has_comment"] = has.astype(bool)
    flags["is_complaint"] = complaint.fillna(False).astype(bool)

    n_text = int(has.sum())
    n_cmpl = int((has & flags["is_complaint"]).sum())
    hits = flags[theme_ids]
    comments = hits.sum()
    complaints = hits[flags["is_complaint"]].sum()
    counts = pd.DataFrame(
        {
            "label": [config["themes"][t].get("label", t) for t in theme_ids],
            "comments": comments.astype(np.int64),
            "comment_share": comments / n_text if n_text else np.nan,
            "complaints": complaints.astype(np.int64),
            "complaint_share": complaints / n_cmpl if n_cmpl else np.nan,
        },
        index=pd.Index(theme_ids, name="theme"),
    )
    return ThemeResult(flags=flags, counts=counts)


def detractor_verbatims(surveys: pd.DataFrame, flags: pd.DataFrame, config: dict | None = None) -> pd.DataFrame:
    """The comments of complaint responses (see :func:`complaint_themes`), for reports: ``survey_id``,
    ``branch_id``, ``staff_id``, ``channel``, ``product_family``, ``tier`` (when present), ``csat``, ``nps``,
    ``comment`` and ``themes`` (theme ids, comma-separated). ``flags`` is :func:`complaint_themes`' for the
    same rows. Comments are as staged: scrubbed of names, ID numbers, cards, phones and e-mails."""
    config = _cfg(config)
    keep = flags["is_complaint"] & flags["has_comment"]
    rows = surveys.loc[keep[keep].index]
    theme_ids = list(config["themes"])
    hits = flags.loc[rows.index, theme_ids]
    themes = pd.Series("", index=rows.index, dtype=object)
    for t in theme_ids:
        themes = themes + np.where(hits[t], t + ",", "")
    cols = [
        c
        for c in ("survey_id", "branch_id", "staff_id", "channel", "product_family", "tier", "csat", "nps", "comment")
        if c in rows.columns
    ]
    return rows[cols].assign(themes=themes.str.rstrip(",")).sort_values("survey_id").reset_index(drop=True)


# ================================================================================== SLA

STATUS_ORDER = {"OPEN": 0, "RSLV": 1, "CLSD": 2}


@dataclass(frozen=True)
class SlaResult:
    """``detail``: one row per request (latest state); ``by_priority`` and ``by_staff`` summaries."""

    detail: pd.DataFrame
    by_priority: pd.DataFrame
    by_staff: pd.DataFrame


def latest_requests(service_requests: pd.DataFrame) -> pd.DataFrame:
    """One row per ``request_id``: the most advanced record (status OPEN < RSLV < CLSD, then the record with
    a response / resolution time). A request is re-sent whenever it changes, so the latest is the furthest."""
    sr = service_requests
    order = pd.DataFrame(
        {
            "_s": sr["status"].map(STATUS_ORDER).fillna(-1),
            "_r": sr["first_response_time"].notna(),
            "_v": sr["resolved_time"].notna(),
        },
        index=sr.index,
    )
    idx = order.assign(request_id=sr["request_id"]).sort_values(["request_id", "_s", "_v", "_r"], kind="stable").index
    return sr.loc[idx].drop_duplicates("request_id", keep="last").sort_index()


def _minutes(a: pd.Series, b: pd.Series) -> pd.Series:
    return (b - a).dt.total_seconds() / 60.0


def tier_limits(config: dict) -> pd.DataFrame:
    """The tier targets of ``config["sla_tier"]`` as rows: tier, priority, response_minutes, resolution_minutes
    (a tier or priority without an entry has no tier target: the priority's target alone applies)."""
    rows = [
        {"tier": tier, "priority": prio, **{k: float(v[k]) for k in ("response_minutes", "resolution_minutes")}}
        for tier, prios in (config.get("sla_tier") or {}).items()
        for prio, v in prios.items()
    ]
    return pd.DataFrame(rows, columns=["tier", "priority", "response_minutes", "resolution_minutes"])


def sla(service_requests: pd.DataFrame, config: dict | None, as_of, customers: pd.DataFrame | None = None) -> SlaResult:
    """Response and resolution times against the service-level target at ``as_of``.

    The target of a request is its priority's (``config["sla"][priority]``) or, when ``customers`` gives the
    customer's ``tier`` and ``config["sla_tier"][tier][priority]`` has one, the tighter (smaller) of the two,
    for response and resolution separately. ``customers`` (customer_id, tier, key_account; optional) also
    flags the requests of key accounts: ``green_channel`` (绿色通道).

    Detail columns added: ``tier``, ``key_account``, ``green_channel`` (with ``customers``),
    ``response_minutes``, ``resolution_minutes`` (opened → first response / resolved), ``response_limit``,
    ``resolution_limit`` (the target applied, minutes; NaN for an unknown priority, whose breaches are False
    and ``sla_known`` False), ``response_limit_priority`` / ``resolution_limit_priority`` and
    ``response_limit_tier`` / ``resolution_limit_tier`` (the two candidates, NaN when absent),
    ``target_source`` (``tier`` when a tier target is the tighter for response or resolution, else
    ``priority``), ``response_breach`` (responded after the limit, or not responded and more than the limit
    elapsed at ``as_of``), ``resolution_breach`` (likewise), ``response_over`` / ``resolution_over`` (minutes
    past the limit, elapsed time for one not yet done; NaN when met), ``any_breach``, ``open_overdue`` (not
    resolved at ``as_of`` and past the resolution limit), ``met`` (resolved, neither limit breached).
    Exactly at the limit is met. Times after ``as_of`` count as not yet happened.
    """
    config = _cfg(config)
    as_of = pd.Timestamp(as_of)
    d = latest_requests(service_requests).copy()
    if customers is not None:
        info = customers.drop_duplicates("customer_id").set_index("customer_id")
        d["tier"] = d["customer_id"].map(info["tier"]) if "tier" in info.columns else None
        key = d["customer_id"].map(info["key_account"]).eq(True) if "key_account" in info.columns else False
        d["key_account"] = pd.Series(key, index=d.index, dtype=bool)
        d["green_channel"] = d["key_account"]
    opened = pd.to_datetime(d["opened_time"])
    first = pd.to_datetime(d["first_response_time"])
    resolved = pd.to_datetime(d["resolved_time"])
    first = first.where(first <= as_of)
    resolved = resolved.where(resolved <= as_of)
    elapsed = ((as_of - opened).dt.total_seconds() / 60.0).clip(lower=0.0)
    d["response_minutes"] = _minutes(opened, first)
    d["resolution_minutes"] = _minutes(opened, resolved)
    limits = config["sla"]
    tiers = tier_limits(config)
    tier = d["tier"] if "tier" in d.columns else pd.Series(None, index=d.index, dtype=object)
    pair = pd.MultiIndex.from_arrays([tier.astype(object), d["priority"].astype(object)])
    by_pair = tiers.set_index(["tier", "priority"])
    source = pd.Series(False, index=d.index)
    for kind in ("response", "resolution"):
        prio = d["priority"].map({p: v[f"{kind}_minutes"] for p, v in limits.items()}).astype(float)
        own = pd.Series(by_pair[f"{kind}_minutes"].reindex(pair).to_numpy(), index=d.index, dtype=float)
        d[f"{kind}_limit_priority"] = prio
        d[f"{kind}_limit_tier"] = own
        d[f"{kind}_limit"] = np.where(prio.isna(), np.nan, np.fmin(prio, own))
        source |= (own < prio).fillna(False)
    d["target_source"] = np.where(source, "tier", "priority")
    d["sla_known"] = d["response_limit"].notna()
    d["responded"] = first.notna()
    d["resolved"] = resolved.notna()
    d["response_breach"] = np.where(
        d["responded"], d["response_minutes"] > d["response_limit"], elapsed > d["response_limit"]
    )
    d["resolution_breach"] = np.where(
        d["resolved"], d["resolution_minutes"] > d["resolution_limit"], elapsed > d["resolution_limit"]
    )
    for kind in ("response", "resolution"):
        taken = d[f"{kind}_minutes"].fillna(elapsed)
        d[f"{kind}_over"] = (taken - d[f"{kind}_limit"]).where(d[f"{kind}_breach"])
    d["any_breach"] = d["response_breach"] | d["resolution_breach"]
    d["open_overdue"] = ~d["resolved"] & (elapsed > d["resolution_limit"])
    d["met"] = d["resolved"] & ~d["any_breach"] & d["sla_known"]
    # outcome known = done, or already late without being done
    d["response_decided"] = d["responded"] | d["response_breach"]
    d["resolution_decided"] = d["resolved"] | d["resolution_breach"]
    return SlaResult(detail=d, by_priority=_sla_summary(d, "priority"), by_staff=_sla_summary(d, "assigned_staff_id"))


def _sla_summary(d: pd.DataFrame, key: str) -> pd.DataFrame:
    g = d.groupby(key, dropna=False, sort=True)
    out = g.agg(
        requests=("request_id", "size"),
        responded=("responded", "sum"),
        response_decided=("response_decided", "sum"),
        response_breaches=("response_breach", "sum"),
        response_minutes_median=("response_minutes", "median"),
        resolved=("resolved", "sum"),
        resolution_decided=("resolution_decided", "sum"),
        resolution_breaches=("resolution_breach", "sum"),
        resolution_minutes_median=("resolution_minutes", "median"),
        open_overdue=("open_overdue", "sum"),
    )
    out["response_breach_rate"] = out["response_breaches"] / out["response_decided"].where(out["response_decided"] > 0)
    out["resolution_breach_rate"] = out["resolution_breaches"] / out["resolution_decided"].where(
        out["resolution_decided"] > 0
    )
    return out.reset_index()


# ================================================================================== SLA vs satisfaction


def sla_vs_satisfaction(
    surveys: pd.DataFrame,
    sla_frame: pd.DataFrame | SlaResult,
    config: dict | None = None,
    breach: str = "any_breach",
) -> pd.DataFrame:
    """CSAT / NPS of surveys after a service request, breached vs met SLA.

    Surveys are linked by ``related_id == request_id`` (the generator fills related_id with the request id
    for ``trigger = SR``, an interaction id for VISIT and a loan id for LOAN; only responses of the
    configured trigger are used). ``breach`` names the detail column to split on.
    Rows: ``csat_mean``, ``nps_mean`` (0-10 likelihood), ``nps`` (points); columns ``breach_n``,
    ``breach_value``, ``met_n``, ``met_value``, ``difference`` (breach − met). ``nps_n`` etc. are answer counts.
    """
    config = _cfg(config)
    detail = sla_frame.detail if isinstance(sla_frame, SlaResult) else sla_frame
    trig = config["sla_join"]["survey_trigger"]
    sv = surveys[(surveys["trigger"] == trig) & surveys["response_date"].notna()]
    j = sv.merge(detail[["request_id", breach]], left_on="related_id", right_on="request_id", how="inner")
    is_b = j[breach].astype(bool)
    csat = _num(j["csat"])
    nps = _num(j["nps"])
    score = np.where(
        nps >= config["nps"]["promoter_min"],
        100.0,
        np.where(nps <= config["nps"]["detractor_max"], -100.0, 0.0),
    )
    score = pd.Series(score, index=j.index).where(nps.notna())
    rows = {}
    for name, s in (("csat_mean", csat), ("nps_mean", nps), ("nps", score)):
        bn, mn = int(s[is_b].notna().sum()), int(s[~is_b].notna().sum())
        bv, mv = s[is_b].mean(), s[~is_b].mean()
        rows[name] = {"breach_n": bn, "breach_value": bv, "met_n": mn, "met_value": mv, "difference": bv - mv}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("measure")
