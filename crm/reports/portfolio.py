"""``prepare`` steps of the portfolio reports (key account, branch, satisfaction, weekly watch digest): the
locale-dependent parts of a context (translated labels, charts with translated titles) that the templates
then print. Registered in :data:`crm.reports.render.REPORTS`; called in the rendering worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from markupsafe import Markup

from crm.reports import proposals, service, team
from crm.reports.labels import DASH, code_label, codes_label, evidence_text, rules_text

SEVERITY_TONE = {"high": "bad", "medium": "warn", "low": "muted"}
DIM_CODE_SETS = {"channel": "survey_channel", "product_family": "product_family", "tier": "tier"}
MISSING = (None, "nan", "None", "")


def _configured_label(code_set: str, code: Any, configured: Any, locale: str, t: Callable[..., str]) -> str:
    """A label the pipeline's configuration gives in Chinese (drivers, complaint themes): as configured in
    zh_CN, the catalogue's ``code.<set>.<code>`` in en (the configured one when there is none)."""
    if locale == "zh_CN" and configured not in MISSING:
        return str(configured)
    label = code_label(code_set, code, t)
    return str(configured) if (label == str(code) and configured not in MISSING) else label


def warning_rows(rows: list[Mapping[str, Any]], fmt: Any, t: Callable[..., str]) -> list[dict[str, Any]]:
    """Watch-list rows with ``rules_label`` (the rules' names) and ``evidence_label`` (the evidence as
    sentences in the reader's language, from ``details``; a row written before ``details`` existed shows its
    English ``evidence`` in en and "—" in zh_CN) beside the codes."""
    out = []
    for r in rows:
        details = r.get("details")
        if details not in MISSING:
            evidence = evidence_text(details, fmt, t)
        else:
            evidence = (r.get("evidence") or DASH) if fmt.locale == "en" else DASH
        out.append({**r, "rules_label": rules_text(r.get("rule_ids"), t), "evidence_label": evidence})
    return out


def _bar(items: list[Mapping[str, Any]], label: Callable[[str], str], title: str) -> str:
    from crm.reports.charts import bar_chart_h

    if not items:
        return ""
    return bar_chart_h([label(i["key"]) for i in items], [i["count"] for i in items], title=title)


def _with_severity(rows: list[dict[str, Any]], t: Callable[..., str]) -> list[dict[str, Any]]:
    return [{**r, "severity_label": t(f"severity.{r['severity']}")} for r in rows]


def _severity_label(severity: Any, t: Callable[..., str]) -> str:
    return t(f"severity.{severity}") if severity in SEVERITY_TONE else t("ka.urgency.none")


def _account_labels(account: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    """The reader's words for one key-account card: segment (value segment, industry, size or age band),
    stage, tier, product families, five-category class, reason codes, and each warning as a sentence."""
    from crm.reports import labels

    p, e = account["profile"], account["exposure"]
    segment = [t(f"segment.{p['value_segment']}") if p.get("value_segment") else "—"]
    if p.get("industry"):
        segment.append(labels.code_label("industry", p["industry"], t))
    if p.get("enterprise_size"):
        segment.append(labels.code_label("enterprise_size", p["enterprise_size"], t))
    if p.get("age_band"):
        segment.append(t("ka.age_band", band=p["age_band"]))
    return {
        "segment": " · ".join(segment),
        "stage": t(f"stage.{p.get('lifecycle_stage') or 'unknown'}"),
        "tier": t(f"tier.{p['tier']}") if p.get("tier") else "—",
        "families": labels.codes_label("product_family", p.get("product_families"), t),
        "five_class": labels.code_label("five_class", e.get("worst_five_class"), t),
        "reasons": ("、" if fmt.locale == "zh_CN" else ", ").join(
            labels.reason_label(r, t) for r in account["score"]["reasons"]
        ),
    }


TREND_TONE = {"up": "ok", "down": "bad", "flat": "muted", "new": "muted"}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _signed_number(fmt: Any, value: Any, digits: int) -> str:
    """A change with its sign: ``+4.2`` / ``-4.2`` (``0.0`` unsigned); "—" when missing."""
    text = fmt.number(value, digits)
    return f"+{text}" if not _missing(value) and value > 0 and text.strip("0.,") else text


def _signed_percent(fmt: Any, value: Any, digits: int) -> str:
    text = fmt.percent(value, digits)
    return f"+{text}" if not _missing(value) and value > 0 and text.strip("0.,%") else text


def main_bank_label(value: Any, t: Callable[..., str]) -> str:
    """是 / 否 / 未知: whether we are the customer's main bank (None: no bureau pull to tell)."""
    return t("wallet.main_bank.unknown") if value is None else t(f"wallet.main_bank.{'yes' if value else 'no'}")


def trend_label(trend: Any, t: Callable[..., str]) -> str:
    """The value trend as an arrow and a word (``↑ 上升``); unknown: 未知."""
    return t(f"wallet.trend.{trend}") if trend in TREND_TONE else t("wallet.unknown")


def _wallet_lines(account: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    """The reader's lines of a key-account card on share of wallet, industry position and value trend. Every
    unknown (no bureau pull, retail without industry, a trend not computable) is said in words."""
    from crm.reports import labels
    from crm.reports.data import bar_sparkline

    w, ind, v = account["wallet"], account["industry"], account["value"]
    unknown = t("wallet.unknown")

    def known(value: Any, text: str) -> str:
        return unknown if _missing(value) else text

    if _missing(w.get("bureau_query_date")):
        bureau = t("wallet.no_bureau")
    else:
        bureau = t(
            "wallet.bureau_on",
            date=fmt.date(w["bureau_query_date"]),
            days=known(w.get("bureau_age_days"), fmt.number(w.get("bureau_age_days"))),
        )
    lines = {
        "share": t(
            "wallet.share_line",
            external=known(w.get("external_loan_balance"), fmt.money(w.get("external_loan_balance")))
            + (
                ""
                if _missing(w.get("external_loan_count"))
                else t("wallet.loans_n", n=fmt.number(w["external_loan_count"]))
            ),
            share=known(w.get("wallet_share"), fmt.percent(w.get("wallet_share"), 1)),
            main=main_bank_label(w.get("main_bank"), t),
        ),
        "debt": t(
            "wallet.debt_line",
            total=known(w.get("total_debt"), fmt.money(w.get("total_debt"))),
            headroom=known(w.get("wallet_headroom"), fmt.money(w.get("wallet_headroom"))),
        ),
        "bureau": bureau,
        "bureau_tone": "warn" if _missing(w.get("bureau_query_date")) else "",
        "retail": account["profile"].get("segment") == "retail",
    }
    if lines["retail"]:
        lines["position_label"] = t("wallet.dsti")
        lines["position"] = t(
            "wallet.dsti_line",
            dsti=known(w.get("dsti"), fmt.percent(w.get("dsti"), 1)),
            service=known(w.get("debt_service_annual"), fmt.money(w.get("debt_service_annual"))),
        )
    else:
        lines["position_label"] = t("wallet.industry")
        if _missing(ind.get("industry_rank_revenue")) and _missing(ind.get("industry_position")):
            lines["position"] = t("wallet.industry_none")
        else:
            region = ind.get("industry_region")
            lines["position"] = t(
                "wallet.industry_line",
                industry=labels.code_label("industry", ind.get("industry"), t),
                region=unknown if _missing(region) or not str(region).strip() else str(region),
                percentile=known(ind.get("industry_rank_revenue"), fmt.percent(ind.get("industry_rank_revenue"), 0)),
                peers=known(ind.get("industry_peers"), fmt.number(ind.get("industry_peers"))),
                ratio=known(ind.get("bench_revenue_ratio"), fmt.number(ind.get("bench_revenue_ratio"), 2)),
                score=known(ind.get("industry_position"), fmt.number(ind.get("industry_position"), 0)),
            )
    trend = v.get("value_trend")
    lines["trend"] = t(
        "wallet.trend_line",
        trend=trend_label(trend, t),
        points=known(v.get("value_score_change_3m"), _signed_number(fmt, v.get("value_score_change_3m"), 1)),
        change=known(v.get("contribution_change_3m"), _signed_percent(fmt, v.get("contribution_change_3m"), 1)),
    )
    lines["trend_tone"] = TREND_TONE.get(trend, "muted")
    held = v.get("months_held")
    lines["held"] = (
        t("wallet.held_line", n=fmt.number(held), annualised=fmt.money(v.get("contribution_annualised"), "yuan"))
        if not _missing(held) and held < 12
        else ""
    )
    monthly = account.get("monthly") or []
    title = t("wallet.chart", n=len(monthly))
    lines["chart"] = Markup(bar_sparkline([m["contribution"] for m in monthly], title=title))
    lines["chart_caption"] = (
        t("wallet.chart_caption", first=fmt.month(monthly[0]["month"]), last=fmt.month(monthly[-1]["month"]))
        if monthly
        else t("wallet.chart_none")
    )
    return lines


def _wallet_rows(rows: list[Mapping[str, Any]], t: Callable[..., str]) -> list[dict[str, Any]]:
    """The summary table's rows with their words: main bank, bureau pull, trend, and what a missing number
    says (未知 where it is unknown, "—" where it does not apply: industry for retail, DSTI for corporates)."""
    unknown = t("wallet.unknown")
    out = []
    for r in rows:
        retail = r.get("segment") == "retail"
        out.append(
            {
                **r,
                "main_bank_label": main_bank_label(r.get("main_bank"), t),
                "trend_label": trend_label(r.get("value_trend"), t),
                "unknown": unknown,
                "retail_only": unknown if retail else "—",
                "corporate_only": "—" if retail else unknown,
                "bureau_missing": t("wallet.no_bureau"),
            }
        )
    return out


def prepare_key_account(context: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    from crm.reports import labels
    from crm.reports.data import sparkline

    accounts = []
    for a in context["accounts"]:
        lines = [
            {
                "severity": w["severity"],
                "rule_label": labels.rule_label(w["rule_id"], t),
                "sentence": labels.warning_sentence(w["rule_id"], w.get("evidence_args"), fmt, t),
            }
            for w in a["warnings"]
        ]
        spark = sparkline([p["score"] for p in a["trend"]], title=t("ka.trend", months=len(a["trend"])))
        accounts.append(
            {
                **a,
                "labels": _account_labels(a, fmt, t),
                "warning_lines": lines,
                "spark": spark,
                "wallet_lines": _wallet_lines(a, fmt, t),
                "np": proposals.account_words(a.get("needs") or {}, fmt, t),
            }
        )
    rows = [
        {
            **r,
            "urgency_label": _severity_label(r.get("top_severity"), t),
            "tier_label": t(f"tier.{r['tier']}") if r.get("tier") else "—",
            "five_class_label": labels.code_label("five_class", r.get("worst_five_class"), t),
            "revisit_label": t(f"revisit.{r['revisit_status']}") if r.get("revisit_status") else "—",
        }
        for r in context["account_rows"]
    ]
    watch = [
        {
            **w,
            "severity_label": _severity_label(w["severity"], t),
            "lines": labels.warning_sentences(w.get("details"), fmt, t),
        }
        for w in context["watch"]
    ]
    return {
        "tier_chart": _bar(context["tiers"], lambda k: t(f"tier.{k}"), t("ka.chart.tiers")),
        "grade_chart": _bar(context["grades"], str, t("ka.chart.grades")),
        "watch_rows": watch,
        "account_rows": rows,
        "wallet_rows": _wallet_rows(context["wallet_rows"], t),
        "accounts": accounts,
        "tone_of_severity": SEVERITY_TONE,
        "sv": service.words(context.get("service"), fmt, t),
    } | team.key_account_words(context.get("team") or {}, fmt, t)


def prepare_branch(context: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    managers = [
        {**m, "manager_label": f"{m.get('manager_name') or '—'} ({m['manager_id']})"} for m in context["managers"]
    ]
    keys = [
        {
            **k,
            "tier_label": code_label("tier", k.get("tier"), t),
            "main_bank_label": main_bank_label(k.get("main_bank"), t),
            "unknown": t("wallet.unknown"),
        }
        for k in context["key_accounts"]
    ]
    wallet = [
        {**m, "manager_label": f"{m.get('manager_name') or '—'} ({m['manager_id']})", "unknown": t("wallet.unknown")}
        for m in context["wallet_managers"]
    ]
    no_bureau = [{**k, "tier_label": code_label("tier", k.get("tier"), t)} for k in context["no_bureau"]]
    return (
        proposals.branch_words(context["needs"], fmt, t)
        | team.branch_words(context.get("team") or {}, fmt, t)
        | {
            "managers": managers,
            "key_accounts": keys,
            "wallet_managers": wallet,
            "wallet_total": {
                **context["wallet"],
                "unknown": t("wallet.unknown"),
                "manager_label": t("wallet.br.total"),
            },
            "no_bureau": no_bureau,
            "warnings": warning_rows(context["warnings"], fmt, t),
            "tier_chart": _bar(context["tiers"], lambda k: code_label("tier", k, t), t("ka.chart.tiers")),
            "sv": service.words(context.get("service"), fmt, t),
        }
    )


def prepare_watch_digest(context: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    return {
        "rows_list": warning_rows(_with_severity(context["rows_list"], t), fmt, t),
        "sv": service.words(context.get("followups"), fmt, t),
    }


def _figure(figure: str, value: Any, text: str) -> Markup:
    """A figure's span, as the templates' ``m.fig`` writes it (reports/templates/_macros.html.j2)."""
    raw = "" if value is None else str(value)
    return Markup('<span class="fig" data-figure="{}" data-value="{}">{}</span>').format(figure, raw, text)


def _interval(prefix: str, name: str, row: Mapping[str, Any], low: str, high: str) -> Markup:
    """``low – high`` of a confidence interval, each end a figure (``<prefix><name>_low`` / ``_high``)."""
    return Markup("{} – {}").format(
        _figure(f"{prefix}{name}_low", row[f"{name}_low"], low),
        _figure(f"{prefix}{name}_high", row[f"{name}_high"], high),
    )


def prepare_satisfaction(context: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    from crm.reports.charts import line_chart

    locale = fmt.locale
    branch_names = context.get("branch_names") or {}
    fig = "satq.dim." if context.get("quarterly") else "sat.dim."
    dims = {}
    for dim, rows in context["dimensions"].items():
        out = []
        for r in rows:
            v = r["value"]
            if dim == "tier" and v in MISSING:
                label = t("sat.no_tier")
            elif dim == "branch_id":
                label = f"{branch_names.get(v, v)}"
            else:
                label = code_label(DIM_CODE_SETS.get(dim, dim), None if v in MISSING else v, t)
            out.append(
                {
                    **r,
                    "label": label,
                    "row": f"{dim}:{v}",  # the row of the by-dimension figures (crm/reports/figures.toml)
                    "csat_interval": _interval(
                        fig, "csat_ci", r, fmt.number(r["csat_ci_low"], 2), fmt.number(r["csat_ci_high"], 2)
                    ),
                    "nps_interval": _interval(
                        fig, "nps_ci", r, fmt.number(r["nps_ci_low"], 1), fmt.number(r["nps_ci_high"], 1)
                    ),
                }
            )
        dims[dim] = out
    trend = context["trend"]
    csat_chart = nps_chart = ""
    if len(trend) >= 2:
        x = [fmt.month(p["month_end"]) for p in trend]
        csat_chart = line_chart(
            x,
            {"CSAT": [p["csat_mean"] for p in trend]},
            title=t("sat.chart.csat"),
            band=([p["csat_ci_low"] for p in trend], [p["csat_ci_high"] for p in trend]),
            band_label=t("sat.ci"),
        )
        nps_chart = line_chart(
            x,
            {"NPS": [p["nps"] for p in trend]},
            title=t("sat.chart.nps"),
            band=([p["nps_ci_low"] for p in trend], [p["nps_ci_high"] for p in trend]),
            band_label=t("sat.ci"),
        )
    verbatims = [
        {
            **v,
            "channel": code_label("survey_channel", v.get("channel"), t),
            "themes": codes_label("complaint_theme", v.get("themes"), t),
        }
        for v in context["verbatims"]
    ]
    drivers = [
        {**d, "label": _configured_label("driver", d.get("attribute"), d.get("label"), locale, t)}
        for d in context["drivers"]
    ]
    themes = [
        {**h, "label": _configured_label("complaint_theme", h.get("theme"), h.get("label"), locale, t)}
        for h in context["themes"]
    ]
    # "row": the code, the row of the SLA figures (crm/reports/figures.toml), before the code becomes its label
    sla = [
        {**s, "row": s.get("priority"), "priority": code_label("priority", s.get("priority"), t)}
        for s in context["sla"]
    ]
    sla_link = [
        {**s, "row": s.get("measure"), "measure": code_label("sla_measure", s.get("measure"), t)}
        for s in context["sla_link"]
    ]
    return {
        "dimensions": dims,
        "csat_chart": csat_chart,
        "nps_chart": nps_chart,
        "verbatims": verbatims,
        "drivers": drivers,
        "themes": themes,
        "sla": sla,
        "sla_link": sla_link,
    }
