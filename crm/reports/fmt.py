"""Numbers, money, percentages and dates for reports, through Babel.

Two locales: ``zh_CN`` (the default; what the bank's people read) and ``en``. Every formatter renders
``None`` and NaN as an em dash, so a template never prints ``None`` or ``nan``.

Money conventions (amounts are always given in yuan):

==========  ==========================  ==========================
unit        ``zh_CN``                   ``en``
==========  ==========================  ==========================
``"yuan"``  ``12,345,678.00 元``        ``CNY 12,345,678.00``
``"wan"``   ``1,234.57 万元`` (÷ 10⁴)   ``CNY 12.35 mn`` (÷ 10⁶)
==========  ==========================  ==========================

``"wan"`` is the "large amount" unit: managers read 万元 in Chinese; an English reader expects millions,
so the English scale is 10⁶, not a literal "10k yuan". Tables that put the unit in the column header use
:meth:`Formatter.amount` for the cells and :meth:`Formatter.money_unit` for the header.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any, Literal

from babel import dates as bdates
from babel import numbers as bnumbers

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
DASH = "—"
MoneyUnit = Literal["yuan", "wan"]

# unit -> locale -> (divisor, prefix, suffix)
_MONEY: dict[str, dict[str, tuple[float, str, str]]] = {
    "yuan": {"zh_CN": (1.0, "", " 元"), "en": (1.0, "CNY ", "")},
    "wan": {"zh_CN": (1e4, "", " 万元"), "en": (1e6, "CNY ", " mn")},
}
_MONEY_UNIT_LABEL = {"yuan": {"zh_CN": "元", "en": "CNY"}, "wan": {"zh_CN": "万元", "en": "CNY mn"}}


def check_locale(locale: str) -> str:
    """The locale if supported (``zh_CN`` or ``en``), else ``ValueError``."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported report locale {locale!r}; use one of {', '.join(LOCALES)}")
    return locale


def _missing(value: Any) -> bool:
    """None, NaN, ``pandas.NA`` or ``pandas.NaT`` (recognised by type name: no pandas import here)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def _rounded(value: Any, digits: int) -> decimal.Decimal:
    """``value`` rounded half up to ``digits`` places, through its shortest repr (``1.005`` -> ``1.01``),
    with a rounded zero made positive."""
    exact = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
    out = exact.quantize(decimal.Decimal(1).scaleb(-digits), rounding=decimal.ROUND_HALF_UP)
    return out.copy_abs() if out.is_zero() else out


class Formatter:
    """Locale-bound formatting. ``Formatter("zh_CN").money(12345678) == "1,234.57 万元"``."""

    def __init__(self, locale: str = DEFAULT_LOCALE) -> None:
        self.locale = check_locale(locale)

    # -- numbers
    def number(self, value: Any, digits: int = 0) -> str:
        """Grouped decimal with exactly ``digits`` fraction digits, rounded half up (as bank statements
        do, not Babel's default half-even): ``1,234,568`` / ``1,234,567.89``; never ``-0``."""
        if _missing(value):
            return DASH
        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
        return bnumbers.format_decimal(_rounded(value, digits), pattern, locale=self.locale)

    def percent(self, ratio: Any, digits: int = 2) -> str:
        """A ratio as a percentage, rounded half up: ``0.985`` -> ``98.50%``."""
        if _missing(ratio):
            return DASH
        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "") + "%"
        return bnumbers.format_percent(_rounded(ratio, digits + 2), pattern, locale=self.locale)

    def amount(self, yuan: Any, unit: MoneyUnit = "wan", digits: int = 2) -> str:
        """An amount in yuan, scaled to ``unit``, without the unit (for cells under a unit header)."""
        if _missing(yuan):
            return DASH
        divisor = _MONEY[unit][self.locale][0]
        return self.number(float(yuan) / divisor, digits)

    def money(self, yuan: Any, unit: MoneyUnit = "wan", digits: int = 2) -> str:
        """An amount in yuan with its unit: ``1,234.57 万元`` / ``CNY 12.35 mn`` (see the module table)."""
        if _missing(yuan):
            return DASH
        _, prefix, suffix = _MONEY[unit][self.locale]
        return f"{prefix}{self.amount(yuan, unit, digits)}{suffix}"

    def money_unit(self, unit: MoneyUnit = "wan") -> str:
        """The unit label for a column header: ``万元`` / ``CNY mn``."""
        return _MONEY_UNIT_LABEL[unit][self.locale]

    def filesize(self, size: Any) -> str:
        """Bytes in binary units with one decimal: ``1.5 MB`` (KB, MB, GB: powers of 1024)."""
        if _missing(size):
            return DASH
        value, unit = float(size), "B"
        for unit in ("B", "KB", "MB", "GB", "TB"):
            if abs(value) < 1024 or unit == "TB":
                break
            value /= 1024
        return f"{self.number(value, 0 if unit == 'B' else 1)} {unit}"

    # -- dates
    def date(self, value: Any, format: str = "medium") -> str:  # noqa: A002 - Babel's name
        """``format_date``: medium ``2026年10月5日`` / ``Oct 5, 2026``; long ``2026年10月5日`` / ``October 5,
        2026``; ``short``; or ``"iso"`` for ``2026-10-05`` in both locales."""
        if _missing(value):
            return DASH
        if isinstance(value, dt.datetime):
            value = value.date()
        if format == "iso":
            return value.isoformat()
        return bdates.format_date(value, format, locale=self.locale)

    def day(self, value: Any) -> str:
        """Month and day without the year, for daily tables: ``10月5日`` / ``Oct 5``."""
        if _missing(value):
            return DASH
        return bdates.format_skeleton("MMMd", value, locale=self.locale)

    def datetime(self, value: Any) -> str:
        """Medium date and 24-hour time: ``2026年11月2日 08:30`` / ``Nov 2, 2026 08:30``. Naive values are
        printed as they are (the pipeline keeps bank time, Asia/Shanghai)."""
        if _missing(value):
            return DASH
        return f"{self.date(value)} {value:%H:%M}"

    def month(self, value: Any) -> str:
        """The month of a date: ``2026年10月`` / ``October 2026``."""
        if _missing(value):
            return DASH
        return bdates.format_skeleton("yMMMM", value, locale=self.locale)

    def quarter(self, value: Any) -> str:
        """The quarter of a date: ``2026年第4季度`` / ``Q4 2026``."""
        if _missing(value):
            return DASH
        return bdates.format_skeleton("yQQQ", value, locale=self.locale)

    # -- dispatch
    def value(self, value: Any, kind: str = "text", **options: Any) -> str:
        """Format by kind name (``text number percent amount money date day datetime month quarter
        filesize``): lets a generic table macro format each column from a column spec."""
        if kind == "text":
            if hasattr(value, "__html__"):  # markup made by a prepare step (e.g. figures in a cell): kept as is
                return value
            return DASH if _missing(value) else str(value)
        method = getattr(self, kind, None)
        if kind not in _KINDS or method is None:
            raise ValueError(f"unknown format kind {kind!r}; use one of {', '.join(sorted(_KINDS))}")
        return method(value, **options)

    def filters(self) -> dict[str, Any]:
        """The Jinja2 filters bound to this locale (names as used in templates)."""
        return {
            "num": self.number,
            "pct": self.percent,
            "amount": self.amount,
            "money": self.money,
            "filesize": self.filesize,
            "date": self.date,
            "day": self.day,
            "datetime": self.datetime,
            "month": self.month,
            "quarter": self.quarter,
            "fmt": self.value,
        }


_KINDS = {"text", "number", "percent", "amount", "money", "date", "day", "datetime", "month", "quarter", "filesize"}
