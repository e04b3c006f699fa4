"""Cleaning text for readers with the one definition of control and format characters (crm.text); the
class itself (coverage of Cc and Cf, its RE2 spelling) is tested in tests/quality/test_text.py."""

from __future__ import annotations

import pytest

from crm.text import clean, count, has_control


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff", "\x00", "\x1b",
                                  "\x7f", "\x85", "\u00ad", "\u2028", "\U000e0041"])
def test_clean_removes_each_kind(char):
    assert has_control(f"ab{char}cd") and clean(f"ab{char}cd") == "abcd" and count(f"ab{char}cd") == 1


def test_line_breaks_become_spaces_or_stay_in_markup():
    assert clean("a\tb\nc\r\nd") == "a b c  d"
    assert clean("a\n\u202eb", keep_breaks=True) == "a\nb"
