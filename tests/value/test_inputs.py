"""crm.value.inputs.load_inputs on small staged partitions written in tmp_path: what is read from which
partition, cut to the window by the rows' own dates, and the errors for missing inputs."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crm.value.inputs import HISTORY_COLUMNS, MissingInput, load_inputs, window_month_ends

D = dt.date
DAY = D(2024, 2, 29)  # window March 2023 .. February 2024
START = D(2023, 3, 1)


def write(staged, extract: str, day: dt.date, rows: list[dict]) -> None:
    """A staged partition: the rows plus the lineage columns staging keeps."""
    frame = pd.DataFrame(rows)
    name = f"{extract.upper()}_{day:%Y%m%d}_001.dat"
    frame["_source_file"] = name
    frame["_sha256"] = hashlib.sha256(name.encode()).hexdigest()
    frame["_row_number"] = range(1, len(frame) + 1)
    frame["_business_date"] = day
    folder = staged / extract
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / f"{day.isoformat()}.parquet")


def month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    return [m for m in window_month_ends(last, 40) if m >= first]


def loan(loan_id, rate, *, status="N", guarantee="CR", customer="c1", card="6222021234567890123"):
    return {
        "loan_id": loan_id,
        "contract_id": "K" + loan_id,
        "customer_id": customer,
        "balance": 1000.0,
        "interest_rate": rate,
        "start_date": D(2022, 1, 10),
        "maturity_date": D(2027, 1, 10),
        "guarantee_type": guarantee,
        "status": status,
        "repay_card_no": card,
    }


@pytest.fixture
def staged(tmp_path):
    s = tmp_path / "staged"
    # loans: a daily snapshot from the installation's first day, 2023-06-15 (inside the window). L9 was
    # repaid before the first month end: only the first snapshot knows it.
    write(s, "loans", D(2023, 6, 15), [loan("L1", 4.0), loan("L9", 6.5)])
    write(s, "loans", D(2023, 6, 30), [loan("L1", 4.1)])
    write(s, "loans", D(2024, 1, 15), [loan("L1", 9.9)])  # not a month end: not read for the rates
    write(s, "loans", D(2024, 1, 31), [loan("L1", 4.2, guarantee="MO"), loan("L2", 5.0)])
    write(s, "loans", DAY, [loan("L1", 4.3, guarantee="MO")])
    # loan_performance: the first month-end file (2023-06-30) carries the 24 preceding month ends
    history = month_ends(D(2021, 7, 31), D(2023, 6, 30))
    perf = [
        {"snapshot_date": m, "loan_id": "L1", "customer_id": "c1", "balance": 100.0, "status": "N"} for m in history
    ]
    write(s, "loan_performance", D(2023, 6, 30), perf)
    for m in month_ends(D(2023, 7, 31), DAY):
        write(s, "loan_performance", m, [{"snapshot_date": m, "loan_id": "L1", "customer_id": "c1", "balance": 200.0}])
    # a restated file dated January carries December again, with another balance: the later file wins
    write(
        s,
        "loan_performance",
        D(2024, 1, 31),
        [
            {"snapshot_date": D(2023, 12, 31), "loan_id": "L1", "customer_id": "c1", "balance": 333.0},
            {"snapshot_date": D(2024, 1, 31), "loan_id": "L1", "customer_id": "c1", "balance": 200.0},
        ],
    )
    for extract, row in (
        ("deposit_balances", {"account_id": "A1", "customer_id": "c1", "balance": 50.0, "avg_balance": 40.0}),
        ("txn_monthly", {"customer_id": "c1", "txn_type": "T", "channel": "MB", "direction": "D", "txn_count": 3}),
    ):
        first = [{"snapshot_date": m, **row} for m in month_ends(D(2022, 1, 31), D(2024, 1, 31))]
        write(s, extract, D(2024, 1, 31), first)
        write(s, extract, DAY, [{"snapshot_date": DAY, **row}])
    # fee_ledger: the first daily file carries the 12 preceding months
    fees = [
        {"fee_id": "F0", "customer_id": "c1", "amount": 5.0, "fee_date": D(2023, 2, 28)},  # before the window
        {"fee_id": "F1", "customer_id": "c1", "amount": 10.0, "fee_date": D(2023, 3, 1)},
        {"fee_id": "F2", "customer_id": "c1", "amount": 20.0, "fee_date": D(2023, 12, 1)},
    ]
    write(s, "fee_ledger", D(2024, 1, 1), fees)
    write(
        s,
        "fee_ledger",
        D(2024, 2, 1),
        [
            {"fee_id": "F3", "customer_id": "c1", "amount": -20.0, "fee_date": D(2024, 2, 1), "reversal_of": "F2"},
            {"fee_id": "F1", "customer_id": "c1", "amount": 11.0, "fee_date": D(2023, 3, 1)},  # sent again
        ],
    )
    write(s, "fee_ledger", D(2024, 3, 1), [{"fee_id": "F4", "customer_id": "c1", "amount": 1.0, "fee_date": DAY}])
    # interactions and service requests: no initial load; staged from 2023-06-15
    ts = pd.Timestamp
    write(
        s,
        "interactions",
        D(2023, 6, 15),
        [{"interaction_id": "I1", "customer_id": "c1", "interaction_time": ts("2023-06-15 10:00"), "notes": "x"}],
    )
    write(
        s,
        "interactions",
        DAY,
        [
            {"interaction_id": "I2", "customer_id": "c1", "interaction_time": ts("2024-02-29 23:59"), "notes": "y"},
            {"interaction_id": "I3", "customer_id": "c1", "interaction_time": ts("2024-03-01 00:00"), "notes": "z"},
        ],
    )
    write(
        s,
        "service_requests",
        D(2023, 6, 15),
        [
            {"request_id": "R1", "customer_id": "c1", "opened_time": ts("2023-06-15 09:00"), "status": "OPEN"},
            {"request_id": "R0", "customer_id": "c1", "opened_time": ts("2023-02-15 09:00"), "status": "OPEN"},
        ],
    )
    write(
        s,
        "service_requests",
        D(2023, 7, 1),
        [{"request_id": "R1", "customer_id": "c1", "opened_time": ts("2023-06-15 09:00"), "status": "CLOSED"}],
    )
    # bureau: the first daily file carries the pulls of the 24 preceding months; not cut to the window
    write(
        s,
        "bureau_records",
        D(2023, 6, 15),
        [
            {"report_id": "B1", "customer_id": "c1", "query_date": D(2022, 1, 5), "external_loan_balance": 1.0},
            {"report_id": "B2", "customer_id": "c1", "query_date": D(2023, 6, 1), "external_loan_balance": 2.0},
        ],
    )
    write(s, "bureau_records", D(2024, 3, 5), [{"report_id": "B3", "customer_id": "c1", "query_date": D(2024, 3, 5)}])
    write(
        s,
        "corporates",
        DAY,
        [{"customer_id": "c2", "industry": "C", "enterprise_size": "S", "company_name": "某某", "uscc": "x"}],
    )
    write(
        s,
        "financial_statements",
        D(2023, 6, 30),
        [{"statement_id": "S1", "customer_id": "c2", "received_date": D(2023, 6, 20), "revenue": 9.0}],
    )
    return s


@pytest.fixture
def marts():
    c360 = pd.DataFrame({"customer_id": ["c1", "c2"], "month_end": [DAY, DAY]})
    earlier = pd.DataFrame({"customer_id": ["c1"], "month_end": [D(2023, 11, 30)]})
    history = pd.DataFrame(
        {
            "customer_id": ["c1"] * 3,
            "month_end": [D(2023, 2, 28), D(2023, 3, 31), D(2024, 1, 31)],
            "value_score": [1.0, 2.0, 3.0],
            "contribution": [10.0, 20.0, 30.0],
            "tier": ["key"] * 3,
        }
    )
    scores = pd.DataFrame({"customer_id": ["c1"], "month_end": [DAY], "pd": [0.02], "grade": ["A"], "score": [700]})
    return {"customer_360": pd.concat([c360, earlier]), "customer_value": history, "credit_scores": scores}


def test_month_end_snapshots_are_cut_to_the_window_by_snapshot_date(staged, marts):
    got = load_inputs(staged, DAY, marts)
    perf = got.loan_performance
    assert sorted(perf["snapshot_date"]) == window_month_ends(DAY)  # 12 month ends, one row each
    by_month = perf.set_index("snapshot_date")["balance"]
    assert by_month[D(2023, 3, 31)] == 100.0  # from the initial load of 2023-06-30
    assert by_month[D(2023, 12, 31)] == 333.0  # carried by two files: the later one
    assert list(perf.columns) == [
        "snapshot_date",
        "loan_id",
        "customer_id",
        "product_code",  # in no file here: nulls
        "balance",
        "status",
        "_source_file",
        "_row_number",
        "_sha256",
    ]
    assert isinstance(perf["snapshot_date"].iloc[0], dt.date)
    assert perf["_source_file"].dtype == "category"
    for frame in (got.deposit_balances, got.txn_monthly):
        assert sorted(frame["snapshot_date"]) == window_month_ends(DAY)  # 11 from the initial load, 1 own


def test_a_partition_before_the_window_is_not_opened(staged, marts):
    (staged / "loan_performance" / "2023-01-31.parquet").write_bytes(b"not parquet")
    (staged / "fee_ledger" / "2023-02-27.parquet").write_bytes(b"not parquet")
    got = load_inputs(staged, DAY, marts)
    assert len(got.loan_performance) == 12 and len(got.fee_ledger) == 3


def test_fees_in_the_window_a_record_sent_again_from_its_latest_file(staged, marts):
    fees = load_inputs(staged, DAY, marts).fee_ledger.set_index("fee_id")
    assert sorted(fees.index) == ["F1", "F2", "F3"]  # F0 before the window, F4 in a file after the month end
    assert fees.loc["F1", "amount"] == 11.0 and fees.loc["F3", "reversal_of"] == "F2"


def test_interactions_requests_bureau_and_statements(staged, marts):
    got = load_inputs(staged, DAY, marts)
    assert list(got.interactions["interaction_id"]) == ["I1", "I2"]  # I3 is the next month
    assert "notes" not in got.interactions.columns
    assert got.records_since == D(2023, 6, 15)
    requests = got.service_requests.set_index("request_id")
    assert list(requests.index) == ["R1"] and requests.loc["R1", "status"] == "CLOSED"  # R0 opened before
    assert sorted(got.bureau_records["report_id"]) == ["B1", "B2"]  # the history, not the pull after the month end
    assert list(got.statements["statement_id"]) == ["S1"]
    assert list(got.corporates["customer_id"]) == ["c2"]
    assert not {"company_name", "uscc"} & set(got.corporates.columns)


def test_loan_rates_latest_from_the_month_end_snapshots_and_the_first(staged, marts):
    got = load_inputs(staged, DAY, marts)
    rates = got.loan_rates.set_index("loan_id")
    assert list(rates.columns) == ["interest_rate", "start_date", "maturity_date", "guarantee_type"]
    assert rates.loc["L1", "interest_rate"] == 4.3 and rates.loc["L1", "guarantee_type"] == "MO"
    assert rates.loc["L2", "interest_rate"] == 5.0  # repaid in February: January's month end
    assert rates.loc["L9", "interest_rate"] == 6.5  # only in the installation's first snapshot
    assert list(got.loans["loan_id"]) == ["L1"] and "repay_card_no" not in got.loans.columns


def test_the_marts(staged, marts):
    got = load_inputs(staged, DAY, marts)
    assert got.month_end == DAY and list(got.c360["customer_id"]) == ["c1", "c2"]
    assert list(got.earlier["customer_id"]) == ["c1"]  # three month ends before: November
    assert list(got.scores.columns) == ["customer_id", "pd", "grade"]
    hist = got.value_history
    assert list(hist["month_end"]) == [D(2023, 3, 31), D(2024, 1, 31)]  # the 11 month ends before only
    assert set(hist.columns) == {*[c for c in HISTORY_COLUMNS if c != "months_held"], "month_end"}

    def reader(name, month_end, columns):  # the asset's form: a callable
        frame = marts[name][pd.to_datetime(marts[name]["month_end"]).dt.date == month_end]
        return frame if columns is None else frame[[c for c in columns if c in frame.columns]]

    again = load_inputs(staged, DAY, reader)
    pd.testing.assert_frame_equal(again.value_history, hist)
    pd.testing.assert_frame_equal(again.fee_ledger, got.fee_ledger)


def test_missing_inputs_are_named_with_the_date(staged, marts):
    (staged / "deposit_balances" / f"{DAY}.parquet").unlink()
    with pytest.raises(MissingInput, match=r"deposit_balances partition of 2024-02-29.*month-end pipeline"):
        load_inputs(staged, DAY, marts)
    got = load_inputs(staged, DAY, marts, required={"loans", "loan_performance"})  # not required: what there is
    assert len(got.deposit_balances) == 11
    for p in (staged / "deposit_balances").glob("*.parquet"):
        p.unlink()
    got = load_inputs(staged, DAY, marts, required={"loans", "loan_performance"})  # none: empty, the columns
    assert got.deposit_balances.empty and "avg_balance" in got.deposit_balances.columns
    with pytest.raises(FileNotFoundError, match="fee_ledger, which has no partition on or before 2024-02-29"):
        for p in (staged / "fee_ledger").glob("*.parquet"):
            p.unlink()
        load_inputs(staged, DAY, marts, required={"fee_ledger"})
    with pytest.raises(MissingInput, match="customer_360 has no rows for 2024-01-31"):
        load_inputs(staged, D(2024, 1, 31), marts)
    with pytest.raises(ValueError, match="deposit_balances, which the bank sends from 2024-01-01"):
        load_inputs(
            staged, D(2023, 11, 30), {**marts, "customer_360": marts["customer_360"].assign(month_end=D(2023, 11, 30))}
        )
    with pytest.raises(ValueError, match="unknown value inputs"):
        load_inputs(staged, DAY, marts, required={"loan_nii"})


def test_value_figures_counts_and_shares_without_identifiers():
    from crm.value.figures import value_figures

    value = pd.DataFrame(
        {
            "customer_id": ["t.a", "t.b", "t.c", "t.d"],
            "tier": ["key", "key", "growth", "standard"],
            "key_account": [True, False, False, False],
            "watch": [False, False, True, False],
            "contribution": [100.5, -20.25, 0.0, 10.0],
            "fees": [1.0, 2.0, 3.0, 4.0],
            "bureau_query_date": [D(2024, 1, 5), None, D(2023, 12, 1), None],
            "main_bank": pd.array([True, False, pd.NA, pd.NA], dtype="boolean"),
        }
    )
    got = value_figures(value, value.head(3))
    assert got["customers"] == 4 and got["key_accounts"] == 1 and got["watch"] == 1
    assert got["tiers"] == "growth: 1, key: 2, standard: 1"
    assert got["total_contribution"] == 90.25 and got["total_fees"] == 10.0
    assert got["customers_with_negative_contribution"] == 1
    assert got["bureau_fresh_share"] == 0.5 and got["main_bank_known"] == 2 and got["main_bank_share"] == 0.5
    assert got["month_rows"] == 3
    assert not any("t." in str(v) for v in got.values())


def test_a_column_no_file_holds_comes_as_nulls(staged, marts):
    got = load_inputs(staged, DAY, marts)
    assert "period_type" in got.statements.columns and got.statements["period_type"].isna().all()
    assert list(got.fee_ledger.columns[:3]) == ["fee_id", "customer_id", "product_family"]
    assert got.fee_ledger["product_family"].isna().all()  # the hand-made files have no product family


def test_record_shards_split_the_records_by_customer(staged, marts):
    """load_record_shards: every record of the window in exactly one shard, the other inputs left empty."""
    from crm.value.inputs import RECORD_INPUTS, load_record_shards

    whole = load_inputs(staged, DAY, marts)
    shards = list(load_record_shards(staged, DAY, 3))
    assert len(shards) == 3
    for name in RECORD_INPUTS:
        got = pd.concat([getattr(s, name) for s in shards], ignore_index=True)
        assert len(got) == len(getattr(whole, name)), name
        owners = [set(getattr(s, name)["customer_id"].dropna()) for s in shards]
        assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1 :]), name
    assert all(s.c360.empty and s.bureau_records.empty and s.loans.empty for s in shards)
    assert len(whole.loan_performance) > 0 and len(whole.fee_ledger) > 0
    bare = load_inputs(staged, DAY, marts, records=False)
    assert all(getattr(bare, n).empty for n in RECORD_INPUTS) and not bare.bureau_records.empty
