"""Cleaning text for readers with the one definition of control and format characters (crm.text), and the
strip of free text before the privacy scrub; the class itself (coverage of Cc and Cf, its RE2 spelling) is
tested in tests/quality/test_text.py."""

from __future__ import annotations

import re

import pytest

from crm.text import CONTROL_CLASS, clean, count, has_control, strip_controls, strip_frame


@pytest.mark.parametrize(
    "char",
    [
        "\u202e",
        "\u2066",
        "\u2069",
        "\u200b",
        "\u200d",
        "\ufeff",
        "\x00",
        "\x1b",
        "\x7f",
        "\x85",
        "\u00ad",
        "\u2028",
        "\U000e0041",
    ],
)
def test_clean_removes_each_kind(char):
    assert has_control(f"ab{char}cd") and clean(f"ab{char}cd") == "abcd" and count(f"ab{char}cd") == 1


def test_line_breaks_become_spaces_or_stay_in_markup():
    assert clean("a\tb\nc\r\nd") == "a b c  d"
    assert clean("a\n\u202eb", keep_breaks=True) == "a\nb"


@pytest.mark.parametrize(
    "value, expected, count",
    [
        ("客户表示\r\n下月还款", "客户表示 下月还款", 2),
        ("a\tb\n\nc", "a b c", 3),
        ("x\u202ey\u2066z\u2069", "xyz", 3),
        ("zero\u200bwidth\ufeff", "zerowidth", 2),
        ("nul\x00esc\x1b[31m", "nulesc[31m", 2),
        ("line\u2028para\u2029end", "line para end", 2),
        ("clean text, 干净的文本", "clean text, 干净的文本", 0),
        ("<script>alert(1)</script>", "<script>alert(1)</script>", 0),  # markup is data, not a control character
    ],
)
def test_strip_controls(value, expected, count):
    out, counts = strip_controls([value, None])
    assert out[0] == expected and out[1] is None
    assert counts.tolist() == [count, 0]
    assert not re.search(CONTROL_CLASS, out[0])


def test_strip_frame_counts_and_leaves_clean_frames_alone():
    import pandas as pd

    clean = pd.DataFrame({"notes": ["ok", None], "other": ["\u202e", "x"]})
    same, stats = strip_frame(clean, ["notes"])
    assert same is clean and stats == {"notes": (0, 0)}
    dirty = pd.DataFrame({"notes": ["a\nb", "c\u200b", None, "d"], "other": ["\u202e"] * 4}, index=[5, 6, 7, 8])
    out, stats = strip_frame(dirty, ["notes"])
    assert out["notes"].tolist() == ["a b", "c", None, "d"] and stats == {"notes": (2, 2)}
    assert out["other"].tolist() == dirty["other"].tolist()  # only the strip columns are touched
    assert dirty["notes"].iloc[0] == "a\nb"  # the input is not modified
