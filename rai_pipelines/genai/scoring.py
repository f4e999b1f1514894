"""Rates with percentile-bootstrap intervals, as metric rows like every other family's."""

from __future__ import annotations

import numpy as np

from rai_pipelines.evaluation.bootstrap import percentile_interval, resample_counts
from rai_pipelines.evaluation.rows import MetricRow


def rate_row(family: str, metric: str, outcomes: list[bool], slice_: str = "overall", resamples: int = 1000,
             confidence: float = 0.95, seed: int = 0) -> MetricRow:
    """Share of True outcomes with its interval; no outcomes -> undefined (NaN), never 0."""
    n = len(outcomes)
    if n == 0:
        return MetricRow(family, metric, slice_, float("nan"), 0)
    hits = int(sum(outcomes))
    value = hits / n
    if resamples <= 0:
        return MetricRow(family, metric, slice_, value, n)
    draws = resample_counts(np.array([hits, n - hits]), resamples, np.random.default_rng(seed))
    low, high = percentile_interval(draws[:, 0] / n, confidence)
    return MetricRow(family, metric, slice_, value, n, float(low), float(high))
