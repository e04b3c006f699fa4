"""The one definition of control and format characters (crm.text)."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from crm.text import CONTROL_CLASS, CONTROL_RANGES, CONTROL_RE, clean, count, has_control


def test_the_class_covers_every_control_and_format_character_of_this_python():
    missing = [hex(cp) for cp in range(sys.maxunicode + 1)
               if unicodedata.category(chr(cp)) in ("Cc", "Cf") and not CONTROL_RE.fullmatch(chr(cp))]
    assert missing == [], f"Unicode {unicodedata.unidata_version}: not in CONTROL_CLASS: {missing[:20]}"


def test_the_class_holds_nothing_a_name_or_an_amount_needs():
    allowed = [chr(cp) for a, b in CONTROL_RANGES for cp in range(a, b + 1)
               if unicodedata.category(chr(cp)) not in ("Cc", "Cf", "Cn", "Zl", "Zp")]
    assert allowed == []
    for text in ("张三", "上海康宇塑胶制品有限公司", "O'Brien-Smith", "1,234.56 万元", "a b", "👩‍💻"[0]):
        assert not has_control(text), text


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff", "\x00", "\x1b",
                                  "\x7f", "\x85", "\u00ad", "\u2028", "\U000e0041"])
def test_clean_removes_each_kind(char):
    assert has_control(f"ab{char}cd") and clean(f"ab{char}cd") == "abcd" and count(f"ab{char}cd") == 1


def test_line_breaks_become_spaces_or_stay_in_markup():
    assert clean("a\tb\nc\r\nd") == "a b c  d"
    assert clean("a\n\u202eb", keep_breaks=True) == "a\nb"


def test_the_class_is_a_stable_literal():
    # written out, not built from unicodedata: the data-quality suites' versions depend on it
    assert CONTROL_CLASS.startswith("[\\x00-\\x1f\\x7f-\\x9f") and "\\u202a-\\u202e" in CONTROL_CLASS
