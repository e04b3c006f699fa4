"""Formula-safe CSV exports (OWASP CSV injection): text cells that a spreadsheet would run as a formula get a
leading quote, numbers and dates stay as they are, the file parses back; the scorecard table and
`crm scorecard apply` use it, `--raw` opts out."""

from __future__ import annotations

import csv
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from crm.cli import main
from crm.exports import FORMULA_STARTS, formula_safe, write_csv

HOSTILE = ['=HYPERLINK("http://x.example","y")', "+1+2", "-2+3", "@SUM(A1:A9)", "\tq", "\r=1", "-5", "+86 138"]
HARMLESS = ["plain", "a=b", " =1", "'=1", "中文=1", "", "5-2"]


def _frame() -> pd.DataFrame:
    n = len(HOSTILE) + len(HARMLESS)
    return pd.DataFrame(
        {
            "text": HOSTILE + HARMLESS,
            "amount": np.linspace(-5.5, 10.0, n),
            "count": np.arange(-7, n - 7),
            "flag": [True, False] * (n // 2) + [True] * (n % 2),
            "day": [dt.date(2026, 1, 31)] * n,
            "stamp": pd.to_datetime(["2026-01-31 10:00"] * n),
            "code": pd.Categorical((["=A1", "ok"] * n)[:n]),
            "maybe": pd.array((["-x", None] * n)[:n], dtype="string"),
        }
    )


def test_text_cells_starting_a_formula_get_a_quote_and_nothing_else_changes():
    frame = _frame()
    before = frame.copy()
    safe = formula_safe(frame)
    pd.testing.assert_frame_equal(frame, before)  # the input is not changed
    assert safe["text"].tolist() == ["'" + v for v in HOSTILE] + HARMLESS
    for col in ("amount", "count", "flag", "day", "stamp"):
        pd.testing.assert_series_equal(safe[col], frame[col])
    assert set(safe["code"]) == {"'=A1", "ok"}
    assert safe["maybe"].iloc[0] == "'-x" and safe["maybe"].isna().iloc[1]
    assert FORMULA_STARTS == ("=", "+", "-", "@", "\t", "\r")


def test_column_names_are_cells_too():
    safe = formula_safe(pd.DataFrame({"=cmd|' /C calc'!A0": ["x"], "ok": [1]}))
    assert list(safe.columns) == ["'=cmd|' /C calc'!A0", "ok"]


def test_mixed_and_empty_object_columns():
    frame = pd.DataFrame(
        {"mixed": ["=1", 2, 3.5, None], "empty": [None] * 4, "dates": [dt.date(2026, 1, d) for d in (1, 2, 3, 4)]}
    )
    safe = formula_safe(frame)
    assert safe["mixed"].tolist() == ["'=1", 2, 3.5, None]
    pd.testing.assert_series_equal(safe["empty"], frame["empty"])
    pd.testing.assert_series_equal(safe["dates"], frame["dates"])


def test_written_file_parses_back_to_the_same_numbers_and_raw_is_exact(tmp_path):
    frame = _frame()
    write_csv(frame, tmp_path / "safe.csv")
    write_csv(frame, tmp_path / "raw.csv", raw=True)
    safe = pd.read_csv(tmp_path / "safe.csv", keep_default_na=False)
    raw = pd.read_csv(tmp_path / "raw.csv", keep_default_na=False)
    for back in (safe, raw):
        assert len(back) == len(frame)
        np.testing.assert_allclose(back["amount"], frame["amount"])
        assert back["count"].tolist() == frame["count"].tolist() and back["count"].dtype.kind == "i"
        assert back["day"].tolist() == ["2026-01-31"] * len(frame)
    assert safe["text"].tolist() == ["'" + v for v in HOSTILE] + HARMLESS
    assert raw["text"].tolist() == HOSTILE + HARMLESS
    # a file for people opens in Excel as UTF-8 (byte order mark); raw output has none
    assert (tmp_path / "safe.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    assert (tmp_path / "raw.csv").read_bytes().startswith(b"text,")
    with open(tmp_path / "safe.csv", newline="", encoding="utf-8-sig") as f:  # as a spreadsheet splits it
        rows = list(csv.DictReader(f))
    assert len(rows) == len(frame)
    text_cells = [row[c] for row in rows for c in ("text", "code", "maybe")]
    assert not any(cell.startswith(FORMULA_STARTS) for cell in text_cells)
    assert any(row["amount"].startswith("-") for row in rows)  # a negative number is written as one


# ------------------------------------------------------------------------------------ scorecard files


@pytest.fixture(scope="module")
def hostile_sample() -> pd.DataFrame:
    from tests.scoring.test_scorecard import credit_frame

    frame = credit_frame(2000, seed=7)
    frame["purpose"] = frame["purpose"].replace({"car": '=HYPERLINK("http://x.example","car")'})
    return frame


@pytest.fixture(scope="module")
def model(hostile_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "model"
    hostile_sample.to_csv(out.parent / "train.csv", index=False)
    r = CliRunner().invoke(
        main,
        [
            "scorecard",
            "fit",
            "--data",
            str(out.parent / "train.csv"),
            "--target",
            "bad",
            "--exclude",
            "application_id",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    return out


def test_scorecard_table_bin_labels_are_formula_safe(model):
    table = pd.read_csv(model / "scorecard_table.csv")
    purpose = table.loc[table["feature"] == "purpose", "bin"]
    assert purpose.str.contains("HYPERLINK").any()
    assert not table["bin"].astype(str).str.startswith(FORMULA_STARTS).any()
    assert purpose[purpose.str.contains("HYPERLINK")].str.startswith("'").all()
    assert table["points"].dtype.kind == "f" and table["count"].dtype.kind == "i"  # numbers stay numbers


def test_scorecard_apply_is_formula_safe_unless_raw(model, hostile_sample, tmp_path):
    new = hostile_sample.drop(columns=["bad"]).head(300).copy()
    new["note"] = (HOSTILE * 300)[:300]
    new.to_csv(tmp_path / "new.csv", index=False, lineterminator="\r\n")  # quotes the cell holding a CR
    runner = CliRunner()
    outs = {}
    for flag in ([], ["--raw"]):
        out = tmp_path / f"scored{''.join(flag)}.csv"
        r = runner.invoke(
            main,
            [
                "scorecard",
                "apply",
                "--model",
                str(model),
                "--data",
                str(tmp_path / "new.csv"),
                "--out",
                str(out),
                *flag,
            ],
        )
        assert r.exit_code == 0, r.output
        outs[bool(flag)] = pd.read_csv(out, keep_default_na=False)
    safe, raw = outs[False], outs[True]
    assert raw["note"].tolist() == new["note"].tolist() and raw["purpose"].tolist() == new["purpose"].tolist()
    assert safe["note"].tolist() == ["'" + v for v in new["note"]]
    hyper = new["purpose"].str.startswith("=")
    assert hyper.any() and (safe["purpose"][hyper] == "'" + new["purpose"][hyper]).all()
    for col in ("score", "pd", "age", "income", "card_utilisation"):  # numbers stay numbers
        pd.testing.assert_series_equal(safe[col], raw[col])
    assert safe["score"].dtype.kind == "f" and safe["age"].dtype.kind == "i"
    assert "--raw" in runner.invoke(main, ["scorecard", "apply", "--help"]).output
