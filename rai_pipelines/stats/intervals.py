"""One-sided bounds on a grid of levels.

A check is judged at a level the policy decides only when the decision is made
(its share of alpha after Holm, the release window's per-night level), so an
evaluation stores, for each number, its lower and upper one-sided bounds at
every level of `LEVELS`: `bounds[i] = (lo, hi)` with P(truth < lo) <= LEVELS[i]
and P(truth > hi) <= LEVELS[i]. Together they are a two-sided interval at
1 - 2 * LEVELS[i]; the 95% interval is the one at 0.025.

Proportions use Clopper-Pearson: its coverage is at least nominal at every n and
every true rate (the tail probabilities are exact binomial sums), and it is never
degenerate, [0, 1 - L^(1/n)] at 0/n. Wilson and Jeffreys are shorter on average
but fall below nominal near 0 and 1 at small n, exactly where GenAI suites and
small groups live (Wilson covers 0.01 at n=8 only 92% of the time at 95%).

Bootstrap bounds are percentiles of the resamples. Levels finer than the
resamples resolve (fewer than 5 resamples in the tail; 0.005 with 1,000) come
from a normal approximation with the resamples' standard deviation, never
narrower than the finest resolved level, so that the small levels Holm and
nightly monitoring ask for remain reachable for AUC and ECE. Where every
resample gives the same value (a group whose scores separate perfectly, two
models that agree on every row) the percentile interval has zero width; it is
widened by the largest rate of an event not seen in n draws (Clopper-Pearson's
1 - L^(1/n)), so zero width never reads as certainty.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
from scipy.special import betaincinv, ndtri  # Beta and normal quantiles; scipy.stats costs a second to import

LEVELS: tuple[float, ...] = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2)
MIN_TAIL_RESAMPLES = 5

Bounds = tuple[tuple[float, float], ...]  # aligned with LEVELS


def grid_level(level: float) -> float:
    """The level a check really passes at when asked for `level`: the largest stored level within it (0.05 for a
    nightly 0.0515), since p-values live on the bounds grid. 0 when none is (nothing can pass)."""
    return max((lvl for lvl in LEVELS if lvl <= level), default=0.0)


def clopper_pearson(k, n, level) -> tuple[np.ndarray, np.ndarray]:
    """One-sided (lower, upper) bounds at `level` for k successes in n; NaN where n == 0. Broadcasts."""
    k, n, level = np.broadcast_arrays(np.asarray(k, float), np.asarray(n, float), np.asarray(level, float))
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k > 0, betaincinv(np.maximum(k, 1e-300), n - k + 1, level), 0.0)
        hi = np.where(k < n, betaincinv(k + 1, np.maximum(n - k, 1e-300), 1 - level), 1.0)
    empty = n <= 0
    return np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)


def proportion_bounds(k, n, levels=LEVELS) -> np.ndarray:
    """(..., len(levels), 2) Clopper-Pearson bounds for arrays of counts."""
    k = np.asarray(k, float)[..., None]
    n = np.asarray(n, float)[..., None]
    lo, hi = clopper_pearson(k, n, np.asarray(levels))
    return np.stack([lo, hi], axis=-1)


def unseen_rate(n, level) -> np.ndarray:
    """The largest rate of an event never seen in n draws that a one-sided test at `level` cannot exclude."""
    n = np.asarray(n, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, 1 - np.power(level, 1 / np.where(n > 0, n, 1)), 1.0)


def bootstrap_bounds(samples: np.ndarray, point: np.ndarray, n, value_range: tuple[float, float] = (-math.inf, math.inf),
                     levels=LEVELS) -> np.ndarray:
    """(..., len(LEVELS), 2) percentile bounds from resamples along axis 0.

    Resamples where the statistic is undefined are left out; a level at which
    more than its tail share is undefined is itself undefined (it would describe
    a different population), as is any level finer than the resamples resolve.
    """
    samples = np.asarray(samples, float)
    point = np.asarray(point, float)
    resamples = samples.shape[0]
    levels = np.asarray(levels)
    undefined = np.isnan(samples).mean(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        q = np.nanquantile(samples, np.concatenate([levels, 1 - levels]), axis=0)  # (2L, ...)
        degenerate = (np.nanmax(samples, axis=0) - np.nanmin(samples, axis=0) if resamples else np.zeros_like(point)) == 0
    lo = np.moveaxis(q[: len(levels)], 0, -1)
    hi = np.moveaxis(q[len(levels):], 0, -1)
    widen = unseen_rate(np.asarray(n, float)[..., None], levels)
    lo = np.where(degenerate[..., None], np.maximum(point[..., None] - widen, value_range[0]), lo)
    hi = np.where(degenerate[..., None], np.minimum(point[..., None] + widen, value_range[1]), hi)
    unresolved = levels * resamples < MIN_TAIL_RESAMPLES
    if unresolved.any() and (~unresolved).any():
        finest = int(np.argmax(~unresolved))  # levels ascend: the first resolved level is the finest
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sd = np.nanstd(samples, axis=0)[..., None]
        z = ndtri(1 - levels[unresolved])
        lo[..., unresolved] = np.minimum(lo[..., [finest]], point[..., None] - z * sd)
        hi[..., unresolved] = np.maximum(hi[..., [finest]], point[..., None] + z * sd)
        lo, hi = np.maximum(lo, value_range[0]), np.minimum(hi, value_range[1])
    unusable = (undefined[..., None] > levels) | np.isnan(point)[..., None] | (unresolved & ~(~unresolved).any())
    lo = np.where(unusable, np.nan, lo)
    hi = np.where(unusable, np.nan, hi)
    return np.stack([lo, hi], axis=-1)


def level_for(confidence: float) -> float:
    """The one-sided level of a two-sided interval at `confidence`."""
    return (1 - confidence) / 2


def as_tuple(bounds: np.ndarray) -> Bounds:
    return tuple((float(lo), float(hi)) for lo, hi in bounds)


def to_json(bounds: Bounds | None) -> str | None:
    """Stored as {level: [lo, hi]} so the column describes itself."""
    if bounds is None:
        return None
    clean = lambda x: None if x is None or math.isnan(x) else round(float(x), 12)  # noqa: E731
    return json.dumps({str(level): [clean(lo), clean(hi)] for level, (lo, hi) in zip(LEVELS, bounds)})


def from_json(text) -> dict[float, tuple[float, float]]:
    if text is None or (isinstance(text, float) and math.isnan(text)) or text == "":
        return {}
    nan = float("nan")
    return {float(k): (nan if v[0] is None else v[0], nan if v[1] is None else v[1]) for k, v in json.loads(text).items()}
