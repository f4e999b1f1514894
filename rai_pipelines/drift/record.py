"""Nightly drift of a dataset version against the reference window, recorded.

Verdicts come from the engine on the full data. Evidently's HTML report, for
people, is computed on a sample of each window (Evidently takes about a minute
per million rows); the engine is rerun on the same sample so the report states
whether its verdicts match the full-data ones, and names the columns where they
do not.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric

from rai_pipelines import lineage
from rai_pipelines.catalog import Suite, System
from rai_pipelines.code_version import code_version
from rai_pipelines.data.snapshots import DatasetVersion
from rai_pipelines.digest import sha256_json
from rai_pipelines.drift.engine import CATEGORICAL, NUMERIC, DriftReport, dataset_drift
from rai_pipelines.lineage import Provenance
from rai_pipelines.warehouse import Warehouse


@dataclass(frozen=True)
class DriftOutcome:
    run_id: str
    report: DriftReport
    report_mismatches: list[str]  # columns whose sampled-report verdict differs from the full data
    mlflow_run: lineage.RunRef


def column_kinds(system: System, with_label: bool = True) -> dict[str, str]:
    """Columns compared, and how; the label only when every row has one (drift of the labels landed so far would
    describe whichever rows were labelled first)."""
    kinds = {c: NUMERIC if k == "numeric" else CATEGORICAL for c, k in system.data.features.items()}
    if with_label:
        kinds[system.data.label] = CATEGORICAL
    return kinds


def _sample(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    return frame if len(frame) <= rows else frame.sample(rows, random_state=0)


def evidently_html(reference: pd.DataFrame, current: pd.DataFrame, kinds: dict[str, str], path: Path) -> None:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c for c, k in kinds.items() if k == NUMERIC],
        categorical_columns=[c for c, k in kinds.items() if k == CATEGORICAL],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([DataDriftPreset()]).run(
            Dataset.from_pandas(current[list(kinds)], data_definition=definition),
            Dataset.from_pandas(reference[list(kinds)], data_definition=definition),
        )
        snapshot.save_html(str(path))


def drift_for_version(
    *,
    system: System,
    suite: Suite,
    reference: DatasetVersion,
    reference_frame: pd.DataFrame,
    version: DatasetVersion,
    frame: pd.DataFrame,
    client: MlflowClient,
    experiment_id: str,
    warehouse: Warehouse,
    provenance: Provenance = Provenance(),
) -> DriftOutcome:
    run_id = sha256_json([system.name, reference.digest, version.digest, suite.name, suite.digest, code_version(suite.family)])[:24]
    kinds = column_kinds(system, with_label=not version.labels_pending)
    report = dataset_drift(reference_frame[list(kinds)], frame[list(kinds)], kinds, label=system.data.label,
                           drift_share=suite.drift_share)
    ref_sample, cur_sample = _sample(reference_frame, suite.report_sample_rows), _sample(frame, suite.report_sample_rows)
    sampled = {c.column: c.drifted for c in dataset_drift(ref_sample[list(kinds)], cur_sample[list(kinds)], kinds).columns}
    mismatches = [c.column for c in report.columns if sampled.get(c.column) != c.drifted]

    run = lineage.start_run(
        client, experiment_id, f"drift {version.label} vs {reference.label}",
        provenance.run_tags(system.name, suite, **{"rai.dataset_version": version.key, "rai.reference_version": reference.key}),
    )
    client.log_inputs(run.run_id, datasets=[lineage.dataset_input(reference, "reference"), lineage.dataset_input(version, "current")])
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    metrics = [Metric("drift/share_drifted", report.share, now_ms, 0),
               Metric("drift/dataset_drift", float(bool(report.dataset_drift)), now_ms, 0)]
    metrics += [Metric(f"drift/{c.column}", c.statistic, now_ms, 0) for c in report.columns if c.statistic is not None]
    client.log_batch(run.run_id, metrics=metrics)
    summary = {**report.to_json(), "report_sample_rows": {"reference": len(ref_sample), "current": len(cur_sample)},
               "report_matches_full_data": not mismatches, "report_mismatched_columns": mismatches}
    client.log_text(run.run_id, json.dumps(summary, indent=1), "drift.json")
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "evidently_data_drift.html"
        evidently_html(ref_sample, cur_sample, kinds, html)
        client.log_artifact(run.run_id, str(html))
    recorded_at = datetime.now(UTC)
    warehouse.write(
        "drift_results", system.name, run_id,
        [
            {
                "run_id": run_id, "system": system.name, "dataset_version": version.key, "window": version.label,
                "reference_version": reference.key, "column_name": c.column, "kind": c.kind, "role": c.role, "method": c.method,
                "statistic": c.statistic, "threshold": c.threshold, "drifted": c.drifted, "n_reference": c.n_reference,
                "n_current": c.n_current, "error": c.error, "share_drifted": report.share, "dataset_drift": report.dataset_drift,
                "report_matches_full_data": not mismatches, "mlflow_run_id": run.run_id,
                "dagster_run_id": provenance.dagster_run_id, "recorded_at": recorded_at, "code_version": code_version(suite.family),
            }
            for c in report.columns
        ],
    )
    lineage.finish_run(client, run, ok=True)
    return DriftOutcome(run_id, report, mismatches, run)


def latest_drift(warehouse: Warehouse, system: str, dataset_version: str) -> pd.DataFrame:
    """Per-column rows of the latest drift run on a dataset version (empty if none)."""
    return warehouse.frame(
        """select * from drift_results where system = ? and dataset_version = ?
           and run_id = (select run_id from drift_results where system = ? and dataset_version = ? order by recorded_at desc limit 1)""",
        [system, dataset_version, system, dataset_version],
    )
