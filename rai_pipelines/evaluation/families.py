"""Dispatch from a suite to its family's engine."""

from __future__ import annotations

import pandas as pd

from rai_pipelines.catalog import Suite, System
from rai_pipelines.data.validation import group_labels
from rai_pipelines.evaluation.fairness import fairness_metrics
from rai_pipelines.evaluation.performance import performance_metrics
from rai_pipelines.evaluation.rows import MetricRow


def compute(system: System, suite: Suite, frame: pd.DataFrame, predictions: pd.DataFrame) -> list[MetricRow]:
    y = frame[system.data.label].to_numpy()
    p = predictions["prediction"].to_numpy()
    if suite.family == "performance":
        return performance_metrics(y, p, predictions["score"].to_numpy(), suite.metrics, suite.calibration_bins)
    if suite.family == "fairness":
        return fairness_metrics(y, p, group_labels(system, frame), suite.metrics, suite.intersections)
    raise ValueError(f"suite {suite.name!r}: no engine for family {suite.family!r}")
