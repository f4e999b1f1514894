"""An assistant version against the champion version, on the same prompts: the paired change of each suite's rate.

Both versions answer the same prompt set, so each prompt gives a pair of
outcomes (candidate, champion), each decided by the suite's judge or exactly.
The change (candidate - champion) of the judge-corrected rate is estimated on
the pairs: Rogan-Gladen is linear in the observed rate, so within one judge's
stratum the change of observed rates is the change of true rates times
(se + sp - 1). The interval resamples the prompts (a paired bootstrap: both
versions' outcomes move together) and, in each resample, draws the judge's
sensitivity and specificity from their Jeffreys posteriors, as the rates do
(`stats.judged`). Where every resample gives the same change (the versions
agree on every prompt) the interval is widened by the largest discordance
rate that many agreeing prompts cannot exclude (`stats.intervals`), as for
the classifiers' paired comparisons. McNemar's exact test on the discordant
pairs is reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

from rai_pipelines.genai.suites.base import Outcome
from rai_pipelines.stats.intervals import LEVELS, as_tuple, bootstrap_bounds, level_for
from rai_pipelines.stats.judged import Validation


@dataclass(frozen=True)
class PairedChange:
    value: float  # candidate - champion, judge-corrected
    bounds: tuple  # one-sided bounds per level of stats.intervals.LEVELS
    ci_low: float
    ci_high: float
    n: int
    discordant: tuple[int, int]  # (event for the candidate only, event for the champion only)
    mcnemar_p: float


def _validation(o: Outcome, judges: dict[str, Validation]) -> Validation | None:
    if o.judge is None:
        return None
    if o.judge not in judges:
        raise KeyError(f"judge {o.judge!r} has no validation counts; validate it before its rates count")
    return judges[o.judge].flipped() if o.negated else judges[o.judge]


def _corrected(weights: np.ndarray, events: np.ndarray, strata: np.ndarray, judges: list, se: np.ndarray, sp: np.ndarray,
               n: int) -> np.ndarray:
    """The pooled Rogan-Gladen rate per resample, unclipped: weights (B, n) prompt multiplicities, se/sp (B, judges).

    Not clipped to [0, 1] here: the estimator is linear, so the difference of two unclipped rates is the observed
    change over Youden's J; clipping each version first would read any change below the judge's false-alarm rate as
    none. Only the change itself is clipped (to [-1, 1])."""
    total = np.zeros(weights.shape[0])
    for s, judge in enumerate(judges):
        mask = strata == s
        if not mask.any():
            continue
        size = weights[:, mask].sum(axis=1)
        q = np.divide(weights[:, mask] @ events[mask], size, out=np.zeros_like(size, dtype=float), where=size > 0)
        if judge is not None:
            informative = se[:, s] + sp[:, s] - 1
            q = np.where(informative > 0, (q + sp[:, s] - 1) / np.where(informative > 0, informative, 1), np.nan)
        total += size / n * q
    return total


def paired_change(candidate: list[Outcome], champion: list[Outcome], judges: dict[str, Validation], *,
                  resamples: int = 4000, confidence: float = 0.95, seed: int = 0) -> PairedChange:
    """The change of a suite's corrected rate from the champion's outcomes to the candidate's, prompt by prompt."""
    if len(candidate) != len(champion) or not candidate:
        raise ValueError(f"paired outcomes need the same prompts: {len(candidate)} vs {len(champion)}")
    n = len(candidate)
    kinds: list[tuple] = []  # (judge name, negated): one stratum each, shared by both versions
    strata, events, validations = [], [], []
    for outcomes in (candidate, champion):
        ids = []
        for o in outcomes:
            key = (o.judge, o.negated if o.judge else False)
            if key not in kinds:
                kinds.append(key)
                validations.append(_validation(o, judges))
            ids.append(kinds.index(key))
        strata.append(np.array(ids))
        events.append(np.array([o.event for o in outcomes], float))
    rng = np.random.default_rng(seed)
    # Row 0 is the point estimate: every prompt once, each judge at its measured sensitivity and specificity.
    weights = np.vstack([np.ones(n), rng.multinomial(n, np.full(n, 1 / n), resamples)])
    se = np.array([[1.0 if v is None else v.sensitivity for v in validations]]
                  + [[1.0] * len(validations)] * resamples)
    sp = se.copy()
    sp[0] = [1.0 if v is None else v.specificity for v in validations]
    for j, v in enumerate(validations):
        if v is not None:
            se[1:, j] = rng.beta(v.true_pos + 0.5, v.false_neg + 0.5, resamples)
            sp[1:, j] = rng.beta(v.true_neg + 0.5, v.false_pos + 0.5, resamples)
    change = np.clip(_corrected(weights, events[0], strata[0], validations, se, sp, n)
                     - _corrected(weights, events[1], strata[1], validations, se, sp, n), -1, 1)
    levels = (*LEVELS, level_for(confidence))
    bounds = bootstrap_bounds(change[1:], np.array(change[0]), n, (-1.0, 1.0), levels)
    only_candidate = int(((events[0] == 1) & (events[1] == 0)).sum())
    only_champion = int(((events[0] == 0) & (events[1] == 1)).sum())
    discordant = only_candidate + only_champion
    p = binomtest(only_candidate, discordant, 0.5).pvalue if discordant else 1.0
    return PairedChange(float(change[0]), as_tuple(bounds[:-1]), float(bounds[-1, 0]), float(bounds[-1, 1]), n,
                        (only_candidate, only_champion), float(p))
