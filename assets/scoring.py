"""Credit scoring: the scorecard training asset (a new model version per month-end, approved by a person)
and the monthly scoring asset that uses the approved version, with drift checks.

Sensitivity: internal (tokens, scores, no personal data). Conventions and the development sample are in
:mod:`crm.scoring.sample` and :mod:`crm.scoring.scorecard`.
"""

import dagster as dg

from assets.factory import month_end_asset, write_mart
from crm.bank_calendar import business_date_for
from orchestration.resources import CrmHomeResource, ScoringResource, WarehouseResource

SEGMENTS = ("retail", "corporate")
MODEL_KEY = dg.AssetKey(["models", "scorecard"])
SCORES_KEY = dg.AssetKey(["marts", "credit_scores"])
STAGED_INPUTS = [dg.AssetKey(["staged", n]) for n in ("loan_performance", "customers", "corporates")]


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
    from crm.scoring.psi import ACT, WARN, drift_verdict, psi_by_feature
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

    def check(name: str, rows: pd.DataFrame) -> dg.AssetCheckResult:
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
            check("score_drift", drift[drift["feature"] == "score"]),
            check("characteristic_drift", drift[drift["feature"] != "score"]),
        ],
    )


scoring_assets = [scorecard_model, credit_scores]
SCORING_KEYS = [MODEL_KEY, SCORES_KEY]
