"""A scorecard's model directory: the readable JSON description, the model card (HTML), and writing and
loading the directory with the pickle's integrity check. :meth:`crm.scoring.scorecard.Scorecard.save`,
``load``, ``to_dict`` and ``model_card_html`` call these; ``sc`` is a fitted
:class:`crm.scoring.scorecard.Scorecard` (not imported here: that module imports this one).

joblib and jinja2 are imported inside the functions."""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from crm.scoring.scorecard_conventions import (
    CARD_FILE,
    CONVENTIONS,
    FORMAT_VERSION,
    JSON_FILE,
    MODEL_FILE,
    TABLE_FILE,
    ScorecardInputError,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "reports" / "templates"


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


def scorecard_dict(sc) -> dict:
    """Everything readable about ``sc``, JSON-able: conventions, config, features, coefficients, metrics,
    calibration, master scale, characteristics, bins and library versions (``scorecard.json``)."""
    cfg = asdict(sc.config)
    return _jsonable(
        {
            "format_version": FORMAT_VERSION,
            "version": sc.version,
            "created": sc.created.isoformat(),
            "target": sc.target,
            "conventions": {
                **CONVENTIONS,
                "base_points": sc.config.base_points,
                "base_odds": sc.config.base_odds,
                "pdo": sc.config.pdo,
                "factor": sc.factor,
                "offset": sc.offset,
            },
            "config": cfg,
            "features": sc.features,
            "categorical": sc.categorical,
            "excluded": sc.excluded,
            "intercept": sc.intercept,
            "coefficients": sc.coefficients,
            "training_rows": sc.training_rows,
            "bad_rate": sc.bad_rate,
            "metrics": sc.metrics,
            "calibration": _records(sc.calibration),
            "master_scale": _records(sc.master_scale()),
            "characteristics": _records(sc.characteristics),
            "bins": _records(sc.table),
            "libraries": _library_versions(),
            # an out-of-time validation attached by the caller (the churn model: crm.playbook.churn), if any
            "validation": getattr(sc, "validation", None),
        }
    )


def model_card_html(sc) -> str:
    """The model card (HTML, from ``reports/templates/model_card.html.j2``): bins, WOE, IV, coefficients,
    hold-out metrics, calibration, master scale, conventions, exclusions. Aggregates only."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _fmt_num
    env.filters["pct"] = _fmt_pct
    max_woe = float(np.nanmax(np.abs(sc.table["woe"]))) or 1.0
    bins = []
    for f in sc.features:
        rows = sc.table[sc.table["feature"] == f].to_dict(orient="records")
        for r in rows:
            w = float(r["woe"]) / max_woe * 50.0
            r["bar_x"], r["bar_w"] = (50.0, w) if w >= 0 else (50.0 + w, -w)
        bins.append(
            {
                "feature": f,
                "categorical": f in sc.categorical,
                "rows": rows,
                "coefficient": sc.coefficients[f],
                "iv": float(sc.table.loc[sc.table["feature"] == f, "iv"].sum()),
                "monotonic": sc.config.monotonic.get(f),
            }
        )
    return env.get_template("model_card.html.j2").render(
        sc=sc,
        conventions=CONVENTIONS,
        bins=bins,
        characteristics=sc.characteristics.to_dict(orient="records"),
        calibration=sc.calibration.to_dict(orient="records"),
        master_scale=sc.master_scale().to_dict(orient="records"),
        excluded=sorted(sc.excluded.items()),
        wrong_sign=[f for f, c in sc.coefficients.items() if c > 0],
        validation=getattr(sc, "validation", None),
    )


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


def save_scorecard(sc, directory: str | Path, *, overwrite: bool = False) -> Path:
    """Write the versioned model directory: ``model.joblib`` (``sc`` itself), ``scorecard.json`` (everything
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
        for name in (MODEL_FILE, TABLE_FILE, CARD_FILE, JSON_FILE, JSON_FILE + ".tmp")
    )
    joblib.dump(sc, model)
    payload = scorecard_dict(sc)
    payload["model_file"] = {"name": MODEL_FILE, "sha256": _sha256(model)}
    write_csv(sc.table, table)
    card.write_text(model_card_html(sc), encoding="utf-8")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2, allow_nan=False), encoding="utf-8")
    tmp.replace(json_file)
    return d


def load_scorecard(cls: type, directory: str | Path):
    """Load a model directory written by :func:`save_scorecard`, after checking the pickle's sha256 against
    ``scorecard.json`` (integrity, not a defence against someone who can rewrite both files: only load model
    directories from the bank's own model store), and that it holds an instance of ``cls`` (the
    ``Scorecard`` class). The model file named in the JSON must be a plain file name inside the directory
    (:func:`crm.zones.safe_path`)."""
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
        raise ScorecardInputError(
            f"{d}: {MODEL_FILE} sha256 {actual[:12]}... does not match {JSON_FILE} "
            f"({expected[:12]}...): the model file was changed or corrupted"
        )
    obj = joblib.load(model)
    if not isinstance(obj, cls) or obj.version != meta["version"]:
        raise ScorecardInputError(f"{d}: {MODEL_FILE} is not the scorecard {meta['version']}")
    now = _library_versions()
    changed = {k: (v, now.get(k)) for k, v in meta.get("libraries", {}).items() if now.get(k) != v}
    if changed:
        # stacklevel 3: the warning points at the caller of Scorecard.load, which calls this
        warnings.warn(f"scorecard {obj.version} was saved with other library versions: {changed}", stacklevel=3)
    return obj
