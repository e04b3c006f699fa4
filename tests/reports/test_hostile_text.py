"""Hostile text in the values a report shows: control and format characters never reach the reader, markup
stays text. Every report kind is rendered from hand-made data whose names carry them."""

from __future__ import annotations

import datetime as dt

import pytest

from crm.reports.data import branch_context, key_account_context, satisfaction_context, watch_digest_context
from crm.reports.leakscan import pdf_bytes_text
from crm.reports.render import render_html, render_pdf
from crm.text import CONTROL_RE

from .test_portfolio import SCRIPT, _data

# right-to-left override, isolates, zero-width space and joiner, BOM, NUL, escape, DEL, a C1 control, a tag
CONTROLS = "\u202e\u2066\u2069\u200b\u200d\ufeff\x00\x1b\x7f\x85\U000e0041"
NAME = f"康{CONTROLS}宇塑胶"  # as stored: the reader must see 康宇塑胶, in this order


def _hostile():
    data = _data()
    c360 = data["customer_360"].copy()
    c360["display_name"] = [NAME, SCRIPT + "\u202e", "王\u200b*", "陈\x00*", "刘\u2066*", "杨\u202e*"]
    c360["branch_name"] = "一支行\u202eXYZ"
    data.frames["customer_360"] = c360
    watch = data["watch_list"].copy()
    watch["evidence"] = ["逾期\u202e30天", '=HYPERLINK("http://x")\u200b']
    data.frames["watch_list"] = watch
    data.frames["manager_scorecards"] = data["manager_scorecards"].assign(
        npl_share=0.0, revisit_compliance=0.9, csat_mean=4.1, nps=20.0, products_per_customer=2.5
    )
    staff = data["staff"].copy()
    staff["staff_name"] = [f"张{CONTROLS}*"] + list(staff["staff_name"][1:])
    data.frames["staff"] = staff
    return data


def _risk_context(stamp: dict) -> dict:
    """The risk report with the hostile names on its customers, groups, circles and warnings."""
    from crm.reports.risk import risk_context

    from .test_risk import _data as risk_data

    data = risk_data()
    c360 = data["customer_360"].copy()
    c360["display_name"] = [NAME, SCRIPT + "\u202e", "王\u200b*", "陈\x00*", "刘\u2066*", "杨\u202e*"]
    c360["manager_name"] = f"张{CONTROLS}*"
    data.frames["customer_360"] = c360
    branches = data["branches"].copy()
    branches["branch_name"] = "上海分行\u202eXYZ"
    data.frames["branches"] = branches
    return risk_context(data, None) | stamp


def _contexts():
    data = _hostile()
    stamp = {"generated_at": dt.datetime(2026, 11, 1, 10)}
    watch = data["watch_list"].assign(week_end=dt.date(2026, 11, 1), loan_balance=1000.0, tier="key")
    return [
        ("key_account", key_account_context(data, "S1") | stamp),
        ("branch", branch_context(data, "B1") | stamp),
        ("satisfaction", satisfaction_context(data, branch_id="B1") | stamp),
        (
            "watch_digest",
            watch_digest_context(watch, "S1", dt.date(2026, 11, 1), data["customer_360"], f"张{CONTROLS}*") | stamp,
        ),
        ("risk", _risk_context(stamp)),
    ]


def _visible(html: str) -> str:
    return html.replace("\n", "").replace("\t", "").replace("\r", "")


@pytest.mark.parametrize("report,ctx", _contexts(), ids=lambda x: x if isinstance(x, str) else "")
def test_no_control_character_reaches_html_or_pdf(report, ctx):
    html = render_html(report, ctx, "zh_CN")
    found = sorted({f"U+{ord(c):04X}" for c in CONTROL_RE.findall(_visible(html))})
    assert found == [], f"{report}: control characters in the HTML: {found}"
    assert SCRIPT not in html  # markup stays text
    text = pdf_bytes_text(render_pdf(html))
    found = sorted({f"U+{ord(c):04X}" for c in CONTROL_RE.findall(text.replace("\n", "").replace("\f", ""))})
    assert found == [], f"{report}: control characters in the PDF text: {found}"
    if report in ("key_account", "risk"):  # the name reads in its stored order, without the hidden characters
        assert "康宇塑胶" in html and "康宇塑胶" in text.replace(" ", "")


def test_the_finalizer_is_what_removes_them(monkeypatch):
    """Without the template finalizer the override reaches the HTML (so the test above can fail)."""
    from crm.reports import render

    render.environment.cache_clear()  # environments are cached per locale: build one without the finalizer
    monkeypatch.setattr(render, "_finalize", lambda v: v)
    try:
        html = render_html("key_account", _contexts()[0][1], "zh_CN")
        assert "\u202e" in html
    finally:
        render.environment.cache_clear()


def test_subjects_carry_no_control_character(tmp_path):
    from crm.reports.plan import portfolio_plan
    from crm.reports.recipients import recipients

    from .test_portfolio import _branches

    data = _hostile()
    staff = data["staff"]
    staff.loc[staff["staff_id"] == "S3", "staff_name"] = "王\r\nBcc: x@y.cn\u202e*"
    planned = portfolio_plan(data, recipients(staff, _branches()), tmp_path, "zh_CN", dt.datetime(2026, 11, 1, 10))
    subjects = [p.subject for p in planned]
    assert subjects and not [s for s in subjects if CONTROL_RE.search(s)]


def test_risk_subjects_carry_no_control_character(tmp_path):
    """The risk report's subject names the officer's branch: a line break or an override in it never reaches
    the mail header."""
    from crm.reports.plan import risk_plan
    from crm.reports.recipients import recipients

    from .test_risk import _data as risk_data

    data = risk_data()
    branches = data["branches"].copy()
    branches["branch_name"] = "上海分行\r\nBcc: x@y.cn\u202e"
    data.frames["branches"] = branches
    readers = recipients(data["staff"], branches)
    planned = risk_plan(data, readers, tmp_path, "zh_CN", dt.datetime(2026, 11, 1, 10))
    subjects = [p.subject for p in planned]
    assert len(subjects) == 3 and not [s for s in subjects if CONTROL_RE.search(s)]
