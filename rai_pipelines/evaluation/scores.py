"""Score-based metrics per group: ROC AUC and expected calibration error.

Point values are exact: AUC from within-group mid-ranks (ties count one half,
as scikit-learn's roc_auc_score), ECE from equal-width bins (its definition).

Intervals are bootstrapped from binned score statistics so that their cost does
not grow with rows:
- AUC: scores are cut at `score_bins` global quantiles; a resample draws the
  (group, bin, label) counts and computes the AUC treating pairs in the same bin
  as ties. Replicates are shifted by (exact AUC - binned AUC) of the observed
  data, so the interval is centred on the exact value; the approximation is in
  the spread only, and the share of pairs sharing a bin is about 1/score_bins.
- ECE: a resample draws the (group, bin, label) counts and keeps each cell's
  observed mean score, i.e. ignores the variation of scores within a cell.
"""

from __future__ import annotations

import numpy as np

from rai_pipelines.evaluation.confusion import ratio


def partition_ids(cell: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray:
    """Group id of each row within the partition over `axes` (row-major over those features)."""
    if not axes:
        return np.zeros(len(cell), dtype=np.int64)
    if len(axes) == len(shape):
        return cell
    codes = np.unravel_index(cell, shape)
    return np.ravel_multi_index([codes[a] for a in axes], [shape[a] for a in axes]).astype(np.int64)


def grouped_auc(gid: np.ndarray, groups: int, y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Exact ROC AUC per group (NaN for a group without both classes)."""
    n = len(gid)
    if n == 0:
        return np.full(groups, np.nan)
    order = np.lexsort((score, gid))
    g = gid[order]
    s = score[order]
    new_run = np.empty(n, dtype=bool)
    new_run[0] = True
    np.not_equal(g[1:], g[:-1], out=new_run[1:])
    new_run[1:] |= s[1:] != s[:-1]
    del s
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.append(starts, n))
    first = np.searchsorted(g, np.arange(groups), side="left")
    midrank = starts + (lengths - 1) / 2.0 - first[g[starts]] + 1
    rank = np.repeat(midrank, lengths)
    yy = y[order].astype(np.float64)
    pos = np.bincount(g, weights=yy, minlength=groups)
    total = np.bincount(g, minlength=groups).astype(np.float64)
    rank_sum = np.bincount(g, weights=rank * yy, minlength=groups)
    neg = total - pos
    return ratio(rank_sum - pos * (pos + 1) / 2, pos * neg)


def quantile_bins(score: np.ndarray, bins: int) -> tuple[np.ndarray, int]:
    edges = np.unique(np.quantile(score, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.searchsorted(edges, score, side="right"), len(edges) + 1


def auc_from_hist(hist: np.ndarray) -> np.ndarray:
    """AUC from (..., bins, 2) counts of (negatives, positives) per ascending score bin."""
    neg = hist[..., 0].astype(np.float64)
    pos = hist[..., 1].astype(np.float64)
    below = np.cumsum(neg, axis=-1) - neg
    num = (pos * (below + 0.5 * neg)).sum(-1)
    return ratio(num, pos.sum(-1) * neg.sum(-1))


def calibration_bins(score: np.ndarray, bins: int) -> np.ndarray:
    return np.minimum((score * bins).astype(np.int64), bins - 1)


def ece_from_sums(counts: np.ndarray, score_sums: np.ndarray) -> np.ndarray:
    """ECE from (..., bins, 2) row counts per (bin, label) and the matching score sums."""
    positives = counts[..., 1]
    confidence = score_sums.sum(-1)
    n = counts.sum((-1, -2))
    return ratio(np.abs(positives - confidence).sum(-1), n)


def binned_tensor(cell: np.ndarray, n_cells: int, bins: np.ndarray, n_bins: int, y: np.ndarray, weights=None) -> np.ndarray:
    """(n_cells, n_bins, 2) counts (or weight sums) per (cell, bin, label)."""
    idx = (cell * n_bins + bins) * 2 + y.astype(np.int64, copy=False)
    out = np.bincount(idx, weights=weights, minlength=n_cells * n_bins * 2)
    return out.reshape(n_cells, n_bins, 2)
