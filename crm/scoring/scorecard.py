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

Heavy libraries (optbinning, scikit-learn, joblib, jinja2, scipy) are imported inside functions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

FORMAT_VERSION = 1
MODEL_FILE = "model.joblib"
JSON_FILE = "scorecard.json"
TABLE_FILE = "scorecard_table.csv"
CARD_FILE = "model_card.html"
N_REASONS = 4
# optbinning monotonic_trend values for numeric characteristics
TRENDS = ("ascending", "descending", "auto", "auto_heuristic", "auto_asc_desc", "concave", "convex", "peak",
          "valley", "peak_heuristic", "valley_heuristic")
MIN_CLASS_ROWS = 10
TEMPLATES = Path(__file__).resolve().parents[2] / "reports" / "templates"

# PD master scale: (grade, PD upper bound, inclusive). Fixed: grades keep their meaning across models.
MASTER_SCALE: tuple[tuple[str, float], ...] = (
    ("A1", 0.001), ("A2", 0.0025), ("A3", 0.005),
    ("B1", 0.01), ("B2", 0.02), ("B3", 0.04),
    ("C1", 0.08), ("C2", 0.15), ("C3", 0.30),
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


@dataclass
class ScorecardConfig:
    """Every setting of a scorecard fit, with its meaning.

    ``monotonic`` maps a numeric characteristic to an optbinning ``monotonic_trend`` ("ascending": the bad
    rate rises with the value; "descending": it falls); others get ``default_trend`` ("auto": optbinning
    chooses). ``categorical`` names columns binned as categories even when numeric (names absent from the
    data are ignored, so one list can serve several segments); text columns are always categorical.
    """

    base_points: float = 600.0     # score at odds base_odds
    base_odds: float = 50.0        # good:bad odds at base_points
    pdo: float = 20.0              # points to double the odds
    min_bin_size: float = 0.05     # minimum share of training rows per bin
    max_n_bins: int | None = 8     # maximum bins per characteristic
    test_size: float = 0.3         # held-out share (stratified)
    random_state: int = 42         # split seed
    monotonic: dict[str, str] = field(default_factory=dict)
    default_trend: str = "auto"
    categorical: list[str] = field(default_factory=list)
    min_iv: float = 0.02           # characteristics below this training IV are dropped
    max_categories: int = 50       # text columns with more distinct values are refused as identifier-like
    logistic_c: float = 1.0        # inverse L2 regularisation strength (scikit-learn's C)

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


# ---------------------------------------------------------------------------------------------- helpers


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
        raise ScorecardInputError(f"target column {name!r} is not binary 0/1: it holds {len(seen)} distinct "
                                  "values")
    text = s.astype(str).str.strip().str.lower()
    seen = set(text.unique().tolist())
    if seen <= {"0", "1"}:
        return (text == "1").to_numpy(dtype=np.int8)
    if seen <= {"good", "bad"}:
        return (text == "bad").to_numpy(dtype=np.int8)
    # the values themselves are not echoed: a wrong column may hold personal data
    raise ScorecardInputError(f"target column {name!r} is not binary: expected 0/1 or good/bad, found "
                              f"{len(seen)} distinct values")


def _as_categories(s: pd.Series) -> np.ndarray:
    """A categorical column as an object array of strings (NaN for missing). Integral numbers print without
    a decimal point, so a code read as 3 in one file and 3.0 in another (because of a gap) is one category."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = s.to_numpy(dtype=float, na_value=np.nan)
        finite = v[~np.isnan(v)]
        if len(finite) and np.all(finite == np.round(finite)):
            s = s.astype("Int64")
    out = s.astype("string").to_numpy(dtype=object, na_value=np.nan)
    return out


def _as_numbers(s: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=float, na_value=np.nan)
    num = pd.to_numeric(s, errors="coerce")
    bad = int((num.isna() & s.notna()).sum())
    if bad:
        raise ScorecardInputError(f"column {name!r} is numeric in the scorecard but {bad} values are not numbers")
    return num.to_numpy(dtype=float, na_value=np.nan)


def grade_for_pd(pd_values: np.ndarray | pd.Series) -> np.ndarray:
    """Master-scale grade per PD: the first grade whose PD upper bound is >= the PD."""
    bounds = np.array([b for _, b in MASTER_SCALE])
    names = np.array([g for g, _ in MASTER_SCALE], dtype=object)
    idx = np.searchsorted(bounds, np.clip(np.asarray(pd_values, dtype=float), 0.0, 1.0), side="left")
    return names[np.minimum(idx, len(names) - 1)]


def _ks(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def calibration_table(y: np.ndarray, pd_values: np.ndarray, groups: int = 10) -> pd.DataFrame:
    """Rows ranked by PD (ties in row order) and cut into ``groups`` equal-count groups (1 = lowest PD): count,
    PD range, predicted mean PD, observed bads and bad rate."""
    p = np.asarray(pd_values, dtype=float)
    rank = pd.Series(p).rank(method="first").to_numpy()
    decile = np.ceil(rank * groups / len(p)).astype(int)
    frame = pd.DataFrame({"decile": decile, "pd": p, "bad": np.asarray(y, dtype=float)})
    out = frame.groupby("decile").agg(count=("pd", "size"), pd_min=("pd", "min"), pd_max=("pd", "max"),
                                      predicted_pd=("pd", "mean"), bads=("bad", "sum"),
                                      observed_bad_rate=("bad", "mean")).reset_index()
    out["bads"] = out["bads"].astype(int)
    return out


def _bin_label(value) -> str:
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _jsonable(obj):
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if obj is pd.NA:
        return None
    return obj


def _records(frame: pd.DataFrame) -> list[dict]:
    return _jsonable(frame.to_dict(orient="records"))


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("optbinning", "scikit-learn", "numpy", "pandas", "joblib"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "absent"
    return out


# ---------------------------------------------------------------------------------------------- model


class Scorecard:
    """A fitted scorecard. Build it with :func:`fit_scorecard` or :meth:`Scorecard.load`.

    Attributes: ``config``, ``target``, ``features`` (selected characteristics, in model order),
    ``categorical`` (those binned as categories), ``table`` (one row per feature and bin: bin, counts, bad
    rate, WOE, IV, coefficient, points), ``characteristics`` (every candidate with IV, bins, selection),
    ``excluded`` (column -> reason), ``coefficients``, ``intercept``, ``metrics``, ``calibration``,
    ``training_rows``, ``bad_rate``, ``created``, ``version``.
    """

    def __init__(self, *, model, config: ScorecardConfig, target: str, features: list[str],
                 categorical: list[str], characteristics: pd.DataFrame, excluded: dict[str, str],
                 training_rows: int, bad_rate: float, created: dt.datetime):
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
            frames.append(pd.DataFrame({
                "feature": f, "bin_id": t["Bin id"].to_numpy(dtype=int), "kind": kind,
                "bin": [_bin_label(b) for b in t["Bin"]], "lower": lower, "upper": upper,
                "count": count.astype(int), "count_pct": t["Count (%)"].to_numpy(dtype=float),
                "goods": t["Non-event"].to_numpy(dtype=int), "bads": bads.astype(int), "bad_rate": bad_rate,
                "woe": t["WoE"].to_numpy(dtype=float), "iv": t["IV"].to_numpy(dtype=float),
                "coefficient": t["Coefficient"].to_numpy(dtype=float), "points": t["Points"].to_numpy(dtype=float),
            }))
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
            neutral = (-(self.coefficients[f] * 0.0 + self.intercept / n) * self.factor + self.offset / n)
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
            x = _as_categories(df[f]) if f in self.categorical else _as_numbers(df[f], f)
            out[f] = np.asarray(bp.get_binned_variable(f).transform(
                x, metric="indices", metric_special="empirical", metric_missing="empirical"), dtype=np.int64)
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
        cfg = asdict(self.config)
        return _jsonable({
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "created": self.created.isoformat(),
            "target": self.target,
            "conventions": {**CONVENTIONS, "base_points": self.config.base_points,
                            "base_odds": self.config.base_odds, "pdo": self.config.pdo,
                            "factor": self.factor, "offset": self.offset},
            "config": cfg,
            "features": self.features,
            "categorical": self.categorical,
            "excluded": self.excluded,
            "intercept": self.intercept,
            "coefficients": self.coefficients,
            "training_rows": self.training_rows,
            "bad_rate": self.bad_rate,
            "metrics": self.metrics,
            "calibration": _records(self.calibration),
            "master_scale": _records(self.master_scale()),
            "characteristics": _records(self.characteristics),
            "bins": _records(self.table),
            "libraries": _library_versions(),
        })

    def model_card_html(self) -> str:
        """The model card (HTML, from ``reports/templates/model_card.html.j2``): bins, WOE, IV, coefficients,
        hold-out metrics, calibration, master scale, conventions, exclusions. Aggregates only."""
        import jinja2

        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.filters["num"] = _fmt_num
        env.filters["pct"] = _fmt_pct
        max_woe = float(np.nanmax(np.abs(self.table["woe"]))) or 1.0
        bins = []
        for f in self.features:
            rows = self.table[self.table["feature"] == f].to_dict(orient="records")
            for r in rows:
                w = float(r["woe"]) / max_woe * 50.0
                r["bar_x"], r["bar_w"] = (50.0, w) if w >= 0 else (50.0 + w, -w)
            bins.append({"feature": f, "categorical": f in self.categorical, "rows": rows,
                         "coefficient": self.coefficients[f],
                         "iv": float(self.table.loc[self.table["feature"] == f, "iv"].sum()),
                         "monotonic": self.config.monotonic.get(f)})
        return env.get_template("model_card.html.j2").render(
            sc=self, conventions=CONVENTIONS, bins=bins,
            characteristics=self.characteristics.to_dict(orient="records"),
            calibration=self.calibration.to_dict(orient="records"),
            master_scale=self.master_scale().to_dict(orient="records"),
            excluded=sorted(self.excluded.items()),
            wrong_sign=[f for f, c in self.coefficients.items() if c > 0],
        )

    # -- persistence
    def save(self, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Write the versioned model directory: ``model.joblib`` (this object), ``scorecard.json`` (everything
        readable, with the pickle's sha256), ``scorecard_table.csv`` (formula-safe, :func:`crm.exports.write_csv`:
        bin labels can carry data values) and ``model_card.html``. An existing model directory is not
        overwritten unless ``overwrite``; a file a symlink leads out of the directory is refused
        (:class:`crm.zones.UnsafePathError`)."""
        import joblib

        from crm.exports import write_csv
        from crm.zones import safe_path

        d = Path(directory)
        if (d / JSON_FILE).exists() and not overwrite:
            raise FileExistsError(f"{d} already holds a scorecard ({JSON_FILE}); choose a new directory")
        d.mkdir(parents=True, exist_ok=True)
        model, table, card, json_file, tmp = (
            safe_path(d, name, origin="the scorecard's model directory")
            for name in (MODEL_FILE, TABLE_FILE, CARD_FILE, JSON_FILE, JSON_FILE + ".tmp"))
        joblib.dump(self, model)
        payload = self.to_dict()
        payload["model_file"] = {"name": MODEL_FILE, "sha256": _sha256(model)}
        write_csv(self.table, table)
        card.write_text(self.model_card_html(), encoding="utf-8")
        tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2, allow_nan=False), encoding="utf-8")
        tmp.replace(json_file)
        return d

    @classmethod
    def load(cls, directory: str | Path) -> Scorecard:
        """Load a model directory written by :meth:`save`, after checking the pickle's sha256 against
        ``scorecard.json`` (integrity, not a defence against someone who can rewrite both files: only
        load model directories from the bank's own model store). The model file named in the JSON must be a
        plain file name inside the directory (:func:`crm.zones.safe_path`)."""
        import joblib

        from crm.zones import safe_path

        d = Path(directory)
        if not (d / JSON_FILE).is_file():
            raise ScorecardInputError(f"{d} is not a scorecard directory (no {JSON_FILE})")
        meta = json.loads((d / JSON_FILE).read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ScorecardInputError(f"{d}: unsupported scorecard format {meta.get('format_version')!r}")
        model = safe_path(d, meta["model_file"]["name"], origin=f"{JSON_FILE} (model_file.name)")
        expected = meta["model_file"]["sha256"]
        actual = _sha256(model)
        if actual != expected:
            raise ScorecardInputError(f"{d}: {MODEL_FILE} sha256 {actual[:12]}... does not match {JSON_FILE} "
                                      f"({expected[:12]}...): the model file was changed or corrupted")
        obj = joblib.load(model)
        if not isinstance(obj, cls) or obj.version != meta["version"]:
            raise ScorecardInputError(f"{d}: {MODEL_FILE} is not the scorecard {meta['version']}")
        now = _library_versions()
        changed = {k: (v, now.get(k)) for k, v in meta.get("libraries", {}).items() if now.get(k) != v}
        if changed:
            warnings.warn(f"scorecard {obj.version} was saved with other library versions: {changed}",
                          stacklevel=2)
        return obj


def _fmt_num(value, digits: int = 4) -> str:
    if value is None:
        return ""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return ""
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:,.{digits}f}"


def _fmt_pct(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{float(value) * 100:.{digits}f}%"


# ---------------------------------------------------------------------------------------------- fitting


def _candidates(df: pd.DataFrame, target: str, exclude: Iterable[str], config: ScorecardConfig
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
                excluded[c] = (f"{distinct} distinct values: identifier-like, not binned "
                               f"(max_categories={config.max_categories})")
                continue
            if c in config.monotonic:
                raise ScorecardInputError(f"monotonic trend declared for the categorical column {c!r}")
            categorical.append(c)
        features.append(c)
    if not features:
        raise ScorecardInputError("no usable characteristic columns besides the target")
    return features, categorical, excluded


def fit_scorecard(df: pd.DataFrame, target: str, *, exclude: Iterable[str] = (),
                  config: ScorecardConfig | None = None) -> Scorecard:
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
        raise ScorecardInputError(f"target column {target!r} is not in the data "
                                  f"(columns: {', '.join(map(str, df.columns[:20]))})")
    absent = [c for c in exclude if c not in df.columns]
    if absent:
        raise ScorecardInputError(f"excluded columns not in the data: {', '.join(map(str, absent))}")
    y = binary_target(df[target], target)
    n_bad, n_good = int(y.sum()), int(len(y) - y.sum())
    if min(n_bad, n_good) < MIN_CLASS_ROWS:
        raise ScorecardInputError(f"target column {target!r} needs at least {MIN_CLASS_ROWS} goods and "
                                  f"{MIN_CLASS_ROWS} bads, has {n_good} and {n_bad}")
    features, categorical, excluded = _candidates(df, target, exclude, config)
    X = pd.DataFrame({f: _as_categories(df[f]) if f in categorical else _as_numbers(df[f], f) for f in features},
                     index=df.index)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=config.test_size, stratify=y, random_state=config.random_state)

    fit_params = {f: {"monotonic_trend": config.monotonic.get(f, config.default_trend)}
                  for f in features if f not in categorical}
    bp = BinningProcess(variable_names=features, categorical_variables=categorical or None,
                        max_n_bins=config.max_n_bins, min_bin_size=config.min_bin_size,
                        selection_criteria={"iv": {"min": config.min_iv}}, binning_fit_params=fit_params)
    model = OptbScorecard(
        binning_process=bp,
        estimator=LogisticRegression(C=config.logistic_c, max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params={"pdo": config.pdo, "odds": config.base_odds, "scorecard_points": config.base_points},
        intercept_based=False, reverse_scorecard=False, rounding=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            model.fit(X_train, y_train, metric_special="empirical", metric_missing="empirical")
        except ValueError as exc:
            fitted = getattr(model, "binning_process_", None)
            if fitted is not None and not np.any(fitted.get_support()):
                raise ScorecardInputError(f"no characteristic reaches IV {config.min_iv} on the training split") \
                    from exc
            raise

    summary = model.binning_process_.summary()
    characteristics = pd.DataFrame({
        "feature": summary["name"].astype(str),
        "dtype": summary["dtype"].astype(str),
        "n_bins": summary["n_bins"].astype(int),
        "iv": summary["iv"].astype(float),
        "gini": summary["gini"].astype(float),
        "selected": summary["selected"].astype(bool),
        "monotonic": [config.monotonic.get(f, config.default_trend if f not in categorical else "")
                      for f in summary["name"]],
    })
    selected = [f for f in features if f in set(model.binning_process_.get_support(names=True))]
    for f, iv in zip(characteristics["feature"], characteristics["iv"], strict=True):
        if f not in selected:
            excluded[f] = f"IV {iv:.4f} < {config.min_iv} on the training split"

    sc = Scorecard(model=model, config=config, target=target, features=selected, categorical=categorical,
                   characteristics=characteristics, excluded=excluded, training_rows=len(y_train),
                   bad_rate=float(np.mean(y_train)), created=dt.datetime.now(dt.UTC).replace(microsecond=0))
    p_test = sc.score(X_test)["pd"].to_numpy()
    p_train = sc.score(X_train)["pd"].to_numpy()
    auc = _auc(y_test, p_test)
    sc.metrics = {
        "auc": auc, "ks": _ks(y_test, p_test), "gini": 2 * auc - 1,
        "auc_train": _auc(y_train, p_train), "ks_train": _ks(y_train, p_train),
        "holdout_rows": int(len(y_test)), "holdout_bad_rate": float(np.mean(y_test)),
        "training_rows": int(len(y_train)), "training_bad_rate": float(np.mean(y_train)),
    }
    sc.calibration = calibration_table(y_test, p_test)
    return sc
