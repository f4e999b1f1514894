"""Performance and fairness estimated before the labels land: confidence-based performance estimation (CBPE, as
NannyML publishes it), per group, with intervals.

Method. On the reference window (scores, labels and groups), an isotonic map from score to P(label = 1) is fitted
within each intersection of the sensitive groups that has enough reference rows (MIN_CELL_ROWS, both labels), and
overall for the rest, when it calibrates better than the raw scores (judged on 5-fold cross-fitted probabilities).
Within groups, because a score can mean different odds for different groups: calibrated overall only, a model trained
on a skewed sample has its TPR gap by SEX underestimated by 0.06 on every ACS night (benchmarks/estimation_validity.py).
On the unlabelled batch each
row's calibrated probability p_i gives its expected confusion cell: a positive decision is a true positive with
probability p_i and a false positive with 1 - p_i; a negative, a false negative with p_i and a true negative with
1 - p_i. Summed per group, the expected cells give every confusion metric (accuracy, TPR, FPR, FNR, precision) and,
through the fairness family's own comparisons, their between-group disparities. Selection rates need no label: they
are the realized ones, with the same exact intervals.

Intervals. What the labels will show is simulated: the calibrator is refitted on bootstrap resamples of the reference
(its own uncertainty), and for each, labels are drawn row by row as Bernoulli(p_i); each draw's metrics are what a
labelled batch would have shown. Percentiles of the draws bound the value the labels will realize, which is also
what the validation compares with (benchmarks/estimation_validity.py).

Assumptions, checked and stored with every estimate: the scores are calibratable on the reference (cross-fitted ECE
of the probabilities used, against CALIBRATION_TOLERANCE), and the batch's scores lie where the reference's do (the
share outside the reference's range, the KS distance between the two). The other assumption, no concept shift (the
same P(label | features) as on the reference), cannot be checked before the labels land: when they do, the estimate
is compared with the realized value (`estimate_errors`), which is that check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import ks_2samp
from sklearn.isotonic import IsotonicRegression

from rai_pipelines.errors import DataError
from rai_pipelines.evaluation.confusion import METRICS, PROPORTIONS, cell_counts
from rai_pipelines.evaluation.engine import Group, Partition, Report, estimates
from rai_pipelines.evaluation.fairness import applicable_reference_groups, compare_groups
from rai_pipelines.evaluation.groups import GroupIndex, encode
from rai_pipelines.evaluation.rows import MetricRow
from rai_pipelines.stats.intervals import LEVELS, bootstrap_bounds, level_for, proportion_bounds

ESTIMABLE = ("selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision")
CALIBRATION_TOLERANCE = 0.02  # cross-fitted ECE on the reference above which the calibration assumption is flagged
MIN_CELL_ROWS = 200  # reference rows a group needs to be calibrated on its own
_CALIBRATORS = 50  # bootstrap refits of the calibrator; each is drawn from resamples // _CALIBRATORS times
FAMILY = "estimation"  # the family of the assumption rows stored with an estimated run


@dataclass(frozen=True)
class Assumptions:
    calibrator: str  # "isotonic" or "none" (the raw scores calibrate as well)
    reference_ece_raw: float  # within the sensitive groups (weighted by size), of the raw scores
    reference_ece: float  # the same, cross-fitted, of the probabilities used
    score_ks: float  # KS distance between the reference's scores and the batch's
    outside_reference: float  # share of the batch's scores outside the reference's score range

    @property
    def calibrated(self) -> bool:
        return self.reference_ece <= CALIBRATION_TOLERANCE

    def rows(self, n: int) -> list[MetricRow]:
        values = {"reference_ece_raw": self.reference_ece_raw, "reference_ece": self.reference_ece,
                  "calibration_holds": float(self.calibrated), "isotonic_calibrator": float(self.calibrator == "isotonic"),
                  "score_ks": self.score_ks, "scores_outside_reference": self.outside_reference}
        return [MetricRow(FAMILY, metric, "overall", float(v), n) for metric, v in values.items()]


def _ece(y: np.ndarray, p: np.ndarray, cell: np.ndarray | None = None, bins: int = 10) -> float:
    """Expected calibration error (10 equal-width bins) within each cell, weighted by the cells' sizes: a score
    calibrated overall but not within groups shows here."""
    cell = np.zeros(len(y), dtype=np.int64) if cell is None else cell
    key = cell * bins + np.minimum((p * bins).astype(int), bins - 1)
    size = int(key.max()) + 1 if len(key) else 1
    gap = np.abs(np.bincount(key, weights=y, minlength=size) - np.bincount(key, weights=p, minlength=size))
    return float(gap.sum() / max(len(y), 1))


def _isotonic(score: np.ndarray, y: np.ndarray) -> IsotonicRegression:
    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(score, y)


def _calibrator(score: np.ndarray, y: np.ndarray, cell: np.ndarray):
    """score, cell -> P(label = 1): isotonic within each cell with enough rows of both labels, overall elsewhere."""
    overall = _isotonic(score, y)
    own = {}
    for c in np.unique(cell):
        inside = cell == c
        if inside.sum() >= MIN_CELL_ROWS and 0 < y[inside].mean() < 1:
            own[c] = _isotonic(score[inside], y[inside])

    def predict(s: np.ndarray, cells: np.ndarray) -> np.ndarray:
        p = overall.predict(s)
        for c, fit in own.items():
            inside = cells == c
            if inside.any():
                p[inside] = fit.predict(s[inside])
        return p

    return predict


def _cross_fitted(score, y, cell, rng: np.random.Generator, folds: int = 5) -> np.ndarray:
    fold = rng.permutation(len(score)) % folds
    out = np.empty(len(score))
    for k in range(folds):
        fit = _calibrator(score[fold != k], y[fold != k], cell[fold != k])
        out[fold == k] = fit(score[fold == k], cell[fold == k])
    return out


def _cells(sensitive: dict | None, reference_sensitive: dict | None, n_ref: int, n: int):
    """The current rows' group index, and the reference rows' cells on the same levels (all 0 without groups)."""
    if not sensitive:
        return encode({}, n), np.zeros(n_ref, dtype=np.int64)
    if reference_sensitive is None:  # no groups on the reference: calibrated overall
        return encode(sensitive, n), np.zeros(n_ref, dtype=np.int64)
    both = encode({k: np.concatenate([np.asarray(reference_sensitive[k]), np.asarray(v)]) for k, v in sensitive.items()},
                  n_ref + n)
    return GroupIndex(both.features, both.levels, both.cell[n_ref:]), both.cell[:n_ref]


def estimate(reference_score, reference_y, score, prediction, sensitive: dict[str, object] | None = None,
             metrics: list[str] | None = None, *, reference_sensitive: dict[str, object] | None = None,
             observed=None, overall_only: bool = False, intersections: bool = True, resamples: int = 1000,
             confidence: float = 0.95, seed: int = 0) -> tuple[Report, Assumptions]:
    """Expected group metrics of a batch whose labels are (partly) pending, with simulated intervals, and the checked
    assumptions. `reference_sensitive`: the reference rows' groups, to calibrate within them. `observed`: the labels
    that have landed (NaN where pending), used as they are. `overall_only`: calibrate within the groups, report the
    batch as a whole (the performance family)."""
    ref_s, ref_y = np.asarray(reference_score, float), np.asarray(reference_y, float)
    s, yhat = np.asarray(score, float), np.asarray(prediction).astype(np.int64)
    if len(ref_s) < 100 or len(np.unique(ref_y)) < 2:
        raise DataError(f"estimating needs a labelled reference with both classes and at least 100 rows (got "
                        f"{len(ref_s)}); the reference window is what the scores are calibrated on")
    wanted = [m for m in (metrics or ESTIMABLE) if m in ESTIMABLE]
    rng = np.random.default_rng(seed)
    index, ref_cell = _cells(sensitive, reference_sensitive, len(ref_s), len(s))
    cross = _cross_fitted(ref_s, ref_y, ref_cell, rng)
    raw_ece, iso_ece = _ece(ref_y, ref_s, ref_cell), _ece(ref_y, cross, ref_cell)
    isotonic = iso_ece < raw_ece
    assumptions = Assumptions("isotonic" if isotonic else "none", raw_ece, iso_ece if isotonic else raw_ece,
                              float(ks_2samp(ref_s, s).statistic) if len(s) else float("nan"),
                              float(((s < ref_s.min()) | (s > ref_s.max())).mean()) if len(s) else float("nan"))

    def calibrated(rows: np.ndarray) -> np.ndarray:  # this batch's probabilities, calibrated on these reference rows
        return _calibrator(ref_s[rows], ref_y[rows], ref_cell[rows])(s, index.cell) if isotonic else s

    landed = np.zeros(len(s), bool) if observed is None else ~np.isnan(np.asarray(observed, float))
    known = np.nan_to_num(np.asarray(observed, float)) if observed is not None else np.zeros(len(s))

    def probabilities(rows: np.ndarray) -> np.ndarray:  # a landed label is certain: its row's "probability" is it
        return np.where(landed, known, calibrated(rows))

    p = probabilities(np.arange(len(ref_s)))
    expected = _expected_cells(index, yhat, p)
    draws = _simulated_cells(index, yhat, len(ref_s), probabilities if isotonic else None, p, resamples, rng) if resamples else None
    levels = (*LEVELS, level_for(confidence))
    partitions = []
    for axes in [()] if overall_only else index.partitions(intersections):
        slices = index.group_slices(axes)
        point_cells = index.reduce(expected, axes)
        sizes = point_cells.sum(-1).round().astype(np.int64)
        part = Partition(index.partition_name(axes), [], axes=axes, slices=slices, sizes=sizes)
        per_metric = {}
        for m in wanted:
            part.points[m] = METRICS[m](point_cells)
            if m == "selection_rate":  # needs no label: exact counts, the realized evaluation's interval
                num, den = (np.round(f(point_cells)).astype(np.int64) for f in PROPORTIONS[m])
                part.counts[m] = (num, den)
                bounds = proportion_bounds(num, den, levels)
            elif draws is not None:
                part.resampled[m] = METRICS[m](index.reduce(draws, axes, lead=1))
                bounds = bootstrap_bounds(part.resampled[m], part.points[m], sizes, (0.0, 1.0), levels)
            else:
                bounds = None
            per_metric[m] = estimates(part.points[m], bounds)
        part.groups = [Group(slices[i], int(sizes[i]), {m: per_metric[m][i] for m in wanted})
                       for i in range(len(slices)) if sizes[i] > 0]
        partitions.append(part)
    return Report(len(s), resamples, confidence, seed, wanted, partitions), assumptions


def _expected_cells(index, yhat: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(cells..., 4) expected TN, FP, FN, TP per intersection cell."""
    cells = np.empty((index.n_cells, 4))
    for col, (label_weight, decided) in enumerate(((1 - p, 0), (1 - p, 1), (p, 0), (p, 1))):  # TN, FP, FN, TP
        cells[:, col] = np.bincount(index.cell, weights=label_weight * (yhat == decided), minlength=index.n_cells)
    return cells.reshape(*index.shape, 4)


def _simulated_cells(index, yhat, n_ref: int, calibrated, fixed, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, cells..., 4) confusion cells of labels drawn from the calibrated scores, the calibrator refitted on
    a bootstrap resample of the reference every resamples / _CALIBRATORS draws (`fixed` probabilities without one)."""
    fits = max(1, min(_CALIBRATORS, resamples)) if calibrated else 1
    per_fit = np.diff(np.linspace(0, resamples, fits + 1).round().astype(int))
    out = np.empty((resamples, index.n_cells, 4), dtype=np.int64)
    d = 0
    for k in range(fits):
        p = calibrated(rng.integers(0, n_ref, n_ref)) if calibrated else fixed
        for _ in range(per_fit[k]):
            out[d] = cell_counts(index.cell, index.n_cells, rng.random(len(p)) < p, yhat)
            d += 1
    return out.reshape(resamples, *index.shape, 4)


def estimated_rows(family: str, reference_score, reference_y, reference_sensitive, score, prediction, sensitive,
                   observed, suite, held_out: bool | None = None) -> list[MetricRow]:
    """A performance or fairness suite's rows, estimated (what it can estimate), then the checked assumptions."""
    report, assumptions = estimate(
        reference_score, reference_y, score, prediction, sensitive, suite.metrics, reference_sensitive=reference_sensitive,
        observed=observed, overall_only=family == "performance", intersections=suite.intersections,
        resamples=suite.bootstrap_resamples, confidence=suite.confidence, seed=suite.seed)
    if family == "fairness":
        compare_groups(report, applicable_reference_groups(suite, sensitive))
    # Calibrated on the data the model was trained on, the scores look better calibrated than they are.
    held = MetricRow(FAMILY, "reference_held_out", "overall", float("nan") if held_out is None else float(held_out), report.n)
    return report.rows(family) + assumptions.rows(report.n) + [held]
