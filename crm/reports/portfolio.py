"""``prepare`` steps of the portfolio reports (key account, branch, satisfaction, weekly watch digest): the
locale-dependent parts of a context (translated labels, charts with translated titles) that the templates
then print. Registered in :data:`crm.reports.render.REPORTS`; called in the rendering worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from markupsafe import Markup

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
        accounts.append({**a, "labels": _account_labels(a, fmt, t), "warning_lines": lines, "spark": spark})
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
        "accounts": accounts,
        "tone_of_severity": SEVERITY_TONE,
    }


def prepare_branch(context: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    managers = [
        {**m, "manager_label": f"{m.get('manager_name') or '—'} ({m['manager_id']})"} for m in context["managers"]
    ]
    keys = [{**k, "tier_label": code_label("tier", k.get("tier"), t)} for k in context["key_accounts"]]
    return {
        "managers": managers,
        "key_accounts": keys,
        "warnings": warning_rows(context["warnings"], fmt, t),
        "tier_chart": _bar(context["tiers"], lambda k: code_label("tier", k, t), t("ka.chart.tiers")),
    }


def prepare_watch_digest(context: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    return {"rows_list": warning_rows(_with_severity(context["rows_list"], t), fmt, t)}


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
