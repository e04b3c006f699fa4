"""Keyed tokens for join keys: ``HMAC-SHA256(key[domain, version], normalise(value))``.

- **Normalisation** (so the same person gets the same token whatever the extract's habits): Unicode NFKC
  (full-width digits and letters become ASCII), surrounding white space trimmed, upper case (an ID number's
  check character ``x`` is ``X``).
- **Keys**: a key ring holds one 256-bit master key per version (``k1``, ``k2``...) and names the current
  one. Each domain (``customer``, ``person_id``, ``phone``, ``account``, ``email``) gets its own key,
  ``HMAC-SHA256(master, "crm-token-domain:" + domain)``, so tokens of different domains never coincide.
- **Token**: ``<version>.<first 32 hex digits of the HMAC>`` (128 bits), e.g. ``k1.3fa2...``. The version
  travels with the token, so during a key rotation old and new tokens are told apart. Without the key a
  token cannot be computed, and without the raw zone it cannot be reversed.

The HMAC is computed vectorised by DuckDB's ``sha256`` over whole columns (HMAC = H((K ^ opad) || H((K ^
ipad) || m)), RFC 2104), once per distinct value when a column repeats; a test proves it equals
:func:`hmac.new`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

DOMAINS = ("customer", "person_id", "phone", "account", "email")
VERSION_RE = re.compile(r"^k[1-9][0-9]*$")
TOKEN_HEX = 32
_BLOCK = 64  # SHA-256 block size


class KeyError_(Exception):
    """A missing or malformed masking key (named so it is not mistaken for the built-in KeyError)."""


@dataclass(frozen=True)
class KeyRing:
    """Master keys by version, and the version new tokens are made with."""

    keys: dict[str, bytes]
    current: str

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise KeyError_(f"the key ring has no key for its current version {self.current!r}")
        for version, key in self.keys.items():
            if not VERSION_RE.match(version):
                raise KeyError_(f"key version {version!r} must look like k1, k2, ...")
            if len(key) < 32:
                raise KeyError_(f"key {version} is shorter than 256 bits")

    def domain_key(self, domain: str, version: str | None = None) -> bytes:
        if domain not in DOMAINS:
            raise ValueError(f"unknown token domain {domain!r}; known: {', '.join(DOMAINS)}")
        version = version or self.current
        if version not in self.keys:
            raise KeyError_(f"no masking key of version {version!r}")
        return hmac.new(self.keys[version], f"crm-token-domain:{domain}".encode(), hashlib.sha256).digest()

    def to_json(self) -> str:
        return json.dumps(
            {"current": self.current, "keys": {v: k.hex() for v, k in sorted(self.keys.items())}}, indent=2
        )

    @classmethod
    def from_json(cls, text: str, source: str = "key file") -> KeyRing:
        try:
            data = json.loads(text)
            keys = {v: bytes.fromhex(k) for v, k in data["keys"].items()}
            return cls(keys=keys, current=data["current"])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise KeyError_(f"{source}: not a key ring ({e.__class__.__name__})") from None

    def rotated(self) -> KeyRing:
        """A ring with a new random key as the next version, which becomes current."""
        n = max(int(v[1:]) for v in self.keys) + 1
        return KeyRing(keys={**self.keys, f"k{n}": secrets.token_bytes(32)}, current=f"k{n}")


def new_ring() -> KeyRing:
    return KeyRing(keys={"k1": secrets.token_bytes(32)}, current="k1")


def load_ring(spec: str) -> KeyRing:
    """``spec``: a key file's path, or a key given inline as 64+ hex digits (version k1)."""
    spec = spec.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64,}", spec):
        return KeyRing(keys={"k1": bytes.fromhex(spec)}, current="k1")
    path = Path(spec)
    if not path.is_file():
        raise KeyError_(f"masking key file {path} does not exist")
    return KeyRing.from_json(path.read_text(encoding="utf-8"), str(path))


def save_ring(ring: KeyRing, path: Path) -> None:
    """Write a key file readable by its owner only (atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(ring.to_json())
    os.replace(tmp, path)


def normalise(values) -> pa.Array:
    """NFKC, trimmed, upper case, as an Arrow string array (nulls kept; empty strings become null)."""
    arr = pa.array(values, type=pa.string(), from_pandas=True) if not isinstance(values, pa.Array) else values
    arr = arr.cast(pa.string())
    arr = pc.utf8_upper(pc.utf8_trim_whitespace(pc.utf8_normalize(arr, "NFKC")))
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


_TOKEN_SQL = "SELECT {prefix} || left(sha256($opad || unhex(sha256($ipad || encode(v)))), {n}) AS t FROM vals"


def _tokens_sql(key: bytes, version: str, values: pa.Array) -> pa.Array:
    """``<version>.<HMAC-SHA256 hex, first TOKEN_HEX digits>`` of every UTF-8 value, in order, vectorised in
    DuckDB on one thread (a step is one process; Dagster runs steps in parallel). Nulls stay null."""
    import duckdb

    ipad, opad = _pads(key)
    con = duckdb.connect()
    try:
        con.execute("SET threads TO 1")
        con.register("vals", pa.table({"v": values}))
        sql = _TOKEN_SQL.format(prefix=f"'{version}.'", n=TOKEN_HEX)
        out = con.sql(sql, params={"ipad": ipad, "opad": opad}).to_arrow_table().column("t")
    finally:
        con.close()
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _mostly_repeated(arr: pa.Array, sample: int = 20_000) -> bool:
    """Whether fewer than half the values are distinct, judged on an evenly spaced sample."""
    if len(arr) > sample:
        arr = pc.take(arr, pa.array(range(0, len(arr), len(arr) // sample)))
    return pc.count_distinct(arr).as_py() < len(arr) // 2


def tokenise(values, domain: str, ring: KeyRing, version: str | None = None) -> pd.Series:
    """Tokens of ``values`` (any sequence of strings; nulls stay null) in ``domain``, as an Arrow-backed
    string Series (index kept for a Series). A column with many repeats (a customer number in a delta
    extract) is hashed once per distinct value; a mostly distinct one row by row, which skips the lookup."""
    version = version or ring.current
    key = ring.domain_key(domain, version)  # a version of the ring: validated as k<digits>, safe in SQL
    norm = normalise(values)
    n = len(norm)
    if n and _mostly_repeated(norm):
        uniq = pc.unique(norm)
        out = pc.take(_tokens_sql(key, version, uniq), pc.index_in(norm, value_set=uniq))
    else:
        out = _tokens_sql(key, version, norm) if n else pa.array([], pa.string())
    index = values.index if isinstance(values, pd.Series) else None
    return pd.Series(pd.arrays.ArrowExtensionArray(out.cast(pa.string())), index=index)


def token_of(value: str, domain: str, ring: KeyRing, version: str | None = None) -> str:
    """One token, computed with Python's :mod:`hmac` (the reference the vectorised path is tested against,
    and the way to look up one customer)."""
    version = version or ring.current
    norm = normalise([value])[0].as_py()
    digest = hmac.new(ring.domain_key(domain, version), norm.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{version}.{digest[:TOKEN_HEX]}"


LOCAL_KEY_FILE = "masking-keys.json"


def ensure_local_ring(home_root: Path) -> tuple[KeyRing, Path, bool]:
    """The local key ring ``CRM_HOME/masking-keys.json``, created with a new random key when absent.
    Returns (ring, path, created). For local use only: production names its key in ``CRM_MASKING_KEY``."""
    path = Path(home_root) / LOCAL_KEY_FILE
    if path.exists():
        return load_ring(str(path)), path, False
    ring = new_ring()
    save_ring(ring, path)
    return ring, path, True
