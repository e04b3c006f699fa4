"""Control and format characters in text: the character class the ``text`` rule family looks for, and the
clean-up of free text that the contract's ``strip`` policy asks for.

The class is every code point of the Unicode general categories Cc (C0 and C1 controls: NUL, ESC, tab, line
feed, carriage return, NEL ...) and Cf (format characters: the bidirectional embeddings and overrides
U+202A-U+202E, isolates U+2066-U+2069, marks U+200E/U+200F and U+061C, zero-width U+200B-U+200D, word joiner
U+2060, byte-order mark U+FEFF, soft hyphen U+00AD, tags, interlinear annotation, ...) plus the line and
paragraph separators U+2028 and U+2029. It is written out in :mod:`crm.text` as fixed code-point ranges, not computed
from :mod:`unicodedata`, so the rules (and their suite version) do not change with the Python version; a
test proves it covers every Cc and Cf code point of the running Python, and matches nothing else that is
assigned. (The range U+13430-U+1343F covers Unicode 15's additions to Cf, unassigned in Unicode 14.)

Policies (``Column.text`` in the contract):

- ``reject``: a value containing one of these characters fails the critical rule
  ``<extract>.<column>.control_chars`` and the row is quarantined;
- ``strip`` (free text): the warning rule of the same id counts the rows; the row is accepted and, before the
  privacy scrub, :func:`crm.text.strip_controls` replaces every run of line breaks and tabs
  (:data:`crm.text.BREAK_RANGES`) by one space and removes every other character of the class. Staging
  records how many characters it took out (replaced or removed), per extract, partition and column.

Two spellings of the same class: :data:`CONTROL_CLASS` for Python's ``re`` (the rule; pandas and Great
Expectations evaluate it with ``str.contains``) and :data:`crm.text.CONTROL_CLASS_RE2` for RE2 (Arrow, used
by the vectorised clean-up, :func:`crm.text.strip_controls`); a test checks they agree on every code point.
"""

from __future__ import annotations

import numpy as np

# the one definition of the class (Cc, Cf, U+2028, U+2029)
from crm.text import CONTROL_RANGES


def _py(cp: int) -> str:
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def _class(ranges: tuple[tuple[int, int], ...], esc) -> str:
    return "[" + "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in ranges) + "]"


#: The class for Python's ``re``, as ASCII escapes (no raw control character in a rule definition).
CONTROL_CLASS = _class(CONTROL_RANGES, _py)  # the same text as crm.text.CONTROL_CLASS


def control_code_points() -> np.ndarray:
    """Every code point of the class, sorted."""
    return np.concatenate([np.arange(a, b + 1) for a, b in CONTROL_RANGES])
