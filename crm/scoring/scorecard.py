"""The generic application/behavioural scorecard: optimal binning + logistic regression on WOE, scaled to
points, with a PD master scale, reason codes, hold-out metrics, a versioned model directory and a model card.

Conventions (stated once, here, and copied into every saved model and model card):

- **Target**: ``1`` = bad (the event), ``0`` = good. A text target of exactly the two labels ``good`` and
  ``bad`` (any case) is mapped to 0 and 1; any other target that is not 0/1 is refused.
- **WOE** of a bin = ``ln(%good / %bad)``, where ``%good`` is the bin's share of all goods in the training
  split and ``%bad`` its share of all bads. This is optbinning's convention
  (``optbinning.binning.transformations.transform_event_rate_to_woe``:
  ``ln((1/event_rate - 1) * n_event / n_nonevent)`` = ``ln((goods_i/goods) / (bads_i/bads))``, event = bad):
  a positive WOE is a better-than-average bin. Empty bins (and a Missing bin with no training rows) get
  WOE 0; optbinning merges pure pre-bins, so a regular bin is never pure.
- **Model**: logistic regression of ``P(bad)`` on the selected characteristics' WOE (scikit-learn, L2 with
  ``C`` = ``logistic_c`` from the config, default 1.0 as in scikit-learn; at development-sample sizes the
  penalty is negligible). With this WOE sign, coefficients are expected to be negative; a positive one is
  flagged in the model card.
- **Score** = ``offset + factor * ln(odds)``, where ``odds`` = good:bad = ``(1 - PD) / PD``,
  ``factor = PDO / ln 2`` and ``offset = base_points - factor * ln(base_odds)``. Defaults: 600 points at
  odds 50:1, 20 points to double the odds. A higher score is a better (lower-risk) customer.
- **Points** of a characteristic's bin = ``-(coef * WOE + intercept / n) * factor + offset / n`` (``n`` =
  number of selected characteristics): optbinning's ``Scorecard`` with ``scaling_method="pdo_odds"``,
  no rounding, no separate intercept, so the sum of a row's points *is* its score exactly, and
  ``PD = 1 / (1 + odds)`` with ``odds = exp((score - offset) / factor)`` equals the regression's PD.
- **Binning**: fitted on the training split only (stratified, ``test_size`` held out, fixed
  ``random_state``); each bin holds at least ``min_bin_size`` of the training rows, at most ``max_n_bins``
  bins; monotonic trends where declared (``"ascending"``: the bad rate rises with the value); missing
  values form their own bin. A category not seen in training scores WOE 0 (neutral: optbinning's WOE
  transform does the same).
- **Selection**: characteristics with training IV < 0.02 (``min_iv``) are dropped, and listed with their
  IV. Text columns with more than ``max_categories`` distinct values are refused as identifier-like (so no
  identifier ever reaches the bins, the model card or the JSON), and date columns are refused.
- **Grade**: from the fixed PD master scale :data:`MASTER_SCALE`: the first grade whose PD upper bound is
  >= the row's PD.
- **Reason codes**: the (up to) four characteristics with the largest points shortfall, shortfall = the
  maximum points attainable for that characteristic (over its bins that held training rows) minus the
  points the row got; ties broken by characteristic name (alphabetical); a characteristic with no
  shortfall is never a reason, so a row may have fewer than four (the rest empty).
- **Hold-out metrics** on the held-out split: AUC of PD against the target, KS = max(TPR - FPR),
  Gini = 2 AUC - 1, and a calibration table by PD decile (rows ranked by PD, ties in rank order).

This module holds the configuration, the fitted :class:`Scorecard` (points table, scoring, reason codes) and
:func:`fit_scorecard`; the fixed parts (file names, master scale, conventions text) are in
:mod:`crm.scoring.scorecard_conventions`, reading the target and characteristics in
:mod:`crm.scoring.scorecard_inputs`, the hold-out metrics in :mod:`crm.scoring.scorecard_metrics` and the model
directory (JSON, model card, save and load) in :mod:`crm.scoring.scorecard_files`.

Heavy libraries (optbinning, scikit-learn, joblib, jinja2, scipy) are imported inside functions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from crm.scoring.scorecard_conventions import (
    CARD_FILE,
    CONVENTIONS,
    FORMAT_VERSION,
    JSON_FILE,
    MASTER_SCALE,
    MIN_CLASS_ROWS,
    MODEL_FILE,
    N_REASONS,
    TABLE_FILE,
    TRENDS,
    ScorecardInputError,
    grade_for_pd,
)
from crm.scoring.scorecard_files import load_scorecard, model_card_html, save_scorecard, scorecard_dict
from crm.scoring.scorecard_inputs import as_categories, as_numbers, binary_target
from crm.scoring.scorecard_metrics import auc_score, calibration_table, ks_statistic

# The classes whose instances are pickled in model.joblib (Scorecard and ScorecardConfig) stay in this module,
# so that saved model directories keep loading; the names imported above are re-exported from here.
__all__ = [
    "CARD_FILE",
    "CONVENTIONS",
    "FORMAT_VERSION",
    "JSON_FILE",
    "MASTER_SCALE",
    "MIN_CLASS_ROWS",
    "MODEL_FILE",
    "N_REASONS",
    "TABLE_FILE",
    "TRENDS",
    "Scorecard",
    "ScorecardConfig",
    "ScorecardInputError",
    "binary_target",
    "calibration_table",
    "fit_scorecard",
    "grade_for_pd",
]


@dataclass
class ScorecardConfig:
    """Every setting of a scorecard fit, with its meaning.

    ``monotonic`` maps a numeric characteristic to an optbinning ``monotonic_trend`` ("ascending": the bad
    rate rises with the value; "descending": it falls); others get ``default_trend`` ("auto": optbinning
    chooses). ``categorical`` names columns binned as categories even when numeric (names absent from the
    data are ignored, so one list can serve several segments); text columns are always categorical.
    """

    base_points: float = 600.0  # score at odds base_odds
    base_odds: float = 50.0  # good:bad odds at base_points
    pdo: float = 20.0  # points to double the odds
    min_bin_size: float = 0.05  # minimum share of training rows per bin
    max_n_bins: int | None = 8  # maximum bins per characteristic
    test_size: float = 0.3  # held-out share (stratified)
    random_state: int = 42  # split seed
    monotonic: dict[str, str] = field(default_factory=dict)
    default_trend: str = "auto"
    categorical: list[str] = field(default_factory=list)
    min_iv: float = 0.02  # characteristics below this training IV are dropped
    max_categories: int = 50  # text columns with more distinct values are refused as identifier-like
    logistic_c: float = 1.0  # inverse L2 regularisation strength (scikit-learn's C)

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_points - self.factor * math.log(self.base_odds)

    def validate(self) -> ScorecardConfig:
        if self.pdo <= 0:
            raise ScorecardInputError(f"pdo must be positive, got {self.pdo}")
        if self.base_odds <= 0:
            raise ScorecardInputError(f"base odds must be positive, got {self.base_odds}")
        if not 0 < self.test_size < 1:
            raise ScorecardInputError(f"test_size must be in (0, 1), got {self.test_size}")
        if not 0 < self.min_bin_size < 0.5:
            raise ScorecardInputError(f"min_bin_size must be in (0, 0.5), got {self.min_bin_size}")
        bad = {c: t for c, t in {**self.monotonic, "(default)": self.default_trend}.items() if t not in TRENDS}
        if bad:
            raise ScorecardInputError(f"unknown monotonic trends {bad}; allowed: {', '.join(TRENDS)}")
        return self


def _bin_label(value) -> str:
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in value)
    return str(value)


# ---------------------------------------------------------------------------------------------- model


class Scorecard:
    """A fitted scorecard. Build it with :func:`fit_scorecard` or :meth:`Scorecard.load`.

    Attributes: ``config``, ``target``, ``features`` (selected characteristics, in model order),
    ``categorical`` (those binned as categories), ``table`` (one row per feature and bin: bin, counts, bad
    rate, WOE, IV, coefficient, points), ``characteristics`` (every candidate with IV, bins, selection),
    ``excluded`` (column -> reason), ``coefficients``, ``intercept``, ``metrics``, ``calibration``,
    ``training_rows``, ``bad_rate``, ``created``, ``version``.
    """

    def __init__(
        self,
        *,
        model,
        config: ScorecardConfig,
        target: str,
        features: list[str],
        categorical: list[str],
        characteristics: pd.DataFrame,
        excluded: dict[str, str],
        training_rows: int,
        bad_rate: float,
        created: dt.datetime,
    ):
        self.model = model  # optbinning.scorecard.Scorecard, fitted
        self.config = config
        self.target = target
        self.features = list(features)
        self.categorical = [f for f in features if f in set(categorical)]
        self.characteristics = characteristics
        self.excluded = dict(excluded)
        self.training_rows = int(training_rows)
        self.bad_rate = float(bad_rate)
        self.created = created
        self.metrics: dict[str, float] = {}
        self.calibration = pd.DataFrame()
        est = model.estimator_
        self.intercept = float(np.ravel(est.intercept_)[0])
        self.coefficients = {f: float(c) for f, c in zip(self.features, np.ravel(est.coef_), strict=True)}
        self.table = self._build_table()
        self._build_lookups()
        digest = hashlib.sha256(self.table.to_csv(index=False).encode()).hexdigest()[:8]
        self.version = f"{created:%Y%m%dT%H%M%SZ}-{digest}"

    # -- conventions
    @property
    def factor(self) -> float:
        return self.config.factor

    @property
    def offset(self) -> float:
        return self.config.offset

    def pd_from_score(self, score) -> np.ndarray:
        """PD = 1 / (1 + odds), odds = exp((score - offset) / factor)."""
        from scipy.special import expit

        return expit(-(np.asarray(score, dtype=float) - self.offset) / self.factor)

    def score_from_pd(self, pd_values) -> np.ndarray:
        """score = offset + factor * ln((1 - PD) / PD)."""
        p = np.asarray(pd_values, dtype=float)
        with np.errstate(divide="ignore"):
            return self.offset + self.factor * (np.log1p(-p) - np.log(p))

    # -- tables
    def _build_table(self) -> pd.DataFrame:
        bp = self.model.binning_process_
        detailed = self.model.table(style="detailed")
        frames = []
        for f in self.features:
            optb = bp.get_binned_variable(f)
            t = detailed[detailed["Variable"] == f].reset_index(drop=True)
            n_regular = len(optb.splits) + 1 if optb.dtype == "numerical" else len(t) - 2
            kind = np.array(["bin"] * len(t), dtype=object)
            kind[n_regular:-1] = "special"
            kind[-1] = "missing"
            lower = np.full(len(t), np.nan)
            upper = np.full(len(t), np.nan)
            if optb.dtype == "numerical":
                edges = np.concatenate([[-np.inf], np.asarray(optb.splits, dtype=float), [np.inf]])
                lower[:n_regular] = edges[:-1]
                upper[:n_regular] = edges[1:]
            count = t["Count"].to_numpy(dtype=float)
            bads = t["Event"].to_numpy(dtype=float)
            with np.errstate(invalid="ignore", divide="ignore"):
                bad_rate = np.where(count > 0, bads / count, np.nan)
            frames.append(
                pd.DataFrame(
                    {
                        "feature": f,
                        "bin_id": t["Bin id"].to_numpy(dtype=int),
                        "kind": kind,
                        "bin": [_bin_label(b) for b in t["Bin"]],
                        "lower": lower,
                        "upper": upper,
                        "count": count.astype(int),
                        "count_pct": t["Count (%)"].to_numpy(dtype=float),
                        "goods": t["Non-event"].to_numpy(dtype=int),
                        "bads": bads.astype(int),
                        "bad_rate": bad_rate,
                        "woe": t["WoE"].to_numpy(dtype=float),
                        "iv": t["IV"].to_numpy(dtype=float),
                        "coefficient": t["Coefficient"].to_numpy(dtype=float),
                        "points": t["Points"].to_numpy(dtype=float),
                    }
                )
            )
        table = pd.concat(frames, ignore_index=True)
        populated = table[table["count"] > 0].groupby("feature")["points"].max()
        table["max_points"] = table["feature"].map(populated)
        return table

    def _build_lookups(self) -> None:
        """Per feature: points by bin id, plus a last slot for a category unseen in training (WOE 0), which
        optbinning's index transform reports as -1, so numpy's index -1 lands on it."""
        n = len(self.features)
        self._points = {}
        self._max_points = np.empty(n)
        for j, f in enumerate(self.features):
            t = self.table[self.table["feature"] == f].sort_values("bin_id")
            neutral = -(self.coefficients[f] * 0.0 + self.intercept / n) * self.factor + self.offset / n
            self._points[f] = np.append(t["points"].to_numpy(dtype=float), neutral)
            self._max_points[j] = float(t["max_points"].iloc[0])

    # -- scoring
    def _check_columns(self, df: pd.DataFrame, features: list[str]) -> None:
        missing = [f for f in features if f not in df.columns]
        if missing:
            raise ScorecardInputError(f"the data lacks the scorecard's characteristics: {', '.join(missing)}")

    def bin_indices(self, df: pd.DataFrame, features: Iterable[str] | None = None) -> pd.DataFrame:
        """Bin id per row and selected characteristic (all, or ``features``), ids as in :attr:`table`;
        -1 = a category not seen in training."""
        features = self.features if features is None else list(features)
        unknown = [f for f in features if f not in self.features]
        if unknown:
            raise ScorecardInputError(f"not characteristics of this scorecard: {', '.join(unknown)}")
        self._check_columns(df, features)
        bp = self.model.binning_process_
        out = {}
        for f in features:
            x = as_categories(df[f]) if f in self.categorical else as_numbers(df[f], f)
            out[f] = np.asarray(
                bp.get_binned_variable(f).transform(
                    x, metric="indices", metric_special="empirical", metric_missing="empirical"
                ),
                dtype=np.int64,
            )
        return pd.DataFrame(out, index=df.index)

    def score(self, df: pd.DataFrame) -> pd.DataFrame:
        """Columns ``points_<feature>`` per selected characteristic, ``score`` (their sum), ``pd``, ``grade``
        and ``reason_1``..``reason_4`` (empty where fewer characteristics fall short), index as ``df``."""
        idx = self.bin_indices(df)
        n = len(df)
        k = len(self.features)
        points = np.empty((n, k))
        for j, f in enumerate(self.features):
            points[:, j] = self._points[f][idx[f].to_numpy()]
        total = points.sum(axis=1)
        pd_values = self.pd_from_score(total)
        out = {f"points_{f}": points[:, j] for j, f in enumerate(self.features)}
        out["score"] = total
        out["pd"] = pd_values
        out["grade"] = grade_for_pd(pd_values)
        out.update(self._reasons(points))
        return pd.DataFrame(out, index=df.index)

    def _reasons(self, points: np.ndarray) -> dict[str, np.ndarray]:
        """Top shortfalls per row; columns ordered by feature name so a stable sort breaks ties by name."""
        order_by_name = np.argsort(np.array(self.features, dtype=object), kind="stable")
        names = np.array(self.features, dtype=object)[order_by_name]
        shortfall = np.round(np.clip(self._max_points[order_by_name] - points[:, order_by_name], 0, None), 9)
        top = np.argsort(-shortfall, axis=1, kind="stable")[:, :N_REASONS]
        out = {}
        for r in range(N_REASONS):
            col = np.full(len(points), None, dtype=object)
            if r < top.shape[1]:
                j = top[:, r]
                has = np.take_along_axis(shortfall, j[:, None], axis=1)[:, 0] > 0
                col[has] = names[j[has]]
            out[f"reason_{r + 1}"] = col
        return out

    # -- description
    def master_scale(self) -> pd.DataFrame:
        """The master scale with the score range of each grade (score >= min_score means PD <= upper bound)."""
        rows, lower_pd = [], 0.0
        for grade, upper in MASTER_SCALE:
            min_score = float(self.score_from_pd(upper)) if upper < 1 else None
            rows.append({"grade": grade, "pd_lower": lower_pd, "pd_upper": upper, "min_score": min_score})
            lower_pd = upper
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        """Everything readable about the scorecard, JSON-able: the content of ``scorecard.json``."""
        return scorecard_dict(self)

    def model_card_html(self) -> str:
        """The model card (HTML, from ``reports/templates/model_card.html.j2``): bins, WOE, IV, coefficients,
        hold-out metrics, calibration, master scale, conventions, exclusions. Aggregates only."""
        return model_card_html(self)

    # -- persistence (crm.scoring.scorecard_files)
    def save(self, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Write the versioned model directory: ``model.joblib`` (this object), ``scorecard.json`` (everything
        readable, with the pickle's sha256), ``scorecard_table.csv`` (formula-safe, :func:`crm.exports.write_csv`:
        bin labels can carry data values) and ``model_card.html``. An existing model directory is not
        overwritten unless ``overwrite``; a file a symlink leads out of the directory is refused
        (:class:`crm.zones.UnsafePathError`)."""
        return save_scorecard(self, directory, overwrite=overwrite)

    @classmethod
    def load(cls, directory: str | Path) -> Scorecard:
        """Load a model directory written by :meth:`save`, after checking the pickle's sha256 against
        ``scorecard.json`` (integrity, not a defence against someone who can rewrite both files: only
        load model directories from the bank's own model store). The model file named in the JSON must be a
        plain file name inside the directory (:func:`crm.zones.safe_path`)."""
        return load_scorecard(cls, directory)


# ---------------------------------------------------------------------------------------------- fitting


def _candidates(
    df: pd.DataFrame, target: str, exclude: Iterable[str], config: ScorecardConfig
) -> tuple[list[str], list[str], dict[str, str]]:
    excluded = {c: "excluded by the caller" for c in exclude}
    declared_cat = set(config.categorical)
    unknown_trend = [c for c in config.monotonic if c not in df.columns]
    if unknown_trend:
        raise ScorecardInputError(f"monotonic trend declared for columns not in the data: {', '.join(unknown_trend)}")
    features, categorical = [], []
    for c in df.columns:
        if c == target or c in excluded:
            continue
        if not isinstance(c, str):
            raise ScorecardInputError(f"column names must be text, got {c!r}")
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s) or isinstance(s.dtype, pd.PeriodDtype):
            excluded[c] = "date/time column: not a characteristic"
            continue
        if s.isna().all():
            excluded[c] = "no values"
            continue
        numeric = pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
        is_cat = c in declared_cat or not numeric
        if is_cat:
            distinct = int(s.nunique(dropna=True))
            if distinct > config.max_categories:
                excluded[c] = (
                    f"{distinct} distinct values: identifier-like, not binned (max_categories={config.max_categories})"
                )
                continue
            if c in config.monotonic:
                raise ScorecardInputError(f"monotonic trend declared for the categorical column {c!r}")
            categorical.append(c)
        features.append(c)
    if not features:
        raise ScorecardInputError("no usable characteristic columns besides the target")
    return features, categorical, excluded


def fit_scorecard(
    df: pd.DataFrame, target: str, *, exclude: Iterable[str] = (), config: ScorecardConfig | None = None
) -> Scorecard:
    """Fit a scorecard on ``df`` (one row per account/customer, ``target`` 1 = bad): stratified split,
    optimal binning and WOE on the training split, IV selection, logistic regression, points, then hold-out
    AUC/KS/Gini and calibration. Every column except ``target`` and ``exclude`` is a candidate
    characteristic. Raises :class:`ScorecardInputError` naming the problem for unusable input."""
    from optbinning import BinningProcess
    from optbinning import Scorecard as OptbScorecard
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    config = (config or ScorecardConfig()).validate()
    exclude = list(exclude)
    if target not in df.columns:
        raise ScorecardInputError(
            f"target column {target!r} is not in the data (columns: {', '.join(map(str, df.columns[:20]))})"
        )
    absent = [c for c in exclude if c not in df.columns]
    if absent:
        raise ScorecardInputError(f"excluded columns not in the data: {', '.join(map(str, absent))}")
    y = binary_target(df[target], target)
    n_bad, n_good = int(y.sum()), int(len(y) - y.sum())
    if min(n_bad, n_good) < MIN_CLASS_ROWS:
        raise ScorecardInputError(
            f"target column {target!r} needs at least {MIN_CLASS_ROWS} goods and "
            f"{MIN_CLASS_ROWS} bads, has {n_good} and {n_bad}"
        )
    features, categorical, excluded = _candidates(df, target, exclude, config)
    X = pd.DataFrame(
        {f: as_categories(df[f]) if f in categorical else as_numbers(df[f], f) for f in features}, index=df.index
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=config.test_size, stratify=y, random_state=config.random_state
    )

    fit_params = {
        f: {"monotonic_trend": config.monotonic.get(f, config.default_trend)} for f in features if f not in categorical
    }
    bp = BinningProcess(
        variable_names=features,
        categorical_variables=categorical or None,
        max_n_bins=config.max_n_bins,
        min_bin_size=config.min_bin_size,
        selection_criteria={"iv": {"min": config.min_iv}},
        binning_fit_params=fit_params,
    )
    model = OptbScorecard(
        binning_process=bp,
        estimator=LogisticRegression(C=config.logistic_c, max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params={"pdo": config.pdo, "odds": config.base_odds, "scorecard_points": config.base_points},
        intercept_based=False,
        reverse_scorecard=False,
        rounding=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            model.fit(X_train, y_train, metric_special="empirical", metric_missing="empirical")
        except ValueError as exc:
            fitted = getattr(model, "binning_process_", None)
            if fitted is not None and not np.any(fitted.get_support()):
                raise ScorecardInputError(
                    f"no characteristic reaches IV {config.min_iv} on the training split"
                ) from exc
            raise

    summary = model.binning_process_.summary()
    characteristics = pd.DataFrame(
        {
            "feature": summary["name"].astype(str),
            "dtype": summary["dtype"].astype(str),
            "n_bins": summary["n_bins"].astype(int),
            "iv": summary["iv"].astype(float),
            "gini": summary["gini"].astype(float),
            "selected": summary["selected"].astype(bool),
            "monotonic": [
                config.monotonic.get(f, config.default_trend if f not in categorical else "") for f in summary["name"]
            ],
        }
    )
    selected = [f for f in features if f in set(model.binning_process_.get_support(names=True))]
    for f, iv in zip(characteristics["feature"], characteristics["iv"], strict=True):
        if f not in selected:
            excluded[f] = f"IV {iv:.4f} < {config.min_iv} on the training split"

    sc = Scorecard(
        model=model,
        config=config,
        target=target,
        features=selected,
        categorical=categorical,
        characteristics=characteristics,
        excluded=excluded,
        training_rows=len(y_train),
        bad_rate=float(np.mean(y_train)),
        created=dt.datetime.now(dt.UTC).replace(microsecond=0),
    )
    p_test = sc.score(X_test)["pd"].to_numpy()
    p_train = sc.score(X_train)["pd"].to_numpy()
    auc = auc_score(y_test, p_test)
    sc.metrics = {
        "auc": auc,
        "ks": ks_statistic(y_test, p_test),
        "gini": 2 * auc - 1,
        "auc_train": auc_score(y_train, p_train),
        "ks_train": ks_statistic(y_train, p_train),
        "holdout_rows": int(len(y_test)),
        "holdout_bad_rate": float(np.mean(y_test)),
        "training_rows": int(len(y_train)),
        "training_bad_rate": float(np.mean(y_train)),
    }
    sc.calibration = calibration_table(y_test, p_test)
    return sc
