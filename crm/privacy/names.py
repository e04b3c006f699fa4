"""The personal names free text must lose, read from the raw zone of a business date: the customer's, the
legal representative's and the contacts' (:data:`crm.privacy.scrub.NAME_SOURCES`), and a row's own name
columns (a transaction's counterparty). Staging and the re-tokenisation after a key rotation look them up
the same way (:func:`row_names`) before :func:`crm.privacy.apply.protect` scrubs the text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from crm.privacy.scrub import NAME_SOURCES, merge_names, names_by_customer
from crm.zones import raw_file

# extract -> the columns read from its raw partition: the customer and the name
SCRUB_NAME_SOURCES = {extract: ["customer_id", column] for extract, column in NAME_SOURCES}


def load_names(raw: Path, day: dt.date, customer_ids=None) -> pd.Series | None:
    """customer_id -> the personal names free text about that customer must lose (the customer's, the legal
    representative's and the contacts'), from the raw zone of the business date; only for ``customer_ids``
    when given (a day's notes name a few thousand customers, not the million); None if no source is there."""
    wanted = None if customer_ids is None else pa.array(pd.unique(pd.Series(customer_ids).dropna()), pa.string())
    frames = {}
    for name, cols in SCRUB_NAME_SOURCES.items():
        path = raw_file(raw, name, day)
        if not path.exists():
            frames[name] = pd.DataFrame(columns=cols)
            continue
        table = pq.read_table(path, columns=cols)
        if wanted is not None:
            table = table.filter(pc.is_in(table.column("customer_id").cast(pa.string()), value_set=wanted))
        frames[name] = table.to_pandas()
    if all(f.empty for f in frames.values()):
        return None
    return names_by_customer(frames["customers"], frames["corporates"], frames["contacts"])


def needs_names(extract: str) -> bool:
    """Whether ``extract`` has free text to scrub (a column the privacy policy treats ``scrub``)."""
    from crm.privacy.policy import load_policy

    return any(p.treatment == "scrub" for p in load_policy().for_extract(extract).values())


def row_names(frame: pd.DataFrame, extract: str, raw: Path, day: dt.date) -> pd.Series | None:
    """Per row of ``frame``, the personal names its free text must lose: those of its customer (see
    :func:`load_names`) and the row's own name columns (a transaction's counterparty). None when the extract
    has no free text to scrub."""
    from crm.contract import BY_NAME

    if not needs_names(extract):
        return None
    parts = []
    if "customer_id" in frame.columns:
        by_customer = load_names(raw, day, frame["customer_id"])
        if by_customer is not None:
            parts.append(frame["customer_id"].map(by_customer))
    parts += [frame[c.name] for c in BY_NAME[extract].columns if c.semantic == "person_name"]
    return merge_names(*parts) if parts else None
