"""What the portfolio reports show, read from the marts (tokens and masked values only) and cut per recipient.

:func:`load_month` reads one month end's marts once; the ``*_context`` functions then cut the part a given
recipient may see: a relationship manager only the customers they manage, a branch head only their branch.
Contexts are plain dicts of numbers, strings and lists of dicts (picklable, for the rendering pool). Each carries
``figure_params``, the parameters of its figures' queries (:mod:`crm.reports.figures`: ``month_end`` with
``manager_id`` or ``branch_id``, ``quarter_end`` for a quarterly edition, ``week_end`` and ``manager_id``; dates
as ISO strings, ``None`` for bank-wide). Customer identities in a context are the masked display names and the
customer token's last 8 characters (a reference a manager can search in the CRM); nothing raw is read here.

Recipients (:func:`recipients`) come from the staged staff extract: active staff (status A) by role. The
e-mail address is not in staged data (it is a keyed token there); delivery resolves it at send time from the
restricted raw zone (:func:`crm.reports.recipients.address_book`).
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from crm.reports.lookups import customer_ref, row_limit, staff_name
from crm.value.position import WALLET_COLUMNS

TIER_ORDER = ["strategic", "key", "growth", "standard", "watch"]
SEVERITY_ORDER = ["high", "medium", "low"]
GRADE_ORDER = ["A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2", "C3", "D"]
# customer_360's exposure columns: joined onto each customer, shown on a key-account card
EXPOSURE_COLUMNS = (
    "loans",
    "loan_balance",
    "contract_amount",
    "overdue_principal",
    "max_overdue_days",
    "worst_five_class",
    "guarantees_received",
    "guarantees_given",
    "deposit_balance",
    "deposit_mtd_avg",
)
COMPONENTS = ["loan_nii", "deposit_spread", "fees", "expected_loss", "servicing_cost", "contribution"]
# customer_value's share-of-wallet columns (WALLET_COLUMNS, crm.value.position: the latest bureau pull within
# the value configuration's staleness window; missing when there is none), the industry position the reports
# read (corporates only) and value trend (docs/playbook.md); a warehouse written before they existed reads them
# as missing
INDUSTRY_COLUMNS = (
    "industry_region",
    "industry_peers",
    "revenue",
    "revenue_growth",
    "industry_rank_revenue",
    "industry_rank_assets",
    "bench_revenue_ratio",
    "bench_assets_ratio",
    "industry_position",
)
TREND_COLUMNS = (
    "months_held",
    "contribution_annualised",
    "contribution_change_3m",
    "value_score_change_3m",
    "value_trend",
)
VALUE_COLUMNS = (*WALLET_COLUMNS, *INDUSTRY_COLUMNS, *TREND_COLUMNS)


_limit = row_limit


MONTHS_OF_TREND = _limit("trend_months")


@dataclass
class MonthData:
    """The marts of one month end (and the score history for trends). Frames are empty when a mart is."""

    month_end: dt.date
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    # marts with no row for the month end (or no table yet): their sections say "no data yet" (crm.reports.proposals)
    absent: set[str] = field(default_factory=set)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.frames.get(name, pd.DataFrame())

    def customers(self) -> pd.DataFrame:
        """customer_value joined with customer 360's profile and the latest score (:func:`_customers`)."""
        return _customers(self)


MONTH_TABLES = [
    "customer_360",
    "customer_value",
    "credit_scores",
    "early_warnings",
    "watch_list",
    "cross_sell_suggestions",
    "revisit_plan",
    "manager_scorecards",
    "supply_chain_leads",
    "satisfaction_by_dimension",
    "satisfaction_drivers",
    "complaint_themes",
    "service_sla",
    "sla_vs_satisfaction",
    "satisfaction_verbatims",
    "satisfaction_by_dimension_quarter",
    "satisfaction_drivers_quarter",
    "complaint_themes_quarter",
    "satisfaction_verbatims_quarter",
]


def _read(conn: sa.Connection, table: str, where: str, params: dict) -> pd.DataFrame:
    """``SELECT * FROM table WHERE where``; ``{customer_value}`` in ``where`` is that table's qualified name."""
    from crm.warehouse import schema_of

    schema = schema_of(conn)

    def name(t: str) -> str:
        return f'"{schema}"."{t}"' if schema else f'"{t}"'

    if not sa.inspect(conn).has_table(table, schema=schema):
        return pd.DataFrame()
    where = where.replace("{customer_value}", name("customer_value"))
    return pd.read_sql(sa.text(f"SELECT * FROM {name(table)} WHERE {where}"), conn, params=params)


def load_month(conn: sa.Connection, month_end: dt.date, staff: pd.DataFrame | None = None) -> MonthData:
    """Every mart a portfolio report reads for ``month_end``; the score and satisfaction history of the 12
    month ends up to it; ``staff`` (staged staff rows, masked names) when given."""
    first = (pd.Timestamp(month_end) - pd.DateOffset(months=MONTHS_OF_TREND - 1)).date().replace(day=1)
    data = MonthData(month_end)
    for t in MONTH_TABLES:
        data.frames[t] = _read(conn, t, "month_end = :d", {"d": month_end})
    data.frames["score_history"] = _read(
        conn, "credit_scores", "month_end >= :a AND month_end <= :b", {"a": first, "b": month_end}
    )
    # the monthly contribution of the month end's value window, of key accounts only (their cards' charts)
    data.frames["customer_value_month"] = _read(
        conn,
        "customer_value_month",
        "month_end = :d AND customer_id IN (SELECT customer_id FROM {customer_value} WHERE month_end = :d AND key_account)",
        {"d": month_end},
    )
    data.frames["satisfaction_history"] = _read(
        conn,
        "satisfaction_by_dimension",
        "month_end >= :a AND month_end <= :b AND dimension IN ('all', 'branch_id')",
        {"a": first, "b": month_end},
    )
    from crm.reports import proposals, service

    frames, data.absent = proposals.load(conn, month_end)
    data.frames.update(frames)
    data.frames.update(service.load(lambda t, w, p: _read(conn, t, w, p), month_end))  # issue 20: service levels
    from crm.reports import team

    frames, absent = team.load(conn, month_end)
    data.frames.update(frames)
    data.absent |= absent
    from crm.reports import lifecycle

    frames, absent = lifecycle.load(conn, month_end)
    data.frames.update(frames)
    data.absent |= absent
    from crm.reports import retention

    frames, _absent = retention.load(conn, month_end)  # an absent retention mart is left out of the frames
    data.frames.update({k: v for k, v in frames.items() if k not in _absent})
    if staff is not None:
        data.frames["staff"] = staff
    return data


def _records(frame: pd.DataFrame, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows as dicts with None for missing values (templates format None as a dash)."""
    if frame is None or frame.empty:
        return []
    f = frame.reindex(columns=columns) if columns else frame  # a column a mart lacks reads as None
    f = f.astype(object).where(f.notna(), None)
    return f.to_dict("records")


_ref = customer_ref


def _counts(series: pd.Series, order: list[str]) -> list[dict[str, Any]]:
    vc = series.value_counts()
    keys = [k for k in order if k in vc.index] + sorted(k for k in vc.index if k not in order)
    return [{"key": str(k), "count": int(vc[k])} for k in keys]


def _customers(data: MonthData) -> pd.DataFrame:
    """customer_value joined with the profile columns of customer 360 and the latest score (computed once per
    :class:`MonthData`)."""
    if "_customers" not in data.frames:
        data.frames["_customers"] = _join_customers(data)
    return data.frames["_customers"]


def _join_customers(data: MonthData) -> pd.DataFrame:
    value, c360, scores = data["customer_value"], data["customer_360"], data["credit_scores"]
    if value.empty:
        return pd.DataFrame()
    prof = [
        "customer_id",
        "display_name",
        "id_masked",
        "age_band",
        "industry",
        "enterprise_size",
        "city",
        "tenure_months",
        "branch_name",
        "manager_name",
        "products_held",
        "product_families",
        *EXPOSURE_COLUMNS,
    ]
    both = [c for c in prof if c != "customer_id" and c in value.columns and c in c360.columns]
    out = value.merge(c360[[c for c in prof if c in c360.columns]], on="customer_id", how="left", suffixes=("", "_360"))
    for c in both:  # a column of both (industry): the mart's value, else the profile's
        out[c] = out[c].where(out[c].notna(), out.pop(f"{c}_360"))
    for c in VALUE_COLUMNS:
        if c not in out.columns:  # a warehouse written before the column existed: unknown
            out[c] = np.nan
    if len(scores):
        sc = scores.drop_duplicates("customer_id")[
            ["customer_id", "score", "grade", *[c for c in scores.columns if c.startswith("reason_")]]
        ]
        out = out.drop(columns=[c for c in ("grade",) if c in out.columns]).merge(sc, on="customer_id", how="left")
    for col in ("score", "grade", "reason_1", "reason_2", "reason_3", "reason_4"):
        if col not in out.columns:
            out[col] = None
    out["ref"] = _ref(out["customer_id"])
    return out


def _trends(history: pd.DataFrame, customer_ids: pd.Series) -> dict[str, list[dict[str, Any]]]:
    """Score and grade per month end for each of ``customer_ids`` (one pass over the history)."""
    if history.empty or customer_ids.empty:
        return {}
    h = history[history["customer_id"].isin(customer_ids)].sort_values(["customer_id", "month_end"])
    out: dict[str, list[dict[str, Any]]] = {}
    for cid, g in h.groupby("customer_id", sort=False):
        out[cid] = [
            {"month_end": m, "score": float(sc), "grade": gr}
            for m, sc, gr in zip(g["month_end"], g["score"], g["grade"], strict=True)
        ]
    return out


def _isna(value: Any) -> bool:
    """A missing scalar (None, NaN, NaT, pd.NA); a list or other container is never missing."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def sparkline(values: list[float], width: int = 160, height: int = 36, title: str = "") -> str:
    """A small inline SVG polyline of ``values`` (no axes; the figures are printed beside it). Cheap and
    deterministic: hundreds of them render without a plotting library."""
    vals = [v for v in values if v is not None and np.isfinite(v)]
    if len(vals) < 2:
        return ""
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    step = (width - 4) / (len(vals) - 1)
    pts = " ".join(f"{2 + i * step:.1f},{height - 3 - (v - lo) / span * (height - 6):.1f}" for i, v in enumerate(vals))
    last = pts.split(" ")[-1].split(",")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img"><title>{html.escape(title)}</title>'
        f'<polyline fill="none" stroke="#1f4e79" stroke-width="1.6" points="{pts}"/>'
        f'<circle cx="{last[0]}" cy="{last[1]}" r="2.4" fill="#1f4e79"/></svg>'
    )


def leader_percentile() -> float:
    """The revenue percentile within industry and region from which a key account counts as an industry leader
    (crm/reports/config.toml ``[wallet]``)."""
    from crm.reports.settings import settings

    return float(settings()["wallet"]["industry_leader_percentile"])


WALLET_SUMMARY = (
    "key_accounts",
    "main_bank",
    "main_bank_share",
    "main_bank_unknown",
    "wallet_share_mean",
    "headroom_total",
    "no_bureau",
    "leaders",
    "value_up",
    "value_down",
)


def wallet_summary(keys: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Share of wallet of a set of key accounts (customer_value rows), per ``by`` (e.g. manager_id) or, with
    ``by=None``, one row for all: key_accounts; main_bank (where we are the main bank) and main_bank_share (of
    the key accounts); main_bank_unknown (no bureau pull to tell); wallet_share_mean (mean over the key accounts
    whose share is known); headroom_total (sum of wallet_headroom, yuan); no_bureau (no bureau pull within the
    staleness window: bureau_query_date missing); leaders (revenue percentile within industry and region at
    least :func:`leader_percentile`); value_up and value_down (value_trend). The figures ``*.wallet.*`` of
    crm/reports/figures*.toml compute the same in SQL."""
    cols = [by] if by else []
    if keys.empty:
        if by:
            return pd.DataFrame(columns=[*cols, *WALLET_SUMMARY])
        # no key account: counts and the headroom are 0, the shares unknown (as the figures' SQL gives them)
        zero = dict.fromkeys(WALLET_SUMMARY, 0) | {"headroom_total": 0.0}
        return pd.DataFrame([zero | {"main_bank_share": np.nan, "wallet_share_mean": np.nan}])
    main = keys["main_bank"].astype("boolean")
    trend = keys["value_trend"].astype(object)
    f = pd.DataFrame(
        {
            "_g": keys[by] if by else 0,
            "key_accounts": 1,
            "main_bank": main.fillna(False).astype("int64"),
            "main_bank_unknown": main.isna().astype("int64"),
            "wallet_share_mean": pd.to_numeric(keys["wallet_share"], errors="coerce"),
            "headroom_total": pd.to_numeric(keys["wallet_headroom"], errors="coerce"),
            "no_bureau": keys["bureau_query_date"].isna().astype("int64"),
            "leaders": (pd.to_numeric(keys["industry_rank_revenue"], errors="coerce") >= leader_percentile()).astype(
                "int64"
            ),
            "value_up": (trend == "up").astype("int64"),
            "value_down": (trend == "down").astype("int64"),
        },
        index=keys.index,
    )
    g = f.groupby("_g", sort=True)
    out = g[["key_accounts", "main_bank", "main_bank_unknown", "no_bureau", "leaders", "value_up", "value_down"]].sum()
    out["wallet_share_mean"] = g["wallet_share_mean"].mean()
    out["headroom_total"] = g["headroom_total"].sum(min_count=0)
    out["main_bank_share"] = out["main_bank"] / out["key_accounts"]
    out = out.reset_index().rename(columns={"_g": by} if by else {}).drop(columns=[] if by else ["_g"])
    return out[[*cols, *WALLET_SUMMARY]]


def bar_sparkline(
    values: list[float | None], slots: int = 12, width: int = 160, height: int = 36, title: str = ""
) -> str:
    """A small inline SVG of one bar per value (a month's contribution) on ``slots`` equal places, the last value
    on the right (a customer held for fewer months has empty places on the left), a zero line, negative bars
    below it in the warning colour; a missing value leaves its place empty. No axes: the figures are printed
    beside it. Deterministic, no plotting library. "" when no value is known."""
    vals = [None if v is None or not np.isfinite(v) else float(v) for v in values][-slots:]
    known = [v for v in vals if v is not None]
    if not known:
        return ""
    hi, lo = max(max(known), 0.0), min(min(known), 0.0)
    span = (hi - lo) or 1.0
    pad = 2.0
    inner = height - 2 * pad
    zero = pad + hi / span * inner
    step = (width - 2 * pad) / slots
    bar = step * 0.7
    first = slots - len(vals)
    rects = []
    for i, v in enumerate(vals):
        if v is None:
            continue
        x = pad + (first + i) * step + (step - bar) / 2
        h = abs(v) / span * inner
        y = zero - h if v >= 0 else zero
        colour = "#1f4e79" if v >= 0 else "#b4533a"
        rects.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{max(h, 0.6):.1f}" fill="{colour}"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img"><title>{html.escape(title)}</title>'
        f'<line x1="{pad}" y1="{zero:.1f}" x2="{width - pad}" y2="{zero:.1f}" stroke="#9aa5b1" stroke-width="0.6"/>'
        + "".join(rects)
        + "</svg>"
    )


SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITY_ORDER)}  # high 0 .. low 2; none: len(SEVERITY_ORDER)


def urgency_order(keys: pd.DataFrame, warnings: pd.DataFrame) -> pd.DataFrame:
    """``keys`` (key accounts with customer_id, max_overdue_days, worst_five_class, value_score) with
    ``warnings`` (count of this month's early warnings), ``top_severity`` (the most severe, None without one) and
    sorted most urgent first: the most severe warning, then the worst days past due, the worst five-category
    class, the value score (largest first) and the customer token (a stable order)."""
    if keys.empty:
        return keys.assign(warnings=pd.Series(dtype="int64"), top_severity=pd.Series(dtype=object))
    none = len(SEVERITY_ORDER)
    if len(warnings):
        w = warnings.assign(_r=warnings["severity"].map(SEVERITY_RANK).fillna(none))
        g = w.groupby("customer_id")
        count, rank = g.size(), g["_r"].min()
    else:
        count = rank = pd.Series(dtype="float64")
    out = keys.assign(
        warnings=keys["customer_id"].map(count).fillna(0).astype("int64"),
        _rank=keys["customer_id"].map(rank).fillna(none),
        _od=pd.to_numeric(keys["max_overdue_days"], errors="coerce").fillna(0),
        _fc=pd.to_numeric(keys["worst_five_class"], errors="coerce").fillna(0),
        _vs=pd.to_numeric(keys["value_score"], errors="coerce").fillna(-np.inf),
    )
    top = out["_rank"].map(dict(enumerate(SEVERITY_ORDER))).astype(object)
    out["top_severity"] = top.where(top.notna(), None)
    out = out.sort_values(
        ["_rank", "_od", "_fc", "_vs", "customer_id"], ascending=[True, False, False, False, True], kind="stable"
    )
    return out.drop(columns=["_rank", "_od", "_fc", "_vs"])


ACCOUNT_ROW_COLUMNS = [
    "ref",
    "display_name",
    "tier",
    "grade",
    "score",
    "loan_balance",
    "deposit_balance",
    "contribution",
    "max_overdue_days",
    "worst_five_class",
    "warnings",
    "top_severity",
    "revisit_status",
]
# the key-account report's second summary table: share of wallet, industry position and value trend per account
WALLET_ROW_COLUMNS = [
    "ref",
    "display_name",
    "segment",
    "main_bank",
    "wallet_share",
    "external_loan_balance",
    "total_debt",
    "wallet_headroom",
    "bureau_query_date",
    "dsti",
    "industry_rank_revenue",
    "industry_peers",
    "bench_revenue_ratio",
    "industry_position",
    "value_trend",
    "value_score_change_3m",
]


def _main_bank(value: Any) -> bool | None:
    """main_bank as True, False or None (unknown), whatever the frame's dtype made of it."""
    return None if _isna(value) else bool(value)


def _monthly(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """customer_value_month rows per customer: [{month, contribution}] in month order (one pass)."""
    if frame.empty:
        return {}
    f = frame.sort_values(["customer_id", "month"])
    return {
        cid: [
            {"month": m, "contribution": None if _isna(c) else float(c)}
            for m, c in zip(g["month"], g["contribution"], strict=True)
        ]
        for cid, g in f.groupby("customer_id", sort=False)
    }


def key_account_context(data: MonthData, manager_id: str, *, max_accounts: int | None = None) -> dict[str, Any]:
    """The monthly key-account report of one relationship manager: their portfolio only. Key accounts come
    most urgent first (:func:`urgency_order`), once as a one-line-each summary (``account_rows``) and once as a
    card each (``accounts``)."""
    customers = _customers(data)
    mine = customers[customers["manager_id"] == manager_id] if len(customers) else customers
    card = data["manager_scorecards"]
    card = card[card["manager_id"] == manager_id] if len(card) else card
    warnings = data["early_warnings"]
    warnings = (
        warnings[warnings["customer_id"].isin(mine["customer_id"])] if len(warnings) and len(mine) else pd.DataFrame()
    )
    keys = mine[mine["key_account"].astype(bool)] if len(mine) else mine
    keys = urgency_order(keys, warnings)
    wallet = _records(wallet_summary(keys))[0]  # all the key accounts, before any cut
    if max_accounts is not None:
        keys = keys.head(max_accounts)
    sugg = data["cross_sell_suggestions"]
    sugg = sugg[sugg["customer_id"].isin(keys["customer_id"])] if len(sugg) and len(keys) else pd.DataFrame()
    plan = data["revisit_plan"]
    plan = plan[plan["customer_id"].isin(mine["customer_id"])] if len(plan) and len(mine) else pd.DataFrame()
    watch = data["watch_list"]
    watch = watch[watch["manager_id"] == manager_id] if len(watch) else pd.DataFrame()
    if len(watch):
        watch = watch.merge(mine[["customer_id", "display_name", "ref"]], on="customer_id", how="left")
    leads = data["supply_chain_leads"]
    leads = leads[leads["anchor_manager_id"] == manager_id] if len(leads) else pd.DataFrame()
    accounts = []
    trends = _trends(data["score_history"], keys["customer_id"]) if len(keys) else {}
    months = data["customer_value_month"]
    monthly = _monthly(months[months["customer_id"].isin(keys["customer_id"])]) if len(months) and len(keys) else {}
    from crm.reports import lifecycle, proposals, service

    needs = proposals.account_sections(data, keys["customer_id"]) if len(keys) else {}
    from crm.reports import team

    by_customer = {
        name: dict(tuple(frame.groupby("customer_id", sort=False))) if len(frame) else {}
        for name, frame in (("w", warnings), ("s", sugg), ("p", plan))
    }
    lead_by_anchor = dict(tuple(leads.groupby("anchor_id", sort=False))) if len(leads) else {}
    empty = pd.DataFrame()
    revisit_status = {}
    for r in keys.itertuples(index=False):
        cid = r.customer_id
        trend = trends.get(cid, [])
        w = by_customer["w"].get(cid, empty)
        s = by_customer["s"].get(cid, empty)
        p = by_customer["p"].get(cid, empty)
        lead = lead_by_anchor.get(cid, empty)
        row = {k: (None if _isna(v) else v) for k, v in r._asdict().items()}
        revisit = _records(p, ["last_visit", "due_date", "days_overdue", "status"])[0] if len(p) else None
        revisit_status[cid] = revisit["status"] if revisit else None
        if len(w):
            w = w.assign(_r=w["severity"].map(SEVERITY_RANK)).sort_values(["_r", "rule_id"])
        accounts.append(
            {
                "profile": {
                    k: row.get(k)
                    for k in (
                        "display_name",
                        "ref",
                        "segment",
                        "value_segment",
                        "industry",
                        "enterprise_size",
                        "age_band",
                        "city",
                        "tenure_months",
                        "tier",
                        "lifecycle_stage",
                        "branch_name",
                        "products_held",
                        "product_families",
                    )
                },
                "exposure": {k: row.get(k) for k in EXPOSURE_COLUMNS},
                "score": {
                    "score": row.get("score"),
                    "grade": row.get("grade"),
                    "pd": row.get("pd"),
                    "reasons": [row.get(f"reason_{i}") for i in range(1, 5) if row.get(f"reason_{i}")],
                },
                "trend": trend,
                "value": {c: row.get(c) for c in (*COMPONENTS, *TREND_COLUMNS)}
                | {"value_score": row.get("value_score")},
                "wallet": {c: row.get(c) for c in WALLET_COLUMNS} | {"main_bank": _main_bank(row.get("main_bank"))},
                "industry": {c: row.get(c) for c in INDUSTRY_COLUMNS} | {"industry": row.get("industry")},
                "monthly": monthly.get(cid, []),
                "top_severity": row.get("top_severity"),
                "warnings": _records(w, ["rule_id", "severity", "evidence_args"]) if len(w) else [],
                "suggestions": _records(s.sort_values("rank"), ["rank", "product_family", "score", "because"])
                if len(s)
                else [],
                "leads": _records(
                    lead.assign(ref=_ref(lead["counterparty_id"])), ["ref", "role", "amount", "product", "holds_scf"]
                )
                if len(lead)
                else [],
                "revisit": revisit,
                "needs": needs.get(cid, {"needs": [], "preferences": None, "proposals": []}),
                "lifecycle": lifecycle.account_section(data, cid),
            }
        )
    rows = keys.assign(revisit_status=keys["customer_id"].map(revisit_status)) if len(keys) else keys
    summary = _records(card)[0] if len(card) else {}
    wallet_rows = _records(rows, WALLET_ROW_COLUMNS) if len(rows) else []
    for w in wallet_rows:
        w["main_bank"] = _main_bank(w["main_bank"])
    return {
        "month_end": data.month_end,
        "manager_id": manager_id,
        "manager_name": _staff_name(data, manager_id),
        "figure_params": {
            "month_end": data.month_end.isoformat(),
            "manager_id": manager_id,
            "leader_percentile": leader_percentile(),
        },
        "summary": summary,
        "proposals": proposals.key_account_summary(data, keys),
        "service": service.account_section(data, manager_id),
        "team": team.key_account_section(data, keys, manager_id),
        "wallet": wallet,
        "wallet_rows": wallet_rows,
        "customers": len(mine),
        "tiers": _counts(mine["tier"], TIER_ORDER) if len(mine) else [],
        "grades": _counts(mine["grade"].dropna(), GRADE_ORDER) if len(mine) else [],
        "watch": _records(
            watch.head(_limit("key_account_watch_rows")), ["ref", "display_name", "severity", "rule_ids", "details"]
        )
        if len(watch)
        else [],
        "watch_total": len(watch),
        "account_rows": _records(rows, ACCOUNT_ROW_COLUMNS) if len(rows) else [],
        "accounts": accounts,
        "rows": len(mine),
    }


_staff_name = staff_name


def branch_context(data: MonthData, branch_id: str, *, top: int | None = None) -> dict[str, Any]:
    """The monthly branch report of one branch head: the branch's managers side by side, key accounts,
    warnings and the non-performing share of the branch only; ``top`` rows of each list (default: the
    ``branch_rows`` limit of crm/reports/config.toml)."""
    top = _limit("branch_rows") if top is None else top
    cards = data["manager_scorecards"]
    cards = cards[cards["branch_id"] == branch_id].sort_values("manager_id") if len(cards) else cards
    customers = _customers(data)
    mine = customers[customers["branch_id"] == branch_id] if len(customers) else customers
    if len(cards):
        cards = cards.assign(manager_name=cards["manager_id"].map(lambda s: _staff_name(data, s)))
    keys = (
        mine[mine["key_account"].astype(bool)].sort_values(["value_score", "customer_id"], ascending=[False, True])
        if len(mine)
        else mine
    )
    by_manager = wallet_summary(keys, "manager_id")
    if len(by_manager):
        by_manager["manager_name"] = by_manager["manager_id"].map(lambda s: _staff_name(data, s))
    no_bureau = (
        keys[keys["bureau_query_date"].isna()].sort_values(["loan_balance", "customer_id"], ascending=[False, True])
        if len(keys)
        else keys
    )
    watch = data["watch_list"]
    watch = watch[watch["branch_id"] == branch_id] if len(watch) else pd.DataFrame()
    if len(watch):
        watch = watch.merge(mine[["customer_id", "display_name", "ref"]], on="customer_id", how="left")
        watch = watch[watch["severity"] == "high"]
    loan = float(cards["loan_balance"].sum()) if len(cards) else 0.0
    npl = float(cards["npl_balance"].sum()) if len(cards) else 0.0
    overdue = float(cards["overdue_balance"].sum()) if len(cards) else 0.0
    branch_name = mine["branch_name"].dropna().iloc[0] if len(mine) and mine["branch_name"].notna().any() else None
    key_rows = (
        _records(
            keys.head(top),
            [
                "ref",
                "display_name",
                "manager_name",
                "tier",
                "value_score",
                "contribution",
                "loan_balance",
                "grade",
                "worst_five_class",
                "main_bank",
                "wallet_share",
            ],
        )
        if len(keys)
        else []
    )
    for k in key_rows:
        k["main_bank"] = _main_bank(k["main_bank"])
    return {
        "month_end": data.month_end,
        "branch_id": branch_id,
        "branch_name": branch_name,
        "totals": {
            "customers": int(cards["customers"].sum()) if len(cards) else 0,
            "key_accounts": int(cards["key_accounts"].sum()) if len(cards) else 0,
            "loan_balance": loan,
            "contribution": float(cards["contribution"].sum()) if len(cards) else 0.0,
            "npl_share": npl / loan if loan else None,
            "overdue_share": overdue / loan if loan else None,
            "warned": int(cards["warned_customers"].sum()) if len(cards) else 0,
        },
        "managers": _records(cards),
        "key_accounts": key_rows,
        "key_accounts_total": len(keys),
        "wallet": _records(wallet_summary(keys))[0],
        "wallet_managers": _records(by_manager),
        "no_bureau": _records(
            no_bureau.head(top), ["ref", "display_name", "manager_name", "tier", "loan_balance", "value_score"]
        )
        if len(no_bureau)
        else [],
        "no_bureau_total": len(no_bureau),
        "warnings": _records(
            watch.head(top), ["ref", "display_name", "manager_id", "severity", "rule_ids", "evidence", "details"]
        )
        if len(watch)
        else [],
        "tiers": _counts(mine["tier"], TIER_ORDER) if len(mine) else [],
        "rows": len(mine),
        "needs": branch_sections(data, branch_id),
        "service": _service().branch_section(data, branch_id, top),
        "team": _team_branch(data, branch_id, top),
        "lifecycle": _lifecycle().branch_section(data, branch_id),
        "churn": _branch_churn(data, branch_id),
        "figure_params": {
            "month_end": data.month_end.isoformat(),
            "branch_id": branch_id,
            "leader_percentile": leader_percentile(),
        },
    }


def _service():
    from crm.reports import service

    return service


def _team_branch(data: MonthData, branch_id: str, top: int) -> dict[str, Any]:
    """The branch report's coverage-team part (:func:`crm.reports.team.branch_section`)."""
    from crm.reports import team

    return team.branch_section(data, branch_id, top=top)


def branch_sections(data: MonthData, branch_id: str) -> dict[str, Any]:
    """The branch report's needs, preferences, conversion and uplift (:func:`crm.reports.proposals.branch_sections`)."""
    from crm.reports import proposals

    return proposals.branch_sections(data, branch_id)


def _lifecycle():
    """:mod:`crm.reports.lifecycle` (stage transitions, stage actions and referrals in the reports)."""
    from crm.reports import lifecycle

    return lifecycle


def _branch_churn(data: MonthData, branch_id: str) -> dict[str, Any]:
    """The branch report's churn lines (:func:`crm.reports.retention.branch_churn`)."""
    from crm.reports import retention

    return retention.branch_churn(data, branch_id)


def _branch_names(data: MonthData) -> dict[str, str]:
    c = data["customer_360"]
    if c.empty:
        return {}
    b = c[["branch_id", "branch_name"]].dropna().drop_duplicates("branch_id")
    return dict(zip(b["branch_id"].astype(str), b["branch_name"].astype(str), strict=True))


def satisfaction_context(data: MonthData, *, branch_id: str | None = None, months: int = 1) -> dict[str, Any]:
    """The satisfaction report, bank-wide or for one branch (its rows only): CSAT and NPS with intervals for
    the month (``months=3``: the quarter ending with it, from the ``*_quarter`` tables), the monthly trend
    over the history loaded, by channel, product family and tier (bank-wide: also by branch), drivers,
    complaint themes, the month's SLAs and their link to scores, and detractors' comments (scrubbed)."""
    q = "_quarter" if months == 3 else ""
    if months not in (1, 3):
        raise ValueError("the satisfaction report is monthly (months=1) or quarterly (months=3)")
    by = data[f"satisfaction_by_dimension{q}"]
    hist = data["satisfaction_history"]
    if branch_id is None:
        overall = by[by["dimension"] == "all"] if len(by) else by
        trend = hist[hist["dimension"] == "all"] if len(hist) else hist
    else:
        overall = by[(by["dimension"] == "branch_id") & (by["value"] == branch_id)] if len(by) else by
        trend = hist[(hist["dimension"] == "branch_id") & (hist["value"] == branch_id)] if len(hist) else hist
    trend = trend.sort_values("month_end").tail(MONTHS_OF_TREND) if len(trend) else trend
    dims = {}
    for dim in (("branch_id",) if branch_id is None else ()) + ("channel", "product_family", "tier"):
        d = by[by["dimension"] == dim] if len(by) else by
        dims[dim] = (
            _records(
                d.sort_values("value"),
                [
                    "value",
                    "sent",
                    "responses",
                    "response_rate",
                    "csat_mean",
                    "csat_ci_low",
                    "csat_ci_high",
                    "nps",
                    "nps_ci_low",
                    "nps_ci_high",
                    "suppressed",
                ],
            )
            if len(d)
            else []
        )
    verb = data[f"satisfaction_verbatims{q}"]
    if branch_id is not None and len(verb):
        verb = verb[verb["branch_id"] == branch_id]
    cols = ["month_end", "responses", "csat_mean", "csat_ci_low", "csat_ci_high", "nps", "nps_ci_low", "nps_ci_high"]
    names = _branch_names(data)
    return {
        "month_end": data.month_end,
        "branch_id": branch_id,
        "scope": "branch" if branch_id else "bank",
        "branch_name": names.get(branch_id) if branch_id else None,
        "branch_names": names,
        "quarterly": months == 3,
        "overall": _records(overall)[0] if len(overall) else None,
        "trend": _records(trend, cols) if len(trend) else [],
        "dimensions": dims,
        # drivers, themes and SLAs are bank-wide figures (the marts do not split them by branch)
        "drivers": _records(data[f"satisfaction_drivers{q}"].sort_values("rank"))
        if len(data[f"satisfaction_drivers{q}"])
        else [],
        "themes": _records(data[f"complaint_themes{q}"].sort_values("complaints", ascending=False))
        if len(data[f"complaint_themes{q}"])
        else [],
        "sla": _records(data["service_sla"]),
        "sla_link": _records(data["sla_vs_satisfaction"]),
        "verbatims": _records(
            verb.head(_limit("verbatims")), ["channel", "product_family", "csat", "nps", "comment", "themes"]
        )
        if len(verb)
        else [],
        "rows": int(overall["responses"].iloc[0]) if len(overall) else 0,
        "referrals": _lifecycle().referral_section(data, branch_id),
        "figure_params": {
            ("quarter_end" if months == 3 else "month_end"): data.month_end.isoformat(),
            "branch_id": branch_id,
        },
    }


def watch_digest_context(
    watch: pd.DataFrame,
    manager_id: str,
    week_end: dt.date,
    names: pd.DataFrame | None = None,
    manager_name: str | None = None,
    followups: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The weekly early-warning digest of one manager from ``watch_list_weekly`` rows, with the open and
    overdue warning follow-ups they own (``followups``: warning_followups_weekly rows; they count as rows)."""
    follow = _service().digest_section(followups, manager_id, names)
    w = watch[watch["manager_id"] == manager_id].sort_values("rank_in_manager") if len(watch) else watch
    if names is not None and len(w):
        w = w.merge(names[["customer_id", "display_name"]].drop_duplicates("customer_id"), on="customer_id", how="left")
    if len(w):
        w = w.assign(ref=_ref(w["customer_id"]))
    return {
        "week_end": week_end,
        "manager_id": manager_id,
        "manager_name": manager_name,
        "counts": _counts(w["severity"], SEVERITY_ORDER) if len(w) else [],
        "rows_list": _records(
            w,
            [
                c
                for c in ("ref", "display_name", "severity", "rule_ids", "evidence", "details", "loan_balance", "tier")
                if c in w.columns
            ],
        )
        if len(w)
        else [],
        "rows": len(w) + follow["total"],
        "followups": follow,
        "figure_params": {"week_end": week_end.isoformat(), "manager_id": manager_id},
    }
