from __future__ import annotations

import math

import pytest

from crm.reports.settings import settings, tone


def test_tones_follow_the_configured_thresholds():
    assert tone("npl_share", 0.021) == "bad" and tone("npl_share", 0.02) == "" and tone("npl_share", None) == ""
    assert tone("revisit_compliance", 0.79) == "warn" and tone("revisit_compliance", 0.8) == "ok"
    assert tone("overdue_days", 91) == "bad" and tone("overdue_days", 1) == "warn" and tone("overdue_days", 0) == ""
    assert tone("five_class", 3) == "bad" and tone("five_class", math.nan) == ""
    assert tone("nps", -0.1) == "bad" and tone("nps", 0) == "ok"
    with pytest.raises(KeyError):
        tone("no_such_threshold", 1)


def test_a_malformed_rule_is_refused(tmp_path):
    bad = tmp_path / "config.toml"
    bad.write_text('[tone.x]\nrules = [{ above = 1, below = 2, tone = "bad" }]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="tone.x"):
        settings(bad)


def test_no_template_holds_a_threshold_of_its_own():
    import re

    from crm.reports.plan import REPORT_KINDS
    from crm.reports.render import TEMPLATES_DIR, report_spec

    names = {report_spec(k.template).template for k in REPORT_KINDS.values()} | {"base.html.j2", "_macros.html.j2"}
    for path in (TEMPLATES_DIR / n for n in sorted(names)):
        text = path.read_text(encoding="utf-8")
        # a comparison with a number inside a template expression ("x > 0.02", "y < 0.8")
        assert not re.search(r"[<>]=?\s*\d+(\.\d+)?\s*(else|\)|%\})", text), path.name
