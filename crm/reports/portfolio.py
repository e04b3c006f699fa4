"""``prepare`` steps of the portfolio reports (key account, branch, satisfaction, weekly watch digest): the
locale-dependent parts of a context (translated labels, charts with translated titles) that the templates
then print. Registered in :data:`crm.reports.render.REPORTS`; called in the rendering worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

SEVERITY_TONE = {"high": "bad", "medium": "warn", "low": "muted"}
DIM_CODE_SETS = {"channel": "survey_channel", "product_family": "product_family"}


def _code_label(code_set: str, value: Any, locale: str) -> str:
    """``code 中文`` in zh_CN, the bare code in en (the code sets' labels are Chinese)."""
    from crm.contract.codes import CODE_SETS

    if value is None:
        return "—"
    label = CODE_SETS.get(code_set, {}).get(str(value))
    return f"{value} {label}" if (label and locale == "zh_CN") else str(value)


def _bar(items: list[Mapping[str, Any]], label: Callable[[str], str], title: str) -> str:
    from crm.reports.charts import bar_chart_h

    if not items:
        return ""
    return bar_chart_h([label(i["key"]) for i in items], [i["count"] for i in items], title=title)


def _with_severity(rows: list[dict[str, Any]], t: Callable[..., str]) -> list[dict[str, Any]]:
    return [{**r, "severity_label": t(f"severity.{r['severity']}")} for r in rows]


def prepare_key_account(context: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    return {
        "tier_chart": _bar(context["tiers"], lambda k: t(f"tier.{k}"), t("ka.chart.tiers")),
        "grade_chart": _bar(context["grades"], str, t("ka.chart.grades")),
        "watch_rows": _with_severity(context["watch"], t),
    }


def prepare_branch(context: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    managers = [
        {**m, "manager_label": f"{m.get('manager_name') or '—'} ({m['manager_id']})"} for m in context["managers"]
    ]
    keys = [{**k, "tier_label": t(f"tier.{k['tier']}")} for k in context["key_accounts"]]
    return {
        "managers": managers,
        "key_accounts": keys,
        "tier_chart": _bar(context["tiers"], lambda k: t(f"tier.{k}"), t("ka.chart.tiers")),
    }


def prepare_watch_digest(context: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    return {"rows_list": _with_severity(context["rows_list"], t)}


def prepare_satisfaction(context: Mapping[str, Any], fmt: Any, t: Callable[..., str]) -> dict[str, Any]:
    from crm.reports.charts import line_chart

    locale = fmt.locale
    branch_names = context.get("branch_names") or {}
    dims = {}
    for dim, rows in context["dimensions"].items():
        out = []
        for r in rows:
            v = r["value"]
            if dim == "tier":
                label = t(f"tier.{v}") if v not in (None, "nan", "None") else t("sat.no_tier")
            elif dim == "branch_id":
                label = f"{branch_names.get(v, v)}"
            else:
                label = _code_label(DIM_CODE_SETS.get(dim, ""), None if v in ("nan", "None") else v, locale)
            out.append(
                {
                    **r,
                    "label": label,
                    "csat_interval": f"{fmt.number(r['csat_ci_low'], 2)} – {fmt.number(r['csat_ci_high'], 2)}",
                    "nps_interval": f"{fmt.number(r['nps_ci_low'], 1)} – {fmt.number(r['nps_ci_high'], 1)}",
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
        {**v, "channel": _code_label("survey_channel", v.get("channel"), locale)} for v in context["verbatims"]
    ]
    return {"dimensions": dims, "csat_chart": csat_chart, "nps_chart": nps_chart, "verbatims": verbatims}
