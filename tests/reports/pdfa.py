"""A structural check of the PDF/A-3b archive copies (:mod:`crm.reports.archive`) with pikepdf.

What it checks, per file (each item a problem string when it fails):

- the header says PDF 1.7 and the file opens; it is not encrypted; the trailer has a file identifier (/ID);
- XMP metadata: ``pdfaid:part`` 3 and ``pdfaid:conformance`` B; ``dc:title`` present and equal to the
  document information's /Title; ``xmp:CreateDate`` present and the same instant as /CreationDate;
- an output intent ``/GTS_PDFA1`` with an embedded ICC profile of three components (sRGB);
- every font on every page (descendant fonts of composite fonts included) is embedded (FontFile, FontFile2
  or FontFile3);
- no JavaScript, no /AA additional actions and no /Launch, /URI-to-file or /SubmitForm actions;
- tagged: /MarkInfo /Marked true and a /StructTreeRoot; the catalog has a /Lang;
- attachments: each is a /Filespec with /F and /UF, an /AFRelationship, an embedded file stream with a MIME
  /Subtype and /Params with /ModDate; each is listed in the catalog's /AF array.

What it does not check (a full validator such as veraPDF does, and none is installable here): the content
streams' operators (colour spaces used without an output intent, transparency groups), every glyph's presence
in its embedded font subset and its ToUnicode mapping, the XMP schema's extension schemas, the exact XMP/Info
equivalence of every key, and the tag tree's semantic correctness.
"""

from __future__ import annotations

import io

import pikepdf

XMP_PART = "{http://www.aiim.org/pdfa/ns/id/}part"
XMP_CONFORMANCE = "{http://www.aiim.org/pdfa/ns/id/}conformance"
XMP_TITLE = "{http://purl.org/dc/elements/1.1/}title"
XMP_CREATED = "{http://ns.adobe.com/xap/1.0/}CreateDate"


def _fonts(resources, seen: set) -> list:
    out = []
    if resources is None:
        return out
    fonts = resources.get("/Font")
    if fonts is not None:
        for _, font in fonts.items():
            out.append(font)
            for d in font.get("/DescendantFonts", []):
                out.append(d)
    xobjects = resources.get("/XObject")
    if xobjects is not None:
        for _, x in xobjects.items():
            key = x.objgen
            if key in seen or x.get("/Subtype") != "/Form":
                continue
            seen.add(key)
            out += _fonts(x.get("/Resources"), seen)
    return out


def _pdf_date_to_iso(value: str) -> str:
    """D:YYYYMMDDHHmmSS+HH'mm' (or Z) -> YYYY-MM-DDTHH:MM:SS+HH:MM."""
    v = value[2:] if value.startswith("D:") else value
    base = f"{v[0:4]}-{v[4:6]}-{v[6:8]}T{v[8:10]}:{v[10:12]}:{v[12:14]}"
    tz = v[14:]
    if not tz or tz.startswith("Z"):
        return base + "+00:00"
    return f"{base}{tz[0]}{tz[1:3]}:{tz[4:6]}"


def check_pdfa(data: bytes) -> list[str]:
    """The problems :mod:`this module <tests.reports.pdfa>` finds in a PDF/A-3b archive copy (empty: none)."""
    import datetime as dt

    problems: list[str] = []
    if not data.startswith(b"%PDF-1.7"):
        problems.append(f"header {data[:8]!r} is not %PDF-1.7")
    pdf = pikepdf.open(io.BytesIO(data))
    if pdf.is_encrypted:
        problems.append("encrypted")
    if "/ID" not in pdf.trailer:
        problems.append("no file identifier (/ID)")
    meta = pdf.open_metadata()
    if meta.get(XMP_PART) != "3" or meta.get(XMP_CONFORMANCE) != "B":
        problems.append(f"XMP pdfaid is part {meta.get(XMP_PART)!r} conformance {meta.get(XMP_CONFORMANCE)!r}")
    info = pdf.docinfo
    if not meta.get(XMP_TITLE) or str(info.get("/Title", "")) != meta.get(XMP_TITLE):
        problems.append("dc:title missing or not the document information's /Title")
    created = meta.get(XMP_CREATED)
    if not created or "/CreationDate" not in info:
        problems.append("xmp:CreateDate or /CreationDate missing")
    elif dt.datetime.fromisoformat(created) != dt.datetime.fromisoformat(_pdf_date_to_iso(str(info["/CreationDate"]))):
        problems.append(f"xmp:CreateDate {created} is not /CreationDate {info['/CreationDate']}")
    intents = [i for i in pdf.Root.get("/OutputIntents", []) if i.get("/S") == "/GTS_PDFA1"]
    if not intents or int(intents[0].get("/DestOutputProfile", {}).get("/N", 0)) != 3:
        problems.append("no /GTS_PDFA1 output intent with an RGB ICC profile")
    seen: set = set()
    for n, page in enumerate(pdf.pages, start=1):
        for font in _fonts(page.get("/Resources"), seen):
            if font.get("/Subtype") == "/Type0":
                continue  # composite: its descendant is checked
            d = font.get("/FontDescriptor")
            if d is None and font.get("/Subtype") == "/Type3":
                continue  # glyphs are content streams
            if d is None or not any(k in d for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                problems.append(f"page {n}: font {font.get('/BaseFont')} is not embedded")
        if "/AA" in page:
            problems.append(f"page {n}: additional actions")
        for annot in page.get("/Annots", []):
            action = annot.get("/A")
            if action is not None and action.get("/S") in ("/JavaScript", "/Launch", "/SubmitForm"):
                problems.append(f"page {n}: {action.get('/S')} action")
    names = pdf.Root.get("/Names")
    if names is not None and "/JavaScript" in names:
        problems.append("document JavaScript")
    if "/AA" in pdf.Root or "/OpenAction" in pdf.Root and pdf.Root.OpenAction.get("/S") == "/JavaScript":
        problems.append("document-level actions")
    if not bool(pdf.Root.get("/MarkInfo", {}).get("/Marked", False)) or "/StructTreeRoot" not in pdf.Root:
        problems.append("not tagged (/MarkInfo /Marked, /StructTreeRoot)")
    if "/Lang" not in pdf.Root:
        problems.append("no /Lang")
    af = {o.objgen for o in pdf.Root.get("/AF", [])}
    for name, spec in pdf.attachments.items():
        obj = spec.obj
        stream = obj.get("/EF", {}).get("/F")
        if "/UF" not in obj or "/F" not in obj or "/AFRelationship" not in obj:
            problems.append(f"attachment {name}: /F, /UF or /AFRelationship missing")
        if stream is None or "/Subtype" not in stream or "/ModDate" not in stream.get("/Params", {}):
            problems.append(f"attachment {name}: embedded file without MIME /Subtype or /Params /ModDate")
        if obj.objgen not in af:
            problems.append(f"attachment {name}: not in the catalog's /AF")
    return problems


def attachments(data: bytes) -> dict[str, tuple[str, bytes]]:
    """The embedded files of a PDF: name -> (description, bytes)."""
    pdf = pikepdf.open(io.BytesIO(data))
    return {name: (str(spec.description or ""), spec.get_file().read_bytes()) for name, spec in pdf.attachments.items()}
