"""A logging filter that redacts ID, card and mobile numbers and e-mail addresses from log records.

The message is rendered with its args first (``logger.info("customer %s", mobile)`` would otherwise slip the
value past a filter that looks at ``msg`` only), redacted, and the args cleared. An exception's traceback
and a stack trace are rendered and redacted into ``exc_text`` / ``stack_info`` and ``exc_info`` is cleared,
so no later formatter can render the raw exception message again. Names are not redacted here (a log record
has no row to take them from): log ids and counts, not names.

A filter on a logger sees only records logged on that very logger, not those propagating from its children,
so :func:`install` puts the filter on the loggers *and* on their existing handlers (handlers added later are
not covered: call it again after configuring logging; it is idempotent). ``extra=`` attributes of a record
are not touched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from crm.privacy.scrub import redact

_MARK = "_crm_redacted"
_formatter = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Rewrites ``record.msg`` to the redacted rendered message and clears ``record.args``; never drops a
    record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _MARK, False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # bad format args: keep what there is, still redacted
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        setattr(record, _MARK, True)
        return True


def _add_once(target: logging.Filterer, flt: RedactingFilter) -> bool:
    if any(isinstance(f, RedactingFilter) for f in target.filters):
        return False
    target.addFilter(flt)
    return True


_FILTER = RedactingFilter()


def install(logger_names: Iterable[str] = ("", "dagster", "crm")) -> int:
    """Add the redacting filter, once, to the named loggers (``""``: the root) and to their current handlers.
    Returns how many loggers and handlers got it now (0 when everything had it already)."""
    added = 0
    for name in logger_names:
        logger = logging.getLogger(name)
        added += _add_once(logger, _FILTER)
        for handler in logger.handlers:
            added += _add_once(handler, _FILTER)
    return added
