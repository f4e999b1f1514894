"""The sensors of a tabular system: new model versions in the registry, and new or changed windows of its feed,
become partitions; the first gets evaluated, the second ingested."""


import dagster as dg

from rai_pipelines.catalog import Catalog, System
from rai_pipelines.data import versions
from rai_pipelines.data.sources import feed_windows, window_by_label
from rai_pipelines.errors import RaiError
from rai_pipelines.evaluation.pending import pending_evaluations
from rai_pipelines.names import SystemNames
from rai_pipelines.orchestration.partitions import SystemPartitions
from rai_pipelines.orchestration.resources import MlflowResource, StateResource


def registry_sensor(catalog: Catalog, system: System, register_job, evaluate_job) -> dg.SensorDefinition:
    parts = SystemPartitions(system.name)
    names = SystemNames(system.name)

    @dg.sensor(
        name=names.registry_sensor,
        jobs=[register_job, evaluate_job],
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Polls the MLflow registry for new versions of {system.registry_name}: registers each as a "
            "partition and requests the evaluation of every model version on the newest dataset version that "
            "has not been evaluated with the current suites and code."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, mlflow: MlflowResource, state: StateResource) -> dg.SensorResult:
        model_versions, pending = pending_evaluations(
            catalog, system, mlflow.client(), state.datasets(), state.warehouse()
        )
        known = set(context.instance.get_dynamic_partitions(parts.model.name))
        new = [v for v in model_versions if v not in known]
        runs = [dg.RunRequest(job_name=names.register_job, partition_key=v, run_key=f"register:{v}") for v in new]
        runs += [
            dg.RunRequest(
                job_name=names.evaluate_job,
                partition_key=parts.evaluation_key(p.model_version, p.dataset_version),
                run_key=p.run_key,
                tags={"rai/system": system.name},
            )
            for p in pending
        ]
        return dg.SensorResult(
            run_requests=runs,
            dynamic_partitions_requests=[parts.model.build_add_request(new)] if new else [],
        )

    return _sensor


def feed_sensor(system: System, ingest_job) -> dg.SensorDefinition:
    """Reads the feed's newest windows (partitioned files, or complete windows of a SQL source), and older ones still
    waiting for labels, and ingests each whose content is a dataset version not seen before: a new window, late or
    corrected rows in a known one, or labels that landed."""
    parts = SystemPartitions(system.name)

    @dg.sensor(
        name=SystemNames(system.name).feed_sensor,
        job=ingest_job,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Polls the {system.data.production.source.kind} feed of {system.name}: a new window, or new "
                    "content in a recent one, is snapshotted as a new dataset version (content digest) and ingested.",
    )
    def _sensor(context: dg.SensorEvaluationContext, state: StateResource) -> dg.SensorResult:
        store = state.datasets()
        known = set(context.instance.get_dynamic_partitions(parts.dataset.name))
        new, problems = [], []
        try:
            windows = feed_windows(system)
        except RaiError as exc:  # the feed cannot be listed: the windows waiting for labels are still read
            problems.append(str(exc))
            windows = []
        seen = {w.label for w in windows}
        # Windows still waiting for labels are re-read until they land, however old: each landing is a new version.
        awaiting = [label for label in versions.awaiting_labels(state.warehouse(), system.name) if label not in seen]
        for window in [*windows, *awaiting]:
            try:  # one bad window (a stray file, a window gone from the feed) must not hide the others
                version, _ = store.snapshot(system, window_by_label(system, window) if isinstance(window, str) else window)
            except RaiError as exc:
                problems.append(str(exc))
                continue
            if version.key not in known:
                new.append(version.key)
        for problem in problems:
            context.log.error(problem)
        return dg.SensorResult(
            run_requests=[dg.RunRequest(partition_key=k, run_key=f"ingest:{k}", tags={"rai/system": system.name}) for k in new],
            dynamic_partitions_requests=[parts.dataset.build_add_request(new)] if new else [],
        )

    return _sensor
