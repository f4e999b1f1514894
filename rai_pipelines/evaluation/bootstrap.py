"""Bootstrap over counts.

A row bootstrap of statistics that depend only on counts of rows per cell
(group x label x prediction, or group x score bin x label) is a multinomial
draw of those counts with the total held fixed: the same distribution, at a
cost that does not grow with the number of rows.
"""

from __future__ import annotations

import numpy as np


def resample_counts(counts: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, *counts.shape) multinomial draws matching `counts`' total and cell shares."""
    flat = counts.reshape(-1).astype(np.float64)
    total = int(flat.sum())
    if total == 0:
        return np.zeros((resamples, *counts.shape), dtype=np.int64)
    return rng.multinomial(total, flat / total, size=resamples).reshape(resamples, *counts.shape)
