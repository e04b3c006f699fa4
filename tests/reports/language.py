"""Is a zh_CN report in its reader's language? :func:`identifier_words` finds the program text left in it.

A report's visible text (no tags, no ``<style>`` or ``<script>``, no attribute values; SVG chart text is
visible and counts) is searched for ASCII identifier-like words: runs of Latin letters, digits and
underscores with at least two letters (``code_set``, ``interest_coverage``, ``worst``, ``EW01``, ``CARD``).
A Chinese reader should meet none, except what :data:`ALLOWED` lists, each entry with why it is shown.
Single letters (grades ``B1``, ``p`` 值, ``n``) and numbers are not words here.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from crm.contract import EXTRACTS
from crm.warehouse import metadata

TABLES = sorted({t.name for t in metadata.sorted_tables})

# What a zh_CN report may show in Latin letters on purpose: (pattern, why). Each is removed from the text
# before the words are counted; a pattern matches whole words only.
ALLOWED: list[tuple[str, str]] = [
    # the classification line is bilingual by policy (common.classification), in every report's footer
    (r"内部资料 Internal", "classification line, bilingual on purpose"),
    # survey measures the bank, its managers and the regulator call by these names
    (r"CSAT", "customer satisfaction score, the bank's name for it"),
    (r"NPS", "net promoter score, the bank's name for it"),
    (r"PD", "probability of default, the risk officers' term"),
    # words Chinese banking writes in Latin letters: the rate benchmark (code label 'LPR浮动利率'), the card
    # terminal channel ('POS'), the mobile app (complaint theme '手机银行/APP'), the CRM system the reference is
    # searched in, and national-standard numbers (GB 11643-1999, GB/T 4754 in a column title)
    (r"LPR", "loan prime rate, written LPR in Chinese too"),
    (r"POS", "card terminal channel, written POS in Chinese too"),
    (r"APP", "mobile app, written APP in Chinese too"),
    (r"CRM", "the CRM system a customer reference is searched in"),
    (r"GB(?:/T)?(?= ?\d)", "national standard number (GB 11643-1999, GB/T 4754)"),
    # a customer is referred to by the last 8 hex characters of their token (searchable in the CRM)
    (r"[0-9a-f]{8}", "customer reference"),
    # staff ids (S + 6 digits: one letter, never a word) and branch ids (digits) need no entry
    # data-quality report: file names an auditor looks up (`LOAN_20261031_001.dat`), rule ids
    # (`customers.mobile.format`) in the rules' id column, beside a Chinese description
    (r"[A-Z][A-Z0-9_]*_\d{8}_\d{3}\.dat", "extract file name (DQ report, an auditor looks it up)"),
    (r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+){2,}", "data-quality rule id (its id column, beside a description)"),
    (r"(?<=\d )(?:KB|MB|GB|TB)", "file-size units after a number"),
    (r"[0-9a-f]{16}", "data-quality suite version (a hash an auditor matches in dq_rules)"),
    (r"\.ok", "the arrival flag file's suffix (DQ report: arrival time is the .ok flag's)"),
    # the DQ report's sources footnote names the warehouse tables an auditor queries, and documents readers
    # can open (docs/auditors.md); tables from the warehouse metadata, so a new word is still found
    (r"(?:" + "|".join(sorted(TABLES, key=len, reverse=True)) + r")", "warehouse table an auditor queries"),
    (r"docs/[a-z_]+\.md", "a document of the platform a reader can open"),
    # the incomplete-data notice names an extract by its Chinese title and, in brackets, its name in the
    # contract and the operations runbook
    (
        r"(?<=[（(])(?:" + "|".join(sorted((e.name for e in EXTRACTS), key=len, reverse=True)) + r")(?=[）)])",
        "extract name after its Chinese title (incomplete-data notice)",
    ),
    # service request ids (工单号, SR + 20 digits) in the branch report's breaches list: the branch head looks the
    # request up in the service system by it
    (r"SR[0-9]{20}", "service request id (branch report: breached requests)"),
    # product codes of the bank's catalogue (CCGOLD01, INSLIFE01: 4+ capitals and a 2-digit number), where a
    # manager expects them beside the family name
    (r"[A-Z]{4,}[0-9]{2}", "product code of the bank's catalogue"),
]
_ALLOWED = re.compile("|".join(rf"(?<![A-Za-z0-9_])(?:{p})(?![A-Za-z0-9_])" for p, _ in ALLOWED))
_WORD = re.compile(r"[A-Za-z0-9_]+")
_LETTERS = re.compile(r"[A-Za-z]")
_HIDDEN = {"style", "script", "template"}


class _Text(HTMLParser):
    """The text content of a document, outside ``<style>``, ``<script>`` and ``<template>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in ("br", "p", "td", "th", "li", "div", "tr", "text", "tspan", "title", "h1", "h2", "h3"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN and self._hidden:
            self._hidden -= 1
        else:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """A document's text as a reader sees it (tags, styles, scripts and attribute values removed; entities
    decoded; element boundaries as line breaks)."""
    p = _Text()
    p.feed(html)
    p.close()
    return "".join(p.parts)


def identifier_words(html: str) -> list[str]:
    """The identifier-like ASCII words of a report's visible text that :data:`ALLOWED` does not cover, in
    order of appearance, each once."""
    text = _ALLOWED.sub(" ", visible_text(html))
    seen: dict[str, None] = {}
    for w in _WORD.findall(text):
        if len(_LETTERS.findall(w)) >= 2:
            seen.setdefault(w)
    return list(seen)
