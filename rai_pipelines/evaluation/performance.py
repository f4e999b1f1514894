"""Performance family: discrimination and calibration on the whole batch."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from rai_pipelines.evaluation.rows import OVERALL, MetricRow


def expected_calibration_error(y_true: np.ndarray, score: np.ndarray, bins: int = 10) -> float:
    """Equal-width-bin ECE: sum over bins of (bin share) * |mean label - mean score|."""
    idx = np.minimum((score * bins).astype(int), bins - 1)
    counts = np.bincount(idx, minlength=bins)
    pos = np.bincount(idx, weights=y_true, minlength=bins)
    conf = np.bincount(idx, weights=score, minlength=bins)
    nz = counts > 0
    return float(np.sum(np.abs(pos[nz] - conf[nz])) / len(score))


def performance_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray, metrics: list[str], bins: int = 10
) -> list[MetricRow]:
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    score = np.asarray(score, dtype=float)
    n = len(y_true)
    both_classes = 0 < y_true.sum() < n
    compute = {
        "accuracy": lambda: float(np.mean(y_true == y_pred)),
        "selection_rate": lambda: float(np.mean(y_pred)),
        "roc_auc": lambda: float(roc_auc_score(y_true, score)) if both_classes else float("nan"),
        "expected_calibration_error": lambda: expected_calibration_error(y_true, score, bins),
    }
    unknown = [m for m in metrics if m not in compute]
    if unknown:
        raise ValueError(f"unknown performance metric {unknown[0]!r}; known: {sorted(compute)}")
    return [MetricRow("performance", m, OVERALL, compute[m](), n) for m in metrics]
