"""Simultaneous intervals for between-group disparities of proportions.

The disparity of a rate over groups is max - min (difference) or min / max
(ratio). A percentile bootstrap of max - min is biased upwards and, at a true
disparity of zero, its interval excludes zero (the max - min of resamples is
never below it). Instead:

- two groups: the signed difference p1 - p2 by Newcombe's square-and-add
  method on Clopper-Pearson bounds of each group; |p1 - p2| is bounded by the
  signed interval folded at zero (its lower end from the signed interval at
  half the level, since either tail can push it up), so a true disparity of
  zero is covered whenever the signed interval covers zero.
- more groups (and every ratio): a simultaneous box. Each group's rate gets
  Clopper-Pearson bounds at level / (2G), so all G rates lie in their bounds
  with probability >= 1 - level; then max - min lies in
  [max(0, max lo - min hi), max hi - min lo] and min / max in
  [min lo / max hi, min hi / max lo].

Both are one-sided bounds at every level asked, never of zero width.
"""

from __future__ import annotations

import numpy as np

from rai_pipelines.stats.intervals import clopper_pearson


def _cp(k, n, levels):
    return clopper_pearson(np.asarray(k, float)[:, None], np.asarray(n, float)[:, None], np.asarray(levels)[None, :])


def signed_difference(k1, n1, k2, n2, levels) -> np.ndarray:
    """(L, 2) one-sided bounds of p1 - p2 (Newcombe's hybrid method with exact bounds per group)."""
    levels = np.asarray(levels, float)
    (l1, u1), (l2, u2) = (clopper_pearson(k, n, levels) for k, n in ((k1, n1), (k2, n2)))
    p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    lo = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return np.stack([np.maximum(lo, -1.0), np.minimum(hi, 1.0)], axis=-1)


def max_min_difference(k, n, levels) -> np.ndarray:
    """(L, 2) one-sided bounds of max - min over the groups' rates k / n."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    levels = np.asarray(levels, float)
    if len(k) == 2:
        # |d| > max(hi, -lo) needs the one tail on the side of the true sign: level. |d| < max(0, lo, -hi) can
        # happen through either tail: the lower bound takes the signed interval at level / 2.
        signed = signed_difference(k[0], n[0], k[1], n[1], levels)
        halved = signed_difference(k[0], n[0], k[1], n[1], levels / 2)
        lo2, hi2 = halved[:, 0], halved[:, 1]
        return np.stack([np.maximum.reduce([np.zeros_like(lo2), lo2, -hi2]), np.maximum(signed[:, 1], -signed[:, 0])], axis=-1)
    g = len(k)
    lo, hi = _cp(k, n, levels / (2 * g))  # (G, L)
    return np.stack([np.maximum(lo.max(0) - hi.min(0), 0.0), hi.max(0) - lo.min(0)], axis=-1)


def min_max_ratio(k, n, levels) -> np.ndarray:
    """(L, 2) one-sided bounds of min / max over the groups' rates k / n (NaN when no rate can be positive)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    levels = np.asarray(levels, float)
    g = len(k)
    lo, hi = _cp(k, n, levels / (2 * g))
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(hi.max(0) > 0, lo.min(0) / hi.max(0), np.nan)
        high = np.where(lo.max(0) > 0, np.minimum(hi.min(0) / lo.max(0), 1.0), 1.0)
    return np.stack([low, high], axis=-1)


def ratio_to_reference(k, n, k_ref, n_ref, levels) -> np.ndarray:
    """(L, 2) one-sided bounds of p / p_ref (each rate at level / 2)."""
    levels = np.asarray(levels, float)
    lo, hi = clopper_pearson(k, n, levels / 2)
    lo_r, hi_r = clopper_pearson(k_ref, n_ref, levels / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(hi_r > 0, lo / hi_r, np.nan)
        high = np.where(lo_r > 0, hi / np.where(lo_r > 0, lo_r, 1), np.inf)
    return np.stack([low, high], axis=-1)
