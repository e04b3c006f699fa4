"""The privacy policy covers the contract; tokens are keyed, stable across extracts and equal to Python's
hmac; display masks and generalisation follow the bank's conventions."""

import dataclasses
import datetime as dt
import hashlib
import hmac

import pandas as pd
import pytest

from crm.contract import EXTRACTS
from crm.privacy import policy as pol
from crm.privacy.apply import protect
from crm.privacy.masks import age_band, mask
from crm.privacy.tokens import KeyError_, KeyRing, load_ring, new_ring, save_ring, token_of, tokenise

RING = KeyRing(keys={"k1": bytes(range(32))}, current="k1")


def test_policy_covers_every_contract_column_and_nothing_else():
    p = pol.load_policy()
    for e in EXTRACTS:
        assert list(p.for_extract(e.name)) == e.column_names
        for c in e.columns:
            entry = p.for_extract(e.name)[c.name]
            assert pol.CLASSES.index(entry.pii_class) >= pol.CLASSES.index(c.pii)
            if c.semantic in (
                "id_number",
                "mobile",
                "card_number",
                "email",
                "person_name",
                "address",
                "free_text",
                "birth_date",
            ):
                assert entry.treatment != "keep" or entry.why, (e.name, c.name)
            if c.name == "customer_id":
                assert entry.treatment == "token" and entry.domain == "customer"


def test_a_column_without_policy_fails_the_load():
    text = pol.POLICY_FILE.read_text(encoding="utf-8")
    broken = text.replace('customer_name = { class = "C2", treatment = "mask", mask = "name" }\n', "")
    assert broken != text
    with pytest.raises(pol.PolicyError, match="no policy for contract columns customers.customer_name"):
        pol.parse(broken)
    with pytest.raises(pol.PolicyError, match="needs a `why`"):
        pol.parse(
            text.replace(
                'mobile = { class = "C2", treatment = "token", domain = "phone", display = "mobile" }',
                'mobile = { class = "C2", treatment = "keep" }',
                1,
            )
        )


def test_definitions_refuse_an_incomplete_policy(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    bad = tmp_path / "policy.toml"
    bad.write_text(
        pol.POLICY_FILE.read_text(encoding="utf-8").replace('employer = { class = "C1", treatment = "keep" }\n', ""),
        encoding="utf-8",
    )
    # point the (cached) loader's default path at the incomplete file, then load the definitions
    code = (
        "import pathlib, crm.privacy.policy as p\n"
        f"p.load_policy.__wrapped__.__defaults__ = (pathlib.Path({str(bad)!r}),)\n"
        "import orchestration.definitions\n"
    )
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo)
    assert proc.returncode != 0 and "no policy for contract columns customers.employer" in proc.stderr


def test_tokens_equal_python_hmac_and_normalise():
    values = pd.Series(["110101199003077654", " １１０１０１１９９００３０７７６５x ", None, "", "13812345678"])
    got = tokenise(values, "person_id", RING)
    key = RING.domain_key("person_id")
    expect = "k1." + hmac.new(key, b"110101199003077654", hashlib.sha256).hexdigest()[:32]
    assert got[0] == expect == token_of("110101199003077654", "person_id", RING)
    assert got[1] == token_of("11010119900307765X", "person_id", RING)  # NFKC, trimmed, upper-case X
    assert pd.isna(got[2]) and pd.isna(got[3])
    assert got.index.equals(values.index)


def test_same_value_same_token_across_extracts_other_key_other_token():
    a = tokenise(pd.Series(["C0001", "C0002", "C0001"]), "customer", RING)
    b = tokenise(pd.Series(["C0002", "C0001"]), "customer", RING)
    assert a[0] == a[2] == b[1] and a[1] == b[0] and a[0] != a[1]
    other = tokenise(pd.Series(["C0001"]), "customer", new_ring())
    assert other[0] != a[0] and other[0].startswith("k1.")
    # domains have their own keys: a phone number and a customer number never share a token
    assert tokenise(pd.Series(["C0001"]), "account", RING)[0] != a[0]
    # the token holds no part of the value, and carries its key version
    assert "0001" not in a[0][3:] and a[0].startswith("k1.") and len(a[0]) == 35


def test_rotation_and_key_files(tmp_path):
    path = tmp_path / "keys.json"
    save_ring(RING, path)
    assert oct(path.stat().st_mode)[-3:] == "600"
    ring = load_ring(str(path))
    rotated = ring.rotated()
    assert rotated.current == "k2" and set(rotated.keys) == {"k1", "k2"}
    old = tokenise(pd.Series(["C0001"]), "customer", rotated, "k1")[0]
    new = tokenise(pd.Series(["C0001"]), "customer", rotated)[0]
    assert old == tokenise(pd.Series(["C0001"]), "customer", RING)[0] and new.startswith("k2.") and new != old
    with pytest.raises(KeyError_, match="does not exist"):
        load_ring(str(tmp_path / "missing.json"))
    with pytest.raises(KeyError_):
        dataclasses.replace(RING, current="k9")


def test_display_masks():
    names = mask(pd.Series(["张三丰", "欧阳娜娜", "李", None]), "name")
    assert names[:3].tolist() == ["张**", "欧***", "李*"] and pd.isna(names[3])
    assert mask(pd.Series(["11010119900307765X"]), "id_number")[0] == "110***********765X"
    assert mask(pd.Series(["6217001234567891234"]), "card")[0] == "621700*********1234"
    assert mask(pd.Series(["13812345678"]), "mobile")[0] == "138****5678"
    assert mask(pd.Series(["zhang.san@bank.cn", "no-at-sign"]), "email").tolist() == ["z***@bank.cn", "**********"]
    assert mask(pd.Series(["123"]), "card")[0] == "***"  # too short to keep both ends: masked whole


def test_age_bands_at_the_business_date():
    born = pd.Series([dt.date(1996, 1, 31), dt.date(1996, 2, 1), dt.date(2010, 1, 1), dt.date(1940, 1, 1), None])
    assert age_band(born, dt.date(2026, 1, 31)).tolist() == ["30-39", "20-29", "<20", "70+", None]


def test_protect_applies_the_policy():
    frame = pd.DataFrame({c: ["x"] for c in EXTRACTS[2].column_names})  # customers
    assert EXTRACTS[2].name == "customers"
    frame["customer_name"] = ["王小明"]
    frame["id_number"] = ["11010119900307765X"]
    frame["mobile"] = ["13812345678"]
    frame["address"] = ["上海市浦东新区世纪大道100号"]
    frame["city"] = ["上海市"]
    frame["birth_date"] = [dt.date(1990, 3, 7)]
    frame["_row_number"] = [1]
    out = protect(frame, "customers", RING, dt.date(2026, 1, 31))
    row = out.iloc[0]
    assert row["customer_name"] == "王**" and row["id_number_masked"] == "110***********765X"
    assert row["id_number"] == token_of("11010119900307765X", "person_id", RING)
    assert row["mobile_masked"] == "138****5678" and row["address"] == "上海市" and row["age_band"] == "30-39"
    assert "birth_date" not in out.columns and row["_row_number"] == 1
    assert out.attrs["privacy_policy"] == pol.load_policy().version
    text = out.to_csv()
    assert not any(v in text for v in ("王小明", "11010119900307765X", "13812345678", "世纪大道"))


def test_repeated_values_take_the_distinct_path_with_the_same_tokens():
    values = pd.Series(["C1", "C2", None, "C3"] * 25)  # 3 distinct of 100: hashed once each
    got = tokenise(values, "customer", RING)
    assert got[:4].tolist()[:2] == [token_of("C1", "customer", RING), token_of("C2", "customer", RING)]
    assert got[3] == token_of("C3", "customer", RING) and got.isna().sum() == 25
    assert got.tolist()[4:8][:2] == got.tolist()[:2]
