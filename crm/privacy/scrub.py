"""Free-text scrubbing: identity numbers, bank card numbers, mobile numbers, e-mail addresses and the
customer's (and its contacts') names are replaced by labels before text leaves the raw zone.

Chinese text has no spaces, so no pattern relies on word boundaries (``\\b`` is no help: for Python's
Unicode ``\\w`` there is no boundary between ``电话`` and ``138...``, for RE2's ASCII one there is, so the
two engines would not even agree).
Instead a number is matched only as a *whole digit run*: each numeric pattern is ``(^|[^D])(number)([^D]|$)``
(``D``: ASCII and full-width digits), so a 19-digit card is never cut into an 11-digit "phone", and patterns
are applied longest / most specific first (e-mail, ID, card, grouped card, mobile). RE2 (DuckDB, Arrow) has no
look-around, so the neighbour characters are captured and put back; a neighbour consumed by one match cannot
start the next one (``13812345678,13912345678``), so every numeric pattern is applied twice. The labels hold
no digit, so a second pass, or :func:`redact` on scrubbed text, changes nothing.

Deliberate choices:

* every run of 12 to 19 digits is a ``[卡号]`` (no Luhn check: account, card and other long reference numbers
  in free text are treated alike, erring on the side of removal); 18-character runs shaped as an ID number
  (area code, birth date 18xx-20xx, sequence, digit or X) are ``[身份证号]`` first;
* runs of 20 digits or more are left alone (a number matched whole is neither an ID, a card nor a phone);
* a mobile is ``1[3-9]`` + 9 digits, optionally grouped ``3-4-4`` by one space or hyphen; a grouped card is
  4-digit groups (3 to 4 of them plus an optional 1-3 digit tail) starting with 3-6 or 9 (years, which start
  with 1 or 2, are not cards);
* names are replaced literally, longest first per row; names shorter than 2 characters are ignored.

:func:`scrub_text` is vectorised in DuckDB (RE2 ``regexp_replace`` over the column, ``replace`` with a names
column per "k-th name of each row"); :func:`redact` applies the very same patterns to one string with
Python's :mod:`re` (for log records and exception messages).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crm.text import BREAK_RUN_RE2, CONTROL_CLASS_RE2

LABELS = {
    "email": "[邮箱]",
    "id_number": "[身份证号]",
    "card": "[卡号]",
    "card_grouped": "[卡号]",
    "mobile": "[手机号]",
}
NAME_LABEL = "[姓名]"
MIN_NAME_LENGTH = 2

_FULL = str.maketrans("0123456789", "０１２３４５６７８９")


def _d(ascii_set: str = "0-9") -> str:
    """A character class of the ASCII digits ``ascii_set`` and their full-width forms."""
    return f"[{ascii_set}{ascii_set.translate(_FULL)}]"


_D = _d()
_NOT_D = f"[^{'0-9'}{'0-9'.translate(_FULL)}]"
_SEP = "[ -]"


def _whole(number: str) -> str:
    """``number`` as a whole digit run: group 1 and 3 are the neighbours (a non-digit or the text's end)."""
    return f"(^|{_NOT_D})({number})({_NOT_D}|$)"


_ID = (
    _d("1-9")
    + _D
    + "{5}"
    + f"(?:{_d('1')}{_d('89')}|{_d('2')}{_d('0')})"
    + _D
    + "{2}"  # birth year 18xx, 19xx, 20xx
    + f"(?:{_d('0')}{_d('1-9')}|{_d('1')}{_d('0-2')})"  # month
    + f"(?:{_d('0')}{_d('1-9')}|{_d('12')}{_D}|{_d('3')}{_d('01')})"  # day
    + _D
    + "{3}"
    + "[0-9０-９XxＸｘ]"
)

#: name -> regex (RE2- and Python-compatible), applied in this order. Numeric patterns capture their
#: neighbours as groups 1 and 3 (see the module docstring); the number itself is group 2.
PATTERNS: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+\-]+[@＠][A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    "id_number": _whole(_ID),
    "card": _whole(_D + "{12,19}"),
    "card_grouped": _whole(_d("3-69") + _D + "{3}" + f"(?:{_SEP}{_D}{{4}}){{2,3}}" + f"(?:{_SEP}{_D}{{1,3}})?"),
    "mobile": _whole(_d("1") + _d("3-9") + _D + f"{_SEP}?{_D}{{4}}{_SEP}?{_D}{{4}}"),
}
_NUMERIC = {"id_number", "card", "card_grouped", "mobile"}


def _steps() -> list[tuple[str, str]]:
    """(pattern, replacement with ``\\1``-style group references) in application order; numeric ones twice."""
    out = []
    for name, pattern in PATTERNS.items():
        if name in _NUMERIC:
            out += [(pattern, rf"\1{LABELS[name]}\3")] * 2
        else:
            out.append((pattern, LABELS[name]))
    return out


_COMPILED = [(re.compile(p), r) for p, r in _steps()]


def redact(text: str) -> str:
    """``text`` with ID, card, mobile numbers and e-mail addresses replaced (no names: one string has no row
    to take them from). For log messages and exception texts; ``None`` stays ``None``."""
    if text is None:
        return text
    text = text if isinstance(text, str) else str(text)
    for rx, repl in _COMPILED:
        text = rx.sub(repl, text)
    return text


# --------------------------------------------------------------------------------------------- columns


def _as_arrow_strings(values: np.ndarray) -> pa.Array:
    try:
        return pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # non-str objects: their str()
        s = pd.Series(values, dtype=object)
        return pa.array(s.where(s.isna(), s.astype(str)).to_numpy(), type=pa.large_string(), from_pandas=True)


def _rank_names(key: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """(key, k, name) of the distinct, stripped names of at least 2 characters of each ``key`` (an int code
    >= 0), sorted by key, ``k`` numbering each key's names longest first (ties: first seen first). Sorting,
    no loop over rows; the names stay an Arrow array. A name loses its control and format characters as free
    text does before it is scrubbed (:func:`crm.text.strip_controls`), so ``张\u200b三丰`` in the
    customer file still finds ``张三丰`` in a comment."""
    arr = pc.replace_substring_regex(
        pc.replace_substring_regex(_as_arrow_strings(raw), BREAK_RUN_RE2, " "), CONTROL_CLASS_RE2, ""
    )
    arr = pc.utf8_trim_whitespace(arr)
    length = pc.utf8_length(arr).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    ok = length >= MIN_NAME_LENGTH
    key, length, arr = np.asarray(key, dtype=np.int64)[ok], length[ok], arr.filter(pa.array(ok))
    if len(key) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, pa.array([], type=pa.large_string())
    code = arr.dictionary_encode().indices.to_numpy(zero_copy_only=False).astype(np.int64)  # first seen
    n_code, l_max = int(code.max()) + 1, int(length.max())
    if (int(key.max()) + 1) * (l_max + 1) * n_code < 2**62:  # one int64 sort key: key, length desc, code
        order = np.argsort((key * (l_max + 1) + (l_max - length)) * n_code + code, kind="stable")
    else:  # pragma: no cover - astronomically many names
        order = np.lexsort((code, -length, key))
    key, code = key[order], code[order]
    same_key = np.r_[False, key[1:] == key[:-1]]
    keep = ~(same_key & np.r_[False, code[1:] == code[:-1]])  # duplicates sit next to each other
    order, key = order[keep], key[keep]
    same_key = np.r_[False, key[1:] == key[:-1]]
    idx = np.arange(len(key))
    k = idx - np.maximum.accumulate(np.where(same_key, 0, idx))
    return key, k, arr.take(pa.array(order))


def _pattern_sql(column: str) -> str:
    expr = column
    for pattern, repl in _steps():
        expr = f"regexp_replace({expr}, {_sql_str(pattern)}, {_sql_str(repl)}, 'g')"
    return expr


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# a text with none of these characters cannot hold a pattern: skip the regex passes for it
_TRIGGER = "[0-9０-９@＠]"


def scrub_text(texts: pd.Series, names: pd.Series | None = None) -> pd.Series:
    """``texts`` with identity numbers replaced by ``[身份证号]``, card numbers by ``[卡号]``, mobile numbers
    by ``[手机号]``, e-mail addresses by ``[邮箱]`` and, per row, each of that row's ``names`` by ``[姓名]``.

    ``names``: aligned with ``texts`` (same index, or an index ``texts``' can be looked up in), each value a
    list / tuple of names, a single name or None (e.g. ``frame["customer_id"].map(names_by_customer(...))``).
    Names shorter than 2 characters are ignored. Nulls stay null; index, name and a string dtype are kept.
    """
    import duckdb

    n = len(texts)
    if n == 0:
        return texts.copy()
    src = {"i": pa.array(np.arange(n, dtype=np.int64)), "t": _as_arrow_strings(texts.to_numpy(dtype=object))}
    k_max = 0
    if names is not None:
        if not names.index.equals(texts.index):
            if not (texts.index.is_unique and names.index.is_unique):
                raise ValueError("names is not aligned with texts (different, non-unique index)")
            names = names.reindex(texts.index)
        exploded = pd.Series(names.to_numpy(dtype=object), index=np.arange(n)).explode().dropna()
        pos, k, nm = _rank_names(exploded.index.to_numpy(dtype=np.int64), exploded.to_numpy(dtype=object))
        if len(pos):
            k_max = int(k.max()) + 1
            for j in range(k_max):  # the j-th (j-th longest) name of each row: a gather with nulls
                m = np.flatnonzero(k == j)
                at = np.full(n, -1, dtype=np.int64)
                at[pos[m]] = m
                src[f"n{j}"] = nm.take(pa.array(at, mask=at < 0))
    table = pa.table(src)
    expr = f"CASE WHEN regexp_matches(t, '{_TRIGGER}') THEN {_pattern_sql('t')} ELSE t END"
    for j in range(k_max):
        expr = f"replace({expr}, coalesce(n{j}, ''), {_sql_str(NAME_LABEL)})"
    con = duckdb.connect()
    try:
        con.register("src", table)
        rel = con.sql(f"SELECT i, {expr} AS t FROM src")
        result = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()  # duckdb 2 / 1.x
    finally:
        con.close()
    out = np.empty(n, dtype=object)
    out[result.column("i").to_numpy()] = result.column("t").to_numpy(zero_copy_only=False)
    scrubbed = pd.Series(out, index=texts.index, name=texts.name)
    if isinstance(texts.dtype, pd.StringDtype):
        scrubbed = scrubbed.astype(texts.dtype)
    return scrubbed


# ----------------------------------------------------------------------------------------------- names

NAME_SOURCES = (("customers", "customer_name"), ("corporates", "legal_rep_name"), ("contacts", "contact_name"))


def names_by_customer(
    customers: pd.DataFrame | None,
    corporates: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
) -> pd.Series:
    """customer_id -> tuple of the personal names free text about that customer must lose: the individual
    customer's name, a corporate's legal representative's and the contacts' (company names are kept). Names
    are stripped, at least 2 characters long, distinct, longest first. Customers without any are absent
    (``frame["customer_id"].map(...)`` gives NaN there, which :func:`scrub_text` reads as "no names")."""
    ids_, raw = [], []
    for frame, (_, column) in zip((customers, corporates, contacts), NAME_SOURCES, strict=True):
        if frame is None or len(frame) == 0 or column not in frame.columns:
            continue
        ids_.append(frame["customer_id"].reset_index(drop=True))
        raw.append(frame[column].to_numpy(dtype=object))
    if not ids_:
        return pd.Series([], dtype=object, index=pd.Index([], name="customer_id"), name="names")
    customer_code, customer_ids = pd.factorize(pd.concat(ids_, ignore_index=True))  # null id: code -1
    raw_names = np.concatenate(raw)
    has_id = customer_code >= 0
    key, k, names = _rank_names(customer_code[has_id], raw_names[has_id])
    groups, size = np.unique(key, return_counts=True)
    wide = np.full((len(groups), int(k.max()) + 1 if len(k) else 0), None, dtype=object)
    wide[np.repeat(np.arange(len(groups)), size), k] = names.to_numpy(zero_copy_only=False)
    values = np.empty(len(groups), dtype=object)
    for s in np.unique(size):  # a handful of group sizes: tuples of s names, built by zip
        m = size == s
        values[m] = np.fromiter(zip(*wide[m, :s].T, strict=True), dtype=object, count=int(m.sum()))
    return pd.Series(values, index=pd.Index(customer_ids[groups], name="customer_id"), name="names")


def merge_names(*parts: pd.Series | Iterable | None) -> pd.Series:
    """Per row, the names of all ``parts`` together (each aligned with the others, positionally: values are a
    name, a list / tuple of names or None). E.g. the transactions' remarks name the counterparty, who is no
    customer: ``merge_names(frame["customer_id"].map(by_customer), frame["counterparty_name"])``."""
    series = [p if isinstance(p, pd.Series) else pd.Series(list(p), dtype=object) for p in parts if p is not None]
    if not series:
        return pd.Series([], dtype=object)
    n = len(series[0])
    if any(len(s) != n for s in series):
        raise ValueError("merge_names: parts differ in length")
    long = pd.concat([pd.Series(s.to_numpy(dtype=object), index=np.arange(n)).explode().dropna() for s in series])
    grouped = long.groupby(level=0).agg(tuple)
    values = np.full(n, None, dtype=object)
    values[grouped.index.to_numpy()] = grouped.to_numpy()
    return pd.Series(values, index=series[0].index, name="names")
