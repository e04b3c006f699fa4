"""Writing extract files through the ingest file format.

:func:`crm.ingest.fileformat.write_extract` takes an iterable of frames and streams them, so even the
initial-load loan performance history of a big bank (tens of millions of records) never has to be one
frame in memory. This wrapper counts the records as they pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from crm.contract import Extract
from crm.ingest import fileformat as ff


def write_chunks(
    chunks: Iterable[pd.DataFrame],
    extract: Extract,
    business_date: dt.date,
    out_dir: Path,
    *,
    sequence: int = 1,
    encoding: str = "utf-8",
    write_ok: bool = True,
) -> tuple[Path, int]:
    """Write the concatenation of ``chunks`` as one extract file (+ ``.ok`` unless ``write_ok`` is False).
    Returns (path, records)."""
    count = 0

    def counted():
        nonlocal count
        for df in chunks:
            count += len(df)
            yield df

    path = ff.write_extract(
        counted(), extract, business_date, Path(out_dir), sequence=sequence, encoding=encoding, write_ok=write_ok
    )
    return path, count
