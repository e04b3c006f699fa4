"""The churn model on the synthetic bank: out-of-time AUC and calibration against the naive baseline.

    .venv/bin/python bench/churn.py [--customers 2000] [--seed 7] [--out bench/out/churn] [--fresh]

Generates a month-ends-only bank (2025-01-31 .. 2026-11-30, 24 months of history in the first month-end
files: 47 month ends of deposit balances and monthly transactions), reads its extracts (raw: the same columns
as staged), builds the churn history as of the last month end (crm.playbook.churn.history_from_frames), the
labelled customer x month sample, the out-of-time split ([churn.validation]), fits the churn scorecard on the
training months and prints, for the test months: AUC, KS, Brier, calibration by band and decile, and the
naive rule "deposit balance fell 30% in 3 months" (AUC, Brier, recall, precision), with the numbers of
training and test months, rows and customers. ``--json`` prints the figures as JSON as well.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

START, END = dt.date(2025, 1, 31), dt.date(2026, 11, 30)
HISTORY = 24


def read_code(root: Path, code: str, until: dt.date | None = None):
    """Every file of extract ``code`` under the generated bank ``root`` (``_file_day`` added)."""
    import pandas as pd

    from crm import contract
    from crm.ingest.fileformat import read_extract

    ex = contract.BY_FILE_CODE[code]
    frames = []
    for day in sorted(p for p in root.iterdir() if p.is_dir()):
        when = dt.datetime.strptime(day.name, "%Y%m%d").date()
        if until is not None and when > until:
            continue
        for f in day.glob(f"{code}_{day.name}_*.dat"):
            frames.append(read_extract(f, ex).table.to_pandas().assign(_file_day=when))
    return pd.concat(frames, ignore_index=True) if frames else None


def history_from_bank(root: Path, as_of: dt.date):
    """The churn history of the generated bank at ``root`` as of ``as_of`` (files up to that day)."""
    from crm.playbook.churn import history_from_frames

    r = {
        c: read_code(root, c, as_of)
        for c in ("CUST_INDV", "CUST_CORP", "DEP_BAL", "TXN_MON", "LOAN_PERF", "HOLDING", "SVC_REQ", "SURVEY", "COVER")
    }
    last = {c: (f[f["_file_day"] == f["_file_day"].max()] if f is not None else None) for c, f in r.items()}
    status = []
    for c in ("CUST_INDV", "CUST_CORP"):
        f = r[c]
        status.append(f[["customer_id", "status"]].assign(month_end=f["_file_day"]))
    import pandas as pd

    req = r["SVC_REQ"]
    if req is not None:
        req = req.sort_values("_file_day", kind="stable").drop_duplicates("request_id", keep="last")
    return history_from_frames(
        deposit_balances=r["DEP_BAL"],
        txn_monthly=r["TXN_MON"],
        loan_performance=r["LOAN_PERF"],
        customers=last["CUST_INDV"],
        corporates=last["CUST_CORP"],
        status=pd.concat(status, ignore_index=True),
        holdings=last["HOLDING"],
        requests=req,
        requests_since=START.replace(day=1) if req is not None else None,
        surveys=r["SURVEY"],
        coverage=last["COVER"],
    )


def run(root: Path) -> dict:
    import pandas as pd

    from crm.playbook import load_config
    from crm.playbook.churn import (
        TARGET,
        bands,
        baseline_metrics,
        draw_customers,
        draw_history,
        evaluate,
        fit_churn_model,
        labelled_sample,
        time_split,
    )

    config = load_config()
    t0 = time.perf_counter()
    history = history_from_bank(root, END)
    t1 = time.perf_counter()
    limit = int(config["churn"]["max_customers"])
    sample = draw_customers(labelled_sample(draw_history(history, limit), config), limit)
    t2 = time.perf_counter()
    train, test, split = time_split(sample, config)
    model = fit_churn_model(train, config)
    t3 = time.perf_counter()
    scored = model.score(test)
    ev = evaluate(test[TARGET].to_numpy(), scored["pd"].to_numpy(), config)
    base = baseline_metrics(test, config)
    return {
        "split": split,
        "characteristics": model.features,
        "excluded": {k: v for k, v in model.excluded.items()},
        "in_time_holdout_auc": model.metrics.get("auc"),
        "oot": {k: v for k, v in ev.items() if k not in ("by_band", "by_decile")},
        "by_band": ev["by_band"].to_dict("records"),
        "by_decile": ev["by_decile"][["decile", "count", "predicted_pd", "observed_bad_rate"]].to_dict("records"),
        "baseline": base,
        "seconds": {"history": t1 - t0, "sample": t2 - t1, "fit": t3 - t2},
        "reasons_top": scored["reason_1"].value_counts().head(6).to_dict(),
        "reasons_listed": scored.loc[
            pd.Series(bands(scored["pd"], config), index=scored.index).isin(config["churn"]["list_bands"]), "reason_1"
        ]
        .value_counts()
        .head(6)
        .to_dict(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default="bench/out/churn")
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    root = Path(a.out) / f"bank_{a.customers}_{a.seed}"
    if a.fresh or not root.exists():
        from crm.synthetic import generate

        t = time.perf_counter()
        generate(
            root, customers=a.customers, start=START, end=END, seed=a.seed, history_months=HISTORY, month_ends_only=True
        )
        print(f"generated {a.customers} customers (seed {a.seed}) in {time.perf_counter() - t:.0f} s")
    res = run(root)
    s, o, b = res["split"], res["oot"], res["baseline"]
    print(
        f"training: {s['train_months']} observation months ({s['train_first']} .. {s['train_last']}), "
        f"{s['train_rows']} rows, {s['train_customers']} customers, churn rate {s['train_churn_rate']:.3f}"
    )
    print(
        f"test (out of time): {s['test_months']} months ({s['test_first']} .. {s['test_last']}), "
        f"{s['test_rows']} rows, {s['test_customers']} customers, churn rate {s['test_churn_rate']:.3f}"
    )
    print(f"characteristics: {', '.join(res['characteristics'])}")
    print(f"in-time hold-out AUC {res['in_time_holdout_auc']:.3f}")
    print(
        f"model    OOT AUC {o['auc']:.3f}  KS {o['ks']:.3f}  Brier {o['brier']:.4f}  "
        f"mean predicted {o['mean_predicted']:.3f} vs observed {o['observed_rate']:.3f}"
    )
    print(
        f"baseline OOT AUC {b['auc']:.3f}  Brier {b['brier']:.4f}  flagged {b['flagged_share']:.3f}  "
        f"recall {b['recall']:.3f}  precision {b['precision']:.3f}  (deposit balance fell 30% in 3 months)"
    )
    print("calibration by band (rows, predicted, observed):")
    for r in res["by_band"]:
        print(f"  {r['band']:<10} {r['rows']:>6}  {r['predicted']:.3f}  {r['observed']:.3f}")
    print("calibration by decile (rows, predicted, observed):")
    for r in res["by_decile"]:
        print(f"  {r['decile']:>2} {r['count']:>6}  {r['predicted_pd']:.3f}  {r['observed_bad_rate']:.3f}")
    print(f"first reasons on the test rows: {res['reasons_top']}")
    print(f"first reasons of the listed bands (high, very high): {res['reasons_listed']}")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in res["seconds"].items()))
    if a.json:
        print(json.dumps(res, default=str, indent=1))


if __name__ == "__main__":
    main()
