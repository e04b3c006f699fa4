"""Satisfaction analytics on hand-made frames with hand-computed expectations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crm.satisfaction.analytics import (
    complaint_themes,
    key_drivers,
    load_config,
    satisfaction_by,
    sla,
    sla_vs_satisfaction,
    trend,
)

RATINGS = [
    "rating_responsiveness",
    "rating_professionalism",
    "rating_product",
    "rating_pricing",
    "rating_digital",
]


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def surveys(csat, nps, group="A", sent="2026-03-05", responded=None, **extra) -> pd.DataFrame:
    n = len(csat)
    responded = [True] * n if responded is None else responded
    df = pd.DataFrame(
        {
            "survey_id": [f"SV{i}" for i in range(n)],
            "customer_id": [f"C{i}" for i in range(n)],
            "staff_id": "S1",
            "channel": "SMS",
            "trigger": "SR",
            "related_id": None,
            "product_family": "LOAN",
            "grp": group,
            "sent_date": pd.to_datetime(sent),
            "response_date": [pd.Timestamp(sent) if r else pd.NaT for r in responded],
            "csat": pd.array([c if r else None for c, r in zip(csat, responded, strict=True)], dtype="Int64"),
            "nps": pd.array([c if r else None for c, r in zip(nps, responded, strict=True)], dtype="Int64"),
            "comment": None,
        }
    )
    for k, v in extra.items():
        df[k] = v
    return df


def test_config_has_version_and_priorities(cfg):
    assert cfg["version"]
    assert set(cfg["sla"]) == {"P1", "P2", "P3", "P4"}
    assert cfg["stats"]["min_responses"] == 5


def test_nps_boundaries_6_7_9(cfg):
    # 6 = detractor, 7 and 8 = passive, 9 and 10 = promoter
    df = surveys([5, 4, 3, 2, 1, 4], [6, 7, 8, 9, 10, 9])
    row = satisfaction_by(df, [], cfg).iloc[0]
    assert row["promoter_share"] == pytest.approx(3 / 6)
    assert row["detractor_share"] == pytest.approx(1 / 6)
    assert row["nps"] == pytest.approx(100 * (3 - 1) / 6)
    # Wald: var = (pP + pD - (pP - pD)^2) / n
    pp, pd_ = 0.5, 1 / 6
    se = math.sqrt((pp + pd_ - (pp - pd_) ** 2) / 6)
    assert row["nps_ci_low"] == pytest.approx(100 * (pp - pd_) - 1.959964 * 100 * se, abs=1e-3)
    assert row["nps_ci_high"] == pytest.approx(min(100.0, 100 * (pp - pd_) + 1.959964 * 100 * se), abs=1e-3)
    all_seven = satisfaction_by(surveys([3] * 5, [7] * 5), [], cfg).iloc[0]
    assert all_seven["nps"] == 0
    all_six = satisfaction_by(surveys([3] * 5, [6] * 5), [], cfg).iloc[0]
    assert all_six["nps"] == -100


def test_csat_mean_t_interval_and_top2(cfg):
    df = surveys([5, 4, 3, 2, 1], [9] * 5)
    row = satisfaction_by(df, [], cfg).iloc[0]
    assert row["csat_mean"] == 3
    assert row["csat_top2_share"] == pytest.approx(0.4)
    sd = math.sqrt(2.5)
    half = 2.776445 * sd / math.sqrt(5)  # t_{0.975, 4}
    assert row["csat_ci_low"] == pytest.approx(3 - half, abs=1e-4)
    assert row["csat_ci_high"] == pytest.approx(3 + half, abs=1e-4)


def test_suppression_at_min_responses(cfg):
    # group A: 4 responses (= min-1) out of 6 sent -> suppressed; group B: 5 responses -> reported
    a = surveys([5, 5, 5, 5, 5, 5], [9] * 6, group="A", responded=[True] * 4 + [False] * 2)
    b = surveys([4] * 5, [10] * 5, group="B")
    out = satisfaction_by(pd.concat([a, b], ignore_index=True), ["grp"], cfg).set_index("grp")
    assert bool(out.loc["A", "suppressed"]) and not bool(out.loc["B", "suppressed"])
    assert out.loc["A", "sent"] == 6 and out.loc["A", "responses"] == 4
    assert out.loc["A", "response_rate"] == pytest.approx(4 / 6)
    assert np.isnan(out.loc["A", "csat_mean"]) and np.isnan(out.loc["A", "nps"])
    assert out.loc["B", "csat_mean"] == 4 and out.loc["B", "nps"] == 100


def test_trend_change_vs_previous_month(cfg):
    jan = surveys([4] * 5, [9] * 5, sent="2026-01-15")
    feb = surveys([2] * 5, [6] * 5, sent="2026-02-03")
    apr = surveys([3] * 5, [8] * 5, sent="2026-04-20")
    out = trend(pd.concat([jan, feb, apr], ignore_index=True), ["grp"], "M", cfg)
    assert [str(p) for p in out["period"]] == ["2026-01", "2026-02", "2026-04"]
    assert np.isnan(out.loc[0, "csat_mean_change"])
    assert out.loc[1, "csat_mean_change"] == -2
    assert out.loc[1, "nps_change"] == -200
    assert np.isnan(out.loc[2, "nps_change"])  # March missing: no previous month


def test_key_drivers_one_rating_determines_csat(cfg):
    rng = np.random.default_rng(7)
    n = 200
    df = surveys(list(np.ones(n, dtype=int)), [9] * n)
    for c in RATINGS:
        df[c] = rng.integers(1, 6, n)
    df["csat"] = df["rating_product"]
    out = key_drivers(df, cfg)
    assert out.loc[0, "attribute"] == "rating_product"
    assert out.loc[0, "beta_std"] == pytest.approx(1.0)
    assert out.loc[0, "pearson_r"] == pytest.approx(1.0)
    assert out.loc[0, "rank"] == 1 and (out["n"] == n).all()
    assert (out.loc[1:, "beta_std"].abs() < 1e-9).all()


def test_themes_hit_miss_and_complaints(cfg):
    df = surveys([1, 5, 3, 4, 4], [3, 10, 8, 6, 9])
    df["comment"] = [
        "电话一直打不通，问题拖了很久才解决。",  # waiting, complaint (csat 1)
        "手机银行操作方便。",  # digital, not a complaint
        "服务态度好，但流程繁琐。",  # praise: 态度 alone does not hit attitude
        "希望利率再优惠一些，app 老闪退",  # pricing + digital (case-insensitive APP), complaint (nps 6)
        None,
    ]
    res = complaint_themes(df, cfg)
    f = res.flags
    assert f["waiting"].tolist() == [True, False, False, False, False]
    assert f["attitude"].tolist() == [False] * 5
    assert f["digital"].tolist() == [False, True, False, True, False]
    assert f["pricing"].tolist() == [False, False, False, True, False]
    assert f["is_complaint"].tolist() == [True, False, False, True, False]
    assert f["has_comment"].tolist() == [True, True, True, True, False]
    c = res.counts
    assert c.loc["digital", "comments"] == 2 and c.loc["digital", "complaints"] == 1
    assert c.loc["digital", "comment_share"] == pytest.approx(2 / 4)
    assert c.loc["waiting", "complaint_share"] == pytest.approx(1 / 2)
    assert c.loc["digital", "label"] == "手机银行/APP"
    # any text series
    s = complaint_themes(pd.Series(["客户经理态度差，希望更换。", "很好"]), cfg)
    assert s.flags["attitude"].tolist() == [True, False]
    assert s.flags["staff_change"].tolist() == [True, False]
    assert not s.flags["is_complaint"].any()


def _requests() -> pd.DataFrame:
    t0 = pd.Timestamp("2026-03-02 09:00:00")
    m = pd.Timedelta(minutes=1)
    return pd.DataFrame(
        {
            "request_id": ["R1", "R2", "R3", "R4", "R4"],
            "customer_id": "C1",
            "opened_time": [t0] * 5,
            "channel": "PHONE",
            "category": "CMPL",
            "priority": ["P1", "P1", "P2", "P3", "P3"],
            "assigned_staff_id": ["S1", "S1", "S2", "S2", "S2"],
            # R1 exactly at 60 / 1440; R2 one minute over both; R3 never responded; R4 re-sent
            "first_response_time": [t0 + 60 * m, t0 + 61 * m, pd.NaT, pd.NaT, t0 + 10 * m],
            "resolved_time": [t0 + 1440 * m, t0 + 1441 * m, pd.NaT, pd.NaT, t0 + 20 * m],
            "status": ["RSLV", "CLSD", "OPEN", "OPEN", "RSLV"],
            "description": None,
        }
    )


def test_sla_limit_exact_vs_one_minute_over(cfg):
    t0 = pd.Timestamp("2026-03-02 09:00:00")
    # R3 (P2: 240 min response): at exactly 240 min not yet breached, at 241 breached
    at = sla(_requests(), cfg, t0 + pd.Timedelta(minutes=240)).detail.set_index("request_id")
    over = sla(_requests(), cfg, t0 + pd.Timedelta(minutes=241)).detail.set_index("request_id")
    assert not at.loc["R3", "response_breach"] and over.loc["R3", "response_breach"]
    assert not over.loc["R2", "resolved"]  # resolved after as_of: not yet resolved then
    res = sla(_requests(), cfg, t0 + pd.Timedelta(minutes=4000))
    d = res.detail.set_index("request_id")
    assert len(d) == 4  # R4 de-duplicated to its latest (resolved) record
    assert d.loc["R1", "response_minutes"] == 60 and not d.loc["R1", "response_breach"]
    assert d.loc["R1", "resolution_minutes"] == 1440 and not d.loc["R1", "resolution_breach"]
    assert d.loc["R2", "response_breach"] and d.loc["R2", "resolution_breach"]
    assert d.loc["R3", "response_breach"] and not d.loc["R3", "resolution_breach"]
    assert not d.loc["R3", "open_overdue"]
    assert d.loc["R4", "status"] == "RSLV" and not d.loc["R4", "any_breach"]
    # past R3's P2 resolution limit (4320 min): open and overdue
    late = sla(_requests(), cfg, t0 + pd.Timedelta(minutes=4321))
    dl = late.detail.set_index("request_id")
    assert dl.loc["R3", "open_overdue"] and dl.loc["R3", "resolution_breach"]
    bp = late.by_priority.set_index("priority")
    assert bp.loc["P1", "requests"] == 2 and bp.loc["P1", "response_breaches"] == 1
    assert bp.loc["P1", "response_breach_rate"] == pytest.approx(0.5)
    bs = late.by_staff.set_index("assigned_staff_id")
    assert bs.loc["S2", "open_overdue"] == 1 and bs.loc["S2", "requests"] == 2


def test_sla_vs_satisfaction(cfg):
    t0 = pd.Timestamp("2026-03-02 09:00:00")
    res = sla(_requests(), cfg, t0 + pd.Timedelta(days=30))
    sv = surveys([5, 4, 2, 1, 5], [10, 9, 6, 3, 10])
    sv["related_id"] = ["R1", "R4", "R2", "R3", "X9"]  # X9 matches no request
    sv.loc[4, "trigger"] = "VISIT"
    out = sla_vs_satisfaction(sv, res, cfg)
    assert out.loc["csat_mean", "met_n"] == 2 and out.loc["csat_mean", "breach_n"] == 2
    assert out.loc["csat_mean", "met_value"] == 4.5 and out.loc["csat_mean", "breach_value"] == 1.5
    assert out.loc["csat_mean", "difference"] == -3
    assert out.loc["nps", "met_value"] == 100 and out.loc["nps", "breach_value"] == -100
    assert out.loc["nps_mean", "difference"] == pytest.approx(4.5 - 9.5)
