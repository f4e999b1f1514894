"""Performance family (the engine's overall group) against scikit-learn as the oracle."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from rai_pipelines.evaluation.performance import performance_metrics

METRICS = ["accuracy", "auc", "ece", "selection_rate"]


@pytest.mark.parametrize("seed", range(5))
def test_matches_sklearn_on_random_data(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 2000)
    score = np.round(np.clip(0.3 * y + rng.random(2000) * 0.7, 0, 1), 3)  # with ties
    pred = (score >= 0.5).astype(int)
    rows = {r.metric: r for r in performance_metrics(y, pred, score, METRICS)}
    assert rows["accuracy"].value == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert rows["auc"].value == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert rows["selection_rate"].value == pytest.approx(pred.mean(), abs=1e-12)
    assert all(r.n == 2000 and r.slice == "overall" for r in rows.values())
    assert all(r.ci_low <= r.value <= r.ci_high for r in rows.values())


def test_calibration_error_of_a_calibrated_and_a_biased_scorer():
    rng = np.random.default_rng(0)
    p = rng.random(200_000)
    y = (rng.random(200_000) < p).astype(int)  # labels drawn at the stated probability
    calibrated = {r.metric: r for r in performance_metrics(y, (p > 0.5).astype(int), p, ["ece"], resamples=200)}
    assert calibrated["ece"].value < 0.01
    # Scores shifted by +0.1 (and clipped) are over-confident by about 0.1.
    shifted = np.clip(p + 0.1, 0, 1)
    biased = {r.metric: r for r in performance_metrics(y, (shifted > 0.5).astype(int), shifted, ["ece"], resamples=200)}
    assert biased["ece"].value == pytest.approx(0.095, abs=0.01)
    assert biased["ece"].ci_low > calibrated["ece"].ci_high


def test_auc_undefined_with_one_class_is_nan_not_zero():
    y = np.ones(50, dtype=int)
    [row] = performance_metrics(y, y, np.linspace(0, 1, 50), ["auc"])
    assert np.isnan(row.value) and not row.defined
