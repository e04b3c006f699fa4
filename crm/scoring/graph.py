"""The related-party graph: corporate groups, guarantee chains and circles, supply-chain links.

Input: the staged ``related_parties`` snapshot (one row per relation of a customer: ``customer_id`` is the
customer, the *related party* is the other side). Customer ids are tokens there; names are masked and not
used.

**Nodes.** A customer is its ``customer_id`` token. A related party is its ``related_customer_id`` token when
it is a customer of the bank, else its ``related_cert_number`` token (ID number or credit code), so a person
or company that is not a customer is still one node across relations. A party with neither cannot be
recognised in another relation: it becomes a node of its own, ``R:<relation_id>`` (counted as
``unidentified_parties``).

**Active relations.** Relations that have ended are left out: with ``as_of`` given, those with an
``end_date`` on or before it (and those starting after it); with ``as_of=None``, every relation with an
``end_date`` (the snapshot lists ended relations with the date they ended; an end date is never in the
future).

**Corporate groups** (集团客户 / 关联企业): connected components of the undirected graph of

- ``CONTROLLER`` edges (实际控制人 – company),
- ``AFFILIATE`` edges (关联企业 – company),
- ``SHAREHOLDER`` edges with ``share_ratio`` >= ``SHAREHOLDING_THRESHOLD`` = 20 (the contract's share_ratio
  is a percentage: 20% is the usual "significant influence" level); smaller or unknown holdings do not join
  groups (counted).

A group may hold people (a controller) and non-customers. ``group_id`` = ``"G"`` + the first 16 hex digits
of SHA-256 of the group's smallest node: deterministic for the same membership, and no token or raw value is
shown. It changes when a new smallest member joins.

**Guarantees** (担保): a ``GUARANTOR`` row says the related party guarantees the customer, so the directed
edge is guarantor -> borrower (attributes: ``amount`` summed over the relations, ``relations``). A
self-guarantee (party = customer) is dropped and counted. *Guarantee circles* (担保圈, including mutual
guarantees of two) are the simple cycles of that digraph up to ``CIRCLE_MAX_LENGTH`` = 6 members
(``networkx.simple_cycles(G, length_bound=6)``): enumerating all cycles grows exponentially in a dense
strongly connected component; a bound keeps the run time predictable, and a circle longer than six is
still seen as a strongly connected component in ``guarantee_chains`` (``circle_members``). *Guarantee chains*
(担保链) are the weakly connected components of the digraph; ``longest_chain`` counts the members along its
longest path, a circle counting all its members (longest path on the condensation weighted by component
size). ``guarantee_reach`` gives, per node, how many nodes it backs directly or through others
(``downstream``) and how many stand behind it (``upstream``).

**Supply chain** (供应链): ``SUPPLIER`` rows give supplier (the party) -> customer, ``BUYER`` rows customer ->
buyer (the party); the same trade reported by both sides (both customers) is one link with the larger
reported annual amount.

networkx is imported inside functions so that importing this module stays fast.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

SHAREHOLDING_THRESHOLD = 20.0  # percent: SHAREHOLDER edges at or above join a group
GROUP_RELATIONS = ("CONTROLLER", "AFFILIATE")  # always join a group
CIRCLE_MAX_LENGTH = 6  # members: the length bound of the cycle enumeration
LIVE_LOAN_STATUS = ("N", "O")  # loans counted in exposures (S settled, W written off carry no balance)


@dataclass(frozen=True)
class Graphs:
    """The three graphs over the same node names, the customer nodes, and counts of what was used."""

    group: nx.Graph  # undirected: CONTROLLER, AFFILIATE, SHAREHOLDER >= 20%
    guarantee: nx.DiGraph  # guarantor -> borrower; edge attributes amount, relations
    supply: nx.DiGraph  # supplier -> buyer; edge attributes amount, relations
    customers: frozenset = field(default_factory=frozenset)
    stats: dict = field(default_factory=dict)


def _hash_id(prefix: str, values) -> list[str]:
    return [prefix + hashlib.sha256(str(v).encode()).hexdigest()[:16] for v in values]


def _str(s: pd.Series) -> pd.Series:
    out = s.astype("string").str.strip()
    return out.mask(out == "")


def build_graphs(related_parties: pd.DataFrame, as_of: dt.date | None = None) -> Graphs:
    """The group, guarantee and supply graphs of the active relations (see the module docstring)."""
    import networkx as nx

    rp = related_parties
    n_in = len(rp)
    end = pd.to_datetime(rp["end_date"]) if "end_date" in rp.columns else pd.Series(pd.NaT, index=rp.index)
    if as_of is None:
        active = end.isna()
    else:
        ts = pd.Timestamp(as_of)
        start = pd.to_datetime(rp["start_date"]) if "start_date" in rp.columns else pd.Series(pd.NaT, index=rp.index)
        active = (end.isna() | (end > ts)) & (start.isna() | (start <= ts))
    rp = rp.loc[active.to_numpy(bool)]

    cust = _str(rp["customer_id"])
    rel_cust = (
        _str(rp["related_customer_id"])
        if "related_customer_id" in rp.columns
        else pd.Series(pd.NA, index=rp.index, dtype="string")
    )
    cert = (
        _str(rp["related_cert_number"])
        if "related_cert_number" in rp.columns
        else pd.Series(pd.NA, index=rp.index, dtype="string")
    )
    fallback = "R:" + rp["relation_id"].astype("string")
    party = rel_cust.fillna(cert).fillna(fallback)
    unidentified = int((rel_cust.isna() & cert.isna()).sum())
    typ = rp["relation_type"].astype("string").str.strip().str.upper()
    share = (
        pd.to_numeric(rp["share_ratio"], errors="coerce")
        if "share_ratio" in rp.columns
        else pd.Series(np.nan, index=rp.index)
    )
    amount = (
        pd.to_numeric(rp["amount"], errors="coerce") if "amount" in rp.columns else pd.Series(np.nan, index=rp.index)
    )
    edges = pd.DataFrame({"customer": cust, "party": party, "type": typ, "share": share, "amount": amount})
    edges = edges.dropna(subset=["customer"])
    self_loop = edges["customer"] == edges["party"]

    customers = frozenset(edges["customer"].dropna().tolist()) | frozenset(rel_cust.dropna().tolist())

    # corporate groups
    holder = edges["type"] == "SHAREHOLDER"
    big = holder & (edges["share"] >= SHAREHOLDING_THRESHOLD)
    in_group = (edges["type"].isin(GROUP_RELATIONS) | big) & ~self_loop
    g_edges = edges.loc[in_group, ["customer", "party"]].drop_duplicates()
    group = nx.Graph()
    group.add_edges_from(g_edges.itertuples(index=False, name=None))

    # guarantees: guarantor (party) -> borrower (customer)
    is_guar = edges["type"] == "GUARANTOR"
    guar = edges.loc[is_guar & ~self_loop]
    guar = (
        guar.groupby(["party", "customer"], sort=True)
        .agg(amount=("amount", "sum"), relations=("amount", "size"))
        .reset_index()
    )
    guarantee = nx.from_pandas_edgelist(
        guar, "party", "customer", edge_attr=["amount", "relations"], create_using=nx.DiGraph
    )

    # supply chain: supplier -> buyer, one link per pair (mirrored reports collapse, larger amount kept)
    sup = edges.loc[(edges["type"] == "SUPPLIER") & ~self_loop]
    buy = edges.loc[(edges["type"] == "BUYER") & ~self_loop]
    links = pd.concat(
        [
            pd.DataFrame({"supplier": sup["party"], "buyer": sup["customer"], "amount": sup["amount"]}),
            pd.DataFrame({"supplier": buy["customer"], "buyer": buy["party"], "amount": buy["amount"]}),
        ],
        ignore_index=True,
    )
    links = (
        links.groupby(["supplier", "buyer"], sort=True)
        .agg(amount=("amount", "max"), relations=("amount", "size"))
        .reset_index()
    )
    supply = nx.from_pandas_edgelist(
        links, "supplier", "buyer", edge_attr=["amount", "relations"], create_using=nx.DiGraph
    )

    stats = {
        "relations_in": int(n_in),
        "relations_active": int(len(rp)),
        "relations_ended": int(n_in - len(rp)),
        "unidentified_parties": unidentified,
        "group_edges": int(group.number_of_edges()),
        "shareholder_below_threshold": int((holder & (edges["share"] < SHAREHOLDING_THRESHOLD)).sum()),
        "shareholder_without_ratio": int((holder & edges["share"].isna()).sum()),
        "guarantee_edges": int(guarantee.number_of_edges()),
        "self_guarantees": int((is_guar & self_loop).sum()),
        "supply_links": int(supply.number_of_edges()),
        "shareholding_threshold_percent": SHAREHOLDING_THRESHOLD,
        "circle_max_length": CIRCLE_MAX_LENGTH,
    }
    return Graphs(group=group, guarantee=guarantee, supply=supply, customers=customers, stats=stats)


def _components_frame(components: list[set], key: str) -> pd.DataFrame:
    """node, component number, size; plus the component's smallest node (for ids)."""
    sizes = np.fromiter((len(c) for c in components), dtype=np.int64, count=len(components))
    frame = pd.DataFrame(
        {
            "node": pd.Series(list(chain.from_iterable(components)), dtype=object),
            key: np.repeat(np.arange(len(components)), sizes),
        }
    )
    frame["size"] = np.repeat(sizes, sizes)
    frame["smallest"] = frame.groupby(key)["node"].transform("min")
    return frame


def groups(graphs: Graphs) -> pd.DataFrame:
    """Corporate groups: one row per node in a group.

    Columns: ``node``, ``group_id``, ``group_size`` (nodes), ``is_customer``, ``group_customers`` (customer
    nodes in the group). Sorted by group_id, node."""
    import networkx as nx

    comps = list(nx.connected_components(graphs.group))
    if not comps:
        return pd.DataFrame(
            {
                "node": pd.Series(dtype=object),
                "group_id": pd.Series(dtype=object),
                "group_size": pd.Series(dtype=np.int64),
                "is_customer": pd.Series(dtype=bool),
                "group_customers": pd.Series(dtype=np.int64),
            }
        )
    f = _components_frame(comps, "comp")
    smallest = f.drop_duplicates("comp").set_index("comp")["smallest"]
    ids = pd.Series(_hash_id("G", smallest.to_numpy()), index=smallest.index)
    out = pd.DataFrame({"node": f["node"], "group_id": f["comp"].map(ids).to_numpy(), "group_size": f["size"]})
    out["is_customer"] = out["node"].isin(graphs.customers)
    out["group_customers"] = out.groupby("group_id")["is_customer"].transform("sum").astype(np.int64)
    return out.sort_values(["group_id", "node"], kind="stable").reset_index(drop=True)


def guarantee_circles(graphs: Graphs, max_length: int = CIRCLE_MAX_LENGTH) -> pd.DataFrame:
    """Guarantee circles: simple cycles of the guarantor -> borrower digraph with at most ``max_length``
    members (2 = mutual guarantee).

    Columns: ``circle_id`` ("C" + 16 hex digits of SHA-256 of the members in order), ``length`` (members),
    ``members`` (tuple in guarantee order, starting at the smallest: each guarantees the next, the last the
    first), ``customers`` (members that are customers), ``amount`` (guarantee amounts along the circle).
    Sorted by length, circle_id."""
    import networkx as nx

    g = graphs.guarantee
    rows = []
    for cycle in nx.simple_cycles(g, length_bound=max_length):
        k = cycle.index(min(cycle))
        members = tuple(cycle[k:] + cycle[:k])
        rows.append(members)
    cols = ["circle_id", "length", "members", "customers", "amount"]
    if not rows:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=object if c in ("circle_id", "members") else (float if c == "amount" else np.int64))
                for c in cols
            }
        )
    amount_of = nx.get_edge_attributes(g, "amount")
    out = pd.DataFrame(
        {
            "circle_id": _hash_id("C", ("|".join(m) for m in rows)),
            "length": np.fromiter((len(m) for m in rows), dtype=np.int64, count=len(rows)),
            "members": rows,
            "customers": np.fromiter(
                (sum(x in graphs.customers for x in m) for m in rows), dtype=np.int64, count=len(rows)
            ),
            "amount": [float(np.nansum([amount_of[(m[i], m[(i + 1) % len(m)])] for i in range(len(m))])) for m in rows],
        }
    )
    return out.sort_values(["length", "circle_id"], kind="stable").reset_index(drop=True)


def _node_index(g) -> tuple[np.ndarray, dict]:
    nodes = np.array(sorted(g.nodes()), dtype=object)
    return nodes, {n: i for i, n in enumerate(nodes)}


def guarantee_chains(graphs: Graphs) -> pd.DataFrame:
    """Guarantee chains: one row per weakly connected component of the guarantee digraph.

    Columns: ``chain_id`` ("K" + hash of the smallest member), ``members`` (nodes), ``customers``,
    ``links`` (guarantee edges), ``amount`` (guaranteed amount), ``longest_chain`` (members along the longest
    path, a circle counting all its members), ``circle_members`` (members in a strongly connected component
    of two or more, i.e. on some circle of any length). Sorted by members descending, chain_id."""
    import networkx as nx

    g = graphs.guarantee
    cols = ["chain_id", "members", "customers", "links", "amount", "longest_chain", "circle_members"]
    if g.number_of_nodes() == 0:
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c == "chain_id" else (float if c == "amount" else np.int64)) for c in cols}
        )
    f = _components_frame(list(nx.weakly_connected_components(g)), "comp")
    comp_of = pd.Series(f["comp"].to_numpy(), index=f["node"].to_numpy())

    # longest path on the condensation (strongly connected components), weighted by component size
    cond = nx.condensation(g)
    mapping = pd.Series(cond.graph["mapping"])  # node -> scc number
    scc_size = np.bincount(mapping.to_numpy(), minlength=cond.number_of_nodes()).astype(np.int64)
    ce = np.array(list(cond.edges()), dtype=np.int64).reshape(-1, 2)
    best = scc_size.copy()
    for _ in range(cond.number_of_nodes()):  # relaxation rounds: at most the longest path, usually a few
        cand = best.copy()
        if len(ce):
            np.maximum.at(cand, ce[:, 1], best[ce[:, 0]] + scc_size[ce[:, 1]])
        if np.array_equal(cand, best):
            break
        best = cand
    node_scc = mapping.reindex(f["node"]).to_numpy()
    f["best"] = best[node_scc]
    f["in_circle"] = scc_size[node_scc] > 1
    f["is_customer"] = f["node"].isin(graphs.customers)

    e = nx.to_pandas_edgelist(g, source="src", target="dst")
    e["comp"] = comp_of.reindex(e["src"]).to_numpy()
    per_edge = e.groupby("comp").agg(links=("src", "size"), amount=("amount", "sum"))
    per_node = f.groupby("comp").agg(
        members=("node", "size"),
        customers=("is_customer", "sum"),
        longest_chain=("best", "max"),
        circle_members=("in_circle", "sum"),
        smallest=("smallest", "first"),
    )
    out = per_node.join(per_edge, how="left")
    out["chain_id"] = _hash_id("K", out["smallest"].to_numpy())
    out = out.reset_index(drop=True)[cols]
    for c in ("members", "customers", "links", "longest_chain", "circle_members"):
        out[c] = out[c].fillna(0).astype(np.int64)
    return out.sort_values(["members", "chain_id"], ascending=[False, True], kind="stable").reset_index(drop=True)


def guarantee_reach(graphs: Graphs) -> pd.DataFrame:
    """Per node of the guarantee digraph: ``guarantees_given`` (out-degree), ``guaranteed_by`` (in-degree),
    ``downstream`` (nodes it backs directly or through others), ``upstream`` (nodes standing behind it),
    ``is_customer``. Computed as the transitive closure of the sparse adjacency matrix (repeated squaring).
    Sorted by downstream descending, node."""
    import networkx as nx
    from scipy import sparse

    g = graphs.guarantee
    nodes, index = _node_index(g)
    n = len(nodes)
    if n == 0:
        return pd.DataFrame(
            {
                "node": pd.Series(dtype=object),
                "is_customer": pd.Series(dtype=bool),
                **{
                    c: pd.Series(dtype=np.int64)
                    for c in ("guarantees_given", "guaranteed_by", "downstream", "upstream")
                },
            }
        )
    e = nx.to_pandas_edgelist(g, source="src", target="dst")
    src = e["src"].map(index).to_numpy(np.int64)
    dst = e["dst"].map(index).to_numpy(np.int64)
    adj = sparse.csr_matrix((np.ones(len(src), dtype=np.int64), (src, dst)), shape=(n, n))
    reach = (adj > 0).astype(np.int64)
    while True:  # reach over paths of up to 2^k links; path counts are int64, binarised each round
        nxt = ((reach + reach @ reach) > 0).astype(np.int64)
        if nxt.nnz == reach.nnz:
            break
        reach = nxt
    reach = reach.tolil()
    reach.setdiag(0)  # a node on a circle reaches itself: not counted
    reach = reach.tocsr()
    reach.eliminate_zeros()
    out = pd.DataFrame(
        {
            "node": nodes,
            "is_customer": pd.Series(nodes, dtype=object).isin(graphs.customers).to_numpy(),
            "guarantees_given": np.asarray((adj > 0).sum(axis=1)).ravel().astype(np.int64),
            "guaranteed_by": np.asarray((adj > 0).sum(axis=0)).ravel().astype(np.int64),
            "downstream": np.diff(reach.indptr).astype(np.int64),
            "upstream": np.bincount(reach.indices, minlength=n).astype(np.int64),
        }
    )
    return out.sort_values(["downstream", "node"], ascending=[False, True], kind="stable").reset_index(drop=True)


def supply_chain_links(graphs: Graphs) -> pd.DataFrame:
    """Supply-chain links: ``supplier``, ``buyer``, ``amount`` (annual volume, yuan), ``relations`` (rows
    reporting it: 2 when both sides are customers and report it), ``supplier_is_customer``,
    ``buyer_is_customer``. Sorted by amount descending."""
    import networkx as nx

    e = nx.to_pandas_edgelist(graphs.supply, source="supplier", target="buyer")
    if e.empty:
        e = pd.DataFrame(
            {
                "supplier": pd.Series(dtype=object),
                "buyer": pd.Series(dtype=object),
                "amount": pd.Series(dtype=float),
                "relations": pd.Series(dtype=np.int64),
            }
        )
    e = e[["supplier", "buyer", "amount", "relations"]]
    e["supplier_is_customer"] = e["supplier"].isin(graphs.customers)
    e["buyer_is_customer"] = e["buyer"].isin(graphs.customers)
    return e.sort_values(["amount", "supplier", "buyer"], ascending=[False, True, True], kind="stable").reset_index(
        drop=True
    )


def group_exposure(groups_df: pd.DataFrame, loans_df: pd.DataFrame) -> pd.DataFrame:
    """Loan balance per corporate group and its share of the bank's total balance.

    Loans counted: status N or O (when ``status`` is given). Denominator: the balance of all counted loans,
    in groups or not. Columns: ``group_id``, ``customers`` (customer nodes of the group), ``borrowers``
    (members with a counted loan), ``balance``, ``share_of_total``. Sorted by balance descending, group_id."""
    loans = loans_df
    if "status" in loans.columns:
        loans = loans.loc[
            loans["status"].astype("string").str.strip().isin(LIVE_LOAN_STATUS).fillna(False).to_numpy(bool)
        ]
    per_cust = loans.groupby("customer_id")["balance"].sum()
    total = float(per_cust.sum())
    members = groups_df[["node", "group_id"]].copy()
    members["balance"] = members["node"].map(per_cust)
    members["borrower"] = members["balance"].notna()
    if "is_customer" in groups_df.columns:
        members["is_customer"] = groups_df["is_customer"].to_numpy(bool) | members["borrower"].to_numpy()
    else:
        members["is_customer"] = members["borrower"]
    out = (
        members.groupby("group_id", sort=True)
        .agg(customers=("is_customer", "sum"), borrowers=("borrower", "sum"), balance=("balance", "sum"))
        .reset_index()
    )
    out["customers"] = out["customers"].astype(np.int64)
    out["borrowers"] = out["borrowers"].astype(np.int64)
    out["share_of_total"] = out["balance"] / total if total > 0 else np.nan
    return out.sort_values(["balance", "group_id"], ascending=[False, True], kind="stable").reset_index(drop=True)


def largest_group_concentration(exposure_df: pd.DataFrame, min_customers: int = 2) -> tuple[str | None, float]:
    """(group_id, share_of_total) of the group with the largest balance among groups with at least
    ``min_customers`` customers (default 2: a one-customer group is single-customer concentration);
    (None, 0.0) when there is none."""
    e = exposure_df.loc[exposure_df["customers"] >= min_customers]
    if e.empty:
        return None, 0.0
    top = e.sort_values(["balance", "group_id"], ascending=[False, True], kind="stable").iloc[0]
    return str(top["group_id"]), float(top["share_of_total"])
