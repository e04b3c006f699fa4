from __future__ import annotations

import re
from pathlib import Path

import pytest

from crm.reports.fmt import LOCALES
from crm.reports.i18n import MissingMessage, catalogue, load_file, translator
from crm.reports.render import TEMPLATES_DIR

PACKAGE = Path(__file__).resolve().parents[2] / "crm" / "reports"
# t("key") / t('key') as a call of the label function, not e.g. c.get("kind")
KEY = re.compile(r"""(?<![\w.])t\(\s*(["'])([^"']+)\1""")


def used_keys() -> dict[str, set[str]]:
    files = [*TEMPLATES_DIR.glob("*.j2"), *PACKAGE.glob("*.py")]
    out: dict[str, set[str]] = {}
    for f in files:
        for _, key in KEY.findall(f.read_text(encoding="utf-8")):
            out.setdefault(key, set()).add(f.name)
    return out


def test_templates_use_labels():
    keys = used_keys()
    assert "dq.title" in keys and "common.classification" in keys and "dq.chart.pass_rate" in keys
    assert not {k for k in keys if k in ("kind", "opts")}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_used_key_exists_in_every_language(locale):
    """Literal keys must exist; a key built in the template (``t("tier." ~ code)``) shows up as its prefix
    and needs at least one label under that prefix."""
    t = translator(locale)
    keys = catalogue()
    missing = {}
    for key, files in used_keys().items():
        if key.endswith("."):
            if not any(k.startswith(key) for k in keys):
                missing[key + "*"] = sorted(files)
            continue
        try:
            assert t(key)
        except MissingMessage:
            missing[key] = sorted(files)
    assert not missing, f"labels missing from the catalogue (crm/reports/messages*.toml): {missing}"


def test_catalogue_entries_have_both_languages_and_placeholders_agree():
    for key, texts in catalogue().items():
        assert set(texts) == set(LOCALES), key
        fields = {lang: set(re.findall(r"{(\w+)}", text)) for lang, text in texts.items()}
        assert fields["zh_CN"] == fields["en"], f"{key}: placeholders differ {fields}"


def test_missing_key_raises_and_no_fallback(tmp_path):
    with pytest.raises(MissingMessage):
        translator("en")("dq.no_such_label")
    bad = tmp_path / "messages.toml"
    bad.write_text('"x.only_chinese" = { zh_CN = "只有中文" }\n', encoding="utf-8")
    with pytest.raises(ValueError, match="exactly zh_CN, en"):
        load_file(bad)


def test_catalogue_files_merge_and_refuse_duplicates(tmp_path):
    (tmp_path / "messages.toml").write_text('"a.x" = { zh_CN = "甲", en = "A" }\n', encoding="utf-8")
    (tmp_path / "messages_more.toml").write_text('"b.x" = { zh_CN = "乙", en = "B" }\n', encoding="utf-8")
    assert set(catalogue(tmp_path)) == {"a.x", "b.x"}
    (tmp_path / "messages_dup.toml").write_text('"a.x" = { zh_CN = "丙", en = "C" }\n', encoding="utf-8")
    catalogue.cache_clear()
    with pytest.raises(ValueError, match="defined in both"):
        catalogue(tmp_path)
    catalogue.cache_clear()


def test_placeholders():
    assert translator("en")("dq.kpi.leak_scan_sub", files="3") == "3 files scanned"
    assert translator("zh_CN")("dq.kpi.leak_scan_sub", files="3") == "扫描 3 个文件"


def test_a_markup_field_keeps_its_markup_and_every_other_field_is_escaped():
    from markupsafe import Markup

    from crm.reports.i18n import translator

    t = translator("zh_CN")
    figure = Markup('<span class="fig" data-figure="ka.nps" data-value="1.5">1.5</span>')
    out = t("ka.kpi.nps", nps=figure, n="<script>alert(1)</script>")
    assert isinstance(out, Markup)
    assert '<span class="fig" data-figure="ka.nps"' in out and "&lt;script&gt;" in out and "<script>" not in out
    assert t("ka.kpi.nps", nps="<b>", n=1) == "NPS <b> · 1 份回复"  # no markup field: plain text, escaped later
