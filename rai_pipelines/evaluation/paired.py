"""Regression against a baseline model: a paired comparison on the same rows.

Each row falls in one of 8 cells per group: label x candidate's prediction x
baseline's prediction. Both models' confusion counts are sums of those cells,
so one multinomial draw of the 8-cell counts is a paired row bootstrap of any
difference between them (candidate - baseline), at a cost that does not grow
with rows. The gate judges a change as non-inferiority: within the tolerance
only when its whole interval is, regressed only when its whole interval lies
beyond it, undecided otherwise. Where every resample gives the same change (the
two models agree on every row of a group) the interval is widened by the
largest discordance rate that n agreeing rows cannot exclude
(`stats.intervals.bootstrap_bounds`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rai_pipelines.errors import DataError
from rai_pipelines.evaluation import scores as sc
from rai_pipelines.evaluation.bootstrap import resample_counts
from rai_pipelines.evaluation.confusion import METRICS, PROPORTIONS
from rai_pipelines.evaluation.engine import binary_array, disparity, scores_array
from rai_pipelines.evaluation.groups import encode
from rai_pipelines.evaluation.metric_names import SCORE_METRICS
from rai_pipelines.evaluation.rows import BASELINE_METRIC, MetricRow
from rai_pipelines.stats.intervals import LEVELS, as_tuple, bootstrap_bounds, level_for


@dataclass(frozen=True)
class Change:
    metric: str  # e.g. 'tpr' (a group value) or 'tpr_difference' (a disparity)
    slice: str
    value: float  # candidate - baseline
    ci_low: float
    ci_high: float
    n: int
    bounds: tuple | None = None  # one-sided bounds per level of stats.intervals.LEVELS


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
    if not metrics:
        return []
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
    levels = (*LEVELS, level_for(confidence))

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
            # A change no resample moves is widened by what the rate's own denominator (positives for TPR, ...)
            # cannot exclude, not by the group's rows.
            trials = np.minimum(PROPORTIONS[m][1](confusion(c, 0)), PROPORTIONS[m][1](confusion(c, 1)))
            b = bootstrap_bounds(samples, point, trials, (-1.0, 1.0), levels)
            for i in np.flatnonzero(present):
                changes.append(_change(m, slices[i], point[i], b[i], sizes[i]))
            if axes:
                d_point = disparity(fn(confusion(c, 0)), present)[0] - disparity(fn(confusion(c, 1)), present)[0]
                required_a = present & ~np.isnan(fn(confusion(c, 0)))
                required_b = present & ~np.isnan(fn(confusion(c, 1)))
                d_samples = (disparity(fn(confusion(bc, 0)), present, required_a)[0]
                             - disparity(fn(confusion(bc, 1)), present, required_b)[0])
                b = bootstrap_bounds(d_samples[:, None], np.atleast_1d(d_point), [trials[present].min()], (-1.0, 1.0), levels)[0]
                changes.append(_change(f"{m}_difference", index.partition_name(axes), d_point, b, sizes.sum()))
    return changes


def _change(metric: str, slice_: str, point, bounds: np.ndarray, n) -> Change:
    """bounds: (levels + 1, 2), the grid then the reported interval's level."""
    return Change(metric, slice_, float(point), float(bounds[-1, 0]), float(bounds[-1, 1]), int(n), as_tuple(bounds[:-1]))


def paired_score_changes(
    y_true,
    score_candidate,
    score_baseline,
    sensitive: dict[str, object] | None,
    metrics: list[str],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    intersections: bool = True,
    score_bins: int = 32,
    calibration_bins: int = 10,
) -> list[Change]:
    """Changes of AUC and ECE (candidate - baseline) per group, paired on the same rows.

    Each row falls in a (group, candidate score bin, baseline score bin, label)
    cell; one multinomial draw of those counts resamples rows for both models at
    once. AUC per resample comes from each model's marginal histogram, shifted by
    (exact - binned) AUC so the interval is centred on the exact change (as the
    engine does for one model); ECE keeps each cell's observed mean score. Both
    models' scores are binned at their own `score_bins` quantiles.
    """
    unknown = [m for m in metrics if m not in SCORE_METRICS]
    if unknown:
        raise DataError(f"paired score comparison supports {list(SCORE_METRICS)}, not {unknown[0]!r}")
    y = binary_array("label", y_true)
    s_a, s_b = (scores_array(v, len(y)) for v in (score_candidate, score_baseline))
    index = encode(sensitive or {}, len(y))
    rng = np.random.default_rng(seed)
    levels = (*LEVELS, level_for(confidence))
    (qa, na), (qb, nb) = sc.quantile_bins(s_a, score_bins), sc.quantile_bins(s_b, score_bins)
    joint = np.bincount(((index.cell * na + qa) * nb + qb) * 2 + y, minlength=index.n_cells * na * nb * 2)
    joint = joint.reshape(*index.shape, na, nb, 2)
    ea, eb = sc.calibration_bins(s_a, calibration_bins), sc.calibration_bins(s_b, calibration_bins)
    flat = ((index.cell * calibration_bins + ea) * calibration_bins + eb) * 2 + y
    shape = (*index.shape, calibration_bins, calibration_bins, 2)
    e_counts = np.bincount(flat, minlength=index.n_cells * calibration_bins ** 2 * 2).reshape(shape)
    e_sums = [np.bincount(flat, weights=w, minlength=e_counts.size).reshape(shape) for w in (s_a, s_b)]
    e_means = [np.divide(t, e_counts, out=np.zeros_like(t), where=e_counts > 0) for t in e_sums]
    boot_joint = resample_counts(joint, resamples, rng) if "auc" in metrics else None
    boot_e = resample_counts(e_counts, resamples, rng) if "ece" in metrics else None

    changes = []
    partitions = index.partitions(intersections)
    for axes in partitions if () in partitions else [(), *partitions]:
        slices = index.group_slices(axes)
        sizes = index.reduce(joint, axes).sum((-1, -2, -3))
        present = sizes > 0
        for m in metrics:
            if m == "auc":
                gid = sc.partition_ids(index.cell, index.shape, axes)
                exact = sc.grouped_auc(gid, len(slices), y, s_a) - sc.grouped_auc(gid, len(slices), y, s_b)
                j, bj = index.reduce(joint, axes), index.reduce(boot_joint, axes, lead=1)
                binned = sc.auc_from_hist(j.sum(-2)) - sc.auc_from_hist(j.sum(-3))
                samples = sc.auc_from_hist(bj.sum(-2)) - sc.auc_from_hist(bj.sum(-3)) + (exact - binned)
                point = exact
            else:
                c, bc = index.reduce(e_counts, axes), index.reduce(boot_e, axes, lead=1)
                sums = [index.reduce(t, axes) for t in e_sums]
                boot_sums = [index.reduce(boot_e * t, axes, lead=1) for t in e_means]
                point = _ece(c, sums[0], 0) - _ece(c, sums[1], 1)
                samples = _ece(bc, boot_sums[0], 0) - _ece(bc, boot_sums[1], 1)
            b = bootstrap_bounds(samples, point, sizes, (-1.0, 1.0), levels)
            for i in np.flatnonzero(present):
                changes.append(_change(m, slices[i], point[i], b[i], sizes[i]))
    return changes


def _ece(counts: np.ndarray, sums: np.ndarray, model: int) -> np.ndarray:
    """ECE of one model from (..., candidate bin, baseline bin, label) cells: the other model's bin summed out."""
    axis = -2 if model == 0 else -3
    return sc.ece_from_sums(counts.sum(axis), sums.sum(axis))


def from_suite(inputs, suite) -> list[MetricRow]:
    """The regression family on a suite's options (`families.Inputs`, with the baseline's predictions): a marker
    row naming the champion compared against (NaN: none), then every change."""
    marker = MetricRow("regression", BASELINE_METRIC, "overall",
                       float(inputs.baseline_version) if inputs.baseline_version else float("nan"), len(inputs.y))
    if inputs.baseline_version is None:
        return [marker]
    options = dict(intersections=suite.intersections, resamples=suite.bootstrap_resamples, confidence=suite.confidence,
                   seed=suite.seed)
    changes = paired_changes(inputs.y, inputs.prediction, inputs.baseline_prediction, inputs.sensitive,
                             [m for m in suite.metrics if m not in SCORE_METRICS], **options)
    if scored := [m for m in suite.metrics if m in SCORE_METRICS]:
        changes += paired_score_changes(inputs.y, inputs.score, inputs.baseline_score, inputs.sensitive, scored,
                                        calibration_bins=suite.calibration_bins, **options)
    return [marker, *change_rows(changes)]


def change_rows(changes: list[Change], family: str = "regression") -> list[MetricRow]:
    return [MetricRow(family, f"{c.metric}_change", c.slice, c.value, c.n, c.ci_low, c.ci_high, c.bounds) for c in changes]
