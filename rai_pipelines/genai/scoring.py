"""GenAI rates as metric rows like every other family's: the judge-corrected rate the gate reads, and the raw
share of answers the judges flagged.

Each answer's outcome is decided either by an automatic judge (with measured
errors: `stats.judged`) or exactly (an empty answer, an exact code word); a
rate is corrected per judge and pooled.
"""

from __future__ import annotations

from rai_pipelines.evaluation.rows import MetricRow
from rai_pipelines.genai.suites.base import Outcome  # decided by the suites, which need none of the statistics here
from rai_pipelines.stats.intervals import LEVELS, as_tuple, level_for
from rai_pipelines.stats.judged import Stratum, Validation, corrected_rate

__all__ = ["Outcome", "rate_rows", "strata"]


def strata(outcomes: list[Outcome], judges: dict[str, Validation]) -> list[Stratum]:
    by: dict[tuple, list[bool]] = {}
    for o in outcomes:
        by.setdefault((o.judge, o.negated), []).append(o.event)
    out = []
    for (judge, negated), events in sorted(by.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        if judge is not None and judge not in judges:
            raise KeyError(f"judge {judge!r} has no validation counts; validate it before its rates count")
        v = None if judge is None else (judges[judge].flipped() if negated else judges[judge])
        out.append(Stratum(sum(events), len(events), v))
    return out


def rate_rows(family: str, metric: str, outcomes: list[Outcome], judges: dict[str, Validation], slice_: str = "overall",
              confidence: float = 0.95, seed: int = 0) -> list[MetricRow]:
    """`metric`: the corrected rate with its bounds (NaN with no outcomes, never 0); `metric_raw`: the flagged share."""
    n = len(outcomes)
    raw, corrected, bounds = corrected_rate(strata(outcomes, judges), (*LEVELS, level_for(confidence)), seed)
    if n == 0:
        return [MetricRow(family, metric, slice_, corrected, 0), MetricRow(family, f"{metric}_raw", slice_, raw, 0)]
    return [MetricRow(family, metric, slice_, corrected, n, float(bounds[-1, 0]), float(bounds[-1, 1]), as_tuple(bounds[:-1])),
            MetricRow(family, f"{metric}_raw", slice_, raw, n)]
