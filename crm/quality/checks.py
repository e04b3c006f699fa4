"""Vectorised validity checks for the bank's identifiers: no Python loop over rows.

Each function takes a sequence of strings (``None``/NaN for null) and returns a boolean numpy array that is
True where the value is a well-formed, check-digit-correct identifier (null is *not* valid; the rules decide
what a null means). Strings are moved into Arrow, filtered to the rows of the right shape with Arrow compute
kernels, and the characters of those rows are read straight from the Arrow data buffer as an ``(n, width)``
``uint8`` matrix, on which the check digits are plain numpy arithmetic.

- :func:`valid_gb11643`: 18-character resident identity number, GB 11643-1999: 17 digits, a real calendar
  birth date in positions 7-14, and the ISO 7064 MOD 11-2 check character (``0-9`` or upper-case ``X``).
  Equivalent to ``stdnum.cn.ric.validate`` without its birth-place lookup (an area-code registry that changes
  every year: a bank cannot reject a customer whose county was merged) and without its clean-up of
  separators and lower case (the extract must carry the number as issued).
- :func:`valid_gb32100`: unified social credit code, GB 32100-2015: 8 digits, then 10 characters of the
  alphabet ``0-9 A-H J-N P-R T U W-Y`` (no I, O, S, V, Z), the last being the MOD 31 check character.
  Equivalent to ``stdnum.cn.uscc.validate`` on upper-case input without separators.
- :func:`valid_luhn`: bank card number: 12 to 19 digits with a correct Luhn (ISO/IEC 7812) check digit.
  On digit strings equivalent to ``stdnum.luhn.validate``.
- :func:`valid_mobile`: mainland mobile number, 11 digits ``1[3-9]xxxxxxxxx``.

Tests compare every function with python-stdnum on valid and corrupted values.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK_CHARS = np.frombuffer(b"10X98765432", dtype=np.uint8)  # index = weighted sum mod 11
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64)
_USCC_VALUE = np.full(256, -1, dtype=np.int64)
_USCC_VALUE[np.frombuffer(USCC_ALPHABET.encode("ascii"), dtype=np.uint8)] = np.arange(len(USCC_ALPHABET))
_USCC_CHARS = np.frombuffer(USCC_ALPHABET.encode("ascii"), dtype=np.uint8)
_LUHN_DOUBLE = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.uint8)
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)

# The rule's pattern (Python ``re``: ``\Z``, as ``$`` would accept a trailing newline) and the same for RE2
# (Arrow), where ``$`` is the end of the text and ``\Z`` does not exist.
MOBILE_REGEX = r"^1[3-9][0-9]{9}\Z"
MOBILE_REGEX_RE2 = r"^1[3-9][0-9]{9}$"
CARD_REGEX = r"^[0-9]{12,19}$"
CARD_WIDTH = 19


def to_arrow_strings(values) -> pa.Array:
    """Any sequence of str/None/NaN (numpy, pandas, list, Arrow) as one contiguous ``large_string`` array."""
    if isinstance(values, pa.ChunkedArray):
        arr = pa.concat_arrays(values.chunks) if values.num_chunks else pa.array([], type=pa.large_string())
    elif isinstance(values, pa.Array):
        arr = values
    else:
        arr = pa.array(np.asarray(values, dtype=object), type=pa.large_string(), from_pandas=True)
    return arr.cast(pa.large_string())


def _matrix(arr: pa.Array, width: int) -> np.ndarray:
    """(len(arr), width) uint8 matrix of an Arrow string array whose values are all ``width`` bytes long."""
    n = len(arr)
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8)
    arr = pa.concat_arrays([arr])  # fresh, contiguous buffers
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.reshape(n, width)


def fixed_width_codes(values, width: int, pattern: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows that are ASCII strings of exactly ``width`` characters (and match the RE2 ``pattern``, if
    given), and the ``(k, width)`` ``uint8`` code-point matrix of those rows."""
    arr = to_arrow_strings(values)
    ok = pc.and_(pc.equal(pc.binary_length(arr), width), pc.string_is_ascii(arr))
    if pattern is not None:
        ok = pc.and_(ok, pc.match_substring_regex(arr, pattern))
    ok = ok.fill_null(False)
    mask = ok.to_numpy(zero_copy_only=False).astype(bool, copy=False)
    return mask, _matrix(arr.filter(ok), width)


def _valid_dates(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """True where (year, month, day) is a date of the proleptic Gregorian calendar, years 1-9999."""
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    dim = _DAYS_IN_MONTH[np.where(month_ok, month, 0)] + ((month == 2) & leap)
    return (year >= 1) & month_ok & (day >= 1) & (day <= dim)


def gb11643_check_char(first17: np.ndarray) -> np.ndarray:
    """(n, 17) digit matrix (0-9) -> check character code points (``0-9`` or ``X``)."""
    return ID_CHECK_CHARS[(first17.astype(np.int64) * ID_WEIGHTS).sum(axis=1) % 11]


def valid_gb11643(values) -> np.ndarray:
    """GB 11643-1999 resident identity number: shape, birth date and MOD 11-2 check character."""
    mask, mat = fixed_width_codes(values, 18, r"^[0-9]{17}[0-9X]$")
    if not len(mat):
        return mask
    digits = mat[:, :17].astype(np.int64) - 48
    pos = np.array([1000, 100, 10, 1], dtype=np.int64)
    year = digits[:, 6:10] @ pos
    month = digits[:, 10:12] @ pos[2:]
    day = digits[:, 12:14] @ pos[2:]
    good = (gb11643_check_char(digits) == mat[:, 17]) & _valid_dates(year, month, day)
    mask[mask] = good
    return mask


def gb11643_birth_dates(values) -> tuple[np.ndarray, np.ndarray]:
    """Rows with a well-shaped 18-character ID and the birth date (``datetime64[D]``, NaT when the digits are
    not a date) encoded in them, for the consistency rules."""
    mask, mat = fixed_width_codes(values, 18, r"^[0-9]{17}[0-9X]$")
    out = np.full(len(mask), np.datetime64("NaT"), dtype="datetime64[D]")
    if len(mat):
        digits = mat[:, :14].astype(np.int64) - 48
        pos = np.array([1000, 100, 10, 1], dtype=np.int64)
        year, month, day = digits[:, 6:10] @ pos, digits[:, 10:12] @ pos[2:], digits[:, 12:14] @ pos[2:]
        ok = _valid_dates(year, month, day)
        y = np.where(ok, year, 1970) - 1970
        days = (
            y.astype("datetime64[Y]").astype("datetime64[M]") + (np.where(ok, month, 1) - 1).astype("timedelta64[M]")
        ).astype("datetime64[D]") + (np.where(ok, day, 1) - 1).astype("timedelta64[D]")
        out[mask] = np.where(ok, days, np.datetime64("NaT"))
    return mask, out


def gb11643_sex_digit_odd(values) -> tuple[np.ndarray, np.ndarray]:
    """Rows with a well-shaped 18-character ID and whether its 17th digit is odd (male)."""
    mask, mat = fixed_width_codes(values, 18, r"^[0-9]{17}[0-9X]$")
    odd = np.zeros(len(mask), dtype=bool)
    odd[mask] = (mat[:, 16].astype(np.int64) - 48) % 2 == 1
    return mask, odd


def gb32100_check_char(first17_codes: np.ndarray) -> np.ndarray:
    """(n, 17) code-point matrix over the USCC alphabet -> check character code points."""
    total = (_USCC_VALUE[first17_codes] * USCC_WEIGHTS).sum(axis=1) % 31
    return _USCC_CHARS[(31 - total) % 31]


def valid_gb32100(values) -> np.ndarray:
    """GB 32100-2015 unified social credit code: shape, alphabet and MOD 31 check character."""
    mask, mat = fixed_width_codes(values, 18, r"^[0-9]{8}[0-9A-HJ-NP-RTUW-Y]{10}$")
    if not len(mat):
        return mask
    mask[mask] = gb32100_check_char(mat[:, :17]) == mat[:, 17]
    return mask


def luhn_ok(digits: np.ndarray) -> np.ndarray:
    """(n, L) digit matrix including the check digit (right-aligned; leading zeros are neutral) -> Luhn ok."""
    d = np.asarray(digits, dtype=np.uint8)
    width = d.shape[1]
    # every second digit from the right (the check digit being the first) is doubled, 9 subtracted above 9
    doubled = _LUHN_DOUBLE[d[:, (width - 2) % 2 :: 2]].sum(axis=1, dtype=np.int32)
    kept = d[:, (width - 1) % 2 :: 2].sum(axis=1, dtype=np.int32)
    return (doubled + kept) % 10 == 0


def valid_luhn(values, min_length: int = 12, max_length: int = CARD_WIDTH) -> np.ndarray:
    """Card number: ``min_length``-``max_length`` digits with a correct Luhn check digit."""
    arr = to_arrow_strings(values)
    ok = pc.match_substring_regex(arr, f"^[0-9]{{{min_length},{max_length}}}$").fill_null(False)
    mask = ok.to_numpy(zero_copy_only=False).astype(bool, copy=False)
    padded = pc.utf8_lpad(arr.filter(ok), max_length, "0")
    mat = _matrix(padded, max_length)
    if len(mat):
        mask[mask] = luhn_ok(mat - 48)
    return mask


def valid_mobile(values) -> np.ndarray:
    """Mainland mobile number ``1[3-9]`` + 9 digits (the rule runs the same pattern as a Python regex)."""
    arr = to_arrow_strings(values)
    return pc.match_substring_regex(arr, MOBILE_REGEX_RE2).fill_null(False).to_numpy(zero_copy_only=False)
