"""The generic scorecard: conventions (WOE sign, points, PD), monotonic bins, discrimination on a known
logistic world, reason codes, persistence, the model card, and the ``crm scorecard`` CLI on a CSV built here
(a "credit-g"-like table, not the project's generator)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from crm.cli import main
from crm.scoring.scorecard import (
    MASTER_SCALE,
    Scorecard,
    ScorecardConfig,
    ScorecardInputError,
    binary_target,
    fit_scorecard,
)

PURPOSE = {"car": 0.3, "house": -0.6, "education": 0.5, "furniture": 0.0, "business": 0.2}
CHECKING = {"<0": 0.9, "0<=X<200": 0.4, ">=200": -0.2, "no checking": -0.7}


def credit_frame(n: int, seed: int) -> pd.DataFrame:
    """A credit-g-like application table whose bad probability is a known logistic function of the
    characteristics: logit = -2.6 + 2.2 util + 0.04 (duration - 24) - 0.035 (age - 40) - 0.5 ln(income / 20k)
    + purpose + checking. ``noise`` carries nothing, ``application_id`` is an identifier."""
    rng = np.random.default_rng(seed)
    util = rng.beta(2, 3, n) * 1.3
    duration = rng.choice([6, 12, 18, 24, 36, 48, 60], n)
    age = rng.integers(19, 76, n)
    income = rng.lognormal(10, 0.5, n)
    purpose = rng.choice(list(PURPOSE), n)
    checking = rng.choice(list(CHECKING), n, p=[0.3, 0.25, 0.1, 0.35])
    logit = (
        -2.6
        + 2.2 * util
        + 0.04 * (duration - 24)
        - 0.035 * (age - 40)
        - 0.5 * np.log(income / 20000)
        + pd.Series(purpose).map(PURPOSE).to_numpy()
        + pd.Series(checking).map(CHECKING).to_numpy()
    )
    bad = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    income[rng.random(n) < 0.04] = np.nan  # some applicants did not state an income
    return pd.DataFrame(
        {
            "application_id": [f"APP{seed:02d}{i:07d}" for i in range(n)],
            "card_utilisation": util.round(4),
            "duration": duration,
            "age": age,
            "income": income.round(0),
            "purpose": purpose,
            "checking_status": checking,
            "noise": rng.normal(size=n).round(3),
            "bad": bad,
        }
    )


CONFIG = ScorecardConfig(monotonic={"card_utilisation": "ascending", "age": "descending"})


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return credit_frame(6000, seed=3)


@pytest.fixture(scope="module")
def sc(data) -> Scorecard:
    return fit_scorecard(data, "bad", exclude=["application_id"], config=CONFIG)


@pytest.fixture(scope="module")
def scored(sc, data) -> pd.DataFrame:
    return sc.score(data)


def test_points_sum_to_the_score_implied_by_the_pd(sc, data, scored):
    points = scored[[f"points_{f}" for f in sc.features]].to_numpy()
    assert np.allclose(points.sum(axis=1), scored["score"], atol=1e-9)
    # score = offset + factor ln((1 - PD) / PD), within 1 point
    implied = sc.offset + sc.factor * np.log((1 - scored["pd"]) / scored["pd"])
    assert np.max(np.abs(implied - scored["score"])) < 1.0
    # the PD is the logistic regression's PD on WOE (optbinning's own predict_proba)
    lr_pd = sc.model.predict_proba(data[sc.model.binning_process_.variable_names])[:, 1]
    assert np.allclose(lr_pd, scored["pd"], atol=1e-9)
    # defaults: 600 points at 50:1, PDO 20
    assert sc.factor == pytest.approx(20 / math.log(2))
    assert sc.offset == pytest.approx(600 - 20 / math.log(2) * math.log(50))
    assert sc.pd_from_score(600.0) == pytest.approx(1 / 51)
    assert sc.pd_from_score(620.0) == pytest.approx(1 / 101)


def test_woe_sign_and_points_formula(sc):
    t = sc.table
    n = len(sc.features)
    for f in sc.features:
        bins = t[(t["feature"] == f) & (t["count"] > 0) & (t["goods"] > 0) & (t["bads"] > 0)]
        goods, bads = t.loc[t["feature"] == f, "goods"].sum(), t.loc[t["feature"] == f, "bads"].sum()
        # WOE = ln(%good / %bad)
        assert np.allclose(bins["woe"], np.log((bins["goods"] / goods) / (bins["bads"] / bads)))
        # points = -(coef WOE + intercept / n) factor + offset / n
        expected = -(sc.coefficients[f] * bins["woe"] + sc.intercept / n) * sc.factor + sc.offset / n
        assert np.allclose(bins["points"], expected)
    # with WOE = ln(%good/%bad) and target 1 = bad, the informative coefficients are negative
    assert sc.coefficients["card_utilisation"] < 0


@pytest.mark.parametrize(("feature", "trend"), [("card_utilisation", "ascending"), ("age", "descending")])
def test_declared_monotonic_bins_are_monotonic(sc, feature, trend):
    assert feature in sc.features
    t = sc.table[(sc.table["feature"] == feature) & (sc.table["kind"] == "bin")].sort_values("bin_id")
    rates = np.diff(t["bad_rate"].to_numpy())
    assert len(t) >= 3
    assert np.all(rates > 0) if trend == "ascending" else np.all(rates < 0)


def test_discrimination_and_model_card(sc, data):
    assert sc.metrics["auc"] > 0.7
    assert sc.metrics["gini"] == pytest.approx(2 * sc.metrics["auc"] - 1)
    assert 0 < sc.metrics["ks"] < 1
    assert sc.metrics["holdout_rows"] == 1800 and sc.training_rows == 4200
    # the identifier was excluded by the caller; noise is either selected or dropped for low IV, stated
    assert sc.excluded["application_id"] == "excluded by the caller"
    assert {"card_utilisation", "checking_status", "purpose", "age"} <= set(sc.features)
    cal = sc.calibration
    assert len(cal) == 10 and cal["count"].sum() == 1800
    assert cal["observed_bad_rate"].iloc[-1] > cal["observed_bad_rate"].iloc[0]
    html = sc.model_card_html()
    for text in (
        "AUC",
        "KS",
        "Gini",
        f"{sc.metrics['auc']:.3f}",
        "Calibration",
        "master scale",
        "A1",
        "PDO",
        "ln(%good / %bad)",
        "application_id",
        "card_utilisation",
        "excluded by the caller",
    ):
        assert text in html
    # aggregates only: no applicant identifier reaches the card
    assert not any(a in html for a in data["application_id"].head(50))


def test_identifier_like_text_column_is_refused(data):
    small = data.head(2000)
    sc = fit_scorecard(small[["application_id", "checking_status", "card_utilisation", "bad"]], "bad")
    assert "identifier-like" in sc.excluded["application_id"]
    assert "application_id" not in sc.features


def test_grades_follow_the_master_scale(scored):
    bounds = dict(MASTER_SCALE)
    names = [g for g, _ in MASTER_SCALE]
    upper = scored["grade"].map(bounds)
    lower = scored["grade"].map(lambda g: 0.0 if g == names[0] else bounds[names[names.index(g) - 1]])
    assert ((scored["pd"] <= upper) & (scored["pd"] > lower)).all()
    assert scored["grade"].nunique() >= 4


def test_reason_codes_are_the_largest_shortfalls(sc, scored):
    max_points = sc.table.groupby("feature")["max_points"].first()
    shortfall = pd.DataFrame({f: max_points[f] - scored[f"points_{f}"] for f in sc.features}).clip(lower=0)
    assert set(scored["reason_1"].dropna()) <= set(sc.features)
    for i, row in shortfall.head(300).iterrows():
        ranked = sorted(((-round(v, 9), f) for f, v in row.items() if v > 1e-9))  # largest first, ties by name
        want = [f for _, f in ranked][:4]
        got = [r for r in scored.loc[i, ["reason_1", "reason_2", "reason_3", "reason_4"]] if r is not None]
        assert got == want
        if want:
            assert row[got[0]] == pytest.approx(row.max())


def test_reason_ties_break_by_name(sc):
    max_points = sc.table.groupby("feature")["max_points"].first()[sc.features].to_numpy()
    later, earlier = sorted(sc.features)[-1], sorted(sc.features)[0]
    middle = sorted(sc.features)[1]
    shortfall = pd.Series(0.0, index=sc.features)
    shortfall[[later, earlier]] = 10.0  # tied: the alphabetically first comes first
    shortfall[middle] = 5.0
    reasons = sc._reasons((max_points - shortfall.to_numpy())[None, :])
    assert [reasons[f"reason_{i}"][0] for i in range(1, 5)] == [earlier, later, middle, None]


def test_no_shortfall_no_reason(sc, data):
    best = {}
    for f in sc.features:
        t = sc.table[(sc.table["feature"] == f) & (sc.table["points"] == sc.table["max_points"])].iloc[0]
        best[f] = t
    row = data.head(1).copy()
    for f, t in best.items():
        if f in sc.categorical:
            row[f] = t["bin"].split(", ")[0]
        else:
            lo, hi = t["lower"], t["upper"]
            row[f] = hi - 1e-6 if np.isfinite(hi) else lo + 1
    out = sc.score(row)
    assert out.loc[row.index[0], ["reason_1", "reason_2", "reason_3", "reason_4"]].isna().all()
    assert out["score"].iloc[0] == pytest.approx(sum(sc.table.groupby("feature")["max_points"].first()))


def test_missing_and_unseen_values(sc, data):
    rows = data.head(3).copy()
    rows["income"] = np.nan
    rows["purpose"] = ["spaceship", "car", None]
    out = sc.score(rows)
    t = sc.table
    if "income" in sc.features:
        missing_pts = t.loc[(t["feature"] == "income") & (t["kind"] == "missing"), "points"].iloc[0]
        assert np.allclose(out["points_income"], missing_pts)
    n = len(sc.features)
    neutral = -(sc.intercept / n) * sc.factor + sc.offset / n  # WOE 0 for an unseen category
    assert out["points_purpose"].iloc[0] == pytest.approx(neutral)
    with pytest.raises(ScorecardInputError, match="checking_status"):
        sc.score(data.drop(columns=["checking_status"]).head(5))


def test_save_load_roundtrip_and_tamper_check(sc, data, scored, tmp_path):
    d = sc.save(tmp_path / "m1")
    for name in ("model.joblib", "scorecard.json", "scorecard_table.csv", "model_card.html"):
        assert (d / name).is_file()
    meta = json.loads((d / "scorecard.json").read_text())
    assert meta["version"] == sc.version and len(meta["model_file"]["sha256"]) == 64
    assert meta["conventions"]["base_points"] == 600 and meta["conventions"]["pdo"] == 20
    assert meta["training_rows"] == 4200 and 0 < meta["bad_rate"] < 1
    assert {"auc", "ks", "gini"} <= set(meta["metrics"]) and len(meta["calibration"]) == 10
    assert {b["feature"] for b in meta["bins"]} == set(sc.features)
    assert pd.read_csv(d / "scorecard_table.csv")["feature"].nunique() == len(sc.features)
    again = Scorecard.load(d)
    pd.testing.assert_frame_equal(again.score(data.head(500)), scored.head(500))
    with pytest.raises(FileExistsError):
        sc.save(d)
    with open(d / "model.joblib", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ScorecardInputError, match="sha256"):
        Scorecard.load(d)


def test_binary_target():
    assert binary_target(pd.Series(["good", "BAD", " Good "])).tolist() == [0, 1, 0]
    assert binary_target(pd.Series([0.0, 1.0])).tolist() == [0, 1]
    assert binary_target(pd.Series([True, False])).tolist() == [1, 0]
    with pytest.raises(ScorecardInputError, match="not binary"):
        binary_target(pd.Series([0, 1, 2]), "default_flag")
    with pytest.raises(ScorecardInputError, match="not binary"):
        binary_target(pd.Series(["yes", "no"]))
    with pytest.raises(ScorecardInputError, match="missing"):
        binary_target(pd.Series([0, 1, None]))


# ---------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def runner(tmp_path):
    return CliRunner(env={"CRM_HOME": str(tmp_path / "home")})


def test_cli_fit_and_apply(tmp_path, runner):
    train = credit_frame(3000, seed=11)
    train.to_csv(tmp_path / "train.csv", index=False)
    new = credit_frame(400, seed=12).drop(columns=["bad"])
    new.to_csv(tmp_path / "new.csv", index=False)
    model = tmp_path / "model"
    r = runner.invoke(
        main,
        [
            "scorecard",
            "fit",
            "--data",
            str(tmp_path / "train.csv"),
            "--target",
            "bad",
            "--exclude",
            "application_id",
            "--trend",
            "card_utilisation=ascending",
            "--out",
            str(model),
            "--pdo",
            "40",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "hold-out AUC" in r.output and "KS" in r.output and "Gini" in r.output
    assert (model / "model_card.html").is_file() and (model / "scorecard_table.csv").is_file()
    assert json.loads((model / "scorecard.json").read_text())["conventions"]["pdo"] == 40

    out = tmp_path / "scored.csv"
    r = runner.invoke(
        main, ["scorecard", "apply", "--model", str(model), "--data", str(tmp_path / "new.csv"), "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    result = pd.read_csv(out)
    assert len(result) == 400
    assert list(result.columns[: len(new.columns)]) == list(new.columns)
    assert {"score", "pd", "grade", "reason_1", "reason_2", "reason_3", "reason_4"} <= set(result.columns)
    assert result["pd"].between(0, 1).all() and set(result["grade"]) <= {g for g, _ in MASTER_SCALE}

    # a re-fit into the same directory is refused; a file lacking a characteristic is named
    r = runner.invoke(
        main, ["scorecard", "fit", "--data", str(tmp_path / "train.csv"), "--target", "bad", "--out", str(model)]
    )
    assert r.exit_code != 0 and "already holds a scorecard" in r.output
    new.drop(columns=["checking_status"]).to_csv(tmp_path / "short.csv", index=False)
    r = runner.invoke(
        main,
        [
            "scorecard",
            "apply",
            "--model",
            str(model),
            "--data",
            str(tmp_path / "short.csv"),
            "--out",
            str(tmp_path / "x.csv"),
        ],
    )
    assert r.exit_code != 0 and "checking_status" in r.output


def test_cli_text_targets_and_bad_input(tmp_path, runner):
    frame = credit_frame(2000, seed=5)
    # good/bad labels are mapped (bad = 1), documented in crm.scoring.scorecard
    frame.assign(bad=np.where(frame["bad"] == 1, "bad", "good")).to_csv(tmp_path / "gb.csv", index=False)
    r = runner.invoke(
        main,
        [
            "scorecard",
            "fit",
            "--data",
            str(tmp_path / "gb.csv"),
            "--target",
            "bad",
            "--exclude",
            "application_id",
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert r.exit_code == 0, r.output
    # anything else is refused naming the column
    frame.assign(bad=np.where(frame["bad"] == 1, "yes", "no")).to_csv(tmp_path / "yn.csv", index=False)
    r = runner.invoke(
        main, ["scorecard", "fit", "--data", str(tmp_path / "yn.csv"), "--target", "bad", "--out", str(tmp_path / "m2")]
    )
    assert r.exit_code == 1 and "target column 'bad' is not binary" in r.output
    r = runner.invoke(
        main,
        ["scorecard", "fit", "--data", str(tmp_path / "yn.csv"), "--target", "default", "--out", str(tmp_path / "m3")],
    )
    assert r.exit_code == 1 and "target column 'default' is not in the data" in r.output
    r = runner.invoke(
        main,
        [
            "scorecard",
            "fit",
            "--data",
            str(tmp_path / "gb.csv"),
            "--target",
            "bad",
            "--exclude",
            "nope",
            "--out",
            str(tmp_path / "m4"),
        ],
    )
    assert r.exit_code == 1 and "nope" in r.output
