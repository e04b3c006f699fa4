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
  privacy scrub, :func:`strip_controls` replaces every run of line breaks and tabs (:data:`BREAK_RANGES`) by
  one space and removes every other character of the class. Staging records how many characters it took
  out (replaced or removed), per extract, partition and column.

Two spellings of the same class: :data:`CONTROL_CLASS` for Python's ``re`` (the rule; pandas and Great
Expectations evaluate it with ``str.contains``) and :data:`CONTROL_CLASS_RE2` for RE2 (Arrow, used by the
vectorised clean-up); a test checks they agree on every code point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# the one definition of the class (Cc, Cf, U+2028, U+2029), its RE2 spelling and the line breaks
from crm.text import BREAK_RUN_RE2, CONTROL_CLASS_RE2, CONTROL_RANGES


def _py(cp: int) -> str:
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def _class(ranges: tuple[tuple[int, int], ...], esc) -> str:
    return "[" + "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in ranges) + "]"


#: The class for Python's ``re``, as ASCII escapes (no raw control character in a rule definition).
CONTROL_CLASS = _class(CONTROL_RANGES, _py)  # the same text as crm.text.CONTROL_CLASS


def control_code_points() -> np.ndarray:
    """Every code point of the class, sorted."""
    return np.concatenate([np.arange(a, b + 1) for a, b in CONTROL_RANGES])


def strip_controls(values) -> tuple[np.ndarray, np.ndarray]:
    """Free text without control and format characters: each run of line breaks and tabs becomes one space,
    every other character of the class is removed. Returns the cleaned values (object array, None for null;
    values without such characters are returned unchanged) and, per value, how many characters of the class
    it had. Vectorised in Arrow (RE2)."""
    arr = pa.array(np.asarray(values, dtype=object), type=pa.large_string(), from_pandas=True)
    out = np.asarray(values, dtype=object).copy()
    counts = pc.count_substring_regex(arr, CONTROL_CLASS_RE2).fill_null(0).to_numpy(zero_copy_only=False)
    hit = counts > 0
    if hit.any():
        dirty = arr.filter(pa.array(hit))
        clean = pc.replace_substring_regex(pc.replace_substring_regex(dirty, BREAK_RUN_RE2, " "),
                                           CONTROL_CLASS_RE2, "")
        out[hit] = np.asarray(clean.to_pylist(), dtype=object)
    return out, counts.astype(np.int64)


def strip_frame(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, dict[str, tuple[int, int]]]:
    """``frame`` with :func:`strip_controls` applied to ``columns``, and per column (rows changed, characters
    taken out). The input frame is not modified; a frame without such characters is returned as it is."""
    stats: dict[str, tuple[int, int]] = {}
    cleaned: dict[str, np.ndarray] = {}
    for col in columns:  # the free-text columns of one extract (one to three)
        values, counts = strip_controls(frame[col].to_numpy(dtype=object))
        stats[col] = (int((counts > 0).sum()), int(counts.sum()))
        if stats[col][0]:
            cleaned[col] = values
    if not cleaned:
        return frame, stats
    out = frame.copy()
    for col, values in cleaned.items():
        out[col] = pd.Series(values, index=frame.index, dtype=object)
    return out, stats
