"""Display masks and generalisation, vectorised with Arrow compute kernels (no loop over rows).

Display masks, for what managers see:

- ``name``: the first character (the surname) and one ``*`` per further character: ``张三丰`` -> ``张**``;
- ``id_number``: first 3 and last 4 characters: ``110***********123X``;
- ``card``: first 6 and last 4 digits: ``621700******1234``;
- ``mobile``: first 3 and last 4 digits: ``138****5678``;
- ``email``: the first character of the local part, ``***``, and the domain: ``z***@bank.cn``.

A value too short to keep both ends is masked whole. Nulls stay null.

Generalisation: ``age_band`` turns a birth date into a ten-year band at the business date (``30-39``,
``<20``, ``70+``); ``city`` replaces an address with the row's city column.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MASKS = ("name", "id_number", "card", "mobile", "email")
KEEP_ENDS = {"id_number": (3, 4), "card": (6, 4), "mobile": (3, 4)}


def _arr(values) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values.cast(pa.string())
    return pa.array(np.asarray(values, dtype=object), type=pa.string(), from_pandas=True)


def _stars(n) -> pa.Array:
    return pc.binary_repeat(pa.scalar("*"), pc.max_element_wise(n, pa.scalar(0)))


def keep_ends(values, head: int, tail: int) -> pa.Array:
    """First ``head`` and last ``tail`` characters, ``*`` between; too short: all ``*``."""
    arr = _arr(values)
    n = pc.utf8_length(arr)
    masked = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(arr, 0, head),
        _stars(pc.subtract(n, head + tail)),
        pc.utf8_slice_codeunits(arr, -tail) if tail else pa.scalar(""),
        "",
    )
    short = pc.less_equal(n, head + tail)
    return pc.if_else(short, _stars(n), masked)


def mask_name(values) -> pa.Array:
    arr = _arr(values)
    stars = _stars(pc.max_element_wise(pc.subtract(pc.utf8_length(arr), 1), pa.scalar(1)))
    return pc.binary_join_element_wise(pc.utf8_slice_codeunits(arr, 0, 1), stars, "")


def mask_email(values) -> pa.Array:
    arr = _arr(values)
    well_formed = pc.match_substring_regex(arr, r"^[^@]+@[^@]+$")
    masked = pc.replace_substring_regex(arr, r"^(.)[^@]*@", r"\1***@")
    return pc.if_else(well_formed, masked, _stars(pc.utf8_length(arr)))


def mask(values, kind: str) -> pd.Series:
    """Display mask of ``kind`` (one of :data:`MASKS`) over a sequence of strings; index kept for Series."""
    if kind == "name":
        out = mask_name(values)
    elif kind == "email":
        out = mask_email(values)
    elif kind in KEEP_ENDS:
        out = keep_ends(values, *KEEP_ENDS[kind])
    else:
        raise ValueError(f"unknown mask {kind!r}; known: {', '.join(MASKS)}")
    index = values.index if isinstance(values, pd.Series) else None
    return pd.Series(pd.arrays.ArrowExtensionArray(out.cast(pa.string())), index=index)


def age_band(birth_dates, business_date: dt.date) -> pd.Series:
    """Ten-year age band at the business date: ``<20``, ``20-29`` ... ``60-69``, ``70+``; null stays null."""
    born = pd.to_datetime(pd.Series(birth_dates), errors="coerce")
    bd = pd.Timestamp(business_date)
    years = (
        bd.year - born.dt.year - ((born.dt.month > bd.month) | ((born.dt.month == bd.month) & (born.dt.day > bd.day)))
    )
    decade = (years // 10 * 10).fillna(-1).astype("int64")
    label = decade.astype(str) + "-" + (decade + 9).astype(str)
    out = pd.Series(np.select([decade < 20, decade >= 70], ["<20", "70+"], label), index=born.index, dtype=object)
    out = out.where(born.notna(), None)
    if isinstance(birth_dates, pd.Series):
        out.index = birth_dates.index
    return out
