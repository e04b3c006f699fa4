"""The control-character class of the `text` rule family: a fixed constant that covers every Cc and Cf code
point of the running Python (and U+2028/U+2029), matches nothing else that is assigned, and has the same
meaning in Python's re and in RE2 (the strip of free text is tested in tests/test_text.py)."""

import re
import sys
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crm.contract import EXTRACTS
from crm.quality.rules import build_rules
from crm.quality.text import CONTROL_CLASS, CONTROL_RANGES, control_code_points
from crm.text import CONTROL_CLASS_RE2

ALL = [c for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]  # surrogates are not text


def _category(cp: int) -> str:
    return unicodedata.category(chr(cp))


def test_class_covers_every_cc_and_cf_code_point_of_this_python():
    listed = set(control_code_points().tolist())
    wanted = {c for c in ALL if _category(c) in ("Cc", "Cf")} | {0x2028, 0x2029}
    missing = sorted(wanted - listed)
    assert not missing, (
        f"unicodedata {unicodedata.unidata_version} has Cc/Cf code points not in CONTROL_RANGES: "
        f"{[hex(c) for c in missing[:20]]} (add them: this re-versions the suites)"
    )
    assert {_category(c) for c in listed} <= {"Cc", "Cf", "Zl", "Zp", "Cn"}  # Cn: Cf in a later Unicode


def test_the_named_characters_are_in_the_class():
    named = [
        0x202A,
        0x202B,
        0x202C,
        0x202D,
        0x202E,
        0x2066,
        0x2067,
        0x2068,
        0x2069,
        0x200E,
        0x200F,
        0x200B,
        0x200C,
        0x200D,
        0x2060,
        0xFEFF,
        0x00AD,
        0x2028,
        0x2029,
        0x0000,
        0x001B,
        0x000A,
        0x000D,
        0x0009,
        0x0085,
    ]
    rx = re.compile(CONTROL_CLASS)
    for cp in named:
        assert rx.search(f"a{chr(cp)}b"), hex(cp)
    for ok in ["张伟", "Smith John", "上海东方贸易股份有限公司", "a@b.cn", "1 号楼", "１２３", "\u3000", "é", "🙂"]:
        assert not rx.search(ok), ok


def test_python_and_re2_spellings_agree_on_every_code_point():
    text = [chr(c) for c in ALL]
    py = np.array([bool(m) for m in map(re.compile(CONTROL_CLASS).search, text)])
    re2 = pc.match_substring_regex(pa.array(text), CONTROL_CLASS_RE2).to_numpy(zero_copy_only=False)
    assert (py == re2).all()
    assert py.sum() == len(control_code_points())


def test_the_class_is_a_constant_in_ascii_escapes():
    assert CONTROL_CLASS.isascii() and CONTROL_CLASS_RE2.isascii()  # no raw control character in a rule
    assert all(a <= b for a, b in CONTROL_RANGES) and list(CONTROL_RANGES) == sorted(CONTROL_RANGES)


def test_every_non_code_string_column_has_a_text_rule():
    rules = {r.id: r for r in build_rules()}
    for e in EXTRACTS:
        for c in e.columns:
            rid = f"{e.name}.{c.name}.control_chars"
            if c.type == "string" and not c.code_set:
                r = rules[rid]
                assert r.family == "text" and r.kind == "not_regex" and r.native
                assert r.severity == ("warning" if c.semantic == "free_text" else "critical"), rid
            else:
                assert rid not in rules
