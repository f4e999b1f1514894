"""Assets of one LLM assistant: each GenAI suite's evaluation, the comparison with the champion version, the release
gate, and behind its blocking check the champion alias and the release evidence.

Partitioned like the tabular systems: the model dimension is the assistant's
registered version (one per target: model file, endpoint or recording, with
its guard; registered on first sight), the dataset dimension the version of
the prompt sets (their files' digests and selection). A suite whose target is
down fails its step and leaves an `error` run, so the gate reads it as
unassessed.
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
from rai_pipelines.modeling import registry
from rai_pipelines.names import SystemNames
from rai_pipelines.orchestration import pools
from rai_pipelines.orchestration.common import (
    EvaluationConfig,
    champion_asset,
    decision_metadata,
    metrics_markdown,
    monitor_champion,
    partition_dims,
    release_evidence_asset,
)
from rai_pipelines.orchestration.partitions import SystemPartitions
from rai_pipelines.orchestration.resources import AlertResource, MlflowResource, StateResource


def assistant_assets(catalog: Catalog, system: AssistantSystem) -> list:
    parts = SystemPartitions(system.name)
    tier = catalog.policy.tier_for(system)

    def unassessed(outcome, mlflow_run: str) -> dg.MaterializeResult:
        """An evaluation recorded as an error (its judge failed validation): the gate reads it as unassessed."""
        return dg.MaterializeResult(metadata={"policy_verdict": gate.UNASSESSED, "error": outcome.error,
                                              "mlflow_run": dg.MetadataValue.url(mlflow_run)},
                                    data_version=dg.DataVersion(outcome.run_id))

    def evaluation_asset(suite: Suite):
        @dg.asset(
            name=SystemNames.evaluation_asset(suite.name), key_prefix=[system.name], partitions_def=parts.evaluation,
            group_name=system.name, code_version=f"{code_version(suite.family)}-{suite.digest[:12]}", kinds={"mlflow", "duckdb"},
            pool=pools.LLM,
            description=f"{suite.description.strip()} One MLflow run per target version x prompt-set version.",
        )
        def _evaluation(context: dg.AssetExecutionContext, config: EvaluationConfig, state: StateResource,
                        mlflow: MlflowResource) -> dg.MaterializeResult:
            model_version, dataset_key = partition_dims(context)
            exp = mlflow.experiment(system.name)
            target, version, sets, prompts_key = record.current_versions(genai, system, mlflow.client(), exp)
            if (version, prompts_key) != (model_version, dataset_key):
                raise DataError(f"partition {model_version}|{dataset_key} is not the catalog's current target and prompts "
                                f"(v{version}|{prompts_key}); evaluate with `rai evaluate {system.name}`")
            record.record_prompts_version(state.warehouse(), system, dataset_key, sets)
            outcome = record.evaluate(
                system=system, suite=suite, target=target, version=version, prompt_set=sets[suite.name], dataset_key=dataset_key,
                cache=state.response_cache(), client=mlflow.client(), experiment_id=exp, warehouse=state.warehouse(),
                judges=record.panel(system, catalog.judges, state.response_cache()), min_agreement=tier.min_judge_agreement,
                provenance=Provenance(context.run.run_id, str(context.partition_key)), force=config.force)
            if outcome.status == "error":  # its judge failed validation: recorded, and read by the gate as unassessed
                return unassessed(outcome, run_url(mlflow.ui_url, RunRef(exp, outcome.mlflow_run_id)))
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

    genai = [s for s in catalog.suites_for(system) if s.genai]
    evaluations = [evaluation_asset(s) for s in genai]

    def comparison_asset(suite: Suite):
        @dg.asset(
            name=SystemNames.evaluation_asset(suite.name), key_prefix=[system.name], partitions_def=parts.evaluation,
            deps=evaluations, group_name=system.name, kinds={"mlflow", "duckdb"},
            code_version=f"{code_version('regression')}-{suite.digest[:12]}",
            description=f"{suite.description.strip()} Against the version holding the '{suite.baseline_alias}' alias of "
                        f"{system.registry_name}, on the same prompts.",
        )
        def _comparison(context: dg.AssetExecutionContext, config: EvaluationConfig, state: StateResource,
                        mlflow: MlflowResource) -> dg.MaterializeResult:
            model_version, dataset_key = partition_dims(context)
            client, exp = mlflow.client(), mlflow.experiment(system.name)
            current = record.current_versions(genai, system, client, exp)
            if (current.version, current.prompts_key) != (model_version, dataset_key):
                raise DataError(f"partition {model_version}|{dataset_key} is not the catalog's current target and prompts "
                                f"(v{current.version}|{current.prompts_key}); evaluate with `rai evaluate {system.name}`")
            champion = registry.by_alias(client, system.registry_name, suite.baseline_alias)
            other = champion is not None and champion.version != current.version
            outcome = record.compare(
                system=system, suite=suite, genai_suites=genai, current=current, champion=champion,
                champion_system=record.as_registered(system, registry.assistant_spec(client, champion)) if other else None,
                cache=state.response_cache(), client=client, experiment_id=exp, warehouse=state.warehouse(),
                judges=record.panel(system, catalog.judges, state.response_cache()), min_agreement=tier.min_judge_agreement,
                provenance=Provenance(context.run.run_id, str(context.partition_key)), force=config.force)
            if outcome.status == "error":
                return unassessed(outcome, run_url(mlflow.ui_url, RunRef(exp, outcome.mlflow_run_id)))
            frame = pd.DataFrame([asdict(r) for r in outcome.rows])
            checks = gate.judge_evaluation(system, catalog.policy, "regression", frame, model_version)
            return dg.MaterializeResult(
                metadata={
                    "champion": f"v{champion.version}" if champion else "none",
                    "policy_verdict": gate.worst(checks) if checks else "no policy checks read this suite",
                    "policy_checks": dg.MetadataValue.md(gate.reasons_markdown(checks)),
                    "mlflow_run": dg.MetadataValue.url(run_url(mlflow.ui_url, RunRef(exp, outcome.mlflow_run_id))),
                    "reused_existing_result": outcome.skipped,
                    **{r.metric: dg.MetadataValue.float(r.value) for r in outcome.rows if r.metric.endswith("_change")},
                },
                data_version=dg.DataVersion(outcome.run_id),
            )

        return _comparison

    evaluations += [comparison_asset(s) for s in catalog.suites_for(system) if s.family == "regression"]

    @dg.asset(
        key=SystemNames(system.name).asset("release_gate"), partitions_def=parts.evaluation, deps=evaluations, group_name=system.name,
        code_version=code_version("gate"), kinds={"duckdb"},
        description=f"Release decision for {system.name}: the '{system.risk_tier}' assistant tier applied to every "
                    "suite's evaluation of this target version on these prompts. Fails closed.",
    )
    def release_gate(context: dg.AssetExecutionContext, state: StateResource, mlflow: MlflowResource,
                     alerts: AlertResource) -> dg.MaterializeResult:
        model_version, dataset_key = partition_dims(context)
        warehouse = state.warehouse()
        decision = gate.decide_from_warehouse(system, catalog.policy, model_version, warehouse, dataset_key, catalog.suite_digests(system))
        gate.record(decision, warehouse)
        monitor_champion(catalog, system, decision, mlflow.client(), warehouse, alerts.channel())
        return dg.MaterializeResult(metadata=decision_metadata(decision), data_version=dg.DataVersion(decision.decision_id))

    return [*evaluations, release_gate, champion_asset(system, system.registry_name, release_gate),
            release_evidence_asset(catalog, system, release_gate)]
