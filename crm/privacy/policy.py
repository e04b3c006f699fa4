"""The privacy policy (``policy.toml`` next to this module): for every column of the extract contract, its
JR/T 0171 class and its treatment when rows leave the raw zone. Loaded and checked once; an incomplete or
inconsistent policy raises :class:`PolicyError`, which stops the definitions from loading."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from crm.contract import EXTRACTS
from crm.privacy.masks import MASKS
from crm.privacy.tokens import DOMAINS

POLICY_FILE = Path(__file__).with_name("policy.toml")
CLASSES = ("C1", "C2", "C3")
TREATMENTS = ("keep", "drop", "token", "mask", "generalise", "scrub")
GENERALISATIONS = ("age_band", "city")


class PolicyError(ValueError):
    """The policy file does not cover the contract, or an entry is malformed."""


@dataclass(frozen=True)
class ColumnPolicy:
    extract: str
    column: str
    pii_class: str
    treatment: str
    domain: str | None = None  # token
    display: str | None = None  # token: mask kind of an extra `<column>_masked` column
    mask: str | None = None  # mask
    to: str | None = None  # generalise
    source: str | None = None  # generalise to city: the column holding the city
    why: str | None = None

    @property
    def output_columns(self) -> list[str]:
        """The staged columns this column becomes."""
        if self.treatment == "drop":
            return []
        if self.treatment == "generalise" and self.to == "age_band":
            return ["age_band"]
        if self.treatment == "token" and self.display:
            return [self.column, f"{self.column}_masked"]
        return [self.column]


@dataclass(frozen=True)
class Policy:
    version: str
    columns: dict[str, dict[str, ColumnPolicy]]  # extract -> column -> policy

    def for_extract(self, extract: str) -> dict[str, ColumnPolicy]:
        return self.columns[extract]


def _entry(extract: str, column: str, raw: dict, contract_class: str, siblings: set[str]) -> ColumnPolicy:
    where = f"{POLICY_FILE.name} [{extract}] {column}"
    unknown = set(raw) - {"class", "treatment", "domain", "display", "mask", "to", "source", "why"}
    if unknown:
        raise PolicyError(f"{where}: unknown keys {sorted(unknown)}")
    cls, treatment = raw.get("class"), raw.get("treatment")
    if cls not in CLASSES:
        raise PolicyError(f"{where}: class must be one of {CLASSES}, not {cls!r}")
    if CLASSES.index(cls) < CLASSES.index(contract_class):
        raise PolicyError(f"{where}: class {cls} is below the contract's {contract_class}")
    if treatment not in TREATMENTS:
        raise PolicyError(f"{where}: treatment must be one of {TREATMENTS}, not {treatment!r}")
    p = ColumnPolicy(
        extract,
        column,
        cls,
        treatment,
        raw.get("domain"),
        raw.get("display"),
        raw.get("mask"),
        raw.get("to"),
        raw.get("source"),
        raw.get("why"),
    )
    if treatment == "token" and p.domain not in DOMAINS:
        raise PolicyError(f"{where}: a token needs domain = one of {DOMAINS}")
    if p.display is not None and p.display not in MASKS:
        raise PolicyError(f"{where}: display must be one of {MASKS}")
    if treatment == "mask" and p.mask not in MASKS:
        raise PolicyError(f"{where}: a mask needs mask = one of {MASKS}")
    if treatment == "generalise":
        if p.to not in GENERALISATIONS:
            raise PolicyError(f"{where}: generalise needs to = one of {GENERALISATIONS}")
        if p.to == "city" and p.source not in siblings:
            raise PolicyError(f"{where}: generalise to city needs source = a column of {extract}")
    if cls != "C1" and treatment == "keep" and not p.why:
        raise PolicyError(f"{where}: a {cls} column kept in clear needs a `why`")
    if cls == "C3" and treatment != "drop":
        raise PolicyError(f"{where}: C3 (authentication information) is always dropped")
    return p


def parse(text: str) -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"{POLICY_FILE.name}: {e}") from None
    version = data.pop("version", None)
    if not isinstance(version, str) or not version:
        raise PolicyError(f"{POLICY_FILE.name}: a `version` string is required")
    columns: dict[str, dict[str, ColumnPolicy]] = {}
    contract = {e.name: e for e in EXTRACTS}
    extra = set(data) - set(contract)
    if extra:
        raise PolicyError(f"{POLICY_FILE.name}: extracts not in the contract: {sorted(extra)}")
    missing: list[str] = []
    for e in EXTRACTS:
        entries = data.get(e.name, {})
        names = set(e.column_names)
        unknown = set(entries) - names
        if unknown:
            raise PolicyError(f"{POLICY_FILE.name} [{e.name}]: columns not in the contract: {sorted(unknown)}")
        missing += [f"{e.name}.{c}" for c in e.column_names if c not in entries]
        columns[e.name] = {
            c.name: _entry(e.name, c.name, entries[c.name], c.pii, names) for c in e.columns if c.name in entries
        }
    if missing:
        raise PolicyError(f"{POLICY_FILE.name}: no policy for contract columns {', '.join(missing)}")
    return Policy(version, columns)


@cache
def load_policy(path: Path = POLICY_FILE) -> Policy:
    return parse(path.read_text(encoding="utf-8"))
