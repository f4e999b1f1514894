"""The registry sensor: new model versions become partitions and get evaluated."""


import dagster as dg

from rai_pipelines.catalog import Catalog, System
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
            f"Polls the MLflow registry for new versions of {system.model.registered_model}: registers each as a "
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
