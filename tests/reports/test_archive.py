"""The archive copy of a report (crm/reports/archive.py): PDF/A-3b, tagged, its tables attached as formula-safe
CSV dated by the report's logical time, the same bytes on every rendering, and attachments read by the leak
scan. The session bank's reports of every kind are checked in tests/test_report_archive.py."""

from __future__ import annotations

import csv
import io

import pikepdf
import pytest

from crm.reports.archive import csv_attachments, logical_time, table_frame, tables_of
from crm.reports.leakscan import bytes_texts, scan_texts
from crm.reports.render import render_html, render_pdf_document
from tests.reports.pdfa import attachments, check_pdfa

HOSTILE = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="dcterms.created" content="2024-04-01T10:00:00+08:00"><title>测试</title>
<script>var x = "<table><tr><td>not a table</td></tr></table>";</script></head><body>
<h2>重点客户 <small>一览</small></h2>
<table><thead><tr><th>客户</th><th class="num">余额（万元）</th><th>说明</th></tr></thead>
<tbody>
<tr><td>=HYPERLINK("http://x","点我")</td><td class="num" data-value="-12.5">-12.50</td><td>+86 138</td></tr>
<tr><td>张*</td><td class="num" data-value="3">3.00</td><td>@SUM(A1)</td></tr>
<tr><td>李*</td><td class="num" data-value="">—</td><td><table><tr><td>内层</td></tr></table></td></tr>
</tbody><tfoot><tr><td>合计</td><td class="num" data-value="-9.5">-9.50</td><td></td></tr></tfoot></table>
<h3>空表</h3><table><thead><tr><th>a</th></tr></thead><tbody></tbody></table>
</body></html>"""


def test_tables_are_read_with_their_heading_header_and_unformatted_numbers():
    (first, empty) = tables_of(HOSTILE)  # the table in the script is not one; the inner table is a cell
    assert first.title == "重点客户 一览" and empty.title == "空表" and empty.rows == []
    assert first.header == ["客户", "余额（万元）", "说明"]
    assert [r[1] for r in first.rows] == [("-12.5", True), ("3", True), ("", True), ("-9.5", True)]
    assert first.rows[2][2] == ("内层", False)
    frame = table_frame(first)  # a missing number (data-value "", a dash on the page) is an empty cell
    assert frame["余额（万元）"].tolist()[:2] == [-12.5, 3.0] and frame["余额（万元）"].isna().tolist()[2]
    text = table_frame(tables_of(HOSTILE.replace('data-value="-12.5"', ""))[0])  # a cell without data-value
    assert text["余额（万元）"].tolist() == ["-12.50", "3", "", "-9.5"]


def test_csv_attachments_are_formula_safe_utf8_with_bom_one_per_table_with_rows():
    (a,) = csv_attachments(HOSTILE)
    assert a.name == "table-01.csv" and a.description == "重点客户 一览"
    assert a.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(a.data.decode("utf-8-sig"))))
    assert rows[0] == ["客户", "余额（万元）", "说明"]
    assert rows[1][0] == '\'=HYPERLINK("http://x","点我")' and rows[1][2] == "'+86 138"
    assert rows[2][2] == "'@SUM(A1)"
    assert rows[1][1] == "-12.5" and rows[3][1] == ""  # a number column: the number as written, unprefixed


def test_the_logical_time_comes_from_the_created_meta():
    assert logical_time(HOSTILE).isoformat() == "2024-04-01T02:00:00+00:00"


@pytest.fixture(scope="module")
def dq_pdf():
    """The data-quality report of a synthetic month with evidence (tables with rows), as HTML and PDF."""
    from bench.reports import sample_dq_context

    html = render_html("dq_report", sample_dq_context())
    return html, render_pdf_document(html).data


def test_a_real_report_is_pdfa_3b_tagged_with_its_tables_attached_and_the_same_bytes_twice(dq_pdf):
    html, data = dq_pdf
    assert check_pdfa(data) == []
    assert render_pdf_document(html).data == data  # no wall clock, no random id
    files = attachments(data)
    assert len(files) >= 3 and set(files) == {a.name for a in csv_attachments(html)}
    pdf = pikepdf.open(io.BytesIO(data))
    for spec in pdf.attachments.values():  # dated by the report's logical time: 2026-11-02 08:30 bank time
        params = spec.obj.EF.F.Params
        assert str(params.ModDate) == str(params.CreationDate) == "D:20261102003000Z"
    assert str(pdf.docinfo["/CreationDate"]).startswith("D:20261102083000+08")


def test_the_structural_check_fails_on_a_plain_pdf(dq_pdf):
    html, _ = dq_pdf
    problems = check_pdfa(render_pdf_document(html, archive=False).data)
    assert "XMP pdfaid is part None conformance None" in problems
    assert "not tagged (/MarkInfo /Marked, /StructTreeRoot)" in problems


def test_the_leak_scan_reads_what_is_attached(dq_pdf):
    _, data = dq_pdf
    secret = "欧阳娜娜"
    assert scan_texts(bytes_texts("r.pdf", data), {"person_name": [secret]}) == []
    pdf = pikepdf.open(io.BytesIO(data))
    pdf.attachments["extra.csv"] = pikepdf.AttachedFileSpec(pdf, f"客户\r\n{secret}\r\n".encode(), mime_type="text/csv")
    out = io.BytesIO()
    pdf.save(out)
    (finding,) = scan_texts(bytes_texts("r.pdf", out.getvalue()), {"person_name": [secret]})
    assert (finding.kind, finding.index, finding.source) == ("person_name", 0, "r.pdf")
