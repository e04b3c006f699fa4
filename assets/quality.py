"""Staged layer: the data-quality gate of every extract, and the arrival register of every business date.

``staged/<extract>`` validates the raw rows of its partition with the extract's Great Expectations suite
(built in code from the contract, :mod:`crm.quality`), quarantines every row that fails a critical rule
(raw values stay in the restricted raw zone), writes the accepted rows without personal columns, and
appends the evidence to the warehouse DQ tables and the GX results under ``dq/`` (and the auditors' offline
site built from them, :mod:`crm.reports.dq_site`).

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

from crm.bank_calendar import business_date_for, working_days
from crm.contract import EXTRACTS, Extract
from crm.quality.rules import rules_for
from crm.quality.verdicts import (
    FAMILY_TEXT,
    accounted_verdict,
    allowance,
    families_of,
    family_verdict,
    pct,
    rate_verdict,
)
from orchestration.partitions import daily_partitions, monthly_partitions
from orchestration.resources import CrmHomeResource, PrivacyResource, QualityResource, WarehouseResource

OWNERS = ["team:data-engineering"]


def _check(key: dg.AssetKey, name: str, verdict: dict, markdown: tuple[str, ...] = ()) -> dg.AssetCheckResult:
    """A verdict of :mod:`crm.quality.verdicts` as the check ``name`` of ``key``."""
    return dg.AssetCheckResult(
        check_name=name,
        asset_key=key,
        passed=verdict["passed"],
        severity=dg.AssetCheckSeverity.ERROR if verdict["error"] else dg.AssetCheckSeverity.WARN,
        metadata={k: dg.MetadataValue.md(v) if k in markdown else v for k, v in verdict["metadata"].items()},
    )


def family_check(key: dg.AssetKey, family: str, results) -> dg.AssetCheckResult:
    """One rule family over the staged partitions of a step (:func:`crm.quality.verdicts.family_verdict`)."""
    return _check(key, family, family_verdict(family, results), markdown=("failed_rules",))


def rate_check(key: dg.AssetKey, results) -> dg.AssetCheckResult:
    """Fails (ERROR) when a partition is blocked (:func:`crm.quality.verdicts.rate_verdict`)."""
    return _check(key, "quarantine_rate", rate_verdict(results))


def accounted_check(key: dg.AssetKey, results) -> dg.AssetCheckResult:
    """Per file, accepted + quarantined = parsed (:func:`crm.quality.verdicts.accounted_verdict`)."""
    return _check(key, "rows_accounted", accounted_verdict(results))


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
            family,
            asset=key,
            blocking=True,
            description=f"Rule family '{family}': {FAMILY_TEXT[family]}. ERROR (blocks downstream) when it has "
            "critical failures in a partition whose quarantined rows exceed both the extract's share and row "
            "allowances; WARN otherwise.",
        )
        for family in families
    ] + [
        dg.AssetCheckSpec(
            "quarantine_rate",
            asset=key,
            blocking=True,
            description="Rows quarantined (failing any critical rule) stay within the extract's share allowance "
            f"({pct(extract.quarantine_share)}) or its row allowance ({extract.quarantine_rows} rows) by "
            "default; the partition blocks only when it exceeds both.",
        ),
        dg.AssetCheckSpec(
            "rows_accounted",
            asset=key,
            blocking=True,
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
        from crm.quality.evidence import record
        from crm.quality.stage import stage_partitions
        from crm.reports.dq_site import publish
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
            extract.name,
            [(pk, business_date_for(pk, extract.cadence)) for pk in keys],
            raw=home.raw,
            staged=home.staged,
            engine=quality.engine,
            threshold=threshold,
            rows_threshold=rows_threshold,
            context=gx_context,
            ring=ring,
            progress=lambda done, total: context.log.info(f"{extract.name}: staged {done}/{total} partitions"),
        )
        results = batch.results
        for why in batch.absent.values():
            context.log.warning(why)
        for r in results:
            if r.quarantined:
                context.log.info(
                    f"{extract.name} {r.business_date}: parsed {r.parsed}, quarantined {r.quarantined} "
                    f"({pct(r.quarantine_rate)}; allowance {allowance(r)}; "
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
                )
                or "none",
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
    # no deps on the raw assets: the register reads the landing zone's flags, and a raw asset that loads
    # nothing (a file missing, or an extract not sent yet before its contract `since`) must not skip it: the
    # register is what records the missing file
    kinds={"python"},
    owners=OWNERS,
    description="Arrival register: for each business date, every extract the contract expects (daily ones, "
    "and month-end ones on the last day of a month), its cut-off, when its .ok flag arrived and whether it is "
    "on time, late, missing or still pending. Appended to the warehouse table dq_arrivals (history). It reads "
    "the landing zone's flags only, so a missing file never skips it. Sensitivity: internal.",
    tags={"layer": "dq", "sensitivity": "internal"},
    check_specs=[
        dg.AssetCheckSpec(
            "extracts_arrived",
            asset=ARRIVALS_KEY,
            description="Every expected extract arrived by the cut-off (ERROR when one is missing after the "
            "cut-off, WARN when one arrived late).",
        )
    ],
)
def arrivals(
    context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource, quality: QualityResource
):
    from crm import warehouse as wh
    from crm.quality.arrivals import arrivals as arrivals_of
    from crm.quality.arrivals import cutoff_rule, parse_cutoff

    home = crm_home.home()
    cutoff = parse_cutoff(quality.arrival_cutoff)
    calendar = working_days()
    after = quality.arrival_working_days
    frame = pd.concat(
        [
            arrivals_of(
                home.landing, business_date_for(pk, "daily"), cutoff=cutoff, working_days_after=after, calendar=calendar
            )
            for pk in context.partition_keys
        ],
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
            "cutoff": cutoff_rule(cutoff, after, calendar),
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
