"""Ticking the schedule and sensor and executing their run requests in-process.

This is what `rai demo` and `rai evaluate` use so that a shell user goes
through the same definitions, partitions and run requests as the daemon.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timezone

import dagster as dg

from rai_pipelines.catalog import Catalog, System
from rai_pipelines.orchestration.jobs import SystemJobs
from rai_pipelines.orchestration.partitions import SystemPartitions


# In-process runs log every event to the console by default; the shell user
# wants the summary, and the full event log stays in the instance (rai ui).
_QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    error: str | None = None  # the failing step's error, in one line
    blocked: bool = False  # stopped by a failed blocking asset check, by design

    @property
    def ok(self) -> bool:
        return self.error is None


def execute(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest, job_name: str | None = None) -> RunOutcome:
    """Run a request in-process on the instance, as the daemon's launcher would."""
    job = defs.resolve_job_def(job_name or request.job_name)
    result = job.execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        tags={k: v for k, v in (request.tags or {}).items() if not k.startswith("dagster/partition")},
        run_config={**(request.run_config or {}), **_QUIET},
        raise_on_error=False,
    )
    if result.success:
        return RunOutcome(result.run_id)
    failed_checks = [
        e.asset_check_evaluation_data.asset_check_key.name
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
    ]
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error.cause is not None and "DagsterExecutionStepExecutionError" in (error.cls_name or ""):
                error = error.cause
            message = error.message.strip().splitlines()[-1]
            if "DagsterAssetCheckFailedError" in (error.cls_name or "") and failed_checks:
                return RunOutcome(result.run_id, f"blocked by failed check(s) {', '.join(failed_checks)}", blocked=True)
            return RunOutcome(result.run_id, f"step {event.step_key} failed: {message}")
    return RunOutcome(result.run_id, f"run {result.run_id} failed")


def tick_schedule(defs: dg.Definitions, instance: dg.DagsterInstance, system: System, night: date) -> list[dg.RunRequest]:
    schedule = defs.resolve_schedule_def(f"{system.name}__nightly_ingest")
    context = dg.build_schedule_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        scheduled_execution_time=datetime.combine(night, time(2), tzinfo=timezone.utc),
        repository_def=defs.get_repository_def(),
        resources=defs.resources,
    )
    return list(schedule.evaluate_tick(context).run_requests or [])


def tick_sensor(defs: dg.Definitions, instance: dg.DagsterInstance, system: System) -> list[dg.RunRequest]:
    """Evaluate the registry sensor once, applying its partition requests as the daemon would."""
    sensor = defs.resolve_sensor_def(f"{system.name}__model_registry_sensor")
    context = dg.build_sensor_context(
        instance=instance, instance_ref=instance.get_ref(), resources=defs.resources, repository_def=defs.get_repository_def()
    )
    data = sensor.evaluate_tick(context)
    for req in data.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return list(data.run_requests or [])


def register_dataset_partition(instance: dg.DagsterInstance, system: System, key: str) -> None:
    name = SystemPartitions(system.name).dataset.name
    if not instance.has_dynamic_partition(name, key):
        instance.add_dynamic_partitions(name, [key])


def register_model_partition(instance: dg.DagsterInstance, system: System, version: str) -> None:
    name = SystemPartitions(system.name).model.name
    if not instance.has_dynamic_partition(name, version):
        instance.add_dynamic_partitions(name, [version])


def evaluate_request(catalog: Catalog, system: System, model_version: str, dataset_key: str, force: bool = False) -> dg.RunRequest:
    ops = {f"{system.name}__{suite.name}_evaluation": {"config": {"force": force}} for suite in catalog.evaluation_suites(system)}
    return dg.RunRequest(
        job_name=SystemJobs(system.name).evaluate_name,
        partition_key=SystemPartitions(system.name).evaluation_key(model_version, dataset_key),
        run_config={"ops": ops},
        tags={"rai/system": system.name},
    )
