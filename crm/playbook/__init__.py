"""The relationship playbook: early warnings and watch lists, cross-sell and supply-chain finance leads, the
revisit plan and manager scorecards. Plain pandas; every threshold in ``config.toml`` (with its version)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

CONFIG_PATH = Path(__file__).with_name("config.toml")


def load_config(path: str | Path = CONFIG_PATH) -> dict[str, Any]:
    """The parsed playbook configuration (``config.toml`` by default)."""
    with open(path, "rb") as fh:
        return tomllib.load(fh)
