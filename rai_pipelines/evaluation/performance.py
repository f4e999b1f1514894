"""Performance family: the engine's `overall` group, with bootstrap intervals."""

from __future__ import annotations

import numpy as np

from rai_pipelines.evaluation.engine import group_metrics
from rai_pipelines.evaluation.rows import MetricRow


def performance_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    score: np.ndarray,
    metrics: list[str],
    *,
    calibration_bins: int = 10,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[MetricRow]:
    report = group_metrics(
        y_true, y_pred, None, score, metrics,
        resamples=resamples, confidence=confidence, seed=seed, calibration_bins=calibration_bins,
    )
    return report.rows("performance")


def from_suite(inputs, suite) -> list[MetricRow]:
    """The performance family on a suite's options (`families.Inputs`)."""
    return performance_metrics(inputs.y, inputs.prediction, inputs.score, suite.metrics, calibration_bins=suite.calibration_bins,
                               resamples=suite.bootstrap_resamples, confidence=suite.confidence, seed=suite.seed)
