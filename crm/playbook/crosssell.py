"""Cross-sell: next-best product families by co-occurrence lift within the value segment, and supply-chain
finance leads for key corporate accounts.

Lift, per value segment (retail, SME, corporate), over the customers of that segment:
``lift(g -> f) = P(f | g) / P(f) = n(f and g) * n / (n(g) * n(f))``. A customer's score for a family ``f``
they do not hold is the largest ``lift(g -> f)`` over the families ``g`` they hold (families held by fewer than
``min_support`` customers of the segment are not evidence). Suggested: the ``top_n`` best scores of at least
``min_lift``, excluding families held, families not offered to the customer's segment, credit families for
customers on watch, and everything for closed customers (config [cross_sell]). Ties: family code order.
Computed as matrix products over the product families (10 columns), not per customer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def holdings_matrix(families: pd.Series) -> pd.DataFrame:
    """0/1 matrix customer x product family from comma-separated family codes (c360 ``product_families``)."""
    return families.fillna("").astype(str).str.replace(" ", "", regex=False).str.get_dummies(sep=",").astype(np.int8)


def lift_table(held: pd.DataFrame, min_support: int) -> pd.DataFrame:
    """Lift g -> f (rows g, columns f) over the rows of ``held``; NaN where n(g) < min_support or n(f) = 0."""
    x = held.to_numpy(dtype=np.float64)
    n = float(len(x))
    co = x.T @ x
    support = np.diag(co)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = co * n / np.outer(support, support)
    lift[support < min_support, :] = np.nan
    lift[:, support == 0] = np.nan
    np.fill_diagonal(lift, np.nan)
    return pd.DataFrame(lift, index=held.columns, columns=held.columns)


def cross_sell_customers(value: pd.DataFrame, c360: pd.DataFrame) -> pd.DataFrame:
    """:func:`next_best`'s ``frame`` from a month's marts: customer_id, value_segment, tier and manager_id of
    the customer value, with product_families and status of the customer 360 (left join)."""
    return value[["customer_id", "value_segment", "tier", "manager_id"]].merge(
        c360[["customer_id", "product_families", "status"]], on="customer_id", how="left"
    )


def next_best(frame: pd.DataFrame, config: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``frame``: customer_id, value_segment, product_families, tier (optional), status (optional).

    Returns (suggestions, lifts): suggestions one row per (customer, suggested family) with ``rank`` 1..top_n,
    ``product_family``, ``score`` (the lift), ``because`` (the held family giving it); lifts in long form per
    segment (value_segment, held, suggested, lift) for the record."""
    cc = config["cross_sell"]
    offered_to: dict[str, list[str]] = cc.get("segments", {})
    df = frame.reset_index(drop=True)
    held_all = holdings_matrix(df["product_families"])
    rows, lift_rows = [], []
    for seg, idx in df.groupby("value_segment").groups.items():
        held = held_all.loc[idx]
        if held.empty or held.shape[1] == 0:
            continue
        lift = lift_table(held, int(cc["min_support"]))
        lift_rows.append(
            lift.stack().rename("lift").rename_axis(["held", "suggested"]).reset_index().assign(value_segment=seg)
        )
        x = held.to_numpy(dtype=np.float64)
        lv = np.nan_to_num(lift.to_numpy(), nan=0.0)
        # best[c, f] = max_g x[c, g] * lift[g, f], and the g giving it: one pass per held family g
        best = np.zeros(x.shape, dtype=np.float64)
        because = np.full(x.shape, -1, dtype=np.int64)
        for g in range(x.shape[1]):
            cand = x[:, [g]] * lv[g][None, :]
            better = cand > best
            best = np.where(better, cand, best)
            because = np.where(better, g, because)
        best[x > 0] = 0.0  # never suggest what is held
        fams = np.array(held.columns)
        for j, fam in enumerate(fams):
            allowed = offered_to.get(fam)
            if allowed is not None and seg not in allowed:
                best[:, j] = 0.0
        sub = df.loc[idx]
        if "tier" in sub.columns:
            watch = (sub["tier"] == "watch").to_numpy()
            for j, fam in enumerate(fams):
                if fam in cc["credit_families"]:
                    best[watch, j] = 0.0
        if "status" in sub.columns:
            best[sub["status"].isin(cc["excluded_status"]).to_numpy()] = 0.0
        best[best < float(cc["min_lift"])] = 0.0
        top_n = min(int(cc["top_n"]), best.shape[1])
        order = np.argsort(-best, axis=1, kind="stable")[:, :top_n]
        ids = sub["customer_id"].to_numpy()
        for r in range(top_n):
            j = order[:, r]
            score = best[np.arange(len(j)), j]
            keep = score > 0
            rows.append(
                pd.DataFrame(
                    {
                        "customer_id": ids[keep],
                        "value_segment": seg,
                        "rank": r + 1,
                        "product_family": fams[j[keep]],
                        "score": score[keep].round(4),
                        "because": fams[because[np.arange(len(j)), j][keep]],
                    }
                )
            )
    cols = ["customer_id", "value_segment", "rank", "product_family", "score", "because"]
    sugg = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)
    sugg = sugg.sort_values(["customer_id", "rank"]).reset_index(drop=True)[cols]
    lifts = (
        pd.concat(lift_rows, ignore_index=True)
        if lift_rows
        else pd.DataFrame(columns=["held", "suggested", "lift", "value_segment"])
    )
    return sugg, lifts


def supply_chain_leads(
    links: pd.DataFrame, accounts: pd.DataFrame, c360: pd.DataFrame, config: dict[str, Any]
) -> pd.DataFrame:
    """Supply-chain finance leads around key corporate accounts (anchors).

    ``links``: the supply_chain_links mart (supplier, buyer, amount, *_is_customer). ``accounts``: customer_value
    rows (customer_id, segment, key_account, manager_id). ``c360``: customer_id, product_families, manager_id.
    One row per (anchor, counterparty) with annual volume >= min_amount: ``anchor_id``, ``counterparty_id``,
    ``role`` (supplier / buyer of the anchor), ``amount``, ``product`` (config text), ``counterparty_is_customer``,
    ``holds_scf``, ``anchor_manager_id``, ``counterparty_manager_id``. Sorted by anchor, amount descending."""
    sc = config["supply_chain"]
    cols = [
        "anchor_id",
        "counterparty_id",
        "role",
        "amount",
        "product",
        "counterparty_is_customer",
        "holds_scf",
        "anchor_manager_id",
        "counterparty_manager_id",
    ]
    anchors = accounts[accounts["key_account"].astype(bool) & (accounts["segment"] == "corporate")]
    big = links[pd.to_numeric(links["amount"], errors="coerce") >= float(sc["min_amount"])]
    sup = big[big["buyer"].isin(anchors["customer_id"])]
    buy = big[big["supplier"].isin(anchors["customer_id"])]
    leads = pd.concat(
        [
            pd.DataFrame(
                {
                    "anchor_id": sup["buyer"],
                    "counterparty_id": sup["supplier"],
                    "role": "supplier",
                    "amount": sup["amount"],
                    "product": sc["supplier_product"],
                    "counterparty_is_customer": sup["supplier_is_customer"],
                }
            ),
            pd.DataFrame(
                {
                    "anchor_id": buy["supplier"],
                    "counterparty_id": buy["buyer"],
                    "role": "buyer",
                    "amount": buy["amount"],
                    "product": sc["buyer_product"],
                    "counterparty_is_customer": buy["buyer_is_customer"],
                }
            ),
        ],
        ignore_index=True,
    )
    info = c360.drop_duplicates("customer_id").set_index("customer_id")
    fams = (
        info["product_families"].fillna("").astype(str)
        if "product_families" in info.columns
        else pd.Series("", index=info.index)
    )
    scf = fams.str.contains(r"(?:^|,)\s*SCF\s*(?:,|$)", regex=True)
    leads["holds_scf"] = leads["counterparty_id"].map(scf).astype("boolean").fillna(False).astype(bool)
    mgr = accounts.drop_duplicates("customer_id").set_index("customer_id")["manager_id"]
    leads["anchor_manager_id"] = leads["anchor_id"].map(mgr)
    leads["counterparty_manager_id"] = (
        leads["counterparty_id"].map(info["manager_id"]) if ("manager_id" in info.columns) else None
    )
    return leads.sort_values(["anchor_id", "amount", "counterparty_id"], ascending=[True, False, True]).reset_index(
        drop=True
    )[cols]
