"""Membership inference: can someone who sees the model's confidence tell the rows it was trained on from rows of
the same distribution it never saw?

The loss-threshold attack (Yeom et al., 2018): a row's membership score is the model's probability of its true
label (the lower its loss, the likelier a training row). `attack_auc` is the ROC AUC of that score separating
training rows from held-out ones: 0.5 means the model's confidence says nothing of membership. Overall and per
group, with percentile-bootstrap bounds (`engine.group_metrics`). The scores enter as their ranks over all the rows,
so the engine's 1,000 equal-width score bins are quantile bins and its binned AUC follows the exact one closely.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from rai_pipelines.evaluation.engine import group_metrics
from rai_pipelines.evaluation.rows import MetricRow

FAMILY = "membership"
SCORE_BINS = 1000


def attack_scores(probability: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The model's probability of each row's true label."""
    p = np.asarray(probability, dtype=float)
    return np.where(np.asarray(y) == 1, p, 1 - p)


def membership_rows(probability: np.ndarray, y: np.ndarray, member: np.ndarray, sensitive: dict[str, np.ndarray], *,
                    resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> list[MetricRow]:
    scores = attack_scores(probability, y)
    ranks = (rankdata(scores) - 0.5) / len(scores)  # in (0, 1): ties share a rank, so share a bin
    member = np.asarray(member, dtype=int)
    rows = []
    for groups in ({}, sensitive):  # overall, then per group
        report = group_metrics(member, member, groups, ranks, ["auc"], resamples=resamples, confidence=confidence,
                               seed=seed, intersections=False, score_bins=SCORE_BINS)
        rows += [MetricRow(FAMILY, "attack_auc", r.slice, r.value, r.n, r.ci_low, r.ci_high, r.bounds)
                 for r in report.rows(FAMILY) if r.metric == "auc"]
    return rows


def from_suite(inputs, suite) -> list[MetricRow]:
    split = inputs.training
    return membership_rows(split.probability, split.y, split.member, split.sensitive, resamples=suite.bootstrap_resamples,
                           confidence=suite.confidence, seed=suite.seed)
