"""The vectorised check-digit and format functions agree with python-stdnum on valid and corrupted values."""

import random

import numpy as np
import pandas as pd
import pytest
from stdnum import luhn
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from crm.quality import checks

N = 6000


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _ric_reference(v: str) -> bool:
    """stdnum.cn.ric.validate without its birth-place registry lookup and without its clean-up."""
    if v is None or len(v) != 18 or not v.isascii() or v != ric.compact(v):
        return False
    try:
        if not v[:17].isdigit() or v[-1] != ric.calc_check_digit(v):
            return False
        ric.get_birth_date(v)
    except ValidationError:
        return False
    return True


def _ric_stdnum_full(v: str) -> bool:
    try:
        return ric.is_valid(v)
    except KeyError:  # stdnum's area-code registry has entries without a county
        return False


def ric_values(seed: int = 11643) -> list:
    rng = random.Random(seed)
    out = []
    for _ in range(N):
        body = _digits(rng, 6) + f"{rng.randint(1900, 2012)}{rng.randint(0, 13):02d}{rng.randint(0, 32):02d}"
        body += _digits(rng, 3)
        v = body + ric.calc_check_digit(body + "0")
        u = rng.random()
        if u < 0.25:  # corrupted check character
            v = v[:-1] + rng.choice([c for c in "0123456789X" if c != v[-1]])
        elif u < 0.30:  # a transposition of two digits
            i = rng.randrange(16)
            v = v[:i] + v[i + 1] + v[i] + v[i + 2 :]
        elif u < 0.32:
            v = v[:17]
        elif u < 0.34:
            v = v[:4] + "a" + v[5:]
        elif u < 0.35:
            v = "张" + v[1:]
        elif u < 0.36:
            v = v[:-1] + "x"  # lower case is not the issued form
        out.append(v)
    return out + [None, "", "X" * 18, "11010519491231002X", "110105194912310021"]


def test_gb11643_matches_stdnum():
    values = ric_values()
    mine = checks.valid_gb11643(values)
    expected = np.array([_ric_reference(v) for v in values])
    assert (mine == expected).all()
    assert 0.3 * len(values) < mine.sum() < 0.8 * len(values)  # both valid and invalid were tested
    # whatever stdnum accepts in full (with the birth place) we accept too
    full = np.array([v is not None and _ric_stdnum_full(v) for v in values])
    assert full.sum() > 0 and not (full & ~mine).any()
    assert checks.valid_gb11643(["11010519491231002X"]).tolist() == [True]


def test_gb32100_matches_stdnum():
    rng = random.Random(32100)
    alphabet = checks.USCC_ALPHABET
    values = []
    for _ in range(N):
        body = rng.choice("915") + rng.choice("123") + _digits(rng, 6)
        body += "".join(rng.choice(alphabet) for _ in range(9))
        v = body + uscc.calc_check_digit(body)
        u = rng.random()
        if u < 0.25:
            v = v[:-1] + rng.choice([c for c in alphabet if c != v[-1]])
        elif u < 0.30:
            v = v[:10] + rng.choice("IOSVZ") + v[11:]
        elif u < 0.32:
            v = v[:3] + "A" + v[4:]
        elif u < 0.34:
            v = v.lower()
        values.append(v)
    values += [None, "91110000600037341L", "91110000600037341"]
    mine = checks.valid_gb32100(values)
    expected = np.array([v is not None and v == v.upper() and uscc.is_valid(v) for v in values])
    assert (mine == expected).all()
    assert 0.3 * len(values) < mine.sum() < 0.8 * len(values)


def test_luhn_matches_stdnum():
    rng = random.Random(7812)
    values = []
    for _ in range(N):
        length = rng.choice([12, 15, 16, 17, 18, 19, 11, 20])
        body = rng.choice(["62", "4", "5"]) + _digits(rng, length - 3)
        v = body + luhn.calc_check_digit(body)
        u = rng.random()
        if u < 0.25:
            i = rng.randrange(len(v))
            v = v[:i] + rng.choice([c for c in "0123456789" if c != v[i]]) + v[i + 1 :]
        elif u < 0.30:
            v = v[:5] + " " + v[6:]
        values.append(v)
    values += [None, "", "6228480402564890018"]
    mine = checks.valid_luhn(values)
    expected = np.array(
        [v is not None and v.isdigit() and v.isascii() and 12 <= len(v) <= 19 and luhn.is_valid(v) for v in values]
    )
    assert (mine == expected).all()
    assert 0.3 * len(values) < mine.sum() < 0.8 * len(values)


@pytest.mark.parametrize(
    "value, ok",
    [
        ("13800138000", True),
        ("19912345678", True),
        ("12800138000", False),
        ("1380013800", False),
        ("138001380001", False),
        ("+8613800138000", False),
        ("1380013800a", False),
        (None, False),
    ],
)
def test_mobile(value, ok):
    assert checks.valid_mobile([value]).tolist() == [ok]


def test_inputs_of_every_shape():
    v = ["11010519491231002X", None, "110105194912310021"]
    for values in (v, np.array(v, dtype=object), pd.Series(v), pd.Series(v, dtype="string")):
        assert checks.valid_gb11643(values).tolist() == [True, False, False]
    assert checks.valid_gb11643([]).tolist() == []
    assert checks.valid_luhn([None, None]).tolist() == [False, False]


def test_birth_date_and_sex_digit():
    shaped, born = checks.gb11643_birth_dates(["11010519491231002X", "11010519490231002X", None])
    assert shaped.tolist() == [True, True, False]
    assert str(born[0]) == "1949-12-31" and np.isnat(born[1]) and np.isnat(born[2])
    shaped, odd = checks.gb11643_sex_digit_odd(["11010519491231002X", "110105194912310013"])
    assert shaped.all() and odd.tolist() == [False, True]
