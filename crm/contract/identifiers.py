"""Identifier kinds (``identifiers.toml`` next to this module): the shape of every key and reference column of
the extract contract, as settings a bank can change.

A column of the contract names its kind (``s("staff_id", ..., id_kind="staff")``; several kinds when a column
may hold any of them, e.g. ``("interaction", "request", "loan")``). The data-quality suites turn each into the
rule ``<extract>.<column>.id_pattern`` (:mod:`crm.quality.rules`), a regular expression anchored at both ends
(:func:`id_regex`).

Safe by construction: a pattern may use only a small regular-expression vocabulary whose every match is made
of ASCII letters, digits, ``_`` and ``-`` (see the file's header and :func:`check_pattern`), so no identifier
that passes its rule can be a path (``/``, ``\\``, ``.``, ``..``), markup (``<``, ``>``, quotes), contain
white space or a control character, or be empty. The file is loaded and checked once; a pattern outside the
vocabulary, or whose example does not match, raises :class:`IdentifierError`, which stops the contract from
loading. The vocabulary is common to Python's ``re`` and RE2 (Arrow, DuckDB): a test compiles every pattern in
both.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

IDENTIFIERS_FILE = Path(__file__).with_name("identifiers.toml")

# Every character a valid identifier can contain, whatever the patterns say (the vocabulary guarantees it).
ID_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_LITERALS = ID_ALPHABET
_RANGE_GROUPS = ("0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_REPEAT = re.compile(r"\{([0-9]+)(?:,([0-9]*))?\}")  # ASCII digits only, as Python's re reads a repeat
# Values no pattern may accept; checked for every kind when the file loads (the vocabulary already excludes
# them: this is the belt to its braces).
PROBES = (
    "",
    " ",
    "/",
    "\\",
    ".",
    "..",
    "../x",
    "/etc/passwd",
    "C:\\x",
    "a b",
    "<x>",
    "'",
    '"',
    "\n",
    "\x00",
    "\u202e",
    "\u200b",
    "S000001\n",
    "0100\n",
    "=1+1",
    "@SUM(1)",
)


class IdentifierError(ValueError):
    """``identifiers.toml`` is malformed, or a pattern is outside the allowed vocabulary."""


@dataclass(frozen=True)
class IdKind:
    name: str
    pattern: str  # unanchored, in the vocabulary of :func:`check_pattern`
    example: str
    zh: str
    en: str

    @property
    def regex(self) -> str:
        """The pattern anchored at both ends, for Python's ``re`` (and pandas, and GX on pandas)."""
        return id_regex_of([self.pattern])


def id_regex_of(patterns: list[str]) -> str:
    """One regex accepting a whole value that matches any of ``patterns``. ``\\Z``, not ``$``: in Python ``$``
    also matches before a trailing newline, so ``^S[0-9]{6}$`` would accept ``"S000001\\n"``."""
    return "^(?:" + "|".join(f"(?:{p})" for p in patterns) + r")\Z"


def check_pattern(pattern: str, where: str) -> None:
    """Raise :class:`IdentifierError` unless ``pattern`` uses only the allowed vocabulary: literal ASCII letters,
    digits, ``_`` and ``-``; classes ``[...]`` of those, with ranges within digits, upper-case or lower-case
    letters (``-`` literal only first or last), never negated; quantifiers ``? * + {m} {m,n} {m,}`` after an
    atom; non-capturing groups ``(?:...)``; alternation ``|`` (no empty alternative)."""
    if not isinstance(pattern, str) or not pattern:
        raise IdentifierError(f"{where}: pattern must be a non-empty string")
    i, depth, atom = 0, 0, False
    empty = True  # the current alternative has no atom yet
    n = len(pattern)

    def bad(msg: str) -> IdentifierError:
        return IdentifierError(f"{where}: {msg} at position {i + 1} of the pattern")

    while i < n:
        ch = pattern[i]
        if ch in _LITERALS:
            i, atom, empty = i + 1, True, False
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise bad("unclosed character class")
            body = pattern[i + 1 : end]
            if not body or body.startswith("^"):
                raise bad("empty or negated character class")
            j = 0
            while j < len(body):
                c = body[j]
                if c not in _LITERALS:
                    raise bad(f"character {c!r} not allowed in a class")
                if c == "-" and 0 < j < len(body) - 1:
                    raise bad("'-' inside a class must be a range between two characters or come first or last")
                if j + 2 < len(body) and body[j + 1] == "-":
                    lo, hi = c, body[j + 2]
                    if not any(lo in g and hi in g and g.index(lo) <= g.index(hi) for g in _RANGE_GROUPS):
                        raise bad(f"range {lo}-{hi} must lie within digits, upper-case or lower-case letters")
                    j += 3
                    continue
                j += 1
            i, atom, empty = end + 1, True, False
        elif ch == "(":
            if not pattern.startswith("(?:", i):
                raise bad("only non-capturing groups '(?:...)' are allowed")
            i, depth, atom, empty = i + 3, depth + 1, False, True
        elif ch == ")":
            if depth == 0:
                raise bad("unbalanced ')'")
            if empty:
                raise bad("empty alternative or group")
            i, depth, atom = i + 1, depth - 1, True
        elif ch == "|":
            if empty:
                raise bad("empty alternative")
            i, atom, empty = i + 1, False, True
        elif ch in "?*+":
            if not atom:
                raise bad(f"quantifier {ch!r} without an atom")
            i, atom = i + 1, False
        elif ch == "{":
            m = _REPEAT.match(pattern, i)
            if not m or not atom:
                raise bad("malformed repetition '{m}', '{m,n}' or '{m,}', or one without an atom")
            if m.group(2) and int(m.group(2)) < int(m.group(1)):
                raise bad("repetition {m,n} with n < m")
            i, atom = m.end(), False
        else:
            raise bad(f"character {ch!r} is not allowed (see identifiers.toml)")
    if depth:
        raise IdentifierError(f"{where}: unbalanced '('")
    if empty:
        raise IdentifierError(f"{where}: empty alternative at the end of the pattern")


def load_kinds(path: Path = IDENTIFIERS_FILE) -> dict[str, IdKind]:
    """Read and check an identifier file: kind name -> :class:`IdKind`."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    out: dict[str, IdKind] = {}
    for name, entry in data.items():
        where = f"{path.name} [{name}]"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or not isinstance(entry, dict):
            raise IdentifierError(f"{where}: a kind is a table named in lower case")
        missing = {"pattern", "example", "zh", "en"} - set(entry)
        unknown = set(entry) - {"pattern", "example", "zh", "en"}
        if missing or unknown:
            raise IdentifierError(f"{where}: missing keys {sorted(missing)}, unknown keys {sorted(unknown)}")
        if not all(isinstance(entry[k], str) and entry[k].strip() for k in ("example", "zh", "en")):
            raise IdentifierError(f"{where}: example, zh and en must be non-empty strings")
        check_pattern(entry["pattern"], where)
        kind = IdKind(name, entry["pattern"], entry["example"], entry["zh"], entry["en"])
        try:
            compiled = re.compile(kind.regex)
        except re.error as e:
            raise IdentifierError(f"{where}: pattern does not compile: {e}") from None
        if not compiled.search(kind.example):
            raise IdentifierError(f"{where}: the example does not match the pattern")
        accepted = [p for p in PROBES if compiled.search(p)]
        if accepted:  # cannot happen within the vocabulary; never trust one check alone
            raise IdentifierError(f"{where}: the pattern accepts {len(accepted)} forbidden probe value(s)")
        out[name] = kind
    if not out:
        raise IdentifierError(f"{path.name}: no identifier kinds")
    return out


@cache
def kinds() -> dict[str, IdKind]:
    """The identifier kinds of this installation (``identifiers.toml``), loaded and checked once."""
    return load_kinds()


def id_regex(names: tuple[str, ...] | list[str]) -> str:
    """The anchored regex of a column whose values may be of any of the kinds ``names``."""
    known = kinds()
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise IdentifierError(f"unknown identifier kinds {unknown} (known: {', '.join(known)})")
    return id_regex_of([known[n].pattern for n in names])
