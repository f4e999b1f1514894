"""Error control across the checks of one decision.

A decision passes only when every check passes: by the intersection-union
principle (Berger 1982), if each check passes at level alpha when it is truly
violated, the decision passes a model that violates any check with probability
at most alpha, with no adjustment. A decision fails when any check fails: that
is a union of tests, and the chance that some truly-met check fails by chance
grows with the number of checks (ten checks at 5% each: 40%). Holm's step-down
procedure keeps that family-wise chance at alpha while rejecting at least as
much as Bonferroni (alpha / m each).
"""

from __future__ import annotations

METHODS = ("holm", "bonferroni")


def adjusted_levels(p_values: list[float], alpha: float, method: str = "holm") -> tuple[list[float], list[bool]]:
    """(level each p-value is compared with, whether it is rejected), in the order given.

    Holm: sort ascending; the j-th smallest (from 0) is compared with alpha / (m - j) while every smaller one
    was rejected; after the first non-rejection nothing more is rejected (those keep the level at their rank).
    """
    m = len(p_values)
    if m == 0:
        return [], []
    if method == "bonferroni":
        levels = [alpha / m] * m
        return levels, [p <= alpha / m for p in p_values]
    if method != "holm":
        raise ValueError(f"unknown multiplicity method {method!r}; known: {METHODS}")
    order = sorted(range(m), key=lambda i: p_values[i])
    levels, rejected = [0.0] * m, [False] * m
    still = True
    for rank, i in enumerate(order):
        levels[i] = alpha / (m - rank)
        still = still and p_values[i] <= levels[i]
        rejected[i] = still
    return levels, rejected
