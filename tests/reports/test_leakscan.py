from __future__ import annotations

from email.message import EmailMessage

import pytest

from crm.reports.leakscan import (
    Finding,
    eml_texts,
    file_texts,
    pdf_text,
    scan_files,
    scan_summary,
    scan_texts,
)
from crm.reports.render import render_pdf

NAME, ID_NUMBER = "王小明", "110101199003077777"
FORBIDDEN = {"customer_name": ["李四", NAME, "张"], "id_number": ["440301198001010011", ID_NUMBER]}


def _pdf(body: str) -> bytes:
    return render_pdf(
        f"<!DOCTYPE html><html lang='zh-CN'><body style=\"font-family: 'Noto Sans CJK SC'\">{body}</body></html>"
    )


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory):
    d = tmp_path_factory.mktemp("leak")
    planted = d / "planted.pdf"
    planted.write_bytes(
        _pdf(
            f"<p>客户 {NAME[0]}** 余额 12 万元</p><table><tr><td>证件</td><td>{ID_NUMBER}</td></tr>"
            f"</table><p>备注：{NAME}</p>"
        )
    )
    clean = d / "clean.pdf"
    clean.write_bytes(_pdf(f"<p>客户 {NAME[0]}** 证件 110***********7777</p>"))
    return planted, clean


def _eml(path, pdf: bytes, subject: str = "月度报告") -> None:
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, "crm@localhost", "rm001@bank.example"
    msg.set_content("您好，附件为本月报告。")
    msg.add_alternative("<p>您好，附件为<b>本月</b>报告。</p>", subtype="html")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="report.pdf")
    path.write_bytes(bytes(msg))


def test_pdf_findings_name_kind_index_and_file_never_the_value(pdfs):
    planted, clean = pdfs
    findings = scan_texts({"planted.pdf": pdf_text(planted), "clean.pdf": pdf_text(clean)}, FORBIDDEN)
    assert findings == [Finding("customer_name", 1, "planted.pdf"), Finding("id_number", 1, "planted.pdf")]
    assert [str(f) for f in findings] == ["customer_name #1 found in planted.pdf", "id_number #1 found in planted.pdf"]
    assert not any(NAME in repr(f) or ID_NUMBER in repr(f) for f in findings)


def test_eml_with_pdf_attachment(tmp_path, pdfs):
    planted, clean = pdfs
    _eml(tmp_path / "bad.eml", planted.read_bytes())
    _eml(tmp_path / "good.eml", clean.read_bytes())
    texts = eml_texts(tmp_path / "bad.eml")
    assert "bad.eml:report.pdf" in texts and "bad.eml:headers" in texts
    assert {str(f) for f in scan_texts(texts, FORBIDDEN)} == {
        "customer_name #1 found in bad.eml:report.pdf",
        "id_number #1 found in bad.eml:report.pdf",
    }
    assert scan_texts(eml_texts(tmp_path / "good.eml"), FORBIDDEN) == []
    # a value in a header (the subject) or an HTML part is found too
    _eml(tmp_path / "subject.eml", clean.read_bytes(), subject=f"{NAME} 的报告")
    assert [str(f) for f in scan_texts(eml_texts(tmp_path / "subject.eml"), FORBIDDEN)] == [
        "customer_name #1 found in subject.eml:headers"
    ]


def test_normalisation_and_short_values(tmp_path):
    text = {"a.txt": "王 小\n明, ＩＤ 110101 19900307 7777"}  # split by layout, full-width letters
    assert [str(f) for f in scan_texts(text, FORBIDDEN)] == [
        "customer_name #1 found in a.txt",
        "id_number #1 found in a.txt",
    ]
    assert scan_texts({"b.txt": "张经理"}, FORBIDDEN) == []  # one-character values are skipped
    html = tmp_path / "r.html"
    html.write_text("<td>&#29579;&#23567;&#26126;</td>", encoding="utf-8")  # entities decode to the name
    n, findings = scan_files([html], FORBIDDEN)
    assert n == 1 and [str(f) for f in findings] == ["customer_name #1 found in r.html"]
    assert file_texts(html)["r.html"]
    assert scan_summary(n, findings) == {
        "files_scanned": 1,
        "passed": False,
        "findings": ["customer_name #1 found in r.html"],
    }


def test_a_raw_value_with_a_control_character_is_found_as_the_reader_sees_it():
    """Reports never show a control or format character, so a raw name holding one (a zero-width space, a
    bidi override) is looked for without it."""
    found = scan_texts({"r.html": "客户张三丰对服务满意"}, {"customer_name": ["张\u200b三丰"]})
    assert [str(f) for f in found] == ["customer_name #0 found in r.html"]
    found = scan_texts({"r.html": "客户\u202e张三丰"}, {"customer_name": ["张三丰"]})
    assert [str(f) for f in found] == ["customer_name #0 found in r.html"]
