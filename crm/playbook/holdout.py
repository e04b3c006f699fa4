"""The proposals' hold-out (control group): which eligible customers receive no proposal of a type in a month.

A customer is held out of proposal type ``T`` in the month ending ``M`` when

    draw = int(first 15 hex digits of SHA-256("<salt>|<YYYY-MM>|<T>|<customer token>"), 16) / 16**15
    draw < share

``share`` and ``salt`` are ``[proposals.holdout]`` of ``crm/playbook/config.toml``. The draw is uniform on
[0, 1) and independent of everything the proposal engine knows about the customer (need, value, segment,
manager), so the held-out customers are a random sample of the eligible ones; it is a pure function of
(salt, month, type, customer), so a rerun of the month (or a backfill) draws the same split, and a new month
draws afresh. The customer is named by the staged zone's keyed token (``crm.privacy.tokens``): a rotation of
the masking key changes tokens, and with them the split of the months run after it (months already run keep
theirs in the warehouse). Changing the salt or the share starts a new experiment; both are stamped on every
proposal row with the configuration version.

The synthetic bank's front office (``crm.synthetic``) calls the same function with the same key ring, so that
it makes no offer to the customers the pipeline holds out.

Vectorised: DuckDB's ``sha256`` over the whole column (the digest is the standard one, so
:func:`held_out_one` with :mod:`hashlib` gives the same answer; a test proves it).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa

_HEX = 15  # 60 bits: the draw is exact in a float64


def _prefix(salt: str, month_end: dt.date, proposal_type: str) -> str:
    for what, v in (("salt", salt), ("proposal type", proposal_type)):
        if "|" in v:
            raise ValueError(f"hold-out {what} must not contain '|': {v!r}")
    return f"{salt}|{month_end:%Y-%m}|{proposal_type}|"


def draws(customers: pd.Series | list[str], month_end: dt.date, proposal_type: str, salt: str) -> np.ndarray:
    """The uniform draw in [0, 1) of each customer (token) for ``proposal_type`` in the month of ``month_end``."""
    import duckdb

    values = pa.array(pd.Series(customers, dtype="object").astype(str).tolist(), type=pa.string())
    if len(values) == 0:
        return np.zeros(0)
    con = duckdb.connect()
    try:
        con.register("v", pa.table({"c": values}))
        prefix = _prefix(salt, month_end, proposal_type)
        # 15 hex digits = 60 bits: exact as UBIGINT, the quotient is the float64 division of the reference
        out = con.execute(
            f"SELECT ('0x' || substr(sha256(? || c), 1, {_HEX}))::UBIGINT AS h FROM v", [prefix]
        ).fetchnumpy()
    finally:
        con.close()
    return np.asarray(out["h"], dtype=np.uint64).astype(np.float64) / float(16**_HEX)


def held_out(
    customers: pd.Series | list[str], month_end: dt.date, proposal_type: str, share: float, salt: str
) -> np.ndarray:
    """True for each customer (token) held out of ``proposal_type`` in the month of ``month_end``."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"hold-out share must be in [0, 1): {share}")
    return draws(customers, month_end, proposal_type, salt) < share


def held_out_many(
    customers: pd.Series | list[str],
    proposal_types: pd.Series | list[str],
    month_end: dt.date,
    share: float,
    salt: str,
) -> np.ndarray:
    """:func:`held_out` for (customer token, proposal type) pairs of one month in one query: the same draw
    per pair as ``held_out([customer], month_end, type, share, salt)`` (the synthetic front office lists
    several types a month)."""
    import duckdb

    if not 0.0 <= share < 1.0:
        raise ValueError(f"hold-out share must be in [0, 1): {share}")
    types = pd.Series(proposal_types, dtype="object").astype(str)
    for t in types.unique():  # a loop over the distinct types (ten at most)
        _prefix(salt, month_end, t)
    values = pd.Series(customers, dtype="object").astype(str)
    if len(values) != len(types):
        raise ValueError("held_out_many: one proposal type per customer")
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    con = duckdb.connect()
    try:
        con.register(
            "v", pa.table({"c": pa.array(values.tolist(), pa.string()), "t": pa.array(types.tolist(), pa.string())})
        )
        base = _prefix(salt, month_end, "")[:-1]  # "<salt>|<YYYY-MM>|"
        out = con.execute(
            f"SELECT ('0x' || substr(sha256(? || t || '|' || c), 1, {_HEX}))::UBIGINT AS h FROM v", [base]
        ).fetchnumpy()
    finally:
        con.close()
    return np.asarray(out["h"], dtype=np.uint64).astype(np.float64) / float(16**_HEX) < share


def held_out_one(customer: str, month_end: dt.date, proposal_type: str, share: float, salt: str) -> bool:
    """The same answer as :func:`held_out` for one customer, with :mod:`hashlib` (the reference)."""
    digest = hashlib.sha256((_prefix(salt, month_end, proposal_type) + customer).encode("utf-8")).hexdigest()
    return int(digest[:_HEX], 16) / float(16**_HEX) < share
