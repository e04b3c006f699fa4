"""Data-quality rules, generated from the extract contract plus the bank's own rules.

Every rule has a stable id ``<extract>.<column or topic>.<check>``, the extract it judges, a family, a
severity, a plain-language description (English, with the Chinese business term) and the columns it reads.
``kind`` and ``params`` say how it is evaluated; both evaluators (:mod:`crm.quality.evaluate`, plain pandas,
and :mod:`crm.quality.gx`, Great Expectations) read the same rule objects.

Conventions every rule follows, so that each failure has one reason:

- A rule only judges the values it is about: a null passes every rule except ``not_null`` (mandatory
  fields) and a value of the wrong type is null after parsing (reported by the ``type`` rule, and by
  ``not_null`` when the field is mandatory).
- ``critical`` failures quarantine the row; ``warning`` failures are counted and the row goes on.
- Rules that read several extracts (references) are evaluated against the other extracts of the *same*
  business date; when a referenced extract is absent the rule is not evaluated (the missing extract is an
  arrival problem, recorded elsewhere), rather than failing every row.

Rule families: completeness, type, code_set, range, length, uniqueness, format (check digits, mobile and
e-mail shapes, and the identifier patterns of ``crm/contract/identifiers.toml``), text (control and format
characters, by the column's text policy: see :mod:`crm.quality.text`), referential, date_order, consistency.

A rule reading a column the bank sends only from a date (the column's ``since``, see
:mod:`crm.contract.model`) carries that date as its own ``since``: it is not applied to the rows of an earlier
business date, whose files do not have the column (the evaluators report it as not evaluated there).

Regular expressions are written for Python's ``re`` (pandas and Great Expectations on pandas use it) and are
anchored with ``\\Z``, never ``$``: ``$`` also matches before a trailing newline, so ``^...$`` would accept
``"a@b.cn\\n"``.

The package: :mod:`~crm.quality.rules.model` (the :class:`Rule`, families, severities, engine version),
:mod:`~crm.quality.rules.columns` (the rules of one column), :mod:`~crm.quality.rules.extracts` (rules of a
row or an extract: field count, key, references, date order, the bank's consistency rules) and
:mod:`~crm.quality.rules.suite` (all rules, look-ups, suite versions, the catalogue). Import the names from
here.
"""

from crm.quality.rules.columns import EMAIL_REGEX
from crm.quality.rules.extracts import (
    BALANCE_SHEET_TOLERANCE,
    DATE_ORDER,
    FIVE_CLASS_FLOOR,
    NOT_AFTER_BUSINESS_DATE,
)
from crm.quality.rules.model import (
    DEFECT_FAMILY,
    ENGINE_VERSION,
    FAMILIES,
    FILE_LEVEL_DEFECTS,
    NATIVE_KINDS,
    SEVERITIES,
    Family,
    Rule,
    Severity,
    type_error_regex,
)
from crm.quality.rules.suite import (
    build_rules,
    rule_by_id,
    rule_catalogue,
    rules_for,
    rules_of,
    suite_version,
)

__all__ = [
    "BALANCE_SHEET_TOLERANCE",
    "DATE_ORDER",
    "DEFECT_FAMILY",
    "EMAIL_REGEX",
    "ENGINE_VERSION",
    "FAMILIES",
    "FILE_LEVEL_DEFECTS",
    "FIVE_CLASS_FLOOR",
    "NATIVE_KINDS",
    "NOT_AFTER_BUSINESS_DATE",
    "SEVERITIES",
    "Family",
    "Rule",
    "Severity",
    "build_rules",
    "rule_by_id",
    "rule_catalogue",
    "rules_for",
    "rules_of",
    "suite_version",
    "type_error_regex",
]
