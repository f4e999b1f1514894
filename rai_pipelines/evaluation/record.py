"""One evaluation, recorded: MLflow run + warehouse facts, skipped when nothing changed.

An evaluation's identity is (system, model version and artifact digest,
dataset digest, suite and its digest, code version). The same identity is
never computed twice unless forced; a re-run replaces its facts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from mlflow import MlflowClient

from rai_pipelines import lineage
from rai_pipelines.catalog import Suite, System
from rai_pipelines.code_version import code_version
from rai_pipelines.data.snapshots import DatasetVersion
from rai_pipelines.digest import sha256_json
from rai_pipelines.evaluation.families import PROBING, Baseline, Reference, compute
from rai_pipelines.evaluation.probes import Probing
from rai_pipelines.evaluation.rows import MetricRow
from rai_pipelines.lineage import Provenance
from rai_pipelines.modeling.registry import ModelVersion
from rai_pipelines.stats import intervals
from rai_pipelines.warehouse import Fact, Warehouse


def evaluation_id(
    system: System, suite: Suite, model: ModelVersion, dataset: DatasetVersion, baseline: ModelVersion | None = None
) -> str:
    identity = [system.name, model.name, model.version, model.artifact_sha256, dataset.digest, suite.name, suite.digest,
                code_version(suite.family)]
    if suite.family in ("regression", "attributions"):  # a new champion is a new comparison
        identity.append([baseline.version, baseline.artifact_sha256] if baseline else None)
    return sha256_json(identity)[:24]


@dataclass(frozen=True)
class Outcome:
    run_id: str
    status: str
    mlflow_run_id: str
    rows: list[MetricRow]
    skipped: bool
    error: str | None = None


def existing(warehouse: Warehouse, run_id: str) -> Outcome | None:
    runs = warehouse.frame("select * from evaluation_runs where run_id = ? and status = 'ok'", [run_id])
    if runs.empty:
        return None
    m = warehouse.frame("select family, metric, slice, value, n, ci_low, ci_high, bounds from metrics where run_id = ?", [run_id])
    rows = [MetricRow(r.family, r.metric, r.slice, r.value, int(r.n), r.ci_low, r.ci_high,
                      tuple(intervals.from_json(r.bounds).values()) or None) for r in m.itertuples()]
    return Outcome(run_id, "ok", runs.mlflow_run_id.iloc[0], rows, skipped=True)


def store(warehouse: Warehouse, base: dict, rows: list[MetricRow]) -> datetime:
    """An evaluation's metric rows and its run record (`base`: the evaluation_runs columns but status, error and
    finish time), in one transaction: a worker killed half-way leaves neither."""
    now = datetime.now(UTC)
    system, run_id = base["system"], base["run_id"]
    warehouse.write_all([Fact("metrics", system, run_id, [{
        "run_id": run_id, "system": system, "model_version": base["model_version"], "dataset_version": base["dataset_version"],
        **{k: getattr(r, k) for k in ("family", "metric", "slice", "value", "ci_low", "ci_high", "n")},
        "bounds": intervals.to_json(r.bounds), "recorded_at": now} for r in rows]),
        Fact("evaluation_runs", system, run_id, [{**base, "status": "ok", "error": None, "finished_at": now}])])
    return now


ESTIMATED, REALIZED = "estimated", "realized"
# Selection rates (and their disparities) need no label: estimated they are the realized ones, not estimates to score.
EXACT_WITHOUT_LABELS = "selection_rate"


def compare_with_estimate(warehouse: Warehouse, base: dict, dataset: DatasetVersion, rows: list[MetricRow]) -> None:
    """Once a window's labels land, its realized rows next to what was estimated for the same model version, suite
    and window while they were pending (the newest such estimate): the estimation's error, tracked as a KPI."""
    estimated = warehouse.frame(
        """select r.run_id, r.dataset_version from evaluation_runs r
           join dataset_versions v on v.system = r.system and v.dataset_version = r.dataset_version
           where r.system = ? and r.model_version = ? and r.suite = ? and r.basis = ? and r.status = 'ok' and v.label = ?
           order by r.finished_at desc limit 1""",
        [base["system"], base["model_version"], base["suite"], ESTIMATED, dataset.label])
    if estimated.empty:
        return
    run_id, version = estimated.run_id.iloc[0], estimated.dataset_version.iloc[0]
    guess = warehouse.frame("select family, metric, slice, value, ci_low, ci_high from metrics where run_id = ?", [run_id])
    realized = {(r.family, r.metric, r.slice): r.value for r in rows if r.defined}
    now = datetime.now(UTC)
    facts = [{"system": base["system"], "model_version": base["model_version"], "window_label": dataset.label,
              "suite": base["suite"], "family": g.family, "metric": g.metric, "slice": g.slice, "estimated": g.value,
              "ci_low": g.ci_low, "ci_high": g.ci_high, "realized": realized[(g.family, g.metric, g.slice)],
              "error": g.value - realized[(g.family, g.metric, g.slice)],
              "covered": bool(g.ci_low <= realized[(g.family, g.metric, g.slice)] <= g.ci_high),
              "estimated_run_id": run_id, "realized_run_id": base["run_id"], "estimated_dataset_version": version,
              "realized_dataset_version": base["dataset_version"], "recorded_at": now}
             for g in guess.itertuples() if (g.family, g.metric, g.slice) in realized and g.value == g.value
             and g.ci_low == g.ci_low and not g.metric.startswith(EXACT_WITHOUT_LABELS)]
    if facts:
        warehouse.write("estimate_errors", base["system"], f"{run_id}-{base['run_id']}", facts)


def store_error(warehouse: Warehouse, base: dict, error: str) -> None:
    warehouse.write("evaluation_runs", base["system"], base["run_id"],
                    [{**base, "status": "error", "error": error, "finished_at": datetime.now(UTC)}])


def evaluate(
    *,
    system: System,
    suite: Suite,
    model: ModelVersion,
    dataset: DatasetVersion,
    frame: pd.DataFrame,
    predictions: pd.DataFrame,
    client: MlflowClient,
    experiment_id: str,
    warehouse: Warehouse,
    provenance: Provenance = Provenance(),
    force: bool = False,
    baseline: ModelVersion | None = None,
    baseline_predictions: pd.DataFrame | None = None,
    reference: Reference | None = None,
    probing: Callable[[], Probing] | None = None,
) -> Outcome:
    run_id = evaluation_id(system, suite, model, dataset, baseline)
    if not force and (done := existing(warehouse, run_id)) is not None:
        return done
    started = datetime.now(UTC)
    tags = provenance.run_tags(
        system.name, suite,
        **{"rai.evaluation_id": run_id, "rai.model_name": model.name, "rai.model_version": model.version,
           "rai.dataset_version": dataset.key, "rai.dataset_digest": dataset.digest},
        **({"rai.baseline_version": baseline.version} if baseline else {}),
    )
    run = lineage.start_run(client, experiment_id, f"{suite.name} v{model.version} {dataset.label}", tags)
    base = {
        "run_id": run_id,
        "system": system.name,
        "model_name": model.name,
        "model_version": model.version,
        "dataset_version": dataset.key,
        "dataset_digest": dataset.digest,
        "suite": suite.name,
        "suite_digest": suite.digest,
        "started_at": started,
        "dagster_run_id": provenance.dagster_run_id,
        "dagster_partition": provenance.partition,
        "mlflow_run_id": run.run_id,
        "mlflow_experiment_id": experiment_id,
        "code_version": code_version(suite.family),
        "family": suite.family,
        # Of the rows this model predicted; the probing families ask the model, not the labels, and estimate nothing.
        "basis": ESTIMATED if frame[system.data.label].isna().any() and suite.family not in PROBING else REALIZED,
    }
    try:
        rows = compute(system, suite, frame, predictions, Baseline(baseline.version, baseline_predictions) if baseline else None,
                       reference, probing() if probing else None)
        lineage.log_evaluation(
            client,
            run,
            dataset,
            {"suite_digest": suite.digest, "model_artifact_sha256": model.artifact_sha256, "rows": dataset.rows},
            rows,
        )
        store(warehouse, base, rows)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        store_error(warehouse, base, error)
        lineage.finish_run(client, run, ok=False, error=error)
        raise
    lineage.finish_run(client, run, ok=True)
    if base["basis"] == REALIZED:  # after the run is stored: a realized result stands whatever this comparison does
        compare_with_estimate(warehouse, base, dataset, rows)
    return Outcome(run_id, "ok", run.run_id, rows, skipped=False)
