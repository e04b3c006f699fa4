"""Credit scoring: the scorecard training asset (a new model version per month-end, approved by a person)
and the monthly scoring asset that uses the approved version, with drift checks.

Sensitivity: internal (tokens, scores, no personal data). Conventions and the development sample are in
:mod:`crm.scoring.sample` and :mod:`crm.scoring.scorecard`.
"""

import dagster as dg

from assets.factory import month_end_asset, month_rows, write_mart
from crm.bank_calendar import business_date_for
from orchestration.resources import CrmHomeResource, ScoringResource, WarehouseResource

SEGMENTS = ("retail", "corporate")
MODEL_KEY = dg.AssetKey(["models", "scorecard"])
SCORES_KEY = dg.AssetKey(["marts", "credit_scores"])
STAGED_INPUTS = [dg.AssetKey(["staged", n]) for n in ("loan_performance", "customers", "corporates")]


def _drift_check(name: str, rows) -> dg.AssetCheckResult:
    """A drift check's result from its PSI rows (a DataFrame; crm.scoring.psi.drift_verdict): ERROR at the act
    band, WARN below it; the scorecard's and the churn model's checks alike."""
    from crm.scoring.psi import ACT, WARN, drift_verdict

    verdict = drift_verdict(rows)
    return dg.AssetCheckResult(
        check_name=name,
        passed=verdict["passed"],
        severity=dg.AssetCheckSeverity.ERROR if verdict["error"] else dg.AssetCheckSeverity.WARN,
        metadata={
            "max_psi": round(verdict["worst"], 4),
            "warn_at": WARN,
            "fail_at": ACT,
            "largest": dg.MetadataValue.md(verdict["table"]),
        },
    )


@month_end_asset(
    "models",
    "scorecard",
    deps=STAGED_INPUTS,
    kinds=("python", "scikitlearn"),
    description="Behavioural scorecards (retail and corporate), trained as of the month end on the loan "
    "performance history: customer x month-end, bad = 90+ days past due within 12 months; optimal binning "
    "(optbinning, monotonic in past arrears), logistic regression, points at 600 for 50:1 odds, PDO 20. Each "
    "run writes a new version under models/scorecard/<segment>/ with its model card (HTML); scoring uses the "
    "approved version only.",
)
def scorecard_model(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, scoring: ScoringResource):
    from crm.scoring.models import approve, approved_version, save_version, version_dir
    from crm.scoring.sample import binning_options, development_sample, segment_features
    from crm.scoring.scorecard import ScorecardConfig, fit_scorecard

    home = crm_home.home()
    meta: dict = {}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        sample = development_sample(home.staged, as_of=day)
        for segment in SEGMENTS:
            data = sample[segment]
            bads = int(data["bad"].sum())
            if bads < scoring.min_bads:
                context.log.warning(
                    f"{segment} {day}: {bads} bads in {len(data)} rows, fewer than {scoring.min_bads}: no model trained"
                )
                meta[f"{segment}_skipped"] = f"{bads} bads < {scoring.min_bads}"
                continue
            features = segment_features(segment, data.columns)
            config = ScorecardConfig(**binning_options(features))
            card = fit_scorecard(data[features + ["bad"]], "bad", config=config)
            dev = data[features].join(card.score(data[features])[["score"]])
            version = save_version(home.models, segment, day, card, dev)
            if approved_version(home.models, segment) is None and scoring.auto_approve_first:
                approve(home.models, segment, version)
                context.log.warning(f"{segment}: first scorecard {version} approved automatically (local only)")
            m = card.metrics
            meta.update(
                {
                    f"{segment}_version": version,
                    f"{segment}_rows": len(data),
                    f"{segment}_bad_rate": round(bads / len(data), 4),
                    "customers_in_history": data.attrs.get("customers"),
                    "customers_drawn_share": round(float(data.attrs.get("drawn_share", 1.0)), 4),
                    f"{segment}_holdout_auc": round(float(m.get("auc", float("nan"))), 4),
                    f"{segment}_holdout_ks": round(float(m.get("ks", float("nan"))), 4),
                    f"{segment}_holdout_gini": round(float(m.get("gini", float("nan"))), 4),
                    f"{segment}_characteristics": ", ".join(card.features),
                    f"{segment}_model_card": str(version_dir(home.models, segment, version) / "model_card.html"),
                }
            )
    return dg.MaterializeResult(metadata=meta)


@month_end_asset(
    "marts",
    "credit_scores",
    deps=[MODEL_KEY, *STAGED_INPUTS],
    description="Credit scores at month end with the approved scorecard of each segment: score, PD, grade "
    "(PD master scale) and the top four reason codes per customer with an open loan. Warehouse tables "
    "credit_scores and scorecard_drift (PSI of the score and of each characteristic against the "
    "development sample).",
    check_specs=[
        dg.AssetCheckSpec(
            "score_drift",
            asset=SCORES_KEY,
            description="PSI of the score against the development sample: WARN from 0.10, ERROR from 0.25.",
        ),
        dg.AssetCheckSpec(
            "characteristic_drift",
            asset=SCORES_KEY,
            description="PSI of each characteristic against the development sample: WARN from 0.10, ERROR from 0.25.",
        ),
    ],
)
def credit_scores(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    import pandas as pd

    from crm.scoring.models import load_approved, score_rows
    from crm.scoring.psi import psi_by_feature
    from crm.scoring.sample import scoring_population

    home = crm_home.home()
    scored_rows, drift_rows = [], []
    unscored: set[str] = set()
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        population = scoring_population(home.staged, day)
        for segment in SEGMENTS:
            data = population[segment]
            try:
                version, card, dev = load_approved(home.models, segment)
            except FileNotFoundError as e:  # e.g. a bank too small to train on: the other segment is scored
                context.log.warning(str(e))
                unscored.add(segment)
                continue
            scores = card.score(data)
            scored_rows.append(score_rows(day, segment, version, data["customer_id"], scores))
            drift = psi_by_feature(dev, data[card.features].join(scores[["score"]]), card)
            drift_rows.append(drift.assign(month_end=day, segment=segment, model_version=version))
    if not scored_rows:  # a bank too small to train on, or nothing approved yet: visible, not a crash
        why = "no approved scorecard for any segment (train models/scorecard, then `crm scorecard approve`)"
        context.log.warning(why)
        # materialised with no rows (the warehouse table is left as it is): the month's value, warnings and
        # reports still build, with the configured PD for unscored borrowers, and the checks say why
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": 0,
                "segments_without_approved_model": ", ".join(sorted(unscored)),
                "reason": why,
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=name, passed=False, severity=dg.AssetCheckSeverity.WARN, metadata={"reason": why}
                )
                for name in ("score_drift", "characteristic_drift")
            ],
        )
        return
    scored = pd.concat(scored_rows, ignore_index=True)
    drift = pd.concat(drift_rows, ignore_index=True)
    for day in sorted(scored["month_end"].unique()):
        write_mart(warehouse, "credit_scores", scored[scored["month_end"] == day], {"month_end": day})
        write_mart(warehouse, "scorecard_drift", drift[drift["month_end"] == day], {"month_end": day})

    grade_counts = scored.groupby("grade").size().to_dict()
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(scored),
            "mean_pd": round(float(scored["pd"].mean()), 5),
            "segments_without_approved_model": ", ".join(sorted(unscored)) or "none",
            "models": ", ".join(sorted(set(scored["segment"] + ":" + scored["model_version"]))),
            "grades": ", ".join(f"{g}: {n}" for g, n in sorted(grade_counts.items())),
        },
        check_results=[
            _drift_check("score_drift", drift[drift["feature"] == "score"]),
            _drift_check("characteristic_drift", drift[drift["feature"] != "score"]),
        ],
    )


CHURN_MODEL_KEY = dg.AssetKey(["models", "churn"])
CHURN_SCORES_KEY = dg.AssetKey(["marts", "churn_scores"])
CHURN_INPUTS = [
    dg.AssetKey(["staged", n])
    for n in (
        "deposit_balances",
        "txn_monthly",
        "loan_performance",
        "customers",
        "corporates",
        "product_holdings",
        "service_requests",
        "surveys",
        "coverage",
    )
]


@month_end_asset(
    "models",
    "churn",
    deps=CHURN_INPUTS,
    kinds=("python", "scikitlearn"),
    description="Churn risk model, trained as of the month end on the bank's own history: customer x "
    "observation month, churn = closed or dormant within the next 6 months; features from balance trends, "
    "activity, product closures, complaints, satisfaction, manager changes, tenure and segment (crm/playbook/"
    "churn.py, configuration [churn]). The credit scorecard's machinery (optimal binning, logistic regression, "
    "points, reason codes), validated out of time (trained on earlier months, tested on later ones, against the "
    "naive rule 'deposits fell 30% in 3 months'). Each run writes a new version under models/scorecard/churn/ "
    "with its model card; scoring uses the approved version only (`crm scorecard approve --segment churn`).",
)
def churn_model(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, scoring: ScoringResource):
    from crm.playbook import load_config
    from crm.playbook.churn import (
        FEATURES,
        MODEL_SEGMENT,
        draw_customers,
        draw_history,
        labelled_sample,
        observation_months,
        train_churn_model,
    )
    from crm.playbook.churn_inputs import load_churn_history
    from crm.scoring.models import approve, approved_version, save_version, version_dir

    home = crm_home.home()
    config = load_config()
    meta: dict = {}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        limit = int(config["churn"]["max_customers"])
        history = load_churn_history(home.staged, day, max_customers=limit)  # a large bank: drawn in the scan
        if len(observation_months(history, config)) <= int(config["churn"]["validation"]["test_months"]):
            why = f"{len(history.months)} month ends of history: too short for a churn model with out-of-time test"
            context.log.warning(f"{day}: {why}")
            meta["skipped"] = why
            continue
        sample = draw_customers(labelled_sample(draw_history(history, limit), config), limit)
        try:
            model, train, validation = train_churn_model(sample, config)
        except ValueError as exc:  # too few churners or months: visible, not a crash
            context.log.warning(f"{day}: {exc}")
            meta["skipped"] = str(exc)
            continue
        features = [f for f in FEATURES if f in model.features]
        dev = train[features].join(model.score(train[features])[["score"]])
        version = save_version(home.models, MODEL_SEGMENT, day, model, dev)
        if approved_version(home.models, MODEL_SEGMENT) is None and scoring.auto_approve_first:
            approve(home.models, MODEL_SEGMENT, version)
            context.log.warning(f"churn: first model {version} approved automatically (local only)")
        oot, base, split = validation["oot"], validation["baseline"], validation["split"]
        meta.update(
            {
                "version": version,
                "train_months": split["train_months"],
                "test_months": split["test_months"],
                "train_customers": split["train_customers"],
                "test_customers": split["test_customers"],
                "train_churn_rate": round(split["train_churn_rate"], 4),
                "oot_auc": round(float(oot["auc"]), 4),
                "oot_brier": round(float(oot["brier"]), 5),
                "baseline_auc": round(float(base["auc"]), 4),
                "characteristics": ", ".join(model.features),
                "model_card": str(version_dir(home.models, MODEL_SEGMENT, version) / "model_card.html"),
            }
        )
    return dg.MaterializeResult(metadata=meta)


@month_end_asset(
    "marts",
    "churn_scores",
    deps=[CHURN_MODEL_KEY, dg.AssetKey(["marts", "customer_value"]), *CHURN_INPUTS],
    description="Churn scores at month end with the approved churn model: per active customer the churn "
    "probability, band, four reason codes, annualised contribution (customer_value), value at risk = "
    "contribution x probability and the suggested action of the first reason ([retention.actions]); each "
    "manager's retention list (the customers of the listed bands ranked by value at risk); the retention outcome "
    "of the customers listed [churn] outcome_months ago (how many stayed), per branch. Warehouse tables "
    "churn_scores, retention_list, retention_outcome and churn_drift (PSI against the development sample).",
    check_specs=[
        dg.AssetCheckSpec(
            "churn_score_drift",
            asset=CHURN_SCORES_KEY,
            description="PSI of the churn score against the development sample: WARN from 0.10, ERROR from 0.25.",
        ),
        dg.AssetCheckSpec(
            "churn_characteristic_drift",
            asset=CHURN_SCORES_KEY,
            description="PSI of each churn characteristic against the development sample: WARN from 0.10, "
            "ERROR from 0.25.",
        ),
    ],
)
def churn_scores(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    import pandas as pd

    from crm.bank_calendar import month_end, months_before
    from crm.playbook import load_config
    from crm.playbook.churn import MODEL_SEGMENT, retention_list, retention_outcomes, scoring_rows
    from crm.playbook.churn import churn_scores as build_scores
    from crm.playbook.churn_inputs import load_churn_history
    from crm.scoring.models import load_approved
    from crm.scoring.psi import psi_by_feature

    home = crm_home.home()
    config = load_config()
    meta: dict = {}
    drifts = []
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        try:
            version, model, dev = load_approved(home.models, MODEL_SEGMENT)
        except FileNotFoundError as e:
            context.log.warning(str(e))
            meta["reason"] = (
                "no approved churn model (train models/churn, then `crm scorecard approve --segment churn`)"
            )
            continue
        c = config["churn"]
        recent = max(int(c["lookback_months"]), int(c["inactive_months"])) + 1  # what the features of the month read
        history = load_churn_history(home.staged, day, months=recent)
        rows = scoring_rows(history, day, config)
        scores = model.score(rows)
        value = month_rows(warehouse, "customer_value", day, [])
        out = build_scores(day, rows, scores, value, version, config)
        listed = retention_list(out, config)
        before = month_end(months_before(day, int(config["churn"]["outcome_months"])))
        outcome = retention_outcomes(
            day,
            month_rows(warehouse, "retention_list", before, []),
            out,
            month_rows(warehouse, "churn_scores", before, ["month_end", "customer_id", "branch_id"]),
        )
        drift = psi_by_feature(dev, rows[model.features].join(scores[["score"]]), model)
        drift = drift.assign(month_end=day, segment="churn", model_version=version)
        drifts.append(drift)
        write_mart(warehouse, "churn_scores", out, {"month_end": day})
        write_mart(warehouse, "retention_list", listed, {"month_end": day})
        write_mart(warehouse, "retention_outcome", outcome, {"month_end": day})
        write_mart(warehouse, "churn_drift", drift, {"month_end": day})
        meta.update(
            {
                "dagster/row_count": len(out),
                "model_version": version,
                "mean_probability": round(float(out["churn_probability"].mean()), 5) if len(out) else 0.0,
                "bands": ", ".join(f"{k}: {v}" for k, v in out["band"].value_counts().sort_index().items()),
                "listed": len(listed),
                "managers_with_list": int(listed["manager_id"].nunique()),
                "value_at_risk_listed": round(float(listed["value_at_risk"].sum()), 2),
                "outcome_listed": int(outcome.loc[outcome["branch_id"] == "ALL", "listed"].sum()),
                "outcome_stayed": int(outcome.loc[outcome["branch_id"] == "ALL", "stayed"].sum()),
            }
        )
    if not drifts:
        why = meta.get("reason", "nothing scored")
        yield dg.MaterializeResult(
            metadata={"dagster/row_count": 0, "reason": why},
            check_results=[
                dg.AssetCheckResult(
                    check_name=n, passed=False, severity=dg.AssetCheckSeverity.WARN, metadata={"reason": why}
                )
                for n in ("churn_score_drift", "churn_characteristic_drift")
            ],
        )
        return
    drift = pd.concat(drifts, ignore_index=True)

    yield dg.MaterializeResult(
        metadata=meta,
        check_results=[
            _drift_check("churn_score_drift", drift[drift["feature"] == "score"]),
            _drift_check("churn_characteristic_drift", drift[drift["feature"] != "score"]),
        ],
    )


scoring_assets = [scorecard_model, credit_scores, churn_model, churn_scores]
SCORING_KEYS = [MODEL_KEY, SCORES_KEY, CHURN_MODEL_KEY, CHURN_SCORES_KEY]
