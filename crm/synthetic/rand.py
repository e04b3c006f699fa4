"""Deterministic randomness that does not depend on generation order.

Two sources, both derived from the user's seed only:

- :func:`rng` gives a numpy ``Generator`` for a named purpose (``rng(seed, "world", "base")``,
  ``rng(seed, "interactions", day)``). Names go through CRC-32, never Python's salted ``hash``.
- :func:`uniform` / :func:`normal` / :func:`hash64` are *counter-based*: a value is a pure function of
  ``(seed, stream, key...)`` (SplitMix64 mixing of the keys), e.g. the payment behaviour of loan 17 in
  month 674. They are used for everything that must come out the same whichever dates are generated
  and in whatever order: a business date's files then depend only on the bank and that date.
"""

from __future__ import annotations

import zlib

import numpy as np

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
_2_53 = 1.0 / float(1 << 53)
_2_32 = 1.0 / float(1 << 32)


def name_id(name: str | int) -> int:
    """A stable 32-bit number for a stream name (ints pass through)."""
    if isinstance(name, (int, np.integer)):
        return int(name) & 0xFFFFFFFF
    return zlib.crc32(str(name).encode("utf-8"))


def rng(seed: int, *parts: str | int) -> np.random.Generator:
    """A numpy Generator for one named purpose, e.g. ``rng(seed, "txn", day_number)``."""
    entropy = [int(seed) & 0xFFFFFFFF, (int(seed) >> 32) & 0xFFFFFFFF] + [name_id(p) for p in parts]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic, in place on a copy)."""
    x = x ^ (x >> _U64(30))
    x *= _M1
    x ^= x >> _U64(27)
    x *= _M2
    x ^= x >> _U64(31)
    return x


def hash64(seed: int, stream: str | int, *keys) -> np.ndarray:
    """A 64-bit hash of (seed, stream, keys...) per element; keys broadcast against each other."""
    start = (int(seed) * 0x9E3779B97F4A7C15 + name_id(stream) * 0xD1B54A32D192ED03) & 0xFFFFFFFFFFFFFFFF
    arrays = [np.asarray(k).astype(np.int64, copy=False).view(np.uint64) for k in keys]
    shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    with np.errstate(over="ignore"):
        h = _mix(np.full(shape, _U64(start), dtype=np.uint64))
        for a in arrays:
            h = _mix(h ^ (a * _GOLDEN + _U64(0x632BE59BD9B4E019)))
    return h


def uniform(seed: int, stream: str | int, *keys) -> np.ndarray:
    """Uniform [0, 1) doubles, a pure function of the keys."""
    return (hash64(seed, stream, *keys) >> _U64(11)).astype(np.float64) * _2_53


def normal(seed: int, stream: str | int, *keys) -> np.ndarray:
    """Standard normal doubles (Box-Muller on the two 32-bit halves of one hash)."""
    h = hash64(seed, stream, *keys)
    u1 = ((h >> _U64(32)).astype(np.float64) + 0.5) * _2_32
    u2 = ((h & _U64(0xFFFFFFFF)).astype(np.float64) + 0.5) * _2_32
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def choice_index(u: np.ndarray, weights) -> np.ndarray:
    """Map uniforms to indices of ``weights`` (inverse CDF, vectorised)."""
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    return np.searchsorted(cdf, u, side="right").clip(0, len(w) - 1)


def poisson_from_uniform(u: np.ndarray, lam: np.ndarray, kmax: int = 30) -> np.ndarray:
    """Poisson draws by inverse CDF from uniforms (vectorised over ``lam``; counts capped at ``kmax``)."""
    lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), np.shape(u))
    p = np.exp(-lam)
    cdf = p.copy()
    k = np.zeros(np.shape(u), dtype=np.int64)
    for i in range(1, kmax + 1):
        more = u >= cdf
        if not more.any():
            break
        k += more
        p = p * lam / i
        cdf = cdf + p
    return k


def lookup(values, mapping: dict, default=np.nan, dtype=np.float64) -> np.ndarray:
    """Map each value through ``mapping`` (a hash join in pandas, not a Python loop over the values)."""
    import pandas as pd

    out = pd.Series(np.asarray(values, dtype=object), dtype=object).map(mapping)
    return out.where(out.notna(), default).to_numpy(dtype=dtype)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def logit(p):
    p = np.asarray(p, dtype=np.float64)
    return np.log(p / (1.0 - p))
