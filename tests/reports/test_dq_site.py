"""The auditors' data-quality site (crm.reports.dq_site), built from real Great Expectations results: it needs
no network (check_offline finds every external reference, and finds none in the site), the index lists every
stored result newest business date first without a script, each result has its page in Chinese with the rows
that failed (source file and row number, never a value), hostile values are escaped and cleaned, the same
stored results give the same bytes, and the manifest follows the store (new results, purged ones, a missing
manifest, a site GX built before)."""

from __future__ import annotations

import copy
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from crm.quality.gx import evaluate_days_gx, evaluate_extract_gx
from crm.reports.dq_labels import rule_description
from crm.reports.dq_site import check_offline, external, publish, rebuild
from crm.reports.fmt import Formatter
from crm.reports.i18n import translator
from tests.quality.bank import BUSINESS_DATE, frames_by_hand, raw_frames

D1 = BUSINESS_DATE  # 2026-01-31
D2 = BUSINESS_DATE.replace(day=1).replace(month=2)  # 2026-02-01
EMPTY_NAME = "branches.branch_name.not_null"


@pytest.fixture(scope="module")
def gx_results(tmp_path_factory) -> tuple[dict, dict]:
    """Two real GX results of the branches extract: D1 alone (clean), and D1 with D2 validated together, the
    branch name of D2's second row left empty (a mandatory field)."""
    tmp = tmp_path_factory.mktemp("dq_site_bank")
    days = {}
    for day in (D1, D2):
        raw = raw_frames(tmp / f"{day:%Y%m%d}", {"branches": frames_by_hand()["branches"]}, day)["branches"]
        if day == D2:
            raw.loc[1, "branch_name"] = None
        days[day] = {"branches": raw}
    one = evaluate_extract_gx("branches", days[D1], D1).gx_result
    _, both = evaluate_days_gx("branches", days)
    return one, both


class _Page(HTMLParser):
    """The result rows of an index (``tr.result`` of ``table.results``, with their links) and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[str] = []
        self.rows: list[list[str]] = []  # per tr.result, its hrefs
        self.text: list[str] = []
        self._row: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append(a.get("class") or "")
        if tag == "tr" and "result" in (a.get("class") or "").split() and "results" in self.tables:
            self._row = []
            self.rows.append(self._row)
        if tag == "a" and self._row is not None:
            self._row.append(a["href"])

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        self.text.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _manifest(dq: Path) -> list[dict]:
    return json.loads((dq / "site" / "index.json").read_text(encoding="utf-8"))["results"]


def test_the_site_of_real_results_needs_no_network_and_lists_every_result(tmp_path, gx_results):
    one, both = gx_results
    dq = tmp_path / "dq"
    publish(dq, [(one, f"{D1:%Y%m%d}")], "run-1")
    index = publish(dq, [(both, f"{D1:%Y%m%d}-{D2:%Y%m%d}")], "run-2")
    site = dq / "site"
    assert index == site / "index.html"
    assert check_offline(site) == []
    # the index: one row per stored result, rendered without a script, newest business date first
    page = _parse(index)
    stored = sorted((dq / "validations").rglob("*.json"))
    assert len(stored) == 2 and len(page.rows) == 2
    assert "<script" not in index.read_text(encoding="utf-8")
    hrefs = [row[0] for row in page.rows]
    assert "run-2" in hrefs[0] and f"{D1:%Y%m%d}-{D2:%Y%m%d}.html" in hrefs[0]  # the range ends on D2: first
    assert "run-1" in hrefs[1]
    text = "".join(page.text)
    assert "数据质量验证结果" in text and "机构信息（branches）" in text and "2026年1月31日 至 2026年2月1日" in text
    # a page per result, at the stored JSON's path (.html for .json: what retention dates and purges)
    pages = sorted((site / "validations").rglob("*.html"))
    assert [p.relative_to(site / "validations").with_suffix("") for p in pages] == [
        p.relative_to(dq / "validations").with_suffix("") for p in stored
    ]
    for href in hrefs:
        assert (site / unquote(href)).is_file()
    # the failing page: Chinese, the rule in words, the row that failed by file and row number
    failing = site / unquote(hrefs[0])
    html = failing.read_text(encoding="utf-8")
    text = "".join(_parse(failing).text)
    assert "未通过的规则及记录" in text and "全部规则" in text and "1 条未通过" in text
    assert rule_description(EMPTY_NAME, Formatter("zh_CN"), translator("zh_CN")) in text
    assert "BRANCH_20260201_001.dat" in text  # D2's source file
    assert re.search(r'<td class="rows">2</td>', html)  # D2's second record
    assert 'href="../../../../../index.html"' in html and 'href="../../../../../site.css"' in html
    # nothing from the data: the branch names (and every other value of the extract) are not on any page
    values = {str(v) for v in frames_by_hand()["branches"].drop(columns=["branch_id", "parent_branch_id"]).stack()}
    for name, data in _files(site).items():
        body = data.decode("utf-8")
        assert not [v for v in values if len(v) > 2 and v in body], name


def test_check_offline_finds_every_external_reference(tmp_path):
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "index.html").write_text(
        "<!DOCTYPE html><html><head>"
        '<link rel="stylesheet" href="https://cdn.example.com/bootstrap.min.css">'
        "<script src='//cdn.example.com/jquery.js'></script>"
        '<style>@import "http://fonts.example.com/a.css"; body { background: url( https://x.example.com/b.png ) }</style>'
        '<link rel="stylesheet" href="site.css"><script src="local.js"></script>'
        "</head><body>"
        '<img src="HTTP://img.example.com/c.png"><iframe src=" \\\\evil.example.com/d"></iframe>'
        '<img src="data:image/png;base64,AAAA"><a href="#top">top</a><a href="validations/x.html">x</a>'
        "<div style=\"background-image:url('//e.example.com/e.png')\"></div>"
        "<p>https://not-a-reference.example.com in text</p>"
        "</body></html>",
        encoding="utf-8",
    )
    (site / "sub" / "s.css").write_text(
        '@import url("https://f.example.com/f.css");\n.a { background: url(../local.png) }\n', encoding="utf-8"
    )
    found = check_offline(site)
    assert len(found) == 8, found
    for host in ("cdn.example.com/bootstrap", "cdn.example.com/jquery", "fonts.", "x.example", "img.", "evil.", "e.ex"):
        assert any(host in f for f in found), host
    assert any(f.startswith("sub/s.css: css https://f.example.com") for f in found)
    assert not [f for f in found if "local" in f or "data:" in f or "not-a-reference" in f]
    assert external("https://a") and external("//a") and external(" http://a") and not external("a/b.html")
    assert not external("data:text/css,x") and not external("#x") and not external("../index.html")


def _hostile(result: dict) -> dict:
    """``result`` with hostile text wherever a result holds text, and values where none should be."""
    r = copy.deepcopy(result)
    r["meta"]["extract"] = "<img src=https://evil.example.com/x.png>"
    r["meta"]["suite_version"] = "v\u202e1<b>"
    e = next(x for x in r["results"] if not x["success"])
    cfg = e["expectation_config"]
    cfg["kwargs"]["column"] = "<script>alert(1)</script>\u202ename"
    cfg["kwargs"]["row_condition"] = '"><iframe src=//evil.example.com>'
    cfg["meta"]["rule_id"] = "x<svg onload=alert(1)>\u200b"
    e["result"]["unexpected_list"] = ["SECRET-VALUE-1"]  # never stored (exclude_unexpected_values); never shown
    e["result"]["unexpected_index_list"][0]["customer_id"] = ["SECRET-VALUE-2"]
    e["result"]["unexpected_index_list"][0]["_source_file"] = ["<b>F\u202e.dat"]
    return r


def test_hostile_values_are_escaped_and_cleaned_and_no_value_is_shown(tmp_path, gx_results):
    _, both = gx_results
    dq = tmp_path / "dq"
    suite = "crm.a b#c?d%e<i>"
    result = {**_hostile(both), "suite_name": suite}
    publish(dq, [(result, f"{D1:%Y%m%d}-{D2:%Y%m%d}")], "run 1/<b>")
    # a stored result edited on disk holds what GX's schema would refuse: the pages are rendered from it alike
    stored = next((dq / "validations").rglob("*.json"))
    data = json.loads(stored.read_text(encoding="utf-8"))
    data["results"][0]["expectation_config"]["severity"] = "<u>\x1b[31m"
    data["results"][0]["result"]["element_count"] = "<u>"
    stored.write_text(json.dumps(data), encoding="utf-8")
    rebuild(dq)
    site = dq / "site"
    assert check_offline(site) == []
    index = _parse(site / "index.html")
    assert len(index.rows) == 1 and (site / unquote(index.rows[0][0])).is_file()
    assert "%23" in index.rows[0][0] and "%3F" in index.rows[0][0]  # '#' and '?' encoded, not a fragment or query
    for name, data in _files(site).items():
        body = data.decode("utf-8")
        assert "SECRET-VALUE" not in body, name
        assert not re.search("[\u202e\u200b\x1b]", body), name
        if name.endswith(".html"):
            assert not re.search(r"<(script|img|iframe|svg|u|b|i)\b", body), name
    page = next(p for p in site.rglob("*.html") if p.name != "index.html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;name" in page.read_text(encoding="utf-8")


def test_the_same_stored_results_give_the_same_bytes(tmp_path, gx_results):
    one, both = gx_results
    a, b = tmp_path / "a" / "dq", tmp_path / "b" / "dq"
    publish(a, [(one, f"{D1:%Y%m%d}")], "run-1")
    publish(a, [(both, f"{D1:%Y%m%d}-{D2:%Y%m%d}")], "run-2")
    shutil.copytree(a / "validations", b / "validations")
    rebuild(b)  # every page from the stored JSON at once
    assert _files(a / "site") == _files(b / "site")
    before = {p: p.stat().st_mtime_ns for p in (a / "site").rglob("*") if p.is_file()}
    rebuild(a)
    publish(a, [], "run-3")
    assert {p: p.stat().st_mtime_ns for p in (a / "site").rglob("*") if p.is_file()} == before  # nothing rewritten
    manifest = _manifest(a)
    assert [e["page"] for e in manifest] == sorted(e["page"] for e in manifest)
    assert [(e["dates"], e["evaluated"] > 0, e["failed"], e["success"]) for e in manifest] == sorted(
        [(f"{D1:%Y%m%d}", True, 0, True), (f"{D1:%Y%m%d}-{D2:%Y%m%d}", True, 1, False)]
    )


def test_the_manifest_follows_the_store(tmp_path, gx_results):
    one, both = gx_results
    dq = tmp_path / "dq"
    publish(dq, [(one, f"{D1:%Y%m%d}"), (both, f"{D1:%Y%m%d}-{D2:%Y%m%d}")], "run-1")
    assert len(_manifest(dq)) == 2
    # retention purged a result (its JSON and its page): the next publish drops it from the index
    gone = next((dq / "validations").rglob(f"{D1:%Y%m%d}.json"))
    gone.unlink()
    (dq / "site" / gone.relative_to(dq).with_suffix(".html")).unlink()
    publish(dq, [], "run-2")
    assert [e["dates"] for e in _manifest(dq)] == [f"{D1:%Y%m%d}-{D2:%Y%m%d}"]
    assert len(_parse(dq / "site" / "index.html").rows) == 1
    # a page removed by hand is rendered again; a missing or foreign manifest is rebuilt from the store
    page = next((dq / "site" / "validations").rglob("*.html"))
    page.unlink()
    publish(dq, [], "run-3")
    assert page.is_file()
    for text in (None, "{not json", '{"format": 0, "results": []}', '{"format": 1, "results": [{"page": 1}]}'):
        manifest = dq / "site" / "index.json"
        manifest.unlink()
        if text:
            manifest.write_text(text)
        publish(dq, [], "run-4")
        assert len(_manifest(dq)) == 1 and len(_parse(dq / "site" / "index.html").rows) == 1


def test_a_site_gx_built_gets_our_index_and_keeps_its_other_files(tmp_path, gx_results):
    one, _ = gx_results
    dq = tmp_path / "dq"
    publish(dq, [(one, f"{D1:%Y%m%d}")], "run-1")
    site = dq / "site"
    for name in ("index.html", "index.json", "site.css"):
        (site / name).unlink()
    # what GX's site builder left: its index (list filled by a script from a CDN), styles, expectation pages
    gx_index = '<html><head><script src="https://cdn.jsdelivr.net/npm/jquery.min.js"></script></head></html>'
    (site / "index.html").write_text(gx_index)
    old = site / "expectations" / "crm" / "branches.html"
    old.parent.mkdir(parents=True)
    old.write_text('<link href="https://cdn.jsdelivr.net/npm/bootstrap.min.css" rel="stylesheet">')
    publish(dq, [], "run-2")  # no manifest: every stored result is read and its page rendered
    assert len(_parse(site / "index.html").rows) == 1
    assert old.is_file() and (site / "site.css").is_file()
    assert [f.split(":")[0] for f in check_offline(site)] == ["expectations/crm/branches.html"]


def test_the_command_rebuilds_the_site(tmp_path, gx_results):
    from click.testing import CliRunner

    from crm.cli import main

    one, _ = gx_results
    dq = tmp_path / "dq"
    publish(dq, [(one, f"{D1:%Y%m%d}")], "run-1")
    shutil.rmtree(dq / "site")
    out = CliRunner().invoke(main, ["--home", str(tmp_path), "dq-site"])
    assert out.exit_code == 0, out.output
    assert str(dq / "site" / "index.html") in out.output
    assert len(_parse(dq / "site" / "index.html").rows) == 1


def test_failing_rows_are_lineage_only_sorted_and_capped():
    from crm.reports.dq_site import MAX_ROWS_LISTED, failing_rows

    n = MAX_ROWS_LISTED + 500
    ids = {
        "_source_file": ["B.dat", "A.dat"] * (n // 2),
        "_row_number": list(range(n, 0, -1)),
        "customer_id": ["SECRET"] * n,  # not lineage: never read
    }
    groups, total = failing_rows({"unexpected_index_list": [ids]})
    assert total == n and sum(len(g["rows"]) for g in groups) == MAX_ROWS_LISTED
    assert [(g["file"], len(g["rows"])) for g in groups] == [("A.dat", n // 2), ("B.dat", MAX_ROWS_LISTED - n // 2)]
    assert all(g["rows"] == sorted(g["rows"]) for g in groups)
    assert "SECRET" not in repr(groups)
    rows = [{"_row_number": 3}, {"_row_number": "4"}, {"_row_number": True}, {"_source_file": "F", "_row_number": 1}]
    assert failing_rows({"unexpected_index_list": rows}) == ([{"file": "", "rows": [3]}, {"file": "F", "rows": [1]}], 2)
