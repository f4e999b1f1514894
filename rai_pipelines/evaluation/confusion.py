"""Confusion-matrix metrics from per-group cell counts.

Every formula works on an array whose last axis is the four cells (TN, FP, FN,
TP), whatever the leading axes: one group, all groups, or all groups in every
bootstrap resample. A rate whose denominator is zero is undefined (NaN), never 0.
"""

from __future__ import annotations

import numpy as np

TN, FP, FN, TP = 0, 1, 2, 3


def cell_counts(cell: np.ndarray, n_cells: int, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """(n_cells, 4) counts in one pass: the cell index is group * 4 + 2 * label + prediction."""
    idx = cell * 4
    idx += y_true.astype(np.int64, copy=False) * 2
    idx += y_pred.astype(np.int64, copy=False)
    return np.bincount(idx, minlength=n_cells * 4).reshape(n_cells, 4)


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


# Every confusion metric is a proportion: (successes, trials) of the cells. That is what lets each group's
# rate have an exact (Clopper-Pearson) interval instead of a bootstrap one.
PROPORTIONS = {
    "selection_rate": (lambda c: c[..., FP] + c[..., TP], lambda c: c.sum(-1)),
    "tpr": (lambda c: c[..., TP], lambda c: c[..., TP] + c[..., FN]),
    "fpr": (lambda c: c[..., FP], lambda c: c[..., FP] + c[..., TN]),
    "fnr": (lambda c: c[..., FN], lambda c: c[..., TP] + c[..., FN]),
    "precision": (lambda c: c[..., TP], lambda c: c[..., TP] + c[..., FP]),
    "accuracy": (lambda c: c[..., TP] + c[..., TN], lambda c: c.sum(-1)),
}
METRICS = {m: (lambda c, num=num, den=den: ratio(num(c), den(c))) for m, (num, den) in PROPORTIONS.items()}
