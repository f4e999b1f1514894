"""The fairness family: between-group disparities on top of the group-metrics engine.

For each partition with groups (each sensitive feature alone, their
intersection): per metric, max - min (difference) and min / max (ratio) over
the groups present, and, when a reference group is named, each group against
it. Proportions (selection rate, TPR, ...) get simultaneous exact intervals
(`stats.disparity`): they cover a true disparity of zero, where a percentile
bootstrap of max - min cannot. A disparity over groups of which one has no
defined rate has no interval. Score metrics (AUC, ECE) keep the percentile
bootstrap of the engine's resamples, a resample in which a group's value is
undefined being undefined as a whole.
"""

from __future__ import annotations

import numpy as np

from rai_pipelines.errors import DataError
from rai_pipelines.evaluation.engine import Estimate, Partition, Report, disparity, estimates, group_metrics
from rai_pipelines.evaluation.groups import encode
from rai_pipelines.evaluation.rows import MetricRow
from rai_pipelines.stats import disparity as simultaneous
from rai_pipelines.stats.intervals import LEVELS, bootstrap_bounds, level_for


def fairness_report(
    y_true, y_pred, sensitive: dict[str, object], score=None, metrics: list[str] | None = None, *,
    reference_groups: dict[str, str] | None = None, **options,
) -> Report:
    """Group metrics (`engine.group_metrics`, same options) plus disparities and comparisons with reference groups."""
    reference_groups = reference_groups or {}
    index = encode(sensitive or {}, len(np.asarray(y_true)))
    for feature, group in reference_groups.items():
        if feature not in index.features:
            raise DataError(f"reference group given for {feature!r}, which is not a sensitive feature")
        if str(group) not in index.levels[index.features.index(feature)]:
            raise DataError(f"reference group {feature}={group} does not occur in the data")
    return compare_groups(group_metrics(y_true, y_pred, sensitive, score, metrics, **options), reference_groups)


def compare_groups(report: Report, reference_groups: dict[str, str]) -> Report:
    """Add between-group disparities and comparisons with reference groups to a group-metrics report, from each
    metric's exact counts or its resamples (realized or, for estimated metrics, simulated)."""
    levels = np.asarray((*LEVELS, level_for(report.confidence)))
    for part in report.partitions:
        if not part.axes:
            continue
        for m in report.metrics:
            part.disparities[m] = _disparities(part, m, levels)
        if len(part.axes) == 1 and part.name in reference_groups:
            _against_reference(part, report.metrics, f"{part.name}={reference_groups[part.name]}", levels)
    return report


def applicable_reference_groups(suite, sensitive: dict) -> dict[str, str]:
    """A suite shared by systems names reference groups per feature; those of features this system does not declare
    do not apply to it, and one that does not occur in the data is one line."""
    reference = {f: g for f, g in suite.reference_groups.items() if f in sensitive}
    for feature, group in reference.items():
        if str(group) not in set(map(str, np.asarray(sensitive[feature]))):
            raise DataError(f"reference group {feature}={group} of suite {suite.name!r} does not occur in the data")
    return reference


def from_suite(inputs, suite) -> list[MetricRow]:
    """The fairness family on a suite's options (`families.Inputs`)."""
    reference = applicable_reference_groups(suite, inputs.sensitive)
    report = fairness_report(
        inputs.y, inputs.prediction, inputs.sensitive, inputs.score, suite.metrics,
        intersections=suite.intersections, reference_groups=reference, calibration_bins=suite.calibration_bins,
        resamples=suite.bootstrap_resamples, confidence=suite.confidence, seed=suite.seed,
    )
    return report.rows("fairness")


def _disparities(part: Partition, m: str, levels: np.ndarray) -> dict[str, Estimate]:
    present = part.sizes > 0
    diff, ratio = disparity(part.points[m], present)
    defined = present & ~np.isnan(part.points[m])
    if (present & ~defined).any():
        # A group whose rate is undefined (no positives for a TPR) could hold the largest gap: the spread over
        # the other groups is shown, but it has no interval, so no check can pass on it.
        return {"difference": Estimate(float(diff)), "ratio": Estimate(float(ratio))}
    if m in part.counts:
        k, n = (a[defined] for a in part.counts[m])
        if len(k) < 2:
            return {"difference": Estimate(float(diff)), "ratio": Estimate(float(ratio))}
        d_bounds = simultaneous.max_min_difference(k, n, levels)
        r_bounds = simultaneous.min_max_ratio(k, n, levels)
    elif part.resampled.get(m) is not None:
        boot_d, boot_r = disparity(part.resampled[m], present, defined)
        d_bounds = bootstrap_bounds(boot_d[:, None], np.atleast_1d(diff), [part.sizes.sum()], (0.0, 1.0), levels)[0]
        r_bounds = bootstrap_bounds(boot_r[:, None], np.atleast_1d(ratio), [part.sizes.sum()], (0.0, 1.0), levels)[0]
    else:
        return {"difference": Estimate(float(diff)), "ratio": Estimate(float(ratio))}
    return {"difference": estimates(np.atleast_1d(diff), d_bounds[None])[0],
            "ratio": estimates(np.atleast_1d(ratio), r_bounds[None])[0]}


def _against_reference(part: Partition, metrics: list[str], reference: str, levels: np.ndarray) -> None:
    ref = part.slices.index(reference)
    for i in np.flatnonzero(part.sizes > 0):
        if i == ref:
            continue
        part.vs_reference[part.slices[i]] = per_metric = {}
        for m in metrics:
            v, v_ref = part.points[m][i], part.points[m][ref]
            with np.errstate(invalid="ignore", divide="ignore"):
                point_d, point_r = v - v_ref, (v / v_ref if v_ref > 0 else np.nan)
            if m in part.counts and not (np.isnan(v) or np.isnan(v_ref)):
                k, n = part.counts[m]
                d_bounds = simultaneous.signed_difference(k[i], n[i], k[ref], n[ref], levels)
                r_bounds = simultaneous.ratio_to_reference(k[i], n[i], k[ref], n[ref], levels)
            elif part.resampled.get(m) is not None:
                b = part.resampled[m]
                with np.errstate(invalid="ignore", divide="ignore"):
                    b_ratio = np.where(b[:, ref] > 0, b[:, i] / np.where(b[:, ref] > 0, b[:, ref], 1), np.nan)
                size = [part.sizes[i] + part.sizes[ref]]
                d_bounds = bootstrap_bounds((b[:, i] - b[:, ref])[:, None], np.array([point_d]), size, (-1.0, 1.0), levels)[0]
                r_bounds = bootstrap_bounds(b_ratio[:, None], np.array([point_r]), size, (0.0, np.inf), levels)[0]
            else:
                per_metric[m] = {"difference": Estimate(float(point_d)), "ratio": Estimate(float(point_r))}
                continue
            per_metric[m] = {"difference": estimates(np.array([point_d]), d_bounds[None])[0],
                             "ratio": estimates(np.array([point_r]), r_bounds[None])[0]}
