"""Paired comparison with the champion: same rows, one bootstrap of the difference."""

import numpy as np
import pytest

from rai_pipelines.evaluation.fairness import fairness_report as group_metrics
from rai_pipelines.evaluation.metric_names import lower_is_better
from rai_pipelines.evaluation.paired import paired_changes, paired_score_changes


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


def test_paired_score_changes_equal_the_difference_of_exact_values_and_cover_the_truth():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(5)
    y = (rng.random(4000) < 0.4).astype(int)
    shared = rng.normal(y.astype(float), 1.0)
    cand = 1 / (1 + np.exp(-(shared + rng.normal(0, 0.3, 4000))))
    base = 1 / (1 + np.exp(-(0.8 * shared + rng.normal(0, 0.3, 4000))))
    sex = rng.choice(["F", "M"], 4000)
    changes = {(c.metric, c.slice): c for c in paired_score_changes(y, cand, base, {"SEX": sex}, ["auc", "ece"])}
    auc = changes[("auc", "overall")]
    assert auc.value == pytest.approx(roc_auc_score(y, cand) - roc_auc_score(y, base), abs=1e-12)
    assert auc.ci_low <= auc.value <= auc.ci_high and auc.ci_high - auc.ci_low > 0
    female = y[sex == "F"], cand[sex == "F"], base[sex == "F"]
    assert changes[("auc", "SEX=F")].value == pytest.approx(roc_auc_score(female[0], female[1]) - roc_auc_score(female[0], female[2]))
    ece = changes[("ece", "overall")]
    direct = [sum(abs(y[np.minimum((s * 10).astype(int), 9) == b].sum() - s[np.minimum((s * 10).astype(int), 9) == b].sum())
                  for b in range(10)) / len(y) for s in (cand, base)]
    assert ece.value == pytest.approx(direct[0] - direct[1], abs=1e-12)
    assert ece.ci_low <= ece.value <= ece.ci_high


def test_models_that_agree_on_every_row_still_get_an_interval():
    rng = np.random.default_rng(4)
    y, p = rng.integers(0, 2, 800), rng.integers(0, 2, 800)
    [c] = [c for c in paired_changes(y, p, p, None, ["accuracy"]) if c.slice == "overall"]
    assert c.value == 0 and c.ci_low < 0 < c.ci_high  # no discordant row is not proof of no change
    # Widened by what the rate's own denominator can show: 40 positives of 800 rows for a TPR.
    y = np.r_[np.ones(40), np.zeros(760)].astype(int)
    [t] = [c for c in paired_changes(y, y, y, None, ["tpr"]) if c.slice == "overall"]
    assert t.ci_high == pytest.approx(1 - 0.025 ** (1 / 40))


def test_paired_scores_must_be_probabilities_for_every_row():
    y = np.r_[np.ones(50), np.zeros(50)].astype(int)
    bad = np.r_[np.full(10, np.nan), np.full(90, 0.5)]
    with pytest.raises(Exception, match="missing or infinite"):
        paired_score_changes(y, np.full(100, 0.5), bad, None, ["auc"])


def test_selection_rate_has_no_harmful_direction():
    assert lower_is_better("selection_rate_difference")
    with pytest.raises(Exception, match="no harmful direction"):
        lower_is_better("selection_rate")
