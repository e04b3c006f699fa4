"""The rules that judge one column at a time, from its contract declaration: completeness (mandatory
fields), type, code set, range, length, format (check digits, mobile and e-mail shapes, identifier patterns)
and text (control and format characters)."""

from __future__ import annotations

from crm.contract import CODE_SETS, Column, Extract, id_regex, identifier_kinds
from crm.quality.checks import MOBILE_REGEX
from crm.quality.rules.model import Rule, column_label, number_text, type_error_regex
from crm.quality.text import CONTROL_CLASS

EMAIL_REGEX = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\Z"

_TYPE_WORDS = {
    "int": "a whole number",
    "decimal": "a number",
    "date": "a date (YYYY-MM-DD)",
    "timestamp": "a date and time (YYYY-MM-DD HH:MM:SS)",
}


def column_rules(e: Extract) -> list[Rule]:
    out: list[Rule] = []
    for c in e.columns:
        lab = column_label(c)
        if not c.nullable:
            out.append(
                Rule(
                    f"{e.name}.{c.name}.not_null",
                    e.name,
                    "completeness",
                    "critical",
                    f"{lab} is mandatory: it must not be empty (必填项不能为空).",
                    (c.name,),
                    "not_null",
                )
            )
        if c.type in _TYPE_WORDS:
            out.append(
                Rule(
                    f"{e.name}.{c.name}.type",
                    e.name,
                    "type",
                    "critical",
                    f"{lab} must be {_TYPE_WORDS[c.type]}; a value that does not parse is rejected (字段类型不符).",
                    (c.name, "_type_errors"),
                    "type",
                    {"regex": type_error_regex(c.name)},
                )
            )
        if c.code_set:
            codes = sorted(CODE_SETS[c.code_set])
            out.append(
                Rule(
                    f"{e.name}.{c.name}.code_set",
                    e.name,
                    "code_set",
                    "critical",
                    f"{lab} must be a code of the '{c.code_set}' code set ({', '.join(codes)}) (代码须在码表内).",
                    (c.name,),
                    "in_set",
                    {"code_set": c.code_set, "values": codes},
                )
            )
        if c.min_value is not None or c.max_value is not None:
            if c.max_value is None and c.min_value == 0:
                what = "must not be negative (不得为负)"
            elif c.max_value is None:
                what = f"must be at least {number_text(c.min_value)} (不得小于 {number_text(c.min_value)})"
            elif c.min_value is None:
                what = f"must be at most {number_text(c.max_value)} (不得大于 {number_text(c.max_value)})"
            else:
                what = f"must be between {number_text(c.min_value)} and {number_text(c.max_value)} (取值范围)"
            out.append(
                Rule(
                    f"{e.name}.{c.name}.range",
                    e.name,
                    "range",
                    "critical",
                    f"{lab} {what}.",
                    (c.name,),
                    "between",
                    {"min_value": c.min_value, "max_value": c.max_value},
                )
            )
        if c.max_length is not None:
            out.append(
                Rule(
                    f"{e.name}.{c.name}.max_length",
                    e.name,
                    "length",
                    "critical",
                    f"{lab} must be at most {c.max_length} characters long (长度超限).",
                    (c.name,),
                    "max_length",
                    {"max_length": c.max_length},
                )
            )
        out.extend(_semantic_rules(e, c))
        if c.id_kind:
            out.append(_id_rule(e, c))
        if c.text:
            out.append(_text_rule(e, c))
    return out


def _id_rule(e: Extract, c: Column) -> Rule:
    known = identifier_kinds()
    kinds = [known[k] for k in c.id_kind]
    what = "; or ".join(f"{k.en} (`{k.pattern}`, {k.zh})" for k in kinds)
    return Rule(
        f"{e.name}.{c.name}.id_pattern",
        e.name,
        "format",
        "critical",
        f"{column_label(c)} must have the form of: {what}; the whole value, nothing before or after it (标识符格式).",
        (c.name,),
        "regex",
        {"regex": id_regex(c.id_kind), "id_kind": list(c.id_kind)},
    )


def _text_rule(e: Extract, c: Column) -> Rule:
    what = (
        "no control or format character (Unicode Cc, Cf, U+2028, U+2029: line breaks, tabs, NUL, ESC, "
        "bidirectional overrides and isolates, zero-width characters)"
    )
    if c.text == "reject":
        return Rule(
            f"{e.name}.{c.name}.control_chars",
            e.name,
            "text",
            "critical",
            f"{column_label(c)} must contain {what}; the row is quarantined (含控制字符或格式字符).",
            (c.name,),
            "not_regex",
            {"regex": CONTROL_CLASS, "policy": "reject"},
        )
    return Rule(
        f"{e.name}.{c.name}.control_chars",
        e.name,
        "text",
        "warning",
        f"{column_label(c)} is free text: rows with a control or format character (Unicode Cc, Cf, U+2028, U+2029) "
        "are counted and accepted; the characters are removed before the privacy scrub, line breaks and tabs "
        "becoming a space (自由文本控制字符已清除).",
        (c.name,),
        "not_regex",
        {"regex": CONTROL_CLASS, "policy": "strip"},
    )


def _semantic_rules(e: Extract, c: Column) -> list[Rule]:
    lab = column_label(c)
    if c.semantic == "id_number":
        names = e.column_names
        if "id_type" in names:
            return [
                Rule(
                    f"{e.name}.{c.name}.gb11643",
                    e.name,
                    "format",
                    "critical",
                    f"{lab}, when the ID type is 01 (居民身份证), must be a valid 18-digit resident identity "
                    "number (GB 11643-1999: 17 digits, a real birth date and the MOD 11-2 check character).",
                    (c.name, "id_type"),
                    "gb11643",
                    {"when": {"id_type": "01"}},
                )
            ]
        return [
            Rule(
                f"{e.name}.{c.name}.gb11643",
                e.name,
                "format",
                "critical",
                f"{lab} must be a valid 18-digit resident identity number (GB 11643-1999: 17 digits, a real "
                "birth date and the MOD 11-2 check character).",
                (c.name,),
                "gb11643",
                {},
            )
        ]
    if c.semantic == "uscc":
        return [
            Rule(
                f"{e.name}.{c.name}.gb32100",
                e.name,
                "format",
                "critical",
                f"{lab} must be a valid unified social credit code (GB 32100-2015: 18 characters, no I/O/S/V/Z, "
                "MOD 31 check character) (统一社会信用代码校验位).",
                (c.name,),
                "gb32100",
                {},
            )
        ]
    if c.semantic == "card_number":
        return [
            Rule(
                f"{e.name}.{c.name}.luhn",
                e.name,
                "format",
                "critical",
                f"{lab} must be a bank card number: 12 to 19 digits with a correct Luhn check digit (卡号校验位).",
                (c.name,),
                "luhn",
                {"min_length": 12, "max_length": 19},
            )
        ]
    if c.semantic == "mobile":
        return [
            Rule(
                f"{e.name}.{c.name}.mobile_format",
                e.name,
                "format",
                "critical",
                f"{lab} must be a mainland mobile number: 11 digits starting 13-19 (手机号码格式).",
                (c.name,),
                "regex",
                {"regex": MOBILE_REGEX},
            )
        ]
    if c.semantic == "email":
        return [
            Rule(
                f"{e.name}.{c.name}.email_format",
                e.name,
                "format",
                "critical",
                f"{lab} must be an e-mail address of the form name@domain.tld (电子邮箱格式).",
                (c.name,),
                "regex",
                {"regex": EMAIL_REGEX},
            )
        ]
    return []
