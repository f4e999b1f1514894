"""Jobs of one system: one per partitioning (a Dagster run targets one partitions definition)."""

from __future__ import annotations

import dagster as dg

from rai_pipelines.names import SystemNames


def system_jobs(system: str) -> tuple[dg.UnresolvedAssetJobDefinition, ...]:
    """(ingest, register, evaluate) of a tabular system."""
    n = SystemNames(system)
    per_dataset = dg.AssetSelection.assets(n.asset("dataset_version"), n.asset("drift"))
    return (
        dg.define_asset_job(
            n.ingest_job, selection=per_dataset,
            description="Snapshot, validate (blocking data-quality check) and register one dataset version, then its drift.",
        ),
        dg.define_asset_job(n.register_job, selection=dg.AssetSelection.assets(n.asset("model_version")),
                            description="Verify and register one model version from the MLflow registry."),
        dg.define_asset_job(
            n.evaluate_job,
            selection=dg.AssetSelection.groups(system) - per_dataset - dg.AssetSelection.assets(n.asset("model_version")),
            description="Predictions, every suite's evaluation, the release gate and, behind its blocking check, the "
                        "champion alias and the release evidence, for one model version x dataset version.",
            tags={"rai/system": system},
        ),
    )


def assistant_job(system: str) -> dg.UnresolvedAssetJobDefinition:
    """An assistant has one job: every suite's evaluation and the gate, for one target x prompt-set version."""
    return dg.define_asset_job(SystemNames(system).evaluate_job, selection=dg.AssetSelection.groups(system),
                               description="Every GenAI suite's evaluation and the release gate.", tags={"rai/system": system})
