"""The store of Great Expectations validation results for auditors, under ``CRM_HOME/dq/``.

``dq/validations/`` holds every validation result as GX JSON (GX's own filesystem store: one file per run,
suite and business date): the audit evidence. Results are produced with ``exclude_unexpected_values``: they
name failing rows by source file and row number, never by value, so the store holds no value from the data.
The auditors' site ``dq/site/`` is built from these results by :mod:`crm.reports.dq_site` (our own static
pages; GX's Data Docs site builder is not used: its pages load their styles and scripts from public CDNs).

Steps of a run write their results and update the site for those results; an exclusive file lock
(``dq/.docs.lock``, :func:`locked`) serialises the updates of parallel steps, so the index lists everything
stored.

The folders are built by :func:`crm.zones.safe_path` inside ``dq/``, and every part of a result's store key
(suite, run, dates) must be one plain name (:func:`crm.zones.check_name`): a symlink leading out of ``dq/``
or a key part such as ``..`` raises :class:`crm.zones.UnsafePathError`.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crm.zones import check_name, safe_path


@contextmanager
def locked(dq: Path) -> Iterator[None]:
    """Hold the exclusive lock ``dq/.docs.lock`` (store and site updates of parallel steps, one at a time)."""
    dq.mkdir(parents=True, exist_ok=True)
    with open(safe_path(dq, ".docs.lock", origin="the Data Docs lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def validations_dir(dq: Path) -> Path:
    """``dq/validations/``, the GX validation results store (checked to lie inside ``dq``)."""
    return safe_path(dq, "validations", origin="the Data Docs validation store")


def docs_context(dq: Path):
    """An ephemeral GX context whose validation results store lives under ``dq/validations``."""
    import great_expectations as gx

    from crm.quality.gx import ephemeral_config

    config = ephemeral_config()
    config.stores["validation_results_store"] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(validations_dir(dq))},
    }
    return gx.get_context(mode="ephemeral", project_config=config)


def _safe(text: str, what: str) -> str:
    """A store key part: GX's filesystem store refuses path separators; ``.`` and ``..`` are refused too
    (``what``: where the part came from, for the error)."""
    return check_name(re.sub(r"[^A-Za-z0-9_.-]", "_", text), origin=what, zone="dq")


def result_key(suite_name: str, run_id: str | None, dates: str, recorded_at: dt.datetime):
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    return ValidationResultIdentifier(
        ExpectationSuiteIdentifier(name=check_name(suite_name, origin="a validation result's suite name", zone="dq")),
        RunIdentifier(run_name=_safe(run_id or "adhoc", "the run id"), run_time=recorded_at.replace(tzinfo=dt.UTC)),
        batch_identifier=_safe(dates, "a validation result's dates"),
    )


def result_path(dq: Path, parts: tuple[str, ...]) -> Path:
    """The JSON file of the stored result whose key is ``parts`` (``suite parts..., run, time, dates``: the
    GX store's path ``dq/validations/<parts joined by />.json``), checked by :func:`crm.zones.safe_path`."""
    return safe_path(dq, "validations", *parts, suffix=".json", origin="a stored validation result")


def store(dq: Path, results: list[tuple[dict, str]], run_id: str | None) -> list[tuple[str, ...]]:
    """Store GX validation results (JSON dicts, each with the business date or range it covers, as
    ``YYYYMMDD`` or ``YYYYMMDD-YYYYMMDD``) in ``dq/validations/``, all with the same recorded time (now,
    UTC). Returns their store keys as path parts. The caller holds :func:`locked`."""
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResultSchema,
    )

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    schema = ExpectationSuiteValidationResultSchema()
    keys = [(result_key(result["suite_name"], run_id, dates, now), result) for result, dates in results]
    for key, _ in keys:  # every path checked before anything is written
        result_path(dq, key.to_tuple())
    context = docs_context(dq) if keys else None
    for key, result in keys:
        context.validation_results_store.set(key, schema.load(result))
    return [key.to_tuple() for key, _ in keys]
