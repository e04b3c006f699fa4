import datetime as dt

import pandas as pd
import pytest

from crm import contract
from crm.ingest.fileformat import ExtractRejected, FileName, read_extract, write_extract
from tests.ingest.frames import branches_frame, loans_frame

D = dt.date(2026, 1, 31)
BRANCHES = contract.get("branches")
LOANS = contract.get("loans")


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_round_trip_both_encodings(tmp_path, encoding):
    path = write_extract(branches_frame(), BRANCHES, D, tmp_path, encoding=encoding)
    assert path.name == "BRANCH_20260131_001.dat"
    assert path.with_suffix(".ok").exists()
    raw = path.read_bytes()
    assert raw.startswith(f"H|BRANCH|20260131|001|{encoding.upper()}|3||0.00\n".encode())
    parsed = read_extract(path, BRANCHES)
    df = parsed.table.to_pandas()
    assert df["branch_name"].tolist() == ["总行", "上海分行", '浦东|"陆家嘴"支行']
    assert df["parent_branch_id"].tolist()[0] is None
    assert df["opened_date"].tolist()[2] == dt.date(2001, 9, 30)
    assert df["_row_number"].tolist() == [1, 2, 3]
    assert set(df["_source_file"]) == {path.name}
    assert df["_type_errors"].isna().all()
    assert parsed.header.encoding == encoding


def test_gb18030_file_is_not_utf8(tmp_path):
    path = write_extract(branches_frame(), BRANCHES, D, tmp_path, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")


def test_control_sum_exact(tmp_path):
    path = write_extract(loans_frame(), LOANS, D, tmp_path)
    lines = path.read_text().splitlines()
    assert lines[0].endswith("|4|balance|10001.00")
    assert lines[-1] == "T|4|10001.00"
    parsed = read_extract(path, LOANS)
    assert parsed.header.control_sum == 1000100


def _rewrite(path, old: bytes, new: bytes):
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))


def test_wrong_trailer_sum_rejected_naming_file_and_total(tmp_path):
    path = write_extract(loans_frame(), LOANS, D, tmp_path)
    _rewrite(path, b"T|4|10001.00", b"T|4|10002.00")
    with pytest.raises(ExtractRejected) as e:
        read_extract(path, LOANS)
    assert e.value.reason == "control_total"
    msg = str(e.value)
    assert "LOAN_20260131_001.dat" in msg and "trailer 4 records, balance 10002.00" in msg
    assert "body 4 records, balance 10001.00" in msg


def test_missing_record_rejected(tmp_path):
    path = write_extract(loans_frame(), LOANS, D, tmp_path)
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(lines[:2] + lines[3:]))
    with pytest.raises(ExtractRejected, match="header 4 records.*body 3 records") as e:
        read_extract(path, LOANS)
    assert e.value.reason == "control_total"


def test_truncated_rejected(tmp_path):
    path = write_extract(loans_frame(), LOANS, D, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ExtractRejected, match="truncated") as e:
        read_extract(path, LOANS)
    assert e.value.reason == "truncated"


@pytest.mark.parametrize("encoding,bad", [("utf-8", b"\xff\xfe"), ("gb18030", b"\x81\x20")])
def test_undecodable_bytes_rejected_naming_record(tmp_path, encoding, bad):
    path = write_extract(branches_frame(), BRANCHES, D, tmp_path, encoding=encoding)
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3][:5] + bad + lines[3][5:]  # record 2 (line 3)... lines[3] is record 3
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ExtractRejected, match=r"record 3 \(line 4\)") as e:
        read_extract(path, BRANCHES)
    assert e.value.reason == "encoding"
    assert encoding.upper() in str(e.value)


def test_type_errors_kept_with_row_and_column(tmp_path):
    path = write_extract(loans_frame(), LOANS, D, tmp_path)
    _rewrite(path, b"|2034-01-15|", b"|2034-13-45|")
    _rewrite(path, b"L0002|HT0002|C0002|RHL|CNY|100000.00", b"L0002|HT0002|C0002|RHL|CNY|abc")
    parsed = read_extract(path, LOANS)
    df = parsed.table.to_pandas()
    assert len(df) == 4 and parsed.type_error_rows == 2
    assert df.loc[0, "_type_errors"] == "maturity_date"
    assert pd.isna(df.loc[0, "maturity_date"])
    assert df.loc[2, "_type_errors"] == "contract_amount"
    assert df["_type_errors"].isna().sum() == 2


def test_wrong_field_count_kept_as_flagged_row(tmp_path):
    path = write_extract(branches_frame(), BRANCHES, D, tmp_path)
    _rewrite(path, b"|A\n310|", b"|A|extra\n310|")
    parsed = read_extract(path, BRANCHES)
    df = parsed.table.to_pandas()
    assert len(df) == 3
    assert df.loc[0, "_type_errors"] == "_field_count"
    assert df["_type_errors"].notna().sum() == 1
    assert df["_row_number"].tolist() == [1, 2, 3]


def test_wrong_field_count_in_control_column_breaks_the_total(tmp_path):
    path = write_extract(loans_frame(), LOANS, D, tmp_path)
    _rewrite(path, b"|31001\nL0002", b"|31001|extra\nL0002")
    with pytest.raises(ExtractRejected, match="body 4 records, balance 8000.80"):
        read_extract(path, LOANS)


def test_error_messages_carry_no_values(tmp_path):
    path = write_extract(branches_frame(), BRANCHES, D, tmp_path)
    _rewrite(path, "上海分行".encode(), b"\xff" + "上海分行".encode())
    with pytest.raises(ExtractRejected) as e:
        read_extract(path, BRANCHES)
    assert "上海" not in str(e.value)


def test_empty_file(tmp_path):
    path = write_extract(loans_frame(0), LOANS, D, tmp_path)
    parsed = read_extract(path, LOANS)
    assert parsed.records == 0 and "loan_id" in parsed.table.column_names


def test_file_name_parse():
    assert FileName.parse("CUST_INDV_20260131_002.dat") == FileName("CUST_INDV", D, 2)
    assert FileName.parse("CUST_INDV_20260231_002.dat") is None
    assert FileName.parse("x.ok") is None


def test_undecodable_bytes_after_a_type_error_still_rejected(tmp_path):
    path = write_extract(loans_frame(), LOANS, D, tmp_path)
    _rewrite(path, b"|2034-01-15|", b"|2034-13-45|")
    _rewrite(path, b"L0003|HT0003", b"L0003|H\xffT0003")
    with pytest.raises(ExtractRejected, match=r"record 4 \(line 5\)") as e:
        read_extract(path, LOANS)
    assert e.value.reason == "encoding"


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_streamed_and_sliced_writes_give_the_same_bytes(tmp_path, encoding):
    df = pd.concat([branches_frame()] * 5, ignore_index=True)
    whole = write_extract(df, BRANCHES, D, tmp_path / "a", encoding=encoding)
    sliced = write_extract(df, BRANCHES, D, tmp_path / "b", encoding=encoding, slice_rows=2)
    streamed = write_extract(
        (df.iloc[i : i + 4] for i in range(0, len(df), 4)), BRANCHES, D, tmp_path / "c", encoding=encoding, slice_rows=3
    )
    assert whole.read_bytes() == sliced.read_bytes() == streamed.read_bytes()
    assert read_extract(streamed, BRANCHES).records == 15
    assert not list((tmp_path / "c").glob("*.part"))
