"""Performance family against scikit-learn as the oracle."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from rai_pipelines.evaluation.performance import expected_calibration_error, performance_metrics

METRICS = ["accuracy", "roc_auc", "expected_calibration_error", "selection_rate"]


@pytest.mark.parametrize("seed", range(5))
def test_matches_sklearn_on_random_data(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 2000)
    score = np.clip(0.3 * y + rng.random(2000) * 0.7, 0, 1)
    pred = (score >= 0.5).astype(int)
    rows = {r.metric: r for r in performance_metrics(y, pred, score, METRICS)}
    assert rows["accuracy"].value == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert rows["roc_auc"].value == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert rows["selection_rate"].value == pytest.approx(pred.mean(), abs=1e-12)
    assert all(r.n == 2000 for r in rows.values())


def test_calibration_error_of_a_calibrated_and_a_biased_scorer():
    rng = np.random.default_rng(0)
    p = rng.random(200_000)
    y = (rng.random(200_000) < p).astype(int)  # labels drawn at the stated probability
    assert expected_calibration_error(y, p) < 0.01
    # Scores shifted by +0.1 (and clipped) are over-confident by about 0.1.
    assert expected_calibration_error(y, np.clip(p + 0.1, 0, 1)) == pytest.approx(0.095, abs=0.01)


def test_auc_undefined_with_one_class_is_nan_not_zero():
    y = np.ones(50, dtype=int)
    rows = {r.metric: r for r in performance_metrics(y, y, np.linspace(0, 1, 50), ["roc_auc"])}
    assert np.isnan(rows["roc_auc"].value)
    assert not rows["roc_auc"].defined


def test_unknown_metric_is_refused():
    with pytest.raises(ValueError, match="unknown performance metric 'f2'"):
        performance_metrics(np.array([0, 1]), np.array([0, 1]), np.array([0.1, 0.9]), ["f2"])
