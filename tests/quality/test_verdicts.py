"""What a staging step's checks say, on hand-made partition results: per rule family, the quarantine against
its allowances, the row accounting per file."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from crm.contract import BY_NAME
from crm.quality.rules import FAMILIES, rules_for
from crm.quality.verdicts import (
    FAMILY_TEXT,
    accounted_verdict,
    allowance,
    families_of,
    family_verdict,
    pct,
    rate_verdict,
)


def _result(
    key: str,
    *,
    blocked: bool = False,
    critical: int = 0,
    warning: int = 0,
    failed=(),
    skipped=(),
    parsed: int = 100,
    quarantined: int = 0,
    balanced: bool = True,
):
    """One partition's result as :class:`crm.quality.stage.StageResult` gives it (the fields the verdicts read)."""
    families = pd.DataFrame(
        {
            "family": ["format", "range"],
            "critical_rows": [critical, 0],
            "warning_rows": [warning, 0],
            "failed_rules": [list(failed), []],
        }
    )
    summary = pd.DataFrame(
        {
            "rule_id": ["customers.id_number.format", "customers.mobile.format", "customers.income.range"],
            "family": ["format", "format", "range"],
            "failed": [critical, warning, 0],
        }
    )
    files = pd.DataFrame(
        {
            "_source_file": [f"CUST_{key}.dat"],
            "parsed": [parsed],
            "accepted": [parsed - quarantined],
            "quarantined": [quarantined],
            "balanced": [balanced],
        }
    )
    return SimpleNamespace(
        partition_key=key,
        blocked=blocked,
        families=families,
        summary=summary,
        skipped=set(skipped),
        parsed=parsed,
        quarantined=quarantined,
        quarantine_rate=quarantined / parsed,
        threshold=0.02,
        rows_threshold=5,
        files=files,
    )


def test_families_of_an_extract_follow_the_family_order_and_have_a_text():
    for extract in ("customers", "loans"):
        families = families_of(BY_NAME[extract])
        assert families == [f for f in FAMILIES if f in {r.family for r in rules_for(extract)}]
        assert all(f in FAMILY_TEXT for f in families)
    assert pct(0.0125) == "1.25%" and allowance(_result("x")) == "2.00% and 5 rows"


def test_a_family_fails_as_an_error_only_in_a_blocked_partition():
    clean = _result("2026-10-01")
    failing = _result(
        "2026-10-02",
        critical=3,
        failed=["customers.id_number.format"],
        skipped=["customers.mobile.format", "customers.income.range"],
    )
    v = family_verdict("format", [clean, failing])
    assert (v["passed"], v["error"]) == (False, False)  # critical failures, but the partition is not blocked
    m = v["metadata"]
    assert (m["rows_checked"], m["rows_failing_critical"], m["rows_failing_warning_only_rules"]) == (200, 3, 0)
    assert m["allowance"] == "2.00% and 5 rows" and m["partitions_blocked"] == "none"
    assert m["rules_not_evaluated"] == "customers.mobile.format"  # the range rule is another family's
    assert m["failed_rules"] == "| rule | failed rows |\n|---|---|\n| customers.id_number.format | 3 |"
    blocked = _result("2026-10-03", blocked=True, critical=9, failed=["customers.id_number.format"])
    v = family_verdict("format", [failing, blocked])
    assert (v["passed"], v["error"], v["metadata"]["partitions_blocked"]) == (False, True, "2026-10-03")
    assert v["metadata"]["failed_rules"].endswith("| customers.id_number.format | 12 |")
    warned = family_verdict("format", [_result("2026-10-04", warning=2, failed=["customers.mobile.format"])])
    assert (warned["passed"], warned["error"], warned["metadata"]["rows_failing_warning_only_rules"]) == (
        False,
        False,
        2,
    )
    v = family_verdict("range", [clean])
    assert v["passed"] and v["metadata"]["failed_rules"] == "none"
    assert family_verdict("text", [clean])["metadata"]["rows_checked"] == 100  # a family the results lack


def test_the_quarantine_fails_when_a_partition_is_blocked():
    ok = rate_verdict([_result("2026-10-01", quarantined=1)])
    assert ok["passed"] and ok["error"]
    assert ok["metadata"] == {
        "parsed": 100,
        "quarantined": 1,
        "rate": "1.00%",
        "allowance": "2.00% and 5 rows",
        "partitions_blocked": "none",
    }
    over = rate_verdict([_result("2026-10-01", quarantined=1), _result("2026-10-02", quarantined=8, blocked=True)])
    assert not over["passed"]
    assert over["metadata"]["partitions_blocked"] == "2026-10-02 (8 rows, 8.00%)"
    assert over["metadata"]["rate"] == "4.50%"
    assert rate_verdict([])["metadata"]["rate"] == "0.00%" and rate_verdict([])["metadata"]["allowance"] == "none"


def test_rows_are_accounted_for_per_file():
    ok = accounted_verdict([_result("2026-10-01", quarantined=2), _result("2026-10-02")])
    assert ok["passed"] and ok["metadata"] == {
        "files": 2,
        "parsed": 200,
        "accepted": 198,
        "quarantined": 2,
        "unbalanced_files": "none",
    }
    bad = accounted_verdict([_result("2026-10-01"), _result("2026-10-02", balanced=False)])
    assert not bad["passed"] and bad["metadata"]["unbalanced_files"] == "CUST_2026-10-02.dat"
    assert accounted_verdict([]) == {
        "passed": True,
        "error": True,
        "metadata": {"files": 0, "parsed": 0, "accepted": 0, "quarantined": 0, "unbalanced_files": "none"},
    }
