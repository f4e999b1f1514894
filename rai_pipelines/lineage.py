"""Lineage in MLflow with explicit run ids (no process-global active run).

One MLflow run per evaluation: the dataset version as an input (digest,
source, schema), the model version, code version, the Dagster run id and
partition as tags, and the metrics in one batch call.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from rai_pipelines.catalog import Suite
from rai_pipelines.code_version import code_version
from rai_pipelines.data.snapshots import DatasetVersion
from rai_pipelines.evaluation.rows import MetricRow

_MAX_BATCH = 1000  # MLflow's per-call limit on metrics


def experiment_id(client: MlflowClient, name: str, artifact_root: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=f"{artifact_root.rstrip('/')}/{name.replace('/', '_')}")
    except MlflowException:  # created concurrently by another process
        return client.get_experiment_by_name(name).experiment_id


def system_experiment(client: MlflowClient, system: str, artifact_root: str) -> str:
    """The experiment holding a system's evaluation runs (and its assistant versions' registrations)."""
    return experiment_id(client, f"rai/{system}", artifact_root)


def held_out(client: MlflowClient, model, dataset: DatasetVersion) -> bool | None:
    """Whether `model` (a registered version) was trained on data other than `dataset`, from the datasets its
    training run logged as inputs; None when it logged none."""
    inputs = client.get_run(model.run_id).inputs.dataset_inputs if model.run_id else []
    digests = [i.dataset.digest for i in inputs if i.dataset.digest]
    return None if not digests else not any(dataset.digest.startswith(d) for d in digests)


def dataset_input(version: DatasetVersion, context: str) -> DatasetInput:
    schema = {"mlflow_colspec": [{"name": c, "type": t} for c, t in version.schema.items()]}
    return DatasetInput(
        dataset=Dataset(
            name=f"{version.system}:{version.label}",
            digest=version.digest[:36],
            source_type="rai_snapshot",
            source=json.dumps({"source": version.source, "sha256": version.digest, "snapshot": version.path}),
            schema=json.dumps(schema),
            profile=json.dumps({"num_rows": version.rows}),
        ),
        tags=[InputTag("mlflow.data.context", context)],
    )


@dataclass(frozen=True)
class Provenance:
    """Where a recorded run was launched from (Dagster run id and partition, when orchestrated)."""

    dagster_run_id: str = ""
    partition: str = ""

    def run_tags(self, system: str, suite: Suite, **extra: str) -> dict[str, str]:
        """The tags every rai MLflow run carries, plus the caller's own."""
        return {
            "rai.system": system,
            "rai.suite": suite.name,
            "rai.family": suite.family,
            "rai.code_version": code_version(suite.family),
            "dagster.run_id": self.dagster_run_id,
            "dagster.partition": self.partition,
            **extra,
        }


@dataclass(frozen=True)
class RunRef:
    experiment_id: str
    run_id: str


def start_run(client: MlflowClient, experiment: str, run_name: str, tags: dict[str, str]) -> RunRef:
    run = client.create_run(experiment, run_name=run_name, tags=tags)
    return RunRef(experiment, run.info.run_id)


def log_evaluation(
    client: MlflowClient,
    run: RunRef,
    dataset: DatasetVersion,
    params: dict[str, str],
    rows: list[MetricRow],
) -> None:
    client.log_inputs(run.run_id, datasets=[dataset_input(dataset, "evaluation")])
    now = int(time.time() * 1000)
    metrics = [Metric(r.mlflow_key, r.value, now, 0) for r in rows if r.defined]
    params_ = [Param(k, str(v)) for k, v in params.items()]
    for i in range(0, max(len(metrics), 1), _MAX_BATCH):
        client.log_batch(run.run_id, metrics=metrics[i : i + _MAX_BATCH], params=params_ if i == 0 else [])
    client.log_text(
        run.run_id,
        json.dumps([r.__dict__ for r in rows], indent=1, default=str),
        "metrics.json",
    )


def finish_run(client: MlflowClient, run: RunRef, ok: bool, error: str | None = None) -> None:
    if error:
        client.log_batch(run.run_id, tags=[RunTag("rai.error", error[:5000])])
    client.set_terminated(run.run_id, status="FINISHED" if ok else "FAILED")


def run_url(ui_url: str, run: RunRef) -> str:
    return f"{ui_url.rstrip('/')}/#/experiments/{run.experiment_id}/runs/{run.run_id}"
