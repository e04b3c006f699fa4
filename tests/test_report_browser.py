"""Every HTML report kind, and the auditors' data-quality site, looked at in a real browser (issue 17).

Uses the session's all-periods bank (tests/conftest.py): every kind of crm.reports.plan.REPORT_KINDS has been
rendered into ``CRM_HOME/reports/<period>/<kind>/<recipient>.html`` and the data-quality site into
``CRM_HOME/dq/site/index.html``. One headless Chromium (tests/reports/browser.py: Debian's chromium and
chromedriver, networking off) opens, per kind, its largest file in each language (the most rows, the widest
tables), takes a screenshot (kept in the module's tmp folder) and checks that:

- the page requested nothing but ``file:`` and ``data:`` URLs (a report is self-contained);
- a zh-CN page shows CJK text, drawn with a Noto CJK font (Chromium's platform fonts of the heading and of the
  first table cells: no tofu, no fallback to a font without the glyphs);
- no table overflows the page at an A4-ish width (1240 px), a narrow one (800 px) or a phone's (390 px): a table
  fits its container, or sits in report.css's horizontally scrolling ``.table-wrap`` which itself fits; the page
  never scrolls sideways;
- the page is not empty: a title, a heading, a non-empty ``<main>``; the site lists at least one result
  (``table.results tr.result``).

Chromium missing fails the test (run scripts/setup.sh); it never skips.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crm.reports.plan import REPORT_KINDS
from tests.reports.browser import CJK, CJK_FAMILY, WIDTHS, browser, missing

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

MIN_SHOT_BYTES = 20_000  # a blank 1240 x 1754 page is 10 kB of PNG; the bank's reports are 200 kB and more
SITE_RESULTS = "table.results tr.result"


@pytest.fixture(scope="module")
def chrome(tmp_path_factory):
    if problem := missing():
        pytest.fail(problem)
    with browser(tmp_path_factory.mktemp("browser")) as b:
        yield b


def problems(facts: dict, *, report: bool = True) -> list[str]:
    """What is wrong with one page's facts (tests/reports/browser.py), as sentences naming what. A report
    (base.html.j2) has an h1 on its cover and a ``<main>``; the data-quality site is checked by its results."""
    found = []
    if facts["external"]:
        found.append(f"requested {len(facts['external'])} non-local URL(s): {', '.join(facts['external'][:5])}")
    if facts["lang"].lower().startswith("zh"):
        if not facts["cjk_chars"]:
            found.append("a zh-CN page with no CJK character in its visible text")
        cjk_nodes = {sel: f for sel, f in facts["fonts"].items() if CJK.search(f["text"])}
        if not cjk_nodes:
            found.append(f"none of the inspected nodes ({', '.join(facts['fonts'])}) shows CJK text")
        for sel, f in cjk_nodes.items():
            if not any(CJK_FAMILY.match(family) and glyphs > 0 for family, glyphs in f["fonts"].items()):
                found.append(f"{sel} {f['text']!r} drawn without a Noto CJK font: {f['fonts']}")
    for width, layout in facts["layout"].items():
        for table in layout["overflowing"]:
            found.append(f"at {width} px, {table}")
        if layout["scroll_width"] > layout["client_width"] + 1:
            found.append(
                f"at {width} px the page scrolls sideways: {layout['scroll_width']} > {layout['client_width']}"
            )
    width, height = facts["shot_size"]
    if width != WIDTHS[0] or height < 600 or facts["shot_bytes"] < MIN_SHOT_BYTES:
        found.append(f"screenshot {facts['screenshot']} is {width} x {height} px, {facts['shot_bytes']} bytes")
    if not facts["title"]:
        found.append("no <title>")
    if report and not facts["fonts"].get("h1", {}).get("text"):
        found.append("no heading (h1)")
    if report and not facts["main_text_length"]:
        found.append("<main> is missing or empty")
    return found


def biggest_per_language(files: list[Path]) -> list[Path]:
    """The largest file of each language (<html lang>): most rows and widest tables."""
    by_lang: dict[str, Path] = {}
    for f in sorted(files, key=lambda f: f.stat().st_size, reverse=True):
        lang = re.search(r'<html lang="([^"]*)"', f.read_text(encoding="utf-8")[:300])
        by_lang.setdefault(lang.group(1) if lang else "", f)
    return sorted(by_lang.values())


def test_the_harness_sees_requests_overflow_and_fonts(chrome, tmp_path):
    """The checks can fail: a page that fetches from the network, has a table wider than its container and
    one in a scrolling wrapper, is seen as such, and its CJK text is drawn with a Noto CJK font."""
    page = tmp_path / "page.html"
    page.write_text(
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>样张</title>'
        "<style>body { max-width: 600px; font-family: sans-serif }</style></head><body><h1>客户经理月报</h1>"
        '<img src="http://example.com/x.png"><h2>宽表</h2><table style="width: 900px"><tr><td>张三</td></tr></table>'
        '<h2>滚动</h2><div style="overflow-x: auto"><table style="width: 900px"><tr><td>李四</td></tr></table></div>'
        '<main>正文</main><script>fetch("https://example.org/api").catch(() => {})</script></body></html>',
        encoding="utf-8",
    )
    facts = chrome.inspect(page, name="harness")
    assert set(facts["external"]) == {"http://example.com/x.png", "https://example.org/api"}
    found = problems(facts)
    assert any('table 0 after "宽表"' in p for p in found), found
    assert not any("table 1" in p for p in found), found
    assert facts["layout"][WIDTHS[0]]["scrolling"] == ['table 1 after "滚动": 900 px in 600 px']
    assert any(CJK_FAMILY.match(family) and n > 0 for family, n in facts["fonts"]["h1"]["fonts"].items()), facts


@pytest.mark.parametrize("kind", sorted(REPORT_KINDS))
def test_report_kind_in_a_browser(all_periods_bank, chrome, kind):
    bank, _ = all_periods_bank
    reports = bank.home / "reports"
    files = sorted(reports.glob(f"*/{kind}/*.html"))
    assert files, f"{kind}: no HTML rendered under {reports}"
    found = {}
    for f in biggest_per_language(files):
        name = "-".join(f.relative_to(reports).with_suffix("").parts)
        facts = chrome.inspect(f, name=name)
        if p := problems(facts):
            found[f"{f.relative_to(reports)} (screenshot {facts['screenshot']})"] = p
    assert not found, f"{kind}: " + "; ".join(f"{name}: {' | '.join(p)}" for name, p in found.items())


def test_data_quality_site_in_a_browser(all_periods_bank, chrome):
    bank, _ = all_periods_bank
    index = bank.home / "dq" / "site" / "index.html"
    assert index.is_file(), f"no data-quality site at {index}"
    facts = chrome.inspect(index, name="dq-site")
    found = problems(facts, report=False)
    rows = chrome.count(SITE_RESULTS)
    if not rows:
        found.append(f"no result listed ({SITE_RESULTS!r} matches nothing)")
    assert not found, f"{index} (screenshot {facts['screenshot']}): " + " | ".join(found)
