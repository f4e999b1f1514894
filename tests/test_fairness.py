"""Fairness family: group values and disparities, checked against fairlearn and
scikit-learn computed independently of the engine."""

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate
from sklearn.metrics import accuracy_score

from rai_pipelines.evaluation.fairness import fairness_metrics

METRICS = ["selection_rate", "tpr", "fpr", "precision", "accuracy"]


def _frame(seed=0, n=3000):
    rng = np.random.default_rng(seed)
    groups = pd.DataFrame({"SEX": rng.choice(["Male", "Female"], n), "RACE": rng.choice(["A", "B", "C"], n, p=[0.7, 0.2, 0.1])})
    y = rng.integers(0, 2, n)
    p = np.where(groups.SEX == "Female", rng.random(n) < 0.4, rng.random(n) < 0.6).astype(int)
    return y, p, groups


def _rows(rows):
    return {(r.metric, r.slice): r for r in rows}


@pytest.mark.parametrize("seed", range(3))
def test_group_values_match_fairlearn(seed):
    y, p, groups = _frame(seed)
    rows = _rows(fairness_metrics(y, p, groups, METRICS))
    mf = MetricFrame(metrics={"sr": selection_rate, "tpr": true_positive_rate, "acc": accuracy_score}, y_true=y, y_pred=p, sensitive_features=groups.RACE)
    for g in ["A", "B", "C"]:
        assert rows[("selection_rate", f"RACE={g}")].value == pytest.approx(mf.by_group.loc[g, "sr"], abs=1e-12)
        assert rows[("tpr", f"RACE={g}")].value == pytest.approx(mf.by_group.loc[g, "tpr"], abs=1e-12)
        assert rows[("accuracy", f"RACE={g}")].value == pytest.approx(mf.by_group.loc[g, "acc"], abs=1e-12)
        assert rows[("tpr", f"RACE={g}")].n == int((groups.RACE == g).sum())
    assert rows[("tpr_difference", "RACE")].value == pytest.approx(mf.difference()["tpr"], abs=1e-12)
    assert rows[("selection_rate_ratio", "RACE")].value == pytest.approx(mf.ratio()["sr"], abs=1e-12)


def test_intersection_groups_and_counts():
    y, p, groups = _frame(1)
    rows = _rows(fairness_metrics(y, p, groups, ["selection_rate"]))
    mask = (groups.SEX == "Female") & (groups.RACE == "B")
    cell = rows[("selection_rate", "SEX=Female&RACE=B")]
    assert cell.n == int(mask.sum())
    assert cell.value == pytest.approx(p[mask].mean(), abs=1e-12)
    assert ("selection_rate_difference", "SEX&RACE") in rows


def test_undefined_rate_is_nan_not_zero():
    y = np.array([0, 0, 0, 1, 1, 0])
    p = np.array([1, 0, 0, 1, 0, 1])
    groups = pd.DataFrame({"G": ["x", "x", "x", "y", "y", "y"]})  # group x has no positives
    rows = _rows(fairness_metrics(y, p, groups, ["tpr", "fpr"]))
    assert np.isnan(rows[("tpr", "G=x")].value)
    assert rows[("tpr", "G=y")].value == pytest.approx(0.5)
    assert rows[("fpr", "G=x")].value == pytest.approx(1 / 3)
    # With only one defined group, a between-group TPR disparity is undefined too.
    assert np.isnan(rows[("tpr_difference", "G")].value)


def test_known_disparity_on_constructed_population():
    # Men selected at 60%, women at 30%: difference 0.3, ratio 0.5, by construction.
    groups = pd.DataFrame({"SEX": ["Male"] * 100 + ["Female"] * 100})
    p = np.r_[np.ones(60), np.zeros(40), np.ones(30), np.zeros(70)].astype(int)
    rows = _rows(fairness_metrics(np.zeros(200, dtype=int), p, groups, ["selection_rate"]))
    assert rows[("selection_rate_difference", "SEX")].value == pytest.approx(0.3)
    assert rows[("selection_rate_ratio", "SEX")].value == pytest.approx(0.5)
