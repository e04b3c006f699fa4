"""The ``prepare`` step of the monthly data-quality report (:mod:`crm.reports.dq` builds its context): the
charts, drawn at render time because their labels depend on the locale, and the labels of the codes the
context holds (extracts, rule families, rule descriptions, rejection reasons, zones: :func:`labels`). Registered in
:data:`crm.reports.render.REPORTS`; called in the rendering worker. Light to import (no pandas, no
SQLAlchemy, matplotlib only when a chart is drawn), as the rendering engine imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def prepare(ctx: Mapping[str, Any], fmt: Any, t: Any) -> dict[str, Any]:
    """Render-time variables (the report's :class:`crm.reports.render.ReportSpec` hook): the charts, with
    labels in the report's locale. Charts whose data is empty are ``None``."""
    from crm.reports import charts

    out: dict[str, Any] = {"chart_arrivals": None, "chart_pass_rate": None, "chart_quarantine": None}
    daily = ctx["files"]["daily"]
    if daily:
        out["chart_arrivals"] = charts.stacked_bar(
            [d["business_date"].day for d in daily],
            {
                t("dq.status.on_time"): [d["on_time"] for d in daily],
                t("dq.status.late"): [d["late"] for d in daily],
                t("dq.status.missing"): [d["missing"] for d in daily],
            },
            title=t("dq.chart.arrivals"),
            colors=["#2f7d4f", "#c0913f", "#a9473b"],
        )
    rate_days = [d for d in ctx["rules"]["daily"] if d["pass_rate"] is not None]
    if rate_days:
        low = min(d["pass_rate"] for d in rate_days)
        out["chart_pass_rate"] = charts.line_chart(
            [d["business_date"].day for d in rate_days],
            {t("dq.chart.pass_rate_series"): [d["pass_rate"] for d in rate_days]},
            title=t("dq.chart.pass_rate"),
            y_format="percent",
            y_limits=(max(0.0, low - max(0.01, (1 - low) * 0.5)), 1.0),
        )
    by_rule = ctx["quarantine"]["by_rule"]
    if by_rule:
        out["chart_quarantine"] = charts.bar_chart_h(
            [r["rule_id"] for r in by_rule], [r["rows"] for r in by_rule], title=t("dq.chart.quarantine")
        )
    out.update(labels(ctx, fmt, t))
    return out


def labels(ctx: Mapping[str, Any], fmt: Any, t: Any) -> dict[str, Any]:
    """The context's sections with labels in the report's language beside the codes
    (:mod:`crm.reports.dq_labels`): ``extract_label`` on every row naming an extract, ``reason_label`` on
    rejected files, ``family_label`` and ``description_label`` on rule rows, ``zone_label`` on purges,
    ``reason_labels`` of the purges, ``detail_label`` and ``recipient_label`` of undeliverable recipients. Returned as replacements
    of ``files``, ``rules``, ``quarantine``, ``purges`` and ``undeliverable``."""
    from crm.reports.dq_labels import (
        extract_label,
        labelled_rows,
        purge_reason,
        recipient_label,
        undeliverable_detail,
    )
    from crm.reports.labels import code_label, codes_label

    def with_extract(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [{**r, "extract_label": extract_label(r.get("extract"), t)} for r in rows]

    files, rules, quarantine, purges = ctx["files"], ctx["rules"], ctx["quarantine"], ctx["purges"]
    return {
        "files": {
            **files,
            "exceptions": with_extract(files["exceptions"]),
            "rejections": [
                {**r, "reason_label": codes_label("reject_reason", r["reason"], t)}
                for r in with_extract(files["rejections"])
            ],
        },
        "rules": {
            **rules,
            "by_family": [{**r, "family_label": code_label("dq_family", r["family"], t)} for r in rules["by_family"]],
            "worst": labelled_rows(rules["worst"], fmt, t),
        },
        "quarantine": {
            **quarantine,
            "by_rule": labelled_rows(quarantine["by_rule"], fmt, t),
            "by_extract": with_extract(quarantine["by_extract"]),
        },
        "purges": {
            **purges,
            "by_extract": [
                {**r, "zone_label": code_label("zone", r["zone"], t)} for r in with_extract(purges["by_extract"])
            ],
            "reason_labels": [purge_reason(r, fmt, t) for r in purges["reasons"]],
        },
        "undeliverable": [
            {
                **u,
                "detail_label": undeliverable_detail(u.get("detail", ""), t),
                "recipient_label": recipient_label(u.get("recipient_id", ""), t),
            }
            for u in ctx.get("undeliverable", [])
        ],
    }
