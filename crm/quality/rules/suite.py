"""The rule suites: every rule of an extract (each dated from the columns it reads), all rules with their
ids checked unique, look-ups by extract and id, the deterministic suite version and the rule catalogue."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from functools import cache
from typing import Any

from crm.contract import BY_NAME, EXTRACTS, Extract
from crm.quality.rules.columns import column_rules
from crm.quality.rules.extracts import bank_rules, date_rules, key_rules, record_rules, reference_rules
from crm.quality.rules.model import ENGINE_VERSION, Rule


def _dated(e: Extract, rule: Rule) -> Rule:
    """``rule`` applying from the latest ``since`` of the columns it reads (unchanged when none has one)."""
    names = set(e.column_names)
    since = max((s for c in rule.columns if c in names and (s := e.column(c).since)), default=None)
    if since is None:
        return rule
    return dataclasses.replace(
        rule,
        since=since,
        description=f"{rule.description} Applies to files dated on or after {since} (自 {since} 起适用).",
    )


def rules_of(e: Extract) -> list[Rule]:
    """The rules that judge one declared extract (also one outside :data:`crm.contract.EXTRACTS`), by id."""
    rules = [
        *record_rules(e),
        *column_rules(e),
        *key_rules(e),
        *reference_rules(e),
        *date_rules(e),
        *bank_rules(e),
    ]
    return sorted((_dated(e, r) for r in rules), key=lambda r: r.id)


@cache
def _all_rules() -> tuple[Rule, ...]:
    rules = [r for e in EXTRACTS for r in rules_of(e)]
    dup = [k for k, n in Counter(r.id for r in rules).items() if n > 1]
    if dup:
        raise ValueError(f"duplicate rule ids: {dup}")
    return tuple(sorted(rules, key=lambda r: r.id))


def build_rules(extracts: Iterable[str] | None = None) -> list[Rule]:
    """All rules, sorted by id; only those of ``extracts`` if given."""
    if extracts is None:
        return list(_all_rules())
    wanted = set(extracts)
    unknown = wanted - set(BY_NAME)
    if unknown:
        raise KeyError(f"unknown extracts: {sorted(unknown)}")
    return [r for r in _all_rules() if r.extract in wanted]


def rules_for(extract: str) -> list[Rule]:
    """The rules that judge one extract, sorted by id."""
    return build_rules([extract])


def rule_by_id(rule_id: str) -> Rule:
    for r in _all_rules():
        if r.id == rule_id:
            return r
    raise KeyError(rule_id)


def suite_version(extract: str | None = None, rules: Iterable[Rule] | None = None) -> str:
    """Deterministic version of a suite: SHA-256 (first 16 hex digits) of the canonical JSON of the rule
    definitions and :data:`ENGINE_VERSION`. Per extract when ``extract`` is given, so a change to the loan
    rules does not re-version the customer suite."""
    if rules is None:
        rules = build_rules(None if extract is None else [extract])
    elif extract is not None:
        rules = [r for r in rules if r.extract == extract]
    payload = {
        "engine": ENGINE_VERSION,
        "rules": [r.definition() for r in sorted(rules, key=lambda r: r.id)],
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def rule_catalogue() -> list[dict[str, Any]]:
    """One dict per rule (id, extract, family, severity, description, columns), for docs and the warehouse."""
    return [
        {k: v for k, v in r.definition().items() if k not in ("kind", "params")} | {"columns": ", ".join(r.columns)}
        for r in _all_rules()
    ]
