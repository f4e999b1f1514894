"""Asset checks: the data-quality suite on every dataset version, blocking."""

import json
import warnings

import dagster as dg

from rai_pipelines import gate
from rai_pipelines.alerts import Alert
from rai_pipelines.catalog import AssistantSystem, Catalog, System
from rai_pipelines.governance import incidents
from rai_pipelines.lineage import Provenance, run_url
from rai_pipelines.names import DATA_QUALITY, RELEASE_APPROVED, SystemNames
from rai_pipelines.orchestration.common import partition_dims
from rai_pipelines.orchestration.partitions import SystemPartitions
from rai_pipelines.orchestration.resources import AlertResource, MlflowResource, StateResource
from rai_pipelines.quality.record import check_dataset
from rai_pipelines.warehouse import reads


def data_quality_check(catalog: Catalog, system: System) -> dg.AssetChecksDefinition | None:
    suite = catalog.dataset_suite(system, DATA_QUALITY)
    if suite is None:
        return None

    with warnings.catch_warnings():
        # Partitioned asset checks are "preview" in Dagster 1.13; they are what
        # makes the check run per dataset version.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _build(catalog, system, suite)


def _build(catalog: Catalog, system: System, suite) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(SystemNames(system.name).asset("dataset_version")),
        name=DATA_QUALITY,
        blocking=True,
        partitions_def=SystemPartitions(system.name).dataset,
        description=f"Great Expectations suite '{suite.name}': {suite.description.strip()}",
    )
    def _check(
        context: dg.AssetCheckExecutionContext, state: StateResource, mlflow: MlflowResource, alerts: AlertResource
    ) -> dg.AssetCheckResult:
        version, frame = state.datasets().load(system, context.partition_key)
        outcome = check_dataset(
            system=system, suite=suite, version=version, frame=frame, client=mlflow.client(),
            experiment_id=mlflow.experiment(system.name), warehouse=state.warehouse(),
            provenance=Provenance(context.run.run_id, context.partition_key),
        )
        link = run_url(mlflow.ui_url, outcome.mlflow_run)
        failed = outcome.result.failed
        if failed:
            # Sent here because Dagster OSS's run-failure sensor ignores failed checks (#29896).
            incidents.report(alerts.channel(), state.warehouse(), catalog, Alert(
                "data_quality_failed", system.name, version.key,
                f"{len(failed)} of {len(outcome.result.outcomes)} expectations failed; evaluations of this version are blocked",
                [f"{o.expectation}({o.column or ''}): observed {o.observed[:200]}" for o in failed], link,
            ))
        return dg.AssetCheckResult(
            passed=outcome.result.success,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "failed_expectations": dg.MetadataValue.int(len(failed)),
                "expectations": dg.MetadataValue.int(len(outcome.result.outcomes)),
                "results": dg.MetadataValue.md(outcome.result.markdown()),
                "mlflow_run": dg.MetadataValue.url(link),
            },
        )

    return _check


def release_approved_check(system: System | AssistantSystem) -> dg.AssetChecksDefinition:
    """Blocking: nothing downstream of the gate (the release evidence) materializes unless it passed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)

        @dg.asset_check(
            asset=dg.AssetKey(SystemNames(system.name).asset("release_gate")),
            name=RELEASE_APPROVED,
            blocking=True,
            partitions_def=SystemPartitions(system.name).evaluation,
            description="Passes only when the release decision is pass (approved waivers included); fails closed otherwise.",
        )
        def _check(context: dg.AssetCheckExecutionContext, state: StateResource) -> dg.AssetCheckResult:
            model_version, dataset_key = partition_dims(context)
            found = reads.latest_decision(state.warehouse(), system.name, model_version, dataset_key)
            if found is None:
                return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR,
                                           metadata={"verdict": gate.UNASSESSED, "decision_id": "none"})
            reasons = [gate.Reason(**r) for r in json.loads(found.reasons)]
            return dg.AssetCheckResult(
                passed=found.verdict == gate.PASS,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "verdict": found.verdict,
                    "decision_id": found.decision_id,
                    "checks": dg.MetadataValue.md(gate.reasons_markdown(reasons)),
                },
            )

    return _check
