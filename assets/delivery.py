"""Before anything is sent, the leak scans of the rendered reports and of the outbox's subjects; then the
delivery of the queued messages (the reports themselves are :mod:`assets.reports`).

- ``dq/report_leak_scan`` (month): every file of the month's (and a closing quarter's) report folder and
  every subject of those periods' outbox rows against the personal values of the raw zone (names, ID
  numbers, mobiles, cards, e-mails, addresses); blocking check ``no_personal_data``.
- ``dq/data_quality_leak_scan`` (month): the same scan of the auditors' report once it is rendered;
  blocking check ``no_personal_data``.
- ``delivery/monthly`` (month): sends the period's pending and held messages (monthly and quarterly).
- ``delivery/weekly`` (week): scans the week's digests and sends them.

Every scan records the SHA-256 of each file and subject it scanned in ``leak_scan_files``, and delivery
sends a message only when a passing scan covers exactly the bytes it carries (the send gate,
:mod:`crm.delivery.gate`); otherwise the outbox row is ``held`` with the reason, which a blocking check
alone could not ensure (it stops delivery only within the same run). What a scan looks for and records is
:mod:`crm.reports.leakscan`, the sending :mod:`crm.delivery.send`.
"""

import datetime as dt
from pathlib import Path

import dagster as dg

from assets.factory import OWNERS, month_end_asset, write_mart
from crm.bank_calendar import (
    bank_now_naive,
    business_date_for,
    month_and_quarter,
    month_period,
    week_end,
    week_period,
)
from crm.reports.leakscan import (
    SCANNED_RAW,
    leak_scan_frame,
    merge_scans,
    raw_personal_values,
    report_files,
    scan_period,
)
from crm.zones import latest_raw_file, partition_date
from orchestration.partitions import weekly_partitions
from orchestration.resources import CrmHomeResource, DeliveryResource, WarehouseResource

LEAK_SCAN_KEY = dg.AssetKey(["dq", "report_leak_scan"])
DQ_REPORT_SCAN_KEY = dg.AssetKey(["dq", "data_quality_leak_scan"])
WEEKLY_TAGS = {"layer": "reports", "sensitivity": "internal"}


def _raw_keys(*names: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(["raw", n]) for n in names]


def _scan(
    context,
    warehouse: WarehouseResource,
    home,
    period: str,
    files: list[Path],
    forbidden: dict[str, list[str]],
    *,
    report: str | None = None,
) -> dict:
    """Scan ``files`` and the subjects of the period's outbox rows (of ``report``, or all) and record the
    verdicts for the send gate (:func:`crm.reports.leakscan.scan_period`)."""
    return scan_period(
        warehouse.transaction, home.reports, period, files, forbidden, run_id=context.run.run_id, report=report
    )


def _send(
    context, warehouse: WarehouseResource, delivery: DeliveryResource, home, day: dt.date, periods: list[str]
) -> dict:
    """Send the periods' messages (:func:`crm.delivery.send.send_periods`), addresses from the raw staff
    partition of ``day``; the run's metadata."""
    from crm.delivery.send import send_periods
    from crm.reports.recipients import address_book

    book = address_book(home.raw, day)
    engine = warehouse.engine()  # deliver() commits each message's state on its own (sending, then sent)
    try:
        totals = send_periods(
            engine,
            warehouse.schema,
            lambda: delivery.transport_for(home.outbox),
            periods,
            sender=delivery.sender,
            address_of=book.get,
            reports_root=home.reports,
            log=context.log,
        )
    finally:
        engine.dispose()
    totals["held_rows"] = dg.MetadataValue.md(totals["held_rows"])
    totals["undeliverable_rows"] = dg.MetadataValue.md(totals["undeliverable_rows"])
    return totals


@month_end_asset(
    "dq",
    "report_leak_scan",
    deps=[
        dg.AssetKey(["reports", "portfolio"]),
        dg.AssetKey(["reports", "risk"]),
        dg.AssetKey(["reports", "satisfaction_quarterly"]),
        *_raw_keys(*SCANNED_RAW),
    ],
    kinds=("python",),
    description="Leak scan of the month's reports before any is sent: the text of every HTML and PDF (via "
    "pdftotext) under CRM_HOME/reports/<YYYY-MM>/ and <YYYY-Qn>/, and every subject of those periods' outbox "
    "rows, against every name, ID number, mobile, card number, e-mail and address of the raw zone at the "
    "month end. Reads the restricted raw zone (the values it looks for stay in memory); findings name the "
    "kind and file, never the value. Warehouse tables report_leak_scans (month_end) and leak_scan_files (the "
    "SHA-256 and verdict of every file and subject scanned: delivery sends only bytes a passing scan "
    "covers); blocking check no_personal_data.",
    check_specs=[
        dg.AssetCheckSpec(
            "no_personal_data",
            asset=LEAK_SCAN_KEY,
            blocking=True,
            description="No personal value of the raw zone in the month's reports.",
        )
    ],
)
def report_leak_scan(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    home = crm_home.home()
    scanned, subjects, findings, values = 0, 0, [], 0
    for pk in context.partition_keys:  # one result for the whole range (a single-run backfill)
        day = business_date_for(pk, "month_end")
        forbidden = raw_personal_values(home.raw, day)
        # the auditors' report is scanned by dq/data_quality_leak_scan once rendered (it shows this scan's
        # result), so its folder is left out here: the month's figure is then the same in every run of the
        # month, whether or not an earlier run already rendered the auditors' report
        dq_folder = home.reports / month_period(day) / "data_quality"
        by_period = [
            _scan(
                context,
                warehouse,
                home,
                period,
                [f for f in report_files(home.reports / period) if not f.is_relative_to(dq_folder)],
                forbidden,
            )
            for period in month_and_quarter(day)
        ]
        result = merge_scans(by_period)
        # report_leak_scans (what the auditors' monthly report shows) holds the month's own reports; a quarter's
        # report, rendered by its own job before or after this one, counts in the check and leak_scan_files
        write_mart(
            warehouse, "report_leak_scans", leak_scan_frame(day, by_period[0], bank_now_naive()), {"month_end": day}
        )
        scanned += result["files_scanned"]
        subjects += result["subjects_scanned"]
        findings += [f"{day:%Y-%m}: {f}" for f in result["findings"]]
        values = max(values, sum(len(v) for v in forbidden.values()))
    return dg.MaterializeResult(
        metadata={
            "files_scanned": scanned,
            "subjects_scanned": subjects,
            "findings": len(findings),
            "values_checked": values,
            "months": len(context.partition_keys),
        },
        check_results=[_no_personal_data(scanned, findings)],
    )


@month_end_asset(
    "dq",
    "data_quality_leak_scan",
    deps=[dg.AssetKey(["reports", "data_quality"]), *_raw_keys(*SCANNED_RAW)],
    kinds=("python",),
    description="Leak scan of the auditors' data-quality report after it is rendered (it is rendered after the "
    "scan of the portfolio reports, whose result it shows): its HTML and PDF under CRM_HOME/reports/<YYYY-MM>/"
    "data_quality/ and the subjects of its outbox rows, against the raw zone's personal values at the month "
    "end. Records every file's and subject's SHA-256 and verdict in leak_scan_files; blocking check "
    "no_personal_data.",
    check_specs=[
        dg.AssetCheckSpec(
            "no_personal_data",
            asset=DQ_REPORT_SCAN_KEY,
            blocking=True,
            description="No personal value of the raw zone in the data-quality report.",
        )
    ],
)
def data_quality_leak_scan(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    home = crm_home.home()
    scanned, findings = 0, []
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        period = month_period(day)
        files = report_files(home.reports / period / "data_quality")
        result = _scan(
            context, warehouse, home, period, files, raw_personal_values(home.raw, day), report="data_quality"
        )
        scanned += result["files_scanned"]
        findings += [f"{day:%Y-%m}: {f}" for f in result["findings"]]
    return dg.MaterializeResult(
        metadata={"files_scanned": scanned, "findings": len(findings), "months": len(context.partition_keys)},
        check_results=[_no_personal_data(scanned, findings)],
    )


@month_end_asset(
    "delivery",
    "monthly",
    deps=[
        dg.AssetKey(["reports", "portfolio"]),
        dg.AssetKey(["reports", "risk"]),
        dg.AssetKey(["reports", "satisfaction_quarterly"]),
        dg.AssetKey(["reports", "data_quality"]),
        LEAK_SCAN_KEY,
        DQ_REPORT_SCAN_KEY,
        *_raw_keys("staff"),
    ],
    kinds=("python", "email"),
    tags={"crm/sends-email": "true"},
    description="Sends the month's (and a closing quarter's) queued reports: each message is marked sent only "
    "once the server (or the .eml writer) accepted it; 4xx replies and disconnects retry with backoff and stay "
    "queued, 5xx fail and are reported; a rerun sends nothing already sent. Addresses come from the raw staff "
    "extract at send time and are not stored. Runs only when the leak scan passed (blocking check).",
)
def monthly(
    context: dg.AssetExecutionContext,
    crm_home: CrmHomeResource,
    warehouse: WarehouseResource,
    delivery: DeliveryResource,
):
    home = crm_home.home()
    meta: dict = {}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        periods = month_and_quarter(day)
        meta = _send(context, warehouse, delivery, home, day, periods)
        meta["periods"] = ", ".join(periods)
    if meta.get("failed"):
        raise RuntimeError(
            f"{meta['failed']} messages were refused by the mail server (5xx): see the log and the "
            "report_outbox table; fix and rerun with the failed rows retried"
        )
    return dg.MaterializeResult(metadata={**meta, "transport": delivery.transport})


@dg.asset(
    key=dg.AssetKey(["delivery", "weekly"]),
    group_name="delivery",
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetKey(["reports", "watch_digest"]), *_raw_keys("staff", "customers", "corporates")],
    kinds={"python", "email"},
    owners=OWNERS,
    tags={**WEEKLY_TAGS, "crm/sends-email": "true"},
    description="Sends the week's digests after scanning them and their subjects for personal values of the raw "
    "zone (every file's and subject's SHA-256 and verdict recorded in leak_scan_files; a finding stops the "
    "step before anything is sent); same delivery guarantees and send gate as delivery/monthly.",
)
def weekly(
    context: dg.AssetExecutionContext,
    crm_home: CrmHomeResource,
    warehouse: WarehouseResource,
    delivery: DeliveryResource,
):
    home = crm_home.home()
    meta: dict = {}
    for pk in context.partition_keys:
        day = week_end(pk)
        raw_day = _latest_raw_day(home, day)
        period = week_period(day)
        scan = _scan(
            context,
            warehouse,
            home,
            period,
            report_files(home.reports / period),
            raw_personal_values(home.raw, raw_day),
        )
        if not scan["passed"]:
            raise RuntimeError(
                "personal data found in the weekly digests; nothing sent: " + "; ".join(scan["findings"][:10])
            )
        meta["files_scanned"] = scan["files_scanned"]
        meta.update(_send(context, warehouse, delivery, home, raw_day, [period]))
    if meta.get("failed"):
        raise RuntimeError(
            f"{meta['failed']} messages were refused by the mail server (5xx): see the log and the report_outbox table"
        )
    return dg.MaterializeResult(metadata={**meta, "transport": delivery.transport})


def _no_personal_data(scanned: int, findings: list[str]) -> dg.AssetCheckResult:
    """The blocking check of a leak scan: passed when nothing was found (findings name kind and file only)."""
    return dg.AssetCheckResult(
        check_name="no_personal_data",
        passed=not findings,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"files_scanned": scanned, "findings": "\n".join(findings[:50]) or "none"},
    )


def _latest_raw_day(home, day: dt.date) -> dt.date:
    """The latest business date on or before ``day`` with a raw staff partition."""
    return partition_date(latest_raw_file(home.raw, "staff", day))


delivery_assets = [report_leak_scan, data_quality_leak_scan, monthly]
weekly_delivery_assets = [weekly]
DELIVERY_KEYS = [a.key for a in delivery_assets]
WEEKLY_DELIVERY_KEYS = [a.key for a in weekly_delivery_assets]
