"""How the scorecard reads its input: the target as 0/1 (1 = bad) and each characteristic as categories or
numbers, refusing (with :class:`~crm.scoring.scorecard_conventions.ScorecardInputError`, never echoing a
value) what cannot be used."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm.scoring.scorecard_conventions import ScorecardInputError


def binary_target(values: pd.Series, name: str = "target") -> np.ndarray:
    """The target as 0/1 int8 (1 = bad). Accepts bool, numbers 0/1, the texts "0"/"1", or exactly the labels
    "good"/"bad" (any case; bad = 1). Anything else, or a missing value, is refused naming the problem."""
    s = pd.Series(values)
    n_missing = int(s.isna().sum())
    if n_missing:
        raise ScorecardInputError(f"target column {name!r} has {n_missing} missing values")
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=np.int8)
    if pd.api.types.is_numeric_dtype(s):
        seen = set(np.unique(s.to_numpy()).tolist())
        if seen <= {0, 1}:
            return s.to_numpy().astype(np.int8)
        raise ScorecardInputError(f"target column {name!r} is not binary 0/1: it holds {len(seen)} distinct values")
    text = s.astype(str).str.strip().str.lower()
    seen = set(text.unique().tolist())
    if seen <= {"0", "1"}:
        return (text == "1").to_numpy(dtype=np.int8)
    if seen <= {"good", "bad"}:
        return (text == "bad").to_numpy(dtype=np.int8)
    # the values themselves are not echoed: a wrong column may hold personal data
    raise ScorecardInputError(
        f"target column {name!r} is not binary: expected 0/1 or good/bad, found {len(seen)} distinct values"
    )


def as_categories(s: pd.Series) -> np.ndarray:
    """A categorical column as an object array of strings (NaN for missing). Integral numbers print without
    a decimal point, so a code read as 3 in one file and 3.0 in another (because of a gap) is one category."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = s.to_numpy(dtype=float, na_value=np.nan)
        finite = v[~np.isnan(v)]
        if len(finite) and np.all(finite == np.round(finite)):
            s = s.astype("Int64")
    out = s.astype("string").to_numpy(dtype=object, na_value=np.nan)
    return out


def as_numbers(s: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=float, na_value=np.nan)
    num = pd.to_numeric(s, errors="coerce")
    bad = int((num.isna() & s.notna()).sum())
    if bad:
        raise ScorecardInputError(f"column {name!r} is numeric in the scorecard but {bad} values are not numbers")
    return num.to_numpy(dtype=float, na_value=np.nan)
