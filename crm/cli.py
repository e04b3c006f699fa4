"""The ``crm`` command: generate a synthetic bank, run the pipeline, open the Dagster UI (the ``crm scorecard``
commands are in :mod:`crm.cli_scorecard`, the ``crm figures`` commands in :mod:`crm.cli_figures`)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import click

from crm.cli_figures import figures
from crm.cli_scorecard import scorecard
from crm.zones import CrmHome


def _date(_ctx, _param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("expected YYYY-MM-DD") from None


@click.group()
@click.option("--home", envvar="CRM_HOME", default="data", show_default=True, help="CRM_HOME folder.")
@click.pass_context
def main(ctx: click.Context, home: str) -> None:
    """credit-crm: batch data platform for credit customer-relationship management."""
    os.environ["CRM_HOME"] = str(Path(home).resolve())
    ctx.obj = CrmHome.from_env()


@main.command()
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Landing folder to write into.")
@click.option("--customers", type=click.IntRange(min=10), default=2000, show_default=True)
@click.option("--start", callback=_date, required=True, help="First business date, YYYY-MM-DD.")
@click.option("--end", callback=_date, required=True, help="Last business date, YYYY-MM-DD.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--encoding", type=click.Choice(["utf-8", "gb18030"]), default="utf-8", show_default=True)
@click.option(
    "--defect-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of rows (and files) given a real defect, listed in defects.csv.",
)
@click.option("--month-ends-only", is_flag=True, help="Write the month ends only (deltas carry the days between).")
@click.option(
    "--history-months",
    type=click.IntRange(min=0),
    default=24,
    show_default=True,
    help="Months of history in the initial loads of deposit balances, transaction aggregates and bureau pulls.",
)
@click.option(
    "--masking-key",
    default=None,
    help="The pipeline's masking key ring (a key file or 64+ hex digits): the synthetic front office then holds "
    "out the customers the pipeline's proposals hold out. Default: a fixed generator ring (the split will not "
    "match and the measured uplift is about zero).",
)
def generate(out, customers, start, end, seed, encoding, defect_rate, month_ends_only, history_months, masking_key):
    """Write a deterministic synthetic core bank's extracts, with .ok flags, into OUT/<YYYYMMDD>/."""
    from crm.synthetic import generate as gen

    summary = gen(
        Path(out),
        customers=customers,
        start=start,
        end=end,
        seed=seed,
        encoding=encoding,
        defect_rate=defect_rate,
        progress=True,
        month_ends_only=month_ends_only,
        history_months=history_months,
        masking_key=masking_key,
    )
    click.echo(json.dumps(summary, ensure_ascii=False, indent=2, default=str))


def _print_runs(summaries) -> bool:
    ok = True
    for s in summaries:
        if not s.success:
            state = "FAILED"
        elif s.failed_checks:
            state = "checks failed"
        else:
            state = "succeeded with warnings" if s.warned_checks else "succeeded"
        click.echo(f"  {s.job} {s.first_partition}..{s.last_partition}: {state}  (run {s.run_id})")
        for step in s.failed_steps:
            click.echo(f"    failed step: {step}")
        for check in s.failed_checks:
            click.echo(f"    failed check (error): {check}")
        for check in s.warned_checks:
            click.echo(f"    failed check (warning): {check}")
        ok = ok and s.success and not s.failed_checks
    return ok


@main.command()
@click.option("--date", "day", callback=_date, help="One business date, YYYY-MM-DD.")
@click.option("--from", "first", callback=_date, help="First business date of a range.")
@click.option("--to", "last", callback=_date, help="Last business date of a range.")
@click.pass_obj
def run(home: CrmHome, day, first, last):
    """Materialise everything built so far for business dates, in the local Dagster instance."""
    if day and (first or last) or not day and not (first and last):
        raise click.UsageError("give either --date D or both --from D1 --to D2")
    first, last = (day, day) if day else (first, last)
    from orchestration.runner import configure_dagster_home, run_dates

    configure_dagster_home()
    home.ensure()
    click.echo(f"running business dates {first}..{last} (CRM_HOME={home.root})")
    ok = _print_runs(run_dates(first, last))
    sys.exit(0 if ok else 1)


def demo_period(today: dt.date, months: int) -> tuple[dt.date, dt.date]:
    """The last ``months`` complete months before today whose reports the holiday file can date: a report shows
    its period's release time, the first working day after it (:func:`crm.bank_calendar.release_day`), so a
    month released in a year ``crm/holidays_cn.toml`` does not cover yet is left out (in January, before the
    new year's notice is added, the demo ends with November)."""
    from crm.bank_calendar import CalendarNotCovered, release_day

    end = today.replace(day=1) - dt.timedelta(days=1)
    for _ in range(24):
        try:
            release_day(end)
            break
        except CalendarNotCovered:
            end = end.replace(day=1) - dt.timedelta(days=1)
    else:
        raise click.ClickException("the holiday file crm/holidays_cn.toml covers none of the last 24 months")
    start = end.replace(day=1)
    for _ in range(months - 1):
        start = (start - dt.timedelta(days=1)).replace(day=1)
    return start, end


def _registry_summary(home: CrmHome) -> str:
    """Latest outcome per file in the ingest registry, counted by status."""
    import sqlalchemy as sa

    from crm.warehouse import begin, ingest_files, make_engine

    engine = make_engine(home.warehouse_url)
    try:
        with begin(engine) as conn:
            rows = conn.execute(
                sa.select(ingest_files.c.status, sa.func.count(sa.distinct(ingest_files.c.file_name)))
                .group_by(ingest_files.c.status)
                .order_by(ingest_files.c.status)
            ).all()
    finally:
        engine.dispose()
    return ", ".join(f"{n} {status}" for status, n in rows) or "none"


def _quality_summary(home: CrmHome) -> str:
    """Rows accepted and quarantined by the latest run of each extract and business date."""
    import sqlalchemy as sa

    from crm.warehouse import begin, dq_file_outcomes, make_engine

    t = dq_file_outcomes
    latest = (
        sa.select(t.c.extract, t.c.business_date, sa.func.max(t.c.recorded_at).label("at"))
        .group_by(t.c.extract, t.c.business_date)
        .subquery()
    )
    query = sa.select(sa.func.sum(t.c.parsed), sa.func.sum(t.c.accepted), sa.func.sum(t.c.quarantined)).join(
        latest,
        sa.and_(
            t.c.extract == latest.c.extract, t.c.business_date == latest.c.business_date, t.c.recorded_at == latest.c.at
        ),
    )
    engine = make_engine(home.warehouse_url)
    try:
        with begin(engine) as conn:
            parsed, accepted, quarantined = conn.execute(query).one()
    finally:
        engine.dispose()
    if not parsed:
        return "no rows validated"
    return f"{parsed:,} rows validated: {accepted:,} accepted, {quarantined:,} quarantined"


@main.command()
@click.option("--customers", type=click.IntRange(min=10), default=2000, show_default=True)
@click.option("--months", type=click.IntRange(1, 24), default=3, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.pass_obj
def demo(home: CrmHome, customers, months, seed):
    """Generate a small bank over the last few months into CRM_HOME/landing and run the pipeline."""
    from crm.synthetic import generate as gen
    from orchestration.runner import configure_dagster_home, run_dates

    dagster_home = configure_dagster_home()
    home.ensure()
    start, end = demo_period(dt.date.today(), months)
    # the key ring first: the bank's front office holds out the customers the pipeline will hold out
    ring, key_line = _demo_ring(home)
    params = {
        "customers": customers,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "seed": seed,
        "key_versions": sorted(ring.keys),
        "key_check": _ring_check(ring),
    }
    stamp = home.landing / "demo.json"
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        click.echo(f"demo bank already in {home.landing} ({customers} customers, {start}..{end})")
    else:
        click.echo(f"generating a demo bank: {customers} customers, business dates {start}..{end}")
        gen(home.landing, customers=customers, start=start, end=end, seed=seed, progress=True, masking_key=ring)
        stamp.write_text(json.dumps(params))
    click.echo(key_line)
    click.echo("running the pipeline")
    ok = _print_runs(run_dates(start, end))
    click.echo("")
    click.echo(f"files:       {_registry_summary(home)}")
    click.echo(f"quality:     {_quality_summary(home)}")
    click.echo(f"data:        {home.root}  (landing/, raw/, staged/, warehouse.duckdb)")
    click.echo(f"warehouse:   {home.warehouse_path}  (ingest_files: every file seen; dq_*: data-quality evidence)")
    click.echo(f"DQ site:     {home.dq / 'site' / 'index.html'}  (GX results, offline; dq/validations/: the JSON)")
    click.echo(f"reports:     {_files_summary(home.reports, ('.pdf',))} under {home.reports}/<period>/<report>/")
    click.echo(
        f"outbox:      {_files_summary(home.outbox, ('.eml',))} in {home.outbox} (the exact messages; "
        "CRM_SMTP_HOST sends them instead)"
    )
    click.echo(f"dagster:     instance {dagster_home}/dagster.yaml, storage {os.environ['CRM_DAGSTER_DIR']}")
    click.echo("Dagster UI:  run `.venv/bin/crm ui`, then open http://127.0.0.1:3000")
    sys.exit(0 if ok else 1)


def _files_summary(folder, suffixes) -> str:
    files = [p for p in folder.rglob("*") if p.suffix in suffixes] if folder.exists() else []
    return f"{len(files)} {'/'.join(s.lstrip('.') for s in suffixes)} files"


def _ring_location(home: CrmHome) -> tuple[str, Path | None]:
    """Where the key ring is: CRM_MASKING_KEY (a file path or an inline key), else the local key file."""
    from crm.privacy.tokens import LOCAL_KEY_FILE

    spec = os.environ.get("CRM_MASKING_KEY", "")
    if spec:
        path = Path(spec)
        return spec, path if path.is_file() else None
    path = home.root / LOCAL_KEY_FILE
    return str(path), path


def _demo_ring(home: CrmHome):
    """The key ring the pipeline will use (CRM_MASKING_KEY, else the local key file, created when absent) and
    the line that says where it is."""
    from crm.privacy.tokens import load_ring

    spec = os.environ.get("CRM_MASKING_KEY")
    line = _masking_key_line(home)
    if spec:
        return load_ring(spec), line
    from crm.privacy.tokens import LOCAL_KEY_FILE

    return load_ring(str(home.root / LOCAL_KEY_FILE)), line


def _ring_check(ring) -> str:
    """A short fingerprint of the ring (the demo regenerates its bank when the key changes); no key material."""
    import hashlib

    return hashlib.sha256(b"crm-demo-ring-check:" + ring.domain_key("customer")).hexdigest()[:12]


def _masking_key_line(home: CrmHome) -> str:
    from crm.privacy.tokens import ensure_local_ring

    if os.environ.get("CRM_MASKING_KEY"):
        return "masking key: from CRM_MASKING_KEY"
    _, path, created = ensure_local_ring(home.root)
    if created:
        return f"masking key: created a new local key file {path} (local only; production sets CRM_MASKING_KEY)"
    return f"masking key: {path}"


@main.group()
def privacy():
    """Masking keys and the raw zone's retention."""


@privacy.command("rotate-key")
@click.pass_obj
def rotate_key(home: CrmHome):
    """Add a new key version to the key ring, make it current, and re-tokenise every staged partition
    from the raw zone under it (partitions whose raw file was purged keep their old version)."""
    from crm.privacy.retention import retokenise
    from crm.privacy.tokens import load_ring, save_ring

    spec, path = _ring_location(home)
    if path is None or not path.is_file():
        raise click.ClickException(f"no key file to rotate at {spec} (an inline key cannot be rotated)")
    ring = load_ring(str(path)).rotated()
    save_ring(ring, path)
    click.echo(f"key ring {path}: new current version {ring.current} (versions: {', '.join(sorted(ring.keys))})")
    with click.progressbar(length=1, label="re-tokenising staged partitions") as bar:

        def progress(done, total):
            bar.length = total
            bar.update(1)

        counts = retokenise(home.raw, home.staged, ring, progress=progress)
    click.echo(f"re-tokenised {counts['partitions']} partitions, {counts['rows']:,} rows, under {ring.current}")


@privacy.command("purge")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=lambda: int(os.environ.get("CRM_RAW_RETENTION_DAYS") or 400),
    show_default="CRM_RAW_RETENTION_DAYS or 400",
    help="Keep this many days of raw data.",
)
@click.option("--dry-run", is_flag=True, help="List what would be purged, delete nothing.")
@click.pass_obj
def purge(home: CrmHome, days, dry_run):
    """Delete raw-zone partitions older than the retention period, recorded in raw_purges."""
    from crm.privacy.retention import purge_raw
    from crm.warehouse import begin, ensure_schema, make_engine

    engine = make_engine(os.environ.get("CRM_WAREHOUSE_URL") or home.warehouse_url)
    try:
        ensure_schema(engine)
        with begin(engine) as conn:
            purged = purge_raw(home.raw, days, conn=conn, run_id="cli", dry_run=dry_run)
    finally:
        engine.dispose()
    verb = "would purge" if dry_run else "purged"
    click.echo(
        f"{verb} {len(purged)} raw partitions ({int(purged['bytes'].sum()) if len(purged) else 0:,} bytes) "
        f"older than {days} days"
    )


@main.group()
def retention():
    """Retention of reports/, outbox/, dq/ and the Dagster run history (the raw zone: crm privacy purge)."""


@retention.command("purge")
@click.option(
    "--zone",
    "zones",
    multiple=True,
    type=click.Choice(["reports", "outbox", "dq", "dagster"]),
    help="Only these zones (repeatable). Default: all four.",
)
@click.option("--dry-run", is_flag=True, help="List what would be purged, delete and record nothing.")
@click.option("--today", callback=_date, help="Judge as of this date (YYYY-MM-DD; default: today, bank time).")
@click.pass_obj
def retention_purge(home: CrmHome, zones, dry_run, today):
    """Delete what is older than each zone's period (CRM_REPORTS_RETENTION_DAYS, CRM_OUTBOX_RETENTION_DAYS,
    CRM_DQ_RETENTION_DAYS, CRM_DAGSTER_RETENTION_DAYS), recorded in the warehouse table retention_purges."""
    from crm.bank_calendar import bank_today
    from crm.retention import DAGSTER, FILE_ZONES, purge_files, record, retention_days
    from crm.warehouse import begin, ensure_schema, make_engine

    try:
        days = retention_days()
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    zones = list(zones) or [*FILE_ZONES, DAGSTER]
    today = today or bank_today()
    engine = make_engine(os.environ.get("CRM_WAREHOUSE_URL") or home.warehouse_url)
    try:
        ensure_schema(engine)
        with begin(engine) as conn:
            rows = purge_files(
                home.root,
                days,
                today=today,
                conn=conn,
                run_id="cli",
                dry_run=dry_run,
                zones=[z for z in zones if z != DAGSTER],
            )
        summary = {z: (int((rows["zone"] == z).sum()), int(rows.loc[rows["zone"] == z, "bytes"].sum())) for z in zones}
        if DAGSTER in zones:
            import dagster as dg

            from orchestration.retention import purge_dagster_runs
            from orchestration.runner import configure_dagster_home

            configure_dagster_home()
            with dg.DagsterInstance.get() as instance:
                runs = purge_dagster_runs(instance, days[DAGSTER], today=today, dry_run=dry_run)
            if not dry_run:
                with begin(engine) as conn:
                    record(conn, runs, run_id="cli")
            summary[DAGSTER] = (len(runs), sum(r.bytes for r in runs))
    finally:
        engine.dispose()
    verb = "would purge" if dry_run else "purged"
    for zone in zones:
        n, size = summary[zone]
        click.echo(
            f"{zone}: {verb} {n} {'runs' if zone == DAGSTER else 'files'} ({size:,} bytes) judged older "
            f"than {days[zone]} days (as of {today})"
        )


@main.command("dq-site")
@click.pass_obj
def dq_site(home: CrmHome):
    """Rebuild the auditors' data-quality site (CRM_HOME/dq/site/) from every GX result stored in
    CRM_HOME/dq/validations/: every page, the manifest and the index (after an upgrade; the pipeline keeps
    the site up to date by itself)."""
    from crm.reports.dq_site import rebuild

    index = rebuild(home.dq)
    click.echo(f"data-quality site: {index}")


@main.group()
def reports():
    """Re-render a period's reports and compare their bytes with the outbox (auditors)."""


@reports.command("verify")
@click.option("--period", required=True, help="The period: YYYY-MM (month), YYYY-Qn (quarter) or YYYY-Www (week).")
@click.option("--report", "only", help="Only this report kind (key_account, branch, risk, data_quality ...).")
@click.option(
    "--locale", default=lambda: os.environ.get("CRM_REPORT_LOCALE", "zh_CN"), show_default="CRM_REPORT_LOCALE or zh_CN"
)
@click.option("--workers", type=int, default=None, help="Rendering processes (default: one per core).")
@click.pass_obj
def reports_verify(home: CrmHome, period, only, locale, workers):
    """Render PERIOD again, into a temporary folder, from the warehouse as it is now, and compare each
    rendering's SHA-256 with the outbox's content_sha256 of the same report and recipient. Prints one line
    per outbox row and a summary; exits 1 when any rendering differs (docs/auditors.md, "Re-checking a
    period's reports")."""
    from crm.privacy.policy import load_policy
    from crm.privacy.tokens import LOCAL_KEY_FILE, load_ring
    from crm.reports.periods import NoData
    from crm.reports.verify import OK, summary, verify_period
    from crm.warehouse import begin, make_engine

    spec = os.environ.get("CRM_MASKING_KEY", "") or str(home.root / LOCAL_KEY_FILE)
    if not os.environ.get("CRM_MASKING_KEY") and not (home.root / LOCAL_KEY_FILE).is_file():
        raise click.ClickException("no masking key: set CRM_MASKING_KEY (the key versions are part of the report)")
    ring = load_ring(spec)
    engine = make_engine(os.environ.get("CRM_WAREHOUSE_URL") or home.warehouse_url)
    try:
        verdicts = verify_period(
            home,
            lambda: begin(engine),
            period,
            locale,
            policy_version=load_policy().version,
            key_versions=list(ring.keys),
            workers=workers,
            only=only,
        )
    except (ValueError, NoData) as e:
        raise click.ClickException(str(e)) from None
    finally:
        engine.dispose()
    for v in verdicts:
        shown = (v.rendered_sha256 or "-")[:16]
        click.echo(f"{v.verdict:<15} {v.report:<22} {v.period:<9} {v.recipient_id:<12} {shown}")
    counts = summary(verdicts)
    click.echo(", ".join(f"{k}: {n}" for k, n in counts.items() if n) or "no outbox rows for this period")
    if any(v.verdict not in OK for v in verdicts):
        raise SystemExit(1)


@main.group()
def contract():
    """The extract contract."""


@contract.command("docs")
@click.option("--out", type=click.Path(dir_okay=False), default="docs/contract.md", show_default=True)
def contract_docs(out):
    """Render the extract contract as Markdown for the bank's IT team."""
    from crm.contract.docs import render_markdown

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(render_markdown(), encoding="utf-8")
    click.echo(f"wrote {out}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True)
@click.pass_obj
def ui(home: CrmHome, host, port):
    """Start the Dagster UI (dagster dev) on the same instance the CLI runs land in."""
    from orchestration.runner import REPO_ROOT, configure_dagster_home

    configure_dagster_home()
    home.ensure()
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent)) or "dagster"
    os.chdir(REPO_ROOT)
    # started in the background by a script, SIGINT may be inherited as ignored; dagster dev needs it
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execvp(dagster, [dagster, "dev", "-m", "orchestration.definitions", "-h", host, "-p", str(port)])


@main.command("render-worker")
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Rendering processes of this worker.",
)
@click.option("-n", "--name", default="render@%h", show_default=True, help="Worker name (%h: host name).")
@click.option("-Q", "--queue", default=None, help="Queue to take jobs from  [default: CRM_RENDER_QUEUE or crm-render]")
@click.option("-l", "--loglevel", default="INFO", show_default=True)
def render_worker(concurrency, name, queue, loglevel):
    """Start a Celery worker that renders reports (used when CRM_RENDER_BACKEND=celery)."""
    from crm.reports.celery_render import app, render_queue

    app.worker_main(
        [
            "worker",
            "-Q",
            queue or render_queue(),
            "-c",
            str(concurrency),
            "-n",
            name,
            "-l",
            loglevel,
            "--without-gossip",
            "--without-mingle",
        ]
    )


main.add_command(scorecard)
main.add_command(figures)


if __name__ == "__main__":  # pragma: no cover
    main()
