"""The fairness and performance engine for binary classifiers.

For each sensitive feature alone and for their intersection, every group's n
and metrics (selection rate, TPR, FPR, FNR, precision, accuracy; with scores
also ROC AUC and expected calibration error), each with a percentile bootstrap
interval; between-group disparities (max - min difference, min / max ratio) and,
when a reference group is named, each group against it. With no sensitive
features it reports the single `overall` group: the performance family.

Cost: one pass over the rows builds per-cell counts for the finest partition;
everything else, including 1,000 bootstrap resamples, works on those counts
(see `bootstrap.py`). AUC points need one sort per partition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rai_pipelines.errors import DataError
from rai_pipelines.evaluation import scores as sc
from rai_pipelines.evaluation.bootstrap import percentile_interval, resample_counts
from rai_pipelines.evaluation.confusion import METRICS as CONFUSION_METRICS
from rai_pipelines.evaluation.confusion import cell_counts
from rai_pipelines.evaluation.groups import encode
from rai_pipelines.evaluation.rows import MetricRow

SCORE_METRICS = ("auc", "ece")
ALL_METRICS = (*CONFUSION_METRICS, *SCORE_METRICS)


@dataclass(frozen=True)
class Estimate:
    value: float
    ci_low: float = math.nan
    ci_high: float = math.nan

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
                out.extend(MetricRow(family, m, g.slice, e.value, g.n, e.ci_low, e.ci_high) for m, e in g.metrics.items())
            for m, kinds in part.disparities.items():
                out.extend(MetricRow(family, f"{m}_{k}", part.name, e.value, self.n, e.ci_low, e.ci_high) for k, e in kinds.items())
            for slice_, per_metric in part.vs_reference.items():
                n = next(g.n for g in part.groups if g.slice == slice_)
                for m, kinds in per_metric.items():
                    out.extend(MetricRow(family, f"{m}_{k}_vs_reference", slice_, e.value, n, e.ci_low, e.ci_high) for k, e in kinds.items())
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


def _scores(values, n: int) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) != n:
        raise DataError(f"score has {len(arr)} rows, expected {n}")
    if not np.isfinite(arr).all():
        raise DataError(f"score has {int((~np.isfinite(arr)).sum())} missing or infinite values; every row needs a score")
    if arr.min() < 0 or arr.max() > 1:
        raise DataError("score must be a probability in [0, 1]; pass predicted probabilities, not logits")
    return arr


def _estimates(point: np.ndarray, boot: np.ndarray | None, confidence: float) -> list[Estimate]:
    if boot is None:
        return [Estimate(float(v)) for v in point]
    low, high = percentile_interval(boot, confidence)
    # Where the point itself is undefined, so is its interval.
    return [Estimate(float(v), math.nan if math.isnan(v) else float(lo), math.nan if math.isnan(v) else float(hi))
            for v, lo, hi in zip(point, low, high)]


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
    reference_groups: dict[str, str] | None = None,
    score_bins: int = 100,
    calibration_bins: int = 10,
) -> Report:
    """Group metrics with bootstrap intervals (resamples=0 for points only)."""
    y = binary_array("label", y_true)
    p = binary_array("prediction", y_pred)
    n = len(y)
    if len(p) != n:
        raise DataError(f"prediction has {len(p)} rows, label has {n}; they must be the same rows")
    if n == 0:
        raise DataError("no rows to evaluate; the data is empty")
    sensitive = sensitive or {}
    s = None if score is None else _scores(score, n)
    wanted = list(metrics) if metrics else [m for m in ALL_METRICS if s is not None or m not in SCORE_METRICS]
    unknown = [m for m in wanted if m not in ALL_METRICS]
    if unknown:
        raise DataError(f"unknown metric {unknown[0]!r}; known: {list(ALL_METRICS)}")
    if s is None and any(m in SCORE_METRICS for m in wanted):
        raise DataError(f"metrics {[m for m in wanted if m in SCORE_METRICS]} need a score column")
    index = encode(sensitive, n)
    reference_groups = reference_groups or {}
    for feature, group in reference_groups.items():
        if feature not in index.features:
            raise DataError(f"reference group given for {feature!r}, which is not a sensitive feature")
        if str(group) not in index.levels[index.features.index(feature)]:
            raise DataError(f"reference group {feature}={group} does not occur in the data")

    rng = np.random.default_rng(seed)
    counts = cell_counts(index.cell, index.n_cells, y, p).reshape(*index.shape, 4)
    boot_counts = resample_counts(counts, resamples, rng) if resamples else None

    score_tensors = {}
    if s is not None:
        qbins, n_q = sc.quantile_bins(s, score_bins)
        hist = sc.binned_tensor(index.cell, index.n_cells, qbins, n_q, y).astype(np.int64).reshape(*index.shape, n_q, 2)
        del qbins
        ebins = sc.calibration_bins(s, calibration_bins)
        e_counts = sc.binned_tensor(index.cell, index.n_cells, ebins, calibration_bins, y).astype(np.int64)
        e_sums = sc.binned_tensor(index.cell, index.n_cells, ebins, calibration_bins, y, weights=s)
        del ebins
        e_mean = np.divide(e_sums, e_counts, out=np.zeros_like(e_sums), where=e_counts > 0)
        e_counts = e_counts.reshape(*index.shape, calibration_bins, 2)
        e_sums = e_sums.reshape(*index.shape, calibration_bins, 2)
        score_tensors = dict(hist=hist, e_counts=e_counts, e_sums=e_sums)
        if resamples:
            score_tensors["boot_hist"] = resample_counts(hist, resamples, rng)
            boot_e = resample_counts(e_counts, resamples, rng)
            score_tensors["boot_e_counts"] = boot_e
            score_tensors["boot_e_sums"] = boot_e * e_mean.reshape(*index.shape, calibration_bins, 2)

    partitions = []
    for axes in index.partitions(intersections):
        slices = index.group_slices(axes)
        c = index.reduce(counts, axes)  # (G, 4)
        bc = index.reduce(boot_counts, axes, lead=1) if boot_counts is not None else None
        sizes = c.sum(-1)
        present = sizes > 0
        points: dict[str, np.ndarray] = {}
        boots: dict[str, np.ndarray | None] = {}
        for m in wanted:
            if m in CONFUSION_METRICS:
                points[m] = CONFUSION_METRICS[m](c)
                boots[m] = CONFUSION_METRICS[m](bc) if bc is not None else None
            elif m == "auc":
                gid = sc.partition_ids(index.cell, index.shape, axes)
                points[m] = sc.grouped_auc(gid, len(slices), y, s)
                del gid
                binned_point = sc.auc_from_hist(index.reduce(score_tensors["hist"], axes))
                boots[m] = (
                    sc.auc_from_hist(index.reduce(score_tensors["boot_hist"], axes, lead=1)) + (points[m] - binned_point)
                    if resamples else None
                )
            else:  # ece
                points[m] = sc.ece_from_sums(index.reduce(score_tensors["e_counts"], axes), index.reduce(score_tensors["e_sums"], axes))
                boots[m] = (
                    sc.ece_from_sums(index.reduce(score_tensors["boot_e_counts"], axes, lead=1),
                                     index.reduce(score_tensors["boot_e_sums"], axes, lead=1))
                    if resamples else None
                )
        estimates = {m: _estimates(points[m], boots[m], confidence) for m in wanted}
        groups = [Group(slices[i], int(sizes[i]), {m: estimates[m][i] for m in wanted}) for i in range(len(slices)) if present[i]]
        part = Partition(index.partition_name(axes), groups)
        if axes:
            for m in wanted:
                d, r = disparity(points[m], present)
                defined_at_point = present & ~np.isnan(points[m])
                bd, br = disparity(boots[m], present, defined_at_point) if boots[m] is not None else (None, None)
                part.disparities[m] = {
                    "difference": _estimates(np.atleast_1d(d), None if bd is None else bd[:, None], confidence)[0],
                    "ratio": _estimates(np.atleast_1d(r), None if br is None else br[:, None], confidence)[0],
                }
            if len(axes) == 1 and index.features[axes[0]] in reference_groups:
                ref = slices.index(f"{index.features[axes[0]]}={reference_groups[index.features[axes[0]]]}")
                for i in np.flatnonzero(present):
                    if i == ref:
                        continue
                    part.vs_reference[slices[i]] = {}
                    for m in wanted:
                        with np.errstate(invalid="ignore", divide="ignore"):
                            diff_p = points[m][i] - points[m][ref]
                            ratio_p = points[m][i] / points[m][ref] if points[m][ref] > 0 else np.nan
                            if boots[m] is not None:
                                bdiff = boots[m][:, i] - boots[m][:, ref]
                                bratio = np.where(boots[m][:, ref] > 0, boots[m][:, i] / np.where(boots[m][:, ref] > 0, boots[m][:, ref], 1), np.nan)
                        part.vs_reference[slices[i]][m] = {
                            "difference": _estimates(np.array([diff_p]), None if boots[m] is None else bdiff[:, None], confidence)[0],
                            "ratio": _estimates(np.array([ratio_p]), None if boots[m] is None else bratio[:, None], confidence)[0],
                        }
        partitions.append(part)
    return Report(n, resamples, confidence, seed, wanted, partitions)


def frame_inputs(frame: pd.DataFrame, label: str, pred: str, sensitive: list[str], score: str | None, where: str):
    """Columns of a user's file, with one-line errors naming the file and the column."""
    for col in [label, pred, *sensitive, *([score] if score else [])]:
        if col not in frame.columns:
            raise DataError(f"{where}: column {col!r} not found; columns are {list(frame.columns)[:20]}")
    try:
        y = binary_array(f"{where}: label column {label!r}", frame[label].to_numpy())
        p = binary_array(f"{where}: prediction column {pred!r}", frame[pred].to_numpy())
        s = None if score is None else _scores(frame[score].to_numpy(), len(frame))
    except DataError as exc:
        raise DataError(str(exc) if str(exc).startswith(where) else f"{where}: {exc}") from None
    groups = {}
    for col in sensitive:
        values = frame[col]
        if values.isna().any():
            raise DataError(f"{where}: sensitive column {col!r} has {int(values.isna().sum())} missing values; every row needs a group")
        groups[col] = values.astype(str).to_numpy()
    return y, p, groups, s
