"""Assets of one governed system, built from its catalog entry.

dataset_version ─┐
                 ├─► predictions ─► <suite>_evaluation (one per suite) ─► release_gate ─┬─► champion
model_version  ──┘                                                    [release_approved] └─► release_evidence

The quality verdict is read once, where scoring starts (predictions); every
evaluation takes the predictions' handle as its input. The champion alias and
the release evidence run after the gate's blocking check in an evaluation run;
the champion asset also re-reads the verdict, since a blocking check does not
stop an asset materialized on its own.
"""

import warnings
from dataclasses import asdict

import dagster as dg
import pandas as pd

from rai_pipelines import gate
from rai_pipelines.alerts import Alert
from rai_pipelines.catalog import Catalog, Suite, System
from rai_pipelines.code_version import code_version
from rai_pipelines.data import versions
from rai_pipelines.data.sources import PRODUCTION, reference_window
from rai_pipelines.data.validation import group_labels
from rai_pipelines.drift.record import drift_for_version
from rai_pipelines.errors import DataError
from rai_pipelines.evaluation.families import PROBING, Reference
from rai_pipelines.evaluation.probing_inputs import probing_inputs
from rai_pipelines.evaluation.record import evaluate
from rai_pipelines.governance import incidents
from rai_pipelines.lineage import Provenance, RunRef, held_out, run_url
from rai_pipelines.modeling import loading, registry
from rai_pipelines.modeling.predictions import (
    aligned,
    kind_of,
    logged_version,
    reference_scores,
    register_logged,
    rows_of,
    stored_or_scored,
)
from rai_pipelines.names import DATA_QUALITY, SystemNames
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
from rai_pipelines.orchestration.resources import SCORED_IO, AlertResource, MlflowResource, StateResource
from rai_pipelines.orchestration.scored import Scored
from rai_pipelines.quality import record as quality


def _require_quality(catalog: Catalog, system: System, state: StateResource, dataset_key: str) -> None:
    """Fail closed: a dataset version that failed, or never ran, its quality check is not scored or evaluated."""
    if catalog.dataset_suite(system, DATA_QUALITY) is None:
        return
    verdict = quality.passed(state.warehouse(), system.name, dataset_key)
    if verdict is not True:
        raise DataError(
            f"dataset version {dataset_key} of {system.name} "
            f"{'failed' if verdict is False else 'has no result for'} its data-quality check; "
            "evaluations are blocked (see the quality_results view)"
        )


def system_assets(catalog: Catalog, system: System) -> list:
    parts = SystemPartitions(system.name)
    names = SystemNames(system.name)
    group = system.name
    prefix = [system.name]

    @dg.asset(
        key=names.asset("dataset_version"),
        partitions_def=parts.dataset,
        group_name=group,
        code_version=code_version("dataset"),
        kinds={"pandas", "parquet"},
        description=f"Validated, content-addressed snapshot of a {system.name} data window; DataVersion is the content digest.",
    )
    def dataset_version(context: dg.AssetExecutionContext, state: StateResource, mlflow: MlflowResource) -> dg.MaterializeResult:
        version, frame = state.datasets().load(system, context.partition_key)
        versions.record(state.warehouse(), version)
        if system.logged and version.kind == PRODUCTION:  # the pipeline first sees a logged model version here
            for mv in register_logged(mlflow.client(), system, mlflow.experiment(system.name), frame):
                context.log.info(f"logged predictions of version {logged_version(mv)} are {mv.name} v{mv.version}")
        return dg.MaterializeResult(
            metadata={
                "digest": version.digest,
                "rows": dg.MetadataValue.int(version.rows),
                "labelled_rows": dg.MetadataValue.int(version.labelled),
                "window": version.label,
                "source": version.source,
                "snapshot": dg.MetadataValue.path(version.path),
                "schema": dg.MetadataValue.json(version.schema),
            },
            data_version=dg.DataVersion(version.digest),
        )

    @dg.asset(
        key=names.asset("model_version"),
        partitions_def=parts.model,
        group_name=group,
        code_version=code_version("model"),
        kinds={"mlflow"},
        description="A registered model version; materializing it verifies its artifact digest and that it loads safely.",
    )
    def model_version(context: dg.AssetExecutionContext, state: StateResource, mlflow: MlflowResource) -> dg.MaterializeResult:
        client = mlflow.client()
        mv = registry.get(client, system.registry_name, context.partition_key)
        if not system.logged:  # loads it: verifies the digest (recorded now on first sight, if allowed) and the flavor
            loading.scorer(client, mv, catalog.policy.model_loading, list(system.data.features), context.log.info)
            mv = registry.get(client, system.registry_name, context.partition_key)
        registry.record_version(state.warehouse(), system.name, mv)
        run = client.get_run(mv.run_id)
        return dg.MaterializeResult(
            metadata={
                "registered_model": mv.name,
                "version": mv.version,
                "registered_at": mv.registered_at.isoformat(),
                "artifact_sha256": mv.artifact_sha256,
                "kind": kind_of(system, mv),
                "trust": mv.tags.get(loading.TRUST_TAG, "registered by rai"),
                "recipe": mv.tags.get(registry.RECIPE_TAG, ""),
                "aliases": ", ".join(mv.aliases),
                "mlflow_training_run": dg.MetadataValue.url(run_url(mlflow.ui_url, RunRef(run.info.experiment_id, mv.run_id))),
            },
            data_version=dg.DataVersion(mv.artifact_sha256),
        )

    @dg.asset(
        key=names.asset("predictions"),
        partitions_def=parts.evaluation,
        deps=[dataset_version, model_version],
        group_name=group,
        code_version=code_version("predictions"),
        kinds={"parquet"},
        io_manager_key=SCORED_IO,
        description="Scores and decisions of one model version on one dataset version that passed its data-quality "
                    "check, shared by every evaluation family.",
    )
    def predictions(context: dg.AssetExecutionContext, state: StateResource, mlflow: MlflowResource) -> dg.Output[Scored]:
        model_version_, dataset_key = partition_dims(context)
        _require_quality(catalog, system, state, dataset_key)
        version, frame = state.datasets().load(system, dataset_key)
        mv = registry.get(mlflow.client(), system.registry_name, model_version_)
        preds = stored_or_scored(state.predictions(), system, mv, mlflow.client(), version, frame, catalog.policy.model_loading)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.BetaWarning)  # Output's data_version: what MaterializeResult has too
            return dg.Output(
                Scored(mv, dataset_key, version.digest),
                metadata={
                    "rows": dg.MetadataValue.int(len(preds)),
                    "selection_rate": dg.MetadataValue.float(float(preds.prediction.mean())),
                    "path": dg.MetadataValue.path(str(state.predictions().path(system, mv, version))),
                },
                data_version=dg.DataVersion(f"{mv.artifact_sha256[:16]}-{version.digest[:16]}"),
            )

    def evaluation_asset(suite: Suite):
        @dg.asset(
            name=names.evaluation_asset(suite.name),
            key_prefix=prefix,
            partitions_def=parts.evaluation,
            ins={"scored": dg.AssetIn(key=predictions.key)},
            group_name=group,
            code_version=f"{code_version(suite.family)}-{suite.digest[:12]}",
            kinds={"mlflow", "duckdb"},
            pool=pools.CPU,
            description=f"{suite.description.strip()} One MLflow run per model version x dataset version.",
        )
        def _evaluation(
            context: dg.AssetExecutionContext, config: EvaluationConfig, state: StateResource, mlflow: MlflowResource,
            scored: Scored,
        ) -> dg.MaterializeResult:
            model_version_, dataset_key = partition_dims(context)
            if (scored.model.version, scored.dataset_key) != (model_version_, dataset_key):
                raise DataError(f"the predictions handed to {model_version_}|{dataset_key} are for "
                                f"{scored.model.version}|{scored.dataset_key}; rematerialize predictions for this partition")
            version, frame = state.datasets().load(system, dataset_key)
            if version.digest != scored.dataset_digest:
                raise DataError(f"dataset version {dataset_key} no longer has the digest it was scored on; "
                                "rematerialize its predictions")
            mv = scored.model
            stored = state.predictions().get(system, mv, version)
            if stored is None:
                raise DataError(f"the stored predictions of v{mv.version} on {dataset_key} are gone; "
                                "rematerialize predictions for this partition")
            frame = rows_of(system, mv, frame)
            preds = aligned(frame, stored, system.data.id_column)
            baseline = baseline_preds = None
            if suite.family == "regression":
                # The baseline is whichever version holds the alias now: a partition Dagster cannot name in advance,
                # so its scores are read (or made once) through the same store.
                baseline = registry.by_alias(mlflow.client(), system.registry_name, suite.baseline_alias)
                if baseline is not None:
                    baseline_preds = stored_or_scored(state.predictions(), system, baseline, mlflow.client(), version, frame,
                                                      catalog.policy.model_loading)
            reference = probing = None
            pending = bool(frame[system.data.label].isna().any())  # of the rows this model version predicted
            if suite.family in PROBING:  # the model itself, digest-verified, answers new questions
                probing, baseline = probing_inputs(catalog, system, suite, mv, version, state.datasets(), mlflow.client())
            elif pending and suite.family != "regression":  # estimated, calibrated on the reference
                ref_version, ref_frame = state.datasets().snapshot(system, reference_window(system))
                ref_rows, ref_scores = reference_scores(state.predictions(), system, mv, mlflow.client(), ref_version,
                                                        ref_frame, catalog.policy.model_loading)
                reference = Reference(ref_rows[system.data.label].to_numpy(), ref_scores["score"].to_numpy(),
                                      {c: g.to_numpy() for c, g in group_labels(system, ref_rows).items()},
                                      None if system.logged else held_out(mlflow.client(), mv, ref_version))
            exp = mlflow.experiment(system.name)
            outcome = evaluate(
                system=system,
                suite=suite,
                model=mv,
                dataset=version,
                frame=frame,
                predictions=preds,
                client=mlflow.client(),
                experiment_id=exp,
                warehouse=state.warehouse(),
                provenance=Provenance(context.run.run_id, str(context.partition_key)),
                force=config.force,
                baseline=baseline,
                baseline_predictions=baseline_preds,
                reference=reference,
                probing=probing,
            )
            # Numeric metadata: Dagster plots these across materializations.
            headline = {
                f"{r.metric}[{r.slice}]": dg.MetadataValue.float(r.value)
                for r in outcome.rows
                if r.defined and (r.slice == "overall" or r.metric.endswith("_difference"))
            }
            checks = gate.judge_evaluation(system, catalog.policy, suite.family,
                                           pd.DataFrame([asdict(r) for r in outcome.rows]), model_version_)
            return dg.MaterializeResult(
                metadata={
                    "policy_verdict": gate.worst(checks) if checks else "no policy checks read this suite",
                    "policy_checks": dg.MetadataValue.md(gate.reasons_markdown(checks)),
                    "evaluation_id": outcome.run_id,
                    "mlflow_run_id": outcome.mlflow_run_id,
                    "mlflow_run": dg.MetadataValue.url(run_url(mlflow.ui_url, RunRef(exp, outcome.mlflow_run_id))),
                    "reused_existing_result": outcome.skipped,
                    "basis": "estimated: labels pending" if pending else "realized",
                    "dataset_digest": version.digest,
                    "metrics": dg.MetadataValue.md(metrics_markdown(outcome)),
                    **headline,
                },
                data_version=dg.DataVersion(outcome.run_id),
            )

        return _evaluation

    evaluations = [evaluation_asset(s) for s in catalog.evaluation_suites(system)]
    drift_suite = catalog.dataset_suite(system, "drift")

    @dg.asset(
        key=names.asset("drift"),
        partitions_def=parts.dataset,
        deps=[dataset_version],
        group_name=group,
        code_version=f"{code_version('drift')}-{drift_suite.digest[:12]}" if drift_suite else code_version("drift"),
        kinds={"evidently", "mlflow"},
        pool=pools.CPU,
        description=(
            "This dataset version against the reference window: per-column Evidently-compatible drift on the full "
            "data, label drift, dataset verdict; Evidently's HTML report attached to the MLflow run. Runs nightly after "
            "the version passes its data-quality check."
        ),
    )
    def drift(context: dg.AssetExecutionContext, state: StateResource, mlflow: MlflowResource,
              alerts: AlertResource) -> dg.MaterializeResult:
        version, frame = state.datasets().load(system, context.partition_key)
        reference, reference_frame = state.datasets().snapshot(system, reference_window(system))
        if drift_suite is None or version.digest == reference.digest:
            return dg.MaterializeResult(metadata={"compared": False, "why": "no drift suite, or this is the reference window"})
        outcome = drift_for_version(
            system=system, suite=drift_suite, reference=reference, reference_frame=reference_frame, version=version,
            frame=frame, client=mlflow.client(), experiment_id=mlflow.experiment(system.name), warehouse=state.warehouse(),
            provenance=Provenance(context.run.run_id, context.partition_key),
        )
        report = outcome.report
        link = run_url(mlflow.ui_url, outcome.mlflow_run)
        label = report.by_role("label")
        if report.drifted_columns:
            incidents.report(alerts.channel(), state.warehouse(), catalog, Alert(
                "dataset_drift" if report.dataset_drift else "column_drift", system.name, version.key,
                f"{len(report.drifted_columns)} of {len(report.assessed)} columns drifted against {reference.label}"
                + (" (dataset drift)" if report.dataset_drift else "") + (", label drift" if label is not None and label.drifted else ""),
                [f"{c.column}: {c.method} {c.statistic:.4f} (threshold {c.threshold})" for c in report.columns if c.drifted], link,
            ))
        table = ["| column | method | statistic | threshold | drifted |", "|---|---|---|---|---|"] + [
            f"| {c.column} | {c.method or ''} | {'' if c.statistic is None else f'{c.statistic:.4f}'} | {c.threshold or ''} | "
            f"{'not assessed: ' + c.error if c.drifted is None else ('**yes**' if c.drifted else 'no')} |"
            for c in report.columns
        ]
        return dg.MaterializeResult(
            metadata={
                "share_drifted": dg.MetadataValue.float(report.share),
                "dataset_drift": bool(report.dataset_drift),
                "drifted_columns": ", ".join(report.drifted_columns) or "none",
                "label_drift": bool(label.drifted) if label is not None and label.drifted is not None else False,
                "columns": dg.MetadataValue.md("\n".join(table)),
                "evidently_report_matches_full_data": not outcome.report_mismatches,
                "evidently_report_mismatched_columns": ", ".join(outcome.report_mismatches) or "none",
                "mlflow_run": dg.MetadataValue.url(link),
            },
            data_version=dg.DataVersion(outcome.run_id),
        )

    @dg.asset(
        key=names.asset("release_gate"),
        partitions_def=parts.evaluation,
        deps=evaluations,
        group_name=group,
        code_version=code_version("gate"),
        kinds={"duckdb"},
        description=(
            f"Release decision for {system.name}: the '{system.risk_tier}' tier of the policy applied to this "
            "model version's evaluations on this dataset version. Fails closed."
        ),
    )
    def release_gate(context: dg.AssetExecutionContext, state: StateResource, mlflow: MlflowResource,
                     alerts: AlertResource) -> dg.MaterializeResult:
        model_version_, dataset_key = partition_dims(context)
        warehouse = state.warehouse()
        decision = gate.decide_from_warehouse(system, catalog.policy, model_version_, warehouse, dataset_key, catalog.suite_digests(system))
        gate.record(decision, warehouse)
        client = mlflow.client()
        mv = registry.get(client, system.registry_name, model_version_)
        registry.record_decision(client, mv, decision.verdict, decision.decision_id)
        monitor_champion(catalog, system, decision, client, warehouse, alerts.channel())
        return dg.MaterializeResult(metadata=decision_metadata(decision), data_version=dg.DataVersion(decision.decision_id))

    champion = champion_asset(system, system.registry_name, release_gate)
    release_evidence = release_evidence_asset(catalog, system, release_gate)
    return [dataset_version, model_version, predictions, *evaluations, release_gate, champion, release_evidence, drift]
