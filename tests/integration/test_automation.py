"""The registry sensor and the nightly schedule, on a persistent instance."""

import dagster as dg
import pytest

from rai_pipelines.data import versions
from rai_pipelines.definitions import build_defs
from rai_pipelines.orchestration import launch
from rai_pipelines.orchestration.partitions import DATASET_DIM, MODEL_DIM, SystemPartitions
from rai_pipelines.warehouse import Warehouse


@pytest.fixture
def instance(settings):
    with dg.DagsterInstance.get() as inst:
        yield inst


def _evaluations(requests):
    return sorted(
        (r.partition_key.keys_by_dimension[MODEL_DIM], r.partition_key.keys_by_dimension[DATASET_DIM])
        for r in requests
        if r.job_name.endswith("__evaluate")
    )


def test_sensor_registers_new_versions_and_requests_missing_evaluations(settings, instance, acs, register_model, mlflow_client):
    defs = build_defs()
    parts = SystemPartitions(acs.name)
    first = register_model(rows=2000)
    register_model("gradient_boosting", rows=2000)
    mlflow_client.set_registered_model_alias(first.name, "champion", first.version)  # the version in production

    # No dataset version yet: partitions and registration runs, nothing to evaluate.
    requests = launch.tick_sensor(defs, instance, acs)
    assert sorted(instance.get_dynamic_partitions(parts.model.name)) == ["1", "2"]
    assert sorted(r.partition_key for r in requests if r.job_name.endswith("__register_model_version")) == ["1", "2"]
    assert _evaluations(requests) == []

    # A night's batch arrives (ingested, quality-checked): every version is requested on it.
    [ingest] = launch.tick_schedule(defs, instance, acs, acs.data.production.replay.start_date)
    assert launch.execute(defs, instance, ingest, f"{acs.name}__ingest_dataset_version").ok
    requests = launch.tick_sensor(defs, instance, acs)
    assert _evaluations(requests) == [("1", ingest.partition_key), ("2", ingest.partition_key)]
    assert not [r for r in requests if r.job_name.endswith("__register_model_version")]  # already known
    assert all(r.run_key for r in requests)

    # Once version 1 is evaluated, only version 2 is still pending. (Its release evidence waits: one passing
    # night is not the high tier's release window, so the blocking release_approved check stops the run there.)
    outcome = launch.execute(defs, instance, next(r for r in requests if r.partition_key.keys_by_dimension[MODEL_DIM] == "1"))
    assert outcome.answered and set(outcome.blocked_by) <= {"release_approved"}, outcome.error
    assert _evaluations(launch.tick_sensor(defs, instance, acs)) == [("2", ingest.partition_key)]

    # A new registry version becomes a partition and gets its evaluation.
    register_model("skewed_sample_gbm", rows=2000)
    requests = launch.tick_sensor(defs, instance, acs)
    assert "3" in instance.get_dynamic_partitions(parts.model.name)
    assert ("3", ingest.partition_key) in _evaluations(requests)


def test_nightly_schedule_ingests_that_nights_batch(settings, instance, acs):
    defs = build_defs()
    night = acs.data.production.replay.start_date.replace(day=acs.data.production.replay.start_date.day + 2)
    [request] = launch.tick_schedule(defs, instance, acs, night)
    assert request.partition_key.startswith("2016-b03.")
    assert instance.has_dynamic_partition(SystemPartitions(acs.name).dataset.name, request.partition_key)
    assert launch.execute(defs, instance, request, f"{acs.name}__ingest_dataset_version").ok
    wh = Warehouse(settings.warehouse_dir)
    assert versions.latest_production(wh, acs.name) == request.partition_key
