"""Data-quality rules and evidence in the reader's language, for the monthly data-quality report.

A rule's stored ``description`` (``crm.quality.rules``) is English with the Chinese business term: written for
the audit trail. :func:`rule_description` writes one in the report's language instead, from the rule's kind,
its parameters and its columns' titles (zh_CN: the contract's Chinese titles; en: the column names in words),
with the sentences of ``messages_codes.toml`` (``code.dq_rule.*``). Light to import (no pandas, no
SQLAlchemy): the rendering worker calls it from :func:`crm.reports.dq_charts.prepare`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from crm.reports.labels import DASH, code_label, codes_label

Translate = Callable[..., str]
MAX_LISTED_CODES = 6  # an in_set rule lists its codes' labels when the set is this small


@cache
def _rules() -> dict[str, Any]:
    from crm.quality.rules import build_rules

    return {r.id: r for r in build_rules()}


def rule_of(rule_id: str) -> Any | None:
    """The current definition of a rule (:class:`crm.quality.rules.Rule`), None for an id no longer known."""
    return _rules().get(rule_id)


def column_title(extract: str, column: str, locale: str) -> str:
    """How a description names a column: the contract's Chinese title in zh_CN, the name in words in en."""
    if locale != "zh_CN":
        return column.replace("_", " ")
    from crm.contract import BY_NAME

    e = BY_NAME.get(extract)
    for c in e.columns if e else ():
        if c.name == column:
            return c.title
    return column.replace("_", " ")


def extract_label(extract: Any, t: Translate) -> str:
    """An extract as a reader knows it: its title with its name (``贷款合同及借据（loans）``), "—" for none."""
    if extract is None or extract == "":
        return DASH
    title = code_label("extract", extract, t)
    return title if title == str(extract) else t("code.extract.item", title=title, name=extract)


def _number(x: Any, fmt: Any) -> str:
    return fmt.number(x, 0 if float(x).is_integer() else 2)


def rule_description(
    rule_id: str, fmt: Any, t: Translate, fallback: str | None = None, family: str | None = None
) -> str:
    """What rule ``rule_id`` requires, in the locale of ``fmt``/``t`` (see the module). A rule the current
    rule set no longer defines is said to be so, with its ``family``; in English, ``fallback`` (its stored
    description, English) is given instead when there is one."""
    rule = rule_of(rule_id)
    if rule is None:
        if fallback and fmt.locale == "en":
            return fallback
        return t("code.dq_rule.retired", family=family_label(family, t) if family else t("code.dq_rule.a_rule"))
    locale = fmt.locale
    p = rule.params

    def title(column: str) -> str:
        return column_title(rule.extract, column, locale)

    col = title(rule.columns[0]) if rule.columns else ""
    kind = rule.kind
    key = f"code.dq_rule.{kind}"
    text: str
    if kind == "type":
        from crm.contract import BY_NAME

        e = BY_NAME.get(rule.extract)
        ctype = next((c.type for c in (e.columns if e else ()) if c.name == rule.columns[0]), "string")
        text = t(f"code.dq_rule.type.{ctype}", column=col)
    elif kind == "max_length":
        text = t(key, column=col, n=fmt.number(p["max_length"]))
    elif kind == "in_set":
        values = list(p.get("values") or [])
        if values and len(values) <= MAX_LISTED_CODES:
            text = t("code.dq_rule.in_set_list", column=col, labels=codes_label(p.get("code_set", ""), values, t))
        else:
            text = t(key, column=col)
    elif kind == "unique":
        text = t(key, columns=t("code.sep").join(title(c) for c in rule.columns))
    elif kind == "regex":
        check = rule.id.rsplit(".", 1)[-1]
        if p.get("id_kind"):
            from crm.contract.identifiers import kinds

            names = []
            for k in p["id_kind"]:
                ik = kinds().get(k)
                what = (ik.zh if locale == "zh_CN" else ik.en) if ik else k
                names.append(re.split(r"[:：]", what, maxsplit=1)[0])
            what = t("code.sep").join(names)
            text = (
                t("code.dq_rule.id_pattern_own", column=col)
                if what == col
                else t("code.dq_rule.id_pattern", column=col, kind=what)
            )
        elif check in ("mobile_format", "email_format"):
            text = t(f"code.dq_rule.{check}", column=col)
        else:
            text = t(key, column=col)
    elif kind == "between":
        lo, hi = p.get("min_value"), p.get("max_value")
        if lo is not None and hi is not None:
            text = t("code.dq_rule.between", column=col, min=_number(lo, fmt), max=_number(hi, fmt))
        elif lo is not None:
            text = (
                t("code.dq_rule.non_negative", column=col)
                if float(lo) == 0
                else t("code.dq_rule.at_least", column=col, min=_number(lo, fmt))
            )
        elif hi is not None:
            text = t("code.dq_rule.at_most", column=col, max=_number(hi, fmt))
        else:
            text = t("code.dq_rule.other", family=code_label("dq_family", rule.family, t), columns=col)
    elif kind == "reference":
        targets = t("code.sep").join(code_label("extract", x, t) for x in p.get("targets", []))
        text = t(key, column=col, target=targets)
    elif kind == "date_order":
        strict = "_strict" if p.get("strict") else ""
        text = t(f"code.dq_rule.date_order{strict}", earlier=title(p["earlier"]), later=title(p["later"]))
    elif kind == "luhn":
        text = t(key, column=col, min=fmt.number(p["min_length"]), max=fmt.number(p["max_length"]))
    elif kind == "balance_identity":
        text = t(
            key,
            assets=title(p["assets"]),
            liabilities=title(p["liabilities"]),
            equity=title(p["equity"]),
            tolerance=_number(p["tolerance"], fmt),
        )
    elif kind == "five_class":
        floors = t("code.dq_rule.sep").join(
            t("code.dq_rule.five_class_floor", days=fmt.number(d), class_label=code_label("five_class", c, t))
            for d, c in p.get("floor", [])
        )
        text = t(key, column=title(p["class_column"]), floors=floors)
    elif kind == "not_greater":
        text = t(key, value=title(p["value"]), limit=title(p["limit"]))
    elif kind == "not_equal":
        text = t(key, column=title(p["column"]), other=title(p["other"]))
    elif kind == "required_when":
        values = t("code.sep").join(
            code_label(_code_set(rule.extract, p["when_column"]), v, t) for v in p.get("when_values", [])
        )
        text = t(key, column=title(p["column"]), when_column=title(p["when_column"]), values=values)
    elif kind in ("id_birth_date", "id_gender"):
        text = t(key, column=title(p.get("birth_column") or p.get("gender_column") or rule.columns[0]))
    elif kind in ("not_null", "field_count", "not_regex", "not_after_business_date", "gb11643", "gb32100"):
        text = t(key, column=col)
    else:
        columns = t("code.sep").join(title(c) for c in rule.columns if not c.startswith("_"))
        text = t("code.dq_rule.other", family=code_label("dq_family", rule.family, t), columns=columns)
    for column, value in (p.get("when") or {}).items():
        code_set = _code_set(rule.extract, column)
        text = t("code.dq_rule.when", column=title(column), value=code_label(code_set, value, t), text=text)
    return text


def _code_set(extract: str, column: str) -> str:
    from crm.contract import BY_NAME

    e = BY_NAME.get(extract)
    return next((c.code_set or "" for c in (e.columns if e else ()) if c.name == column), "")


_RETENTION = re.compile(r"^raw zone retention: business date before (\d{4}-\d{2}-\d{2}) \((\d+) days\)$")
_QUARANTINED = re.compile(r"^(?P<rules>.*?) \(staff file (?P<file>\S+) row (?P<row>[\w-]+)\)$")


def purge_reason(reason: str, fmt: Any, t: Translate) -> str:
    """A raw-zone purge's recorded reason (``crm.privacy.retention``) in the reader's language; another
    reason as recorded."""
    import datetime as dt

    m = _RETENTION.match(reason or "")
    if not m:
        return reason or DASH
    return t("code.purge.retention", cutoff=fmt.date(dt.date.fromisoformat(m[1])), days=fmt.number(int(m[2])))


def undeliverable_detail(detail: str, t: Translate) -> str:
    """The detail of a quarantined reader (``<rule ids> (staff file <file> row <n>)``) in the reader's
    language; another detail as recorded."""
    m = _QUARANTINED.match(detail or "")
    if not m:
        return detail or ""
    return t("code.undeliverable.detail", rules=m["rules"], file=m["file"], row=m["row"])


_ROW = re.compile(r"^row-(\d+)$")


def recipient_label(recipient_id: str, t: Translate) -> str:
    """An undeliverable recipient: the staff id, or, for a staff row whose id is unusable (``row-<n>``), the
    row of the staff file in the reader's language."""
    m = _ROW.match(recipient_id or "")
    return t("code.undeliverable.row", row=m[1]) if m else (recipient_id or DASH)


def family_label(family: Any, t: Translate) -> str:
    return code_label("dq_family", family, t)


def labelled_rows(rows: list[Mapping[str, Any]], fmt: Any, t: Translate) -> list[dict[str, Any]]:
    """Rule rows (``rule_id``, optionally ``family``, ``extract``, ``description``) with ``description_label``
    (:func:`rule_description`, the stored description as fallback), ``family_label`` and ``extract_label``."""
    out = []
    for r in rows:
        row = dict(r)
        row["description_label"] = rule_description(r["rule_id"], fmt, t, r.get("description"), r.get("family"))
        if "family" in r:
            row["family_label"] = family_label(r["family"], t)
        if "extract" in r:
            row["extract_label"] = extract_label(r["extract"], t)
        out.append(row)
    return out
