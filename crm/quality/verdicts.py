"""What the checks of a staging step say, over the step's :class:`~crm.quality.stage.StageResult` (one per
partition): per rule family of the extract (:func:`family_verdict`), the quarantine against its allowances
(:func:`rate_verdict`) and the row accounting per file (:func:`accounted_verdict`). Each verdict is
``passed``, ``error`` (whether a failure is an ERROR, which blocks downstream work, or a WARN) and
``metadata`` (counts, rule ids, partition keys and file names only; ``failed_rules`` is Markdown).

A partition is *blocked* (:attr:`~crm.quality.stage.StageResult.blocked`) when its quarantined rows exceed
both its share allowance and its row allowance, or rows are unaccounted for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crm.contract import Extract
from crm.quality.rules import FAMILIES, rules_for

# what each rule family checks, for the descriptions of the checks
FAMILY_TEXT = {
    "completeness": "mandatory fields are present",
    "type": "values parse as the contract's types and records have the right number of fields",
    "code_set": "codes are in the contract's code sets",
    "range": "amounts, rates and scores are within their ranges",
    "length": "texts fit their maximum length",
    "uniqueness": "the key identifies one row",
    "format": "ID numbers (GB 11643), credit codes (GB 32100), card numbers (Luhn), mobiles, e-mails and the "
    "identifier patterns of crm/contract/identifiers.toml",
    "text": "no control or format characters (Unicode Cc, Cf, U+2028/9): quarantined in ids, codes, names, "
    "addresses and e-mails; counted and removed in free text",
    "referential": "references exist in the other extracts of the same business date",
    "date_order": "dates are in order and none is after the business date",
    "consistency": "the bank's cross-field rules (balance vs contract, five-category class, balance sheet)",
}


def families_of(extract: Extract) -> list[str]:
    """The rule families the extract's rules belong to, in the order of :data:`~crm.quality.rules.FAMILIES`."""
    present = {r.family for r in rules_for(extract.name)}
    return [f for f in FAMILIES if f in present]


def pct(x: float) -> str:
    """A share as a percentage with two decimals: ``0.0125`` -> ``1.25%``."""
    return f"{100 * x:.2f}%"


def allowance(r: Any) -> str:
    """A partition's quarantine allowance: ``2.00% and 5 rows``."""
    return f"{pct(r.threshold)} and {r.rows_threshold} rows"


def _allowances(results: Sequence[Any]) -> str:
    return ", ".join(sorted({allowance(r) for r in results})) or "none"


def family_verdict(family: str, results: Sequence[Any]) -> dict[str, Any]:
    """One rule family over the staged partitions of a step: passed when no row fails a rule of the family;
    an ERROR when it has critical failures in a blocked partition, a WARN otherwise."""
    rows = sum(r.parsed for r in results)
    crit = warn = 0
    failed_rules: dict[str, int] = {}
    over = []
    for r in results:
        fam = r.families.set_index("family")
        if family not in fam.index:
            continue
        f = fam.loc[family]
        crit += int(f["critical_rows"])
        warn += int(f["warning_rows"])
        if r.blocked and f["critical_rows"]:
            over.append(r.partition_key)
        counts = r.summary.set_index("rule_id")["failed"]
        for rid in f["failed_rules"]:
            failed_rules[rid] = failed_rules.get(rid, 0) + int(counts[rid])
    skipped = sorted(
        {
            rid
            for r in results
            for rid in r.skipped
            if rid in set(r.summary.loc[r.summary["family"] == family, "rule_id"])
        }
    )
    table = "\n".join(f"| {rid} | {n} |" for rid, n in sorted(failed_rules.items()))
    return {
        "passed": crit == 0 and warn == 0,
        "error": bool(over),
        "metadata": {
            "rows_checked": rows,
            "rows_failing_critical": crit,
            "rows_failing_warning_only_rules": warn,
            "allowance": _allowances(results),
            "partitions_blocked": ", ".join(over) or "none",
            "rules_not_evaluated": ", ".join(skipped) or "none",
            "failed_rules": "| rule | failed rows |\n|---|---|\n" + table if table else "none",
        },
    }


def rate_verdict(results: Sequence[Any]) -> dict[str, Any]:
    """The quarantine of a step's partitions: fails (an ERROR) when a partition is blocked."""
    parsed = sum(r.parsed for r in results)
    quarantined = sum(r.quarantined for r in results)
    over = [f"{r.partition_key} ({r.quarantined} rows, {pct(r.quarantine_rate)})" for r in results if r.blocked]
    return {
        "passed": not over,
        "error": True,
        "metadata": {
            "parsed": parsed,
            "quarantined": quarantined,
            "rate": pct(quarantined / parsed if parsed else 0.0),
            "allowance": _allowances(results),
            "partitions_blocked": ", ".join(over) or "none",
        },
    }


def accounted_verdict(results: Sequence[Any]) -> dict[str, Any]:
    """Per file of a step's partitions, accepted + quarantined = parsed: fails (an ERROR) naming the files
    that do not balance."""
    import pandas as pd

    files = pd.concat([r.files for r in results], ignore_index=True) if results else pd.DataFrame()
    unbalanced = files.loc[~files["balanced"], "_source_file"].tolist() if len(files) else []
    return {
        "passed": not unbalanced,
        "error": True,
        "metadata": {
            "files": len(files),
            "parsed": int(files["parsed"].sum()) if len(files) else 0,
            "accepted": int(files["accepted"].sum()) if len(files) else 0,
            "quarantined": int(files["quarantined"].sum()) if len(files) else 0,
            "unbalanced_files": ", ".join(unbalanced) or "none",
        },
    }
