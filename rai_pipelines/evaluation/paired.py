"""Regression against a baseline model: a paired comparison on the same rows.

Each row falls in one of 8 cells per group: label x candidate's prediction x
baseline's prediction. Both models' confusion counts are sums of those cells,
so one multinomial draw of the 8-cell counts is a paired row bootstrap of any
difference between them (candidate - baseline), at a cost that does not grow
with rows. A change counts as a regression only when its whole interval lies
beyond the tolerance in the harmful direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rai_pipelines.evaluation.bootstrap import percentile_interval, resample_counts
from rai_pipelines.evaluation.confusion import HIGHER_IS_BETTER, METRICS
from rai_pipelines.evaluation.fairness import binary_array, disparity
from rai_pipelines.evaluation.groups import encode
from rai_pipelines.evaluation.rows import MetricRow
from rai_pipelines.errors import DataError


@dataclass(frozen=True)
class Change:
    metric: str  # e.g. 'tpr' (a group value) or 'tpr_difference' (a disparity)
    slice: str
    value: float  # candidate - baseline
    ci_low: float
    ci_high: float
    n: int


def lower_is_better(metric: str) -> bool:
    if metric.endswith("_difference"):
        return True
    better = HIGHER_IS_BETTER.get(metric)
    if better is None:
        raise DataError(f"metric {metric!r} has no harmful direction; regression cannot be judged on it")
    return not better


def regressed(change_low: float, change_high: float, metric: str, tolerance: float) -> bool | None:
    """True when the whole interval of (candidate - baseline) is worse than the tolerance;
    None when the interval is undefined."""
    if math.isnan(change_low) or math.isnan(change_high):
        return None
    return change_low > tolerance if lower_is_better(metric) else change_high < -tolerance


def paired_changes(
    y_true,
    pred_candidate,
    pred_baseline,
    sensitive: dict[str, object] | None,
    metrics: list[str],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    intersections: bool = True,
) -> list[Change]:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise DataError(f"paired comparison supports {list(METRICS)}, not {unknown[0]!r}")
    y = binary_array("label", y_true)
    a = binary_array("candidate prediction", pred_candidate)
    b = binary_array("baseline prediction", pred_baseline)
    if not len(y) == len(a) == len(b):
        raise DataError("candidate and baseline predictions must be for the same rows as the labels")
    index = encode(sensitive or {}, len(y))
    idx = index.cell * 8
    idx += y.astype(np.int64) * 4
    idx += a.astype(np.int64) * 2
    idx += b.astype(np.int64)
    cells = np.bincount(idx, minlength=index.n_cells * 8).reshape(*index.shape, 2, 2, 2)
    del idx
    boot = resample_counts(cells, resamples, np.random.default_rng(seed))

    def confusion(t: np.ndarray, model: int) -> np.ndarray:
        # Sum out the other model's prediction; cells come out as (TN, FP, FN, TP).
        summed = t.sum(axis=-1) if model == 0 else t.sum(axis=-2)
        return summed.reshape(*summed.shape[:-2], 4)

    changes = []
    # The overall change comes first: a model can regress for everyone at once.
    partitions = index.partitions(intersections)
    for axes in partitions if () in partitions else [(), *partitions]:
        slices = index.group_slices(axes)
        c = index.reduce(cells, axes)
        bc = index.reduce(boot, axes, lead=1)
        sizes = c.sum((-1, -2, -3))
        present = sizes > 0
        for m in metrics:
            fn = METRICS[m]
            point = fn(confusion(c, 0)) - fn(confusion(c, 1))
            samples = fn(confusion(bc, 0)) - fn(confusion(bc, 1))
            low, high = percentile_interval(samples, confidence)
            for i in np.flatnonzero(present):
                changes.append(Change(m, slices[i], float(point[i]), float(low[i]), float(high[i]), int(sizes[i])))
            if axes:
                d_point = disparity(fn(confusion(c, 0)), present)[0] - disparity(fn(confusion(c, 1)), present)[0]
                required_a = present & ~np.isnan(fn(confusion(c, 0)))
                required_b = present & ~np.isnan(fn(confusion(c, 1)))
                d_samples = (disparity(fn(confusion(bc, 0)), present, required_a)[0]
                             - disparity(fn(confusion(bc, 1)), present, required_b)[0])
                lo, hi = percentile_interval(d_samples[:, None], confidence)
                changes.append(Change(f"{m}_difference", index.partition_name(axes), float(d_point), float(lo[0]), float(hi[0]), int(sizes.sum())))
    return changes


def change_rows(changes: list[Change], family: str = "regression") -> list[MetricRow]:
    return [MetricRow(family, f"{c.metric}_change", c.slice, c.value, c.n, c.ci_low, c.ci_high) for c in changes]
