"""Percentile bootstrap over counts.

A row bootstrap of statistics that depend only on counts of rows per cell
(group x label x prediction, or group x score bin x label) is a multinomial
draw of those counts with the total held fixed: the same distribution, at a
cost that does not grow with the number of rows.
"""

from __future__ import annotations

import warnings

import numpy as np


def resample_counts(counts: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, *counts.shape) multinomial draws matching `counts`' total and cell shares."""
    flat = counts.reshape(-1).astype(np.float64)
    total = int(flat.sum())
    if total == 0:
        return np.zeros((resamples, *counts.shape), dtype=np.int64)
    return rng.multinomial(total, flat / total, size=resamples).reshape(resamples, *counts.shape)


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along axis 0.

    Resamples where the statistic is undefined (a group drawn with no positives)
    are left out; when more than the interval's tail share of them is undefined
    the interval itself is undefined, since it would describe a different
    population than the point estimate.
    """
    alpha = (1 - confidence) / 2
    undefined = np.isnan(samples).mean(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        low, high = np.nanquantile(samples, [alpha, 1 - alpha], axis=0)
    bad = undefined > alpha
    low = np.where(bad, np.nan, low)
    high = np.where(bad, np.nan, high)
    return low, high
