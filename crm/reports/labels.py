"""What a reader sees instead of a program's codes: code labels, reason codes, early-warning evidence as
sentences, all in the reader's language (``t`` is :func:`crm.reports.i18n.translator`, ``fmt`` a
:class:`crm.reports.fmt.Formatter`). Plain functions, no Dagster, no warehouse: ``prepare`` steps of the
reports call them in the rendering worker.

Labels live in ``messages_codes.toml`` (prefixes ``code.``, ``reason.``, ``ew.``):

- ``code.<set>.<code>``: the code sets of the extract contract (:mod:`crm.contract.codes`, their Chinese
  labels) and a few of the pipeline's own (``ratio_flag``, ``dq_family``, ``reject_reason``,
  ``ingest_status``). Sets the portfolio catalogue already labels are read from there, so that one code has
  one label: ``tier`` (``tier.*``), ``segment`` and ``value_segment`` (``segment.*``), ``lifecycle_stage``
  (``stage.*``), ``severity`` (``severity.*``), ``product_family`` (``family.*``), ``dq_severity``
  (``dq.severity.*``), ``arrival_status`` (``dq.status.*``).
- ``reason.<characteristic>``: every characteristic a scorecard can give as a reason code.
- ``ew.evidence.EW01`` .. ``EW10``: one sentence per early-warning rule, filled from the rule's
  ``evidence_args`` (:mod:`crm.playbook.warnings`), numbers formatted by ``fmt``.

Nothing here raises on an unknown code: a code without a label is shown as the code (so a new code in an
extract never stops a report; the zh_CN identifier test, ``tests/reports/language.py``, finds it instead).
Missing values (None, NaN) are an em dash.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from crm.reports.i18n import MissingMessage

DASH = "—"
Translate = Callable[..., str]

# code sets whose labels already exist under another prefix of the catalogue (one label per code)
ALIASES: dict[str, str] = {
    "tier": "tier.",
    "segment": "segment.",
    "value_segment": "segment.",
    "lifecycle_stage": "stage.",
    "stage": "stage.",
    "severity": "severity.",
    "product_family": "family.",
    "dq_severity": "dq.severity.",
    "arrival_status": "dq.status.",
}

# per rule: the evidence_args fields of its sentence and how each is formatted
#   ("int",) whole number  ("num", d) d decimals  ("money", unit)  ("pct", d)  ("text",)
#   ("code", set) a code label  ("codes", set) a list of codes  ("period",) a statement date
EVIDENCE_FIELDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "EW01": {"days_before": ("int",), "days_now": ("int",), "overdue_amount": ("money", "yuan")},
    "EW02": {"days_before": ("int",), "days_now": ("int",)},
    "EW03": {"grade_before": ("text",), "grade_now": ("text",)},
    "EW04": {"score_before": ("num", 1), "score_now": ("num", 1)},
    "EW05": {
        "psi": ("num", 3),
        "p_value": ("num", 4),
        "recent_transactions": ("int",),
        "baseline_transactions": ("int",),
    },
    "EW06": {"balance_before": ("money", "wan"), "balance_now": ("money", "wan"), "drop_share": ("pct", 1)},
    "EW07": {"period": ("period",), "flags": ("codes", "ratio_flag")},
    "EW08": {"inquiries_before": ("int",), "inquiries_now": ("int",)},
    "EW09": {
        "loans_before": ("int",),
        "loans_now": ("int",),
        "balance_before": ("money", "wan"),
        "balance_now": ("money", "wan"),
    },
    "EW10": {
        "relation": ("code", "relation_type"),
        "related_ref": ("text",),
        "days": ("int",),
        "five_class": ("code", "five_class"),
    },
}


def _missing(value: Any) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def _code_text(code: Any) -> str:
    """A code as the catalogue spells it: ``1.0`` (a class code read as a number) is ``1``."""
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code).strip()


def _lookup(key: str, t: Translate) -> str | None:
    try:
        return t(key)
    except MissingMessage:
        return None


def code_label(code_set: str, code: Any, t: Translate) -> str:
    """The label of ``code`` in ``code_set`` (``code.<set>.<code>``; see :data:`ALIASES`): ``code_label(
    "industry", "C", t) == "制造业"``. None, NaN or an empty code is "—"; a code without a label is the code."""
    if _missing(code):
        return DASH
    text = _code_text(code)
    if not text:
        return DASH
    return _lookup(ALIASES.get(code_set, f"code.{code_set}.") + text, t) or text


def _split(codes: Any) -> list[Any]:
    if _missing(codes):
        return []
    if isinstance(codes, str):
        return [c.strip() for c in codes.split(",") if c.strip()]
    return [c for c in codes if not _missing(c) and _code_text(c)]


def codes_label(code_set: str, codes: str | Iterable[Any] | None, t: Translate) -> str:
    """Several codes (a comma-separated text or a list) as one text in the reader's language: ``codes_label(
    "product_family", "CARD,DEP,LOAN", t)`` is ``信用卡、存款、贷款`` / ``Credit card, Deposits, Loans``
    (separator ``code.sep``). No code: "—"."""
    labels = [code_label(code_set, c, t) for c in _split(codes)]
    return t("code.sep").join(labels) if labels else DASH


def reason_label(code: Any, t: Translate) -> str:
    """A scorecard characteristic given as a reason code (``annual_income`` -> 年收入 / Annual income);
    "—" for none, the code itself when it has no label (a scorecard fitted on another table)."""
    if _missing(code) or not str(code).strip():
        return DASH
    text = str(code).strip()
    return _lookup(f"reason.{text}", t) or text


def rule_label(rule_id: Any, t: Translate) -> str:
    """An early-warning rule's name (``rule.EW01`` of the portfolio catalogue: 新增逾期); the id if unknown."""
    if _missing(rule_id):
        return DASH
    return _lookup(f"rule.{rule_id}", t) or str(rule_id)


def _args(args: Mapping[str, Any] | str | None) -> dict[str, Any]:
    if _missing(args) or args == "":
        return {}
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return {}
    return dict(args) if isinstance(args, Mapping) else {}


def _period(value: Any, fmt: Any) -> str:
    if _missing(value) or value == "":
        return DASH
    try:
        return fmt.date(dt.date.fromisoformat(str(value)[:10]), "long")
    except ValueError:
        return str(value)


def _field(spec: tuple[Any, ...], value: Any, fmt: Any, t: Translate) -> str:
    kind = spec[0]
    if kind == "codes":
        return codes_label(spec[1], value, t)
    if kind == "code":
        return code_label(spec[1], value, t)
    if kind == "period":
        return _period(value, fmt)
    if _missing(value):
        return DASH
    if kind == "text":
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if kind == "int":
        return fmt.number(number, 0)
    if kind == "num":
        return fmt.number(number, spec[1])
    if kind == "pct":
        return fmt.percent(number, spec[1])
    if kind == "money":
        return fmt.money(number, unit=spec[1])
    raise ValueError(f"unknown evidence field kind {kind!r}")


def warning_sentence(rule_id: str, args: Mapping[str, Any] | str | None, fmt: Any, t: Translate) -> str:
    """The evidence of one early warning as a sentence in the reader's language, from the rule's
    ``evidence_args`` (a dict or its JSON text): ``warning_sentence("EW01", {"days_before": 0, "days_now":
    30, "overdue_amount": 3656.21}, Formatter("zh_CN"), t)`` is ``最差逾期天数由 0 天升至 30 天，逾期金额
    3,656.21 元``. A missing number is "—"; a rule without a sentence gives its name (:func:`rule_label`)."""
    fields = EVIDENCE_FIELDS.get(str(rule_id))
    if fields is None:
        return rule_label(rule_id, t)
    values = _args(args)
    return t(f"ew.evidence.{rule_id}", **{k: _field(spec, values.get(k), fmt, t) for k, spec in fields.items()})


def warning_sentences(details: str | Iterable[Mapping[str, Any]] | None, fmt: Any, t: Translate) -> list[dict]:
    """A watch-list row's ``details`` (JSON list of ``{"rule_id", "severity", "args"}``, or the list) as
    ``[{"rule_id", "severity", "severity_label", "rule_label", "sentence"}]`` in the same order."""
    if _missing(details) or details == "":
        return []
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            return []
    out = []
    for d in details or []:
        rule_id, severity = d.get("rule_id"), d.get("severity")
        out.append(
            {
                "rule_id": rule_id,
                "severity": severity,
                "severity_label": code_label("severity", severity, t),
                "rule_label": rule_label(rule_id, t),
                "sentence": warning_sentence(rule_id, d.get("args"), fmt, t),
            }
        )
    return out


def evidence_text(details: str | Iterable[Mapping[str, Any]] | None, fmt: Any, t: Translate) -> str:
    """A watch-list row's warnings as one text for a table cell: ``新增逾期：最差逾期天数由 0 天升至 30 天，…；
    评分下降：…`` (separators ``ew.item`` and ``ew.join``); "—" when there is none."""
    items = [t("ew.item", rule=s["rule_label"], sentence=s["sentence"]) for s in warning_sentences(details, fmt, t)]
    return t("ew.join").join(items) if items else DASH


def rules_text(rule_ids: str | Iterable[Any] | None, t: Translate) -> str:
    """Comma-separated rule ids (a watch list's ``rule_ids``) as the rules' names: ``新增逾期、评分下降``."""
    labels = [rule_label(r, t) for r in _split(rule_ids)]
    return t("code.sep").join(labels) if labels else DASH


ACCOUNT_FIELDS = {
    "industry": ("industry", "code", "industry"),
    "enterprise_size": ("enterprise_size", "code", "enterprise_size"),
    "families": ("product_families", "codes", "product_family"),
    "segment": ("segment", "code", "segment"),
    "value_segment": ("value_segment", "code", "value_segment"),
    "stage": ("lifecycle_stage", "code", "lifecycle_stage"),
    "tier": ("tier", "code", "tier"),
    "five_class": ("worst_five_class", "code", "five_class"),
    "customer_status": ("status", "code", "customer_status"),
}


def account_labels(profile: Mapping[str, Any], t: Translate) -> dict[str, str]:
    """Labels of a customer's profile codes, for a report's ``prepare`` step: ``<name>_label`` for each of
    industry, enterprise_size, families (``product_families``), segment, value_segment, stage
    (``lifecycle_stage``), tier, five_class (``worst_five_class``) and customer_status (``status``) that
    ``profile`` has: ``{**profile, **account_labels(profile, t)}``."""
    out = {}
    for name, (column, kind, code_set) in ACCOUNT_FIELDS.items():
        if column in profile:
            value = profile[column]
            out[f"{name}_label"] = (
                codes_label(code_set, value, t) if kind == "codes" else code_label(code_set, value, t)
            )
    return out
