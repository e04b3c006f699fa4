"""Data quality for the raw zone: rules generated from the extract contract and the bank's own rules, two
evaluators of the same rules (plain vectorised pandas, and Great Expectations 1.x), the row outcome
(accepted or quarantined with every failing rule id) and a deterministic suite version for the audit trail.

Great Expectations is imported lazily, inside :mod:`crm.quality.gx` functions only.
"""

from crm.quality.evaluate import Evaluation, evaluate_pandas, prepare
from crm.quality.gx import build_suite, evaluate_gx
from crm.quality.outcome import RowOutcome, decide, decide_all, decide_from, summarise
from crm.quality.rules import (
    DEFECT_FAMILY,
    FAMILIES,
    Rule,
    build_rules,
    rule_by_id,
    rule_catalogue,
    rules_for,
    suite_version,
)

__all__ = [
    "DEFECT_FAMILY",
    "FAMILIES",
    "Evaluation",
    "Rule",
    "RowOutcome",
    "build_rules",
    "build_suite",
    "decide",
    "decide_all",
    "decide_from",
    "evaluate_gx",
    "evaluate_pandas",
    "prepare",
    "rule_by_id",
    "rule_catalogue",
    "rules_for",
    "suite_version",
    "summarise",
]
