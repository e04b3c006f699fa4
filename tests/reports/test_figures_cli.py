"""``crm figures``: an auditor lists the map, shows a figure's SQL and runs it with a report's parameters, and
checks a rendered report against the warehouse (exit status 1 when a figure no longer agrees)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from crm.cli import main
from crm.reports.data import watch_digest_context
from crm.reports.render import render_html
from crm.warehouse import begin, make_engine
from crm.warehouse.marts import replace_partition
from crm.zones import CrmHome

WEEK_END = dt.date(2026, 11, 1)


@pytest.fixture
def home(tmp_path):
    """A CRM_HOME whose warehouse has a week of watch_list_weekly, and manager S1's digest rendered from it."""
    watch = pd.DataFrame(
        {
            "customer_id": [f"k1.{c * 32}" for c in "abcd"],
            "manager_id": ["S1", "S1", "S1", "S2"],
            "branch_id": ["B1"] * 4,
            "severity": ["high", "medium", "medium", "high"],
            "warnings": [2, 1, 1, 1],
            "rule_ids": ["EW01,EW02", "EW03", "EW03", "EW01"],
            "evidence": ["a", "b", "c", "d"],
            "loan_balance": [1.0e6, 2.0e6, 3.0e6, 4.0e6],
            "tier": ["key", "key", "growth", "key"],
            "rank_in_manager": [1, 2, 3, 1],
            "week_end": [WEEK_END] * 4,
        }
    )
    engine = make_engine(CrmHome(root=tmp_path).warehouse_url)
    with begin(engine) as conn:
        replace_partition(conn, "watch_list_weekly", watch, {"week_end": WEEK_END})
    engine.dispose()
    names = pd.DataFrame({"customer_id": watch["customer_id"], "display_name": ["张*", "李*", "王*", "赵*"]})
    ctx = watch_digest_context(watch, "S1", WEEK_END, names, "钱*") | {"generated_at": dt.datetime(2026, 11, 2, 9)}
    path = tmp_path / "reports" / "2026-W44" / "watch_digest" / "S1.html"
    path.parent.mkdir(parents=True)
    path.write_text(render_html("watch_digest", ctx, "zh_CN"), encoding="utf-8")
    return tmp_path, path


def _crm(home, *args):
    return CliRunner().invoke(main, ["--home", str(home), "figures", *args])


def test_list_and_show_print_the_map_and_the_sql(home):
    root, report = home
    out = _crm(root, "list", "--report", "watch_digest")
    assert out.exit_code == 0 and ["wd.warnings", "watch_digest", "table"] in [
        line.split()[:3] for line in out.output.splitlines()
    ]
    out = _crm(root, "show", "wd.warnings")
    assert out.exit_code == 0, out.output
    assert "report:     watch_digest" in out.output and "FROM watch_list_weekly" in out.output
    assert "parameters: :week_end, :manager_id" in out.output and "with " not in out.output
    out = _crm(root, "show", "wd.warnings", "--report-file", str(report))
    assert out.exit_code == 0, out.output
    assert out.output.endswith("    high: 1\n    medium: 2\n")
    out = _crm(root, "show", "wd.warnings", "--param", "week_end=2026-11-01", "--param", "manager_id=S2")
    assert out.exit_code == 0 and out.output.endswith("    high: 1\n")
    out = _crm(root, "show", "wd.nonesuch")
    assert out.exit_code == 1 and "no figure 'wd.nonesuch'" in out.output and "wd.warnings" in out.output
    out = _crm(root, "show", "wd.warnings", "--param", "week_end")
    assert out.exit_code == 2 and "NAME=VALUE" in out.output


def test_check_recomputes_every_figure_and_fails_when_the_warehouse_disagrees(home):
    root, report = home
    out = _crm(root, "check", str(report), "--all")
    assert out.exit_code == 0, out.output
    assert "report watch_digest, parameters {'manager_id': 'S1', 'week_end': '2026-11-01'}" in out.output
    assert "ok  wd.warnings [medium]  shown '2'  report 2  warehouse 2" in out.output
    assert out.output.endswith("2 figures: 2 agree, 0 do not\n")
    engine = make_engine(CrmHome(root=root).warehouse_url)
    with begin(engine) as conn:  # one of S1's medium warnings is withdrawn after the digest was rendered
        conn.execute(sa.text("DELETE FROM watch_list_weekly WHERE customer_id = :c"), {"c": "k1." + "c" * 32})
    engine.dispose()
    out = _crm(root, "check", str(report))
    assert out.exit_code == 1
    assert "BAD wd.warnings [medium]  shown '2'  report 2  warehouse 1  (differs)" in out.output
    assert "wd.warnings [high]" not in out.output and out.output.endswith("2 figures: 1 agree, 1 do not\n")
    other = root / "other.html"
    other.write_text("<html><body><p>1</p></body></html>", encoding="utf-8")
    out = _crm(root, "check", str(other))
    assert out.exit_code == 1 and "has no <meta name='crm:figure-params'>" in out.output
