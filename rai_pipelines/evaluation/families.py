"""Dispatch from a suite to its family's engine."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rai_pipelines.catalog import Suite, System
from rai_pipelines.data.validation import group_labels
from rai_pipelines.evaluation.fairness import fairness_report
from rai_pipelines.evaluation.performance import performance_metrics
from rai_pipelines.evaluation.paired import SCORE_METRICS, change_rows, paired_changes, paired_score_changes
from rai_pipelines.evaluation.rows import BASELINE_METRIC, MetricRow



@dataclass(frozen=True)
class Baseline:
    """The model a candidate is compared against, with its predictions on the same rows."""

    version: str
    predictions: pd.DataFrame


def compute(
    system: System, suite: Suite, frame: pd.DataFrame, predictions: pd.DataFrame, baseline: Baseline | None = None
) -> list[MetricRow]:
    y = frame[system.data.label].to_numpy()
    p = predictions["prediction"].to_numpy()
    score = predictions["score"].to_numpy()
    options = dict(resamples=suite.bootstrap_resamples, confidence=suite.confidence, seed=suite.seed)
    groups = group_labels(system, frame)
    sensitive = {c: groups[c].to_numpy() for c in groups.columns}
    if suite.family == "performance":
        return performance_metrics(y, p, score, suite.metrics, calibration_bins=suite.calibration_bins, **options)
    if suite.family == "fairness":
        report = fairness_report(
            y, p, sensitive, score, suite.metrics,
            intersections=suite.intersections, reference_groups=suite.reference_groups,
            calibration_bins=suite.calibration_bins, **options,
        )
        return report.rows("fairness")
    if suite.family == "regression":
        # The marker row says what was compared against: NaN when there is no baseline.
        marker = MetricRow("regression", BASELINE_METRIC, "overall", float(baseline.version) if baseline else float("nan"), len(y))
        if baseline is None:
            return [marker]
        confusion = [m for m in suite.metrics if m not in SCORE_METRICS]
        changes = paired_changes(
            y, p, baseline.predictions["prediction"].to_numpy(), sensitive, confusion,
            intersections=suite.intersections, **options,
        )
        if scored := [m for m in suite.metrics if m in SCORE_METRICS]:
            changes += paired_score_changes(y, score, baseline.predictions["score"].to_numpy(), sensitive, scored,
                                            intersections=suite.intersections, calibration_bins=suite.calibration_bins, **options)
        return [marker, *change_rows(changes)]
    raise ValueError(f"suite {suite.name!r}: no engine for family {suite.family!r}")
