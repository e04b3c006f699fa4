"""The related-party graph on a hand-made book, and the three scoring modules on a generated bank."""

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pytest

from crm.scoring import graph as G

COLS = [
    "relation_id",
    "customer_id",
    "relation_type",
    "party_type",
    "related_customer_id",
    "related_name",
    "related_cert_number",
    "share_ratio",
    "amount",
    "start_date",
    "end_date",
]
START = dt.date(2020, 1, 1)


def _rel(rid, cust, typ, party_type="C", rel_cust=None, cert=None, share=None, amount=None, end=None):
    return (rid, cust, typ, party_type, rel_cust, "某*", cert, share, amount, START, end)


def _book():
    rows = [
        # group 1: c1 and c2 share a controller (a person, not a customer); c3 is c2's affiliate
        _rel("R01", "c1", "CONTROLLER", "I", cert="p1"),
        _rel("R02", "c2", "CONTROLLER", "I", cert="p1"),
        _rel("R03", "c3", "AFFILIATE", rel_cust="c2", cert="u2"),
        _rel("R04", "c3", "SHAREHOLDER", cert="x1", share=10.0),  # below 20%: x1 stays out
        # group 2: c5 (a customer) holds 25% of c4; c4 is controlled by q1
        _rel("R05", "c4", "SHAREHOLDER", rel_cust="c5", cert="u5", share=25.0),
        _rel("R06", "c4", "CONTROLLER", "I", cert="q1"),
        # c6: a small holder only, and an ended affiliation with c1 (ignored)
        _rel("R07", "c6", "SHAREHOLDER", "I", cert="y1", share=15.0),
        _rel("R08", "c6", "AFFILIATE", rel_cust="c1", cert="u1", end=dt.date(2025, 6, 30)),
        # guarantee circle g1 -> g2 -> g3 -> g1 (the party guarantees the customer)
        _rel("R10", "g2", "GUARANTOR", rel_cust="g1", amount=100.0),
        _rel("R11", "g3", "GUARANTOR", rel_cust="g2", amount=200.0),
        _rel("R12", "g1", "GUARANTOR", rel_cust="g3", amount=300.0),
        # a chain that is not a circle: z1 (not a customer) -> h1 -> h2 -> h3
        _rel("R13", "h1", "GUARANTOR", cert="z1", amount=50.0),
        _rel("R14", "h2", "GUARANTOR", rel_cust="h1", amount=60.0),
        _rel("R15", "h3", "GUARANTOR", rel_cust="h2", amount=70.0),
        # mutual guarantee m1 <-> m2
        _rel("R16", "m1", "GUARANTOR", rel_cust="m2", amount=10.0),
        _rel("R17", "m2", "GUARANTOR", rel_cust="m1", amount=20.0),
        # a guarantor known by nothing: a node of its own
        _rel("R18", "h3", "GUARANTOR", "I", amount=5.0),
        # supply chain: s2 supplies s1, reported by both sides; an ended link is ignored
        _rel("R20", "s1", "SUPPLIER", rel_cust="s2", cert="u9", amount=100.0),
        _rel("R21", "s2", "BUYER", rel_cust="s1", cert="u8", amount=120.0),
        _rel("R22", "s1", "BUYER", cert="w1", amount=50.0, end=dt.date(2025, 1, 31)),
    ]
    return pd.DataFrame(rows, columns=COLS)


@pytest.fixture(scope="module")
def graphs():
    return G.build_graphs(_book())


def test_two_groups_with_threshold_and_ended_relations(graphs):
    g = G.groups(graphs)
    assert list(g.columns) == ["node", "group_id", "group_size", "is_customer", "group_customers"]
    members = g.groupby("group_id")["node"].apply(frozenset)
    assert set(members) == {frozenset({"c1", "c2", "c3", "p1"}), frozenset({"c4", "c5", "q1"})}
    gid = g.set_index("node")["group_id"]
    assert gid["c1"] == "G" + hashlib.sha256(b"c1").hexdigest()[:16]  # from the smallest member, hashed
    assert gid["c4"] == "G" + hashlib.sha256(b"c4").hexdigest()[:16]
    per_group = g.drop_duplicates("group_id").set_index("group_id")
    assert per_group.loc[gid["c1"], "group_size"] == 4 and per_group.loc[gid["c1"], "group_customers"] == 3
    assert per_group.loc[gid["c4"], "group_customers"] == 2  # c5 is a customer through related_customer_id
    assert "x1" not in set(g["node"]) and "c6" not in set(g["node"])
    st = graphs.stats
    assert st["relations_ended"] == 2 and st["shareholder_below_threshold"] == 2
    assert st["unidentified_parties"] == 1 and st["shareholding_threshold_percent"] == 20.0
    # as of a date before the affiliation ended, c6 joins group 1
    earlier = G.groups(G.build_graphs(_book(), as_of=dt.date(2025, 1, 1)))
    assert "c6" in set(earlier["node"])


def test_guarantee_circle_found_and_chain_not_reported(graphs):
    c = G.guarantee_circles(graphs)
    assert list(c.columns) == ["circle_id", "length", "members", "customers", "amount"]
    assert c["members"].tolist() == [("m1", "m2"), ("g1", "g2", "g3")]  # sorted by length
    three = c.iloc[1]
    assert three["length"] == 3 and three["customers"] == 3 and three["amount"] == pytest.approx(600.0)
    assert three["circle_id"] == "C" + hashlib.sha256(b"g1|g2|g3").hexdigest()[:16]
    assert not any(n.startswith(("h", "z")) for m in c["members"] for n in m)
    # the documented length bound: a 3-circle is not enumerated with a bound of 2
    assert G.guarantee_circles(graphs, max_length=2)["length"].tolist() == [2]


def test_guarantee_chains_and_reach(graphs):
    ch = G.guarantee_chains(graphs)
    by_size = ch.set_index("members")
    # z1 -> h1 -> h2 -> h3 plus the unidentified guarantor of h3
    chain = by_size.loc[5]
    assert chain["longest_chain"] == 4 and chain["circle_members"] == 0 and chain["links"] == 4
    assert chain["customers"] == 3 and chain["amount"] == pytest.approx(185.0)
    circle = by_size.loc[3]
    assert circle["longest_chain"] == 3 and circle["circle_members"] == 3
    assert by_size.loc[2, "circle_members"] == 2
    reach = G.guarantee_reach(graphs).set_index("node")
    assert reach.loc["z1", "downstream"] == 3 and reach.loc["z1", "upstream"] == 0
    assert reach.loc["h3", "upstream"] == 4 and reach.loc["h3", "guaranteed_by"] == 2
    assert reach.loc["g1", "downstream"] == 2 and reach.loc["g1", "upstream"] == 2  # itself not counted


def test_supply_chain_links(graphs):
    s = G.supply_chain_links(graphs)
    assert len(s) == 1
    link = s.iloc[0]
    assert (link["supplier"], link["buyer"]) == ("s2", "s1")
    assert link["relations"] == 2 and link["amount"] == 120.0  # mirrored report: one link, larger amount
    assert link["supplier_is_customer"] and link["buyer_is_customer"]


def test_group_exposure_shares(graphs):
    loans = pd.DataFrame(
        {
            "loan_id": ["L1", "L2", "L3", "L4", "L5", "L6"],
            "customer_id": ["c1", "c2", "c2", "c4", "c6", "c3"],
            "balance": [100.0, 200.0, 999.0, 350.0, 350.0, 0.0],
            "status": ["N", "O", "S", "N", "N", "W"],  # settled and written-off loans are not exposure
        }
    )
    g = G.groups(graphs)
    e = G.group_exposure(g, loans)
    assert list(e.columns) == ["group_id", "customers", "borrowers", "balance", "share_of_total"]
    gid = g.set_index("node")["group_id"]
    e = e.set_index("group_id")
    assert e.loc[gid["c1"], "balance"] == pytest.approx(300.0)
    assert e.loc[gid["c1"], "share_of_total"] == pytest.approx(0.3)  # of 1,000 including c6, not in a group
    assert e.loc[gid["c4"], "share_of_total"] == pytest.approx(0.35)
    assert e.loc[gid["c1"], "customers"] == 3 and e.loc[gid["c1"], "borrowers"] == 2
    assert G.largest_group_concentration(G.group_exposure(g, loans)) == (gid["c4"], pytest.approx(0.35))
    assert G.largest_group_concentration(G.group_exposure(g, loans), min_customers=4) == (None, 0.0)


def test_scoring_on_a_generated_bank(tmp_path):
    """The three modules on realistic data: five-class misreports, groups and circles, ratios."""
    import crm.contract as contract
    from crm.ingest.fileformat import read_extract
    from crm.scoring.financials import latest_by_customer, ratios
    from crm.scoring.five_class import BETTER, reconcile, summary
    from crm.synthetic import generate

    generate(tmp_path, customers=600, start=dt.date(2026, 1, 31), end=dt.date(2026, 1, 31), seed=3, progress=False)

    def load(name):
        e = contract.BY_NAME[name]
        [path] = sorted((tmp_path / "20260131").glob(f"{e.file_code}_20260131_*.dat"))
        return read_extract(path, e).table.to_pandas()

    loans, perf = load("loans"), load("loan_performance")
    # the snapshot: the generator misreports 4% of overdue loans one class better
    d = reconcile(loans)
    s = summary(d)
    assert s["loans_checked"] == int((loans["status"] != "S").sum())
    better = d[d["direction"] == BETTER]
    assert len(better) >= 1 and (better["difference"] == 1).all()
    assert (d.loc[d["direction"] != BETTER, "overdue_days"] == 0).all()  # conservative: current loans as 关注
    # 37 month-ends of history: share of overdue loans ever reported better than the rule, about 4%
    dp = reconcile(perf)
    overdue = perf.loc[(perf["overdue_days"] > 0) & (perf["status"] == "O"), "loan_id"].nunique()
    misreported = dp.loc[dp["direction"] == BETTER, "loan_id"].nunique()
    assert overdue >= 50 and 0.01 <= misreported / overdue <= 0.08
    assert (dp.loc[dp["direction"] == BETTER, "difference"] == 1).all()
    assert not dp["status"].eq("W").any()  # written-off loans are reported 损失

    graphs = G.build_graphs(load("related_parties"))
    groups = G.groups(graphs)
    multi = groups.drop_duplicates("group_id")
    assert (multi["group_customers"] >= 2).sum() >= 5  # groups of several customers (35% of corporates)
    circles = G.guarantee_circles(graphs)
    assert len(circles) >= 1 and (circles["length"] >= 2).all()
    chains = G.guarantee_chains(graphs)
    assert (chains["longest_chain"] >= 3).any()
    exposure = G.group_exposure(groups, loans)
    assert exposure["share_of_total"].between(0, 1).all() and exposure["share_of_total"].sum() <= 1 + 1e-9
    gid, share = G.largest_group_concentration(exposure)
    assert gid.startswith("G") and 0 < share < 1

    statements = load("financial_statements")
    r, counts = ratios(statements)
    assert counts["statements_in"] == len(statements) == counts["statements_out"] > 100
    assert counts["excluded_identity"] == 0  # the generator balances every statement to the cent
    assert r["debt_to_asset"].between(0, 1).all()
    assert r["revenue_growth"].notna().sum() > 100
    assert not np.isinf(r.select_dtypes("number").to_numpy(float)).any()
    latest = latest_by_customer(r)
    assert latest["customer_id"].is_unique and len(latest) == counts["customers"]
