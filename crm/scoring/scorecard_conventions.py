"""The fixed parts of every scorecard (see :mod:`crm.scoring.scorecard` for the conventions in full): the
model directory's file names and format version, the number of reason codes, the monotonic trends allowed,
the minimum class sizes, the PD master scale with the grade of a PD, the conventions text copied into every
saved model, and the error raised for unusable input."""

from __future__ import annotations

import numpy as np
import pandas as pd

FORMAT_VERSION = 1
MODEL_FILE = "model.joblib"
JSON_FILE = "scorecard.json"
TABLE_FILE = "scorecard_table.csv"
CARD_FILE = "model_card.html"
N_REASONS = 4
# optbinning monotonic_trend values for numeric characteristics
TRENDS = (
    "ascending",
    "descending",
    "auto",
    "auto_heuristic",
    "auto_asc_desc",
    "concave",
    "convex",
    "peak",
    "valley",
    "peak_heuristic",
    "valley_heuristic",
)
MIN_CLASS_ROWS = 10

# PD master scale: (grade, PD upper bound, inclusive). Fixed: grades keep their meaning across models.
MASTER_SCALE: tuple[tuple[str, float], ...] = (
    ("A1", 0.001),
    ("A2", 0.0025),
    ("A3", 0.005),
    ("B1", 0.01),
    ("B2", 0.02),
    ("B3", 0.04),
    ("C1", 0.08),
    ("C2", 0.15),
    ("C3", 0.30),
    ("D", 1.0),
)

CONVENTIONS = {
    "target": "1 = bad (event), 0 = good; text labels 'good'/'bad' map to 0/1, anything else is refused",
    "woe": "WOE = ln(%good / %bad) per bin (optbinning's convention); positive = better than average",
    "model": "logistic regression of P(bad) on WOE; coefficients expected negative",
    "odds": "odds = good:bad = (1 - PD) / PD",
    "score": "score = offset + factor * ln(odds); factor = PDO / ln 2; offset = base_points - factor * ln(base_odds)",
    "points": "points(bin) = -(coef * WOE + intercept / n) * factor + offset / n; sum of points = score",
    "pd": "PD = 1 / (1 + odds), odds = exp((score - offset) / factor)",
    "grade": "first master-scale grade whose PD upper bound is >= PD",
    "reason_codes": "top 4 characteristics by points shortfall (max attainable - obtained), ties by name; "
    "no shortfall, no reason",
    "selection": "characteristics with training IV < min_iv are dropped",
    "binning": "optimal binning on the training split only; missing values in their own bin; unseen "
    "categories score WOE 0",
    "monotonic": "'ascending' = bad rate rises with the value, 'descending' = falls",
    "holdout": "stratified split; AUC, KS = max(TPR - FPR), Gini = 2 AUC - 1 on the held-out rows",
}


class ScorecardInputError(ValueError):
    """The data cannot be used as given (missing column, bad target, unusable characteristic)."""


def grade_for_pd(pd_values: np.ndarray | pd.Series) -> np.ndarray:
    """Master-scale grade per PD: the first grade whose PD upper bound is >= the PD."""
    bounds = np.array([b for _, b in MASTER_SCALE])
    names = np.array([g for g, _ in MASTER_SCALE], dtype=object)
    idx = np.searchsorted(bounds, np.clip(np.asarray(pd_values, dtype=float), 0.0, 1.0), side="left")
    return names[np.minimum(idx, len(names) - 1)]
