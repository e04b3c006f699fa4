"""Identifier kinds (crm/contract/identifiers.toml): loaded and checked once, every key and reference column has
one, the patterns cannot accept a path, markup or control character by construction, and they are anchored so
that a trailing newline does not pass."""

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from crm import contract
from crm.contract.identifiers import (
    ID_ALPHABET,
    IDENTIFIERS_FILE,
    IdentifierError,
    check_pattern,
    id_regex_of,
    kinds,
    load_kinds,
)

HOSTILE = [
    "/etc/passwd",
    "../../x",
    "C:\\x",
    "..",
    ".",
    "<script>alert(1)</script>",
    '=HYPERLINK("x")',
    "'; DROP TABLE loans;--",
    "a b",
    "\u202eS000001",
    "S000\u200b001",
    "S000001\n",
    "S000001\r",
    "\nS000001",
    "S000001\x00",
    "S000001 ",
    " S000001",
    "Ｓ000001",
    "S٠٠٠٠٠١",
]


def test_every_key_and_reference_column_has_an_identifier_kind():
    for e in contract.EXTRACTS:
        cols = set(e.key) | {c for fk in e.references for c in fk.columns}
        for name in cols:
            c = e.column(name)
            if c.type == "string" and not c.code_set:
                assert c.id_kind, f"{e.name}.{name}"
                assert set(c.id_kind) <= set(kinds())
                assert c.text == "reject"
    # and the other id-like columns named in the issue
    for e, col in [
        ("loans", "contract_id"),
        ("related_parties", "related_customer_id"),
        ("surveys", "related_id"),
        ("product_holdings", "product_code"),
    ]:
        assert contract.get(e).column(col).id_kind, (e, col)


def test_examples_match_and_hostile_values_do_not():
    for k in kinds().values():
        rx = re.compile(k.regex)
        assert rx.search(k.example), k.name
        assert not rx.search(k.example + "\n"), k.name  # `$` would have let this through
        for bad in HOSTILE:
            assert not rx.search(bad), (k.name, bad)


def test_patterns_compile_alike_in_python_and_re2():
    """The vocabulary is common to Python's re and RE2 (Arrow, DuckDB): same verdict on the same values."""
    values = [k.example for k in kinds().values()] + HOSTILE + ["0", "S1", "ab", "A" * 30, "1" * 23]
    arr = pa.array(values)
    for k in kinds().values():
        py = [bool(re.search(k.regex, v)) for v in values]
        re2 = pc.match_substring_regex(arr, k.regex.replace(r"\Z", "$")).to_pylist()
        assert py == re2, k.name


def test_no_pattern_accepts_a_character_outside_the_id_alphabet():
    """A property check beyond the vocabulary proof: random strings over a hostile alphabet, each built around
    a valid example, never match unless every character is a letter, digit, '_' or '-'."""
    g = np.random.default_rng(14)
    alphabet = list("/\\. \t\n\r\"'<>=+@;:%&|\x00\x1b\u202e\u2066\u200b\ufeff\u3000中") + list("AZaz09_-S")
    for k in kinds().values():
        rx = re.compile(k.regex)
        for _ in range(300):
            s = list(k.example)
            for _ in range(int(g.integers(1, 3))):
                pos = int(g.integers(0, len(s) + 1))
                s.insert(pos, alphabet[int(g.integers(0, len(alphabet)))])
            value = "".join(s)
            if rx.search(value):
                assert set(value) <= ID_ALPHABET, (k.name, value)


@pytest.mark.parametrize(
    "pattern",
    [
        ".",
        "S.*",
        "\\d{6}",
        "[^0-9]+",
        "[0-z]+",
        "(S)[0-9]",
        "^S[0-9]$",
        "S[0-9] ",
        "[/]",
        "S{2,1}",
        "*S",
        "[0-9]{3",
        "S{\u0663}",
        "S{1,\u0663}",
        "S[0-9]{6}\\Z",
        "(?i:s)",
        "(?:S",
        "S)",
        "[A-Z0-9.]",
        "S|",
        "|S",
        "S||T",
        "(?:)",
        "[a-Z]",
    ],
)
def test_patterns_outside_the_vocabulary_are_refused(pattern):
    with pytest.raises(IdentifierError):
        check_pattern(pattern, "test")


@pytest.mark.parametrize("pattern", ["S[0-9]{6}", "[A-Z0-9_-]{3,12}", "(?:V|SR)[0-9]{20}", "A-B?[0-9]+", "x*y"])
def test_patterns_in_the_vocabulary_are_accepted(pattern):
    check_pattern(pattern, "test")


def test_a_bank_can_change_a_pattern(tmp_path):
    text = IDENTIFIERS_FILE.read_text(encoding="utf-8").replace('pattern = "S[0-9]{6}"', 'pattern = "[A-Z]{2}[0-9]{5}"')
    text = text.replace('example = "S000009"', 'example = "SH00009"')
    path = tmp_path / "identifiers.toml"
    path.write_text(text, encoding="utf-8")
    staff = load_kinds(path)["staff"]
    assert re.search(staff.regex, "SH00009") and not re.search(staff.regex, "S000009")


@pytest.mark.parametrize(
    "change, message",
    [
        (('pattern = "S[0-9]{6}"', 'pattern = "S.+"'), "not allowed"),
        (('example = "S000009"', 'example = "X000009"'), "example does not match"),
        (('pattern = "S[0-9]{6}"', 'pattern = "S[0-9]*"'), None),  # fine: does not match the empty string
        (('pattern = "S[0-9]{6}"', 'pattern = "[0-9]*"\nexample_typo = "x"'), "unknown keys"),
    ],
)
def test_malformed_settings_stop_the_load(tmp_path, change, message):
    path = tmp_path / "identifiers.toml"
    path.write_text(IDENTIFIERS_FILE.read_text(encoding="utf-8").replace(*change), encoding="utf-8")
    if message is None:
        load_kinds(path)
        return
    with pytest.raises(IdentifierError, match=message):
        load_kinds(path)


def test_a_pattern_matching_the_empty_value_is_refused(tmp_path):
    path = tmp_path / "identifiers.toml"
    path.write_text('[x]\npattern = "[0-9]*"\nexample = "1"\nzh = "x"\nen = "x"\n', encoding="utf-8")
    with pytest.raises(IdentifierError, match="forbidden probe"):
        load_kinds(path)


def test_alternatives_are_anchored_as_a_whole():
    rx = id_regex_of(["V[0-9]{2}", "SR[0-9]{2}"])
    assert re.search(rx, "V12") and re.search(rx, "SR12")
    assert not re.search(rx, "V12SR12") and not re.search(rx, "xSR12") and not re.search(rx, "V12\n")
