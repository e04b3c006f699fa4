"""Staged layer: the data-quality gate of every extract, and the arrival register of every business date.

``staged/<extract>`` validates the raw rows of its partition with the extract's Great Expectations suite
(built in code from the contract, :mod:`crm.quality`), quarantines every row that fails a critical rule
(raw values stay in the restricted raw zone), writes the accepted rows without personal columns, and
appends the evidence to the warehouse DQ tables and the GX Data Docs under ``dq/``.

Checks on each staged asset, all ``blocking``. A partition is *blocked* when its quarantined rows exceed both
its share allowance and its row allowance (contract defaults 2 % and 5 rows per extract, overridable in the
``quality`` resource), or rows are unaccounted for; the verdict is appended to ``dq_partition_gates``. One
check per rule family of the extract (severity ERROR when the family has critical failures in a blocked
partition, WARN otherwise, so failures show without blocking), ``quarantine_rate`` (ERROR when a partition
is blocked) and ``rows_accounted`` (per file, accepted + quarantined = parsed).

``dq/arrivals`` records, per business date, which extracts were due, when each arrived and which are late
or missing; its check fails when one is.
"""


import dagster as dg
import pandas as pd

from crm.bank_calendar import business_date_for
from crm.contract import EXTRACTS, Extract
from crm.quality.rules import FAMILIES, rules_for
from orchestration.partitions import daily_partitions, monthly_partitions
from orchestration.resources import CrmHomeResource, PrivacyResource, QualityResource, WarehouseResource

OWNERS = ["team:data-engineering"]

FAMILY_TEXT = {
    "completeness": "mandatory fields are present",
    "type": "values parse as the contract's types and records have the right number of fields",
    "code_set": "codes are in the contract's code sets",
    "range": "amounts, rates and scores are within their ranges",
    "length": "texts fit their maximum length",
    "uniqueness": "the key identifies one row",
    "format": "ID numbers (GB 11643), credit codes (GB 32100), card numbers (Luhn), mobiles, e-mails and the "
    "identifier patterns of crm/contract/identifiers.toml",
    "text": "no control or format characters (Unicode Cc, Cf, U+2028/9): quarantined in ids, codes, names, "
    "addresses and e-mails; counted and removed in free text",
    "referential": "references exist in the other extracts of the same business date",
    "date_order": "dates are in order and none is after the business date",
    "consistency": "the bank's cross-field rules (balance vs contract, five-category class, balance sheet)",
}


def families_of(extract: Extract) -> list[str]:
    present = {r.family for r in rules_for(extract.name)}
    return [f for f in FAMILIES if f in present]


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _allowance(r) -> str:
    return f"{_pct(r.threshold)} and {r.rows_threshold} rows"


def family_check(key: dg.AssetKey, family: str, results) -> dg.AssetCheckResult:
    """One rule family over the staged partitions of a step: ERROR when it has critical failures in a blocked
    partition (see :attr:`crm.quality.stage.StageResult.blocked`)."""
    rows = sum(r.parsed for r in results)
    rows_by_part = []
    crit = warn = 0
    failed_rules: dict[str, int] = {}
    over = []
    for r in results:
        fam = r.families.set_index("family")
        if family not in fam.index:
            continue
        f = fam.loc[family]
        crit += int(f["critical_rows"])
        warn += int(f["warning_rows"])
        if r.blocked and f["critical_rows"]:
            over.append(r.partition_key)
        counts = r.summary.set_index("rule_id")["failed"]
        for rid in f["failed_rules"]:
            failed_rules[rid] = failed_rules.get(rid, 0) + int(counts[rid])
        rows_by_part.append(r.partition_key)
    skipped = sorted({rid for r in results for rid in r.skipped if rid in set(
        r.summary.loc[r.summary["family"] == family, "rule_id"])})
    passed = crit == 0 and warn == 0
    severity = dg.AssetCheckSeverity.ERROR if over else dg.AssetCheckSeverity.WARN
    table = "\n".join(f"| {rid} | {n} |" for rid, n in sorted(failed_rules.items()))
    return dg.AssetCheckResult(
        check_name=family,
        asset_key=key,
        passed=passed,
        severity=severity,
        metadata={
            "rows_checked": rows,
            "rows_failing_critical": crit,
            "rows_failing_warning_only_rules": warn,
            "allowance": ", ".join(sorted({_allowance(r) for r in results})) or "none",
            "partitions_blocked": ", ".join(over) or "none",
            "rules_not_evaluated": ", ".join(skipped) or "none",
            "failed_rules": dg.MetadataValue.md(
                "| rule | failed rows |\n|---|---|\n" + table if table else "none"
            ),
        },
    )


def rate_check(key: dg.AssetKey, results) -> dg.AssetCheckResult:
    """Fails (ERROR) when a partition is blocked: quarantined rows over both allowances, or unaccounted."""
    parsed = sum(r.parsed for r in results)
    quarantined = sum(r.quarantined for r in results)
    over = [f"{r.partition_key} ({r.quarantined} rows, {_pct(r.quarantine_rate)})" for r in results if r.blocked]
    return dg.AssetCheckResult(
        check_name="quarantine_rate",
        asset_key=key,
        passed=not over,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "parsed": parsed,
            "quarantined": quarantined,
            "rate": _pct(quarantined / parsed if parsed else 0.0),
            "allowance": ", ".join(sorted({_allowance(r) for r in results})) or "none",
            "partitions_blocked": ", ".join(over) or "none",
        },
    )


def accounted_check(key: dg.AssetKey, results) -> dg.AssetCheckResult:
    files = pd.concat([r.files for r in results], ignore_index=True) if results else pd.DataFrame()
    unbalanced = files.loc[~files["balanced"], "_source_file"].tolist() if len(files) else []
    return dg.AssetCheckResult(
        check_name="rows_accounted",
        asset_key=key,
        passed=not unbalanced,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "files": len(files),
            "parsed": int(files["parsed"].sum()) if len(files) else 0,
            "accepted": int(files["accepted"].sum()) if len(files) else 0,
            "quarantined": int(files["quarantined"].sum()) if len(files) else 0,
            "unbalanced_files": ", ".join(unbalanced) or "none",
        },
    )


def build_staged_asset(extract: Extract) -> dg.AssetsDefinition:
    from crm.privacy.policy import load_policy
    from crm.quality.references import reference_targets

    key = dg.AssetKey(["staged", extract.name])
    partitions = monthly_partitions if extract.cadence == "month_end" else daily_partitions
    families = families_of(extract)
    deps = [dg.AssetKey(["raw", extract.name])] + [dg.AssetKey(["raw", t]) for t in reference_targets(extract.name)]
    treated = {c: p for c, p in load_policy().for_extract(extract.name).items() if p.treatment != "keep"}
    description = (
        f"{extract.title}, validated. Every raw row of the partition is accepted or quarantined with every "
        f"failing rule id ({len(rules_for(extract.name))} rules: {', '.join(families)}). Accepted rows are "
        "written to `staged/` under the privacy policy"
        + (f" ({', '.join(f'{c}: {p.treatment}' for c, p in treated.items())})" if treated else "")
        + "; quarantined rows stay in the restricted raw zone (`raw/_quarantine/`). Sensitivity: internal "
        "(tokens and masked values only)."
    )
    check_specs = [
        dg.AssetCheckSpec(
            family, asset=key, blocking=True,
            description=f"Rule family '{family}': {FAMILY_TEXT[family]}. ERROR (blocks downstream) when it has "
            "critical failures in a partition whose quarantined rows exceed both the extract's share and row "
            "allowances; WARN otherwise.",
        )
        for family in families
    ] + [
        dg.AssetCheckSpec(
            "quarantine_rate", asset=key, blocking=True,
            description="Rows quarantined (failing any critical rule) stay within the extract's share allowance "
            f"({_pct(extract.quarantine_share)}) or its row allowance ({extract.quarantine_rows} rows) by "
            "default; the partition blocks only when it exceeds both.",
        ),
        dg.AssetCheckSpec(
            "rows_accounted", asset=key, blocking=True,
            description="Per file: accepted + quarantined = parsed. No row is lost.",
        ),
    ]

    @dg.asset(
        key=key,
        group_name="staged",
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=deps,
        kinds={"parquet", "python"},
        owners=OWNERS,
        description=description,
        tags={"layer": "staged", "sensitivity": "internal"},
        output_required=False,
        check_specs=check_specs,
    )
    def _stage(
        context: dg.AssetExecutionContext,
        crm_home: CrmHomeResource,
        warehouse: WarehouseResource,
        quality: QualityResource,
        privacy: PrivacyResource,
    ):
        from crm.quality.docs import publish
        from crm.quality.evidence import record
        from crm.quality.stage import stage_partitions
        from crm.warehouse import begin

        home = crm_home.home()
        threshold = quality.threshold_for(extract.name)
        rows_threshold = quality.rows_threshold_for(extract.name)
        gx_context = None
        if quality.engine == "gx":
            from crm.quality.gx import ephemeral_context

            gx_context = ephemeral_context()
        keys = list(context.partition_keys)
        ring = privacy.ring(context.log)
        batch = stage_partitions(
            extract.name, [(pk, business_date_for(pk, extract.cadence)) for pk in keys],
            raw=home.raw, staged=home.staged, engine=quality.engine, threshold=threshold,
            rows_threshold=rows_threshold, context=gx_context, ring=ring,
            progress=lambda done, total: context.log.info(f"{extract.name}: staged {done}/{total} partitions"),
        )
        results = batch.results
        for why in batch.absent.values():
            context.log.warning(why)
        for r in results:
            if r.quarantined:
                context.log.info(
                    f"{extract.name} {r.business_date}: parsed {r.parsed}, quarantined {r.quarantined} "
                    f"({_pct(r.quarantine_rate)}; allowance {_allowance(r)}; "
                    f"{'blocked' if r.blocked else 'not blocked'})"
                )
        if results:
            engine = warehouse.engine()
            try:
                with begin(engine, warehouse.schema) as conn:
                    written = record(conn, results, context.run.run_id)
            finally:
                engine.dispose()
            if batch.gx_results:
                publish(home.dq, batch.gx_results, context.run.run_id)
            context.log.info(f"evidence recorded: {written}")
        absent = list(batch.absent)
        checks = [family_check(key, f, results) for f in families]
        checks += [rate_check(key, results), accounted_check(key, results)]
        if not results:
            yield from checks
            return
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(r.accepted for r in results),
                "parsed": sum(r.parsed for r in results),
                "accepted": sum(r.accepted for r in results),
                "quarantined": sum(r.quarantined for r in results),
                "partitions": len(results),
                "partitions_without_raw": ", ".join(absent) or "none",
                "suite_version": ", ".join(sorted({r.suite_version for r in results})),
                "engine": quality.engine,
                "privacy_policy": ", ".join(sorted({r.privacy_policy for r in results})),
                "partitions_blocked": ", ".join(r.partition_key for r in results if r.blocked) or "none",
                "text_chars_removed": sum(r.text_chars_removed for r in results),
                "text_rows_cleaned": sum(rows for r in results for rows, _ in r.text_stripped.values()),
                "text_chars_removed_by_partition": ", ".join(
                    f"{r.partition_key}: {r.text_chars_removed}" for r in results if r.text_chars_removed
                ) or "none",
                "key_version": ring.current,
            },
            check_results=checks,
        )

    return _stage


ARRIVALS_KEY = dg.AssetKey(["dq", "arrivals"])


@dg.asset(
    key=ARRIVALS_KEY,
    group_name="dq",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetKey(["raw", e.name]) for e in EXTRACTS if e.cadence == "daily"],
    kinds={"python"},
    owners=OWNERS,
    description="Arrival register: for each business date, every extract the contract expects (daily ones, "
    "and month-end ones on the last day of a month), its cut-off, when its .ok flag arrived and whether it is "
    "on time, late, missing or still pending. Appended to the warehouse table dq_arrivals (history). "
    "Sensitivity: internal.",
    tags={"layer": "dq", "sensitivity": "internal"},
    check_specs=[
        dg.AssetCheckSpec(
            "extracts_arrived", asset=ARRIVALS_KEY,
            description="Every expected extract arrived by the cut-off (ERROR when one is missing after the "
            "cut-off, WARN when one arrived late).",
        )
    ],
)
def arrivals(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource,
             quality: QualityResource):
    from crm import warehouse as wh
    from crm.quality.arrivals import arrivals as arrivals_of
    from crm.quality.arrivals import parse_cutoff

    home = crm_home.home()
    cutoff = parse_cutoff(quality.arrival_cutoff)
    frame = pd.concat(
        [arrivals_of(home.landing, business_date_for(pk, "daily"), cutoff=cutoff) for pk in context.partition_keys],
        ignore_index=True,
    )
    now = pd.Timestamp.now("UTC").tz_localize(None).to_pydatetime()
    engine = warehouse.engine()
    try:
        with wh.begin(engine, warehouse.schema) as conn:
            wh.append_frame(conn, wh.dq_arrivals, frame.assign(run_id=context.run.run_id, recorded_at=now))
    finally:
        engine.dispose()
    counts = frame["status"].value_counts().to_dict()
    late = frame[frame["status"] == "late"]
    missing = frame[frame["status"] == "missing"]

    def _list(df):
        return ", ".join(f"{d:%Y-%m-%d} {e}" for d, e in zip(df["business_date"], df["extract"], strict=True))

    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            **{s: int(counts.get(s, 0)) for s in ("on_time", "late", "missing", "pending")},
            "cutoff": f"{quality.arrival_cutoff} on the next day, Asia/Shanghai",
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="extracts_arrived",
                passed=missing.empty and late.empty,
                severity=dg.AssetCheckSeverity.ERROR if len(missing) else dg.AssetCheckSeverity.WARN,
                metadata={
                    "expected": len(frame),
                    "late": int(len(late)),
                    "missing": int(len(missing)),
                    "late_extracts": _list(late)[:2000] or "none",
                    "missing_extracts": _list(missing)[:2000] or "none",
                },
            )
        ],
    )


staged_assets = [build_staged_asset(e) for e in EXTRACTS]
DAILY_STAGED_KEYS = [dg.AssetKey(["staged", e.name]) for e in EXTRACTS if e.cadence == "daily"]
MONTH_END_STAGED_KEYS = [dg.AssetKey(["staged", e.name]) for e in EXTRACTS if e.cadence == "month_end"]
