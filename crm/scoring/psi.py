"""Population stability index (PSI) of a score or a characteristic: the development (expected) distribution
against the current (actual) one.

Conventions, stated:

- ``PSI = sum over bins of (a_i - e_i) * ln(a_i / e_i)``, with ``e_i`` and ``a_i`` the shares of the expected
  and actual rows in bin ``i`` (natural log).
- Bins: ``bins=k`` (an int) cuts at the expected sample's quantiles ``1/k, ..., (k-1)/k`` (numpy's default
  linear interpolation); duplicate cut points (heavy ties) are merged, so a lumpy variable gets fewer bins.
  ``bins=[e0, e1, ..., ek]`` (explicit edges) gives bins ``[e0, e1), [e1, e2), ..., [e(k-1), ek]``; values
  below ``e0`` fall in the first bin and values from ``ek`` up in the last (the outer bins are open), so no
  row is lost. In both cases a bin is closed on the left: ``x`` lands in bin ``i`` when
  ``cut(i) <= x < cut(i+1)``.
- Missing values (NaN) form their own bin, shown only when either sample has any.
- An empty bin's share is replaced by ``EPSILON`` = 0.0001 before the logarithm (both sides), so PSI stays
  finite; shares are not renormalised.
- Bands (:func:`psi_status`): below 0.10 ``ok``; 0.10 up to 0.25 ``warn``; 0.25 and above ``act``.
- :func:`drift_verdict`: a drift check over such rows passes while the largest PSI is below 0.10 and is an
  error from 0.25.
- :func:`psi_by_feature` bins each characteristic with the scorecard's own bins (one bin per scorecard bin,
  Special and Missing included; a category unseen in training is its own bin), and the score by deciles
  of the development score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

EPSILON = 1e-4
WARN = 0.10
ACT = 0.25


def psi_status(value: float) -> str:
    """``"ok"`` below 0.10, ``"warn"`` from 0.10 to below 0.25, ``"act"`` from 0.25."""
    if value is None or np.isnan(value):
        raise ValueError("PSI is not a number")
    if value >= ACT:
        return "act"
    if value >= WARN:
        return "warn"
    return "ok"


def _cuts(expected: np.ndarray, bins: int | Sequence[float]) -> np.ndarray:
    """Interior cut points: bin i is [cut[i-1], cut[i]) with the outer bins open."""
    if isinstance(bins, (int, np.integer)):
        if bins < 1:
            raise ValueError(f"bins must be at least 1, got {bins}")
        finite = expected[~np.isnan(expected)]
        if not len(finite):
            raise ValueError("the expected sample has no values to take quantiles from")
        q = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
        return np.unique(q)
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("edges must be at least two strictly increasing numbers")
    return edges[1:-1]


def _table_from_counts(labels: list[str], e: np.ndarray, a: np.ndarray) -> pd.DataFrame:
    e_pct = e / e.sum() if e.sum() else np.zeros_like(e, dtype=float)
    a_pct = a / a.sum() if a.sum() else np.zeros_like(a, dtype=float)
    e_adj = np.where(e_pct > 0, e_pct, EPSILON)
    a_adj = np.where(a_pct > 0, a_pct, EPSILON)
    return pd.DataFrame(
        {
            "bin": labels,
            "expected_count": e.astype(int),
            "actual_count": a.astype(int),
            "expected_pct": e_pct,
            "actual_pct": a_pct,
            "psi": (a_adj - e_adj) * np.log(a_adj / e_adj),
        }
    )


def psi_table(expected, actual, *, bins: int | Sequence[float] = 10) -> pd.DataFrame:
    """Per bin: label, lower and upper cut, expected and actual counts and shares, and the bin's PSI term
    (the sum of ``psi`` is the PSI)."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    cuts = _cuts(e, bins)
    lower = np.concatenate([[-np.inf], cuts])
    upper = np.concatenate([cuts, [np.inf]])
    nb = len(cuts) + 1
    e_counts = np.bincount(np.searchsorted(cuts, e[~np.isnan(e)], side="right"), minlength=nb)
    a_counts = np.bincount(np.searchsorted(cuts, a[~np.isnan(a)], side="right"), minlength=nb)
    labels = [f"[{lo:.6g}, {hi:.6g})" for lo, hi in zip(lower, upper, strict=True)]
    n_e_missing, n_a_missing = int(np.isnan(e).sum()), int(np.isnan(a).sum())
    if n_e_missing or n_a_missing:
        labels.append("Missing")
        e_counts = np.append(e_counts, n_e_missing)
        a_counts = np.append(a_counts, n_a_missing)
        lower = np.append(lower, np.nan)
        upper = np.append(upper, np.nan)
    out = _table_from_counts(labels, e_counts, a_counts)
    out.insert(1, "lower", lower)
    out.insert(2, "upper", upper)
    return out


def psi(expected, actual, *, bins: int | Sequence[float] = 10) -> float:
    """PSI of ``actual`` against ``expected`` (see the module docstring for bins and the empty-bin epsilon)."""
    return float(psi_table(expected, actual, bins=bins)["psi"].sum())


def psi_categorical_table(expected, actual) -> pd.DataFrame:
    """PSI per distinct value (a category, or a bin id), values from either sample; missing as its own value."""
    e = pd.Series(expected).astype(object).where(pd.Series(expected).notna(), "Missing")
    a = pd.Series(actual).astype(object).where(pd.Series(actual).notna(), "Missing")
    ec, ac = e.value_counts(), a.value_counts()
    # numbers in order, then text values alphabetically ("Missing" among them)
    keys = sorted(set(ec.index) | set(ac.index), key=lambda v: (1, 0.0, v) if isinstance(v, str) else (0, float(v), ""))
    return _table_from_counts(
        [str(k) for k in keys], ec.reindex(keys, fill_value=0).to_numpy(), ac.reindex(keys, fill_value=0).to_numpy()
    )


def psi_by_feature(dev_scores_df: pd.DataFrame, current_df: pd.DataFrame, scorecard) -> pd.DataFrame:
    """PSI per characteristic of ``scorecard`` (characteristic stability), binned with the scorecard's bins,
    plus a ``score`` row (deciles of the development score) when both frames carry ``score``.

    Each frame may carry the raw characteristics (binned with the scorecard) or, failing that, the
    ``points_<feature>`` columns of :meth:`Scorecard.score` (a bin is identified by its points). Columns:
    feature, psi, status, bins, basis ("bins" / "points" / "score deciles")."""
    rows = []
    for f in scorecard.features:
        if f in dev_scores_df.columns and f in current_df.columns:
            e = scorecard.bin_indices(dev_scores_df, [f])[f]
            a = scorecard.bin_indices(current_df, [f])[f]
            basis = "bins"
        elif f"points_{f}" in dev_scores_df.columns and f"points_{f}" in current_df.columns:
            e = dev_scores_df[f"points_{f}"].round(9)
            a = current_df[f"points_{f}"].round(9)
            basis = "points"
        else:
            raise ValueError(f"characteristic {f!r} (or points_{f}) is missing from one of the frames")
        t = psi_categorical_table(e.to_numpy(), a.to_numpy())
        value = float(t["psi"].sum())
        rows.append({"feature": f, "psi": value, "status": psi_status(value), "bins": len(t), "basis": basis})
    if "score" in dev_scores_df.columns and "score" in current_df.columns:
        t = psi_table(dev_scores_df["score"], current_df["score"], bins=10)
        value = float(t["psi"].sum())
        rows.append(
            {"feature": "score", "psi": value, "status": psi_status(value), "bins": len(t), "basis": "score deciles"}
        )
    return pd.DataFrame(rows, columns=["feature", "psi", "status", "bins", "basis"])


def drift_verdict(rows: pd.DataFrame, limit: int = 20) -> dict:
    """The verdict of a drift check over rows of :func:`psi_by_feature` carrying ``month_end`` and ``segment``:
    ``worst`` (the largest PSI, 0.0 without rows), ``passed`` (``worst`` below :data:`WARN`), ``error``
    (``worst`` from :data:`ACT`) and ``table`` (Markdown: the ``limit`` largest, largest first)."""
    worst = float(rows["psi"].max()) if len(rows) else 0.0
    table = "\n".join(
        f"| {r.month_end} | {r.segment} | {r.feature} | {r.psi:.4f} | {r.status} |"
        for r in rows.sort_values("psi", ascending=False).head(limit).itertuples()
    )
    return {
        "worst": worst,
        "passed": worst < WARN,
        "error": worst >= ACT,
        "table": "| month end | segment | characteristic | PSI | status |\n|---|---|---|---|---|\n" + table,
    }
