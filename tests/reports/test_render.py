from __future__ import annotations

import re
import subprocess
import sys

import pytest

from crm.reports.i18n import MissingMessage
from crm.reports.render import RenderError, render_html, render_pdf, render_pdf_document

from .conftest import ROWS, SCRIPT, probe_context


def test_html_escapes_context_values(probe):
    assert SCRIPT not in probe.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in probe.html
    assert probe.html.count("&lt;script&gt;") == 3  # recipient, heading, table cell


def test_html_is_self_contained_and_responsive(probe):
    html = probe.html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "@page" in html and "thead { display: table-header-group; }" in html  # stylesheet inlined
    assert not re.search(r"<link\b|\bsrc=|url\(\s*['\"]?(https?:|//)", html)
    assert "overflow-x: auto" in html and "@media screen and (max-width: 640px)" in html


def test_pdf_shows_the_script_as_text(probe):
    assert SCRIPT in probe.page_text(1)


def test_pdf_pages_running_header_footer_and_repeated_table_head(probe):
    assert probe.pages > 1
    first, second = probe.page_text(1), probe.page_text(2)
    # "page / pages" (pdftotext may drop the narrow spaces around the slash)
    assert re.search(rf"\b1\s?/\s?{probe.pages}\b", first) and re.search(rf"\b2\s?/\s?{probe.pages}\b", second)
    assert "内部资料 Internal" in first and "内部资料 Internal" in second
    # the table continues on page 2 under its repeated header, below the running header (title, period)
    assert "客户名称" in second and "贷款余额" in second
    assert "客户名单测试" in second and "2026年10月" in second
    assert f"客户{ROWS - 1:03d}" in probe.page_text(probe.pages)


def test_pdf_embeds_the_cjk_font_and_extracts_chinese(probe):
    fonts = subprocess.run(["pdffonts", str(probe.pdf_path)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Noto-?Sans-?CJK", fonts), fonts
    assert all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:])  # every font embedded
    text = probe.page_text(1)
    assert "客户名单测试" in text and "2026年10月" in text and "客户000" in text
    assert "9,730.00 万元" in text  # total balance 0 + 1e4 + ... + 139e4 = 97,300,000 yuan


def test_pdf_is_deterministic(probe):
    html = probe.html
    assert render_pdf(html) == render_pdf(html)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x.png", "https://example.com/x.css", "file:///etc/hostname"])
def test_pdf_fetches_nothing_outside_the_templates(url):
    html = f"<!DOCTYPE html><html><body><p>x</p><img src='{url}'></body></html>"
    with pytest.raises(RenderError, match="refused"):
        render_pdf_document(html)


def test_pdf_may_use_data_urls():
    pixel = (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGA"
        "WjR9awAAAABJRU5ErkJggg=="
    )
    assert render_pdf_document(f"<html><body><img src='{pixel}'></body></html>").pages == 1


def test_strict_rendering(probe):
    with pytest.raises(RenderError, match="reserved"):
        render_html("probe", {**probe_context(), "t": 1}, templates_dir=probe.templates)
    with pytest.raises(RenderError, match="lower_snake_case"):
        render_html("../probe", probe_context(), templates_dir=probe.templates)
    broken = probe.templates / "broken.html.j2"
    broken.write_text('{% extends "base.html.j2" %}{% block doc_title %}{{ t("no.such.key") }}{% endblock %}')
    with pytest.raises(MissingMessage):
        render_html("broken", probe_context(), templates_dir=probe.templates)
    with pytest.raises(ValueError, match="unsupported report locale"):
        render_html("probe", probe_context(), "fr", templates_dir=probe.templates)
    import jinja2

    ctx = probe_context()
    del ctx["total"]
    with pytest.raises(jinja2.UndefinedError):
        render_html("probe", ctx, templates_dir=probe.templates)


def test_importing_the_engine_loads_neither_weasyprint_nor_matplotlib():
    code = (
        "import sys, crm.reports.render, crm.reports.pool, crm.reports.dq, crm.reports.leakscan, "
        "crm.reports.charts; print(','.join(m for m in ('weasyprint', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
