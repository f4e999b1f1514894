"""Dispatch from a suite to its family's engine."""

from __future__ import annotations

import pandas as pd

from rai_pipelines.catalog import Suite, System
from rai_pipelines.data.validation import group_labels
from rai_pipelines.evaluation.fairness import group_metrics
from rai_pipelines.evaluation.performance import performance_metrics
from rai_pipelines.evaluation.rows import MetricRow


def compute(system: System, suite: Suite, frame: pd.DataFrame, predictions: pd.DataFrame) -> list[MetricRow]:
    y = frame[system.data.label].to_numpy()
    p = predictions["prediction"].to_numpy()
    score = predictions["score"].to_numpy()
    options = dict(resamples=suite.bootstrap_resamples, confidence=suite.confidence, seed=suite.seed)
    if suite.family == "performance":
        return performance_metrics(y, p, score, suite.metrics, calibration_bins=suite.calibration_bins, **options)
    if suite.family == "fairness":
        groups = group_labels(system, frame)
        report = group_metrics(
            y, p, {c: groups[c].to_numpy() for c in groups.columns}, score, suite.metrics,
            intersections=suite.intersections, reference_groups=suite.reference_groups,
            calibration_bins=suite.calibration_bins, **options,
        )
        return report.rows("fairness")
    raise ValueError(f"suite {suite.name!r}: no engine for family {suite.family!r}")
