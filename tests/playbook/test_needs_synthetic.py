"""The needs signals (crm.playbook.needs) against the synthetic bank's truth (crm.synthetic.truth): on a
month-ends-only bank with two years of monthly history, the signals run on the parsed extracts (raw ids) and,
per need, find most customers who really have it (recall) and mostly customers who really have it
(precision); customers of the same segment without the need seldom fire. ``pytest -s`` prints the figures.

The truth a signal can see: seasonal customers with two years with us (the peak seen twice), payroll starts
of customers with us the 9 months before (a new customer has no "none before"); HEADROOM has no
generator-side truth (docs/synthetic.md) and is not measured."""

from __future__ import annotations

import datetime as dt
import zlib

import numpy as np
import pandas as pd
import pytest

needs_mod = pytest.importorskip(
    "crm.playbook.needs", reason="crm.playbook.needs (workstream B's needs signals) is not on this branch yet"
)

from crm import contract  # noqa: E402
from crm.ingest.fileformat import read_extract  # noqa: E402
from crm.playbook import load_config  # noqa: E402
from crm.synthetic import generate  # noqa: E402
from crm.synthetic.bank import Bank  # noqa: E402
from crm.synthetic.truth import needs_truth  # noqa: E402

N, SEED = 1200, 5
START, END = dt.date(2025, 11, 30), dt.date(2026, 11, 30)  # 13 month ends, 12 months of history before them
HISTORY = 12
# needs that are events (measured at three month ends, a quarter apart), the others at the last month end only
MONTH_ENDS = (END, dt.date(2026, 8, 31), dt.date(2026, 5, 31))
EVENT_NEEDS = ("MATURITY", "PAYROLL_START", "MORTGAGE_END", "LARGE_INFLOW")
# Floors per need: (recall, precision, the largest share of a matched set without the need that may fire, the
# smallest AUC of the signal's strength between the true and the false rows it fires, None when it fires
# (almost) no false row). Measured with the shipped [needs] configuration on this bank (seed 5, generator 1.2;
# printed by pytest -s), recall / precision / matched set fired / AUC: MATURITY 1.00 / 1.00 / 0.00; SEASONAL
# 0.92 / 0.87 / 0.04 / 0.92; GROWTH 0.44 / 0.89 / 0.02 (revenue and turnover up when both are known: a firm
# whose revenue grew without its deposits is missed; with revenue or turnover 0.72 / 0.50 / 0.09, as credit
# turnover up 20% is common for firms a few years into the relationship: the floors allow either);
# CONCENTRATION 0.73 / 0.94 / 0.00;
# PAYROLL_START 1.00 / 1.00 / 0.00; MORTGAGE_END 1.00 / 0.95 / 0.00; LARGE_INFLOW 0.80 / 0.50 / 0.00 / 0.87.
# Each floor sits below its figure with a margin for another seed or a small change; a signal or a generator
# change that loses a need, or makes a signal fire for customers without it, fails.
FLOORS = {
    "MATURITY": (0.85, 0.85, 0.05, None),
    "SEASONAL": (0.75, 0.7, 0.1, 0.8),
    "GROWTH": (0.35, 0.35, 0.15, None),
    "CONCENTRATION": (0.55, 0.75, 0.1, None),
    "PAYROLL_START": (0.8, 0.8, 0.05, None),
    "MORTGAGE_END": (0.8, 0.8, 0.05, None),
    "LARGE_INFLOW": (0.6, 0.35, 0.05, 0.75),
}


def _auc(strength: list[float], true: list[bool]) -> float | None:
    """P(a true row's strength > a false row's), ties half; None without both kinds."""
    s, y = pd.Series(strength, dtype="float64"), np.asarray(true, dtype=bool)
    if y.all() or not y.any():
        return None
    r = s.rank().to_numpy()
    return float((r[y].sum() - y.sum() * (y.sum() + 1) / 2) / (y.sum() * (~y).sum()))


def _read(root, code: str) -> pd.DataFrame:
    ex = contract.BY_FILE_CODE[code]
    frames = []
    for day in sorted(p for p in root.iterdir() if p.is_dir()):
        when = dt.datetime.strptime(day.name, "%Y%m%d").date()
        for f in day.glob(f"{code}_{day.name}_*.dat"):
            frames.append(read_extract(f, ex).table.to_pandas().assign(_file_day=when))
    return pd.concat(frames, ignore_index=True)


def _customers(ind: pd.DataFrame, corp: pd.DataFrame) -> pd.DataFrame:
    """The needs' customers frame from the customer master: segment retail, sme (S, X) or corporate."""
    cols = ["customer_id", "status", "branch_id", "manager_id"]
    out = pd.concat(
        [
            ind[cols].assign(segment="retail"),
            corp[cols].assign(segment=np.where(corp["enterprise_size"].isin(["S", "X"]), "sme", "corporate")),
        ],
        ignore_index=True,
    )
    out["annual_income"] = out["customer_id"].map(ind.set_index("customer_id")["annual_income"])
    out["enterprise_size"] = out["customer_id"].map(corp.set_index("customer_id")["enterprise_size"])
    out["annual_revenue"] = out["customer_id"].map(corp.set_index("customer_id")["annual_revenue"])
    return out.assign(key_account=False, external_loan_balance=0.0, debt_service_annual=0.0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The signals and the truth at the month ends looked at: per month end, (fired, truth, customers)."""
    out = tmp_path_factory.mktemp("needs_bank")
    generate(out, customers=N, start=START, end=END, seed=SEED, history_months=HISTORY, month_ends_only=True)
    config = load_config()
    files = {code: _read(out, code) for code in ("CUST_INDV", "CUST_CORP", "LOAN", "DEP_BAL", "TXN_MON", "FIN_STMT")}
    bank = Bank(SEED, N, START, END, history_months=HISTORY)
    res = {}
    for me in MONTH_ENDS:
        day = {k: v[v["_file_day"] <= me] for k, v in files.items()}
        customers = _customers(*(day[k][day[k]["_file_day"] == me] for k in ("CUST_INDV", "CUST_CORP")))
        loans = day["LOAN"]
        inputs = needs_mod.needs_inputs(
            me,
            config,
            customers=customers,
            loans=loans[loans["_file_day"] == me].drop(columns="_file_day"),
            deposit_balances=day["DEP_BAL"],
            txn_monthly=day["TXN_MON"],
            loan_history=loans[loans["_file_day"] < me].rename(columns={"_file_day": "snapshot_date"}),
            statements=day["FIN_STMT"],
        )
        res[me] = (needs_mod.customer_needs(inputs, config).needs, needs_truth(bank, me), customers)
    return res


def _seen(truth: pd.DataFrame, need: str) -> pd.DataFrame:
    """The truth the month-end data can show: a season seen twice, a payroll start after 9 months with us."""
    t = truth[truth["need"] == need]
    if need == "SEASONAL":
        return t[t["months_with_us"] >= 24]
    if need == "PAYROLL_START":
        return t[t["months_with_us"] >= 12]
    return t


def _control(customers: pd.DataFrame, have: set, k: int) -> set:
    """A matched set without the need: from the same segments, ``k`` x as many active customers, in a fixed
    pseudo-random order (CRC-32 of the id)."""
    cust = customers.set_index("customer_id")
    per_segment = cust["segment"].reindex(sorted(have)).value_counts()
    pool = cust[~cust.index.isin(have) & (cust["status"] != "C")]
    out: set = set()
    for segment, count in per_segment.items():
        ids = sorted(pool.index[pool["segment"] == segment], key=lambda x: zlib.crc32(str(x).encode()))
        out |= set(ids[: k * count])
    return out


@pytest.mark.parametrize("need", list(FLOORS))
def test_signal_against_truth(run, need):
    month_ends = MONTH_ENDS if need in EVENT_NEEDS else MONTH_ENDS[:1]
    hit = seen_n = fired_n = right = ctrl_n = ctrl_fired = truth_n = 0
    strength, is_true = [], []
    for me in month_ends:
        fired_all, truth, customers = run[me]
        rows = fired_all[fired_all["need"] == need]
        fired = set(rows["customer_id"])
        all_true = set(truth.loc[truth["need"] == need, "customer_id"])
        strength += list(rows["strength"])
        is_true += list(rows["customer_id"].isin(all_true))
        seen = set(_seen(truth, need)["customer_id"])
        control = _control(customers, all_true, 3)
        hit += len(fired & seen)
        seen_n += len(seen)
        truth_n += len(all_true)
        fired_n += len(fired)
        right += len(fired & all_true)
        ctrl_n += len(control)
        ctrl_fired += len(fired & control)
    recall, precision = hit / max(seen_n, 1), right / max(fired_n, 1)
    ctrl_rate = ctrl_fired / max(ctrl_n, 1)
    auc = _auc(strength, is_true)
    print(
        f"\n{need} ({len(month_ends)} month ends): truth {truth_n} (visible {seen_n}), fired {fired_n}, "
        f"recall {recall:.2f}, precision {precision:.2f}; matched set without it {ctrl_n}, fired {ctrl_rate:.2f}; "
        f"strength AUC {'-' if auc is None else f'{auc:.2f}'}"
    )
    assert seen_n >= 8, f"too few {need} customers in the test bank"
    lo_recall, lo_precision, hi_control, lo_auc = FLOORS[need]
    assert recall >= lo_recall
    assert precision >= lo_precision
    assert ctrl_rate <= hi_control
    if lo_auc is not None and auc is not None and min(sum(is_true), len(is_true) - sum(is_true)) >= 5:
        assert auc >= lo_auc
