"""Population stability index: hand-computed examples, the empty-bin epsilon, missing values, bands, and
characteristic stability with a scorecard's own bins."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crm.scoring.psi import EPSILON, psi, psi_by_feature, psi_status, psi_table
from crm.scoring.scorecard import ScorecardConfig, fit_scorecard


def test_hand_computed_two_bins():
    expected = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    actual = [1, 1, 1, 2, 3, 4, 6, 7, 9, 10]
    # edges [0, 5, 10]: bins [0, 5) and [5, 10]
    # expected: 1..4 -> 4/10 = 0.4 in bin 1, 5..10 -> 6/10 = 0.6 in bin 2
    # actual:   1,1,1,2,3,4 -> 0.6 in bin 1, 6,7,9,10 -> 0.4 in bin 2
    # PSI = (0.6 - 0.4) ln(0.6 / 0.4) + (0.4 - 0.6) ln(0.4 / 0.6) = 0.4 ln 1.5 = 0.4 x 0.405465 = 0.162186
    value = psi(expected, actual, bins=[0, 5, 10])
    assert value == pytest.approx(0.4 * math.log(1.5))
    assert value == pytest.approx(0.162186, abs=1e-6)
    assert psi_status(value) == "warn"
    t = psi_table(expected, actual, bins=[0, 5, 10])
    assert t["expected_count"].tolist() == [4, 6] and t["actual_count"].tolist() == [6, 4]
    assert t["psi"].sum() == pytest.approx(value)


def test_quantile_bins_and_epsilon():
    expected = np.arange(100)  # quartile cuts 24.75, 49.5, 74.25: 25 rows per bin, 0.25 each
    assert psi(expected, expected, bins=4) == 0.0
    actual = np.concatenate([np.arange(50), np.arange(50)])  # 50 + 50 rows in the two lower bins, none above
    # PSI = 2 x (0.5 - 0.25) ln(0.5 / 0.25)  +  2 x (0.0001 - 0.25) ln(0.0001 / 0.25)
    #     = 0.5 x 0.693147                   +  2 x (-0.2499) x (-7.824046)
    #     = 0.346574 + 3.910459 = 4.257033
    t = psi_table(expected, actual, bins=4)
    assert t["upper"].iloc[:3].tolist() == [24.75, 49.5, 74.25]
    assert psi(expected, actual, bins=4) == pytest.approx(4.257033, abs=1e-5)
    assert psi(expected, actual, bins=4) == pytest.approx(
        2 * 0.25 * math.log(2) + 2 * (EPSILON - 0.25) * math.log(EPSILON / 0.25)
    )
    assert psi_status(psi(expected, actual, bins=4)) == "act"


def test_disjoint_samples_stay_finite():
    # expected all in bin 1, actual all in bin 2: (1e-4 - 1) ln(1e-4) + (1 - 1e-4) ln(1 / 1e-4) = 2 x 0.9999 x 9.210340
    value = psi([1, 2, 3, 4], [6, 7, 8, 9], bins=[0, 5, 10])
    assert value == pytest.approx(2 * 0.9999 * math.log(1e4)) and value == pytest.approx(18.41884, abs=1e-4)


def test_missing_values_get_their_own_bin_and_outer_bins_are_open():
    # edges [0, 1.5, 3]; expected: 1 | 2 | NaN NaN -> 0.25, 0.25, 0.5; actual: 1 | - | NaN NaN NaN -> 0.25, 0, 0.75
    # PSI = 0 + (0.0001 - 0.25) ln(0.0001 / 0.25) + (0.75 - 0.5) ln(0.75 / 0.5) = 1.955229 + 0.101366 = 2.056595
    t = psi_table([1, 2, np.nan, np.nan], [1, np.nan, np.nan, np.nan], bins=[0, 1.5, 3])
    assert t["bin"].iloc[-1] == "Missing" and t["actual_count"].tolist() == [1, 0, 3]
    assert t["psi"].sum() == pytest.approx(2.056595, abs=1e-6)
    # values outside the edges fall in the outer bins
    t = psi_table([-5, 1, 2, 99], [0, 0, 0, 0], bins=[0, 1.5, 3])
    assert t["expected_count"].tolist() == [2, 2]


def test_status_bands():
    assert [psi_status(v) for v in (0.0, 0.0999, 0.10, 0.2499, 0.25, 3.0)] == ["ok", "ok", "warn", "warn", "act", "act"]
    with pytest.raises(ValueError):
        psi_status(float("nan"))
    with pytest.raises(ValueError):
        psi([1, 2], [1, 2], bins=[3, 1])


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    util = np.clip(rng.beta(2, 3, n) * 1.3 + shift, 0, None)
    age = rng.integers(19, 76, n)
    region = rng.choice(["north", "south", "east", "west"], n)
    logit = (
        -2.0
        + 2.5 * (util - shift)
        - 0.03 * (age - 40)
        + pd.Series(region).map({"north": 0.5, "south": -0.5, "east": 0.0, "west": 0.2}).to_numpy()
    )
    bad = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"card_utilisation": util, "age": age, "region": region, "bad": bad})


def test_psi_by_feature_with_the_scorecards_bins():
    dev = _frame(3000, seed=1)
    sc = fit_scorecard(dev, "bad", config=ScorecardConfig(monotonic={"card_utilisation": "ascending"}))
    same = psi_by_feature(dev, dev, sc)
    assert (same["psi"] == 0).all() and (same["status"] == "ok").all()
    assert same["feature"].tolist() == sc.features  # raw frames have no score column

    current = _frame(3000, seed=2, shift=0.4)  # utilisation drifts up; age and region do not
    raw = psi_by_feature(dev, current, sc).set_index("feature")
    assert raw.loc["card_utilisation", "status"] == "act"
    assert raw.loc["age", "status"] == "ok" and raw.loc["region", "status"] == "ok"
    assert (raw["basis"] == "bins").all()
    # the same from the scored frames (bins identified by their points), plus the score itself
    scored = psi_by_feature(sc.score(dev), sc.score(current), sc).set_index("feature")
    assert scored.loc[sc.features, "psi"].to_numpy() == pytest.approx(raw["psi"].to_numpy())
    assert scored.loc["score", "basis"] == "score deciles" and scored.loc["score", "psi"] > 0.10
    # by hand for one characteristic: bins of the scorecard, shares, sum of (a - e) ln(a / e)
    e = sc.bin_indices(dev)["age"].value_counts(normalize=True)
    a = sc.bin_indices(current)["age"].value_counts(normalize=True).reindex(e.index, fill_value=0)
    assert raw.loc["age", "psi"] == pytest.approx(float(((a - e) * np.log(a / e)).sum()))


def test_drift_verdict_passes_below_warn_and_is_an_error_from_act():
    from crm.scoring.psi import ACT, WARN, drift_verdict

    def rows(*values):
        return pd.DataFrame(
            {
                "month_end": "2026-10-31",
                "segment": "retail",
                "feature": [f"f{i}" for i in range(len(values))],
                "psi": list(values),
                "status": [psi_status(v) for v in values],
            }
        )

    empty = drift_verdict(rows())
    assert (empty["worst"], empty["passed"], empty["error"]) == (0.0, True, False)
    assert empty["table"] == "| month end | segment | characteristic | PSI | status |\n|---|---|---|---|---|\n"
    assert drift_verdict(rows(0.05, WARN - 1e-9))["passed"]
    warn = drift_verdict(rows(0.05, WARN))
    assert (warn["passed"], warn["error"]) == (False, False)
    act = drift_verdict(rows(ACT, 0.01, 0.3))
    assert (act["worst"], act["passed"], act["error"]) == (0.3, False, True)
    assert act["table"].splitlines()[2:] == [
        "| 2026-10-31 | retail | f2 | 0.3000 | act |",
        "| 2026-10-31 | retail | f0 | 0.2500 | act |",
        "| 2026-10-31 | retail | f1 | 0.0100 | ok |",
    ]
    assert len(drift_verdict(rows(*[0.01] * 30))["table"].splitlines()) == 2 + 20  # the 20 largest
