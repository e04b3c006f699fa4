"""The figures of the synthetic bank's service histories (issue 20; docs/synthetic.md "Service histories,
value-added services and referrals"): bands, value-added services and regular contacts a year per band, stage
actions' timing, the green channel, referrals and their promoters. Prints JSON.

    .venv/bin/python bench/synthetic_service.py [--customers 2000] [--seed 42] [--year 2025]

Builds the bank for the year (no file written) and reads the generator's own functions and its truth
(crm.synthetic.service_truth), so a pipeline bench can compare what it finds with these figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def figures(customers: int, seed: int, year: int) -> dict:
    import numpy as np
    import pandas as pd

    from crm.synthetic import cal, events, service
    from crm.synthetic import service_truth as T
    from crm.synthetic.bank import Bank

    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    t0 = time.perf_counter()
    bank = Bank(seed, customers, start, end)
    c, p = bank.c, service.plan(bank)
    days = range(cal.day(start), cal.day(end) + 1)
    parts = []
    for d in days:  # a loop over the year's days
        iv = bank.interactions(d)
        parts.append(pd.DataFrame({"row": iv.rows, "seq": iv.seq, "purpose": iv.purpose}))
    iv = pd.concat(parts, ignore_index=True)
    stable = (c.onboard < days[0]) & (c.t_churn > days[-1])
    vas = iv[iv.purpose.isin(service.VAS_PURPOSES)]
    per_vas = np.bincount(vas.row, minlength=len(c.uid))
    per_regular = np.bincount(iv.row[iv.seq < 4], minlength=len(c.uid))
    out: dict = {"customers": int(len(c.uid)), "bands": np.bincount(p.band, minlength=3).tolist()}
    out["interactions"] = {k: int(v) for k, v in iv.purpose.value_counts().items()}
    for band in (1, 2):
        for short in (False, True):
            m = stable & (p.band == band) & (p.vas_short == short)
            out[f"vas_a_year_band{band}{'_shortfall' if short else ''}"] = [int(m.sum()), round(per_vas[m].mean(), 2)]
    for name, m in (
        ("band1", (p.band == 1) & ~p.under),
        ("band2", (p.band == 2) & ~p.under),
        ("under_contacted", (p.band > 0) & p.under),
        ("others", p.band == 0),
    ):
        out[f"regular_contacts_a_year_{name}"] = round(per_regular[m & stable].mean(), 2)
    sa = T.stage_actions(bank, dt.date(year - 1, 1, 1), dt.date(year, 10, 31))
    on_time = sa.done_date.notna() & (sa.done_date <= sa.due_date)
    late = sa.done_date.notna() & (sa.done_date > sa.due_date)
    for action, g in sa.groupby("action"):
        out[f"stage_{action}"] = {
            "triggers": len(g),
            "on_time": round(on_time[g.index].mean(), 3),
            "late": round(late[g.index].mean(), 3),
        }
    o = [events.sr_openings(bank, d) for d in days]
    green = np.concatenate([x.green for x in o])
    band = np.concatenate([p.band[x.rows] for x in o])
    resp = np.concatenate([x.resp_ratio for x in o])
    res = np.concatenate([x.res_ratio for x in o])
    for name, m in (("green", green), ("banded_not_green", (band > 0) & ~green), ("others", band == 0)):
        out[f"requests_{name}"] = {
            "n": int(m.sum()),
            "median_response_to_sla": round(float(np.median(resp[m])), 3) if m.any() else None,
            "response_breach": round(float((resp[m] > 1).mean()), 3) if m.any() else None,
            "resolution_breach": round(float((res[m] > 1).mean()), 3) if m.any() else None,
        }
    rf = T.referrals(bank, dt.date(year - 10, 1, 1), end)
    out["referred_share"] = round(float(p.referred.mean()), 3)
    out["referrals"] = len(rf)
    out[f"referrals_{year}"] = int((rf.referral_date >= pd.Timestamp(start)).sum())
    out["referrer_promoter_share"] = round(float(rf.referrer_is_promoter.mean()), 3)
    out["promoter_share"] = round(float(T.promoters(bank).mean()), 3)
    for seg, m in (("corporates", c.is_corp), ("individuals", ~c.is_corp)):
        ratio = np.median(c.dep_level[m & p.referred]) / np.median(c.dep_level[m & ~p.referred])
        out[f"referred_deposit_level_median_ratio_{seg}"] = round(float(ratio), 2)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--year", type=int, default=2025)
    a = ap.parse_args()
    print(json.dumps(figures(a.customers, a.seed, a.year), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
