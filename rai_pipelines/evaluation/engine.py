"""The group-metrics engine for binary classifiers, shared by the performance and fairness families.

For each sensitive feature alone and for their intersection (or, with no
sensitive features, the single `overall` group), every group's n and metrics:
selection rate, TPR, FPR, FNR, precision and accuracy, each a proportion with a
Clopper-Pearson interval; with scores also ROC AUC and expected calibration
error, with percentile-bootstrap intervals. Every estimate carries its one-sided
bounds on the grid of `stats.intervals.LEVELS`, so the gate can judge it at the
level the policy assigns. Between-group disparities are the fairness family's
(`fairness.py`).

Cost: one pass over the rows builds per-cell counts for the finest partition;
everything else, including 1,000 bootstrap resamples of the score metrics,
works on those counts (see `bootstrap.py`). AUC points need one sort per partition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rai_pipelines.errors import DataError
from rai_pipelines.evaluation import scores as sc
from rai_pipelines.evaluation.bootstrap import resample_counts
from rai_pipelines.evaluation.confusion import METRICS as CONFUSION_METRICS
from rai_pipelines.evaluation.confusion import PROPORTIONS, cell_counts
from rai_pipelines.evaluation.groups import GroupIndex, encode
from rai_pipelines.evaluation.metric_names import ALL_METRICS, SCORE_METRICS
from rai_pipelines.evaluation.rows import MetricRow
from rai_pipelines.stats.intervals import LEVELS, as_tuple, bootstrap_bounds, level_for, proportion_bounds


@dataclass(frozen=True)
class Estimate:
    value: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    bounds: tuple | None = None  # one-sided (lo, hi) per level of stats.intervals.LEVELS

    def to_json(self) -> dict:
        clean = lambda x: None if x is None or math.isnan(x) else float(x)  # noqa: E731
        return {"value": clean(self.value), "ci_low": clean(self.ci_low), "ci_high": clean(self.ci_high)}


@dataclass
class Group:
    slice: str
    n: int
    metrics: dict[str, Estimate]


@dataclass
class Partition:
    name: str  # 'SEX', 'SEX&RAC1P' or 'overall'
    groups: list[Group]
    disparities: dict[str, dict[str, Estimate]] = field(default_factory=dict)  # metric -> difference/ratio
    vs_reference: dict[str, dict[str, dict[str, Estimate]]] = field(default_factory=dict)  # slice -> metric -> kind
    axes: tuple[int, ...] = ()
    slices: list[str] = field(default_factory=list)  # every group of the partition, present or not
    sizes: np.ndarray | None = None
    points: dict[str, np.ndarray] = field(default_factory=dict)  # metric -> value per slice
    counts: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # proportion -> (successes, trials)
    resampled: dict[str, np.ndarray | None] = field(default_factory=dict)  # score metric -> (resamples, slices)


@dataclass
class Report:
    n: int
    resamples: int
    confidence: float
    seed: int
    metrics: list[str]
    partitions: list[Partition]

    def rows(self, family: str) -> list[MetricRow]:
        out = []
        for part in self.partitions:
            for g in part.groups:
                out.extend(_row(family, m, g.slice, e, g.n) for m, e in g.metrics.items())
            for m, kinds in part.disparities.items():
                out.extend(_row(family, f"{m}_{k}", part.name, e, self.n) for k, e in kinds.items())
            for slice_, per_metric in part.vs_reference.items():
                n = next(g.n for g in part.groups if g.slice == slice_)
                for m, kinds in per_metric.items():
                    out.extend(_row(family, f"{m}_{k}_vs_reference", slice_, e, n) for k, e in kinds.items())
        return out

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "resamples": self.resamples,
            "confidence": self.confidence,
            "seed": self.seed,
            "metrics": self.metrics,
            "partitions": {
                p.name: {
                    "groups": {g.slice: {"n": g.n, **{m: e.to_json() for m, e in g.metrics.items()}} for g in p.groups},
                    "disparities": {m: {k: e.to_json() for k, e in kinds.items()} for m, kinds in p.disparities.items()},
                    **(
                        {"vs_reference": {s: {m: {k: e.to_json() for k, e in kinds.items()} for m, kinds in pm.items()}
                                          for s, pm in p.vs_reference.items()}}
                        if p.vs_reference else {}
                    ),
                }
                for p in self.partitions
            },
        }


def _row(family: str, metric: str, slice_: str, e: Estimate, n: int) -> MetricRow:
    return MetricRow(family, metric, slice_, e.value, n, e.ci_low, e.ci_high, e.bounds)


def estimates(point: np.ndarray, bounds: np.ndarray | None) -> list[Estimate]:
    """Estimates from values and their (..., levels + 1, 2) bounds: the grid, then the reported interval's level."""
    if bounds is None:
        return [Estimate(float(v)) for v in point]
    out = []
    for v, b in zip(point, bounds):
        if math.isnan(v):  # where the point itself is undefined, so is its interval
            out.append(Estimate(float(v)))
        else:
            out.append(Estimate(float(v), float(b[-1, 0]), float(b[-1, 1]), as_tuple(b[:-1])))
    return out


def binary_array(name: str, values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind == "b":
        return arr.astype(np.int8)
    if arr.dtype.kind not in "iuf":
        raise DataError(f"{name} must be binary 0/1, got dtype {arr.dtype}; recode it")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise DataError(f"{name} has {int(np.isnan(arr).sum())} missing values (NaN); drop or fill those rows")
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        raise DataError(f"{name} must be binary 0/1, found value {arr[bad][0].item()}; recode it")
    return arr.astype(np.int8, copy=False) if arr.dtype.kind == "f" else arr


def scores_array(values, n: int) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) != n:
        raise DataError(f"score has {len(arr)} rows, expected {n}")
    if not np.isfinite(arr).all():
        raise DataError(f"score has {int((~np.isfinite(arr)).sum())} missing or infinite values; every row needs a score")
    if arr.min() < 0 or arr.max() > 1:
        raise DataError("score must be a probability in [0, 1]; pass predicted probabilities, not logits")
    return arr


def disparity(values: np.ndarray, present: np.ndarray, required: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Max - min and min / max over the groups present, along the last axis.

    With `required` (the groups defined at the point estimate), a resample in
    which any of them is undefined is undefined itself rather than a spread over
    fewer groups, so the interval's undefined-share rule can see it.
    """
    v = np.where(present, values, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        defined = (~np.isnan(v)).sum(-1)
        hi = np.nanmax(np.where(defined[..., None] > 0, v, 0), axis=-1)
        lo = np.nanmin(np.where(defined[..., None] > 0, v, 0), axis=-1)
        diff = np.where(defined >= 2, hi - lo, np.nan)
        ratio = np.where((defined >= 2) & (hi > 0), lo / np.where(hi > 0, hi, 1), np.nan)
    if required is not None:
        lost = (np.isnan(v) & required).any(-1)
        diff = np.where(lost, np.nan, diff)
        ratio = np.where(lost, np.nan, ratio)
    return diff, ratio


def group_metrics(
    y_true,
    y_pred,
    sensitive: dict[str, object] | None = None,
    score=None,
    metrics: list[str] | None = None,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    intersections: bool = True,
    score_bins: int = 100,
    calibration_bins: int = 10,
) -> Report:
    """Group metrics with intervals. Proportions always get exact intervals; `resamples` (0: none) drives the
    bootstrap of the score metrics (AUC, ECE), which then have no interval without it."""
    y = binary_array("label", y_true)
    p = binary_array("prediction", y_pred)
    n = len(y)
    if len(p) != n:
        raise DataError(f"prediction has {len(p)} rows, label has {n}; they must be the same rows")
    if n == 0:
        raise DataError("no rows to evaluate; the data is empty")
    sensitive = sensitive or {}
    s = None if score is None else scores_array(score, n)
    wanted = list(metrics) if metrics else [m for m in ALL_METRICS if s is not None or m not in SCORE_METRICS]
    unknown = [m for m in wanted if m not in ALL_METRICS]
    if unknown:
        raise DataError(f"unknown metric {unknown[0]!r}; known: {list(ALL_METRICS)}")
    if s is None and any(m in SCORE_METRICS for m in wanted):
        raise DataError(f"metrics {[m for m in wanted if m in SCORE_METRICS]} need a score column")
    index = encode(sensitive, n)
    levels = (*LEVELS, level_for(confidence))
    counts = cell_counts(index.cell, index.n_cells, y, p).reshape(*index.shape, 4)
    scored = _score_tensors(index, y, s, score_bins, calibration_bins, resamples, seed) if s is not None else {}

    partitions = []
    for axes in index.partitions(intersections):
        slices = index.group_slices(axes)
        c = index.reduce(counts, axes)  # (G, 4)
        sizes = c.sum(-1)
        present = sizes > 0
        part = Partition(index.partition_name(axes), [], axes=axes, slices=slices, sizes=sizes)
        bounds: dict[str, np.ndarray | None] = {}
        for m in wanted:
            if m in CONFUSION_METRICS:
                num, den = (f(c) for f in PROPORTIONS[m])
                part.counts[m] = (num, den)
                part.points[m] = CONFUSION_METRICS[m](c)
                bounds[m] = proportion_bounds(num, den, levels)
            else:
                part.points[m], part.resampled[m] = _score_metric(m, index, axes, len(slices), y, s, scored, resamples)
                bounds[m] = (None if part.resampled[m] is None
                             else bootstrap_bounds(part.resampled[m], part.points[m], sizes, (0.0, 1.0), levels))
        per_metric = {m: estimates(part.points[m], bounds[m]) for m in wanted}
        part.groups = [Group(slices[i], int(sizes[i]), {m: per_metric[m][i] for m in wanted})
                       for i in range(len(slices)) if present[i]]
        partitions.append(part)
    return Report(n, resamples, confidence, seed, wanted, partitions)


def _score_tensors(index: GroupIndex, y, s, score_bins: int, calibration_bins: int, resamples: int, seed: int) -> dict:
    """Binned (group x bin x label) counts behind the AUC and ECE bootstraps, and their resamples."""
    rng = np.random.default_rng(seed)
    qbins, n_q = sc.quantile_bins(s, score_bins)
    hist = sc.binned_tensor(index.cell, index.n_cells, qbins, n_q, y).astype(np.int64).reshape(*index.shape, n_q, 2)
    del qbins
    ebins = sc.calibration_bins(s, calibration_bins)
    e_counts = sc.binned_tensor(index.cell, index.n_cells, ebins, calibration_bins, y).astype(np.int64)
    e_sums = sc.binned_tensor(index.cell, index.n_cells, ebins, calibration_bins, y, weights=s)
    del ebins
    e_mean = np.divide(e_sums, e_counts, out=np.zeros_like(e_sums), where=e_counts > 0)
    out = dict(hist=hist, e_counts=e_counts.reshape(*index.shape, calibration_bins, 2),
               e_sums=e_sums.reshape(*index.shape, calibration_bins, 2))
    if resamples:
        out["boot_hist"] = resample_counts(hist, resamples, rng)
        boot_e = resample_counts(out["e_counts"], resamples, rng)
        out["boot_e_counts"] = boot_e
        out["boot_e_sums"] = boot_e * e_mean.reshape(*index.shape, calibration_bins, 2)
    return out


def _score_metric(m: str, index: GroupIndex, axes, groups: int, y, s, t: dict, resamples: int):
    """(point per group, resamples per group or None) of AUC or ECE over one partition."""
    if m == "auc":
        gid = sc.partition_ids(index.cell, index.shape, axes)
        point = sc.grouped_auc(gid, groups, y, s)
        del gid
        if not resamples:
            return point, None
        binned_point = sc.auc_from_hist(index.reduce(t["hist"], axes))
        return point, sc.auc_from_hist(index.reduce(t["boot_hist"], axes, lead=1)) + (point - binned_point)
    point = sc.ece_from_sums(index.reduce(t["e_counts"], axes), index.reduce(t["e_sums"], axes))
    if not resamples:
        return point, None
    return point, sc.ece_from_sums(index.reduce(t["boot_e_counts"], axes, lead=1), index.reduce(t["boot_e_sums"], axes, lead=1))


def frame_inputs(frame: pd.DataFrame, label: str, pred: str, sensitive: list[str], score: str | None, where: str):
    """Columns of a user's file, with one-line errors naming the file and the column."""
    for col in [label, pred, *sensitive, *([score] if score else [])]:
        if col not in frame.columns:
            raise DataError(f"{where}: column {col!r} not found; columns are {list(frame.columns)[:20]}")
    try:
        y = binary_array(f"{where}: label column {label!r}", frame[label].to_numpy())
        p = binary_array(f"{where}: prediction column {pred!r}", frame[pred].to_numpy())
        s = None if score is None else scores_array(frame[score].to_numpy(), len(frame))
    except DataError as exc:
        raise DataError(str(exc) if str(exc).startswith(where) else f"{where}: {exc}") from None
    groups = {}
    for col in sensitive:
        values = frame[col]
        if values.isna().any():
            raise DataError(f"{where}: sensitive column {col!r} has {int(values.isna().sum())} missing values; every row needs a group")
        groups[col] = values.astype(str).to_numpy()
    return y, p, groups, s
