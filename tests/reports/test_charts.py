from __future__ import annotations

import re

import pytest

from crm.reports import charts


def _all():
    return {
        "line": lambda title: charts.line_chart(
            ["1", "2", "3", "4"],
            {"通过率": [0.98, 0.99, None, 0.97]},
            title=title,
            band=([0.96] * 4, [1.0] * 4),
            band_label="区间",
            y_format="percent",
        ),
        "bar": lambda title: charts.bar_chart_h(["customers.id.not_null", "贷款"], [12, 3], title=title),
        "stacked": lambda title: charts.stacked_bar([1, 2, 3], {"按时": [5, 4, 5], "迟到": [0, 1, 0]}, title=title),
    }


@pytest.mark.parametrize("kind", ["line", "bar", "stacked"])
def test_chart_is_inline_accessible_deterministic_svg(kind):
    make = _all()[kind]
    svg = make("<标题> & title")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "<metadata" not in svg
    assert re.search(r'<title id="[^"]+">&lt;标题&gt; &amp; title</title>', svg)
    assert 'role="img"' in svg and "aria-labelledby" in svg
    assert "<text" in svg and "<image" not in svg and "base64" not in svg
    assert "Noto Sans CJK SC" in svg
    assert not re.search(r"(href|src)=\"(https?:|data:)", svg)
    assert svg == make("<标题> & title")


def test_chart_text_is_text_and_ids_do_not_collide():
    a = charts.bar_chart_h(["甲", "乙"], [1, 2], title="a")
    b = charts.bar_chart_h(["甲", "乙"], [1, 3], title="b")
    assert ">甲<" in a  # labels are <text> content, not glyph paths
    ids_a, ids_b = set(re.findall(r'id="([^"]+)"', a)), set(re.findall(r'id="([^"]+)"', b))
    assert ids_a and not ids_a & ids_b
    for ref in re.findall(r"url\(#([^)]+)\)|href=\"#([^\"]+)\"", a):
        assert (ref[0] or ref[1]) in ids_a  # every internal reference points into the same chart
