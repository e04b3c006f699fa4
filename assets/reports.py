"""Reports and their delivery: render per recipient (HTML + PDF, in a pool of worker processes), scan the
files and subjects for personal data before anything is sent, put each message in the outbox, send.

- ``reports/portfolio`` (month): key-account reports per manager, branch and satisfaction reports per branch
  head, the bank-wide satisfaction report on file.
- ``reports/satisfaction_quarterly`` (month; quarter-closing months only): the quarterly satisfaction report.
- ``dq/report_leak_scan`` (month): every file of the month's (and a closing quarter's) report folder and
  every subject of those periods' outbox rows against the personal values of the raw zone (names, ID
  numbers, mobiles, cards, e-mails, addresses); blocking check ``no_personal_data``.
- ``reports/data_quality`` (month): the auditors' data-quality report, with the leak-scan result.
- ``dq/data_quality_leak_scan`` (month): the same scan of the auditors' report once it is rendered;
  blocking check ``no_personal_data``.
- ``delivery/monthly`` (month): sends the period's pending and held messages (monthly and quarterly).
- ``reports/watch_digest`` and ``delivery/weekly`` (week): the weekly early-warning digest per manager.

Every scan records the SHA-256 of each file and subject it scanned in ``leak_scan_files``, and delivery
sends a message only when a passing scan covers exactly the bytes it carries (the send gate,
:mod:`crm.delivery.gate`); otherwise the outbox row is ``held`` with the reason, which a blocking check
alone could not ensure (it stops delivery only within the same run).

A rerun or a backfill re-renders and re-queues; a message already sent stays sent unless the render asset
is run with ``resend: true`` (run config), which queues it once more under a new Message-ID.
"""

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd

from assets.factory import OWNERS, month_end_asset
from crm.bank_calendar import (
    bank_now,
    business_date_for,
    closes_quarter,
    month_and_quarter,
    month_period,
    quarter_period,
    week_end,
    week_period,
)
from crm.zones import latest_raw_file, latest_staged_file, partition_date, raw_file, read_staged
from orchestration.partitions import weekly_partitions
from orchestration.resources import CrmHomeResource, DeliveryResource, PrivacyResource, WarehouseResource

PORTFOLIO_MARTS = ["customer_360", "customer_value", "credit_scores", "early_warnings", "cross_sell",
                   "revisit_plan", "manager_scorecards", "satisfaction", "related_party_groups"]
LEAK_SCAN_KEY = dg.AssetKey(["dq", "report_leak_scan"])
DQ_REPORT_SCAN_KEY = dg.AssetKey(["dq", "data_quality_leak_scan"])
# raw extracts holding the personal values the scan looks for
SCANNED_RAW = ["customers", "corporates", "contacts", "related_parties", "staff", "deposits", "loans"]


class RenderConfig(dg.Config):
    """``resend``: queue messages already sent for this period once more (a new Message-ID)."""

    resend: bool = False


def _now() -> dt.datetime:
    return bank_now().replace(tzinfo=None, microsecond=0)


def _utc_now() -> dt.datetime:
    """Naive UTC, as the outbox stores times (the message Date header is derived from it)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _marts(*names: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(["marts", n]) for n in names]


def _recipients(home, day, staff: pd.DataFrame | None = None, branches: pd.DataFrame | None = None):
    """Everyone a report of ``day`` is for: the readers of the staged staff extract and those whose staff row
    was quarantined (undeliverable, with the reason; read from the restricted quarantine file: ids, role,
    status, branch, rule ids and lineage only)."""
    from crm.reports.recipients import quarantined_recipients, recipients, with_quarantined

    staff = read_staged(home.staged, "staff", day) if staff is None else staff
    if branches is None:
        branches = read_staged(home.staged, "branches", day)
    return with_quarantined(recipients(staff, branches), quarantined_recipients(home.raw, day, home.reports, branches))


PORTFOLIO_REPORTS = {"key_account": "key_account", "branch": "branch", "satisfaction": "satisfaction"}


def _incomplete(warehouse: WarehouseResource, kind: str, day: dt.date) -> list[dict]:
    """The incomplete-data notice of the ``kind`` period (month, quarter, week) ending with ``day``."""
    from crm.bank_calendar import period_bounds
    from crm.reports.completeness import incomplete_data

    with warehouse.transaction() as conn:
        notice = incomplete_data(conn, *period_bounds(kind, day))
    return notice


def _log_incomplete(context, notice: list[dict]) -> None:
    if notice:
        context.log.warning("incomplete data this period, shown on every report's cover: " + "; ".join(
            f"{n['extract']} {n['business_date']} {n['cause']}" for n in notice[:20]))


def _render_and_queue(context, warehouse: WarehouseResource, delivery: DeliveryResource, planned, *,
                      resend: bool) -> dict:
    """Render the planned jobs in the pool, queue the mailed ones; fail the step if any render failed."""
    from crm.delivery import enqueue
    from crm.reports.plan import outbox_items
    from crm.reports.pool import render_many, summary

    jobs = [p.job for p in planned if p.job is not None]
    results = render_many(jobs, workers=delivery.workers or None, desc="rendering")
    items = outbox_items(planned, results, _utc_now())
    with warehouse.transaction() as conn:  # the engine creates report_outbox when missing
        counts = enqueue(conn, items, resend=resend)
    for p in planned:
        if not p.rows:
            context.log.info(f"{p.report} {p.period} for {p.recipient_id}: empty, not rendered or sent")
    unserved = [f"{i.report} {i.period} {i.recipient_id}: {i.undeliverable}" for i in items if i.undeliverable]
    if unserved:
        context.log.warning(f"{len(unserved)} recipients cannot be mailed (recorded undeliverable in the outbox): "
                            + "; ".join(unserved[:20]))
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(results)} reports failed to render: "
                           + "; ".join(f"{r.job_id}: {r.error}" for r in failed[:5]))
    s = summary(results)
    notice = next((p.job.context.get("incomplete") or [] for p in planned if p.job is not None), [])
    return {"rendered": len(results), "incomplete_data": len(notice), "empty": sum(1 for p in planned if not p.rows),
            "pages": int(s.get("pages", 0)), "render_seconds": round(float(s.get("seconds", 0.0)), 1),
            "queued": len(items), "kept_sent": counts.kept_sent, "resend": counts.resend,
            "undeliverable": len(unserved), "undeliverable_rows": dg.MetadataValue.md(_bullets(unserved)),
            "reports": ", ".join(sorted({p.report for p in planned}))}


@month_end_asset(
    "reports",
    "portfolio",
    deps=[*_marts(*PORTFOLIO_MARTS), dg.AssetKey(["staged", "staff"]), dg.AssetKey(["staged", "branches"])],
    kinds=("python", "pdf", "html"),
    description="The month's portfolio reports as HTML and PDF: key-account report per relationship manager "
    "(their customers only), branch report and satisfaction report per branch head (their branch only), the "
    "bank-wide satisfaction report on file. Files under CRM_HOME/reports/<YYYY-MM>/; each mailed report queued "
    "in the outbox table (report, period, recipient). A reader whose staff row was quarantined is rendered and "
    "recorded undeliverable with the reason (metadata undeliverable_rows); a period with incomplete data "
    "(a current blocking DQ failure, an unrestated rejected file) carries the notice on every cover.",
)
def portfolio(context: dg.AssetExecutionContext, config: RenderConfig, crm_home: CrmHomeResource,
              warehouse: WarehouseResource, delivery: DeliveryResource):
    from crm.reports.data import load_month
    from crm.reports.plan import complete, portfolio_plan
    from crm.reports.recipients import servable

    home = crm_home.home()
    meta: dict = {}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        with warehouse.transaction() as conn:
            data = load_month(conn, day, read_staged(home.staged, "staff", day))
        if data["customer_value"].empty:
            raise FileNotFoundError(f"marts/customer_value has no rows for {day}: run the month-end pipeline first")
        everyone, notice = _recipients(home, day), _incomplete(warehouse, "month", day)
        _log_incomplete(context, notice)
        planned = complete(portfolio_plan(data, servable(everyone), home.reports, delivery.locale, _now()),
                           everyone, notice, period=month_period(day), reports=PORTFOLIO_REPORTS)
        meta = _render_and_queue(context, warehouse, delivery, planned, resend=config.resend)
    return dg.MaterializeResult(metadata={"dagster/row_count": meta.get("rendered", 0), **meta})


@month_end_asset(
    "reports",
    "satisfaction_quarterly",
    deps=[*_marts("satisfaction"), dg.AssetKey(["staged", "staff"]), dg.AssetKey(["staged", "branches"])],
    kinds=("python", "pdf", "html"),
    description="The quarterly satisfaction report (CSAT and NPS over the quarter with intervals, the monthly "
    "trend, by branch, channel, product and tier, drivers, complaint themes, SLAs, verbatims) per branch head "
    "and bank-wide, for a quarter-closing month (March, June, September, December); other months do nothing.",
)
def satisfaction_quarterly(context: dg.AssetExecutionContext, config: RenderConfig, crm_home: CrmHomeResource,
                           warehouse: WarehouseResource, delivery: DeliveryResource):
    from crm.reports.data import load_month
    from crm.reports.plan import complete, quarterly_plan
    from crm.reports.recipients import servable

    home = crm_home.home()
    meta: dict = {"quarters": 0}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        if not closes_quarter(day):
            context.log.info(f"{day:%Y-%m} does not close a quarter: no quarterly report")
            continue
        with warehouse.transaction() as conn:
            data = load_month(conn, day, read_staged(home.staged, "staff", day))
        everyone, notice = _recipients(home, day), _incomplete(warehouse, "quarter", day)
        _log_incomplete(context, notice)
        planned = complete(quarterly_plan(data, servable(everyone), home.reports, delivery.locale, _now()),
                           everyone, notice, period=quarter_period(day),
                           reports={"satisfaction": "satisfaction_quarter"})
        meta = {"quarters": meta["quarters"] + 1,
                **_render_and_queue(context, warehouse, delivery, planned, resend=config.resend)}
    return dg.MaterializeResult(metadata=meta)


# Two-character personal names are not scanned: they collide with words and company names (a name 康健 in
# 北京康健服饰有限公司); the display masking of every name is tested directly instead.
MIN_NAME_LENGTH = 3


def _forbidden(home, day) -> dict[str, list[str]]:
    """The personal values of the raw zone at ``day`` that no report may contain, by kind (restricted zone:
    kept in memory only). Related parties that are companies (party_type C) carry a company name and a
    business registration number, which are not personal data, and are left out."""
    from crm.contract import BY_NAME

    semantics = ("person_name", "id_number", "mobile", "card_number", "email", "address")
    values: dict[str, set[str]] = {s: set() for s in semantics}
    for name in SCANNED_RAW:
        extract = BY_NAME[name]
        cols = [(c.name, c.semantic) for c in extract.columns if c.semantic in semantics]
        path = raw_file(home.raw, name, day)
        if not cols or not path.exists():
            continue
        frame = pd.read_parquet(path, columns=[c for c, _ in cols] + (["party_type"] if name == "related_parties"
                                                                        else []))
        if name == "related_parties":
            frame = frame[frame["party_type"] == "I"]
        for col, sem in cols:
            text = frame[col].dropna().astype(str).str.strip()
            values[sem].update(text[text.str.len() >= (MIN_NAME_LENGTH if sem == "person_name" else 2)])
    return {k: sorted(v) for k, v in values.items()}


def _raw_keys(*names: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(["raw", n]) for n in names]


def _scan(context, warehouse: WarehouseResource, home, period: str, files: list[Path],
          forbidden: dict[str, list[str]], *, report: str | None = None) -> dict:
    """Scan ``files`` and the subjects of the period's outbox rows (of ``report``, or all), record every
    file's and subject's SHA-256 and verdict in ``leak_scan_files``, and return the scan summary
    (files_scanned, subjects_scanned, passed, findings)."""
    from crm.delivery.gate import record_scans, subject_label
    from crm.delivery.outbox import rows_with_status
    from crm.reports.leakscan import scan_outputs, scan_summary

    with warehouse.transaction() as conn:
        rows = rows_with_status(conn, None, [period], report)
    subjects = {subject_label(r.report, r.period, r.recipient_id): r.subject for r in rows if r.subject}
    findings, scanned = scan_outputs(files, home.reports, subjects, forbidden)
    with warehouse.transaction() as conn:
        record_scans(conn, [{**r, "period": period, "method": "values", "run_id": context.run.run_id} for r in scanned])
    summary = scan_summary(len(files), findings)
    summary["subjects_scanned"] = len(subjects)
    return summary


def _report_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".pdf", ".html", ".eml"))


@month_end_asset(
    "dq",
    "report_leak_scan",
    deps=[dg.AssetKey(["reports", "portfolio"]), dg.AssetKey(["reports", "satisfaction_quarterly"]),
          *_raw_keys(*SCANNED_RAW)],
    kinds=("python",),
    description="Leak scan of the month's reports before any is sent: the text of every HTML and PDF (via "
    "pdftotext) under CRM_HOME/reports/<YYYY-MM>/ and <YYYY-Qn>/, and every subject of those periods' outbox "
    "rows, against every name, ID number, mobile, card number, e-mail and address of the raw zone at the "
    "month end. Reads the restricted raw zone (the values it looks for stay in memory); findings name the "
    "kind and file, never the value. Warehouse tables report_leak_scans (month_end) and leak_scan_files (the "
    "SHA-256 and verdict of every file and subject scanned: delivery sends only bytes a passing scan "
    "covers); blocking check no_personal_data.",
    check_specs=[dg.AssetCheckSpec("no_personal_data", asset=LEAK_SCAN_KEY, blocking=True,
                                   description="No personal value of the raw zone in the month's reports.")],
)
def report_leak_scan(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource):
    home = crm_home.home()
    scanned, subjects, findings, values = 0, 0, [], 0
    for pk in context.partition_keys:  # one result for the whole range (a single-run backfill)
        day = business_date_for(pk, "month_end")
        forbidden = _forbidden(home, day)
        periods = month_and_quarter(day)
        results = [_scan(context, warehouse, home, period, _report_files(home.reports / period), forbidden)
                   for period in periods]
        result = {"files_scanned": sum(r["files_scanned"] for r in results),
                  "findings": [f for r in results for f in r["findings"]]}
        result["passed"] = not result["findings"]
        _write_scan(warehouse, day, result)
        scanned += result["files_scanned"]
        subjects += sum(r["subjects_scanned"] for r in results)
        findings += [f"{day:%Y-%m}: {f}" for f in result["findings"]]
        values = max(values, sum(len(v) for v in forbidden.values()))
    return dg.MaterializeResult(
        metadata={"files_scanned": scanned, "subjects_scanned": subjects, "findings": len(findings),
                  "values_checked": values, "months": len(context.partition_keys)},
        check_results=[dg.AssetCheckResult(
            check_name="no_personal_data", passed=not findings, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"files_scanned": scanned, "findings": "\n".join(findings[:50]) or "none"})])


def _write_scan(warehouse: WarehouseResource, day: dt.date, result: dict) -> None:
    from assets.factory import write_mart

    frame = pd.DataFrame([{"month_end": day, "files_scanned": result["files_scanned"], "passed": result["passed"],
                           "findings": "\n".join(result["findings"]), "scanned_at": _now()}])
    write_mart(warehouse, "report_leak_scans", frame, {"month_end": day})


def _leak_scan_of(warehouse: WarehouseResource, day: dt.date) -> dict | None:
    from assets.factory import month_rows

    rows = month_rows(warehouse, "report_leak_scans", day, [])
    if rows.empty:
        return None
    r = rows.iloc[0]
    return {"files_scanned": int(r["files_scanned"]), "passed": bool(r["passed"]),
            "findings": [f for f in str(r["findings"] or "").split("\n") if f]}


@month_end_asset(
    "reports",
    "data_quality",
    deps=[LEAK_SCAN_KEY, dg.AssetKey(["dq", "arrivals"]), dg.AssetKey(["staged", "staff"])],
    kinds=("python", "pdf", "html"),
    description="The auditors' monthly data-quality report: files expected, arrived, late, rejected; control "
    "totals; rule pass rates with their trend; quarantine by rule; masking evidence (policy version, key "
    "versions, the month's report leak scan); raw-zone purges. Rendered once, mailed to every auditor.",
)
def data_quality(context: dg.AssetExecutionContext, config: RenderConfig, crm_home: CrmHomeResource,
                 warehouse: WarehouseResource, privacy: PrivacyResource, delivery: DeliveryResource):
    from crm.privacy.policy import load_policy
    from crm.reports.dq import dq_context, is_empty
    from crm.reports.plan import complete, dq_plan
    from crm.reports.recipients import servable

    home = crm_home.home()
    meta: dict = {}
    ring = privacy.ring(context.log)
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        scan = _leak_scan_of(warehouse, day)
        with warehouse.transaction() as conn:
            ctx = dq_context(conn, day, policy_version=load_policy().version, key_versions=list(ring.keys),
                             leak_scan=scan, generated_at=_now())
        rows = 0 if is_empty(ctx) else 1
        everyone = _recipients(home, day)
        _log_incomplete(context, ctx["incomplete"])
        planned = complete(dq_plan(ctx, servable(everyone), home.reports, delivery.locale, rows), everyone,
                           ctx["incomplete"], period=month_period(day), reports={"data_quality": "data_quality"})
        meta = _render_and_queue(context, warehouse, delivery, planned, resend=config.resend)
    return dg.MaterializeResult(metadata=meta)


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
    check_specs=[dg.AssetCheckSpec("no_personal_data", asset=DQ_REPORT_SCAN_KEY, blocking=True,
                                   description="No personal value of the raw zone in the data-quality report.")],
)
def data_quality_leak_scan(context: dg.AssetExecutionContext, crm_home: CrmHomeResource,
                           warehouse: WarehouseResource):
    home = crm_home.home()
    scanned, findings = 0, []
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        period = month_period(day)
        files = _report_files(home.reports / period / "data_quality")
        result = _scan(context, warehouse, home, period, files, _forbidden(home, day), report="data_quality")
        scanned += result["files_scanned"]
        findings += [f"{day:%Y-%m}: {f}" for f in result["findings"]]
    return dg.MaterializeResult(
        metadata={"files_scanned": scanned, "findings": len(findings), "months": len(context.partition_keys)},
        check_results=[dg.AssetCheckResult(
            check_name="no_personal_data", passed=not findings, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"files_scanned": scanned, "findings": "\n".join(findings[:50]) or "none"})])


def _attachment_name(row) -> str:
    return f"{row.report}_{row.period}_{row.recipient_id}.pdf"


def _send(context, warehouse: WarehouseResource, delivery: DeliveryResource, home, day: dt.date,
          periods: list[str]) -> dict:
    from crm.delivery import SendGate, deliver, message_from_files
    from crm.reports.recipients import address_book

    book = address_book(home.raw, day)

    engine = warehouse.engine()  # deliver() commits each message's state on its own (sending, then sent)
    gate = SendGate(engine, warehouse.schema, home.reports)
    totals: dict = {"sent": 0, "failed": 0, "deferred": 0, "held": 0, "undeliverable": 0, "already_sent": 0,
                    "skipped_empty": 0}
    not_sent: dict[str, list[str]] = {"held": [], "undeliverable": []}
    try:
        for period in periods:
            s = deliver(engine, warehouse.schema, delivery.transport_for(home.outbox),
                        message_from_files(delivery.sender, book.get, gate=gate, pdf_filename=_attachment_name),
                        period=period, log=context.log)
            for k in totals:
                totals[k] += getattr(s, k)
            for f in s.failures:
                context.log.error(f"not delivered: {f}")
            not_sent["held"] += [str(h) for h in s.holds]
            not_sent["undeliverable"] += [str(u) for u in s.undeliverables]
    finally:
        engine.dispose()
    if not_sent["held"]:
        context.log.warning(f"{len(not_sent['held'])} messages held by the send gate (not sent; retried by the "
                            "next delivery once a passing leak scan covers them): " + "; ".join(not_sent["held"][:20]))
    if not_sent["undeliverable"]:
        context.log.warning(f"{len(not_sent['undeliverable'])} recipients undeliverable at send time: "
                            + "; ".join(not_sent["undeliverable"][:20]))
    totals["held_rows"] = dg.MetadataValue.md(_bullets(not_sent["held"]))
    totals["undeliverable_rows"] = dg.MetadataValue.md(_bullets(not_sent["undeliverable"]))
    return totals


def _bullets(lines: list[str], limit: int = 100) -> str:
    """A Markdown list for Dagster metadata (ids and reasons only), or "none"."""
    if not lines:
        return "none"
    more = f"\n- ... and {len(lines) - limit} more" if len(lines) > limit else ""
    return "\n".join(f"- {line}" for line in lines[:limit]) + more


@month_end_asset(
    "delivery",
    "monthly",
    deps=[dg.AssetKey(["reports", "portfolio"]), dg.AssetKey(["reports", "satisfaction_quarterly"]),
          dg.AssetKey(["reports", "data_quality"]), LEAK_SCAN_KEY, DQ_REPORT_SCAN_KEY, *_raw_keys("staff")],
    kinds=("python", "email"),
    tags={"crm/sends-email": "true"},
    description="Sends the month's (and a closing quarter's) queued reports: each message is marked sent only "
    "once the server (or the .eml writer) accepted it; 4xx replies and disconnects retry with backoff and stay "
    "queued, 5xx fail and are reported; a rerun sends nothing already sent. Addresses come from the raw staff "
    "extract at send time and are not stored. Runs only when the leak scan passed (blocking check).",
)
def monthly(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource,
            delivery: DeliveryResource):
    home = crm_home.home()
    meta: dict = {}
    for pk in context.partition_keys:
        day = business_date_for(pk, "month_end")
        periods = month_and_quarter(day)
        meta = _send(context, warehouse, delivery, home, day, periods)
        meta["periods"] = ", ".join(periods)
    if meta.get("failed"):
        raise RuntimeError(f"{meta['failed']} messages were refused by the mail server (5xx): see the log and the "
                           "report_outbox table; fix and rerun with the failed rows retried")
    return dg.MaterializeResult(metadata={**meta, "transport": delivery.transport})


WEEKLY_TAGS = {"layer": "reports", "sensitivity": "internal"}


@dg.asset(
    key=dg.AssetKey(["reports", "watch_digest"]),
    group_name="reports",
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetKey(["marts", "watch_list_weekly"]), dg.AssetKey(["staged", "staff"]),
          dg.AssetKey(["marts", "customer_360"])],
    kinds={"python", "pdf", "html"},
    owners=OWNERS,
    tags=WEEKLY_TAGS,
    description="The weekly early-warning digest per relationship manager (their own customers on the weekly "
    "watch list), HTML and PDF under CRM_HOME/reports/<YYYY-Www>/, queued in the outbox.",
)
def watch_digest(context: dg.AssetExecutionContext, config: RenderConfig, crm_home: CrmHomeResource,
                 warehouse: WarehouseResource, delivery: DeliveryResource):
    from assets.factory import latest_month_rows
    from crm.reports.plan import complete, digest_plan
    from crm.reports.recipients import servable
    from crm.warehouse.marts import read_table

    home = crm_home.home()
    meta: dict = {}
    for pk in context.partition_keys:
        day = week_end(pk)
        with warehouse.transaction() as conn:
            watch = read_table(conn, "watch_list_weekly", {"week_end": day})
        names = latest_month_rows(warehouse, "customer_360", day)
        names = names[["customer_id", "display_name"]] if len(names) else pd.DataFrame(
            columns=["customer_id", "display_name"])
        staff_day = _latest_staged_day(home, "staff", day)
        staff = read_staged(home.staged, "staff", staff_day)
        everyone = _recipients(home, staff_day, staff, branches=pd.DataFrame())  # no branch cut in a digest
        notice = _incomplete(warehouse, "week", day)
        _log_incomplete(context, notice)
        planned = complete(digest_plan(watch, names, staff, servable(everyone), day, home.reports, delivery.locale,
                                       _now()), everyone, notice, period=week_period(day),
                           reports={"watch_digest": "watch_digest"})
        meta = _render_and_queue(context, warehouse, delivery, planned, resend=config.resend)
    return dg.MaterializeResult(metadata=meta)


def _latest_staged_day(home, extract: str, day: dt.date) -> dt.date:
    """The business date of the staged partition of ``day``, or of the latest one before it."""
    return partition_date(latest_staged_file(home.staged, extract, day))


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
def weekly(context: dg.AssetExecutionContext, crm_home: CrmHomeResource, warehouse: WarehouseResource,
           delivery: DeliveryResource):
    home = crm_home.home()
    meta: dict = {}
    for pk in context.partition_keys:
        day = week_end(pk)
        raw_day = _latest_raw_day(home, day)
        period = week_period(day)
        scan = _scan(context, warehouse, home, period, _report_files(home.reports / period),
                     _forbidden(home, raw_day))
        if not scan["passed"]:
            raise RuntimeError("personal data found in the weekly digests; nothing sent: "
                               + "; ".join(scan["findings"][:10]))
        meta["files_scanned"] = scan["files_scanned"]
        meta.update(_send(context, warehouse, delivery, home, raw_day, [period]))
    if meta.get("failed"):
        raise RuntimeError(f"{meta['failed']} messages were refused by the mail server (5xx): see the log and the "
                           "report_outbox table")
    return dg.MaterializeResult(metadata={**meta, "transport": delivery.transport})


def _latest_raw_day(home, day: dt.date) -> dt.date:
    """The latest business date on or before ``day`` with a raw staff partition."""
    return partition_date(latest_raw_file(home.raw, "staff", day))


report_assets = [portfolio, satisfaction_quarterly, report_leak_scan, data_quality, data_quality_leak_scan, monthly]
weekly_report_assets = [watch_digest, weekly]
REPORT_KEYS = [a.key for a in report_assets]
WEEKLY_REPORT_KEYS = [a.key for a in weekly_report_assets]
