"""The scorecard model registry under ``CRM_HOME/models/scorecard/<segment>/``.

Each training writes a new version directory ``<YYYYMM of the as-of month>-<scorecard version>`` holding the
scorecard (``crm.scoring.scorecard.Scorecard.save``) and ``development_sample.parquet`` (the development
rows' characteristics and scores, no identifier: the baseline for drift). ``APPROVED`` names the version
scoring uses; it changes only by :func:`approve` (``crm scorecard approve``), or, locally, the first version
of a segment is approved automatically.

Every path of the registry is built by :func:`crm.zones.safe_path` inside ``models``: a segment or version
name that is not a plain folder name (an ``APPROVED`` file holding ``../x``, say) or a symlink leading out
of the models folder raises :class:`crm.zones.UnsafePathError`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from crm.zones import safe_path

DEV_SAMPLE = "development_sample.parquet"
APPROVED = "APPROVED"


def segment_dir(models: Path, segment: str) -> Path:
    return safe_path(models, "scorecard", segment, origin="the scorecard segment name")


def version_dir(models: Path, segment: str, version: str, origin: str = "the scorecard version name") -> Path:
    """``models/scorecard/<segment>/<version>``, inside ``models`` (``origin``: where ``version`` came from)."""
    return safe_path(models, "scorecard", segment, version, origin=origin)


def versions(models: Path, segment: str) -> list[str]:
    d = segment_dir(models, segment)
    return sorted(p.name for p in d.iterdir() if p.is_dir() and (p / "scorecard.json").exists()) if d.is_dir() else []


def approved_version(models: Path, segment: str) -> str | None:
    path = safe_path(models, "scorecard", segment, APPROVED, origin="the scorecard segment name")
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def approve(models: Path, segment: str, version: str) -> Path:
    """Make ``version`` the one scoring uses (atomic write of ``APPROVED``)."""
    if version not in versions(models, segment):
        raise FileNotFoundError(
            f"no scorecard version {version!r} for segment {segment!r}; "
            f"known: {', '.join(versions(models, segment)) or 'none'}"
        )
    path = safe_path(models, "scorecard", segment, APPROVED, origin="the scorecard segment name")
    tmp = safe_path(models, "scorecard", segment, APPROVED + ".tmp", origin="the scorecard segment name")
    tmp.write_text(version + "\n", encoding="utf-8")
    tmp.replace(path)
    return version_dir(models, segment, version)


def save_version(models: Path, segment: str, as_of: dt.date, scorecard, development: pd.DataFrame) -> str:
    """Save a trained scorecard and its development rows (characteristics + ``score``) as a new version."""
    version = f"{as_of:%Y%m}-{scorecard.version}"
    target = version_dir(models, segment, version, origin="the trained scorecard's version")
    scorecard.save(target)
    development.to_parquet(safe_path(target, DEV_SAMPLE, origin="the trained scorecard's version"), index=False)
    return version


def load_approved(models: Path, segment: str):
    """(version, Scorecard, development rows) of the approved version; a clear error when there is none."""
    from crm.scoring.scorecard import Scorecard

    version = approved_version(models, segment)
    if version is None:
        raise FileNotFoundError(
            f"no approved {segment} scorecard under {segment_dir(models, segment)}: review a version's model "
            f"card, then `crm scorecard approve --segment {segment} --version <version>`"
        )
    origin = f"the {APPROVED} file of the {segment} scorecards"
    d = version_dir(models, segment, version, origin=origin)
    return version, Scorecard.load(d), pd.read_parquet(safe_path(d, DEV_SAMPLE, origin=origin))


def score_rows(month_end: dt.date, segment: str, version: str, customer_ids, scores: pd.DataFrame) -> pd.DataFrame:
    """The ``credit_scores`` rows of one segment at ``month_end``: customer_id, the scorecard ``version``, the
    score (to one decimal), PD, grade and the reason codes (``reason_*``) of ``scores`` (``Scorecard.score``
    of the customers ``customer_ids``, in their order)."""
    reasons = [c for c in scores.columns if c.startswith("reason_")]
    return pd.DataFrame(
        {
            "month_end": month_end,
            "segment": segment,
            "customer_id": customer_ids.to_numpy(),
            "model_version": version,
            "score": scores["score"].round(1).to_numpy(),
            "pd": scores["pd"].to_numpy(),
            "grade": scores["grade"].to_numpy(),
            **{c: scores[c].to_numpy() for c in reasons},
        }
    )
