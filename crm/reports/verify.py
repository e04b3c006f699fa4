"""Re-render a period and compare its bytes with what the outbox recorded (``crm reports verify``).

An auditor re-checks a period years later: the same plans as the report run (:mod:`crm.reports.periods`),
built from the warehouse, the staged staff directory and the configuration as they are now, rendered into a
scratch folder (never over the delivered files), and each rendering's SHA-256 (its HTML bytes followed by its
PDF bytes, as :meth:`crm.delivery.OutboxItem.checksum` computes ``content_sha256``) compared with the outbox
row of the same (report, period, recipient): ``content_sha256`` (the bytes that generation sent) and
``latest_sha256`` (the latest render seen). A report is reproducible when the data, the configuration, the
masking key versions and the templates are those of the original run; a difference names what to look at
(a restated file, a changed template, a new holiday file, another key version).

Verdicts per outbox row: ``same`` (the re-render's hash equals ``content_sha256``), ``same_as_latest`` (equals
``latest_sha256`` only: a later render differs from what was sent), ``differs``, ``not_rendered`` (the plan
has no rendering for it now: empty, or the recipient left), ``not_in_outbox`` (a rendering the outbox has no
row for), ``no_hash`` (the row records no bytes: empty or undeliverable without a rendering).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from crm.bank_calendar import period_end
from crm.reports import periods
from crm.reports.periods import PeriodPlan, Transaction
from crm.zones import CrmHome

VERDICTS = ("same", "same_as_latest", "differs", "not_rendered", "not_in_outbox", "no_hash")
OK = ("same", "no_hash")


@dataclass(frozen=True)
class Verdict:
    report: str
    period: str
    recipient_id: str
    verdict: str
    outbox_sha256: str | None
    rendered_sha256: str | None


def period_plans(
    home: CrmHome,
    transaction: Transaction,
    period: str,
    locale: str,
    *,
    policy_version: str,
    key_versions: Sequence[str],
) -> list[PeriodPlan]:
    """The plans the report runs make for ``period``: a month (``YYYY-MM``) has the portfolio, risk and
    data-quality reports; a quarter (``YYYY-Qn``) the quarterly satisfaction report; a week (``YYYY-Www``)
    the watch digest. ``ValueError`` for a label that is none of these."""
    end = period_end(period)
    if end is None:
        raise ValueError(f"not a period label (YYYY-MM, YYYY-Qn, YYYY-Www): {period!r}")
    if "-W" in period:
        return [periods.digest(home, transaction, end, locale)]
    if "-Q" in period:
        plan = periods.quarterly(home, transaction, end, locale)
        return [plan] if plan else []
    return [
        periods.portfolio(home, transaction, end, locale),
        periods.risk(home, transaction, end, locale),
        periods.data_quality(home, transaction, end, locale, policy_version=policy_version, key_versions=key_versions),
    ]


def content_sha256(html_path: Path | None, pdf_path: Path | None) -> str:
    """The outbox's content hash of a rendering: SHA-256 of the HTML bytes followed by the PDF bytes."""
    h = hashlib.sha256()
    for p in (html_path, pdf_path):
        if p is not None:
            h.update(Path(p).read_bytes())
    return h.hexdigest()


def compare(
    plans: Iterable[PeriodPlan],
    outbox: Sequence[dict],
    render: Callable[[list], list],
    scratch: Path,
    reports_root: Path,
    only: str | None = None,
) -> list[Verdict]:
    """Render ``plans`` (``render``: the pool's ``render_many``) under ``scratch`` and compare every rendering
    with the ``outbox`` rows (dicts with report, period, recipient_id, content_sha256, latest_sha256) of the
    same key; ``only``: one report kind. The data-quality report is rendered once for every auditor: each
    auditor's row is compared with that one rendering."""
    from crm.reports.plan import BANK

    hashes: dict[tuple[str, str, str], str] = {}
    shared: dict[tuple[str, str], str] = {}
    for plan in plans:
        plan = periods.reroot(plan, scratch, reports_root)
        chosen = [p for p in plan.planned if only is None or p.report == only]
        jobs = [p.job for p in chosen if p.job is not None]
        results = {r.job_id: r for r in render(jobs)}
        for p in chosen:
            if p.job is None:
                continue
            r = results[p.job.job_id]
            if not r.ok:
                raise RuntimeError(f"{p.job.job_id} failed to render: {r.error}")
            sha = content_sha256(r.html_path, r.pdf_path)
            if p.recipient_id == BANK:
                shared[(p.report, p.period)] = sha
            hashes[(p.report, p.period, p.recipient_id)] = sha
    out: list[Verdict] = []
    seen = set()
    for row in sorted(outbox, key=lambda r: (r["report"], r["recipient_id"])):
        if only is not None and row["report"] != only:
            continue
        key = (row["report"], row["period"], row["recipient_id"])
        seen.add(key)
        mine = hashes.get(key) or shared.get(key[:2])
        sent, latest = row.get("content_sha256"), row.get("latest_sha256")
        if sent is None and latest is None:
            verdict = "no_hash"
        elif mine is None:
            verdict = "not_rendered"
        elif mine == sent:
            verdict = "same"
        elif mine == latest:
            verdict = "same_as_latest"
        else:
            verdict = "differs"
        out.append(Verdict(*key, verdict, sent, mine))
    for key, sha in sorted(hashes.items()):
        if key not in seen and key[2] != BANK:
            out.append(Verdict(*key, "not_in_outbox", None, sha))
    return out


def verify_period(
    home: CrmHome,
    transaction: Transaction,
    period: str,
    locale: str,
    *,
    policy_version: str,
    key_versions: Sequence[str],
    workers: int | None = None,
    only: str | None = None,
) -> list[Verdict]:
    """Re-render ``period`` into a temporary folder (deleted afterwards) and compare it with the outbox
    (:func:`compare`)."""
    import sqlalchemy as sa

    from crm.delivery.outbox import report_outbox
    from crm.reports.pool import render_many

    plans = period_plans(home, transaction, period, locale, policy_version=policy_version, key_versions=key_versions)
    t = report_outbox
    with transaction() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(t.c.report, t.c.period, t.c.recipient_id, t.c.content_sha256, t.c.latest_sha256).where(
                    t.c.period == period
                )
            )
        ]
    with tempfile.TemporaryDirectory(prefix="crm-verify-") as scratch:
        return compare(
            plans,
            rows,
            lambda jobs: render_many(jobs, workers=workers, desc="re-rendering"),
            Path(scratch),
            home.reports,
            only,
        )


def summary(verdicts: Sequence[Verdict]) -> dict[str, int]:
    """Count of each verdict."""
    out = dict.fromkeys(VERDICTS, 0)
    for v in verdicts:
        out[v.verdict] += 1
    return out
