"""The rows a rule of one extract looks up in other extracts of the same business date (reference rules:
a loan's customer must be in the customer master), read from the raw zone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from crm.quality.rules import rules_for
from crm.zones import raw_file


def reference_targets(extract: str) -> list[str]:
    """The other extracts whose keys the rules of ``extract`` look up (same business date)."""
    out: list[str] = []
    for r in rules_for(extract):
        if r.kind == "reference":
            out.extend(t for t in r.params["targets"] if t != extract and t not in out)
    return out


def load_frames(raw: Path, extract: str, day: dt.date) -> dict[str, pd.DataFrame]:
    """The raw rows of ``extract`` and of the extracts it references, for one business date. A referenced
    extract with no raw file is left out (its reference rules are then reported as not evaluated)."""
    own = raw_file(raw, extract, day)
    if not own.exists():
        raise FileNotFoundError(f"{extract} {day}: no raw file {own} (not ingested, or its file was rejected)")
    return {extract: pd.read_parquet(own), **reference_frames(raw, extract, day)}


def reference_frames(raw: Path, extract: str, day: dt.date) -> dict[str, pd.DataFrame]:
    """The key columns of the other extracts ``extract`` references, for one business date (those with a raw
    file): references need nothing else."""
    frames = {}
    for target in reference_targets(extract):
        path = raw_file(raw, target, day)
        if path.exists():
            keys = sorted(
                {
                    c
                    for r in rules_for(extract)
                    if r.kind == "reference" and target in r.params["targets"]
                    for c in r.params["ref_columns"]
                }
            )
            frames[target] = pd.read_parquet(path, columns=keys)
    return frames
