"""``python -m crm.synthetic --out DIR --customers N --start D1 --end D2 [--seed S] [--encoding E] [--defect-rate R]
[--month-ends-only] [--history-months N] [--masking-key SPEC] [--holdout-share S] [--holdout-salt SALT]``"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from crm.synthetic import generate, params


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m crm.synthetic", description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--start", type=dt.date.fromisoformat, required=True)
    ap.add_argument("--end", type=dt.date.fromisoformat, required=True)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--encoding", choices=["utf-8", "gb18030"], default="utf-8")
    ap.add_argument("--defect-rate", type=float, default=0.0)
    ap.add_argument("--month-ends-only", action="store_true", help="write the month ends only")
    ap.add_argument("--history-months", type=int, default=params.VALUE_HISTORY_MONTHS)
    ap.add_argument(
        "--masking-key",
        help="the pipeline's key ring (a key file or 64+ hex digits) so the front office holds out the customers "
        "the pipeline's proposals hold out; default: a fixed generator ring (the split will not match)",
    )
    ap.add_argument("--holdout-share", type=float, help="override [proposals.holdout] share")
    ap.add_argument("--holdout-salt", help="override [proposals.holdout] salt")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    summary = generate(
        Path(args.out),
        customers=args.customers,
        start=args.start,
        end=args.end,
        seed=args.seed,
        encoding=args.encoding,
        defect_rate=args.defect_rate,
        progress=not args.quiet,
        month_ends_only=args.month_ends_only,
        history_months=args.history_months,
        masking_key=args.masking_key,
        holdout_share=args.holdout_share,
        holdout_salt=args.holdout_salt,
    )
    summary["seconds"] = round(time.perf_counter() - t, 1)
    print(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
