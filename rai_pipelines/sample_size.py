"""What each check of a system's tier needs: its levels, its sample, the smallest sample that could pass, and
the smallest effect the current sample detects with 80% power.

The catalog refuses a policy and suite pair that could never pass (a perfect
sample's bound short of the threshold at the tier's nightly level);
`rai policy explain SYSTEM` prints the whole table.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from rai_pipelines.catalog import AnySystem, AssistantSystem, Check, Policy, Suite
from rai_pipelines.evaluation.metric_names import lower_is_better
from rai_pipelines.genai import suites as genai_suites
from rai_pipelines.stats import intervals, power
from rai_pipelines.stats.judged import Validation

POWER = 0.8
EXACT = ("accuracy", "selection_rate")  # overall proportions: exact intervals, so the smallest passing n is exact


@dataclass(frozen=True)
class Need:
    check: str
    metric: str
    slice: str
    op: str
    threshold: float  # a regression check's margin: the change (candidate - champion) it must stay within
    level_pass: float  # the level every check really passes at (the grid level within the tier's nightly level)
    level_fail_min: float  # Holm's smallest share of alpha (the first check it tests); the largest is alpha
    n: int | None  # configured (GenAI suites) or latest evaluated sample
    n_source: str
    min_n_to_pass: int | None  # a perfect sample's smallest n; None: not a rate, or never
    detectable: float | None  # the true value that passes with 80% power at n
    basis: str  # how the last two were computed
    kind: str = "threshold"
    judge_pending: bool = False  # decided by an endpoint judge, whose errors are measured only when its suite runs

    @property
    def effect(self) -> float | None:
        """The smallest effect detected with 80% power: how far inside the threshold the truth must lie."""
        return None if self.detectable is None else abs(self.detectable - self.threshold)

    def to_json(self) -> dict:
        return {**asdict(self), "effect": self.effect}


_COUNTS: dict[tuple, int] = {}


def _prompt_count(kind: str, size: int, seed: int, system: AssistantSystem) -> int:
    """The prompts a suite asks this assistant: built as the evaluation builds them (cached per process)."""
    key = (kind, size, seed, system.model_dump_json())
    if key not in _COUNTS:
        _COUNTS[key] = len(genai_suites.build(kind, genai_suites.Assistant.of(system), size, seed).cases)
    return _COUNTS[key]


def _genai_suite(check: Check, suites_: list[Suite]) -> Suite | None:
    """The GenAI suite whose rate the check reads."""
    def reports(suite: Suite) -> bool:
        registered = genai_suites.get(suite.genai)
        return (registered.family, registered.metric) == (check.family, check.metric)

    return next((s for s in suites_ if s.genai and reports(s)), None)


def _judge(suite: Suite, judges: dict[str, Validation], system: AnySystem) -> tuple[str, Validation | None, str]:
    """(state: "measured", "pending" (an endpoint, validated when the suite runs) or "missing"; the judge's counts
    for the rate's event; basis) of the suite's judge."""
    registered = genai_suites.get(suite.genai)
    name = registered.judge
    if name in getattr(system, "judges", {}):
        return "pending", None, f"judge {name!r} is an endpoint: what a sample needs is known once it is validated"
    v = judges.get(name)
    if v is None:  # scoring refuses such rates too: an unmeasured judge's numbers do not count
        return "missing", None, f"judge {name!r} has no validation counts (python -m rai_pipelines.genai.validation assets/)"
    return "measured", (v.flipped() if registered.negated else v), (
        f"judge-corrected ({name}: sensitivity {v.sensitivity:.2f}, specificity {v.specificity:.2f}; every outcome judged)")


def needs(system: AnySystem, policy: Policy, suites_: list[Suite], judges: dict[str, Validation], latest=None) -> list[Need]:
    """One row per check of the system's tier, threshold and regression. `latest(family, metric, slice) -> (n,
    ci_low, ci_high) | None` supplies the latest evaluated sample of a check that has no configured size."""
    tier = policy.tier_for(system)
    level = intervals.grid_level(tier.night_alpha)
    m = len(tier.checks) + len(tier.regression)
    out = []

    def from_interval(common: dict, family: str, metric: str) -> Need:
        """A check whose interval is not exact: the normal approximation from the latest 95% interval."""
        found = latest(family, metric, common["slice"]) if latest else None
        n, lo, hi = found if found else (None, math.nan, math.nan)
        shift = None if math.isnan(lo) else power.detectable_shift(hi - lo, level)
        inside = None if shift is None else common["threshold"] + (shift if common["op"] == ">=" else -shift)
        return Need(**common, n=n, n_source="latest evaluation" if n else "not evaluated yet", min_n_to_pass=None,
                    detectable=inside, basis="normal approximation from the latest 95% interval")

    for check in tier.checks:
        metric = f"{check.metric}_{check.disparity}" if check.disparity else check.metric
        common = dict(check=check.name, metric=metric, slice=check.slice, op=check.op, threshold=check.threshold,
                      level_pass=level, level_fail_min=tier.alpha / m)
        suite = _genai_suite(check, suites_) if isinstance(system, AssistantSystem) else None
        if suite is not None:
            state, judge, basis = _judge(suite, judges, system)
            validated = state == "measured"
            n = _prompt_count(suite.genai, suite.size, suite.seed, system)
            out.append(Need(**common, n=n, n_source=f"suite {suite.name} (size {suite.size})",
                            min_n_to_pass=power.min_passing_n(check.op, check.threshold, level, judge) if validated else None,
                            detectable=power.detectable_rate(check.op, check.threshold, n, level, judge, POWER) if validated else None,
                            basis=basis, judge_pending=state == "pending"))
        elif check.family == "performance" and check.metric in EXACT and not check.disparity:
            found = latest(check.family, metric, check.slice) if latest else None
            n = found[0] if found else None
            out.append(Need(**common, n=n, n_source="latest evaluation" if n else "not evaluated yet",
                            min_n_to_pass=power.min_passing_n(check.op, check.threshold, level),
                            detectable=None if not n else power.detectable_rate(check.op, check.threshold, n, level),
                            basis="exact (Clopper-Pearson)"))
        else:
            out.append(from_interval(common, check.family, metric))
    for check in tier.regression:
        # Non-inferiority, as the gate judges it: the change (candidate - champion) within the tolerance.
        op, margin = ("<=", check.tolerance) if lower_is_better(check.metric) else (">=", -check.tolerance)
        common = dict(check=check.name, metric=f"{check.metric}_change", slice=check.slice, op=op, threshold=margin,
                      level_pass=level, level_fail_min=tier.alpha / m, kind="regression")
        out.append(from_interval(common, "regression", f"{check.metric}_change"))
    return out


def refuse_infeasible(system: AnySystem, policy: Policy, suites_: list[Suite], judges: dict[str, Validation]) -> str | None:
    """One line naming a check that the configured suite size can never pass, with the n it needs; None if fine.

    Only suites of a configured size can be checked before they run (an assistant's prompts); a classifier's
    sample is its nightly batch, judged against min_n when it arrives."""
    tier = policy.tier_for(system)
    min_n = {c.name: c.min_n or tier.min_n for c in tier.checks}
    for need in needs(system, policy, suites_, judges):
        if need.n is None or "suite" not in need.n_source or need.judge_pending:
            continue
        if need.min_n_to_pass is None:
            return (f"check {need.check!r} ({need.metric} {need.op} {need.threshold}) can never pass at level "
                    f"{need.level_pass:.3g}, whatever the sample ({need.basis}); relax the threshold")
        needed = max(need.min_n_to_pass, min_n[need.check])
        if need.n < needed:
            why = (f"even a perfect sample needs n >= {need.min_n_to_pass} at level {need.level_pass:.3g}"
                   if needed == need.min_n_to_pass else f"the policy's min_n is {needed}")
            return (f"check {need.check!r} ({need.metric} {need.op} {need.threshold}) cannot pass with the {need.n} prompts "
                    f"of {need.n_source}: {why}; raise the suite's size")
    return None
