"""Fairness family: group metrics per sensitive feature and their intersection,
with between-group disparities.

This first version computes group values with fairlearn's MetricFrame; an
undefined rate (no positives, no predicted positives) stays NaN, never 0.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

from rai_pipelines.evaluation.rows import MetricRow, feature_slice, slice_name


def _rate(num_mask: np.ndarray, den_mask: np.ndarray) -> float:
    den = den_mask.sum()
    return float(num_mask.sum() / den) if den else float("nan")


def _selection_rate(y, p):
    return _rate(p == 1, np.ones_like(p, dtype=bool))


def _tpr(y, p):
    return _rate((p == 1) & (y == 1), y == 1)


def _fpr(y, p):
    return _rate((p == 1) & (y == 0), y == 0)


def _precision(y, p):
    return _rate((p == 1) & (y == 1), p == 1)


def _accuracy(y, p):
    return _rate(p == y, np.ones_like(p, dtype=bool))


METRICS = {
    "selection_rate": _selection_rate,
    "tpr": _tpr,
    "fpr": _fpr,
    "precision": _precision,
    "accuracy": _accuracy,
}


def _disparities(metric: str, values: pd.Series, n: int, where: str) -> list[MetricRow]:
    defined = values.dropna()
    if len(defined) < 2:
        diff = ratio = float("nan")
    else:
        hi, lo = float(defined.max()), float(defined.min())
        diff = hi - lo
        ratio = lo / hi if hi > 0 else float("nan")
    return [
        MetricRow("fairness", f"{metric}_difference", where, diff, n),
        MetricRow("fairness", f"{metric}_ratio", where, ratio, n),
    ]


def fairness_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: pd.DataFrame,
    metrics: list[str],
    intersections: bool = True,
) -> list[MetricRow]:
    """Rows for each group of each column of `groups` (readable group names), and
    for their intersection when there is more than one column."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown fairness metric {unknown[0]!r}; known: {sorted(METRICS)}")
    y = np.asarray(y_true)
    p = np.asarray(y_pred)
    feature_sets = [[c] for c in groups.columns]
    if intersections and groups.shape[1] > 1:
        feature_sets.append(list(groups.columns))
    rows: list[MetricRow] = []
    for features in feature_sets:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = MetricFrame(
                metrics={m: METRICS[m] for m in metrics},
                y_true=y,
                y_pred=p,
                sensitive_features=groups[features],
            )
        by_group = frame.by_group
        counts = groups[features].value_counts()
        for key, values in by_group.iterrows():
            key = key if isinstance(key, tuple) else (key,)
            n = int(counts.get(key if len(key) > 1 else key[0], 0))
            if n == 0:  # intersection cells that do not occur
                continue
            name = slice_name(dict(zip(features, map(str, key))))
            rows.extend(MetricRow("fairness", m, name, float(values[m]), n) for m in metrics)
        for m in metrics:
            observed = by_group[m][[k in counts.index for k in by_group.index]] if len(features) > 1 else by_group[m]
            rows.extend(_disparities(m, observed, len(y), feature_slice(features)))
    return rows
