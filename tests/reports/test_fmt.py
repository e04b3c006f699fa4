from __future__ import annotations

import datetime as dt

import pytest

from crm.reports.fmt import Formatter

D = dt.date(2026, 10, 5)


@pytest.mark.parametrize(
    ("locale", "call", "expected"),
    [
        ("zh_CN", lambda f: f.money(12345678), "1,234.57 万元"),
        ("zh_CN", lambda f: f.money(12345678, "yuan"), "12,345,678.00 元"),
        ("zh_CN", lambda f: f.amount(12345678), "1,234.57"),
        ("zh_CN", lambda f: f.money_unit(), "万元"),
        ("zh_CN", lambda f: f.money(-50), "-0.01 万元"),
        ("zh_CN", lambda f: f.money(-40), "0.00 万元"),  # rounds to zero: no "-0.00"
        ("zh_CN", lambda f: f.number(1234567.891), "1,234,568"),
        ("zh_CN", lambda f: f.number(1234567.891, 2), "1,234,567.89"),
        ("zh_CN", lambda f: f.number(2.5), "3"),  # half up, not half even
        ("zh_CN", lambda f: f.number(1.005, 2), "1.01"),
        ("zh_CN", lambda f: f.percent(0.985), "98.50%"),
        ("zh_CN", lambda f: f.percent(0.99375), "99.38%"),
        ("zh_CN", lambda f: f.percent(1, 0), "100%"),
        ("zh_CN", lambda f: f.date(D), "2026年10月5日"),
        ("zh_CN", lambda f: f.date(D, "long"), "2026年10月5日"),
        ("zh_CN", lambda f: f.date(D, "iso"), "2026-10-05"),
        ("zh_CN", lambda f: f.day(D), "10月5日"),
        ("zh_CN", lambda f: f.month(D), "2026年10月"),
        ("zh_CN", lambda f: f.quarter(D), "2026年第4季度"),
        ("zh_CN", lambda f: f.datetime(dt.datetime(2026, 11, 2, 8, 30)), "2026年11月2日 08:30"),
        ("zh_CN", lambda f: f.filesize(1536 * 1024), "1.5 MB"),
        ("zh_CN", lambda f: f.number(None), "—"),
        ("zh_CN", lambda f: f.percent(float("nan")), "—"),
        ("en", lambda f: f.money(12345678), "CNY 12.35 mn"),
        ("en", lambda f: f.money(12345678, "yuan"), "CNY 12,345,678.00"),
        ("en", lambda f: f.money_unit(), "CNY mn"),
        ("en", lambda f: f.number(1234567.891, 2), "1,234,567.89"),
        ("en", lambda f: f.percent(0.985), "98.50%"),
        ("en", lambda f: f.date(D), "Oct 5, 2026"),
        ("en", lambda f: f.date(D, "long"), "October 5, 2026"),
        ("en", lambda f: f.month(D), "October 2026"),
        ("en", lambda f: f.quarter(D), "Q4 2026"),
        ("en", lambda f: f.datetime(dt.datetime(2026, 11, 2, 8, 30)), "Nov 2, 2026 08:30"),
    ],
)
def test_formats(locale, call, expected):
    assert call(Formatter(locale)) == expected


def test_dispatch_and_errors():
    f = Formatter("zh_CN")
    assert f.value(0.985, "percent", digits=1) == "98.5%"
    assert f.value("<b>", "text") == "<b>"  # escaping is the template's job
    with pytest.raises(ValueError, match="unknown format kind"):
        f.value(1, "filters")
    with pytest.raises(ValueError, match="unsupported report locale"):
        Formatter("zh_TW")
    assert set(f.filters()) >= {"num", "pct", "money", "amount", "date", "month", "quarter", "datetime"}
