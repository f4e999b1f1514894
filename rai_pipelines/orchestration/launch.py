"""Ticking the schedule and sensor and executing their run requests in-process.

This is what `rai demo` and `rai evaluate` use so that a shell user goes
through the same definitions, partitions and run requests as the daemon.
Outcomes are typed: a run stopped by a blocking check names it (`blocked_by`).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import dagster as dg
from mlflow import MlflowClient

from rai_pipelines import gate
from rai_pipelines.catalog import AssistantSystem, Catalog, System
from rai_pipelines.errors import RaiError
from rai_pipelines.genai.record import Current, current_versions
from rai_pipelines.names import RELEASE_APPROVED, SystemNames
from rai_pipelines.orchestration.partitions import SystemPartitions
from rai_pipelines.warehouse import Warehouse, reads

# In-process runs log every event to the console by default; the shell user
# wants the summary, and the full event log stays in the instance (rai ui).
_QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    error: str | None = None  # the failing step's error, in one line
    blocked_by: tuple[str, ...] = ()  # the blocking asset checks that failed and stopped the run, by design
    materialized: frozenset[str] = frozenset()  # assets (by name) the run materialized
    reused: frozenset[str] = frozenset()  # of those, the ones that reused an existing result

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def blocked(self) -> bool:
        return bool(self.blocked_by)

    @property
    def answered(self) -> bool:
        """Ran to a decision: succeeded, or stopped only by the release gate's blocking check (a verdict, not a fault)."""
        return self.ok or set(self.blocked_by) == {RELEASE_APPROVED}


def job_named(name: str) -> dg.JobDefinition:
    """A job of the code location, as a process that only knows its name rebuilds it (a Celery worker)."""
    from rai_pipelines.definitions import build_defs

    return build_defs().resolve_job_def(name)


def execute(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest, job_name: str | None = None) -> RunOutcome:
    """Run a request on the instance, as the daemon's launcher would: its steps in this process, or, where the
    profile's executor is Celery, on the workers."""
    name = job_name or request.job_name
    job = defs.resolve_job_def(name)
    tags = {k: v for k, v in (request.tags or {}).items() if not k.startswith("dagster/partition")}
    run_config = {**(request.run_config or {}), **_QUIET}
    if job.executor_def.name != "celery":
        return _outcome(job.execute_in_process(instance=instance, partition_key=request.partition_key, tags=tags,
                                               run_config=run_config, raise_on_error=False))
    recon = dg.build_reconstructable_job(__name__, job_named.__name__, reconstructable_args=(name,))
    if request.partition_key:  # as the daemon tags a partitioned run (each dimension of a multi-partition too)
        tags.update(job.partitions_def.get_tags_for_partition_key(request.partition_key))
    with dg.execute_job(recon, instance, run_config=run_config, tags=tags, raise_on_error=False) as result:
        return _outcome(result)


def _outcome(result) -> RunOutcome:
    done = [e.step_materialization_data.materialization for e in result.get_asset_materialization_events()]
    seen = {
        "materialized": frozenset(m.asset_key.path[-1] for m in done),
        "reused": frozenset(m.asset_key.path[-1] for m in done
                            if (found := m.metadata.get("reused_existing_result")) is not None and found.value is True),
    }
    if result.success:
        return RunOutcome(result.run_id, **seen)
    failed_checks = tuple(
        e.asset_check_evaluation_data.asset_check_key.name
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
    )
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error.cause is not None and "DagsterExecutionStepExecutionError" in (error.cls_name or ""):
                error = error.cause
            message = error.message.strip().splitlines()[-1]
            if "DagsterAssetCheckFailedError" in (error.cls_name or "") and failed_checks:
                return RunOutcome(result.run_id, f"blocked by failed check(s) {', '.join(failed_checks)}",
                                  blocked_by=failed_checks, **seen)
            return RunOutcome(result.run_id, f"step {event.step_key} failed: {message}", **seen)
    # No step failed: the run itself did (the executor lost a worker's result, the instance's database went away).
    failure = next((e for e in result.all_events if e.is_run_failure), None)
    error = getattr(failure.event_specific_data, "error", None) if failure is not None else None
    why = " ".join(error.message.split()) if error is not None and error.message else ""
    return RunOutcome(result.run_id, f"run {result.run_id} failed" + (f": {why[:300]}" if why else ""), **seen)


def tick_schedule(defs: dg.Definitions, instance: dg.DagsterInstance, system: System, night: date) -> list[dg.RunRequest]:
    schedule = defs.resolve_schedule_def(SystemNames(system.name).nightly_schedule)
    context = dg.build_schedule_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        scheduled_execution_time=datetime.combine(night, time(2), tzinfo=UTC),
        repository_def=defs.get_repository_def(),
        resources=defs.resources,
    )
    return list(schedule.evaluate_tick(context).run_requests or [])


def tick_sensor(defs: dg.Definitions, instance: dg.DagsterInstance, system: System, feed: bool = False) -> list[dg.RunRequest]:
    """Evaluate the registry sensor (or the feed sensor) once, applying its partition requests as the daemon would."""
    names = SystemNames(system.name)
    sensor = defs.resolve_sensor_def(names.feed_sensor if feed else names.registry_sensor)
    context = dg.build_sensor_context(
        instance=instance, instance_ref=instance.get_ref(), resources=defs.resources, repository_def=defs.get_repository_def()
    )
    data = sensor.evaluate_tick(context)
    for req in data.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return list(data.run_requests or [])


def register_dataset_partition(instance: dg.DagsterInstance, system: System | AssistantSystem, key: str) -> None:
    name = SystemPartitions(system.name).dataset.name
    if not instance.has_dynamic_partition(name, key):
        instance.add_dynamic_partitions(name, [key])


def register_model_partition(instance: dg.DagsterInstance, system: System | AssistantSystem, version: str) -> None:
    name = SystemPartitions(system.name).model.name
    if not instance.has_dynamic_partition(name, version):
        instance.add_dynamic_partitions(name, [version])


def evaluate_request(catalog: Catalog, system: System | AssistantSystem, model_version: str, dataset_key: str,
                     force: bool = False) -> dg.RunRequest:
    names = SystemNames(system.name)
    ops = {names.evaluation_op(suite.name): {"config": {"force": force}} for suite in catalog.evaluation_suites(system)}
    return dg.RunRequest(
        job_name=names.evaluate_job,
        partition_key=SystemPartitions(system.name).evaluation_key(model_version, dataset_key),
        run_config={"ops": ops},
        tags={"rai/system": system.name},
    )


@dataclass(frozen=True)
class Evaluated:
    """One evaluation run through Dagster and the release decision it reached."""

    model_version: str
    dataset_version: str
    outcome: RunOutcome
    verdict: str  # the recorded decision's verdict; `unassessed` when the run did not reach one


def _verdict(warehouse: Warehouse, system: System | AssistantSystem, model_version: str, dataset_key: str, outcome: RunOutcome) -> str:
    found = reads.latest_verdict(warehouse, system.name, model_version, dataset_key) if outcome.answered else None
    return found or gate.UNASSESSED


def evaluate_versions(defs: dg.Definitions, instance: dg.DagsterInstance, catalog: Catalog, system: System,
                      model_versions: list[str], dataset_key: str, warehouse: Warehouse, force: bool = False,
                      decided: dict[str, str] | None = None) -> Iterator[Evaluated]:
    """Ingest one dataset version (quality check, drift), then evaluate and gate each model version on it, yielding
    each as it finishes (a caller reports progress, and what finished is reported even if a later one raises).

    `decided`: versions with nothing left to do on this dataset version (pending.decided_versions) and their
    verdicts: no run is launched for them, and none for the ingest when that leaves nothing to evaluate."""
    decided = {} if force else (decided or {})
    todo = [v for v in model_versions if v not in decided]
    for v in model_versions:
        if v in decided:
            yield Evaluated(v, dataset_key, RunOutcome(""), decided[v])
    if not todo:
        return
    register_dataset_partition(instance, system, dataset_key)
    ingest = execute(defs, instance, dg.RunRequest(partition_key=dataset_key), SystemNames(system.name).ingest_job)
    if not ingest.ok:
        raise RaiError(f"evaluate: dataset version {dataset_key}: {ingest.error}")
    for v in todo:
        register_model_partition(instance, system, v)
        outcome = execute(defs, instance, evaluate_request(catalog, system, v, dataset_key, force))
        yield Evaluated(v, dataset_key, outcome, _verdict(warehouse, system, v, dataset_key, outcome))


def evaluate_assistant(defs: dg.Definitions, instance: dg.DagsterInstance, catalog: Catalog, system: AssistantSystem,
                       warehouse: Warehouse, client: MlflowClient, experiment_id: str, force: bool = False) -> tuple[Current, Evaluated]:
    """Every GenAI suite on the catalog's current target (registered as a version on first sight) and prompts, then
    the comparison with the champion version and the gate."""
    current = current_versions(catalog.suites_for(system), system, client, experiment_id)
    register_model_partition(instance, system, current.version)
    register_dataset_partition(instance, system, current.prompts_key)
    outcome = execute(defs, instance, evaluate_request(catalog, system, current.version, current.prompts_key, force))
    return current, Evaluated(current.version, current.prompts_key, outcome,
                              _verdict(warehouse, system, current.version, current.prompts_key, outcome))
