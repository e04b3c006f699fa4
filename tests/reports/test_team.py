"""Coverage teams, relationship map and service plans in the key-account and branch reports (crm.reports.team):
test_wallet's month with the coverage marts built by crm.playbook.coverage from hand-made team, contacts,
related parties and interactions; the incomplete team first, masked contacts only, Chinese throughout."""

from __future__ import annotations

import pandas as pd
import pytest

from crm.playbook import coverage as cov
from crm.playbook import load_config
from crm.reports.data import branch_context, key_account_context
from crm.reports.render import render_html
from tests.reports.language import identifier_words, visible_text
from tests.reports.test_portfolio import DAY
from tests.reports.test_wallet import GENERATED, wallet_data

RAW = ("310***1234", "138****0000", "tokID", "tokMOB", "tokCERT")


def _month(with_marts: bool = True, contacts: pd.DataFrame | None = None):
    data = wallet_data()
    config = load_config()
    v = data.frames["customer_value"]
    ids = v["customer_id"].tolist()
    accounts = cov.key_accounts(v)
    t = pd.Timestamp
    snapshot = pd.DataFrame(
        {
            "coverage_id": [f"CV{i:016d}" for i in range(9)],
            "customer_id": [ids[0]] * 5 + [ids[1]] * 3 + [ids[3]],
            "staff_id": ["S1", "S3", "S4", "S5", "S6", "S1", "S3", "S4", "S2"],
            "role": ["RM", "PS", "RO", "CO", "CA", "RM", "PS", "RO", "RM"],
            "from_date": [t("2024-01-01")] * 9,
            # ids[1]'s risk officer left before the month end: its team (key: RM, PS, RO) is incomplete; ids[0]'s
            # (strategic: all five roles) is complete
            "to_date": [pd.NaT] * 7 + [t("2026-10-30"), pd.NaT],
        }
    )
    contacts = (
        contacts
        if contacts is not None
        else pd.DataFrame(
            {
                "contact_id": ["C1", "C2"],
                "customer_id": [ids[0], ids[0]],
                "contact_type": ["FINANCE", "FAMILY"],
                "relationship": ["CFO", "SPOUSE"],
                "contact_name": ["钱*", "孙*"],
                "contact_id_number": ["tokID1", "tokID2"],
                "contact_id_number_masked": ["310***1234", "310***1234"],
                "contact_mobile": ["tokMOB1", "tokMOB2"],
                "contact_mobile_masked": ["138****0000", "138****0000"],
                "is_primary": [True, False],
            }
        )
    )
    related = pd.DataFrame(
        {
            "relation_id": ["R1"],
            "customer_id": [ids[0]],
            "relation_type": ["GUARANTOR"],
            "party_type": ["C"],
            "related_customer_id": [ids[3]],
            "related_name": ["某*"],
            "related_cert_number": ["tokCERT"],
            "share_ratio": [None],
            "amount": [2_000_000.0],
            "start_date": [t("2024-01-01")],
            "end_date": [pd.NaT],
        }
    )
    interactions = pd.DataFrame(
        {
            "customer_id": [ids[0], ids[0]],
            "interaction_time": [t("2026-03-01 10:00"), t("2026-10-10 10:00")],
            "channel": ["VISIT", "PHONE"],
            "purpose": ["BRIEF", "SERVICE"],
        }
    )
    if with_marts:
        team = cov.active_team(snapshot, DAY)
        complete = cov.team_completeness(team, accounts, config)
        delivery = cov.service_delivery(interactions, accounts, DAY, config)
        data.frames["key_account_coverage"] = cov.key_account_coverage(
            complete,
            cov.manager_changes(snapshot, DAY, config),
            delivery,
            cov.map_counts(contacts, related, accounts, DAY),
        )
        data.frames["relationship_map"] = cov.relationship_map(team, contacts, related, accounts, DAY, config)
        data.frames["service_delivery"] = delivery
        data.frames["key_account_findings"] = cov.findings(complete, delivery)
    else:
        data.absent |= set(("key_account_coverage", "relationship_map", "service_delivery", "key_account_findings"))
    return data, ids


def _ka(data, locale="zh_CN"):
    return render_html("key_account", key_account_context(data, "S1") | {"generated_at": GENERATED}, locale)


def _branch(data, branch="B1", locale="zh_CN"):
    return render_html("branch", branch_context(data, branch) | {"generated_at": GENERATED}, locale)


def test_key_account_report_shows_the_incomplete_team_first_and_the_relationship_map():
    data, ids = _month()
    html = _ka(data)
    text = " ".join(visible_text(html).split())
    assert "服务团队与增值服务（2 户重点客户）" in text
    assert 'data-figure="ka.team.incomplete" data-value="1"' in html
    glance = html[html.index("服务团队与增值服务（") :]
    rows = glance[: glance.index("</table>")]
    # ids[1] (missing the risk officer) comes before ids[0] (complete), whatever the report's order
    assert rows.index(f'data-row="{ids[1][-8:]}"') < rows.index(f'data-row="{ids[0][-8:]}"')
    assert "团队不完整，缺少风险经理" in text
    # ids[0]'s card: its team by masked staff name, contacts masked and typed, its guarantor and the service plan
    assert "主办客户经理 张*" in text and "风险经理 赵*" in text
    assert "财务负责人（财务负责人）钱*·主要联系人" in text and "家庭成员（配偶）孙*" in text
    assert f"担保人 某*（客户 {ids[3][-8:]}） 200.00 万元" in text
    assert "行业资讯与简报 1/10（未达计划）" in text  # strategic: 12 a year, floor(12 * 10 / 12) = 10 by October
    for raw in RAW:
        assert raw not in html
    assert identifier_words(html) == []
    assert "Coverage teams and services" in _ka(data, "en")


def test_branch_report_counts_and_lists_key_accounts_with_findings():
    data, ids = _month()
    html = _branch(data)
    text = " ".join(visible_text(html).split())
    assert "重点客户服务团队与增值服务" in text
    assert 'data-figure="br.team.incomplete" data-value="1"' in html
    assert 'data-figure="br.team.manager.key_accounts" data-value="2"' in html
    assert "需跟进的重点客户（显示 2 / 共 2 户）" in text
    assert "风险经理" in text and "面谈" in text
    assert identifier_words(html) == []


@pytest.mark.parametrize("kind", ["key_account", "branch"])
def test_without_the_coverage_marts_the_sections_say_no_data(kind):
    data, _ = _month(with_marts=False)
    html = _ka(data) if kind == "key_account" else _branch(data)
    assert "尚无数据" in visible_text(html) and "ka.team." not in html and "br.team." not in html


@pytest.mark.parametrize("kind", ["key_account", "branch"])
def test_team_figures_reconcile_with_the_marts_as_the_pipeline_writes_them(tmp_path, kind):
    import dataclasses

    from crm import warehouse as wh
    from crm.reports.data import load_month
    from crm.reports.figures import figure_map, read_html, reconcile
    from crm.warehouse.marts import replace_partition

    data, _ = _month()
    engine = wh.make_engine(f"duckdb:///{tmp_path / 'w.duckdb'}")
    names = ("customer_value", "customer_360", "manager_scorecards", *team_tables())
    with wh.begin(engine) as conn:
        for name in names:
            replace_partition(conn, name, data.frames[name].assign(month_end=DAY), {"month_end": DAY})
        loaded = load_month(conn, DAY, staff=data["staff"])
    html = _ka(loaded) if kind == "key_account" else _branch(loaded)
    prefix = "ka.team." if kind == "key_account" else "br.team."
    doc = read_html(html)
    doc = dataclasses.replace(doc, figures=[f for f in doc.figures if f.figure.startswith(prefix)])
    with wh.begin(engine) as conn:
        results = reconcile(conn, doc, report=kind)
    engine.dispose()
    mine = {f for f in figure_map() if f.startswith(prefix)}
    assert {r.figure for r in results} == mine
    assert all(r.ok for r in results), [
        (r.figure, r.row, r.report_value, r.warehouse_value) for r in results if not r.ok
    ]


def team_tables():
    from crm.reports.team import TABLES

    return TABLES


def test_raw_contact_values_reach_neither_the_mart_nor_the_report():
    """Raw contacts staged through the privacy policy (crm.privacy.apply.protect), then mapped and reported: the
    leak scan finds none of their names, ID numbers or mobiles in the relationship map or the rendered report."""
    from crm.privacy.apply import protect
    from crm.privacy.tokens import KeyRing
    from crm.reports.leakscan import scan_texts

    ids = wallet_data()["customer_value"]["customer_id"].tolist()
    raw = pd.DataFrame(
        {
            "contact_id": ["C1", "C2"],
            "customer_id": ["100000000001", "100000000001"],
            "contact_type": ["FINANCE", "FAMILY"],
            "relationship": ["CFO", "SPOUSE"],
            "contact_name": ["钱多多", "孙小美"],
            "contact_id_number": ["310101198001011234", "310101198202025678"],
            "contact_mobile": ["13812345678", "13987654321"],
            "is_primary": [True, False],
        }
    )
    ring = KeyRing(keys={"k1": bytes(range(32))}, current="k1")
    staged = protect(raw, "contacts", ring, DAY).assign(customer_id=ids[0])  # the report's own token
    data, _ = _month(contacts=staged)
    html = _ka(data)
    texts = {"report": visible_text(html), "html": html, "mart": data["relationship_map"].astype(str).to_string()}
    forbidden = {c: raw[c].tolist() for c in ("contact_name", "contact_id_number", "contact_mobile")}
    assert scan_texts(texts, forbidden) == []
    assert "财务负责人（财务负责人）钱*" in " ".join(visible_text(html).split())  # the masked name is shown
