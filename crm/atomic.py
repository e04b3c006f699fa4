"""Writing a file so that readers see the old content or the new one, never a partial file: bytes
(:func:`write_bytes`), an Arrow table or a frame as Parquet (:func:`write_parquet`, :func:`write_frame`),
and row frames streamed piece by piece into one Parquet file (:class:`PartWriter`). Each writes a temporary
file beside the target (a name starting with ``.``, ending ``.tmp``), then renames it into place with
``os.replace``; on failure the temporary files are removed and the target is left as it was."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

# At most this many rows of a partition are held as pandas frames at once: staging validates up to this many
# together and splits a larger partition into pieces of about this size (crm.quality.stage), re-tokenisation
# reads a raw partition in batches of it (crm.privacy.retention); each piece goes through a PartWriter.
CHUNK_ROWS = 1_000_000


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, flushed to disk, then
    ``os.replace``; on any failure the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(table: pa.Table, target: Path, dictionary_columns: list[str] | bool = True) -> None:
    """Write an Arrow table to ``target`` through a temporary file and a rename (zstd), so a reader never
    sees a half-written partition. ``dictionary_columns``: Parquet dictionary encoding (all, or those)."""
    import pyarrow.parquet as pq

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=dictionary_columns)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_frame(df: pd.DataFrame, target: Path) -> None:
    """A frame as Parquet, atomically (:func:`write_parquet`)."""
    import pyarrow as pa

    write_parquet(pa.Table.from_pandas(df, preserve_index=False), target)


class PartWriter:
    """Row frames written piece by piece into one Parquet file at ``target``, published atomically.

    The pieces stream into a temporary file beside ``target`` under the first piece's schema, so a large
    partition is never held whole; :meth:`finish` renames it into place. A piece whose types do not fit that
    schema (a column all null in the first piece and filled in a later one) turns the pieces into separate
    files, streamed into one file under their unified schema at the end. :meth:`abort` removes the temporary
    files and leaves ``target`` as it was."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.parts: list[Path] = []  # closed temporary files
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None

    def _tmp(self, what: str) -> Path:
        return self.target.with_name(f".{self.target.stem}.{uuid.uuid4().hex}.{what}.tmp")

    def _open(self, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.parts.append(self._tmp(f"part{len(self.parts)}"))
        self.writer, self.schema = pq.ParquetWriter(self.parts[-1], schema, compression="zstd"), schema

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def add(self, df: pd.DataFrame) -> None:
        import pyarrow as pa

        if self.parts and df.empty:  # an empty piece adds nothing (the first gives an empty file its schema)
            return
        table = pa.Table.from_pandas(df, preserve_index=False)
        if self.writer is None or not table.schema.equals(self.schema):
            try:
                if self.writer is None:
                    raise pa.ArrowInvalid("no file open")
                table = table.cast(self.schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                self._close()
                self._open(table.schema)
        self.writer.write_table(table)

    def finish(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._close()
        if len(self.parts) == 1:
            os.replace(self.parts.pop(), self.target)
            return
        schema = pa.unify_schemas([pq.read_schema(p) for p in self.parts], promote_options="permissive")
        tmp = self._tmp("all")
        try:
            with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
                for p in self.parts:
                    writer.write_table(pq.read_table(p).cast(schema))
            os.replace(tmp, self.target)
        finally:
            tmp.unlink(missing_ok=True)
        self.abort()

    def abort(self) -> None:
        self._close()
        for p in self.parts:
            p.unlink(missing_ok=True)
        self.parts.clear()
