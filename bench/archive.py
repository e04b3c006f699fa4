"""What the archive copy costs: the same report rendered as a plain PDF and as the PDF/A-3b archive copy
(tagged, its tables attached as CSV; crm/reports/archive.py), alternating, in one process.

    python bench/archive.py [--report dq|key_account] [-n 6]

Prints, per variant, the seconds per report (median and range over ``n`` renderings), pages and bytes. The
report is bench/reports.py's sample: the data-quality report of a synthetic month, or one manager's key-account
report.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _html(report: str) -> str:
    from bench.reports import REPORTS, sample_dq_context
    from crm.reports.render import render_html

    if report == "dq":
        return render_html("dq_report", sample_dq_context())
    import tempfile

    jobs = REPORTS[report](1, Path(tempfile.mkdtemp()), "zh_CN")
    ctx = jobs[0].context() if callable(jobs[0].context) else jobs[0].context
    return render_html(jobs[0].report, ctx)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--report", choices=["dq", "key_account"], default="dq")
    p.add_argument("-n", type=int, default=6, help="renderings per variant")
    args = p.parse_args(argv)
    from crm.reports.archive import csv_attachments
    from crm.reports.render import render_pdf_document, warm_up

    warm_up()
    html = _html(args.report)
    times: dict[str, list[float]] = {"plain": [], "archive": []}
    out: dict[str, tuple[int, int]] = {}
    for i in range(args.n * 2):
        variant = ("plain", "archive")[i % 2]
        start = time.perf_counter()
        pdf = render_pdf_document(html, archive=variant == "archive")
        times[variant].append(time.perf_counter() - start)
        out[variant] = (pdf.pages, len(pdf.data))
        print(f"  {variant:<8} {times[variant][-1]:6.2f} s", file=sys.stderr)
    print(f"report {args.report}: {len(csv_attachments(html))} tables attached")
    print("| variant | s/report (median) | min..max | pages | bytes |")
    print("| --- | --- | --- | --- | --- |")
    for v, ts in times.items():
        print(f"| {v} | {statistics.median(ts):.2f} | {min(ts):.2f}..{max(ts):.2f} | {out[v][0]} | {out[v][1]:,} |")
    ratio = statistics.median(times["archive"]) / statistics.median(times["plain"])
    print(f"archive / plain: {ratio:.2f}x")


if __name__ == "__main__":
    main()
