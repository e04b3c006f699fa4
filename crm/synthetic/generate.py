"""``generate``: write a synthetic core bank's extracts for every calendar day of a range.

Layout: ``OUT/<YYYYMMDD>/<FILE>_<YYYYMMDD>_001.dat`` and ``.ok`` per extract and day (month-end extracts on
month-end days only), ``OUT/manifest.json`` and, with defects, ``OUT/defects.csv``. Files and flags carry the
time the bank's transfer would have delivered them (the night after the business date) as their
modification time, so the arrival register sees them on time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pandas as pd

from crm import contract
from crm.bank_calendar import BANK_TZ
from crm.synthetic import cal, defects, params
from crm.synthetic import extracts as X
from crm.synthetic.bank import Bank
from crm.synthetic.rand import rng
from crm.synthetic.writer import write_chunks
from crm.zones import landing_name

# Delta extracts whose records the value assessment sums (or whose latest record it reads): in a
# month-ends-only bank each written file carries every record since the previous written date.
CARRIED_DELTAS = ("fee_ledger", "interactions", "service_requests", "bureau_records", "opportunities", "referrals")
# carried deltas whose records state something's latest state: one record per key of the period, the last
LATEST_STATE = {"service_requests": "request_id", "opportunities": "opportunity_id"}


def _files(start: dt.date, end: dt.date, month_ends_only: bool = False) -> list[tuple[dt.date, str]]:
    out = []
    d = start
    while d <= end:
        month_end = cal.is_month_end(d)
        if month_ends_only and not month_end:
            d += dt.timedelta(days=1)
            continue
        for e in contract.EXTRACTS:
            if e.sent_on(d) and (e.cadence == "daily" or month_end):
                out.append((d, e.name))
        d += dt.timedelta(days=1)
    return out


def _chunks(bank: Bank, name: str, t: int, first: bool, since: int | None = None):
    """The frames of extract ``name``'s file of day ``t``; ``first``: the extract's first file of the range,
    which carries the initial load where the extract has one; ``since``: (month-ends-only banks) the first day
    whose records a carried delta (``CARRIED_DELTAS``) includes."""
    if name == "loan_performance":
        yield from X.loan_performance(bank, t, first)
    elif name == "financial_statements":
        yield X.financial_statements(bank, t, first)
    elif name == "deposit_balances":
        yield from X.deposit_balances(bank, t, first)
    elif name == "txn_monthly":
        yield from X.txn_monthly(bank, t, first)
    elif name == "fee_ledger":
        yield from X.fee_ledger(bank, t, first, since)
    elif name == "bureau_records":
        yield from X.bureau_records(bank, t, first, since)
    elif since is not None and since < t and name in CARRIED_DELTAS:
        frames = [X.DAILY[name](bank, d) for d in range(since, t + 1)]
        df = pd.concat([f for f in frames if len(f)] or frames[-1:], ignore_index=True)
        if name in LATEST_STATE:  # a request's or an opportunity's latest state of the period
            df = df.drop_duplicates(LATEST_STATE[name], keep="last").reset_index(drop=True)
        yield df
    else:
        yield X.DAILY[name](bank, t)


def _with_row_defects(chunks, ex, rate: float, g, file_name: str, day: dt.date, sink: list):
    """Inject row-level defects chunk by chunk, numbering records across chunks."""
    offset = 0
    for df in chunks:
        df, listing = defects.inject_rows(df, ex, rate, g, file_name=file_name, business_date=day, offset=offset)
        sink.append(listing)
        offset += len(df)
        yield df


def arrival_time(day: dt.date, g) -> dt.datetime:
    """When the bank's transfer delivers a business date's file: the next night, 00:30 to 04:30 bank time
    (Asia/Shanghai), well before the platform's default 08:00 cut-off."""
    minutes = int(g.integers(30, 270))
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=BANK_TZ) + dt.timedelta(minutes=minutes)


def _stamp_arrival(path: Path, day: dt.date, g) -> None:
    """Set the file's and its flag's modification time to the simulated arrival (the arrival register reads
    the flag's time), unless that lies in the future."""
    at = arrival_time(day, g).timestamp()
    if at > time.time():
        return
    for p in (path, path.with_suffix(".ok")):
        if p.exists():
            os.utime(p, (at, at))


def generate(
    out: Path,
    *,
    customers: int,
    start: dt.date,
    end: dt.date,
    seed: int = 42,
    encoding: str = "utf-8",
    defect_rate: float = 0.0,
    progress: bool = False,
    month_ends_only: bool = False,
    history_months: int = params.VALUE_HISTORY_MONTHS,
    masking_key=None,
    holdout_share: float | None = None,
    holdout_salt: str | None = None,
) -> dict:
    """Generate the bank's extracts for every calendar day in [start, end] (``month_ends_only``: for the month
    ends only, the carried deltas covering every day since the previous one). ``history_months``: the initial
    loads' months of deposit balances, transaction aggregates and bureau pulls. ``masking_key``: the key ring
    the pipeline will tokenise customers with (a ``crm.privacy.tokens.KeyRing`` or a spec ``load_ring`` takes),
    so the front office holds out the customers the pipeline's proposals hold out; without it a fixed
    generator ring, whose split the pipeline's does not match. ``holdout_share`` / ``holdout_salt``: override
    ``[proposals.holdout]`` of the playbook configuration. Returns a summary."""
    if end < start:
        raise ValueError("end is before start")
    if history_months < 0:
        raise ValueError("history_months must be >= 0")
    if customers < 10:
        raise ValueError("at least 10 customers")
    if not 0.0 <= defect_rate <= 1.0:
        raise ValueError("defect_rate must be within [0, 1]")
    encoding = encoding.lower().replace("_", "-")
    if encoding not in ("utf-8", "gb18030"):
        raise ValueError("encoding must be utf-8 or gb18030")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    bank = Bank(
        seed,
        customers,
        start,
        end,
        history_months=history_months,
        masking_key=masking_key,
        holdout_share=holdout_share,
        holdout_salt=holdout_salt,
    )
    files = _files(start, end, month_ends_only)
    written = sorted({d for d, _ in files})
    since_of = {d: cal.day(p) + 1 for p, d in zip([start - dt.timedelta(days=1)] + written[:-1], written, strict=True)}
    plan = defects.plan_files(files, defect_rate, seed)
    first_me = next((d for d, n in files if n == "loan_performance"), None)
    first_file: dict[str, dt.date] = {}
    for d, n in files:
        first_file.setdefault(n, d)
    rows_per_extract = {e.name: 0 for e in contract.EXTRACTS}
    manifest_files = []
    found: list = []  # defect listings (DataFrames), one per file
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), unit="file", desc="generating")
    for d, name in files:  # a loop over days and extracts
        ex = contract.get(name)
        t = cal.day(d)
        folder = out / landing_name(d)
        file_name = ex.file_name(d.isoformat(), 1)
        file_kind = plan.get((d, name))
        file_defects: list = []
        chunks = _chunks(bank, name, t, d == first_file[name], since_of[d] if month_ends_only else None)
        if defect_rate > 0 and file_kind is None:
            chunks = _with_row_defects(
                chunks, ex, defect_rate, rng(seed, "defects", "rows", name, t), file_name, d, file_defects
            )
        # a file to corrupt gets its .ok only once corrupted (the bank's transfer believed it complete)
        path, n = write_chunks(chunks, ex, d, folder, encoding=encoding, write_ok=file_kind is None)
        if file_kind is not None:
            file_defects.append(defects.apply_file(path, ex, file_kind, n, rng(seed, "defects", "file", name, t), d))
            path.with_suffix(".ok").touch()
        _stamp_arrival(path, d, rng(seed, "arrival", name, t))
        listing = pd.concat(file_defects, ignore_index=True) if file_defects else None
        if listing is not None:
            found.append(listing)
        rows_per_extract[name] += n
        manifest_files.append(
            {
                "file": f"{d.strftime('%Y%m%d')}/{path.name}",
                "extract": name,
                "business_date": d.isoformat(),
                "records": n,
                "file_defect": listing["kind"].iloc[-1] if file_kind is not None else None,
                "row_defects": int(listing["kind"].isin(defects.ROW_KINDS).sum()) if listing is not None else 0,
            }
        )
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{d.isoformat()} {name}")
    if bar is not None:
        bar.close()
    counts = pd.concat(found, ignore_index=True)["kind"].value_counts() if found else pd.Series(dtype=int)
    defect_counts = {k: int(counts.get(k, 0)) for k in defects.ROW_KINDS + defects.FILE_KINDS}
    if defect_rate > 0:
        defects.write_csv(out / "defects.csv", found)
    elif (out / "defects.csv").exists():  # left by an earlier run into the same folder
        (out / "defects.csv").unlink()
    summary = {
        "out": str(out),
        "customers": customers,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "seed": seed,
        "encoding": encoding,
        "defect_rate": defect_rate,
        "business_dates": len(written),
        "month_ends_only": month_ends_only,
        "history_months": history_months,
        "files": len(files),
        "rows": rows_per_extract,
        "defects": defect_counts if defect_rate > 0 else {},
        "customers_in_universe": int(len(bank.c.uid)),
    }
    manifest = {
        "generator": "crm.synthetic",
        "generator_version": params.GENERATOR_VERSION,
        "parameters": {
            "customers": customers,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "seed": seed,
            "encoding": encoding,
            "defect_rate": defect_rate,
            "month_ends_only": month_ends_only,
            "history_months": history_months,
            "holdout_share": bank.holdout_share,
            "holdout_salt": bank.holdout_salt,
            "masking_key": "given" if masking_key is not None else "generator ring",
        },
        "reference_date": params.REFERENCE_DATE.isoformat(),
        "first_month_end": first_me.isoformat() if first_me else None,
        "rows": rows_per_extract,
        "defects": summary["defects"],
        "files": manifest_files,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return summary
