"""Control and format characters: the one definition of the characters no reader should ever be shown.

:data:`CONTROL_CLASS` is a regular-expression character class of every code point of Unicode general category
Cc (C0 and C1 controls, DEL) and Cf (format characters: soft hyphen, bidirectional embeddings, overrides,
isolates and marks, zero-width space, joiners, word joiner, byte-order mark, invisible operators, tag
characters ...), as of Unicode 15.1, plus the line and paragraph separators U+2028 and U+2029 (categories
Zl and Zp, which end a line in JavaScript and in some spreadsheets). It is written out here, not computed
from :mod:`unicodedata`, so the data-quality suites that use it keep their version when Python's Unicode
database changes; a test checks it still covers every Cc and Cf code point of the running Python.

Such a character in a stored value can make a report display text in another order than the one stored
(U+202E), hide part of a name (U+200B), break a line in a CSV file, a log line or an e-mail header. The
data-quality rules quarantine them in identifiers and names and count them in free text
(:mod:`crm.quality.rules`); free text loses them before the privacy scrub (:func:`strip_controls`,
:func:`strip_frame`, vectorised in Arrow with the RE2 spelling :data:`CONTROL_CLASS_RE2`); reports remove
them once more from everything they show (:func:`clean`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# (first, last) code points, inclusive. Cc, Cf and U+2028/U+2029.
CONTROL_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F),  # C0 controls (NUL ... US, with tab, line feed, carriage return)
    (0x007F, 0x009F),  # DEL and the C1 controls (with NEL U+0085)
    (0x00AD, 0x00AD),  # soft hyphen
    (0x0600, 0x0605),  # Arabic number signs
    (0x061C, 0x061C),  # Arabic letter mark (bidi)
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x200B, 0x200F),  # zero-width space, non-joiner, joiner; left-to-right and right-to-left marks
    (0x2028, 0x202E),  # line and paragraph separators; bidi embeddings and overrides (U+202A-U+202E)
    (0x2060, 0x2064),  # word joiner, invisible operators
    (0x2066, 0x206F),  # bidi isolates (U+2066-U+2069) and deprecated format characters
    (0xFEFF, 0xFEFF),  # zero-width no-break space (byte-order mark)
    (0xFFF9, 0xFFFB),  # interlinear annotation
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls (U+13439-U+1343F from Unicode 15)
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0001, 0xE0001),  # language tag
    (0xE0020, 0xE007F),  # tag characters
)


def _escape(cp: int) -> str:
    return f"\\x{cp:02x}" if cp <= 0xFF else f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


CONTROL_CLASS = "[" + "".join(_escape(a) if a == b else f"{_escape(a)}-{_escape(b)}" for a, b in CONTROL_RANGES) + "]"

# Replaced by a space (a run of them by one space) in free text: tab, line feed, vertical tab, form feed,
# carriage return, NEL, line separator, paragraph separator.
BREAK_RANGES: tuple[tuple[int, int], ...] = ((0x0009, 0x000D), (0x0085, 0x0085), (0x2028, 0x2029))


def _re2_class(ranges: tuple[tuple[int, int], ...]) -> str:
    esc = "\\x{{{:X}}}".format
    return "[" + "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in ranges) + "]"


#: The same class for RE2 (Arrow compute, DuckDB), and a run of line breaks and tabs.
CONTROL_CLASS_RE2 = _re2_class(CONTROL_RANGES)
BREAK_RUN_RE2 = _re2_class(BREAK_RANGES) + "+"
CONTROL_RE = re.compile(CONTROL_CLASS)
_BREAKS = re.compile("[\t\n\r]")


def has_control(text: str) -> bool:
    return CONTROL_RE.search(text) is not None


def clean(text: str, *, keep_breaks: bool = False) -> str:
    """``text`` without control and format characters: tab, line feed and carriage return become a space
    (kept as they are with ``keep_breaks``, for markup whose layout they are), every other character of
    :data:`CONTROL_CLASS` is removed."""
    if not keep_breaks:
        text = _BREAKS.sub(" ", text)
        return CONTROL_RE.sub("", text)
    return CONTROL_RE.sub(lambda m: m.group(0) if m.group(0) in "\t\n\r" else "", text)


def count(text: str) -> int:
    """How many characters :func:`clean` removes or replaces in ``text``."""
    return len(CONTROL_RE.findall(text))


def strip_controls(values) -> tuple[np.ndarray, np.ndarray]:
    """Free text without control and format characters: each run of line breaks and tabs becomes one space,
    every other character of the class is removed. Returns the cleaned values (object array, None for null;
    values without such characters are returned unchanged) and, per value, how many characters of the class
    it had. Vectorised in Arrow (RE2)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(np.asarray(values, dtype=object), type=pa.large_string(), from_pandas=True)
    out = np.asarray(values, dtype=object).copy()
    counts = pc.count_substring_regex(arr, CONTROL_CLASS_RE2).fill_null(0).to_numpy(zero_copy_only=False)
    hit = counts > 0
    if hit.any():
        dirty = arr.filter(pa.array(hit))
        clean = pc.replace_substring_regex(pc.replace_substring_regex(dirty, BREAK_RUN_RE2, " "), CONTROL_CLASS_RE2, "")
        out[hit] = np.asarray(clean.to_pylist(), dtype=object)
    return out, counts.astype(np.int64)


def strip_frame(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, dict[str, tuple[int, int]]]:
    """``frame`` with :func:`strip_controls` applied to ``columns``, and per column (rows changed, characters
    taken out). The input frame is not modified; a frame without such characters is returned as it is."""
    import pandas as pd

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
