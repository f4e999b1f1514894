"""Paired comparison with the champion: same rows, one bootstrap of the difference."""

import numpy as np
import pytest

from rai_pipelines.evaluation.fairness import group_metrics
from rai_pipelines.evaluation.paired import lower_is_better, paired_changes, regressed


def _models(rng, n, candidate_tpr_f):
    sex = rng.choice(["F", "M"], n)
    y = (rng.random(n) < 0.5).astype(int)
    u = rng.random(n)  # shared noise: the two models agree on most rows, as real versions do
    base = np.where(y == 1, u < 0.8, u < 0.2).astype(int)
    cand = np.where(y == 1, u < np.where(sex == "F", candidate_tpr_f, 0.8), u < 0.2).astype(int)
    return y, cand, base, sex


def test_point_changes_equal_the_difference_of_separate_evaluations():
    rng = np.random.default_rng(1)
    y, cand, base, sex = _models(rng, 5000, 0.7)
    changes = {(c.metric, c.slice): c for c in paired_changes(y, cand, base, {"SEX": sex}, ["tpr", "accuracy"], resamples=200)}
    a = group_metrics(y, cand, {"SEX": sex}, metrics=["tpr", "accuracy"], resamples=0).partitions[0]
    b = group_metrics(y, base, {"SEX": sex}, metrics=["tpr", "accuracy"], resamples=0).partitions[0]
    for ga, gb in zip(a.groups, b.groups):
        for m in ("tpr", "accuracy"):
            assert changes[(m, ga.slice)].value == pytest.approx(ga.metrics[m].value - gb.metrics[m].value, abs=1e-12)
    expected = a.disparities["tpr"]["difference"].value - b.disparities["tpr"]["difference"].value
    assert changes[("tpr_difference", "SEX")].value == pytest.approx(expected, abs=1e-12)
    overall_acc = (cand == y).mean() - (base == y).mean()
    assert changes[("accuracy", "overall")].value == pytest.approx(overall_acc, abs=1e-12)


def test_pairing_narrows_the_interval_compared_with_independent_intervals():
    rng = np.random.default_rng(2)
    y, cand, base, sex = _models(rng, 5000, 0.78)
    [change] = [c for c in paired_changes(y, cand, base, None, ["accuracy"]) if c.slice == "overall"]
    a = group_metrics(y, cand, None, metrics=["accuracy"]).partitions[0].groups[0].metrics["accuracy"]
    b = group_metrics(y, base, None, metrics=["accuracy"]).partitions[0].groups[0].metrics["accuracy"]
    independent = np.hypot(a.ci_high - a.ci_low, b.ci_high - b.ci_low)
    assert change.ci_high - change.ci_low < 0.5 * independent


def test_paired_interval_covers_the_true_change():
    rng = np.random.default_rng(3)
    hits, trials = 0, 300
    for _ in range(trials):
        y, cand, base, sex = _models(rng, 3000, 0.7)  # true TPR change for women: 0.7 - 0.8
        [c] = [c for c in paired_changes(y, cand, base, {"SEX": sex}, ["tpr"], seed=int(rng.integers(1 << 31))) if c.slice == "SEX=F"]
        hits += c.ci_low <= -0.1 <= c.ci_high
    assert 0.92 <= hits / trials <= 0.98


@pytest.mark.parametrize(
    "metric, low, high, tolerance, expected",
    [
        ("tpr_difference", 0.03, 0.08, 0.02, True),  # disparity grew beyond tolerance, whole interval
        ("tpr_difference", 0.01, 0.08, 0.02, False),  # could be within tolerance: not regressed
        ("accuracy", -0.05, -0.03, 0.02, True),  # accuracy fell by more than 0.02
        ("accuracy", -0.05, -0.01, 0.02, False),
        ("fpr", 0.03, 0.05, 0.02, True),  # error rates: lower is better
        ("accuracy", float("nan"), float("nan"), 0.02, None),
    ],
)
def test_regressed_only_when_the_whole_interval_is_beyond_tolerance(metric, low, high, tolerance, expected):
    assert regressed(low, high, metric, tolerance) is expected


def test_selection_rate_has_no_harmful_direction():
    assert lower_is_better("selection_rate_difference")
    with pytest.raises(Exception, match="no harmful direction"):
        lower_is_better("selection_rate")
