"""Raw layer: one asset per extract, partitioned by business date (month-end extracts by month).

Thin wrappers around :func:`crm.ingest.load.ingest_partition`. Each asset carries a blocking check,
``file_accepted``: a file rejected for its control totals, truncation or encoding fails it, the raw
partition keeps its last good state and nothing downstream runs on that partition.
"""

import warnings

import dagster as dg

from crm.bank_calendar import business_date_for
from crm.contract import EXTRACTS, Extract
from crm.ingest.load import IngestOutcome, ingest_partition
from orchestration.partitions import daily_partitions, monthly_partitions
from orchestration.resources import CrmHomeResource, WarehouseResource

OWNERS = ["team:data-engineering"]
# single-run backfills (many business dates in one step) are what we want; the API is marked beta.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)


def _outcome_table(outcomes: list[IngestOutcome]) -> str:
    lines = ["| business date | file | status | records | type-error rows | reason |", "|---|---|---|---|---|---|"]
    for o in outcomes:
        lines.append(
            f"| {o.business_date} | {o.file_name or '-'} | {o.status} | {o.records if o.records is not None else '-'}"
            f" | {o.type_error_rows if o.type_error_rows is not None else '-'} | {o.reason or ''} |"
        )
    return "\n".join(lines)


def build_ingest_asset(extract: Extract) -> dg.AssetsDefinition:
    key = dg.AssetKey(["raw", extract.name])
    partitions = monthly_partitions if extract.cadence == "month_end" else daily_partitions
    cadence = "month-end file, one partition per month" if extract.cadence == "month_end" else "daily file"
    description = (
        f"{extract.title}: {extract.description}\n\n"
        f"Parsed `{extract.file_code}_<YYYYMMDD>_<SEQ>.dat` ({extract.mode}, {cadence}) with lineage "
        "columns `_source_file`, `_sha256`, `_row_number`, `_business_date`. Sensitivity: RESTRICTED raw zone, "
        "holds personal data in clear; only ingest, quality and privacy assets may read it."
    )

    @dg.asset(
        key=key,
        group_name="raw",
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"parquet", "python"},
        owners=OWNERS,
        description=description,
        tags={"layer": "raw", "sensitivity": "restricted"},
        output_required=False,
        check_specs=[
            dg.AssetCheckSpec(
                "file_accepted",
                asset=key,
                blocking=True,
                description="The latest file of each partition passed header/trailer control totals, "
                "completeness and encoding checks.",
            )
        ],
    )
    def _ingest(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
        home = crm_home.home()
        engine = warehouse.engine()
        outcomes = []
        try:
            for pk in context.partition_keys:
                day = business_date_for(pk, extract.cadence)
                outcome = ingest_partition(
                    extract,
                    day,
                    landing=home.landing,
                    raw=home.raw,
                    engine=engine,
                    schema=warehouse.schema,
                    run_id=context.run.run_id,
                )
                outcomes.append(outcome)
                if outcome.status == "rejected":
                    context.log.error(outcome.error)
                elif outcome.status == "missing":
                    context.log.warning(f"{extract.file_code} for {day}: no file with its .ok flag in landing/")
        finally:
            engine.dispose()

        by_status = {
            s: [o for o in outcomes if o.status == s] for s in ("accepted", "unchanged", "rejected", "missing")
        }
        rejected, missing = by_status["rejected"], by_status["missing"]
        # A rejected file fails the check as an error (blocking downstream); a file that has not arrived
        # fails it as a warning.
        check = dg.AssetCheckResult(
            check_name="file_accepted",
            asset_key=key,
            passed=not rejected and not missing,
            severity=dg.AssetCheckSeverity.ERROR if rejected else dg.AssetCheckSeverity.WARN,
            metadata={
                "rejected_files": ", ".join(o.file_name for o in rejected) or "none",
                "reasons": ", ".join(sorted({o.reason for o in rejected if o.reason})) or "none",
                "missing_business_dates": ", ".join(str(o.business_date) for o in missing) or "none",
                "errors": dg.MetadataValue.md("\n".join(f"- {o.error}" for o in rejected) or "none"),
            },
        )
        loaded = by_status["accepted"] + by_status["unchanged"]
        if not loaded:
            # Nothing loaded: the partition keeps its last good state; only the check reports.
            yield check
            return
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(o.records or 0 for o in loaded),
                "business_dates": len(outcomes),
                **{f"files_{s}": len(v) for s, v in by_status.items()},
                "type_error_rows": sum(o.type_error_rows or 0 for o in outcomes),
                "outcomes": dg.MetadataValue.md(_outcome_table(outcomes)),
            },
            check_results=[check],
        )

    return _ingest


ingest_assets = [build_ingest_asset(e) for e in EXTRACTS]
DAILY_RAW_KEYS = [dg.AssetKey(["raw", e.name]) for e in EXTRACTS if e.cadence == "daily"]
MONTH_END_RAW_KEYS = [dg.AssetKey(["raw", e.name]) for e in EXTRACTS if e.cadence == "month_end"]
