"""Rates measured by an automatic judge, corrected for the judge's errors.

A judge that flags an event with sensitivity `se` and specificity `sp` turns a
true rate pi into an observed rate q = pi * se + (1 - pi) * (1 - sp). The
Rogan-Gladen estimator inverts it: pi = (q + sp - 1) / (se + sp - 1), clipped
to [0, 1]. se and sp are themselves estimates from a labelled validation set,
so the interval carries both uncertainties by Monte Carlo: se and sp are drawn
from their Jeffreys posteriors (Beta(hits + 1/2, misses + 1/2)) and q from the
two Beta distributions whose quantiles are the Clopper-Pearson bounds
(Beta(k, n - k + 1) for the lower side, Beta(k + 1, n - k) for the upper), so
that with a perfect judge the bounds are exactly Clopper-Pearson's.

Outcomes a judge did not decide (an empty answer, a code word matched
exactly) form strata with a perfect judge; a rate over several strata is the
n-weighted sum of the strata's corrected rates. A draw in which the judge is
no better than chance (se + sp <= 1) says nothing about pi: [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rai_pipelines.stats.intervals import LEVELS, MIN_TAIL_RESAMPLES, proportion_bounds

DRAWS = 50_000  # resolves every level of the grid (0.0001 * 50,000 = 5 draws in the tail)


@dataclass(frozen=True)
class Validation:
    """A judge's confusion counts on its labelled set, for the event the rate counts."""

    true_pos: int
    false_neg: int
    true_neg: int
    false_pos: int

    @property
    def sensitivity(self) -> float:
        return self.true_pos / max(self.true_pos + self.false_neg, 1)

    @property
    def specificity(self) -> float:
        return self.true_neg / max(self.true_neg + self.false_pos, 1)

    @property
    def n(self) -> int:
        return self.true_pos + self.false_neg + self.true_neg + self.false_pos

    @property
    def kappa(self) -> float:
        """Cohen's kappa between the judge and the labels: agreement beyond what their base rates give by chance
        (1 perfect, 0 chance; 0 when either side calls a single class, where agreement says nothing)."""
        n = max(self.n, 1)
        observed = (self.true_pos + self.true_neg) / n
        gold, called = (self.true_pos + self.false_neg) / n, (self.true_pos + self.false_pos) / n
        chance = gold * called + (1 - gold) * (1 - called)
        return (observed - chance) / (1 - chance) if chance < 1 else 0.0

    def flipped(self) -> Validation:
        """The same judge counting the complementary event (e.g. 'not refused' from a refusal judge)."""
        return Validation(self.true_neg, self.false_pos, self.true_pos, self.false_neg)


PERFECT = None  # a stratum decided without a judge


@dataclass(frozen=True)
class Stratum:
    events: int
    n: int
    judge: Validation | None = PERFECT


def _correct(q, se, sp):
    with np.errstate(divide="ignore", invalid="ignore"):
        informative = se + sp - 1
        pi = (q + sp - 1) / np.where(informative > 0, informative, 1)
    return np.clip(pi, 0.0, 1.0), informative > 0


def corrected_rate(strata: list[Stratum], levels=LEVELS, seed: int = 0, draws: int = DRAWS):
    """(raw rate, corrected rate, (len(levels), 2) one-sided bounds of the corrected rate); NaNs with no outcomes."""
    total = sum(s.n for s in strata)
    levels = np.asarray(levels, float)
    if total == 0:
        return float("nan"), float("nan"), np.full((len(levels), 2), np.nan)
    raw = sum(s.events for s in strata) / total
    if all(s.judge is None for s in strata):  # no judge to correct: the pooled proportion, exactly
        return raw, raw, proportion_bounds(sum(s.events for s in strata), total, levels)
    rng = np.random.default_rng(seed)
    point, low_draws, high_draws = 0.0, np.zeros(draws), np.zeros(draws)
    for s in strata:
        if s.n == 0:
            continue
        k, n, w = s.events, s.n, s.n / total
        q_lo = rng.beta(k, n - k + 1, draws) if k > 0 else np.zeros(draws)
        q_hi = rng.beta(k + 1, n - k, draws) if k < n else np.ones(draws)
        if s.judge is None:
            point += w * k / n
            low_draws += w * q_lo
            high_draws += w * q_hi
            continue
        v = s.judge
        point += w * _correct(k / n, v.sensitivity, v.specificity)[0]
        se = rng.beta(v.true_pos + 0.5, v.false_neg + 0.5, draws)
        sp = rng.beta(v.true_neg + 0.5, v.false_pos + 0.5, draws)
        lo, ok = _correct(q_lo, se, sp)
        hi, _ = _correct(q_hi, se, sp)
        low_draws += w * np.where(ok, lo, 0.0)
        high_draws += w * np.where(ok, hi, 1.0)
    lo = np.quantile(low_draws, levels)
    hi = np.quantile(high_draws, 1 - levels)
    unresolved = levels * draws < MIN_TAIL_RESAMPLES
    bounds = np.stack([np.where(unresolved, np.nan, lo), np.where(unresolved, np.nan, hi)], axis=-1)
    return raw, float(point), bounds
