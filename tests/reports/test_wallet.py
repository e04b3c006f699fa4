"""Share of wallet, main bank, industry position and the 12-month contribution trend in the key-account and
branch reports, on hand-built marts with the customer_value / customer_value_month columns of the value
interface: the summaries per manager and branch, the words a reader sees (Chinese, 未知 / 无征信 where unknown,
never nan), the figures recomputed by their SQL on a warehouse holding the same frames (and a wrong one
found), and the PDF rendered offline."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import subprocess

import numpy as np
import pandas as pd
import pytest

from crm import warehouse as wh
from crm.reports.data import (
    MonthData,
    bar_sparkline,
    branch_context,
    key_account_context,
    leader_percentile,
    load_month,
    wallet_summary,
)
from crm.reports.figures import figure_map, read_html, reconcile
from crm.reports.render import render_html, render_pdf_document
from crm.warehouse.marts import replace_partition
from tests.reports.language import identifier_words, visible_text
from tests.reports.test_portfolio import DAY, SCRIPT, _data

GENERATED = dt.datetime(2026, 11, 1, 10)
NA = pd.NA
MISSING_WORDS = re.compile(r"(?<![A-Za-z])(nan|NaN|None|NaT|<NA>|null)(?![A-Za-z])")
NEW_FIGURES = ("ka.wallet.", "br.wallet.") + tuple(
    f"ka.accounts.{c}"
    for c in (
        "wallet_share",
        "external_loan_balance",
        "total_debt",
        "wallet_headroom",
        "dsti",
        "industry_rank_revenue",
        "industry_position",
        "value_score_change_3m",
    )
)


def wallet_data() -> MonthData:
    """test_portfolio's marts with the value interface's new columns. Key accounts: ids[0] (S1, B1) a corporate
    industry leader where we are main bank, rising; ids[1] (S1, B1) a retail customer held 5 months with no bureau
    pull (everything unknown), new; ids[3] (S2, B2) a corporate where another bank leads, falling. ids[5] (S1)
    is not a key account but has a pull (it must not count)."""
    data = _data()
    c360 = data.frames["customer_360"]
    c360["display_name"] = c360["display_name"].replace({SCRIPT: "赵*"})  # markup in a name: test_portfolio's
    v = data.frames["customer_value"]
    ids = v["customer_id"].tolist()
    v["segment"] = v["value_segment"] = ["corporate", "retail", "retail", "corporate", "retail", "corporate"]
    v["months_held"] = [12, 5, 12, 12, 12, 12]
    v["contribution_annualised"] = [112.0, 268.8, 112.0, 112.0, 112.0, 112.0]
    v["bureau_query_date"] = [
        dt.date(2026, 10, 12),
        None,
        dt.date(2026, 9, 1),
        dt.date(2026, 8, 20),
        None,
        dt.date(2026, 10, 1),
    ]
    v["bureau_age_days"] = [19.0, np.nan, 60.0, 72.0, np.nan, 30.0]
    v["external_loan_balance"] = [400_000.0, np.nan, 0.0, 3_000_000.0, np.nan, 1_000_000.0]
    v["external_loan_count"] = [1.0, np.nan, 0.0, 3.0, np.nan, 2.0]
    v["total_debt"] = [1_000_000.0, np.nan, 1000.0, 3_750_000.0, np.nan, 1_001_000.0]
    v["wallet_share"] = [0.6, np.nan, 1.0, 0.2, np.nan, 0.001]
    v["main_bank"] = pd.array([True, NA, True, False, NA, False], dtype="boolean")
    v["wallet_headroom"] = [400_000.0, np.nan, 0.0, 2_500_000.0, np.nan, 900_000.0]
    v["debt_service_annual"] = [np.nan, np.nan, 1200.0, np.nan, np.nan, np.nan]
    v["dsti"] = [np.nan, np.nan, 0.12, np.nan, np.nan, np.nan]
    v["industry"] = ["C", None, None, "F", None, "C"]
    v["industry_region"] = ["上海市", None, None, "杭州市", None, "上海市"]
    v["industry_peers"] = [24.0, np.nan, np.nan, 10.0, np.nan, 24.0]
    v["revenue"] = [5.0e8, np.nan, np.nan, 2.0e7, np.nan, 1.0e8]
    v["total_assets"] = [8.0e8, np.nan, np.nan, 5.0e7, np.nan, 2.0e8]
    v["revenue_growth"] = [0.08, np.nan, np.nan, -0.05, np.nan, 0.0]
    v["industry_rank_revenue"] = [0.95, np.nan, np.nan, 0.3, np.nan, 0.92]
    v["industry_rank_assets"] = [0.9, np.nan, np.nan, 0.4, np.nan, 0.7]
    v["bench_revenue_ratio"] = [1.35, np.nan, np.nan, 0.62, np.nan, 1.1]
    v["bench_assets_ratio"] = [1.2, np.nan, np.nan, 0.7, np.nan, 1.0]
    v["industry_position"] = [82.0, np.nan, np.nan, 35.0, np.nan, 70.0]
    v["benchmark_version"] = ["b1", None, None, "b1", None, "b1"]
    v["contribution_change_3m"] = [0.125, np.nan, 0.0, -0.3, 0.0, 0.0]
    v["value_score_change_3m"] = [4.2, np.nan, 0.0, -6.5, 0.0, 0.0]
    v["value_trend"] = ["up", "new", "flat", "down", "flat", "flat"]
    months = [d.date() for d in pd.date_range(end=DAY, periods=12, freq="ME")]
    contrib = {
        ids[0]: [20.0, 15, -8, 10, 5, 12, 9, 11, 13, 8, 9, 8],
        ids[1]: [50.0, 60, 40, 55, 63],
        ids[3]: [9.0] * 12,
    }
    contrib[ids[2]] = [1.0] * 12  # not a key account: not read
    data.frames["customer_value_month"] = pd.DataFrame(
        [
            {"customer_id": c, "month": m, "contribution": x}
            for c, xs in contrib.items()
            for m, x in zip(months[-len(xs) :], xs, strict=True)
        ]
    )
    cards = data.frames["manager_scorecards"]
    for col in ("npl_share", "revisit_compliance", "csat_mean", "nps", "products_per_customer"):
        cards[col] = 0.5
    return data


def test_wallet_summary_counts_per_manager_and_for_all():
    v = wallet_data()["customer_value"]
    keys = v[v["key_account"]]
    one = wallet_summary(keys).iloc[0]
    assert (one["key_accounts"], one["main_bank"], one["main_bank_unknown"], one["no_bureau"]) == (3, 1, 1, 1)
    assert one["main_bank_share"] == pytest.approx(1 / 3)
    assert one["wallet_share_mean"] == pytest.approx(0.4)  # (0.6 + 0.2) / 2: the unknown one is left out
    assert one["headroom_total"] == 2_900_000.0 and one["leaders"] == 1  # ids[5] (0.92) is no key account
    assert (one["value_up"], one["value_down"]) == (1, 1)
    per = wallet_summary(keys, "manager_id").set_index("manager_id")
    assert per.loc["S1", "key_accounts"] == 2 and per.loc["S2", "main_bank"] == 0
    assert per.loc["S1", "wallet_share_mean"] == pytest.approx(0.6)
    # no key account: counts 0, shares unknown; a column a warehouse lacks reads as unknown
    empty = wallet_summary(keys.head(0)).iloc[0]
    assert empty["key_accounts"] == 0 and empty["headroom_total"] == 0.0 and np.isnan(empty["wallet_share_mean"])
    assert leader_percentile() == 0.9


def _ka(data: MonthData, locale: str = "zh_CN") -> str:
    return render_html("key_account", key_account_context(data, "S1") | {"generated_at": GENERATED}, locale)


def _branch(data: MonthData, branch: str = "B1", locale: str = "zh_CN") -> str:
    return render_html("branch", branch_context(data, branch) | {"generated_at": GENERATED}, locale)


def _no_missing_words(html: str) -> None:
    text = visible_text(html)
    assert not MISSING_WORDS.search(text), MISSING_WORDS.search(text).group(0)


def test_key_account_report_says_share_main_bank_position_and_trend_in_chinese():
    html = _ka(wallet_data())
    text = " ".join(visible_text(html).split())
    # tiles: main bank 1 of 2 key accounts (ids[1] unknown), mean share 60% (ids[1] unknown), headroom 40 万元
    assert 'data-figure="ka.wallet.main_bank" data-value="1"' in html
    assert 'data-figure="ka.wallet.share_mean" data-value="0.6"' in html
    assert 'data-figure="ka.wallet.headroom" data-value="400000.0"' in html
    assert "占重点客户 50.0% · 未知 1 户" in text and "无有效征信 1 户" in text and "其中行业领先客户 1 户" in text
    # the corporate leader's card
    assert "他行融资 40.00 万元（1 笔） · 我行占比 60.0% · 主办行：是" in text
    assert "总负债 100.00 万元 · 可争取 40.00 万元" in text
    assert "2026年10月12日 查询（19 天前）" in text
    assert "行业地位：制造业 · 上海市：营收分位 95%（同业 24 家）· 营收为行业中位数的 1.35 倍 · 地位分 82" in text
    assert "价值走势 ↑ 上升 · 价值分较 3 个月前 +4.2 · 近 3 个月贡献较前 3 个月 +12.5%" in text
    # the retail customer without a bureau pull, held 5 months: unknown said in words, the annualised figure
    assert "他行融资 未知 · 我行占比 未知 · 主办行：未知" in text
    assert "无征信" in text and "债务收入比：未知（年还款额 未知）" in text
    assert "合作 5 个月（不足 12 个月），年化贡献 268.80 元" in text
    assert "价值走势 新客户 · 价值分较 3 个月前 未知" in text
    # the summary table: unknown cells say so, with an empty data-value; industry columns of retail are "—"
    table = html[html.index("他行融资份额与行业地位") :]
    row = table[table.index('<tr data-row="00000001">') :]
    row = row[: row.index("</tr>")]
    assert 'data-figure="ka.accounts.wallet_share" data-value="">未知</td>' in row
    assert 'data-figure="ka.accounts.industry_rank_revenue" data-value="">—</td>' in row
    # one 12-slot bar chart per card, negative month drawn below the zero line
    assert html.count("<title>近 12 个月月度贡献</title>") == 1 and html.count("<title>近 5 个月月度贡献</title>") == 1
    assert "月度贡献（2025年11月 至 2026年10月）" in text
    _no_missing_words(html)
    assert identifier_words(html) == []


def test_branch_report_summarises_per_manager_and_lists_key_accounts_without_a_pull():
    html = _branch(wallet_data())
    text = " ".join(visible_text(html).split())
    assert "重点客户他行融资份额（按客户经理）" in text
    assert '<tr data-row="S1">' in html and '<tr data-row="total">' in html
    assert 'data-figure="br.wallet.main_bank_share" data-value="0.5"' in html
    assert 'data-figure="br.wallet.headroom" data-value="400000.0"' in html
    assert "无有效征信的重点客户（前 1 户，共 1 户）" in text
    assert "全支行" in text
    _no_missing_words(html)
    assert identifier_words(html) == []
    assert "Main bank of" in _branch(wallet_data(), locale="en")


@pytest.mark.parametrize("kind", ["key_account", "branch"])
def test_reports_render_from_a_warehouse_without_the_new_columns(kind):
    """The marts of before the value rework: every new figure unknown, in words, never nan."""
    data = wallet_data()
    data.frames["customer_value"] = _data()["customer_value"]
    data.frames.pop("customer_value_month")
    html = _ka(data) if kind == "key_account" else _branch(data)
    text = visible_text(html)
    assert "无征信" in text and "未知" in text
    _no_missing_words(html)
    assert identifier_words(html) == []


def test_contribution_bars_are_deterministic_and_right_aligned():
    a = bar_sparkline([1.0, -2.0, None, 3.0], title="近 4 个月")
    assert a == bar_sparkline([1.0, -2.0, None, 3.0], title="近 4 个月")
    assert a.count("<rect") == 3 and 'fill="#b4533a"' in a  # the negative month
    assert bar_sparkline([None, float("nan")]) == ""
    xs = [float(x) for x in re.findall(r'<rect x="([0-9.]+)"', a)]
    assert xs == sorted(xs) and xs[-1] > 140  # the latest month on the right of 12 places


# ------------------------------------------------------------------------------ figures against the marts
@pytest.fixture
def warehouse(tmp_path):
    """A DuckDB warehouse holding wallet_data()'s marts as the pipeline writes them (replace_partition)."""
    data = wallet_data()
    engine = wh.make_engine(f"duckdb:///{tmp_path / 'w.duckdb'}")
    part = {"month_end": DAY}
    with wh.begin(engine) as conn:
        for name in ("customer_value", "customer_360", "manager_scorecards", "customer_value_month"):
            replace_partition(conn, name, data.frames[name].assign(month_end=DAY), part)
    yield engine
    engine.dispose()


def _reconciled(engine, html: str, kind: str) -> list:
    """The new figures of a rendered report recomputed on ``engine`` (the others read marts this warehouse
    lacks; tests/test_report_readers.py recomputes them all on the demo bank)."""
    doc = read_html(html)
    doc = dataclasses.replace(doc, figures=[f for f in doc.figures if f.figure.startswith(NEW_FIGURES)])
    with wh.begin(engine) as conn:
        return reconcile(conn, doc, report=kind)


@pytest.mark.parametrize("kind", ["key_account", "branch"])
def test_new_figures_reconcile_with_the_marts_and_a_wrong_one_is_found(warehouse, kind):
    with wh.begin(warehouse) as conn:
        data = load_month(conn, DAY, staff=wallet_data()["staff"])
    assert len(data["customer_value_month"]) == 12 + 5 + 12  # the key accounts' months (S1 and S2), no other
    html = _ka(data) if kind == "key_account" else _branch(data)
    results = _reconciled(warehouse, html, kind)
    used = {r.figure for r in results}
    mine = {f for f, fig in figure_map().items() if fig.report == kind and f.startswith(NEW_FIGURES)}
    assert used == mine, sorted(mine - used)  # every new figure of the kind is on the page
    assert all(r.ok for r in results), [
        (r.figure, r.row, r.report_value, r.warehouse_value, r.problem) for r in results if not r.ok
    ]
    # a figure that is wrong in the report is found, with both values
    fid = "ka.wallet.headroom" if kind == "key_account" else "br.wallet.headroom"
    wrong = re.sub(rf'(data-figure="{re.escape(fid)}" data-value=")400000\.0"', r'\g<1>410000.0"', html, count=1)
    assert wrong != html
    bad = [r for r in _reconciled(warehouse, wrong, kind) if not r.ok]
    assert [(r.figure, r.problem, r.report_value, r.warehouse_value) for r in bad] == [
        (fid, "differs", 410000.0, 400000.0)
    ]


@pytest.mark.parametrize("kind", ["key_account", "branch"])
def test_pdf_renders_offline_without_half_empty_pages(kind, tmp_path):
    html = _ka(wallet_data()) if kind == "key_account" else _branch(wallet_data())
    pdf = render_pdf_document(html)  # the URL fetcher refuses anything but local files: offline by construction
    path = tmp_path / f"{kind}.pdf"
    path.write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "主办行" in text and not MISSING_WORDS.search(text)
    assert pdf.pages <= 2


def test_the_marts_industry_wins_and_the_profiles_fills_in():
    """customer_value's industry (the benchmark's) and customer_360's (the profile's) are one column: the mart's
    where it has one, else the profile's; never industry_x / industry_y."""
    from crm.reports.data import _customers

    data = wallet_data()
    data.frames["customer_360"]["industry"] = ["A", None, None, "F", None, "G"]
    data.frames["customer_value"].loc[5, "industry"] = None
    out = _customers(data).set_index("customer_id")["industry"].tolist()
    assert out == ["C", None, None, "F", None, "G"]
    assert not any(c.endswith(("_x", "_y", "_360")) for c in _customers(data).columns)
