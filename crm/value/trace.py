"""A customer's value decomposed into its parts, each traced to the staged records it came from.

For one customer at a month end, :func:`trace_value` reprices the customer's records of the window with the
functions the mart uses (:mod:`crm.value.contribution`) and returns

- ``components``: loan NII, deposit spread, fees, expected loss, servicing cost (and its four parts) and
  contribution: the amount recomputed from the records (``amount``), the mart's figure (``mart_amount``) and
  the formula with the figures behind it;
- ``months``: the same components per month of the window the customer held (as in customer_value_month);
- ``sources``: every staged record feeding a component, with its lineage (``source_file``, ``row_number``
  within that file, ``sha256`` of the file as registered at ingest), the month, the figures used and the
  record's unrounded ``amount`` for the component. Loan-months (loan_performance) feed loan_nii and
  expected_loss; the loan's rate, term and guarantee come from its loan_rates record (extract ``loan_rates``,
  listed once per loan); deposit account-months (deposit_balances) feed deposit_spread; fee_ledger records
  feed fees; interactions, service_requests and txn_monthly rows feed the cost columns.

Inputs are staged data only (tokens and masked values). Reading the lineage back to the landing file itself
is a restricted-zone operation left to the caller.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crm.value.contribution import (
    COMPONENTS,
    COSTS,
    LINEAGE,
    held_from,
    monthly_cents,
    price_records,
)
from crm.value.inputs import ValueInputs, window_month_ends

RENAME = {"_source_file": "source_file", "_row_number": "row_number", "_sha256": "sha256"}


@dataclass
class ValueTrace:
    customer_id: str
    components: pd.DataFrame  # component, amount, mart_amount, formula
    months: pd.DataFrame  # month, the components
    sources: pd.DataFrame  # component, extract, record_key, month, source_file, row_number, sha256, amount, fields


def _only(frame: pd.DataFrame, customer_id: str) -> pd.DataFrame:
    if frame is None or frame.empty or "customer_id" not in frame.columns:
        return frame
    return frame[frame["customer_id"] == customer_id]


def _customer_inputs(inputs: ValueInputs, customer_id: str) -> ValueInputs:
    """``inputs`` cut to the customer, except the loan-months of the products whose book mean margin prices
    a loan of the customer without a known rate (the fallback needs them)."""
    lp = inputs.loan_performance
    mine = lp[lp["customer_id"] == customer_id]
    known = set(inputs.loan_rates["loan_id"]) if len(inputs.loan_rates) else set()
    if inputs.loans is not None and len(inputs.loans):
        known |= set(inputs.loans["loan_id"])
    products = set(mine.loc[~mine["loan_id"].isin(known), "product_code"])
    lp_used = lp[(lp["customer_id"] == customer_id) | lp["product_code"].isin(products)] if products else mine
    cut = {
        f.name: _only(getattr(inputs, f.name), customer_id)
        for f in dataclasses.fields(inputs)
        if isinstance(getattr(inputs, f.name), pd.DataFrame)
    }
    cut["loan_performance"] = lp_used
    cut["loan_rates"] = inputs.loan_rates[inputs.loan_rates["loan_id"].isin(set(lp_used["loan_id"]))]
    if inputs.loans is not None and len(inputs.loans):
        cut["loans"] = inputs.loans[inputs.loans["loan_id"].isin(set(lp_used["loan_id"]))]
    return dataclasses.replace(inputs, **cut)


def _rows(
    frame: pd.DataFrame,
    extract: str,
    key: str,
    component: str,
    amount: str | None,
    fields: list[str],
    months: list,
) -> pd.DataFrame:
    lineage = [c for c in LINEAGE if c in frame.columns]
    out = frame[[key, *fields, *lineage]].rename(columns={key: "record_key", **RENAME})
    for col in ("source_file", "sha256"):
        if col in out.columns:
            out[col] = out[col].astype(object)
    if "_month" in frame.columns:
        out.insert(1, "month", np.array(months, dtype=object)[frame["_month"].to_numpy(dtype="int64")])
    else:
        out.insert(1, "month", None)
    out["amount"] = frame[amount].to_numpy("float64") if amount else np.nan
    return out.assign(component=component, extract=extract)


def trace_value(customer_id: str, value_row: pd.Series, inputs: ValueInputs, config: dict[str, Any]) -> ValueTrace:
    """The decomposition of ``value_row`` (the customer's customer_value row) and its source records."""
    months = window_month_ends(inputs.month_end)
    cut = _customer_inputs(inputs, customer_id)
    records = price_records(cut, months, config)
    for name in ("loans", "deposits", "fees", "interactions", "requests", "transactions"):
        setattr(records, name, getattr(records, name).pipe(lambda f: f[f["customer_id"] == customer_id]))
    c360 = cut.c360.drop_duplicates("customer_id").reset_index(drop=True)
    start = held_from(c360, months)
    parts, held, _ = monthly_cents(pd.Index(c360["customer_id"]), start, records, len(months))
    parts["servicing_cost"] = sum(parts[c] for c in COSTS)
    parts["contribution"] = (
        parts["loan_nii"] + parts["deposit_spread"] + parts["fees"] - parts["expected_loss"] - parts["servicing_cost"]
    )
    mask = held[0]
    month_frame = pd.DataFrame({"month": np.array(months, dtype=object)[mask]})
    for col in [*COMPONENTS, *COSTS, "contribution"]:
        month_frame[col] = parts[col][0][mask] / 100.0
    first = int(start[0])
    lo = records.loans[records.loans["_month"] >= first]
    de = records.deposits[records.deposits["_month"] >= first]
    fe = records.fees[records.fees["_month"] >= first]
    it = records.interactions[records.interactions["_month"] >= first]
    rq = records.requests[records.requests["_month"] >= first]
    tx = records.transactions[records.transactions["_month"] >= first]
    if len(tx):  # txn_monthly's key: snapshot_date, customer_id (the customer's), txn_type, channel, direction
        parts_ = [tx[c].astype(str) for c in ("snapshot_date", "txn_type", "channel", "direction") if c in tx.columns]
        tx = tx.assign(_key=parts_[0].str.cat(parts_[1:], sep="|"))
    else:
        tx = tx.assign(_key=pd.Series(dtype=object))
    total = {c: parts[c][0].sum() / 100.0 for c in [*COMPONENTS, *COSTS, "contribution"]}
    sources_by_margin = lo["margin_source"].value_counts().to_dict() if len(lo) else {}
    formulas = {
        "loan_nii": f"sum over {len(lo)} loan-months of month-end balance x (own rate - FTP of the term bucket) / "
        f"12, rounded per month (margin sources {sources_by_margin})",
        "deposit_spread": f"sum over {len(de)} account-months of avg_balance x (FTP credit - own rate) / 12, "
        "rounded per month",
        "fees": f"sum of {len(fe)} fee_ledger amounts (reversals included), per month",
        "expected_loss": f"sum over {len(lo)} loan-months of PD x LGD x month-end balance / 12, rounded per month",
        "cost_visits": f"{int((it['cost_visits'] > 0).sum())} visits and meetings x unit cost by channel",
        "cost_calls": f"{int((it['cost_calls'] > 0).sum())} calls and messages x unit cost by channel",
        "cost_requests": f"{len(rq)} service requests x unit cost by priority",
        "cost_transactions": f"{int(tx['txn_count'].sum()) if len(tx) else 0} transactions x unit cost by channel",
        "servicing_cost": "cost_visits + cost_calls + cost_requests + cost_transactions",
        "contribution": "loan_nii + deposit_spread + fees - expected_loss - servicing_cost",
    }
    order = ["loan_nii", "deposit_spread", "fees", "expected_loss", *COSTS, "servicing_cost", "contribution"]
    components = pd.DataFrame(
        {
            "component": order,
            "amount": [total[c] for c in order],
            "mart_amount": [float(value_row[c]) if c in value_row.index else np.nan for c in order],
            "formula": [formulas[c] for c in order],
        }
    )
    rates = cut.loan_rates[cut.loan_rates["loan_id"].isin(set(lo["loan_id"]))] if len(lo) else cut.loan_rates.iloc[0:0]
    frames = [
        _rows(
            lo, "loan_performance", "loan_id", "loan_nii", "loan_nii", ["snapshot_date", "balance", "margin"], months
        ),
        _rows(
            lo, "loan_performance", "loan_id", "expected_loss", "expected_loss", ["snapshot_date", "pd", "lgd"], months
        ),
        _rows(
            rates,
            "loan_rates",
            "loan_id",
            "loan_nii",
            None,
            [c for c in ("interest_rate", "start_date", "maturity_date", "guarantee_type") if c in rates.columns],
            months,
        ),
        _rows(
            de, "deposit_balances", "account_id", "deposit_spread", "deposit_spread", ["avg_balance", "spread"], months
        ),
        _rows(fe, "fee_ledger", "fee_id", "fees", "fees", ["fee_date", "fee_type"], months),
        _rows(
            it[it["cost_visits"] > 0],
            "interactions",
            "interaction_id",
            "cost_visits",
            "cost_visits",
            ["channel"],
            months,
        ),
        _rows(
            it[it["cost_calls"] > 0], "interactions", "interaction_id", "cost_calls", "cost_calls", ["channel"], months
        ),
        _rows(rq, "service_requests", "request_id", "cost_requests", "cost_requests", ["priority"], months),
        _rows(tx, "txn_monthly", "_key", "cost_transactions", "cost_transactions", ["channel", "txn_count"], months),
    ]
    sources = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else None
    first_cols = ["component", "extract", "record_key", "month", "source_file", "row_number", "sha256", "amount"]
    if sources is None:
        sources = pd.DataFrame(columns=first_cols)
    sources = sources[[c for c in first_cols if c in sources.columns] + [c for c in sources if c not in first_cols]]
    return ValueTrace(customer_id, components, month_frame, sources)
