"""Assets of one LLM assistant: each GenAI suite's evaluation, the release gate and the release evidence.

Partitioned like the tabular systems: the model dimension is the target's
version (its content digest: model file, endpoint, or recorded responses), the
dataset dimension the version of the prompt sets (their files' digests and
selection). A suite whose target is down fails its step and leaves an `error`
run, so the gate reads it as unassessed.
"""

from dataclasses import asdict

import dagster as dg
import pandas as pd

from rai_pipelines import gate
from rai_pipelines.catalog import AssistantSystem, Catalog, Suite
from rai_pipelines.code_version import code_version
from rai_pipelines.errors import DataError
from rai_pipelines.genai import record
from rai_pipelines.lineage import Provenance, RunRef, run_url
from rai_pipelines.names import SystemNames
from rai_pipelines.orchestration.common import (
    EvaluationConfig,
    decision_metadata,
    metrics_markdown,
    partition_dims,
    release_evidence_asset,
)
from rai_pipelines.orchestration.partitions import SystemPartitions
from rai_pipelines.orchestration.resources import MlflowResource, StateResource


def assistant_assets(catalog: Catalog, system: AssistantSystem) -> list:
    parts = SystemPartitions(system.name)

    def evaluation_asset(suite: Suite):
        @dg.asset(
            name=SystemNames.evaluation_asset(suite.name), key_prefix=[system.name], partitions_def=parts.evaluation,
            group_name=system.name, code_version=f"{code_version(suite.family)}-{suite.digest[:12]}", kinds={"mlflow", "duckdb"},
            description=f"{suite.description.strip()} One MLflow run per target version x prompt-set version.",
        )
        def _evaluation(context: dg.AssetExecutionContext, config: EvaluationConfig, state: StateResource,
                        mlflow: MlflowResource) -> dg.MaterializeResult:
            model_version, dataset_key = partition_dims(context)
            target, version, sets, prompts_key = record.current_versions(catalog.suites_for(system), system)
            if (version, prompts_key) != (model_version, dataset_key):
                raise DataError(f"partition {model_version}|{dataset_key} is not the catalog's current target and prompts "
                                f"({version}|{prompts_key}); evaluate with `rai evaluate {system.name}`")
            record.record_prompts_version(state.warehouse(), system, dataset_key, sets)
            exp = mlflow.experiment(system.name)
            outcome = record.evaluate(
                system=system, suite=suite, target=target, prompt_set=sets[suite.name], dataset_key=dataset_key,
                cache=state.response_cache(), client=mlflow.client(), experiment_id=exp, warehouse=state.warehouse(),
                judge_validation=catalog.judges, provenance=Provenance(context.run.run_id, str(context.partition_key)),
                force=config.force)
            frame = pd.DataFrame([asdict(r) for r in outcome.rows])
            checks = gate.judge_evaluation(system, catalog.policy, suite.family, frame, model_version)
            cost = {r.metric: r.value for r in outcome.rows if r.family == "cost"}
            return dg.MaterializeResult(
                metadata={
                    "policy_verdict": gate.worst(checks) if checks else "no policy checks read this suite",
                    "policy_checks": dg.MetadataValue.md(gate.reasons_markdown(checks)),
                    "metrics": dg.MetadataValue.md(metrics_markdown(outcome)),
                    "mlflow_run": dg.MetadataValue.url(run_url(mlflow.ui_url, RunRef(exp, outcome.mlflow_run_id))),
                    "prompts": dg.MetadataValue.int(len(sets[suite.name].cases)),
                    "reused_existing_result": outcome.skipped,
                    **{k: dg.MetadataValue.float(float(v)) for k, v in cost.items()},
                    **{f"{r.metric}[{r.slice}]": dg.MetadataValue.float(r.value)
                       for r in outcome.rows if r.slice == "overall" and r.family != "cost" and r.defined},
                },
                data_version=dg.DataVersion(outcome.run_id),
            )

        return _evaluation

    evaluations = [evaluation_asset(s) for s in catalog.suites_for(system)]

    @dg.asset(
        key=SystemNames(system.name).asset("release_gate"), partitions_def=parts.evaluation, deps=evaluations, group_name=system.name,
        code_version=code_version("gate"), kinds={"duckdb"},
        description=f"Release decision for {system.name}: the '{system.risk_tier}' assistant tier applied to every "
                    "suite's evaluation of this target version on these prompts. Fails closed.",
    )
    def release_gate(context: dg.AssetExecutionContext, state: StateResource) -> dg.MaterializeResult:
        model_version, dataset_key = partition_dims(context)
        warehouse = state.warehouse()
        decision = gate.decide_from_warehouse(system, catalog.policy, model_version, warehouse, dataset_key, catalog.suite_digests)
        gate.record(decision, warehouse)
        return dg.MaterializeResult(metadata=decision_metadata(decision), data_version=dg.DataVersion(decision.decision_id))

    return [*evaluations, release_gate, release_evidence_asset(catalog, system, release_gate)]
