"""Free-text scrubbing (crm.privacy.scrub) and the redacting log filter (crm.privacy.logfilter), on values the
real synthetic generator plants."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re

import numpy as np
import pandas as pd
import pytest

from crm.contract import BY_NAME
from crm.ingest.fileformat import read_extract
from crm.privacy.logfilter import RedactingFilter, install
from crm.privacy.scrub import PATTERNS, merge_names, names_by_customer, redact, scrub_text
from crm.synthetic import ids, texts
from crm.synthetic.generate import generate
from crm.synthetic.rand import uniform

FREE_TEXT = {
    "interactions": "notes",
    "service_requests": "description",
    "surveys": "comment",
    "transactions": "remark",
}


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    out = tmp_path_factory.mktemp("scrub_bank")
    generate(out, customers=5000, start=dt.date(2026, 3, 9), end=dt.date(2026, 3, 13), seed=7)

    def load(name: str) -> pd.DataFrame:
        ex = BY_NAME[name]
        files = sorted(out.glob(f"*/{ex.file_code}_*.dat"))
        assert files, name
        return pd.concat([read_extract(p, ex).table.to_pandas() for p in files], ignore_index=True)

    return {n: load(n) for n in ("customers", "corporates", "contacts", *FREE_TEXT)}


def _alternation(values) -> re.Pattern:
    vals = sorted({v for v in values if isinstance(v, str) and v}, key=len, reverse=True)
    assert vals
    return re.compile("|".join(map(re.escape, vals)))


def _hits(texts_: pd.Series, rx: re.Pattern) -> int:
    return int(texts_.dropna().map(lambda x: rx.search(x) is not None).sum())


def _row_names(bank, extract: str) -> pd.Series:
    frame = bank[extract]
    by_customer = names_by_customer(bank["customers"], bank["corporates"], bank["contacts"])
    names = frame["customer_id"].map(by_customer)
    if extract == "transactions":  # the remark names the counterparty, who need not be a customer
        names = merge_names(names, frame["counterparty_name"])
    return names


def _scrubbed(bank, extract: str) -> tuple[pd.Series, pd.Series]:
    raw = bank[extract][FREE_TEXT[extract]]
    return raw, scrub_text(raw, _row_names(bank, extract))


# ------------------------------------------------------------------------------------ generated bank


def test_planted_names_mobiles_and_ids_are_all_removed(bank):
    cust, corp, cont = bank["customers"], bank["corporates"], bank["contacts"]
    name_rx = _alternation(
        n for n in pd.concat([cust["customer_name"], corp["legal_rep_name"], cont["contact_name"]]) if len(n) >= 2
    )
    mobile_rx = _alternation(pd.concat([cust["mobile"], cont["contact_mobile"]]))
    id_rx = _alternation(pd.concat([cust["id_number"], corp["legal_rep_id_number"], cont["contact_id_number"]]))
    before = {"name": 0, "mobile": 0, "id": 0}
    for extract in FREE_TEXT:
        raw, clean = _scrubbed(bank, extract)
        for kind, rx in (("name", name_rx), ("mobile", mobile_rx), ("id", id_rx)):
            before[kind] += _hits(raw, rx)
            leaked = clean.dropna()[clean.dropna().map(lambda x, rx=rx: rx.search(x) is not None)]
            assert leaked.empty, (extract, kind, leaked.head().tolist())
        assert not clean.dropna().str.contains(r"1[3-9]\d{9}").any(), extract
    # the generator did plant them: otherwise this test would prove nothing
    assert before["name"] >= 20 and before["mobile"] >= 10 and before["id"] >= 3, before


def test_counterparty_names_in_transaction_remarks_are_removed(bank):
    frame = bank["transactions"]
    raw, clean = _scrubbed(bank, "transactions")
    named = raw.str.startswith("转账给", na=False)
    assert named.sum() >= 10
    assert (clean[named] == "转账给[姓名]").all(), clean[named & (clean != "转账给[姓名]")].head().tolist()
    # with the customer's names only, the counterparty's name would stay
    only_customers = scrub_text(
        raw, frame["customer_id"].map(names_by_customer(bank["customers"], bank["corporates"], bank["contacts"]))
    )
    assert (only_customers[named] != "转账给[姓名]").any()


def test_text_without_pii_is_unchanged(bank):
    for extract in FREE_TEXT:
        raw, clean = _scrubbed(bank, extract)
        names = _row_names(bank, extract)
        named = pd.Series(
            [
                isinstance(t, str) and isinstance(ns, tuple) and any(n in t for n in ns)
                for t, ns in zip(raw, names, strict=True)
            ],
            index=raw.index,
        )
        numbered = raw.str.contains(r"\d{11}|@", na=False)
        plain = raw.notna() & ~named & ~numbered
        assert plain.sum() > 0.7 * raw.notna().sum(), extract
        assert clean[plain].equals(raw[plain]), extract  # no planted value: not a character changes
        assert (clean[named | numbered] != raw[named | numbered]).all(), extract
        assert raw.isna().equals(clean.isna()), extract
        assert clean.index.equals(raw.index)
    # the generator's own vocabulary, amounts and dates are ordinary text
    vocab = pd.Series(
        list(texts.DETAILS)
        + list(texts.PRODUCTS_TXT)
        + list(texts.COMMENTS_MID)
        + list(texts.EXCUSES)
        + ["对03月12日一笔12345.67元的交易有异议", "工资3月", "逾期250天", "约500万元资金需求", "2023 2024 2025年"]
    )
    assert scrub_text(vocab).equals(vocab)
    assert [redact(v) for v in vocab] == vocab.tolist()


# --------------------------------------------------------------------------------- number patterns


def _cards(n: int, length: int) -> np.ndarray:
    key = np.arange(n)
    return ids.card_numbers(uniform(3, "bin", key), (uniform(3, "body", key) * 1e12).astype(np.int64), length)


def test_19_digit_card_is_a_card_not_a_phone():
    cards = _cards(50, 19)
    assert any(re.search(r"1[3-9]\d{9}", c) for c in cards)  # a phone-shaped run hides inside some
    s = pd.Series("客户银行卡" + cards.astype(object) + "已挂失")
    out = scrub_text(s)
    assert (out == "客户银行卡[卡号]已挂失").all(), out[out != "客户银行卡[卡号]已挂失"].tolist()
    for c in _cards(5, 16):
        assert redact(f"卡号{c}，手机13812345678") == "卡号[卡号]，手机[手机号]"
    assert redact("卡号6222 0212 3456 7890 123已冻结") == "卡号[卡号]已冻结"


def test_generated_mobiles_and_ids_inside_chinese_text():
    key = np.arange(400, dtype=np.int64)
    mobile = ids.mobiles(uniform(5, "p", key), (uniform(5, "n", key) * 1e8).astype(np.int64))
    idn = ids.id_numbers(
        np.full(len(key), 110105),
        np.datetime64("1970-01-01") + (uniform(5, "b", key) * 20000).astype("timedelta64[D]"),
        uniform(5, "m", key) < 0.5,
        key,
    )
    assert (pd.Series(idn).str[-1] == "X").any()
    name = np.full(len(key), "李娜", dtype=object)
    clause = texts.pii_clause(5, key, name, mobile, idn, 0.3, 0.3, 0.3)
    s = pd.Series("走访客户" + clause.astype(object) + "。")
    assert s.str.contains(r"\d{11}").sum() > 50 and s.str.contains(r"\d{17}[\dX]").sum() > 50
    out = scrub_text(s, pd.Series([("李娜",)] * len(s)))
    assert not out.str.contains(r"\d|李娜").any()
    assert out.str.contains("[手机号]", regex=False).any() and out.str.contains("[身份证号]", regex=False).any()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("13812345678,13912345678,13712345678", "[手机号],[手机号],[手机号]"),  # shared neighbours
        ("联系13812345678", "联系[手机号]"),
        ("号码138 1234 5678请回电", "号码[手机号]请回电"),
        ("１３８１２３４５６７８", "[手机号]"),  # full-width digits
        ("8613812345678", "[卡号]"),  # 13 digits matched whole, never a phone inside
        ("编号138123456789", "编号[卡号]"),  # 12 digits starting 13: a card-length run, not a phone
        ("身份证11010519900307123X", "身份证[身份证号]"),
        ("身份证11010519900307123x。", "身份证[身份证号]。"),
        ("110105199013071234", "[卡号]"),  # 18 digits, month 13: no ID number, still removed
        ("邮箱13812345678@qq.com，或zhang.san@bank-x.com.cn", "邮箱[邮箱]，或[邮箱]"),
        ("123456789012345678901234", "123456789012345678901234"),  # 24 digits: neither of them
        ("合同号HT2026031312", "合同号HT2026031312"),
        ("2026-03-13 09:30", "2026-03-13 09:30"),
        ("第1234期", "第1234期"),
    ],
)
def test_patterns(text, expected):
    assert redact(text) == expected
    assert scrub_text(pd.Series([text])).iloc[0] == expected


def test_patterns_do_not_need_word_boundaries():
    # Python's \b sees no boundary between a Chinese character and a digit: \b-based patterns would miss these
    assert re.search(r"\b1[3-9]\d{9}\b", "电话13812345678") is None
    assert redact("电话13812345678") == "电话[手机号]"
    assert set(PATTERNS) >= {"id_number", "card", "mobile", "email"}
    assert not any(r"\b" in p for p in PATTERNS.values())


# ------------------------------------------------------------------------------------------- names


def test_names_per_row_longest_first_short_ones_ignored():
    s = pd.Series(["张三丰和张三来访", "王先生来电", None, "李四来电", "无名氏"], index=[10, 11, 12, 13, 14])
    names = pd.Series([["张三", "张三丰"], ("王",), ("李四",), None, np.nan], index=s.index)
    out = scrub_text(s, names)
    assert out.tolist() == ["[姓名]和[姓名]来访", "王先生来电", None, "李四来电", "无名氏"]
    assert out.index.equals(s.index)
    # names looked up by label when the index differs in order
    assert scrub_text(s, names.iloc[::-1]).tolist() == out.tolist()
    typed = scrub_text(s.astype("string"), names)
    assert typed.dtype == "string" and typed.isna().tolist() == [False, False, True, False, False]
    assert scrub_text(s.iloc[:0]).empty


def test_names_by_customer():
    customers = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "customer_name": ["张三", "李四 ", "王"]})
    corporates = pd.DataFrame(
        {"customer_id": ["K1"], "company_name": ["某某科技有限公司"], "legal_rep_name": ["赵六一"]}
    )
    contacts = pd.DataFrame({"customer_id": ["C1", "C1", "K1", "C9"], "contact_name": ["张三", "周七八", "钱二", None]})
    by = names_by_customer(customers, corporates, contacts)
    assert by.to_dict() == {"C1": ("周七八", "张三"), "C2": ("李四",), "K1": ("赵六一", "钱二")}
    assert "某某科技有限公司" not in {n for t in by for n in t}
    frame = pd.DataFrame({"customer_id": ["K1", "C3", "C2"], "notes": ["赵六一说某某科技有限公司", "王", "李四"]})
    assert scrub_text(frame["notes"], frame["customer_id"].map(by)).tolist() == [
        "[姓名]说某某科技有限公司",
        "王",
        "[姓名]",
    ]
    assert names_by_customer(None, None, None).empty
    merged = merge_names(pd.Series([("张三",), None, None]), pd.Series(["刘龙", None, "赵六一"]))
    assert merged.tolist() == [("张三", "刘龙"), None, ("赵六一",)]


def test_scrub_text_agrees_with_redact(bank):
    raw = pd.concat([bank[e][c] for e, c in FREE_TEXT.items()], ignore_index=True).dropna()
    out = scrub_text(raw)
    assert (out != raw).sum() >= 10
    assert out.tolist() == [redact(x) for x in raw]


# ------------------------------------------------------------------------------------------ logging


@pytest.fixture
def clean_logger():
    made = []

    def make(name: str) -> logging.Logger:
        logger = logging.getLogger(name)
        made.append(logger)
        return logger

    yield make
    for logger in made:
        for target in (logger, *logger.handlers):
            for f in [f for f in target.filters if isinstance(f, RedactingFilter)]:
                target.removeFilter(f)
        for h in list(logger.handlers):
            logger.removeHandler(h)
        logger.setLevel(logging.NOTSET)


def test_log_filter_redacts_message_args_and_exceptions(caplog, clean_logger):
    logger = clean_logger("crm.test_scrub")
    assert install(["crm.test_scrub"]) == 1
    assert install(["crm.test_scrub"]) == 0  # idempotent
    with caplog.at_level(logging.INFO, logger="crm.test_scrub"):
        logger.info("customer %s, mobile %s, id %s", "C1", "13812345678", "11010519900307123X")
        try:
            raise ValueError("bad card 6222021234567890123")
        except ValueError:
            logger.exception("failed for %s", "zhang@example.com")
    first, second = caplog.records[-2:]
    assert first.getMessage() == "customer C1, mobile [手机号], id [身份证号]" and first.args is None
    assert second.getMessage() == "failed for [邮箱]"
    assert "13812345678" not in caplog.text and "11010519900307123X" not in caplog.text
    assert "6222021234567890123" not in caplog.text and "bad card [卡号]" in caplog.text
    assert "zhang@example.com" not in caplog.text


def test_log_filter_on_handlers_covers_child_loggers(clean_logger):
    parent = clean_logger("crm.test_scrub_parent")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    parent.addHandler(handler)
    parent.setLevel(logging.INFO)
    child = logging.getLogger("crm.test_scrub_parent.child")
    child.info("before install %s", "13812345678")
    assert "13812345678" in stream.getvalue()  # without the filter the value goes out
    assert install(("crm.test_scrub_parent",)) == 2  # the logger and its handler
    child.info("after install %s", "13912345678")
    assert "after install [手机号]" in stream.getvalue() and "13912345678" not in stream.getvalue()
    assert install(("crm.test_scrub_parent",)) == 0
    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1


def test_a_name_with_a_control_character_still_finds_the_name_in_cleaned_free_text():
    """Free text loses its control and format characters before the scrub; the names it must lose lose them
    too, so a raw name with a zero-width space or a bidi mark still finds the visible name."""
    from crm.privacy.apply import protect
    from crm.privacy.tokens import KeyRing

    customers = pd.DataFrame({"customer_id": ["C1", "C2"], "customer_name": ["张\u200b三丰", "\u202e李四\t"]})
    by = names_by_customer(customers)
    assert by.to_dict() == {"C1": ("张三丰",), "C2": ("李四",)}
    columns = [c.name for c in BY_NAME["surveys"].columns]
    raw = pd.DataFrame({c: [None, None] for c in columns})
    raw["customer_id"] = ["C1", "C2"]
    comment = next(c.name for c in BY_NAME["surveys"].columns if c.text == "strip")
    raw[comment] = ["客户张\u200b三丰对服务满意", "李\u2066四说好"]
    ring = KeyRing(keys={"k1": bytes(range(32))}, current="k1")
    staged = protect(raw, "surveys", ring, dt.date(2026, 1, 31), names=raw["customer_id"].map(by))
    assert staged[comment].tolist() == ["客户[姓名]对服务满意", "[姓名]说好"]
