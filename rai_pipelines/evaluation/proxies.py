"""Proxy detection: how well each feature, alone, tells a row's sensitive group.

For every feature the model reads and every sensitive feature:

- `mutual_information` (nats) between the feature and the group, slice `<feature>|<sensitive>`;
- `proxy_auc`: the ROC AUC of the best classifier that feature alone allows (the share of each group in each of its
  values, or in each of `bins` quantile bins of a numeric feature), cross-fitted on two halves of the rows so a
  feature with many rare values cannot score well by memorizing them; one-vs-rest per group, slice
  `<feature>|<sensitive>=<group>` (a two-group feature reports one AUC, slice `<feature>|<sensitive>`).

Both with percentile-bootstrap bounds. The statistics depend only on counts of rows per (half, value, group), so a
row bootstrap is a multinomial draw of those counts (`bootstrap.py`), refitting each resample's classifier: the
interval covers the fitting's noise as well as the evaluation's, at a cost independent of the rows.

A feature whose AUC's interval lies wholly above the tier's `proxy_auc` is listed as a proxy on the card.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rai_pipelines.evaluation.bootstrap import resample_counts
from rai_pipelines.evaluation.rows import MetricRow
from rai_pipelines.stats.intervals import LEVELS, as_tuple, bootstrap_bounds, level_for

FAMILY = "proxies"
MAX_VALUES = 50  # a categorical feature's rarest values beyond these are pooled: rare values cannot be estimated apart
SMOOTHING = 1.0  # rows of the group's overall share added to each value's count (shrinks rare values to the prior)


def binned(values: pd.Series, kind: str, bins: int) -> np.ndarray:
    """Integer codes: quantile bins for a numeric feature, values for a categorical one; missing is a value of its own."""
    if kind == "numeric":
        x = pd.to_numeric(values, errors="coerce")
        edges = np.unique(np.nanquantile(x.to_numpy(dtype=float), np.linspace(0, 1, bins + 1)[1:-1])) if x.notna().any() else []
        codes = np.searchsorted(edges, x.to_numpy(dtype=float), side="right")
        return np.where(x.isna().to_numpy(), len(edges) + 1, codes)
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    codes = np.where(codes < 0, len(uniques), codes)
    if len(uniques) + 1 > MAX_VALUES:
        order = np.argsort(-np.bincount(codes))
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        codes = np.minimum(rank[codes], MAX_VALUES - 1)
    return codes


def _mutual_information(table: np.ndarray) -> np.ndarray:
    """Plug-in mutual information (nats) of (..., values, groups) count tables."""
    n = table.sum(axis=(-1, -2), keepdims=True)
    p = table / np.where(n > 0, n, 1)
    pv, pg = p.sum(axis=-1, keepdims=True), p.sum(axis=-2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / (pv * pg)), 0.0)
    return terms.sum(axis=(-1, -2))


def _auc(pos: np.ndarray, neg: np.ndarray, score: np.ndarray) -> np.ndarray:
    """AUC of (..., m) positive and negative counts at scores (..., m), ties counted half."""
    above = (score[..., :, None] > score[..., None, :]).astype(float)
    tied = (score[..., :, None] == score[..., None, :]).astype(float)
    wins = np.einsum("...i,...ij,...j->...", pos, above + 0.5 * tied, neg)
    total = pos.sum(axis=-1) * neg.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, wins / total, np.nan)


def _cross_fitted_auc(table: np.ndarray, group: int) -> np.ndarray:
    """One-vs-rest AUC of `group` from (..., 2 halves, values, groups) tables: each half's rows scored by the share of
    the group in their value among the other half's rows (smoothed towards that half's overall share)."""
    is_group = table[..., group]
    rest = table.sum(axis=-1) - is_group
    per_value = table.sum(axis=-1)
    prior = is_group.sum(axis=-1, keepdims=True) / np.maximum(per_value.sum(axis=-1, keepdims=True), 1)
    share = (is_group + SMOOTHING * prior) / (per_value + SMOOTHING)  # (..., 2, values): each half's fitted shares
    score = share[..., ::-1, :]  # half h is scored by the other half's fit
    flat = lambda a: a.reshape(*a.shape[:-2], -1)  # noqa: E731 - both halves' rows in one ranking
    return _auc(flat(is_group), flat(rest), flat(score))


def proxy_rows(frame: pd.DataFrame, kinds: dict[str, str], sensitive: dict[str, np.ndarray], features: list[str], *,
               bins: int = 10, resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> list[MetricRow]:
    rng = np.random.default_rng(seed)
    half = rng.integers(0, 2, len(frame))
    levels = (*LEVELS, level_for(confidence))
    rows = []
    for name, labels in sensitive.items():
        groups, uniques = pd.factorize(np.asarray(labels), sort=True)
        for feature in features:
            values = binned(frame[feature], kinds[feature], bins)
            shape = (2, int(values.max()) + 1, len(uniques))
            table = np.bincount((half * shape[1] + values) * shape[2] + groups, minlength=int(np.prod(shape))).reshape(shape)
            boot = resample_counts(table, resamples, rng)
            n = int(table.sum())
            mi, mi_samples = _mutual_information(table.sum(axis=0)), _mutual_information(boot.sum(axis=1))
            rows.append(_row("mutual_information", f"{feature}|{name}", mi, mi_samples, n, (0.0, np.inf), levels))
            for g in range(len(uniques)) if len(uniques) > 2 else [0] if len(uniques) == 2 else []:
                slice_ = f"{feature}|{name}={uniques[g]}" if len(uniques) > 2 else f"{feature}|{name}"
                samples = _cross_fitted_auc(boot, g) if resamples else np.zeros(0)
                rows.append(_row("proxy_auc", slice_, _cross_fitted_auc(table, g), samples, n, (0.0, 1.0), levels))
    return rows


def _row(metric: str, slice_: str, point, samples: np.ndarray, n: int, value_range, levels) -> MetricRow:
    if len(samples) == 0:  # no resamples asked for (a ranking only): no interval
        return MetricRow(FAMILY, metric, slice_, float(point), n)
    b = bootstrap_bounds(samples[:, None], np.atleast_1d(point), [n], value_range, levels)[0]
    return MetricRow(FAMILY, metric, slice_, float(point), n, float(b[-1, 0]), float(b[-1, 1]), as_tuple(b[:-1]))


def strongest(rows: list[MetricRow], sensitive: str, count: int) -> list[str]:
    """The `count` features that carry most information about `sensitive` (mutual information), strongest first."""
    mine = [r for r in rows if r.metric == "mutual_information" and r.slice.endswith(f"|{sensitive}")]
    return [r.slice.split("|")[0] for r in sorted(mine, key=lambda r: -r.value)[:count]]


def from_suite(inputs, suite) -> list[MetricRow]:
    """Every feature the model reads (asked of the model: `Probe.read_features`), the sensitive ones excepted."""
    read = inputs.probe.read_features(inputs.features, exclude=inputs.sensitive)
    return proxy_rows(inputs.features, inputs.probe.kinds, inputs.sensitive, read, bins=suite.proxy_bins,
                      resamples=suite.bootstrap_resamples, confidence=suite.confidence, seed=suite.seed)
