"""The risk officers' monthly report (``risk``): what the risk marts say about one branch, for its risk officer
(role ``RO``); a head-office risk officer reads the whole bank.

:func:`load_risk_month` reads the month end's risk marts once (``customer_360``, ``five_class_differences``,
``financial_ratios``, ``party_groups``, ``group_exposure``, ``guarantee_circles``, ``early_warnings``);
:func:`risk_context` cuts them to a branch with plain pandas and returns a picklable dict;
:func:`prepare_risk` (registered in :data:`crm.reports.render.REPORTS`) turns its codes into the reader's
words (:mod:`crm.reports.labels`) in the rendering worker.

**Scope.** The customers of the month's ``customer_360`` whose ``branch_id`` is the officer's branch or whose
``parent_branch_id`` is (a branch's risk officer reads its sub-branches' customers); bank-wide: every customer.

What each section counts (every figure is recomputed in SQL by ``crm/reports/figures_risk.toml``):

- **Five-category differences**: the scope's loans in ``five_class_differences``; *reported better than the
  rule* (rule class above the reported class) first, then by the size of the gap, then by balance.
- **Deteriorating ratios**: per scope customer, its latest statement in ``financial_ratios`` (latest report
  period, then received date, then statement id) against the previous statement of the same period type
  (``prev_report_period``; none: no flag before). Listed when the latest raised more flags than that one;
  *new flags* are those raised now and not before.
- **Trouble**: a customer whose worst days past due are above 0 or whose worst reported class is 次级 (3) or
  worse in ``customer_360``, or who has a new or rising overdue warning (EW01, EW02) in ``early_warnings``.
- **Groups**: corporate groups (``party_groups``) with at least :data:`MIN_GROUP_CUSTOMERS` customers and a
  member in scope, those with a member in trouble first (the tile counts them), then by the group's balance
  (bank-wide, ``group_exposure``, as its share). **Circles**: every guarantee circle with a member in scope
  (they are few, and each is a risk structure), counted with its guaranteed amount (all, and those with a
  member in trouble: the tile), listed as chains of names, those in trouble first.
- **Bureau signals**: scope customers with EW08 (inquiry spike) or EW09 (new external debt).
- **High-severity warnings**: scope customers with a warning of severity ``high``; every warning of theirs
  this month, as sentences.
- **Concentration**: corporate loans by industry (share of the scope's corporate loan balance, HHI = sum of
  the squared shares); obligors (a group counts once with its members in scope, a customer in no group on its
  own): share of the scope's loan balance, the largest, HHI.

Customers are shown by masked display name and the last 8 characters of their token (``ref``); a group by
its largest member in the scope (or in the bank). Nothing raw is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa

from crm.reports.data import MonthData, _limit, _read, _ref

# the risk marts and the columns that order their rows: rows come back from the warehouse in no set order,
# and a sum over them must not depend on it (a figure's unrounded value is in the HTML, the same bytes on
# DuckDB and on PostgreSQL)
RISK_TABLES = {
    "customer_360": ["customer_id"],
    "five_class_differences": ["loan_id"],
    "financial_ratios": ["customer_id", "statement_id"],
    "party_groups": ["group_id", "node"],
    "group_exposure": ["group_id"],
    "guarantee_circles": ["circle_id"],
    "early_warnings": ["customer_id", "rule_id"],
}
TROUBLE_RULES = ("EW01", "EW02")  # new overdue, rising overdue
BUREAU_RULES = ("EW08", "EW09")  # bureau inquiry spike, new external debt
MIN_GROUP_CUSTOMERS = 2  # a "group" of one customer is single-name risk, shown under concentration
FLAG_NAMES = ("leverage_up", "liquidity", "interest_coverage", "negative_ocf", "revenue_decline")
SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


def load_risk_month(
    conn: sa.Connection,
    month_end: dt.date,
    staff: pd.DataFrame | None = None,
    branches: pd.DataFrame | None = None,
) -> MonthData:
    """The risk marts of ``month_end`` (empty frames for a mart never written), each in the order of its key
    (:data:`RISK_TABLES`), and the staged ``staff`` and ``branches`` when given (masked names; branch names)."""
    data = MonthData(month_end)
    for table, order in RISK_TABLES.items():
        frame = _read(conn, table, "month_end = :d", {"d": month_end})
        if len(frame) and set(order) <= set(frame.columns):
            frame = frame.sort_values(order, kind="stable").reset_index(drop=True)
        data.frames[table] = frame
    if staff is not None:
        data.frames["staff"] = staff
    if branches is not None:
        data.frames["branches"] = branches
    return data


def _num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype("float64")


def _f(value: Any) -> float | None:
    """A float, or None for a missing value (templates print a dash)."""
    if value is None or pd.isna(value):
        return None
    return float(value)


def _i(value: Any) -> int | None:
    if value is None or pd.isna(value):
        return None
    return int(value)


def _d(value: Any) -> dt.date | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def in_scope(c360: pd.DataFrame, branch_id: str | None) -> pd.DataFrame:
    """The customers of ``customer_360`` the report covers: every one (``branch_id`` None), else those booked
    at the branch or at one of its sub-branches (``parent_branch_id``)."""
    if branch_id is None or c360.empty:
        return c360
    hit = c360["branch_id"] == branch_id
    if "parent_branch_id" in c360.columns:
        hit |= c360["parent_branch_id"] == branch_id
    return c360[hit.fillna(False).to_numpy(bool)]


def _of(frame: pd.DataFrame, ids: pd.Index, column: str = "customer_id") -> pd.DataFrame:
    if frame.empty or not len(ids):
        return frame.iloc[0:0]
    return frame[frame[column].isin(ids)]


def troubled(c360: pd.DataFrame, warnings: pd.DataFrame) -> pd.Index:
    """Customers in trouble: overdue (worst days past due above 0) or classified 次级 or worse in customer 360,
    or with a new or rising overdue warning (EW01, EW02) this month."""
    parts = [pd.Series([], dtype=object)]
    if len(c360):
        bad = (_num(c360["max_overdue_days"]).fillna(0) > 0) | (_num(c360["worst_five_class"]).fillna(0) >= 3)
        parts.append(c360.loc[bad.to_numpy(bool), "customer_id"])
    if len(warnings):
        parts.append(warnings.loc[warnings["rule_id"].isin(TROUBLE_RULES), "customer_id"])
    return pd.Index(pd.concat(parts, ignore_index=True).astype(object).unique())


class Who:
    """The bank's customers as a report may name them: masked display name, short reference (``ref``) and
    loan balance (0 when none), by customer token; a party that is not a customer has no name."""

    def __init__(self, c360: pd.DataFrame) -> None:
        c = c360.drop_duplicates("customer_id") if len(c360) else pd.DataFrame(columns=["customer_id"])
        index = pd.Index(c["customer_id"].astype(object), name="customer_id")
        self.names = pd.Series(c["display_name"].to_numpy() if len(c) else [], index=index, dtype=object)
        self.refs = pd.Series(_ref(c["customer_id"]).to_numpy() if len(c) else [], index=index, dtype=object)
        self.balance = pd.Series(
            _num(c["loan_balance"]).fillna(0.0).to_numpy() if len(c) else [], index=index, dtype="float64"
        )

    def __contains__(self, node: object) -> bool:
        return node in self.names.index

    def person(self, node: object) -> dict[str, Any]:
        """A member as the reader may see them: a customer's masked name and ref; a non-customer is not named."""
        if node is None or node not in self.names.index:
            return {"display_name": None, "ref": None}
        return {"display_name": self.names.at[node], "ref": self.refs.at[node]}


def _bank_wide(data: MonthData) -> tuple[Who, pd.Index]:
    """Who is who (:class:`Who`) and who is in trouble (:func:`troubled`) in the whole bank, computed once per
    :class:`MonthData` (every risk officer's report of the month reads them)."""
    cache = data.__dict__.setdefault("_risk_bank_wide", {})
    if not cache:
        cache["who"] = Who(data["customer_360"])
        cache["trouble"] = troubled(data["customer_360"], data["early_warnings"])
    return cache["who"], cache["trouble"]


# ------------------------------------------------------------------------------------------- sections
def _five_class(fc: pd.DataFrame, who: Who, limit: int) -> dict[str, Any]:
    by = []
    better = (_num(fc["rule_class"]) > _num(fc["reported_class"])) if len(fc) else pd.Series(dtype=bool)
    for direction, mask in (("better", better), ("worse", ~better)):
        part = fc[mask.to_numpy(bool)] if len(fc) else fc
        by.append(
            {
                "direction": direction,
                "loans": len(part),
                "balance": float(_num(part["balance"]).sum()) if len(part) else 0.0,
            }
        )
    rows = []
    if len(fc):
        f = fc.assign(
            is_better=better.to_numpy(bool),
            gap=_num(fc["difference"]).abs(),
            bal=_num(fc["balance"]).fillna(0),
        ).sort_values(["is_better", "gap", "bal", "loan_id"], ascending=[False, False, False, True], kind="stable")
        for r in f.head(limit).itertuples(index=False):
            days = _i(r.overdue_days) or 0
            if str(r.status).strip() == "W":
                basis = "written_off"
            elif days > 0:
                basis = "overdue"
            elif str(getattr(r, "restructured", "") or "").strip().upper() == "Y":
                basis = "restructured"
            else:
                basis = "current"
            rows.append(
                {
                    "loan_id": str(r.loan_id),
                    **who.person(r.customer_id),
                    "reported_class": str(_i(r.reported_class)),
                    "rule_class": str(_i(r.rule_class)),
                    "overdue_days": days,
                    "balance": _f(r.balance),
                    "basis": basis,
                    "direction": "better" if r.is_better else "worse",
                }
            )
    return {"by_direction": by, "rows": rows, "total": len(fc)}


def latest_statements(ratios: pd.DataFrame) -> pd.DataFrame:
    """Per customer, its latest statement (latest report period, then received date, then statement id) with
    ``flags_before`` (the flag count of the previous statement of the same period type; 0 when there is none)
    and ``before_<flag>`` for each flag of that statement."""
    if ratios.empty:
        return ratios
    r = ratios.assign(_p=pd.to_datetime(ratios["report_period"]), _r=pd.to_datetime(ratios["received_date"]))
    r = r.sort_values(["customer_id", "_p", "_r", "statement_id"], na_position="first", kind="stable")
    cur = r.drop_duplicates("customer_id", keep="last")
    prev = r[["customer_id", "period_type", "_p", "flag_count", *[f"flag_{n}" for n in FLAG_NAMES]]].rename(
        columns={"_p": "_prev", "flag_count": "flags_before", **{f"flag_{n}": f"before_{n}" for n in FLAG_NAMES}}
    )
    cur = cur.assign(_prev=pd.to_datetime(cur["prev_report_period"]))
    out = cur.merge(prev, on=["customer_id", "period_type", "_prev"], how="left")
    out["flags_before"] = _num(out["flags_before"]).fillna(0).astype("int64")
    for n in FLAG_NAMES:
        out[f"before_{n}"] = out[f"before_{n}"].astype("boolean").fillna(False).astype(bool)
        out[f"flag_{n}"] = out[f"flag_{n}"].astype("boolean").fillna(False).astype(bool)
    return out.drop(columns=["_p", "_r", "_prev"])


def _ratios(fr: pd.DataFrame, who: Who, limit: int) -> dict[str, Any]:
    latest = latest_statements(fr)
    rose = latest[_num(latest["flag_count"]).fillna(0) > latest["flags_before"]] if len(latest) else latest
    by_flag = []
    for n in FLAG_NAMES:
        count = int((rose[f"flag_{n}"] & ~rose[f"before_{n}"]).sum()) if len(rose) else 0
        by_flag.append({"flag": n, "customers": count})
    rows = []
    if len(rose):
        rose = rose.assign(
            _gap=_num(rose["flag_count"]) - rose["flags_before"],
            _bal=rose["customer_id"].map(who.balance).fillna(0.0),
        ).sort_values(["_gap", "flag_count", "_bal", "customer_id"], ascending=[False, False, False, True])
        for r in rose.head(limit).to_dict("records"):
            rows.append(
                {
                    **who.person(r["customer_id"]),
                    "report_period": _d(r["report_period"]),
                    "period_type": r["period_type"],
                    "received_date": _d(r["received_date"]),
                    "flags_before": int(r["flags_before"]),
                    "flags_now": int(r["flag_count"]),
                    "new_flags": [n for n in FLAG_NAMES if r[f"flag_{n}"] and not r[f"before_{n}"]],
                    "debt_to_asset": _f(r["debt_to_asset"]),
                    "current_ratio": _f(r["current_ratio"]),
                    "interest_coverage": _f(r["interest_coverage"]),
                }
            )
    return {"by_flag": by_flag, "rows": rows, "total": len(rose)}


def _groups(
    members: pd.DataFrame, exposure: pd.DataFrame, ids: pd.Index, trouble: pd.Index, who: Who, limit: int, names: int
) -> dict[str, Any]:
    """Every group of :data:`MIN_GROUP_CUSTOMERS` or more customers with a member in scope, those with a member
    in trouble first, then by the group's (bank-wide) balance; ``in_trouble`` counts the former."""
    if members.empty:
        return {"rows": [], "total": 0, "in_trouble": 0}
    g = members[_num(members["group_customers"]) >= MIN_GROUP_CUSTOMERS]
    g = g.assign(
        _in=g["node"].isin(ids),
        _bad=g["node"].isin(trouble),
        _customer=g["node"].isin(who.names.index),
        _bal=g["node"].map(who.balance).fillna(0.0).astype("float64"),
    )
    agg = g.assign(_bad_bal=g["_bal"].where(g["_bad"], 0.0)).groupby("group_id", sort=True)
    agg = agg.agg(
        _in=("_in", "any"),
        troubled=("_bad", "sum"),
        troubled_balance=("_bad_bal", "sum"),
        customers=("group_customers", "max"),
    )
    hit = agg[agg["_in"]]
    exp = exposure.drop_duplicates("group_id").set_index("group_id") if len(exposure) else pd.DataFrame()
    hit = hit.assign(
        balance=_num(exp["balance"].reindex(hit.index)) if len(exp) else float("nan"),
        share=_num(exp["share_of_total"].reindex(hit.index)) if len(exp) else float("nan"),
    )
    top = hit.assign(_calm=hit["troubled"] == 0, _sort=hit["balance"].fillna(0.0)).reset_index()
    top = top.sort_values(["_calm", "_sort", "group_id"], ascending=[True, False, True], kind="stable").head(limit)
    rows = []
    for r in top.itertuples(index=False):
        part = g[g["group_id"] == r.group_id].sort_values(["_bal", "node"], ascending=[False, True])
        customers = part[part["_customer"]]
        inside = customers[customers["_in"]]
        lead = (inside if len(inside) else customers)["node"]
        bad = part.loc[part["_bad"], "node"]
        rows.append(
            {
                "group_id": r.group_id,
                "lead": who.person(lead.iloc[0]) if len(lead) else {"display_name": None, "ref": None},
                "customers": int(r.customers),
                "troubled": int(r.troubled),
                "troubled_balance": float(r.troubled_balance),
                "troubled_names": [who.person(n) for n in bad.head(names)],
                "balance": _f(r.balance),
                "share": _f(r.share),
            }
        )
    return {"rows": rows, "total": len(hit), "in_trouble": int((hit["troubled"] > 0).sum())}


def _circles(circles: pd.DataFrame, ids: pd.Index, trouble: pd.Index, who: Who, limit: int, names: int) -> dict:
    """Every circle with a member in scope, those with a member in trouble first, then by amount; ``in_trouble``
    counts the latter."""
    rows = []
    for r in circles.itertuples(index=False) if len(circles) else ():
        nodes = [n for n in str(r.members).split(",") if n]
        if not any(n in ids for n in nodes):
            continue
        bad = [n for n in nodes if n in trouble]
        rows.append(
            {
                "circle_id": r.circle_id,
                "length": int(r.length),
                "customers": int(r.customers),
                "amount": _f(r.amount),
                "troubled": len(bad),
                "chain": [who.person(n) for n in nodes],
                "troubled_names": [who.person(n) for n in bad[:names]],
            }
        )
    rows.sort(key=lambda r: (r["troubled"] == 0, -(r["amount"] or 0.0), r["circle_id"]))
    bad = [r for r in rows if r["troubled"]]
    summary = [
        {"key": "all", "circles": len(rows), "amount": float(sum(r["amount"] or 0.0 for r in rows))},
        {"key": "in_trouble", "circles": len(bad), "amount": float(sum(r["amount"] or 0.0 for r in bad))},
    ]
    return {"rows": rows[:limit], "total": len(rows), "in_trouble": len(bad), "summary": summary}


def _warning_items(w: pd.DataFrame) -> list[dict[str, Any]]:
    """One customer's warnings, most severe first: rule id, severity and the rule's ``evidence_args`` (JSON
    text; None where the mart predates it)."""
    args = w["evidence_args"] if "evidence_args" in w.columns else pd.Series(None, index=w.index, dtype=object)
    items = [
        {"rule_id": str(rid), "severity": str(sev), "args": None if a is None or pd.isna(a) else a}
        for rid, sev, a in zip(w["rule_id"], w["severity"], args, strict=True)
    ]
    return sorted(items, key=lambda i: (SEVERITY_RANK.get(i["severity"], 9), i["rule_id"]))


def _bureau(ew: pd.DataFrame, scope: pd.DataFrame, who: Who, limit: int) -> dict[str, Any]:
    hits = ew[ew["rule_id"].isin(BUREAU_RULES)] if len(ew) else ew
    by_rule = [
        {
            "rule_id": rid,
            "customers": int(hits.loc[hits["rule_id"] == rid, "customer_id"].nunique()) if len(hits) else 0,
        }
        for rid in BUREAU_RULES
    ]
    if hits.empty:
        return {"by_rule": by_rule, "rows": [], "total": 0}
    c = scope.drop_duplicates("customer_id").set_index("customer_id")
    inquiries = _num(c["inquiries_3m"]) if "inquiries_3m" in c.columns else pd.Series(dtype="float64")
    external = _num(c["external_loan_balance"]) if "external_loan_balance" in c.columns else pd.Series(dtype="float64")
    signals = pd.DataFrame({"customer_id": hits["customer_id"].unique()})
    signals = signals.assign(
        _ext=signals["customer_id"].map(external).fillna(0.0), _ref=signals["customer_id"].map(who.refs)
    )
    top = signals.sort_values(["_ext", "_ref"], ascending=[False, True], na_position="last").head(limit)
    rows = [
        {
            **who.person(cid),
            "warnings": _warning_items(hits[hits["customer_id"] == cid]),
            "inquiries_3m": _f(inquiries.get(cid)),
            "external_loan_balance": _f(external.get(cid)),
        }
        for cid in top["customer_id"]
    ]
    return {"by_rule": by_rule, "rows": rows, "total": len(signals)}


def _high(ew: pd.DataFrame, scope: pd.DataFrame, who: Who, limit: int) -> dict[str, Any]:
    high = ew.loc[ew["severity"] == "high", "customer_id"].unique() if len(ew) else []
    if not len(high):
        return {"rows": [], "total": 0}
    managers = (
        scope.drop_duplicates("customer_id").set_index("customer_id")["manager_name"]
        if "manager_name" in scope.columns
        else pd.Series(dtype=object)
    )
    top = pd.DataFrame({"customer_id": high})
    top = top.assign(_bal=top["customer_id"].map(who.balance).fillna(0.0), _ref=top["customer_id"].map(who.refs))
    top = top.sort_values(["_bal", "_ref"], ascending=[False, True], na_position="last").head(limit)
    rows = []
    for cid, balance in zip(top["customer_id"], top["_bal"], strict=True):
        w = ew[ew["customer_id"] == cid]
        rows.append(
            {
                **who.person(cid),
                "manager_name": managers.get(cid),
                "loan_balance": float(balance),
                "warnings_count": len(w),
                "warnings": _warning_items(w),
            }
        )
    return {"rows": rows, "total": len(high)}


def _industries(scope: pd.DataFrame) -> tuple[list[dict[str, Any]], float, float | None]:
    """Corporate loan balance by industry (industries with a balance), the corporate total and the HHI."""
    if scope.empty:
        return [], 0.0, None
    s = scope[scope["industry"].notna()]
    by = _num(s["loan_balance"]).groupby(s["industry"].astype(str)).sum()
    by = by[by > 0]
    total = float(by.sum())
    if not total:
        return [], 0.0, None
    rows = [
        {"industry": k, "balance": float(v), "share": float(v) / total}
        for k, v in sorted(by.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return rows, total, sum(r["share"] ** 2 for r in rows)


def _obligors(scope: pd.DataFrame, members: pd.DataFrame, who: Who, limit: int) -> tuple[dict[str, Any], float | None]:
    """Obligors of the scope's loans: a group of :data:`MIN_GROUP_CUSTOMERS` or more customers (its members in
    scope) or a customer in no such group; top ``limit`` by balance with their share of the scope's loan
    balance, and the HHI over all of them."""
    if scope.empty:
        return {"rows": [], "total": 0}, None
    s = scope.assign(_bal=_num(scope["loan_balance"]))
    s = s[s["_bal"] > 0]
    if s.empty:
        return {"rows": [], "total": 0}, None
    g = (
        members.loc[_num(members["group_customers"]) >= MIN_GROUP_CUSTOMERS, ["node", "group_id"]].drop_duplicates(
            "node"
        )
        if len(members)
        else pd.DataFrame(columns=["node", "group_id"])
    )
    o = s[["customer_id", "_bal"]].merge(g, left_on="customer_id", right_on="node", how="left")
    o = o.assign(_key=o["group_id"].where(o["group_id"].notna(), _ref(o["customer_id"])))
    agg = o.groupby("_key", sort=False).agg(borrowers=("customer_id", "size"), balance=("_bal", "sum"))
    total = float(agg["balance"].sum())
    agg["share"] = agg["balance"] / total
    # only the largest are listed: sort those (ties on balance by key), and find their largest member
    top = agg.nlargest(limit, "balance", keep="all").rename_axis("key").reset_index()
    top = top.sort_values(["balance", "key"], ascending=[False, True]).head(limit)
    lead = o[o["_key"].isin(top["key"])].sort_values(["_bal", "customer_id"], ascending=[False, True])
    lead = lead.drop_duplicates("_key").set_index("_key")
    rows = [
        {
            "key": r.key,
            "kind": "group" if pd.notna(lead.at[r.key, "group_id"]) else "customer",
            **who.person(lead.at[r.key, "customer_id"]),
            "borrowers": int(r.borrowers),
            "balance": float(r.balance),
            "share": float(r.share),
        }
        for r in top.itertuples(index=False)
    ]
    return {"rows": rows, "total": len(agg)}, float((agg["share"] ** 2).sum())


def _branch_name(data: MonthData, branch_id: str | None) -> str | None:
    branches = data["branches"]
    if branch_id is None or branches.empty or "branch_name" not in branches.columns:
        return None
    hit = branches.loc[branches["branch_id"] == branch_id, "branch_name"]
    return str(hit.iloc[0]) if len(hit) else None


def risk_context(data: MonthData, branch_id: str | None = None) -> dict[str, Any]:
    """The risk report of one branch (``branch_id``; None: the bank): every section (see the module
    docstring), the tiles' totals, ``figure_params`` (the scope the figures' queries take) and ``rows`` (the
    customers in scope: 0 is an empty report, not rendered)."""
    limit, names = _limit("risk_rows"), _limit("risk_names")
    c360 = data["customer_360"]
    scope = in_scope(c360, branch_id)
    ids = pd.Index(scope["customer_id"].astype(object).unique()) if len(scope) else pd.Index([], dtype=object)
    who, trouble = _bank_wide(data)
    ew = _of(data["early_warnings"], ids)

    five = _five_class(_of(data["five_class_differences"], ids), who, limit)
    ratios = _ratios(_of(data["financial_ratios"], ids), who, limit)
    groups = _groups(data["party_groups"], data["group_exposure"], ids, trouble, who, limit, names)
    circles = _circles(data["guarantee_circles"], ids, trouble, who, limit, names)
    bureau = _bureau(ew, scope, who, limit)
    high = _high(ew, scope, who, limit)
    industries, corporate, industry_hhi = _industries(scope)
    obligors, obligor_hhi = _obligors(scope, data["party_groups"], who, _limit("risk_obligors"))

    better = five["by_direction"][0]
    totals = {
        "customers": len(scope),
        "loan_balance": float(_num(scope["loan_balance"]).sum()) if len(scope) else 0.0,
        "borrowers": int((_num(scope["loans"]).fillna(0) > 0).sum()) if len(scope) else 0,
        "fc_better_loans": better["loans"],
        "fc_better_balance": better["balance"],
        "fc_differences": five["total"],
        "ratio_customers": ratios["total"],
        "groups_in_trouble": groups["in_trouble"],
        "circles_in_trouble": circles["in_trouble"],
        "bureau_customers": bureau["total"],
        "high_customers": high["total"],
        "corporate_balance": corporate,
        "industry_hhi": industry_hhi,
        "top_industry": industries[0]["industry"] if industries else None,
        "top_industry_share": industries[0]["share"] if industries else None,
        "obligor_hhi": obligor_hhi,
        "top_obligor_share": obligors["rows"][0]["share"] if obligors["rows"] else None,
    }
    return {
        "month_end": data.month_end,
        "branch_id": branch_id,
        "scope": "bank" if branch_id is None else "branch",
        "branch_name": _branch_name(data, branch_id),
        "figure_params": {"month_end": data.month_end.isoformat(), "branch_id": branch_id},
        "totals": totals,
        "five_class": five,
        "ratios": ratios,
        "groups": groups,
        "circles": circles,
        "bureau": bureau,
        "high": high,
        "industries": industries,
        "obligors": obligors,
        "rows": len(scope),
    }


# ------------------------------------------------------------------------------------------- prepare
def _name(p: Mapping[str, Any], t: Callable[..., str]) -> str:
    """A member as "name (ref)"; a party that is not a customer of the bank is named as such."""
    if not p.get("ref"):
        return t("risk.non_customer")
    return t("risk.name_ref", name=p.get("display_name") or "—", ref=p["ref"])


def _sentences(items: list[Mapping[str, Any]], fmt: Any, t: Callable[..., str]) -> str:
    """The warnings as one text: ``rule: sentence`` joined (``ew.item``, ``ew.join``); a warning without its
    ``evidence_args`` (a mart written before they were recorded) is its rule's name alone."""
    from crm.reports.labels import rule_label, warning_sentence

    parts = [
        t("ew.item", rule=rule_label(i["rule_id"], t), sentence=warning_sentence(i["rule_id"], i["args"], fmt, t))
        if i.get("args")
        else rule_label(i["rule_id"], t)
        for i in items
    ]
    return t("ew.join").join(parts) if parts else "—"


def _short_month(day: dt.date | None, fmt: Any) -> str:
    """A statement's period as a short month: ``2023年12月`` / ``Dec 2023``."""
    from babel.dates import format_skeleton

    return "—" if day is None else format_skeleton("yMMM", day, locale=fmt.locale)


def prepare_risk(context: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    """Codes as the reader's words: classes, bases, directions, flags, industries, rule names and the
    warnings' evidence as sentences (:mod:`crm.reports.labels`)."""
    from crm.reports.labels import code_label, codes_label, rules_text

    basis = {
        "overdue": t("risk.fc.basis.overdue"),
        "written_off": t("risk.fc.basis.written_off"),
        "restructured": t("risk.fc.basis.restructured"),
        "current": t("risk.fc.basis.current"),
    }
    direction = {"better": t("risk.fc.better"), "worse": t("risk.fc.worse")}
    # a statement's type in a narrow column (the code set's labels, code.period_type.*, are the long forms)
    statement_type = {"A": t("risk.ratio.type.A"), "H": t("risk.ratio.type.H"), "Q": t("risk.ratio.type.Q")}
    short = {"better": t("risk.fc.better_short"), "worse": t("risk.fc.worse_short")}
    sep = t("code.sep")
    five = context["five_class"]
    ratios = context["ratios"]
    totals = context["totals"]
    return {
        "fc_directions": [{**d, "direction_label": direction[d["direction"]]} for d in five["by_direction"]],
        "fc_rows": [
            {
                **r,
                "customer": _name(r, t),
                "reported_label": code_label("five_class", r["reported_class"], t),
                "rule_label": code_label("five_class", r["rule_class"], t),
                "basis_label": basis[r["basis"]],
                "direction_label": short[r["direction"]],
            }
            for r in five["rows"]
        ],
        "ratio_flags": [{**f, "flag_label": code_label("ratio_flag", f["flag"], t)} for f in ratios["by_flag"]],
        "ratio_rows": [
            {
                **r,
                "customer": _name(r, t),
                "statement": t(
                    "risk.ratio.statement",
                    period=_short_month(r["report_period"], fmt),
                    type=statement_type.get(r["period_type"]) or code_label("period_type", r["period_type"], t),
                ),
                "new_flags_label": codes_label("ratio_flag", r["new_flags"], t),
            }
            for r in ratios["rows"]
        ],
        "group_rows": [
            {
                **g,
                "lead_label": _name(g["lead"], t),
                "troubled_label": sep.join(_name(p, t) for p in g["troubled_names"]) or "—",
            }
            for g in context["groups"]["rows"]
        ],
        "circle_summary": [
            {**c, "label": t("risk.circle.all") if c["key"] == "all" else t("risk.circle.in_trouble")}
            for c in context["circles"]["summary"]
        ],
        "circle_rows": [
            {
                **c,
                "chain_label": t("risk.circle.arrow").join(_name(p, t) for p in c["chain"]),
                "troubled_label": sep.join(_name(p, t) for p in c["troubled_names"]) or "—",
            }
            for c in context["circles"]["rows"]
        ],
        "bureau_rules": [{**b, "rule_label": rules_text(b["rule_id"], t)} for b in context["bureau"]["by_rule"]],
        "bureau_rows": [
            {
                **b,
                "customer": _name(b, t),
                "rules_label": rules_text(",".join(i["rule_id"] for i in b["warnings"]), t),
                "evidence": _sentences(b["warnings"], fmt, t),
            }
            for b in context["bureau"]["rows"]
        ],
        "high_rows": [
            {
                **h,
                "customer": _name(h, t),
                "manager": h.get("manager_name") or "—",
                "evidence": _sentences(h["warnings"], fmt, t),
            }
            for h in context["high"]["rows"]
        ],
        "industry_rows": [
            {**i, "industry_label": code_label("industry", i["industry"], t)} for i in context["industries"]
        ],
        "obligor_rows": [
            {**o, "name": t("risk.obligor.group", name=_name(o, t)) if o["kind"] == "group" else _name(o, t)}
            for o in context["obligors"]["rows"]
        ],
        "top_industry_label": code_label("industry", totals["top_industry"], t) if totals["top_industry"] else "—",
    }
