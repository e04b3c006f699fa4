"""The satisfaction marts of a month end on hand-made frames: which surveys count for the month and for a
closing quarter, the branch and tier each is reported under, and the layout of the tables."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crm.satisfaction.analytics import load_config, satisfaction_by
from crm.satisfaction.marts import (
    DIMENSIONS,
    TABLES,
    month_surveys,
    satisfaction_month,
    satisfaction_tables,
    with_branch_and_tier,
)
from tests.satisfaction.test_analytics import RATINGS, _requests

SERVICE_TABLES = ["service_sla_tier", "service_sla_breaches", "service_sla_staff", "service_sla_accounts"]
MARCH, APRIL = dt.date(2026, 3, 31), dt.date(2026, 4, 30)


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def _surveys(n: int = 60) -> pd.DataFrame:
    """``n`` answered surveys: a third sent in each of January, February and March 2026, two staff members,
    two customers of each tier."""
    rng = np.random.default_rng(3)
    sent = pd.to_datetime(np.repeat(["2026-01-10", "2026-02-10", "2026-03-10"], n // 3))
    df = pd.DataFrame(
        {
            "survey_id": [f"SV{i:03d}" for i in range(n)],
            "customer_id": [f"C{i % 4}" for i in range(n)],
            "staff_id": ["S1", "S2"] * (n // 2),
            "channel": "SMS",
            "trigger": "VISIT",
            "related_id": None,
            "product_family": "LOAN",
            "sent_date": sent,
            "response_date": sent,
            "csat": pd.array(rng.integers(1, 6, n), dtype="Int64"),
            "nps": pd.array(rng.integers(0, 11, n), dtype="Int64"),
            "comment": ["电话一直打不通", None, "手机银行操作方便", None] * (n // 4),
        }
    )
    for c in RATINGS:
        df[c] = rng.integers(1, 6, n)
    return df


STAFF = pd.DataFrame({"staff_id": ["S1", "S1", "S2"], "branch_id": ["B1", "B1", "B2"], "name": ["a", "b", "c"]})
VALUE = pd.DataFrame(
    {"customer_id": ["C0", "C1", "C2", "C3", "C0"], "tier": ["key", "growth", "key", "standard", "watch"]}
)


def test_the_month_surveys_are_those_sent_since_its_first_day():
    df = _surveys()
    assert len(month_surveys(df, MARCH)) == 20
    assert month_surveys(df, MARCH)["sent_date"].min() == pd.Timestamp("2026-03-10")
    assert month_surveys(df, APRIL).empty


def test_each_survey_gets_its_staff_branch_and_customer_tier_once():
    df = _surveys()
    out = with_branch_and_tier(df, STAFF, VALUE)
    assert len(out) == len(df) and out["survey_id"].tolist() == df["survey_id"].tolist()
    assert out.set_index("survey_id").loc["SV001", "branch_id"] == "B2"
    assert dict(zip(out["customer_id"], out["tier"], strict=True)) == {
        "C0": "key",
        "C1": "growth",
        "C2": "key",
        "C3": "standard",
    }
    assert "name" not in out.columns  # only the branch of the staff member


def test_the_table_layout_overall_and_by_every_dimension(cfg):
    df = with_branch_and_tier(_surveys(), STAFF, VALUE)
    by_dim, drivers, themes, verbatims = satisfaction_tables(df, cfg)
    assert by_dim["dimension"].iloc[0] == "all" and by_dim["value"].iloc[0] == "all"
    assert list(dict.fromkeys(by_dim["dimension"])) == ["all", *DIMENSIONS]
    assert set(by_dim.loc[by_dim["dimension"] == "branch_id", "value"]) == {"B1", "B2"}
    overall = satisfaction_by(df, [], cfg).iloc[0]
    assert by_dim.iloc[0]["csat_mean"] == pytest.approx(overall["csat_mean"])
    assert set(drivers["attribute"]) == set(RATINGS)
    assert "theme" in themes.columns and set(themes["theme"]) == set(cfg["themes"])
    assert set(verbatims["survey_id"]) <= set(df["survey_id"])


def test_a_month_that_closes_a_quarter_also_has_the_quarter_tables(cfg):
    df = _surveys()
    march = satisfaction_month(df, _requests(), STAFF, VALUE, cfg, MARCH)
    assert list(march.tables) == [
        *TABLES,
        "service_sla",
        "sla_vs_satisfaction",
        *SERVICE_TABLES,
        *(f"{t}_quarter" for t in TABLES),
    ]
    assert list(march.figures) == [
        "quarter_responses",
        "surveys_sent",
        "responses",
        "csat_mean",
        "nps",
        "top_driver",
        "service_requests",
        "service_breaches_month",
    ]
    assert march.figures["quarter_responses"] == 60
    assert march.figures["surveys_sent"] == 20 and march.figures["service_requests"] == 4
    month_all = march.tables["satisfaction_by_dimension"].iloc[0]
    quarter_all = march.tables["satisfaction_by_dimension_quarter"].iloc[0]
    assert month_all["sent"] == 20 and quarter_all["sent"] == 60
    assert march.figures["csat_mean"] == round(float(month_all["csat_mean"]), 3)
    assert march.figures["top_driver"] == march.tables["satisfaction_drivers"]["attribute"].iloc[0]

    february = satisfaction_month(
        df[df["sent_date"] < "2026-03-01"], _requests(), STAFF, VALUE, cfg, dt.date(2026, 2, 28)
    )
    assert list(february.tables) == [*TABLES, "service_sla", "sla_vs_satisfaction", *SERVICE_TABLES]
    assert "quarter_responses" not in february.figures and february.figures["surveys_sent"] == 20
