"""Hold-out metrics of a scorecard: AUC, KS and the calibration table by PD decile (scikit-learn imported
inside the functions)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov-Smirnov statistic: max(TPR - FPR) over the thresholds of ``p`` (PD) against ``y``."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def auc_score(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve of ``p`` (PD) against ``y`` (1 = bad)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def calibration_table(y: np.ndarray, pd_values: np.ndarray, groups: int = 10) -> pd.DataFrame:
    """Rows ranked by PD (ties in row order) and cut into ``groups`` equal-count groups (1 = lowest PD): count,
    PD range, predicted mean PD, observed bads and bad rate."""
    p = np.asarray(pd_values, dtype=float)
    rank = pd.Series(p).rank(method="first").to_numpy()
    decile = np.ceil(rank * groups / len(p)).astype(int)
    frame = pd.DataFrame({"decile": decile, "pd": p, "bad": np.asarray(y, dtype=float)})
    out = (
        frame.groupby("decile")
        .agg(
            count=("pd", "size"),
            pd_min=("pd", "min"),
            pd_max=("pd", "max"),
            predicted_pd=("pd", "mean"),
            bads=("bad", "sum"),
            observed_bad_rate=("bad", "mean"),
        )
        .reset_index()
    )
    out["bads"] = out["bads"].astype(int)
    return out
