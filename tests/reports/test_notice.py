"""Incomplete data is visible: which extracts and business dates of a period have a current blocking failure
or a rejected file nobody restated (on DuckDB and PostgreSQL), and every report kind shows it first thing on
its cover, in Chinese and in English, in the HTML and in the PDF; a clean period shows none."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest
import sqlalchemy as sa

from crm import warehouse as wh
from crm.contract import BY_NAME
from crm.reports.completeness import incomplete_data
from crm.reports.data import branch_context, key_account_context, satisfaction_context, watch_digest_context
from crm.reports.fmt import Formatter
from crm.reports.leakscan import pdf_bytes_text
from crm.reports.plan import complete, digest_plan, dq_plan, portfolio_plan, quarterly_plan
from crm.reports.recipients import recipients
from crm.reports.render import render_html, render_pdf_document
from tests.reports.test_portfolio import _branches, _data, _staff

T0, T1 = dt.datetime(2026, 10, 8, 9, 0), dt.datetime(2026, 10, 8, 10, 0)
D = {n: dt.date(2026, 10, n) for n in range(1, 32)}
GENERATED = dt.datetime(2026, 11, 1, 10)


def _gates(conn, rows) -> None:
    conn.execute(
        sa.insert(wh.dq_partition_gates),
        [
            {
                "run_id": "r",
                "extract": e,
                "partition_key": d.isoformat(),
                "business_date": d,
                "parsed": 50,
                "quarantined": 5 if blocked else 0,
                "share_threshold": 0.02,
                "rows_threshold": 1,
                "blocked": blocked,
                "reason": reason,
                "recorded_at": at,
            }
            for e, d, blocked, reason, at in rows
        ],
    )


def _ingest(conn, rows) -> None:
    wh.append_frame(
        conn,
        wh.ingest_files,
        pd.DataFrame(
            [
                {
                    "file_name": f,
                    "extract": e,
                    "business_date": d,
                    "sequence": s,
                    "status": st,
                    "reason": r,
                    "recorded_at": at,
                }
                for f, e, d, s, st, r, at in rows
            ]
        ),
    )


def test_current_blocking_failures_and_unreplaced_rejections(warehouse):
    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        _gates(
            conn,
            [
                ("staff", D[5], True, "quarantine_over_threshold", T1),  # blocked: listed
                ("customers", D[6], True, "quarantine_over_threshold", T0),  # blocked, then a later run passed
                ("customers", D[6], False, None, T1),
                ("loans", D[7], False, None, T0),  # passed, then a later run found rows unaccounted: listed
                ("loans", D[7], True, "rows_unaccounted", T1),
                ("deposits", D[8], False, None, T1),  # the same instant: the blocked verdict wins
                ("deposits", D[8], True, None, T1),
                ("branches", dt.date(2026, 11, 1), True, "quarantine_over_threshold", T1),  # another period
            ],
        )
        _ingest(
            conn,
            [
                ("CUST_INDV_20261002_001.dat", "customers", D[2], 1, "rejected", "control_total", T0),  # restated:
                ("CUST_INDV_20261002_002.dat", "customers", D[2], 2, "accepted", None, T1),  # not listed
                ("LOAN_20261003_001.dat", "loans", D[3], 1, "rejected", "truncated", T0),  # seen twice, never
                ("LOAN_20261003_001.dat", "loans", D[3], 1, "rejected", "truncated", T1),  # restated: listed
                ("DEPOSIT_20261004_001.dat", "deposits", D[4], 1, "accepted", None, T0),  # a restatement that
                ("DEPOSIT_20261004_002.dat", "deposits", D[4], 2, "rejected", "encoding", T1),  # was rejected
                ("STAFF_20261009_001.dat", "staff", D[9], 1, "accepted", None, T1),
            ],
        )
        got = incomplete_data(conn, D[1], D[31])
        assert incomplete_data(conn, dt.date(2026, 9, 1), dt.date(2026, 9, 30)) == []
    assert [(g["extract"], g["business_date"], g["cause"], g["detail"]) for g in got] == [
        ("loans", D[3], "rejected", "truncated"),
        ("deposits", D[4], "rejected", "encoding"),
        ("staff", D[5], "quarantine_over_threshold", ""),
        ("loans", D[7], "rows_unaccounted", ""),
        ("deposits", D[8], "blocked", ""),
    ]
    assert {g["extract"]: g["title"] for g in got} == {e: BY_NAME[e].title for e in ("loans", "deposits", "staff")}


def test_the_notice_of_a_month_a_quarter_and_a_week(warehouse):
    from crm.reports.completeness import period_notice

    with wh.begin(warehouse.engine, warehouse.schema) as conn:
        _gates(
            conn,
            [
                ("staff", dt.date(2026, 7, 31), True, "quarantine_over_threshold", T1),  # first month of Q3
                ("loans", D[5], True, "quarantine_over_threshold", T1),  # Monday 2026-10-05
                ("deposits", D[12], True, "quarantine_over_threshold", T1),  # the next Monday
            ],
        )
        month = period_notice(conn, "month", D[31])
        quarter = period_notice(conn, "quarter", dt.date(2026, 9, 30))
        week = period_notice(conn, "week", D[11])  # Sunday: the week 2026-10-05..11
        with pytest.raises(ValueError):
            period_notice(conn, "year", D[31])
    assert [(n["extract"], n["business_date"]) for n in month] == [("loans", D[5]), ("deposits", D[12])]
    assert [(n["extract"], n["business_date"]) for n in quarter] == [("staff", dt.date(2026, 7, 31))]
    assert [(n["extract"], n["business_date"]) for n in week] == [("loans", D[5])]


def test_the_notice_log_line_names_extract_date_and_cause_only():
    from crm.reports.completeness import notice_log_line

    assert notice_log_line([]) is None
    line = notice_log_line(NOTICE)
    assert line == (
        "incomplete data this period, shown on every report's cover: "
        "staff 2026-10-31 quarantine_over_threshold; loans 2026-10-30 rejected"
    )
    assert notice_log_line(NOTICE * 15).count(";") == 19  # the first 20 entries


NOTICE = [
    {
        "extract": "staff",
        "title": BY_NAME["staff"].title,
        "business_date": D[31],
        "cause": "quarantine_over_threshold",
        "detail": "",
    },
    {
        "extract": "loans",
        "title": BY_NAME["loans"].title,
        "business_date": D[30],
        "cause": "rejected",
        "detail": "control_total",
    },
]
WORDS = {
    "zh_CN": ["数据不完整提示", "隔离记录超过阈值", "文件被整体拒收（控制总数不符），尚未重报"],
    "en": [
        "Incomplete data",
        "quarantined rows over the threshold",
        "file rejected (control totals disagree), not restated",
    ],
}


def _contexts(empty_dq_context) -> dict[str, tuple[str, dict]]:
    """One context of every report kind (report kind -> (template name, context)), hand-made marts."""
    data = _data()
    cards = data.frames["manager_scorecards"]
    for col in ("npl_share", "revisit_compliance", "csat_mean", "nps", "products_per_customer"):
        cards[col] = 0.5  # the scorecard columns the branch report prints
    watch = pd.DataFrame(
        {
            "customer_id": ["k1." + "0" * 31 + "2"],
            "manager_id": ["S1"],
            "severity": ["high"],
            "rule_ids": ["EW01"],
            "evidence": ["e"],
            "rank_in_manager": [1],
        }
    )
    return {
        "key_account": ("key_account", key_account_context(data, "S1")),
        "branch": ("branch", branch_context(data, "B1")),
        "satisfaction": ("satisfaction", satisfaction_context(data, branch_id="B1")),
        "satisfaction_quarter": ("satisfaction", satisfaction_context(data, months=3)),
        "watch_digest": (
            "watch_digest",
            watch_digest_context(
                watch.assign(loan_balance=1000.0, tier="key"),
                "S1",
                dt.date(2026, 11, 1),
                pd.DataFrame({"customer_id": watch["customer_id"], "display_name": ["王*"]}),
                "张*",
            ),
        ),
        "dq_report": ("dq_report", dict(empty_dq_context)),
    }


def _cover(html: str) -> str:
    return html[html.index('<header class="cover">') : html.index("</header>")]


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_report_kind_shows_the_notice_first_on_its_cover(empty_dq_context, locale):
    fmt = Formatter(locale)
    for kind, (template, ctx) in _contexts(empty_dq_context).items():
        html = render_html(template, {**ctx, "generated_at": GENERATED, "incomplete": NOTICE}, locale)
        cover = _cover(html)
        assert cover.index('class="incomplete-notice"') < cover.index('class="brand"'), kind  # first thing
        for w in WORDS[locale]:
            assert w in cover, (kind, w)
        staff = {"zh_CN": f"员工信息（staff）· {fmt.date(D[31])}", "en": f"Staff (staff) · {fmt.date(D[31])}"}[locale]
        assert staff in cover, kind
        loans = {"zh_CN": BY_NAME["loans"].title, "en": "Loans (loans)"}[locale]
        assert loans in cover and fmt.date(D[30]) in cover, kind
        clean = render_html(template, {**ctx, "generated_at": GENERATED, "incomplete": []}, locale)
        assert 'class="incomplete-notice"' not in clean and WORDS[locale][0] not in _cover(clean), kind


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_notice_is_on_the_first_page_of_every_pdf_and_absent_when_clean(empty_dq_context):
    fmt = Formatter("zh_CN")
    for kind, (template, ctx) in _contexts(empty_dq_context).items():
        pdf = render_pdf_document(render_html(template, {**ctx, "generated_at": GENERATED, "incomplete": NOTICE}))
        first = _squash(pdf_bytes_text(pdf.data).split("\f")[0])
        for w in (
            "数据不完整提示",
            BY_NAME["staff"].title,
            fmt.date(D[31]),
            "隔离记录超过阈值",
            BY_NAME["loans"].title,
        ):
            assert _squash(w) in first, (kind, w)
    clean = render_pdf_document(
        render_html(
            "key_account",
            {**_contexts(empty_dq_context)["key_account"][1], "generated_at": GENERATED, "incomplete": []},
        )
    )
    assert "数据不完整提示" not in _squash(pdf_bytes_text(clean.data))


def test_every_plan_gives_every_rendering_the_notice(tmp_path, empty_dq_context):
    data, rec = _data(), recipients(_staff(), _branches()).assign(undeliverable=None, usable=True)
    watch = pd.DataFrame(columns=["customer_id", "manager_id", "severity", "rule_ids", "evidence", "rank_in_manager"])
    names = pd.DataFrame(columns=["customer_id", "display_name"])
    plans = [
        complete(
            portfolio_plan(data, rec, tmp_path, "zh_CN", GENERATED),
            rec,
            NOTICE,
            period="2026-10",
            reports={"key_account": "key_account", "branch": "branch", "satisfaction": "satisfaction"},
        ),
        complete(
            quarterly_plan(data, rec, tmp_path, "zh_CN", GENERATED),
            rec,
            NOTICE,
            period="2026-Q4",
            reports={"satisfaction": "satisfaction_quarter"},
        ),
        complete(
            digest_plan(watch, names, _staff(), rec, dt.date(2026, 11, 1), tmp_path, "zh_CN", GENERATED),
            rec,
            NOTICE,
            period="2026-W44",
            reports={"watch_digest": "watch_digest"},
        ),
        complete(
            dq_plan({**empty_dq_context, "generated_at": GENERATED}, rec, tmp_path, "zh_CN", 1),
            rec,
            NOTICE,
            period="2026-10",
            reports={"data_quality": "data_quality"},
        ),
    ]
    jobs = [p.job for plan in plans for p in plan if p.job is not None]
    assert {j.report for j in jobs} >= {"key_account", "branch", "satisfaction", "dq_report"}
    assert all(j.context["incomplete"] == NOTICE for j in jobs)
