"""Assets through dg.materialize with a real MLflow store (temporary SQLite) and real DuckDB."""

import json

import dagster as dg
import pytest

from rai_pipelines.data.snapshots import DatasetStore
from rai_pipelines.data.sources import production_windows
from rai_pipelines.orchestration.assets import system_assets
from rai_pipelines.orchestration.checks import data_quality_check, release_approved_check
from rai_pipelines.orchestration.partitions import SystemPartitions
from rai_pipelines.orchestration.resources import resources_for
from rai_pipelines.warehouse import Warehouse


@pytest.fixture
def world(settings, catalog, acs, register_model, mlflow_client):
    mv = register_model()
    # The version in production: without a champion, the first pass would promote this
    # version and so change its own champion comparison between runs.
    mlflow_client.set_registered_model_alias(mv.name, "champion", mv.version)
    # Closed at the end: an unclosed instance leaves Dagster's context-global state storage dangling.
    with dg.DagsterInstance.ephemeral() as instance:
        yield from _world(settings, catalog, acs, mv, instance)


def _world(settings, catalog, acs, mv, instance):
    parts = SystemPartitions(acs.name)
    version, _ = DatasetStore(settings.snapshot_dir).snapshot(acs, production_windows(acs)[0])
    instance.add_dynamic_partitions(parts.dataset.name, [version.key])
    instance.add_dynamic_partitions(parts.model.name, [mv.version])
    assets = [*system_assets(catalog, acs), data_quality_check(catalog, acs)]
    resources = resources_for(settings)
    world = dict(mv=mv, instance=instance, parts=parts, version=version, assets=assets, resources=resources)
    # Ingest first: evaluations refuse a dataset version without a passed data-quality check.
    assert _materialize(world, dg.AssetSelection.assets(["acs_employment", "dataset_version"]), version.key).success
    yield world


def _materialize(w, selection, partition_key, run_config=None):
    return dg.materialize(
        w["assets"], selection=selection, partition_key=partition_key, instance=w["instance"],
        resources=w["resources"], run_config=run_config or {},
    )


# What the evaluate job selects: predictions, every suite's evaluation, the gate, and behind its check the champion
# alias and the release evidence.
EVALUATION = dg.AssetSelection.groups("acs_employment") - dg.AssetSelection.assets(
    ["acs_employment", "dataset_version"], ["acs_employment", "model_version"], ["acs_employment", "drift"]
)
# Up to the decision: the steps that run whatever the verdict.
DECISION = EVALUATION - dg.AssetSelection.assets(["acs_employment", "champion"], ["acs_employment", "release_evidence"])


def test_dataset_version_data_version_is_the_content_digest(world):
    w = world
    result = _materialize(w, dg.AssetSelection.assets(["acs_employment", "dataset_version"]), w["version"].key)
    mat = result.asset_materializations_for_node("acs_employment__dataset_version")[0]
    assert mat.tags["dagster/data_version"] == w["version"].digest
    assert mat.metadata["rows"].value == w["version"].rows
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["failed_expectations"].value == 0


def test_evaluation_is_one_mlflow_run_with_dataset_input_and_lineage(world, mlflow_client, settings, catalog, acs):
    w = world
    key = w["parts"].evaluation_key(w["mv"].version, w["version"].key)
    result = _materialize(w, DECISION, key)
    assert result.success

    mat = result.asset_materializations_for_node("acs_employment__fairness_evaluation")[0]
    run_id = mat.metadata["mlflow_run_id"].value
    assert mat.metadata["mlflow_run"].value.endswith(f"/runs/{run_id}")
    assert mat.metadata["reused_existing_result"].value is False
    assert "SEX=Female&RAC1P=Black" in mat.metadata["metrics"].value

    run = mlflow_client.get_run(run_id)
    assert run.data.tags["dagster.run_id"] == result.run_id
    assert run.data.tags["dagster.partition"] == str(key)
    assert run.data.tags["rai.model_version"] == w["mv"].version
    assert run.data.tags["rai.code_version"]
    [inp] = run.inputs.dataset_inputs
    assert w["version"].digest.startswith(inp.dataset.digest)
    assert json.loads(inp.dataset.source)["sha256"] == w["version"].digest
    assert {c["name"] for c in json.loads(inp.dataset.schema)["mlflow_colspec"]} >= {"SEX", "RAC1P", "employed"}
    assert "fairness/tpr_difference/SEX" in run.data.metrics

    wh = Warehouse(settings.warehouse_dir)
    runs = wh.frame("select suite, status, dagster_run_id, mlflow_run_id, dataset_digest from evaluation_runs order by suite")
    assert runs.suite.tolist() == sorted(s.name for s in catalog.evaluation_suites(acs))
    assert (runs.status == "ok").all() and (runs.dagster_run_id == result.run_id).all()
    assert (runs.dataset_digest == w["version"].digest).all()
    assert run_id in set(runs.mlflow_run_id)
    perf = wh.frame("select metric, value, ci_low, ci_high from metrics where family = 'performance'").set_index("metric")
    assert 0.5 < perf.value["auc"] <= 1
    assert (perf.ci_low <= perf.value).all() and (perf.value <= perf.ci_high).all()
    fair = wh.frame("select count(*) c from metrics where family = 'fairness' and ci_low is null and value is not null")
    assert fair.c[0] == 0  # every defined group metric carries its interval
    gate = wh.frame("select verdict, policy_version from gate_decisions")
    assert len(gate) == 1 and gate.verdict[0] in {"pass", "fail", "insufficient_evidence"}


def test_unchanged_evaluation_is_not_recomputed_unless_forced(world, mlflow_client):
    w = world
    key = w["parts"].evaluation_key(w["mv"].version, w["version"].key)
    first = _materialize(w, DECISION, key)
    run_id = first.asset_materializations_for_node("acs_employment__performance_evaluation")[0].metadata["mlflow_run_id"].value
    experiment = mlflow_client.get_run(run_id).info.experiment_id
    count = len(mlflow_client.search_runs([experiment]))

    again = _materialize(w, DECISION, key)
    mat = again.asset_materializations_for_node("acs_employment__performance_evaluation")[0]
    assert mat.metadata["reused_existing_result"].value is True
    assert mat.metadata["mlflow_run_id"].value == run_id
    assert len(mlflow_client.search_runs([experiment])) == count

    forced = _materialize(w, DECISION, key, {"ops": {"acs_employment__performance_evaluation": {"config": {"force": True}}}})
    mat = forced.asset_materializations_for_node("acs_employment__performance_evaluation")[0]
    assert mat.metadata["reused_existing_result"].value is False
    assert len(mlflow_client.search_runs([experiment])) == count + 1


def test_unknown_model_version_fails_the_step_and_writes_nothing(world, settings):
    w = world
    w["instance"].add_dynamic_partitions(w["parts"].model.name, ["99"])
    key = w["parts"].evaluation_key("99", w["version"].key)
    result = dg.materialize(
        w["assets"], selection=EVALUATION, partition_key=key, instance=w["instance"],
        resources=w["resources"], raise_on_error=False,
    )
    assert not result.success
    assert Warehouse(settings.warehouse_dir).frame("select count(*) c from evaluation_runs").c[0] == 0


def _step_errors(result) -> str:
    return "\n".join(e.step_failure_data.error.to_string() for e in result.all_events if e.is_step_failure)


def test_an_evaluation_reads_predictions_as_its_input_and_names_them_when_missing(world, settings):
    w = world
    key = w["parts"].evaluation_key(w["mv"].version, w["version"].key)
    alone = dg.AssetSelection.assets(["acs_employment", "performance_evaluation"])
    missing = dg.materialize(w["assets"], selection=alone, partition_key=key, instance=w["instance"],
                             resources=w["resources"], raise_on_error=False)
    assert not missing.success
    errors = _step_errors(missing)
    assert "no predictions for partition" in errors and "acs_employment/predictions" in errors, errors
    wh = Warehouse(settings.warehouse_dir)
    assert wh.frame("select count(*) c from evaluation_runs").c[0] == 0  # nothing scored behind the input's back

    assert _materialize(w, dg.AssetSelection.assets(["acs_employment", "predictions"]), key).success
    later = _materialize(w, alone, key)  # another run: the handle the predictions run stored is the input
    assert later.success
    assert wh.frame("select suite from evaluation_runs where status = 'ok'").suite.tolist() == ["performance"]


def test_champion_moves_only_behind_the_blocking_release_check(world, acs, register_model, mlflow_client, settings):
    w = world
    candidate = register_model("gradient_boosting")
    w["instance"].add_dynamic_partitions(w["parts"].model.name, [candidate.version])
    key = w["parts"].evaluation_key(candidate.version, w["version"].key)
    result = dg.materialize([*w["assets"], release_approved_check(acs)], selection=EVALUATION, partition_key=key,
                            instance=w["instance"], resources=w["resources"], raise_on_error=False)
    [approved] = result.get_asset_check_evaluations()
    verdict = Warehouse(settings.warehouse_dir).frame(
        "select verdict from gate_decisions where model_version = ? order by decided_at desc limit 1", [candidate.version]).verdict[0]
    assert approved.passed == (verdict == "pass")
    moved = result.asset_materializations_for_node("acs_employment__champion")
    champion = str(mlflow_client.get_model_version_by_alias(candidate.name, "champion").version)
    if verdict == "pass":
        assert moved and champion == candidate.version
    else:  # one night cannot release a high-tier version: the alias stays, and the champion step never ran
        assert not moved and champion == w["mv"].version
        assert not result.asset_materializations_for_node("acs_employment__release_evidence")
        # Materialized on its own (a backfill, a Launchpad pick), no blocking check runs: the asset refuses itself.
        alone = dg.materialize([*w["assets"], release_approved_check(acs)], selection=dg.AssetSelection.assets(
            ["acs_employment", "champion"]), partition_key=key, instance=w["instance"], resources=w["resources"],
            raise_on_error=False)
        assert not alone.success and f"is {verdict}, not pass" in _step_errors(alone)
        assert str(mlflow_client.get_model_version_by_alias(candidate.name, "champion").version) == w["mv"].version

