"""Great Expectations Data Docs for auditors, under ``CRM_HOME/dq/``.

``dq/validations/`` holds every validation result as GX JSON (GX's own filesystem store: one file per run,
suite and business date), ``dq/site/`` the static Data Docs site built from them (``dq/site/index.html``).
Results are produced with ``exclude_unexpected_values``: they name failing rows by source file and row
number, never by value, so neither folder holds a value from the data.

Steps of a run write their results and rebuild the site for those results; an exclusive file lock
(``dq/.docs.lock``) serialises the rebuilds of parallel steps, so the index lists everything stored.

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

SITE_NAME = "dq"


@contextmanager
def _locked(dq: Path) -> Iterator[None]:
    dq.mkdir(parents=True, exist_ok=True)
    with open(safe_path(dq, ".docs.lock", origin="the Data Docs lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def docs_context(dq: Path):
    """An ephemeral GX context whose validation results store and Data Docs site live under ``dq``."""
    import great_expectations as gx

    from crm.quality.gx import ephemeral_config

    config = ephemeral_config()
    validations = safe_path(dq, "validations", origin="the Data Docs validation store")
    site = safe_path(dq, "site", origin="the Data Docs site")
    config.stores["validation_results_store"] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(validations)},
    }
    config.data_docs_sites = {
        SITE_NAME: {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
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


def publish(dq: Path, results: list[tuple[dict, str]], run_id: str | None) -> Path:
    """Store GX validation results (JSON dicts, each with the business date or range it covers, as
    ``YYYYMMDD`` or ``YYYYMMDD-YYYYMMDD``) and rebuild their Data Docs pages and the index. Returns the
    site's index page."""
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResultSchema,
    )

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    schema = ExpectationSuiteValidationResultSchema()
    with _locked(dq):
        context = docs_context(dq)
        keys = []
        for result, dates in results:
            key = result_key(result["suite_name"], run_id, dates, now)
            context.validation_results_store.set(key, schema.load(result))
            keys.append(key)
        context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=keys or None)
    return safe_path(dq, "site", "index.html", origin="the Data Docs site")
