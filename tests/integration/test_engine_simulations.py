"""The engines' slowest checks, kept out of the fast tier: fairlearn's MetricFrame as the oracle on 150 generated
datasets, and Monte Carlo coverage of the bootstrap AUC intervals (single-model and paired)."""

import warnings

import numpy as np
import pytest
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from hypothesis import HealthCheck, given, settings
from sklearn.metrics import accuracy_score, precision_score, roc_auc_score

from rai_pipelines.evaluation.fairness import fairness_report as group_metrics
from rai_pipelines.evaluation.paired import paired_score_changes
from tests.fairness_data import classification_data

CONFUSION = ["selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy"]


def _auc(y, s):
    return roc_auc_score(y, s) if 0 < y.sum() < len(y) else np.nan


ORACLE = {
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "precision": lambda y, p: precision_score(y, p, zero_division=np.nan),
    "accuracy": accuracy_score,
}
# The denominator each rate needs; where it is zero the engine says "undefined"
# and fairlearn says 0.
DENOMINATOR = {
    "selection_rate": lambda y, p: len(y),
    "tpr": lambda y, p: (y == 1).sum(),
    "fnr": lambda y, p: (y == 1).sum(),
    "fpr": lambda y, p: (y == 0).sum(),
    "precision": lambda y, p: (p == 1).sum(),
    "accuracy": lambda y, p: len(y),
}


def _slice(features, key):
    key = key if isinstance(key, tuple) else (key,)
    return "&".join(f"{f}={v}" for f, v in zip(features, key))


def _assert_agrees(report, y, pred, score, groups):
    for features in (["A"], ["B"], ["A", "B"]):
        part = next(p for p in report.partitions if p.name == "&".join(features))
        engine = {g.slice: g for g in part.groups}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mf = MetricFrame(metrics={**ORACLE, "auc": _auc}, y_true=y, y_pred=pred if True else None,
                             sensitive_features=groups[features])
            scores_mf = MetricFrame(metrics={"auc": _auc}, y_true=y, y_pred=score, sensitive_features=groups[features])
        observed = groups[features].value_counts()
        assert set(engine) == {_slice(features, k) for k in observed.index}
        for key, row in mf.by_group.iterrows():
            name = _slice(features, key)
            if name not in engine:  # an intersection cell that does not occur
                continue
            mask = np.logical_and.reduce([groups[f].to_numpy() == v for f, v in zip(features, key if isinstance(key, tuple) else (key,))])
            assert engine[name].n == mask.sum()
            for m in CONFUSION:
                got = engine[name].metrics[m].value
                if np.isnan(got):
                    assert DENOMINATOR[m](y[mask], pred[mask]) == 0, (name, m)
                else:
                    assert got == pytest.approx(row[m], abs=1e-9), (name, m)
            expected_auc = scores_mf.by_group.loc[key, "auc"]
            got_auc = engine[name].metrics["auc"].value
            assert (np.isnan(got_auc) and np.isnan(expected_auc)) or got_auc == pytest.approx(expected_auc, abs=1e-9)
        # Disparities: fairlearn's between-group difference and ratio, where every group is defined.
        for m in CONFUSION:
            values = [g.metrics[m].value for g in part.groups]
            if len(values) >= 2 and not np.isnan(values).any():
                sub = mf.by_group[m].loc[[k for k in mf.by_group.index if _slice(features, k) in engine]]
                assert part.disparities[m]["difference"].value == pytest.approx(sub.max() - sub.min(), abs=1e-9)
                if sub.max() > 0:
                    assert part.disparities[m]["ratio"].value == pytest.approx(sub.min() / sub.max(), abs=1e-9)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(classification_data())
def test_points_equal_fairlearn(data):
    y, pred, score, groups = data
    report = group_metrics(y, pred, {c: groups[c].to_numpy() for c in groups}, score, resamples=0)
    _assert_agrees(report, y, pred, score, groups)


def test_auc_interval_covers_the_population_auc():
    from scipy.stats import norm

    rng = np.random.default_rng(11)
    true_auc = norm.cdf(1 / np.sqrt(2))  # positives ~ N(1, 1), negatives ~ N(0, 1)
    hits, trials = 0, 300
    for _ in range(trials):
        y = (rng.random(1500) < 0.4).astype(int)
        latent = rng.normal(y.astype(float), 1.0)
        score = 1 / (1 + np.exp(-latent))  # monotone: AUC unchanged, scores in (0, 1)
        report = group_metrics(y, (score > 0.5).astype(int), None, score, ["auc"], seed=int(rng.integers(1 << 31)))
        e = report.partitions[0].groups[0].metrics["auc"]
        hits += e.ci_low <= true_auc <= e.ci_high
    assert 0.91 <= hits / trials <= 0.985, hits / trials


def test_paired_auc_interval_covers_the_true_change():
    from scipy.stats import norm

    rng = np.random.default_rng(8)
    # Candidate: positives ~ N(1, 1); baseline: the same latent with extra noise, positives ~ N(1, sqrt(2))-ish.
    true_change = norm.cdf(1 / np.sqrt(2)) - norm.cdf(1 / np.sqrt(2 * 1.5))
    hits, trials = 0, 200
    for _ in range(trials):
        y = (rng.random(3000) < 0.5).astype(int)
        latent = rng.normal(y.astype(float), 1.0)
        noisy = latent + rng.normal(0, np.sqrt(0.5), 3000)
        [c] = [c for c in paired_score_changes(y, 1 / (1 + np.exp(-latent)), 1 / (1 + np.exp(-noisy)), None, ["auc"],
                                               seed=int(rng.integers(1 << 31)))]
        hits += c.ci_low <= true_change <= c.ci_high
    assert hits / trials >= 0.92, hits / trials
