"""Free-text scrubbing throughput: :func:`crm.privacy.scrub.scrub_text` on synthetic visit notes.

    .venv/bin/python bench/scrub.py [--rows 500000] [--repeat 3] [--pii-rate 1.0]

Builds ``--rows`` managers' visit notes with the generator's own templates (:func:`crm.synthetic.texts.
visit_notes`: about 15% name the customer, about 8% carry a mobile, an ID number or a "customer X confirmed"
clause; ``--pii-rate`` scales the latter), each row with a tuple of 3 names (its customer's and two contacts'),
as staging passes them. Times, best of ``--repeat``: the patterns only (``names=None``), patterns and names,
and :func:`crm.privacy.scrub.names_by_customer` on a customers/contacts frame of the same size, then checks
that no planted mobile or ID number is left. Prints rows/s.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from crm.privacy.scrub import names_by_customer, scrub_text
from crm.synthetic import ids, texts, vocab
from crm.synthetic.rand import uniform

SEED = 20260313


def build(rows: int, pii_rate: float) -> tuple[pd.Series, pd.Series, pd.DataFrame, pd.DataFrame]:
    key = np.arange(rows, dtype=np.int64)
    u = [uniform(SEED, f"bench{i}", key) for i in range(8)]
    male = u[0] < 0.5
    name, _ = vocab.person_names(u[1], u[2], u[3], male)
    contact1, _ = vocab.person_names(u[2], u[3], u[1], ~male)
    contact2, _ = vocab.person_names(u[3], u[1], u[2], male)
    mobile = ids.mobiles(u[4], (u[5] * 1e8).astype(np.int64))
    idn = ids.id_numbers(
        np.full(rows, 330106),
        np.datetime64("1960-01-01") + (u[6] * 15000).astype("timedelta64[D]"),
        male,
        key,
    )
    purposes = np.asarray(list(texts.NOTES), dtype=object)
    purpose = purposes[np.minimum((u[7] * len(purposes)).astype(np.int64), len(purposes) - 1)]
    is_corp = u[0] > 0.9
    notes = texts.visit_notes(SEED, key, purpose, is_corp, name, mobile, idn, (u[5] * 90).astype(np.int64))
    if pii_rate != 1.0:  # more PII clauses: append one to a share of the rows
        extra = texts.pii_clause(SEED + 1, key, name, mobile, idn, 0.4, 0.3, 0.3)
        notes = np.where(uniform(SEED, "bench_extra", key) < (pii_rate - 1.0), notes + extra, notes)
    customer_id = ids.zero_pad("C", key, 12)
    customers = pd.DataFrame({"customer_id": customer_id, "customer_name": name})
    contacts = pd.DataFrame(
        {
            "customer_id": np.concatenate([customer_id, customer_id]),
            "contact_name": np.concatenate([contact1, contact2]),
        }
    )
    names = pd.Series(list(zip(name, contact1, contact2, strict=True)), dtype=object)
    return pd.Series(notes, dtype=object), names, customers, contacts


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pii-rate", type=float, default=1.0, help=">1 appends PII clauses to (rate-1) of the rows")
    a = ap.parse_args()
    t0 = time.perf_counter()
    notes, names, customers, contacts = build(a.rows, a.pii_rate)
    print(f"built {len(notes):,} notes in {time.perf_counter() - t0:.1f}s; cpus={os.cpu_count()}")
    planted = notes.str.contains(r"\d{11}", regex=True).sum()
    named = int(sum(n[0] in t for t, n in zip(notes.iloc[:20000], names.iloc[:20000], strict=True)))
    print(f"rows with an 11+ digit run: {planted:,}; rows naming their customer (first 20k): {named:,}")
    print(f"{'step':34s} {'seconds':>8s} {'rows/s':>12s}")
    s_pat, out = best(lambda: scrub_text(notes), a.repeat)
    print(f"{'scrub_text patterns only':34s} {s_pat:8.2f} {len(notes) / s_pat:12,.0f}")
    s_all, out = best(lambda: scrub_text(notes, names), a.repeat)
    print(f"{'scrub_text patterns + 3 names/row':34s} {s_all:8.2f} {len(notes) / s_all:12,.0f}")
    s_nbc, by = best(lambda: names_by_customer(customers, None, contacts), a.repeat)
    print(f"{'names_by_customer':34s} {s_nbc:8.2f} {len(customers) / s_nbc:12,.0f}")
    left = out.str.contains(r"\d{11}", regex=True).sum()
    leaked_names = int(sum(n[0] in t for t, n in zip(out.iloc[:20000], names.iloc[:20000], strict=True)))
    print(f"left after scrubbing: 11+ digit runs {left}, customer names (first 20k) {leaked_names}")
    assert left == 0 and leaked_names == 0
    assert len(by) == len(customers)


if __name__ == "__main__":
    main()
