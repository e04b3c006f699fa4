"""Every report kind a reader receives, as the scheduled jobs render it for a synthetic bank, is in the
reader's language: a zh_CN report shows no program word (tests/reports/language.py: English evidence, codes,
column names, rule families ...), only what the allow-list says is meant to be shown.

Uses the session's all-periods bank (tests/conftest.py): two month ends, the week and the quarter run as the
schedules run them, so every kind of crm.reports.plan.REPORT_KINDS has been rendered into
``CRM_HOME/reports/<period>/<kind>/<recipient>.html``. Slow: the bank is built and run once per session.
"""

from __future__ import annotations

import re

import pytest

from crm.reports.plan import REPORT_KINDS
from tests.reports.language import identifier_words

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ZH = re.compile(r'<html lang="zh-CN"')


@pytest.mark.parametrize("kind", sorted(REPORT_KINDS))
def test_zh_cn_reports_have_no_identifier_words(all_periods_bank, kind):
    bank, _ = all_periods_bank
    files = sorted((bank.home / "reports").glob(f"*/{kind}/*.html"))
    zh = [f for f in files if ZH.search(f.read_text(encoding="utf-8")[:300])]
    assert zh, f"{kind}: no zh_CN HTML rendered under {bank.home / 'reports'} (found {len(files)} HTML files)"
    found = {}
    for f in zh:
        words = identifier_words(f.read_text(encoding="utf-8"))
        if words:
            found[str(f.relative_to(bank.home / "reports"))] = words
    assert not found, f"{kind}: identifier words in zh_CN reports: " + "; ".join(
        f"{name}: {', '.join(words)}" for name, words in found.items()
    )
