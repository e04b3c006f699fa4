"""Identifiers with valid check digits, computed vectorised on digit matrices.

- GB 11643-1999 resident identity number: 6-digit area code, YYYYMMDD birth date, 3-digit sequence (odd last
  digit = male), ISO 7064 MOD 11-2 check character (``X`` for 10).
- GB 32100-2015 unified social credit code: registration authority, entity type, 6-digit area code, 9-character
  organisation code (GB 11714 check character) and a MOD 31 check character over the alphabet without
  I, O, S, V, Z.
- Bank card numbers: UnionPay ``62`` BINs, 16 or 19 digits, Luhn check digit.
- Mainland mobile numbers: ``1[3-9]x`` network prefix + 8 digits.

Tests check every function against python-stdnum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = np.array(list("10X98765432"))  # index = weighted sum mod 11
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64)
ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
# UnionPay debit/credit BINs of the kind Chinese banks issue (62xxxx); the first is "our" bank's.
OWN_BINS = ("621799", "622588", "623058")
OTHER_BINS = (
    "622848",
    "621700",
    "622202",
    "621483",
    "622609",
    "623668",
    "621226",
    "622700",
    "625906",
    "622260",
)


def digits_to_str(mat: np.ndarray) -> np.ndarray:
    """(n, L) matrix of ASCII code points -> object array of str."""
    mat = np.ascontiguousarray(mat.astype(np.uint8))
    n, length = mat.shape
    if n == 0:
        return np.empty(0, dtype=object)
    return mat.view(f"S{length}").ravel().astype(f"U{length}").astype(object)


def int_digits(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative ints -> (n, width) matrix of decimal digits (most significant first)."""
    v = np.asarray(values, dtype=np.int64)
    pows = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (v[:, None] // pows[None, :]) % 10


def id_check_char(first17: np.ndarray) -> np.ndarray:
    """(n, 17) digit matrix -> check character code points (uint8)."""
    s = (first17.astype(np.int64) * ID_WEIGHTS).sum(axis=1) % 11
    return ID_CHECK[s].astype("S1").view(np.uint8)


def id_numbers(area: np.ndarray, birth_days: np.ndarray, male: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """18-digit ID numbers. ``area``: 6-digit ints; ``birth_days``: datetime64[D]; ``seq``: 0..499."""
    bd = np.asarray(birth_days, dtype="datetime64[D]")
    y = bd.astype("datetime64[Y]").astype(np.int64) + 1970
    m = bd.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (bd - bd.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    birth = y * 10000 + m * 100 + d
    order = np.asarray(seq, dtype=np.int64) % 500 * 2 + np.where(male, 1, 0)  # 0..999, odd = male
    first = np.concatenate([int_digits(area, 6), int_digits(birth, 8), int_digits(order, 3)], axis=1)
    codes = np.concatenate([first + 48, id_check_char(first)[:, None]], axis=1)
    return digits_to_str(codes)


def _uscc_values(codes: np.ndarray) -> np.ndarray:
    lut = np.full(256, -1, dtype=np.int64)
    for i, ch in enumerate(USCC_ALPHABET):
        lut[ord(ch)] = i
    return lut[codes]


def uscc_check_char(first17_codes: np.ndarray) -> np.ndarray:
    vals = _uscc_values(first17_codes)
    s = (vals * USCC_WEIGHTS).sum(axis=1) % 31
    alpha = np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)
    return alpha[(31 - s) % 31]


def org_check_char(body8_codes: np.ndarray) -> np.ndarray:
    """GB 11714 check character for an 8-character organisation code body (digits/letters)."""
    c = body8_codes.astype(np.int64)
    vals = np.where(c >= 65, c - 55, c - 48)
    r = 11 - (vals * ORG_WEIGHTS).sum(axis=1) % 11
    return np.where(r == 10, ord("X"), np.where(r == 11, ord("0"), r + 48)).astype(np.uint8)


def usccs(area: np.ndarray, org_body: np.ndarray, entity_type: np.ndarray | None = None) -> np.ndarray:
    """Unified social credit codes: '9' (market regulator) + entity type ('1' company, '2' individual
    business, '3' farmers' cooperative) + area + organisation code (8 digits + GB 11714 check) + check."""
    n = len(area)
    et = np.full(n, ord("1"), dtype=np.uint8) if entity_type is None else np.asarray(entity_type, np.uint8)
    body = (int_digits(org_body, 8) + 48).astype(np.uint8)
    first = np.concatenate(
        [
            np.full((n, 1), ord("9"), np.uint8),
            et[:, None],
            (int_digits(area, 6) + 48).astype(np.uint8),
            body,
            org_check_char(body)[:, None],
        ],
        axis=1,
    )
    return digits_to_str(np.concatenate([first, uscc_check_char(first)[:, None]], axis=1))


def luhn_check_digit(body: np.ndarray) -> np.ndarray:
    """(n, L) digit matrix (without check digit) -> Luhn check digit."""
    L = body.shape[1]
    # positions from the right, the check digit being position 1: body's last digit is position 2 (doubled)
    double = ((L - np.arange(L)) % 2) == 1
    d = body.astype(np.int64).copy()
    dd = d[:, double] * 2
    d[:, double] = np.where(dd > 9, dd - 9, dd)
    return (10 - d.sum(axis=1) % 10) % 10


def card_numbers(u_bin: np.ndarray, body: np.ndarray, length: int, bins=OWN_BINS) -> np.ndarray:
    """Card numbers of ``length`` digits: BIN picked by ``u_bin`` in [0,1), ``body`` an int of the middle."""
    bins_arr = np.array([[int(c) for c in b] for b in bins], dtype=np.int64)
    pick = np.minimum((np.asarray(u_bin) * len(bins)).astype(np.int64), len(bins) - 1)
    middle = int_digits(np.asarray(body, dtype=np.int64) % 10 ** (length - 7), length - 7)
    digits = np.concatenate([bins_arr[pick], middle], axis=1)
    check = luhn_check_digit(digits)
    return digits_to_str(np.concatenate([digits, check[:, None]], axis=1) + 48)


MOBILE_PREFIXES = np.array(
    [
        134,
        135,
        136,
        137,
        138,
        139,
        147,
        150,
        151,
        152,
        157,
        158,
        159,
        182,
        187,
        188,
        130,
        131,
        132,
        155,
        156,
        185,
        186,
        133,
        153,
        180,
        181,
        189,
        173,
        177,
        199,
        166,
        175,
        176,
        178,
        183,
        191,
        198,
        193,
        195,
    ],
    dtype=np.int64,
)


def mobiles(u_prefix: np.ndarray, number: np.ndarray) -> np.ndarray:
    """11-digit mainland mobile numbers."""
    pick = np.minimum((np.asarray(u_prefix) * len(MOBILE_PREFIXES)).astype(np.int64), len(MOBILE_PREFIXES) - 1)
    value = MOBILE_PREFIXES[pick] * 10**8 + np.asarray(number, dtype=np.int64) % 10**8
    return digits_to_str(int_digits(value, 11) + 48)


def zero_pad(prefix: str, values: np.ndarray, width: int) -> np.ndarray:
    """``prefix`` + zero-padded decimal ints, as an object array of str (vectorised)."""
    v = np.asarray(values, dtype=np.int64)
    if len(v) == 0:
        return np.empty(0, dtype=object)
    pre = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    mat = np.concatenate([np.broadcast_to(pre, (len(v), len(pre))), int_digits(v, width) + 48], axis=1)
    return digits_to_str(mat)


def corrupt_check_char(values: np.ndarray, semantic: str, u: np.ndarray) -> np.ndarray:
    """Replace the check character of each value by a different, wrong one (for defect injection)."""
    alphabet = {"id_number": "0123456789X", "uscc": USCC_ALPHABET}.get(semantic, "0123456789")
    s = pd.Series(np.asarray(values, dtype=object))
    last = s.str[-1]
    pos = last.map({c: i for i, c in enumerate(alphabet)}).fillna(0).to_numpy(dtype=np.int64)
    shift = 1 + np.floor(np.asarray(u) * (len(alphabet) - 1)).astype(np.int64)
    repl = np.array(list(alphabet), dtype=object)[(pos + shift) % len(alphabet)]
    return (s.str[:-1] + repl).to_numpy(dtype=object)
