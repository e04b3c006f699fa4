"""A customer's value decomposed into its parts, each traced to the source records it came from.

For one customer at a month end, :func:`trace_value` returns

- ``components``: loan NII, deposit spread, fees, expected loss, servicing cost and contribution as the
  ``customer_value`` mart holds them, each with the formula and the figures that produce it;
- ``sources``: every staged record feeding a component, with its lineage (``source_file``, ``row_number``
  within that file, ``sha256`` of the file as registered at ingest) and the fields used.

Inputs are staged data only (tokens and masked values): the month-end snapshots of loans, deposits and
product holdings, and the customer's ``customer_value`` row (PD, LGD and FTP rate used). Reading the lineage
back to the landing file itself is a restricted-zone operation left to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

LINEAGE = ["_source_file", "_row_number", "_sha256"]


@dataclass
class ValueTrace:
    customer_id: str
    components: pd.DataFrame  # component, amount, formula
    sources: pd.DataFrame  # component, extract, record_key, source_file, row_number, sha256, field values


def _rows(frame: pd.DataFrame, extract: str, key: str, component: str, fields: list[str]) -> pd.DataFrame:
    out = frame[[key, *fields, *LINEAGE]].rename(
        columns={key: "record_key", "_source_file": "source_file", "_row_number": "row_number", "_sha256": "sha256"}
    )
    return out.assign(component=component, extract=extract)


def trace_value(
    customer_id: str,
    value_row: pd.Series,
    *,
    loans: pd.DataFrame,
    deposits: pd.DataFrame,
    holdings: pd.DataFrame,
    config: dict[str, Any],
) -> ValueTrace:
    """The decomposition of ``value_row`` (the customer's ``customer_value`` row) and its source records.

    Loans: open (status N, O) loans of the customer feed loan NII (balance, interest_rate, dates) and expected
    loss (balance = EAD) and servicing cost (per loan). Deposits: accounts not closed feed the deposit spread
    (mtd_avg_balance). Holdings: held products (status A) feed servicing cost (per product) and fees (the
    family's annual fee, once per family: ``annual_fee`` is on the family's first holding, 0 on the others)."""
    cc = config["contribution"]
    live = loans[(loans["customer_id"] == customer_id) & loans["status"].isin(["N", "O"])]
    dep = deposits[(deposits["customer_id"] == customer_id) & (deposits["status"].astype(str) != "C")]
    held = holdings[(holdings["customer_id"] == customer_id) & (holdings["status"].astype(str) == "A")]

    balance = float(live["balance"].sum())
    mtd = float(dep["mtd_avg_balance"].sum())
    # a family's fee is charged once however many products of it are held: on its first holding here
    fee = held["product_family"].map(lambda f: cc["fees"].get(f, cc["default_fee"])).astype(float)
    annual_fee = fee.where(~held.sort_values("holding_id")["product_family"].duplicated().reindex(held.index), 0.0)
    families = sorted(set(held["product_family"]))
    v = value_row
    spread = cc["ftp_deposit_rate"] - cc["deposit_rate"]
    components = pd.DataFrame(
        [
            (
                "loan_nii",
                float(v["loan_nii"]),
                f"balance {balance:,.2f} x margin {float(v['loan_margin']):.6f} ({v['margin_source']}; FTP "
                f"{float(v['ftp_loan_rate']):.4f}, bucket {v['ftp_bucket']}) over {len(live)} open loans",
            ),
            (
                "deposit_spread",
                float(v["deposit_spread"]),
                f"month-to-date average {mtd:,.2f} x (FTP {cc['ftp_deposit_rate']} - rate paid {cc['deposit_rate']}) = "
                f"x {spread:.4f} over {len(dep)} accounts",
            ),
            (
                "fees",
                float(v["fees"]),
                "families held: "
                + (", ".join(f"{f} {cc['fees'].get(f, cc['default_fee']):,.2f}" for f in families) or "none"),
            ),
            (
                "expected_loss",
                float(v["expected_loss"]),
                f"PD {float(v['pd']):.6f} ({v['pd_source']}) x LGD {float(v['lgd']):.2f} ({v['lgd_source']}) x EAD "
                f"{balance:,.2f}",
            ),
            (
                "servicing_cost",
                float(v["servicing_cost"]),
                f"{len(held)} products x {cc['cost_per_product']:,.2f} + {len(live)} loans x {cc['cost_per_loan']:,.2f}",
            ),
            (
                "contribution",
                float(v["contribution"]),
                "loan_nii + deposit_spread + fees - expected_loss - servicing_cost",
            ),
        ],
        columns=["component", "amount", "formula"],
    )
    sources = pd.concat(
        [
            _rows(
                live,
                "loans",
                "loan_id",
                "loan_nii, expected_loss, servicing_cost",
                ["balance", "interest_rate", "start_date", "maturity_date", "guarantee_type"],
            ),
            _rows(dep, "deposits", "account_id", "deposit_spread", ["mtd_avg_balance"]),
            _rows(
                held.assign(annual_fee=annual_fee),
                "product_holdings",
                "holding_id",
                "fees, servicing_cost",
                ["product_family", "annual_fee"],
            ),
        ],
        ignore_index=True,
    )
    first = ["component", "extract", "record_key", "source_file", "row_number", "sha256"]
    sources = sources[first + [c for c in sources.columns if c not in first]]
    return ValueTrace(customer_id, components, sources)
