"""The run-failure sensor: a failed run of any job of this code location is notified to the data engineers
through the outbox (:func:`crm.alerts.notify` does the work; this module reads the facts of the run from the
instance's event log: its job, partition or range, failed steps and failed ERROR checks).

Dagster gives a sensor evaluation 60 seconds and handles up to 5 failed runs in one evaluation
(``DAGSTER_RUN_STATUS_SENSOR_PROCESS_LIMIT``), calling :func:`run_failure_notice` for each. Sending is cut to
:data:`SEND_BUDGET` seconds from the start of that call, one attempt per message with a short socket timeout,
and the first transient failure ends it (:func:`crm.alerts.notify` with a ``deadline``): a mail server that
does not answer costs one socket timeout per failed run, so it cannot make the tick time out and the run be
evaluated again while this evaluation may still be sending. What was not sent stays ``pending`` and goes out
with the next notice."""

from __future__ import annotations

import datetime as dt
import time

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
    WILL_RETRY_TAG,
)

from orchestration.resources import CrmHomeResource, DeliveryResource, WarehouseResource

SENSOR = "run_failure_notice"
SEND_BUDGET = 20.0  # seconds of a call after which nothing more is sent (Dagster's evaluation timeout: 60)


def failure_of(instance: dg.DagsterInstance, run: dg.DagsterRun):
    """The :class:`crm.alerts.RunFailure` of a failed run, from its tags and its event log: step failures
    (step keys) and asset-check evaluations that did not pass with severity ERROR. The failure time is
    the run's end time (else its failure event's time, else now)."""
    from crm.alerts import RunFailure

    records = instance.get_records_for_run(
        run.run_id,
        of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.ASSET_CHECK_EVALUATION},
    ).records
    steps: list[str] = []
    checks: list[str] = []
    stamp = None
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_FAILURE and event.step_key not in steps:
            steps.append(event.step_key)
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            ev = event.asset_check_evaluation_data
            name = f"{ev.asset_key.to_user_string()}:{ev.check_name}"
            if not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR and name not in checks:
                checks.append(name)
    record = instance.get_run_record_by_id(run.run_id)
    if record is not None and record.end_time:
        stamp = record.end_time
    else:
        match = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
        stamp = match[-1].event_log_entry.timestamp if match else None
    failed_at = (dt.datetime.fromtimestamp(stamp, dt.UTC) if stamp else dt.datetime.now(dt.UTC)).replace(
        tzinfo=None, microsecond=0
    )
    tags = run.tags
    first, last = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    return RunFailure(
        job=run.job_name,
        run_id=run.run_id,
        failed_at=failed_at,
        partition=tags.get(PARTITION_NAME_TAG),
        partition_range=(first, last) if first and last else None,
        failed_steps=tuple(steps),
        failed_checks=tuple(checks),
    )


@dg.run_failure_sensor(
    name=SENSOR,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Notifies the data engineers (active staff with role DE) of every failed run of this code "
    "location through the e-mail outbox (report run_failure): the job, the partition, the failed steps or "
    "ERROR checks and the run id; never the error message or a data value. Runs that Dagster will retry "
    "(a crashed worker) are notified only if their last retry fails.",
)
def run_failure_notice(
    context: dg.RunFailureSensorContext,
    crm_home: CrmHomeResource,
    warehouse: WarehouseResource,
    delivery: DeliveryResource,
):
    from crm.alerts import identifier, notify

    deadline = time.monotonic() + SEND_BUDGET
    run = context.dagster_run
    if run.tags.get(WILL_RETRY_TAG) == "true":
        context.log.info(
            f"run {identifier(run.run_id)} of job {identifier(run.job_name)} failed and will be "
            "retried: no notice for this attempt"
        )
        return
    failure = failure_of(context.instance, run)
    home = crm_home.home()
    try:
        transport = delivery.transport_for(home.outbox)
    except ValueError as e:  # e.g. smtp without a host: queue the notice all the same
        context.log.error(f"mail transport unusable: {e}")
        transport = None
    engine = warehouse.engine()
    try:
        notify(
            failure,
            staged=home.staged,
            raw=home.raw,
            reports=home.reports,
            engine=engine,
            schema=warehouse.schema,
            transport=transport,
            sender=delivery.sender,
            locale=delivery.locale,
            log=context.log,
            deadline=deadline,
        )
    finally:
        engine.dispose()
