"""Early warning: rules with severity and evidence, and the watch list per relationship manager.

A rule compares a customer at the as-of date (``now``) with the same customer at a comparison date
(``before``): the previous month end for the monthly mart, seven days earlier for the weekly watch list. The
per-customer inputs are built by :func:`signals` from the staged snapshots (loans, deposits) and the credit
bureau records; scores, transaction behaviour, financial-ratio flags and the related-party graph come in
separately and each is optional (a missing input never raises a warning).

Rules (ids, severities and thresholds in ``config.toml`` [early_warning.*]):
EW01 new overdue, EW02 rising overdue, EW03 grade drop, EW04 score drop, EW05 behaviour shift (PSI of the
customer's own transactions), EW06 deposit outflow, EW07 financial-ratio deterioration, EW08 bureau inquiry
spike, EW09 new external debt, EW10 related party or guarantor in trouble.

Output of :func:`early_warnings`: one row per (customer, rule) raised with ``rule_id``, ``rule``,
``severity``, ``value`` (the measure), ``threshold``, ``evidence`` (numbers only, in English: a data
engineer's trace), ``evidence_args`` and ``related_customer_id`` (EW10). Evidence never carries a name, ID
number or other raw personal value: the inputs are staged (masked) data, and a related party is referred to by
the last 8 characters of its token (:data:`REF_CHARS`), never the whole token.

``evidence_args`` is the same evidence for a program: a JSON object (``json.dumps(args, sort_keys=True,
ensure_ascii=False)``) of the named numbers behind the rule, from which a report writes a sentence in its
reader's language (:func:`crm.reports.labels.warning_sentence`). Numbers are JSON numbers (missing: null):

====  ==============================================================================================
EW01  days_before, days_now, overdue_amount (yuan)
EW02  days_before, days_now
EW03  grade_before, grade_now (master-scale grades)
EW04  score_before, score_now
EW05  psi, p_value, recent_transactions, baseline_transactions
EW06  balance_before, balance_now (yuan), drop_share (0-1)
EW07  period (the statement's report period, ISO date), flags (list of ratio flags without ``flag_``)
EW08  inquiries_before, inquiries_now
EW09  loans_before, loans_now, balance_before, balance_now (yuan)
EW10  relation (relation type code), related_ref (last 8 characters of the other customer's token),
      days (their worst days past due), five_class (their worst class code)
====  ==============================================================================================

:func:`watch_list` carries them on as ``details``: a JSON list of ``{"args", "rule_id", "severity"}`` in the
order of its ``evidence``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import numpy as np
import pandas as pd

LIVE_LOANS = ("N", "O")
RULES = [
    "new_overdue",
    "rising_overdue",
    "grade_drop",
    "score_drop",
    "behaviour_shift",
    "deposit_outflow",
    "ratio_deterioration",
    "inquiry_spike",
    "new_external_debt",
    "related_trouble",
]
SIGNALS = [
    "loan_balance",
    "max_overdue_days",
    "overdue_amount",
    "worst_five_class",
    "deposit_balance",
    "inquiries_3m",
    "external_loan_count",
    "external_loan_balance",
]
# rules that compare the as-of date with the comparison date
COMPARING = {"new_overdue", "rising_overdue", "deposit_outflow", "inquiry_spike", "new_external_debt"}
COLUMNS = [
    "customer_id",
    "rule_id",
    "rule",
    "severity",
    "value",
    "threshold",
    "evidence",
    "evidence_args",
    "related_customer_id",
]
REF_CHARS = 8  # a customer named in evidence: the last characters of its token (the reports' reference)


def _f(x: pd.Series) -> pd.Series:
    return pd.to_numeric(x, errors="coerce").astype("float64")


def signals(
    day: dt.date, *, loans: pd.DataFrame, deposits: pd.DataFrame, bureau: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per customer at ``day`` (index customer_id): open-loan balance, worst days past due, overdue amount
    (principal + interest), worst reported five-category class (of open loans), deposit balance (accounts not
    closed), and from the latest bureau report queried on or before ``day``: inquiries in 3 months, external
    loan count and balance. ``loans`` and ``deposits`` are that day's snapshots."""
    live = loans[loans["status"].astype("string").isin(LIVE_LOANS).fillna(False).to_numpy(bool)]
    overdue_amount = _f(live["overdue_principal"]).fillna(0) + _f(
        live.get("overdue_interest", pd.Series(0.0, index=live.index))
    ).fillna(0)
    lg = live.assign(
        _bal=_f(live["balance"]).fillna(0),
        _od=_f(live["overdue_days"]).fillna(0),
        _oda=overdue_amount,
        _fc=_f(live["five_class"]),
    ).groupby("customer_id")
    worst = lg["_fc"].max()  # class codes "1".."5" compared as numbers (vectorised), back to codes
    out = pd.DataFrame(
        {
            "loan_balance": lg["_bal"].sum(),
            "max_overdue_days": lg["_od"].max(),
            "overdue_amount": lg["_oda"].sum(),
            "worst_five_class": worst.astype("Int64").astype("string"),
        }
    )
    open_dep = deposits[(deposits["status"].astype("string") != "C").fillna(True).to_numpy(bool)]
    dep = _f(open_dep["balance"]).fillna(0).groupby(open_dep["customer_id"]).sum().rename("deposit_balance")
    out = out.join(dep, how="outer")
    if bureau is not None and len(bureau):
        b = bureau[pd.to_datetime(bureau["query_date"]).dt.date <= day]
        b = b.sort_values(["customer_id", "query_date", "report_id"]).drop_duplicates("customer_id", keep="last")
        b = b.set_index("customer_id")[["inquiries_3m", "external_loan_count", "external_loan_balance"]]
        out = out.join(b.apply(_f), how="outer")
    for col in SIGNALS:
        if col not in out.columns:
            out[col] = np.nan
    out.index.name = "customer_id"
    return out[SIGNALS]


def behaviour_psi(transactions: pd.DataFrame, day: dt.date, config: dict[str, Any]) -> pd.DataFrame:
    """Per customer: PSI of the customer's transaction mix (counts by ``txn_type/direction``), the
    ``recent_days`` up to ``day`` against the ``baseline_days`` before them (config early_warning.
    behaviour_shift), with its significance.

    Cell counts get ``smoothing`` added (so a category absent from one window does not make PSI infinite) over
    the categories the customer used in either window. PSI = sum (r - b) ln(r / b) is the symmetric
    Kullback-Leibler divergence; with identical mixes ``n_eff * PSI`` (n_eff = n_r n_b / (n_r + n_b)) is
    approximately chi-square with K - 1 degrees of freedom, so small samples give large PSI by chance alone.
    ``p_value`` is that approximation's tail; the rule needs both PSI >= ``psi`` and p_value <= ``significance``.
    Customers with fewer than ``min_transactions`` in either window are left out.
    Columns (index customer_id): psi, p_value, categories, recent_transactions, baseline_transactions."""
    from scipy.stats import chi2

    rc = config["early_warning"]["behaviour_shift"]
    when = pd.to_datetime(transactions["txn_time"]).dt.normalize()
    end = pd.Timestamp(day)
    split = end - pd.Timedelta(days=int(rc["recent_days"]))
    start = split - pd.Timedelta(days=int(rc["baseline_days"]))
    window = np.select(
        [(when > split) & (when <= end), (when > start) & (when <= split)], ["recent", "base"], default=""
    )
    t = pd.DataFrame(
        {
            "customer_id": transactions["customer_id"].to_numpy(),
            "window": window,
            "cat": (transactions["txn_type"].astype(str) + "/" + transactions["direction"].astype(str)).to_numpy(),
        }
    )
    t = t[t["window"] != ""]
    cols = ["psi", "p_value", "categories", "recent_transactions", "baseline_transactions"]
    empty = pd.DataFrame(columns=cols, index=pd.Index([], name="customer_id"))
    if t.empty:
        return empty
    cells = t.groupby(["customer_id", "cat", "window"]).size().unstack("window", fill_value=0)
    for w in ("recent", "base"):
        if w not in cells.columns:
            cells[w] = 0
    n = cells.groupby(level="customer_id")[["recent", "base"]].sum()
    ok = n[(n["recent"] >= rc["min_transactions"]) & (n["base"] >= rc["min_transactions"])].index
    cells = cells[cells.index.get_level_values("customer_id").isin(ok)]
    if cells.empty:
        return empty
    k = float(rc["smoothing"])
    sm = cells[["recent", "base"]].astype("float64") + k
    r = sm["recent"] / sm["recent"].groupby(level="customer_id").transform("sum")
    b = sm["base"] / sm["base"].groupby(level="customer_id").transform("sum")
    psi = ((r - b) * np.log(r / b)).groupby(level="customer_id").sum()
    cats = cells.groupby(level="customer_id").size()
    nr, nb = n.loc[psi.index, "recent"].astype("float64"), n.loc[psi.index, "base"].astype("float64")
    n_eff = nr * nb / (nr + nb)
    dof = (cats - 1).clip(lower=1)
    p = pd.Series(chi2.sf(n_eff * psi, dof), index=psi.index).where(cats > 1, 1.0)
    return pd.DataFrame(
        {
            "psi": psi,
            "p_value": p,
            "categories": cats,
            "recent_transactions": nr.astype("int64"),
            "baseline_transactions": nb.astype("int64"),
        }
    )


def behaviour_window(day: dt.date, config: dict[str, Any]) -> tuple[dt.date, dt.date]:
    """The first and last business date of the transactions :func:`behaviour_psi` reads at ``day``: the
    ``baseline_days`` and the ``recent_days`` up to ``day`` (config early_warning.behaviour_shift)."""
    rc = config["early_warning"]["behaviour_shift"]
    return day - dt.timedelta(days=int(rc["recent_days"]) + int(rc["baseline_days"]) - 1), day


def behaviour_psi_files(files: list, day: dt.date, config: dict[str, Any]) -> pd.DataFrame:
    """:func:`behaviour_psi` computed by DuckDB straight from staged transactions Parquet files (the same
    statistic, the same columns): a bank's 90 days of transactions are aggregated without loading them into
    pandas (33 M rows at 1,000,000 customers)."""
    import duckdb
    from scipy.stats import chi2

    rc = config["early_warning"]["behaviour_shift"]
    cols = ["psi", "p_value", "categories", "recent_transactions", "baseline_transactions"]
    if not files:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="customer_id"))
    end = pd.Timestamp(day).date()
    split = end - dt.timedelta(days=int(rc["recent_days"]))
    start = split - dt.timedelta(days=int(rc["baseline_days"]))
    sql = """
    WITH t AS (
        SELECT customer_id, txn_type || '/' || direction AS cat, CAST(txn_time AS DATE) AS d
        FROM read_parquet($files)
    ), cells AS (
        SELECT customer_id, cat,
               count(*) FILTER (WHERE d > $split AND d <= $end) AS recent,
               count(*) FILTER (WHERE d > $start AND d <= $split) AS base
        FROM t WHERE d > $start AND d <= $end GROUP BY customer_id, cat
    ), n AS (
        SELECT customer_id, sum(recent) AS nr, sum(base) AS nb, count(*) AS k FROM cells GROUP BY customer_id
        HAVING sum(recent) >= $min_n AND sum(base) >= $min_n
    )
    SELECT c.customer_id,
           sum(((c.recent + $s) / (n.nr + $s * n.k) - (c.base + $s) / (n.nb + $s * n.k))
               * ln(((c.recent + $s) / (n.nr + $s * n.k)) / ((c.base + $s) / (n.nb + $s * n.k)))) AS psi,
           any_value(n.k) AS categories, any_value(n.nr) AS recent_transactions,
           any_value(n.nb) AS baseline_transactions
    FROM cells c JOIN n USING (customer_id) GROUP BY c.customer_id
    """
    con = duckdb.connect()
    try:
        out = con.execute(
            sql,
            {
                "files": [str(f) for f in files],
                "split": split,
                "end": end,
                "start": start,
                "min_n": int(rc["min_transactions"]),
                "s": float(rc["smoothing"]),
            },
        ).df()
    finally:
        con.close()
    out = out.set_index("customer_id")
    nr, nb = out["recent_transactions"].astype("float64"), out["baseline_transactions"].astype("float64")
    dof = (out["categories"] - 1).clip(lower=1)
    out["p_value"] = pd.Series(chi2.sf(nr * nb / (nr + nb) * out["psi"], dof), index=out.index).where(
        out["categories"] > 1, 1.0
    )
    for c in ("categories", "recent_transactions", "baseline_transactions"):
        out[c] = out[c].astype("int64")
    return out[cols].sort_index()


def _grade_rank(grades: pd.Series) -> pd.Series:
    from crm.scoring.scorecard import MASTER_SCALE

    order = {g: i for i, (g, _) in enumerate(MASTER_SCALE)}
    return grades.map(order).astype("float64")


def _related_edges(related: pd.DataFrame, day: dt.date, types: list[str]) -> pd.DataFrame:
    """Active relations between two customers, both directions: columns customer_id, other, relation_type."""
    r = related[related["relation_type"].isin(types) & related["related_customer_id"].notna()]
    start = pd.to_datetime(r["start_date"], errors="coerce")
    end = pd.to_datetime(r["end_date"], errors="coerce")
    ts = pd.Timestamp(day)
    r = r[(start.isna() | (start <= ts)) & (end.isna() | (end >= ts))]
    a = pd.DataFrame(
        {"customer_id": r["customer_id"], "other": r["related_customer_id"], "relation_type": r["relation_type"]}
    )
    b = pd.DataFrame(
        {"customer_id": r["related_customer_id"], "other": r["customer_id"], "relation_type": r["relation_type"]}
    )
    e = pd.concat([a, b], ignore_index=True)
    return e[e["customer_id"] != e["other"]].drop_duplicates(["customer_id", "other"])


def _fmt(x: pd.Series, digits: int | None = 0) -> pd.Series:
    """Values as evidence text: numbers with ``digits`` decimals (``None``: as text); missing as "n/a"."""
    if digits is None:
        return x.astype("string").fillna("n/a").astype(object)
    v = pd.to_numeric(x, errors="coerce").astype("float64").round(digits)
    text = pd.Series(np.char.mod(f"%.{digits}f", v.fillna(0).to_numpy()), index=x.index, dtype=object)
    return text.where(v.notna(), "n/a")


def _evidence(template: str, idx: pd.Index, fields: tuple[tuple[pd.Series, int | None], ...]) -> pd.Series:
    """``template`` with ``{0}``, ``{1}`` ... replaced by the fields (series, decimals) at ``idx``, vectorised and
    formatted only for the rows raised."""
    out = pd.Series("", index=idx, dtype=object)
    for i, piece in enumerate(re.split(r"\{(\d+)\}", template)):
        if i % 2:
            series, digits = fields[int(piece)]
            out = out + _fmt(series.reindex(idx), digits)
        elif piece:
            out = out + piece
    return out


def _json_text(values: pd.Series) -> pd.Series:
    """Each value as a JSON string (missing: ``null``), encoded once per distinct value."""
    text = values.astype("string")
    codes = {v: json.dumps(v, ensure_ascii=False) for v in text.dropna().unique()}
    return text.map(codes).astype(object).where(text.notna(), "null")


def _json_number(values: pd.Series, digits: int) -> pd.Series:
    """Each value as a JSON number rounded to ``digits`` places (0: an integer); missing or infinite: ``null``.
    Floats are written as Python's ``repr`` (what ``json.dumps`` writes), vectorised."""
    v = pd.to_numeric(values, errors="coerce").astype("float64")
    v = v.where(np.isfinite(v)).round(digits)
    text = v.astype("Int64").astype("string") if digits == 0 else v.astype("string")
    return text.astype(object).where(v.notna(), "null")


def _json_list(flags: dict[str, pd.Series], idx: pd.Index) -> pd.Series:
    """A JSON list per row of the names whose boolean series is true there, in the given order."""
    items = pd.Series("", index=idx, dtype=object)
    for name, on in flags.items():
        items = items + np.where(
            on.reindex(idx).astype("boolean").fillna(False).to_numpy(bool), json.dumps(name) + ", ", ""
        )
    return "[" + items.str.removesuffix(", ") + "]"


def _args_json(idx: pd.Index, args: dict[str, tuple[pd.Series, int | str]]) -> pd.Series:
    """The rows ``idx`` of ``args`` (name -> (series, decimals | "text" | "json")) as JSON objects, keys sorted,
    separators as ``json.dumps``: ``{"days_before": 0, "days_now": 30, "overdue_amount": 3656.21}``."""
    out = pd.Series("{", index=idx, dtype=object)
    for i, name in enumerate(sorted(args)):
        series, kind = args[name]
        series = series.reindex(idx)
        if kind == "text":
            value = _json_text(series)
        elif kind == "json":
            value = series.astype(object)
        else:
            value = _json_number(series, int(kind))
        out = out + ("" if i == 0 else ", ") + json.dumps(name) + ": " + value
    return out + "}"


def _period_text(period: pd.Series) -> pd.Series:
    """A statement's report period as text: a date as ISO ``2023-12-31``, other values as they are."""
    if pd.api.types.is_datetime64_any_dtype(period):
        return period.dt.strftime("%Y-%m-%d")
    text = {v: v.isoformat()[:10] if isinstance(v, dt.date) else str(v) for v in period.dropna().unique()}
    return period.map(text)  # once per distinct period (a handful), not per row


def _ref(tokens: pd.Series) -> pd.Series:
    """The reference of a customer token in evidence: its last :data:`REF_CHARS` characters."""
    return tokens.astype("string").str[-REF_CHARS:]


def early_warnings(
    now: pd.DataFrame,
    before: pd.DataFrame | None,
    config: dict[str, Any],
    *,
    day: dt.date,
    scores_now: pd.DataFrame | None = None,
    scores_before: pd.DataFrame | None = None,
    behaviour: pd.DataFrame | None = None,
    ratios: pd.DataFrame | None = None,
    related: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every rule raised at ``day`` (see the module docstring). ``now``/``before``: :func:`signals` frames.
    ``scores_*``: customer_id, score, grade. ``behaviour``: :func:`behaviour_psi`. ``ratios``: the
    financial_ratios mart (customer_id, received_date or report_period, flag_count, flag_*). ``related``: staged
    related_parties. Sorted by severity (config order), rule id, customer.

    ``before`` None (no snapshot at the comparison date, e.g. the first month loaded): the rules comparing
    two dates (EW01, EW02, EW06, EW08, EW09) are not evaluated; the others are."""
    ew = config["early_warning"]
    compared = before is not None
    if before is None:
        before = pd.DataFrame(columns=SIGNALS, index=pd.Index([], name="customer_id"), dtype="float64")
    f = now.join(before.add_suffix("_before"), how="left")
    parts: list[pd.DataFrame] = []

    def add(
        rule: str,
        mask: pd.Series,
        value: pd.Series,
        threshold: float | str,
        template: str,
        *fields: tuple[pd.Series, int | None],
        args: dict[str, tuple[pd.Series, int | str]],
        related_id: pd.Series | None = None,
    ) -> None:
        mask = mask.fillna(False).astype(bool)
        if rule in COMPARING and not compared:
            return
        if not mask.any():
            return
        rc = ew[rule]
        idx = mask[mask].index
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": idx,
                    "rule_id": rc["id"],
                    "rule": rule,
                    "severity": rc["severity"],
                    "value": _f(value.reindex(idx)).to_numpy(),
                    "threshold": str(threshold),
                    "evidence": _evidence(template, idx, fields).to_numpy(),
                    "evidence_args": _args_json(idx, args).to_numpy(),
                    "related_customer_id": related_id.reindex(idx).to_numpy() if related_id is not None else None,
                }
            )
        )

    od, od_b = f["max_overdue_days"], f["max_overdue_days_before"]
    rc = ew["new_overdue"]
    add(
        "new_overdue",
        (od >= rc["min_days"]) & (od_b.fillna(0) <= 0),
        od,
        rc["min_days"],
        "worst days past due {0} -> {1}, overdue amount {2}",
        (od_b.fillna(0), 0),
        (od, 0),
        (f["overdue_amount"], 2),
        args={"days_before": (od_b.fillna(0), 0), "days_now": (od, 0), "overdue_amount": (f["overdue_amount"], 2)},
    )
    rc = ew["rising_overdue"]
    rise = od - od_b
    add(
        "rising_overdue",
        (od_b > 0) & (rise >= rc["min_increase_days"]),
        rise,
        rc["min_increase_days"],
        "worst days past due {0} -> {1}",
        (od_b, 0),
        (od, 0),
        args={"days_before": (od_b, 0), "days_now": (od, 0)},
    )

    if scores_now is not None and scores_before is not None and len(scores_now) and len(scores_before):
        s = (
            scores_now.drop_duplicates("customer_id")
            .set_index("customer_id")[["score", "grade"]]
            .join(
                scores_before.drop_duplicates("customer_id").set_index("customer_id")[["score", "grade"]],
                rsuffix="_before",
                how="inner",
            )
            .reindex(f.index)
        )
        notches = _grade_rank(s["grade"]) - _grade_rank(s["grade_before"])
        rc = ew["grade_drop"]
        add(
            "grade_drop",
            notches >= rc["min_notches"],
            notches,
            rc["min_notches"],
            "grade {0} -> {1}",
            (s["grade_before"], None),
            (s["grade"], None),
            args={"grade_before": (s["grade_before"], "text"), "grade_now": (s["grade"], "text")},
        )
        drop = _f(s["score_before"]) - _f(s["score"])
        rc = ew["score_drop"]
        add(
            "score_drop",
            drop >= rc["min_points"],
            drop,
            rc["min_points"],
            "score {0} -> {1}",
            (s["score_before"], 1),
            (s["score"], 1),
            args={"score_before": (s["score_before"], 1), "score_now": (s["score"], 1)},
        )

    if behaviour is not None and len(behaviour):
        rc = ew["behaviour_shift"]
        b = behaviour.reindex(f.index)
        add(
            "behaviour_shift",
            (_f(b["psi"]) >= rc["psi"]) & (_f(b["p_value"]) <= rc["significance"]),
            b["psi"],
            rc["psi"],
            "transaction mix PSI {0} (p {1}; {2} recent vs {3} baseline transactions)",
            (b["psi"], 3),
            (b["p_value"], 4),
            (b["recent_transactions"], 0),
            (b["baseline_transactions"], 0),
            args={
                "psi": (b["psi"], 4),
                "p_value": (b["p_value"], 6),
                "recent_transactions": (b["recent_transactions"], 0),
                "baseline_transactions": (b["baseline_transactions"], 0),
            },
        )

    rc = ew["deposit_outflow"]
    dep, dep_b = f["deposit_balance"].fillna(0), f["deposit_balance_before"]
    share = (dep_b - dep) / dep_b
    add(
        "deposit_outflow",
        (dep_b >= rc["min_balance"]) & (share >= rc["min_drop"]),
        share,
        rc["min_drop"],
        "deposit balance {0} -> {1}",
        (dep_b, 2),
        (dep, 2),
        args={"balance_before": (dep_b, 2), "balance_now": (dep, 2), "drop_share": (share, 4)},
    )

    if ratios is not None and len(ratios):
        rc = ew["ratio_deterioration"]
        order = [c for c in ("received_date", "report_period") if c in ratios.columns]
        latest = ratios.sort_values(["customer_id", *order]).drop_duplicates("customer_id", keep="last")
        latest = latest.set_index("customer_id").reindex(f.index)
        flags = [c for c in latest.columns if c.startswith("flag_") and c != "flag_count"]
        names = pd.Series("", index=latest.index)
        for c in flags:
            names = names + np.where(
                latest[c].astype("boolean").fillna(False).to_numpy(bool), c.removeprefix("flag_") + " ", ""
            )
        period = latest.get("report_period", pd.Series(None, index=latest.index, dtype=object))
        flagged = (_f(latest["flag_count"]) >= rc["min_flags"]).fillna(False)
        add(
            "ratio_deterioration",
            flagged,
            latest["flag_count"],
            rc["min_flags"],
            "statement {0}: {1}",
            (latest.get("report_period", pd.Series("", index=latest.index)), None),
            (names.str.strip(), None),
            args={
                "period": (_period_text(period[flagged]), "text"),
                "flags": (
                    _json_list({c.removeprefix("flag_"): latest[c] for c in flags}, flagged[flagged].index),
                    "json",
                ),
            },
        )

    rc = ew["inquiry_spike"]
    inq, inq_b = f["inquiries_3m"], f["inquiries_3m_before"]
    add(
        "inquiry_spike",
        (inq >= rc["min_inquiries_3m"]) & ((inq - inq_b.fillna(0)) >= rc["min_increase"]),
        inq,
        rc["min_inquiries_3m"],
        "bureau inquiries in 3 months {0} -> {1}",
        (inq_b, 0),
        (inq, 0),
        args={"inquiries_before": (inq_b, 0), "inquiries_now": (inq, 0)},
    )

    rc = ew["new_external_debt"]
    cnt, cnt_b = f["external_loan_count"], f["external_loan_count_before"]
    bal, bal_b = f["external_loan_balance"], f["external_loan_balance_before"]
    grew = ((bal - bal_b) >= rc["min_amount"]) & ((bal - bal_b) >= rc["min_increase"] * bal_b)
    add(
        "new_external_debt",
        (cnt > cnt_b) | grew,
        bal - bal_b,
        f"count up or +{rc['min_increase']:.0%}",
        "external loans {0} -> {1}, balance {2} -> {3}",
        (cnt_b, 0),
        (cnt, 0),
        (bal_b, 2),
        (bal, 2),
        args={
            "loans_before": (cnt_b, 0),
            "loans_now": (cnt, 0),
            "balance_before": (bal_b, 2),
            "balance_now": (bal, 2),
        },
    )

    if related is not None and len(related):
        rc = ew["related_trouble"]
        edges = _related_edges(related, day, list(rc["relation_types"]))
        fc = f["worst_five_class"].astype("string")
        troubled = f[(f["max_overdue_days"] >= rc["min_overdue_days"]) | (fc >= rc["min_five_class"]).fillna(False)]
        hit = edges[edges["other"].isin(troubled.index) & edges["customer_id"].isin(f.index)]
        hit = hit.assign(
            _od=hit["other"].map(troubled["max_overdue_days"]), _fc=hit["other"].map(troubled["worst_five_class"])
        )
        hit = hit.sort_values(["customer_id", "_od", "other"], ascending=[True, False, True])
        hit = hit.drop_duplicates("customer_id").set_index("customer_id")
        add(
            "related_trouble",
            pd.Series(True, index=hit.index),
            hit["_od"],
            f"{rc['min_overdue_days']} days or class {rc['min_five_class']}",
            "{0} {1}: {2} days past due, class {3}",
            (hit["relation_type"], None),
            (_ref(hit["other"]), None),
            (hit["_od"], 0),
            (hit["_fc"], None),
            args={
                "relation": (hit["relation_type"], "text"),
                "related_ref": (_ref(hit["other"]), "text"),
                "days": (hit["_od"], 0),
                "five_class": (hit["_fc"], "text"),
            },
            related_id=hit["other"],
        )

    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.concat(parts, ignore_index=True)[COLUMNS]
    rank = {s: i for i, s in enumerate(ew["severities"])}
    return (
        out.assign(_r=out["severity"].map(rank))
        .sort_values(["_r", "rule_id", "customer_id"])
        .drop(columns="_r")
        .reset_index(drop=True)
    )


def _joined(values: pd.Series, groups: pd.Series, sep: str) -> pd.Series:
    """The texts of each group (rows sorted by group) joined by ``sep``, per group in order of appearance:
    ``sep`` is prefixed to every row but a group's first and the texts summed (20 times faster than
    ``agg(sep.join)`` at a million rows)."""
    first = groups.ne(groups.shift()).to_numpy()
    return values.where(first, sep + values).groupby(groups, sort=False).sum()


def watch_customers(now: pd.DataFrame, value: pd.DataFrame) -> pd.DataFrame:
    """The customers a watch list ranks (:func:`watch_list`'s ``customers``): the ``loan_balance`` of the
    signals at the as-of date (:func:`signals`, index customer_id) and, when the latest customer value has
    rows, each customer's ``manager_id``, ``branch_id`` and ``tier`` from it (outer join: a customer in
    either)."""
    customers = now[["loan_balance"]].reset_index()
    if len(value):
        customers = customers.merge(
            value[["customer_id", "manager_id", "branch_id", "tier"]], on="customer_id", how="outer"
        )
    return customers


def watch_list(warnings: pd.DataFrame, customers: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """One row per warned customer, for their manager: customer_id, manager_id, branch_id, severity (the most
    severe raised), warnings (count), rule_ids (sorted, comma-separated), evidence (``rule_id: evidence``
    joined by "; "), details (JSON list of ``{"args", "rule_id", "severity"}``, ``args`` the warning's
    ``evidence_args``, in the order of ``evidence``), loan_balance and the customer's tier when ``customers``
    carries them; ranked within the manager by severity, then loan balance (largest first)."""
    cols = [
        "customer_id",
        "manager_id",
        "branch_id",
        "severity",
        "warnings",
        "rule_ids",
        "evidence",
        "details",
        "loan_balance",
        "tier",
        "rank_in_manager",
    ]
    if warnings.empty:
        return pd.DataFrame(columns=cols)
    rank = {s: i for i, s in enumerate(config["early_warning"]["severities"])}
    w = warnings.assign(_r=warnings["severity"].map(rank), _e=warnings["rule_id"] + ": " + warnings["evidence"])
    args = warnings["evidence_args"].fillna("{}") if "evidence_args" in warnings.columns else "{}"
    w = w.assign(
        _d='{"args": '
        + pd.Series(args, index=w.index, dtype=object)
        + ', "rule_id": '
        + _json_text(w["rule_id"])
        + ', "severity": '
        + _json_text(w["severity"])
        + "}"
    )
    w = w.sort_values(["customer_id", "_r", "rule_id"])
    g = w.groupby("customer_id", sort=False)
    out = pd.DataFrame(
        {
            "_r": g["_r"].min(),
            "warnings": g.size(),
            "rule_ids": _joined(w["rule_id"], w["customer_id"], ","),
            "evidence": _joined(w["_e"], w["customer_id"], "; "),
            "details": "[" + _joined(w["_d"], w["customer_id"], ", ") + "]",
        }
    )
    out["severity"] = out["_r"].map({v: k for k, v in rank.items()})
    info = customers.drop_duplicates("customer_id").set_index("customer_id")
    for c in ("manager_id", "branch_id", "loan_balance", "tier"):
        out[c] = out.index.map(info[c]) if c in info.columns else None
    out = out.reset_index().sort_values(
        ["manager_id", "_r", "loan_balance", "customer_id"], ascending=[True, True, False, True], na_position="last"
    )
    out["rank_in_manager"] = out.groupby("manager_id", dropna=False).cumcount() + 1
    return out[cols].reset_index(drop=True)
