"""A dataset version's data-quality check, recorded: MLflow run with the
readable result, one warehouse row per expectation, and the verdict the
evaluations are gated on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric

from rai_pipelines import lineage
from rai_pipelines.catalog import Suite, System
from rai_pipelines.code_version import code_version
from rai_pipelines.data.snapshots import DatasetVersion
from rai_pipelines.digest import sha256_json
from rai_pipelines.lineage import Provenance
from rai_pipelines.quality.expectations import QualityResult, validate
from rai_pipelines.warehouse import Warehouse


@dataclass(frozen=True)
class QualityOutcome:
    result: QualityResult
    mlflow_run: lineage.RunRef


def check_dataset(
    *,
    system: System,
    suite: Suite,
    version: DatasetVersion,
    frame: pd.DataFrame,
    client: MlflowClient,
    experiment_id: str,
    warehouse: Warehouse,
    provenance: Provenance = Provenance(),
) -> QualityOutcome:
    check_id = sha256_json([system.name, version.digest, suite.name, suite.digest, code_version(suite.family)])[:24]
    result = validate(frame, suite, version.key)
    run = lineage.start_run(
        client, experiment_id, f"data_quality {version.label}",
        provenance.run_tags(system.name, suite, **{"rai.dataset_version": version.key, "rai.dataset_digest": version.digest}),
    )
    client.log_inputs(run.run_id, datasets=[lineage.dataset_input(version, "validation")])
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    client.log_batch(run.run_id, metrics=[
        Metric("data_quality/passed", float(result.success), now_ms, 0),
        Metric("data_quality/failed_expectations", float(len(result.failed)), now_ms, 0),
    ])
    client.log_text(run.run_id, json.dumps(result.to_json(), indent=1), "data_quality.json")
    client.log_text(run.run_id, f"# Data quality: {suite.name} on {version.key}\n\n{result.markdown()}\n", "data_quality.md")
    checked_at = datetime.now(UTC)
    warehouse.write(
        "quality_results", system.name, check_id,
        [
            {
                "check_id": check_id, "system": system.name, "dataset_version": version.key, "dataset_digest": version.digest,
                "suite": suite.name, "suite_digest": suite.digest, "expectation": o.expectation, "column_name": o.column,
                "success": o.success, "observed": o.observed, "kwargs": o.kwargs, "suite_passed": result.success,
                "checked_at": checked_at, "mlflow_run_id": run.run_id, "dagster_run_id": provenance.dagster_run_id,
                "code_version": code_version(suite.family),
            }
            for o in result.outcomes
        ],
    )
    lineage.finish_run(client, run, ok=True)
    return QualityOutcome(result, run)


def passed(warehouse: Warehouse, system: str, dataset_version: str) -> bool | None:
    """The latest quality verdict of a dataset version; None when it was never checked."""
    found = warehouse.frame(
        "select suite_passed from quality_results where system = ? and dataset_version = ? order by checked_at desc limit 1",
        [system, dataset_version],
    )
    return None if found.empty else bool(found.suite_passed.iloc[0])
