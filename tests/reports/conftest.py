"""Fixtures for the report engine: a probe report (a template written for the tests, extending the real base
layout, macros and stylesheet) rendered once to HTML and PDF."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from crm import warehouse as wh
from crm.reports.dq import dq_context
from crm.reports.render import TEMPLATES_DIR, render_html, render_pdf_document

SCRIPT = "<script>alert(1)</script>"
ROWS = 140  # enough for several A4 pages

PROBE = """{% extends "base.html.j2" %}
{% import "_macros.html.j2" as m with context %}
{% block doc_title %}客户名单测试{% endblock %}
{% block period %}{{ month_end|month }}{% endblock %}
{% block recipient %}{{ customer }}{% endblock %}
{% block summary %}<section class="tiles">{{ m.kpi("余额", total|money) }}</section>{% endblock %}
{% block content %}
<h2>{{ customer }}</h2>
{{ m.table([{"key": "name", "label": "客户名称"}, {"key": "balance", "label": "贷款余额", "kind": "money"}],
           rows, "无") }}
{% endblock %}
"""


@dataclass
class Probe:
    templates: Path
    html: str
    pdf_path: Path
    pages: int

    def page_text(self, page: int) -> str:
        return subprocess.run(
            ["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(self.pdf_path), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout


def probe_templates(folder: Path) -> Path:
    """A templates folder with the real base layout, macros and stylesheet plus ``probe.html.j2``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("base.html.j2", "_macros.html.j2", "palette.css", "report.css"):
        shutil.copy(TEMPLATES_DIR / name, folder / name)
    (folder / "probe.html.j2").write_text(PROBE, encoding="utf-8")
    return folder


def probe_context() -> dict:
    import datetime as dt

    rows = [{"name": f"客户{i:03d}", "balance": 10000.0 * i} for i in range(ROWS)]
    rows[1]["name"] = SCRIPT
    return {
        "month_end": dt.date(2026, 10, 31),
        "generated_at": dt.datetime(2026, 11, 2, 8, 30),
        "customer": SCRIPT,
        "total": sum(r["balance"] for r in rows),
        "rows": rows,
    }


@pytest.fixture(scope="session")
def probe(tmp_path_factory) -> Probe:
    folder = probe_templates(tmp_path_factory.mktemp("templates"))
    html = render_html("probe", probe_context(), "zh_CN", templates_dir=folder)
    pdf = render_pdf_document(html)
    path = folder / "probe.pdf"
    path.write_bytes(pdf.data)
    return Probe(folder, html, path, pdf.pages)


@pytest.fixture(scope="module")
def empty_dq_context(tmp_path_factory):
    """The context of a month without evidence: a short (two-page) real report."""
    engine = wh.make_engine(f"duckdb:///{tmp_path_factory.mktemp('wh') / 'w.duckdb'}")
    wh.ensure_schema(engine)
    with wh.begin(engine) as conn:
        ctx = dq_context(
            conn,
            dt.date(2026, 10, 31),
            policy_version="p1",
            key_versions=["k1"],
            leak_scan=None,
            generated_at=dt.datetime(2026, 11, 2, 8, 30),
        )
    engine.dispose()
    return ctx
