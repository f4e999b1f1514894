"""What a sample size can show: the smallest sample a perfect result passes with, and the smallest effect a
sample detects with a given power.

For a rate checked with `op` against `threshold` at one-sided `level`: a sample
of n passes when its count of events k is at or beyond the passing count k*
(k >= k* for '>=', k <= k* for '<='), the least extreme count whose bound meets
the threshold. The probability of passing at true rate p is then a binomial
tail, so the effect detectable with 80% power is exact for exact intervals;
with a judge, the observed rate is the judge-distorted one, and its bound the
corrected one (`judged.py`).
"""

from __future__ import annotations

from scipy.special import betainc, ndtri

from rai_pipelines.stats.judged import Stratum, Validation, corrected_rate

SEARCH_DRAWS = 4000  # feasibility searches judge levels >= 0.005; 4,000 draws leave 20 in that tail


def _passes(op: str, threshold: float, k: int, n: int, level: float, judge: Validation | None) -> bool:
    _, _, bounds = corrected_rate([Stratum(k, n, judge)], [level], draws=SEARCH_DRAWS)
    lo, hi = bounds[0]
    return bool(lo >= threshold) if op == ">=" else bool(hi <= threshold)


def passing_count(op: str, threshold: float, n: int, level: float, judge: Validation | None = None) -> int | None:
    """k*: the least extreme count of events with which n outcomes pass (None: not even a perfect sample does)."""
    best = n if op == ">=" else 0
    if not _passes(op, threshold, best, n, level, judge):
        return None
    lo, hi = 0, n
    # Passing is monotone in k: bisect for the boundary.
    if op == ">=":
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if _passes(op, threshold, mid, n, level, judge) else (mid + 1, hi)
        return lo
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if _passes(op, threshold, mid, n, level, judge) else (lo, mid - 1)
    return lo


def min_passing_n(op: str, threshold: float, level: float, judge: Validation | None = None, limit: int = 1_000_000) -> int | None:
    """The smallest n with which a perfect sample (every outcome good) passes; None beyond `limit`
    (or never: a threshold of 1 for '>=', of 0 for '<=')."""
    if (op == ">=" and threshold >= 1) or (op == "<=" and threshold <= 0):
        return None
    ok = lambda n: passing_count(op, threshold, n, level, judge) is not None  # noqa: E731
    hi = 1
    while not ok(hi):
        hi *= 2
        if hi > limit:
            return None
    lo = hi // 2 + 1 if hi > 1 else 1
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid + 1, hi)
    return lo


def detectable_rate(op: str, threshold: float, n: int, level: float, judge: Validation | None = None,
                    power: float = 0.8) -> float | None:
    """The true rate at which n outcomes pass with probability `power` (None when no sample of n can pass)."""
    k = passing_count(op, threshold, n, level, judge)
    if k is None:
        return None
    # P(pass | q): binomial tail beyond k*, monotone in the observed rate q; bisect q.
    # Binomial tails through the regularized incomplete beta: P(X >= k) = I_q(k, n - k + 1), P(X <= k) = 1 - I_q(k + 1, n - k).
    prob = ((lambda q: betainc(k, n - k + 1, q) if k > 0 else 1.0) if op == ">=" else
            (lambda q: 1 - betainc(k + 1, n - k, q) if k < n else 1.0))
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        good = prob(mid) >= power
        if op == ">=":
            lo, hi = (lo, mid) if good else (mid, hi)
        else:
            lo, hi = (mid, hi) if good else (lo, mid)
    q = (lo + hi) / 2
    if judge is None:
        return q
    # The observed rate a true rate pi gives through the judge is pi * se + (1 - pi) * (1 - sp): invert it. An
    # observed rate outside [1 - sp, se] is one no true rate produces: then nothing passes with that power.
    se, sp = judge.sensitivity, judge.specificity
    if se + sp <= 1:
        return None
    pi = (q + sp - 1) / (se + sp - 1)
    return float(pi) if 0 <= pi <= 1 else None


def detectable_shift(interval_width: float, level: float, confidence: float = 0.95, power: float = 0.8) -> float:
    """Normal approximation for a statistic whose standard error is read from its interval: the distance from
    the threshold at which it passes with `power`."""
    se = interval_width / (2 * ndtri(1 - (1 - confidence) / 2))
    return float((ndtri(1 - level) + ndtri(power)) * se)
