"""Report settings (``crm/reports/config.toml``): the thresholds that colour tiles and rows, and layout limits.

``tone(name, value)`` applies the ``[tone.<name>]`` rules: the first whose condition holds gives the tone, else
the default; a missing value (None, NaN) gets the default. Templates call it as a global (``tone("npl_share",
s.npl_share)``) so that no threshold lives in a template. ``settings()`` is the parsed file (cached).
"""

from __future__ import annotations

import math
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

CONFIG_PATH = Path(__file__).with_name("config.toml")
_CONDITIONS = {
    "above": lambda v, x: v > x,
    "at_least": lambda v, x: v >= x,
    "below": lambda v, x: v < x,
    "at_most": lambda v, x: v <= x,
}
TONES = {"", "ok", "warn", "bad", "muted"}


@cache
def settings(path: Path = CONFIG_PATH) -> dict[str, Any]:
    """The parsed report settings; ``ValueError`` on a tone rule that is not one known condition and a tone."""
    with path.open("rb") as fh:
        cfg = tomllib.load(fh)
    for name, spec in cfg.get("tone", {}).items():
        if spec.get("default", "") not in TONES:
            raise ValueError(f"{path.name}: tone.{name}: unknown default tone {spec.get('default')!r}")
        for rule in spec.get("rules", []):
            conds = set(rule) - {"tone"}
            if len(conds) != 1 or not conds <= set(_CONDITIONS) or rule.get("tone") not in TONES:
                raise ValueError(f"{path.name}: tone.{name}: a rule is one of {sorted(_CONDITIONS)} and a tone")
    return cfg


def tone(name: str, value: Any) -> str:
    """The tone of ``value`` under ``[tone.<name>]``; ``KeyError`` for a name the file does not define."""
    spec = settings()["tone"][name]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return spec.get("default", "")
    for rule in spec.get("rules", []):
        ((cond, limit),) = ((k, v) for k, v in rule.items() if k != "tone")
        if _CONDITIONS[cond](value, limit):
            return rule["tone"]
    return spec.get("default", "")
