"""The ``prepare`` step of the monthly data-quality report (:mod:`crm.reports.dq` builds its context): the
charts, drawn at render time because their labels depend on the locale. Registered in
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
    return out
