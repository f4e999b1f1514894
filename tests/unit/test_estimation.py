"""CBPE estimates (evaluation/estimation.py) against the labels they anticipate: when labels really are drawn from the
calibrated scores, the intervals cover what they realize at their nominal rate; miscalibrated scores are recalibrated
on the reference; selection rates are the realized ones exactly; a concept shift shows as missed coverage."""

import numpy as np
import pytest

from rai_pipelines.evaluation.engine import group_metrics
from rai_pipelines.evaluation.estimation import estimate
from rai_pipelines.evaluation.fairness import compare_groups, fairness_report


def _scores(rng, n):
    group = np.where(rng.random(n) < 0.4, "b", "a")
    score = rng.beta(np.where(group == "a", 3.0, 2.0), 2.0)  # the groups' score distributions differ
    return score, group


def _rows(report):
    return {(r.metric, r.slice): r for r in report.rows("x")}


def _realized(y, decision, group):
    return _rows(fairness_report(y, decision, {"g": group}, None, ["accuracy", "tpr", "fpr", "selection_rate"], resamples=0))


def _coverage(rng, reps, distort=lambda s: s, shift=0.0):
    ref_s, _ = _scores(rng, 20000)
    ref_y = rng.random(len(ref_s)) < ref_s
    covered, errors = {}, {}
    for _ in range(reps):
        s, group = _scores(rng, 3000)
        y = rng.random(len(s)) < np.clip(s + shift, 0, 1)
        decision = (s >= 0.5).astype(int)
        report, assumptions = estimate(distort(ref_s), ref_y, distort(s), decision, {"g": group},
                                       ["accuracy", "tpr", "fpr", "selection_rate"], resamples=200,
                                       seed=int(rng.integers(1 << 30)))
        estimated, realized = _rows(compare_groups(report, {})), _realized(y.astype(int), decision, group)
        for key in [("accuracy", "g=a"), ("tpr", "g=b"), ("fpr", "g=a"), ("tpr_difference", "g")]:
            e, r = estimated[key], realized[key].value
            covered.setdefault(key, []).append(e.ci_low <= r <= e.ci_high)
            errors.setdefault(key, []).append(e.value - r)
    return {k: np.mean(v) for k, v in covered.items()}, {k: np.mean(v) for k, v in errors.items()}, assumptions


def test_intervals_cover_labels_drawn_from_calibrated_scores_at_their_nominal_rate():
    covered, bias, assumptions = _coverage(np.random.default_rng(1), reps=40)
    assert assumptions.calibrated
    for key, rate in covered.items():
        assert rate >= 0.85, (key, rate)  # nominal 0.95; 40 repetitions: 0.85 is 2.9 standard errors below
        assert abs(bias[key]) < 0.01, (key, bias[key])


def test_miscalibrated_scores_are_recalibrated_on_the_reference():
    covered, bias, assumptions = _coverage(np.random.default_rng(2), reps=30, distort=lambda s: s ** 3)
    assert assumptions.calibrator == "isotonic" and assumptions.reference_ece_raw > 0.05 and assumptions.calibrated
    assert min(covered.values()) >= 0.8 and max(abs(b) for b in bias.values()) < 0.015


def test_a_concept_shift_shows_as_estimates_that_miss_once_labels_land():
    covered, bias, _ = _coverage(np.random.default_rng(3), reps=20, shift=0.15)  # labels kinder than the scores say
    assert min(covered.values()) < 0.5 and max(abs(b) for b in bias.values()) > 0.05


def test_selection_rates_need_no_labels_and_are_the_realized_ones_exactly():
    rng = np.random.default_rng(4)
    s, group = _scores(rng, 5000)
    decision = (s >= 0.6).astype(int)
    report, _ = estimate(s, rng.random(len(s)) < s, s, decision, {"g": group}, ["selection_rate"], resamples=100)
    realized = _rows(group_metrics(np.zeros(len(s), int), decision, {"g": group}, None, ["selection_rate"]))
    for key, row in _rows(report).items():
        assert (row.value, row.ci_low, row.ci_high) == pytest.approx(
            (realized[key].value, realized[key].ci_low, realized[key].ci_high), abs=1e-12)
        np.testing.assert_allclose(np.array(row.bounds), np.array(realized[key].bounds), atol=1e-12)


def test_a_reference_without_both_classes_is_one_line():
    from rai_pipelines.errors import DataError

    with pytest.raises(DataError, match="labelled reference with both classes"):
        estimate(np.linspace(0, 1, 500), np.ones(500), [0.5], [1])


def test_scores_that_mean_different_odds_per_group_are_calibrated_within_groups():
    """Group b's scores are inflated (sqrt): calibrated overall, its TPR is misestimated; within groups, it is not."""
    rng = np.random.default_rng(5)

    def batch(n):
        s, group = _scores(rng, n)
        y = rng.random(n) < s
        return np.where(group == "b", np.sqrt(s), s), y, group

    ref_s, ref_y, ref_group = batch(20000)
    s, y, group = batch(5000)
    decision = (s >= 0.5).astype(int)
    realized = _realized(y.astype(int), decision, group)[("tpr_difference", "g")].value
    gaps = {}
    for grouped in (False, True):
        report, _ = estimate(ref_s, ref_y, s, decision, {"g": group}, ["tpr"], resamples=200,
                             reference_sensitive={"g": ref_group} if grouped else None)
        gaps[grouped] = _rows(compare_groups(report, {}))[("tpr_difference", "g")]
    assert abs(gaps[True].value - realized) < 0.02 and gaps[True].ci_low <= realized <= gaps[True].ci_high
    assert abs(gaps[False].value - realized) > 2 * abs(gaps[True].value - realized)
