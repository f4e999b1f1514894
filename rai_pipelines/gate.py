"""The release gate: a system's risk tier applied to its evaluations.

Verdicts, most severe first: `fail` (a check is definitely violated),
`unassessed` (a required evaluation is missing, errored, or stale: run with
an older suite definition or older code),
`insufficient_evidence` (a sample too small, an interval too wide to decide,
an undefined value, or too few passing nights for release), `pass`. Only
`pass` releases; every other verdict blocks (fail closed). A check covered by
an approved, unexpired waiver counts as `waived`, shown with the waiver in the
decision, and does not block.

Each check is a test with two sides, judged on the bounds an evaluation stored
for every level of `stats.intervals.LEVELS`:
- pass when the whole interval meets the requirement at the tier's nightly
  level (`Tier.night_alpha`): by intersection-union no adjustment is needed for
  the decision to pass a violating model with probability <= that level;
- fail when the whole interval lies beyond it at the check's Holm (or
  Bonferroni) level, so that a model meeting every check fails a decision with
  probability <= the tier's alpha;
- otherwise insufficient_evidence. Regressions against the champion are the
  same test on the paired change with the tolerance as the margin (non-inferiority).
A decision on one night is the night's verdict; the release verdict (what
`rai gate` answers and what moves `champion`) also needs the tier's run of
consecutive passing nights (`ReleaseRule`).
"""

from __future__ import annotations

import json
import math
import operator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import partial

import pandas as pd

from rai_pipelines import waivers as waiver_process
from rai_pipelines.catalog import AssistantSystem, Check, Policy, RegressionCheck, System, Tier
from rai_pipelines.code_version import ENTRY, code_version
from rai_pipelines.digest import sha256_json
from rai_pipelines.drift.record import latest_drift
from rai_pipelines.evaluation.metric_names import lower_is_better
from rai_pipelines.evaluation.rows import BASELINE_METRIC
from rai_pipelines.governance import reviews
from rai_pipelines.stats import intervals
from rai_pipelines.stats.multiplicity import adjusted_levels
from rai_pipelines.warehouse import Warehouse, reads
from rai_pipelines.warehouse.store import Fact

PASS, FAIL, INSUFFICIENT, UNASSESSED = "pass", "fail", "insufficient_evidence", "unassessed"
WARNING = "warning"  # shown with the decision, does not change the verdict
WAIVED = "waived"  # a failed or insufficient check covered by an approved, unexpired waiver
PENDING = "pending"  # measured, waiting for the decision's error control
SEVERITY = [FAIL, UNASSESSED, INSUFFICIENT, PASS]
_OPS = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Reason:
    check: str
    status: str
    detail: str
    observed: float | None = None
    op: str | None = None
    threshold: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    kind: str = "suite"  # suite | threshold | regression | drift | release | labels
    family: str | None = None
    metric: str | None = None
    slice: str | None = None
    compared_with: str | None = None  # the champion version a regression check compared against
    n: int | None = None
    p_pass: float | None = None  # smallest level at which the whole interval meets the requirement (grid p-value)
    p_fail: float | None = None  # smallest level at which the whole interval lies beyond it
    level_pass: float | None = None  # the level this check passes at (the tier's nightly level)
    level_fail: float | None = None  # the level this check fails at (its Holm / Bonferroni share of alpha)


@dataclass(frozen=True)
class Decision:
    decision_id: str
    system: str
    model_version: str
    dataset_version: str
    risk_tier: str
    policy_version: str
    verdict: str  # the release verdict
    reasons: list[Reason]
    evaluation_run_ids: list[str]
    decided_at: datetime
    waivers_applied: list[dict] = field(default_factory=list)
    night_verdict: str | None = None  # this night's evidence alone
    error_control: dict = field(default_factory=dict)  # alpha, method, nightly level, release rule, monitoring level
    monitoring_alarms: list[str] = field(default_factory=list)  # checks failing at the monitoring level
    warehouse_snapshot: int | None = None  # the warehouse snapshot every read of the decision saw (Warehouse.at)

    @property
    def evidence_digest(self) -> str:
        return sha256_json({k: v for k, v in asdict(self).items() if k not in {"decided_at", "decision_id"}})

    def to_dict(self) -> dict:
        out = asdict(self)
        out["decided_at"] = self.decided_at.isoformat()
        out["evidence_digest"] = self.evidence_digest
        return out


def _group_sizes(metrics: pd.DataFrame, features: list[str]) -> pd.Series:
    """n per group slice of exactly these features (e.g. 'SEX=Female', or 'SEX=Female&RAC1P=Black')."""
    fair = metrics[metrics.family == "fairness"]
    prefixes = tuple(f"{f}=" for f in features)
    parts = fair.slice.str.split("&")
    mask = parts.map(lambda ps: len(ps) == len(features) and all(p.startswith(q) for p, q in zip(ps, prefixes)))
    return fair[mask].groupby("slice").n.max()


def _bounds(row) -> dict[float, tuple[float, float]]:
    """The row's bounds grid; a row written before bounds existed has only its 95% interval."""
    stored = getattr(row, "bounds", None)
    grid = (dict(zip(intervals.LEVELS, stored)) if isinstance(stored, (tuple, list))  # fresh MetricRows
            else intervals.from_json(stored))
    if not grid and pd.notna(getattr(row, "ci_low", math.nan)):
        grid = {0.025: (float(row.ci_low), float(row.ci_high))}
    return grid


def p_values(grid: dict[float, tuple[float, float]], op: str, threshold: float) -> tuple[float, float]:
    """(p_pass, p_fail): the smallest levels at which the one-sided bound meets / lies beyond the threshold
    (1.0 when none does). Conservative p-values: the true ones are no larger."""
    meets = _OPS[op]
    near, far = (1, 0) if op == "<=" else (0, 1)
    p_pass = min((lvl for lvl, b in grid.items() if not math.isnan(b[near]) and meets(b[near], threshold)), default=1.0)
    p_fail = min((lvl for lvl, b in grid.items() if not math.isnan(b[far]) and not meets(b[far], threshold)), default=1.0)
    return p_pass, p_fail


def _measure(name: str, row, op: str, threshold: float, min_n: int, reason) -> Reason:
    """A check's measurement against its requirement, PENDING until the decision's error control judges it."""
    value = float(row.value)
    n = int(row.n)
    lo, hi = (float(row.ci_low), float(row.ci_high)) if pd.notna(getattr(row, "ci_low", math.nan)) else (math.nan, math.nan)
    base = dict(observed=value, op=op, threshold=threshold, n=n,
                ci_low=None if math.isnan(lo) else lo, ci_high=None if math.isnan(hi) else hi)
    if math.isnan(value):
        return reason(name, INSUFFICIENT, f"{row.metric} is undefined on slice {row.slice!r}", **{**base, "observed": None})
    if n < min_n:
        return reason(name, INSUFFICIENT, f"n={n} < min_n={min_n}: too small a sample to judge", **base)
    grid = _bounds(row)
    if not grid:
        return reason(name, INSUFFICIENT, f"{row.metric}[{row.slice}] = {value:.4f}: no interval, and the policy judges "
                                          "the interval", **base)
    p_pass, p_fail = p_values(grid, op, threshold)
    return reason(name, PENDING, "", p_pass=p_pass, p_fail=p_fail, **base)


def _threshold_check(check: Check, metrics: pd.DataFrame, tier: Tier) -> Reason:
    metric = f"{check.metric}_{check.disparity}" if check.disparity else check.metric
    reason = partial(Reason, kind="threshold", family=check.family, metric=metric, slice=check.slice)
    found = metrics[(metrics.family == check.family) & (metrics.metric == metric) & (metrics.slice == check.slice)]
    if found.empty:
        return reason(check.name, UNASSESSED, f"no usable {check.family} metric {metric!r} for slice {check.slice!r}")
    if check.disparity:
        sizes = _group_sizes(metrics, check.slice.split("&"))
        small = sizes[sizes < tier.min_group_size]
        if not small.empty:
            worst_ = small.idxmin()
            return reason(
                check.name,
                INSUFFICIENT,
                f"group {worst_} has n={int(small.min())} < min_group_size={tier.min_group_size}"
                + (f" (and {len(small) - 1} more)" if len(small) > 1 else ""),
            )
    return _measure(check.name, found.iloc[0], check.op, check.threshold, check.min_n or tier.min_n, reason)


def _regression_check(check: RegressionCheck, metrics: pd.DataFrame, candidate: str, tier: Tier) -> Reason:
    """Non-inferiority: the change (candidate - champion) against the tolerance as its margin."""
    reason = partial(Reason, kind="regression", family=check.family, metric=check.metric, slice=check.slice)
    regression = metrics[metrics.family == "regression"]
    marker = regression[regression.metric == BASELINE_METRIC]
    if marker.empty:
        return reason(check.name, UNASSESSED, "no comparison with the champion has run on this dataset version")
    champion = marker.value.iloc[0]
    if math.isnan(champion):
        return reason(check.name, PASS, "no model version holds the champion alias: nothing to regress against")
    if str(int(champion)) == candidate:
        return reason(check.name, PASS, f"v{candidate} is the champion")
    reason = partial(reason, compared_with=str(int(champion)))
    found = regression[(regression.metric == f"{check.metric}_change") & (regression.slice == check.slice)]
    if found.empty:
        return reason(check.name, UNASSESSED, f"no change of {check.metric!r} on slice {check.slice!r} in the champion comparison")
    op, margin = ("<=", check.tolerance) if lower_is_better(check.metric) else (">=", -check.tolerance)
    return _measure(check.name, found.iloc[0], op, margin, check.min_n or tier.min_n, reason)


def _describe(r: Reason) -> str:
    interval = f" [{r.ci_low:.4f}, {r.ci_high:.4f}]" if r.ci_low is not None else ""
    if r.kind == "regression":
        what = (f"{r.metric}[{r.slice}] changed by {r.observed:+.4f}{interval} vs champion v{r.compared_with} (n={r.n}); "
                f"non-inferior only if the whole interval is {r.op} {r.threshold:+g}")
    else:
        what = f"{r.metric}[{r.slice}] = {r.observed:.4f}{interval} (n={r.n}), required {r.op} {r.threshold}"
    if r.status == PASS:
        return f"{what}: whole interval meets it at level {r.level_pass:.3g}"
    if r.status == FAIL:
        return f"{what}: whole interval beyond it at level {r.level_fail:.3g}"
    return (f"{what}: interval too wide to decide (passes at level {r.p_pass:.3g} > {r.level_pass:.3g} needed; "
            f"fails at {r.p_fail:.3g} > {r.level_fail:.3g})")


def judge(reasons: list[Reason], tier: Tier, alpha: float | None = None) -> list[Reason]:
    """Settle the PENDING checks: pass at the nightly level, fail at each check's multiplicity-adjusted share of
    alpha (the tier's unless given), otherwise insufficient_evidence."""
    pending = [i for i, r in enumerate(reasons) if r.status == PENDING]
    levels, rejected = adjusted_levels([reasons[i].p_fail for i in pending], tier.alpha if alpha is None else alpha,
                                       tier.multiplicity)
    out = list(reasons)
    level_pass = intervals.grid_level(tier.night_alpha)  # recorded as the level really used
    for i, level, reject in zip(pending, levels, rejected):
        r = replace(reasons[i], level_pass=level_pass, level_fail=level)
        status = PASS if r.p_pass <= r.level_pass else FAIL if reject else INSUFFICIENT
        r = replace(r, status=status)
        out[i] = replace(r, detail=_describe(r))
    return out


def judge_evaluation(system: System | AssistantSystem, policy: Policy, family: str, metrics: pd.DataFrame,
                     model_version: str) -> list[Reason]:
    """The tier's checks that read one evaluation family, judged on that evaluation alone (with the error control
    of those checks only).

    Shown with the evaluation so an engineer sees which check it breaks; the
    release decision itself judges every required suite together (`decide`)."""
    tier = policy.tier_for(system)
    if family == "regression":
        measured = [_regression_check(c, metrics, str(model_version), tier) for c in tier.regression]
    else:
        measured = [_threshold_check(c, metrics, tier) for c in tier.checks if c.family == family]
    return judge(measured, tier)


def _judge_drift(mode: str, drift: pd.DataFrame | None) -> Reason | None:
    """The drift outcome of the evaluated dataset version, as the tier wants it used."""
    reason = partial(Reason, kind="drift", family="drift", metric="share_drifted", slice="overall")
    if mode == "ignore":
        return None
    if drift is None or drift.empty:
        return reason("dataset_drift", UNASSESSED if mode == "block" else WARNING, "no drift result for this dataset version")
    if pd.isna(drift.dataset_drift.iloc[0]):  # no column could be tested: no verdict to lean on
        return reason("dataset_drift", UNASSESSED if mode == "block" else WARNING, "drift was not assessed on any column")
    share, drifted = float(drift.share_drifted.iloc[0]), bool(drift.dataset_drift.iloc[0])
    columns = ", ".join(drift[drift.drifted.fillna(False).astype(bool)].column_name) or "none"
    detail = f"{share:.0%} of columns drifted against the reference ({columns})"
    if not drifted:
        return reason("dataset_drift", PASS, f"no dataset drift: {detail}", observed=share)
    return reason("dataset_drift", FAIL if mode == "block" else WARNING, f"dataset drift: {detail}", observed=share)


def worst(reasons: list[Reason]) -> str:
    """The verdict these reasons add up to (waived and warning checks do not block)."""
    return next((v for v in SEVERITY if any(r.status == v for r in reasons)), PASS)


def reasons_markdown(reasons: list[Reason]) -> str:
    """Checks as a Markdown table: status, observed value with its interval, what the policy requires, and the
    levels the check passes and fails at."""
    def observed(r: Reason) -> str:
        if r.observed is None:
            return ""
        return f"{r.observed:.4f}" + (f" [{r.ci_low:.4f}, {r.ci_high:.4f}]" if r.ci_low is not None else "")

    def required(r: Reason) -> str:
        if r.kind == "regression" and r.threshold is not None:
            return f"change {r.op} {r.threshold:+g} vs the champion"
        return f"{r.op} {r.threshold}" if r.op else ""

    def levels(r: Reason) -> str:
        return f"{r.level_pass:.3g} / {r.level_fail:.3g}" if r.level_pass is not None else ""

    rows = [f"| {r.check} | **{r.status}** | {observed(r)} | {'' if r.n is None else r.n} | {required(r)} | {levels(r)} | "
            f"{r.detail.replace('|', '/')} |" for r in reasons]
    return "\n".join(["| check | status | observed [95% interval] | n | required | level pass / fail | detail |",
                      "|---|---|---|---|---|---|---|", *rows])


def _judge_kappa(metrics: pd.DataFrame, run_id: str) -> float | None:
    """The agreement of the judge that decided a GenAI run with its held-out labels (None: no judge decided it)."""
    if metrics.empty:
        return None
    rows = metrics[(metrics.run_id == run_id) & (metrics.metric == "judge_kappa")]
    return float(rows.value.iloc[0]) if not rows.empty else None


MAX_OUTSIDE_REFERENCE = 0.05  # share of a batch's scores outside the reference's range beyond which estimates extrapolate


def _estimated(runs: pd.DataFrame, usable: list[str]) -> str | None:
    """Why the usable runs are estimates (their dataset version's labels have not all landed), or None."""
    if "basis" not in runs.columns:
        return None
    estimated = sorted(runs[runs.run_id.isin(usable) & (runs.basis == "estimated")].suite)
    return f"suites {', '.join(estimated)} are estimated: this dataset version's labels have not all landed" if estimated else None


def _broken_assumptions(metrics: pd.DataFrame) -> str | None:
    """Why estimates cannot be trusted (their checked assumptions, stored as family `estimation`), or None."""
    rows = metrics[metrics.family == "estimation"].groupby("metric").value.max() if not metrics.empty else pd.Series()
    problems = []
    if rows.get("calibration_holds", 1.0) < 1:
        problems.append(f"the scores do not calibrate on the reference (cross-fitted ECE {rows.get('reference_ece', float('nan')):.3f})")
    if rows.get("reference_held_out", 1.0) == 0:
        problems.append("the reference window is the model's training data, on which its scores look better calibrated "
                        "than they are")
    if rows.get("scores_outside_reference", 0.0) > MAX_OUTSIDE_REFERENCE:
        problems.append(f"{rows['scores_outside_reference']:.0%} of the batch's scores lie outside the reference's range")
    return "estimates rest on assumptions that failed: " + "; ".join(problems) if problems else None


def decide(
    system: System | AssistantSystem, policy: Policy, model_version: str, dataset_version: str, runs: pd.DataFrame, metrics: pd.DataFrame,
    drift: pd.DataFrame | None = None,
    waivers: dict | None = None,
    suite_digests: dict[str, str] | None = None,
    passing_nights_before: list[str] | None = None,
    review=None,
) -> Decision:
    """Apply the system's tier to the evaluation runs (latest per suite) and their metrics.

    `passing_nights_before`: the dataset versions, consecutive and most recent last, on which this model version
    passed the same policy before this one; the release verdict needs the tier's run of them. `review`: the
    version's approved review (governance/reviews.py), which a release needs where the tier requires one."""
    tier = policy.tier_for(system)
    reasons: list[Reason] = []
    usable_runs: list[str] = []
    for suite in tier.required_suites:
        mine = runs[runs.suite == suite].sort_values("finished_at")
        latest = mine.iloc[-1] if not mine.empty else None
        if latest is None:
            reasons.append(Reason(f"suite:{suite}", UNASSESSED, f"required suite {suite!r} has not run on this dataset version"))
        elif latest.status != "ok":
            reasons.append(Reason(f"suite:{suite}", UNASSESSED, f"required suite {suite!r} errored: {latest.error}"))
        elif suite_digests is not None and (latest.suite_digest != suite_digests.get(suite) or not _current_code(latest)):
            # Results of an older suite definition, or of older code computing this family, do not speak for the current ones.
            reasons.append(Reason(f"suite:{suite}", UNASSESSED,
                                  f"required suite {suite!r} is stale: evaluated with suite {latest.suite_digest[:12]} and "
                                  f"{latest.get('family')} code {latest.code_version}; the current suite is "
                                  f"{str(suite_digests.get(suite))[:12]}; re-evaluate"))
        elif (kappa := _judge_kappa(metrics, latest.run_id)) is not None and kappa < tier.min_judge_agreement:
            # Decided under a lower floor than the tier's today: the judge's numbers do not count now.
            reasons.append(Reason(f"suite:{suite}", UNASSESSED, f"required suite {suite!r} was decided by a judge with "
                                  f"Cohen's kappa {kappa:.3f}, below the tier's minimum {tier.min_judge_agreement:.2f}"))
        else:
            usable_runs.append(latest.run_id)
    usable = metrics[metrics.run_id.isin(usable_runs)]
    measured = [_threshold_check(c, usable, tier) for c in tier.checks]
    measured += [_regression_check(c, usable, str(model_version), tier) for c in tier.regression]
    judged = judge(measured, tier)
    alarms = [r.check for r in judge(measured, tier, tier.monitoring.alpha) if r.status == FAIL]
    if pending := _estimated(runs, usable_runs):
        # Labels pending: performance and fairness are estimated (CBPE). The tier says whether that may alert on the
        # champion, or release; estimates whose assumptions failed on the reference decide nothing. Where they may
        # not decide, each check still shows what it would be if the labels agree, and reads unassessed.
        broken = _broken_assumptions(usable)
        if tier.estimated_results != "release":
            reasons.append(Reason("labels_pending", UNASSESSED, f"{pending}; the tier allows estimated results for "
                                  f"{'monitoring alerts only' if tier.estimated_results == 'monitoring' else 'nothing'}: "
                                  "decided when the labels land", kind="labels"))
        if broken is not None:
            reasons.append(Reason("estimate_assumptions", UNASSESSED, broken, kind="labels"))
        if tier.estimated_results != "release" or broken is not None:
            judged = [replace(r, status=UNASSESSED, detail=f"{r.detail} (estimated {r.status}: decided when labels land)")
                      if r.status in (PASS, FAIL, INSUFFICIENT) else r for r in judged]
        if tier.estimated_results == "ignore" or broken is not None:
            alarms = []
    reasons += judged
    if (drift_reason := _judge_drift(tier.drift, drift)) is not None:
        reasons.append(drift_reason)
    applied = []
    for i, r in enumerate(reasons):
        w = (waivers or {}).get(r.check)
        # Only a judged outcome can be waived; an evaluation that never ran stays unassessed.
        if w is not None and r.status in (FAIL, INSUFFICIENT):
            reasons[i] = replace(r, status=WAIVED, detail=f"{r.detail} -- waived by {w.waiver_id} ({w.approved_by}, "
                                                           f"until {w.expires_at:%Y-%m-%d}): {w.reason}")
            applied.append(w.to_json())
    night = worst(reasons)
    streak = [*(passing_nights_before or []), dataset_version] if night == PASS else []
    needed = tier.release.consecutive_passes
    if night == PASS:
        window = (f"{len(streak)} consecutive passing night(s) of the {needed} a release needs ({', '.join(streak[-needed:])}); "
                  f"each night judged at level {intervals.grid_level(tier.night_alpha):.3g}")
        reasons.append(Reason("release_window", PASS if len(streak) >= needed else INSUFFICIENT, window,
                              kind="release", observed=float(len(streak)), op=">=", threshold=float(needed)))
        if tier.review.required and len(streak) >= needed:
            # Asked once the evidence would release the version: like the release window, a release condition not
            # met yet (the version stays assessed; the release waits).
            reasons.append(Reason("review", PASS, f"approved in review {review.review_id} by {review.decided_by}"
                                  + (f" on conditions: {review.conditions}" if review.conditions else ""), kind="release")
                           if review is not None else
                           Reason("review", INSUFFICIENT, f"the '{system.risk_tier}' tier releases only after an approved "
                                  "review of this version: `rai review request`", kind="release"))
    verdict = worst(reasons)
    decided_at = datetime.now(UTC)
    identity = [system.name, model_version, dataset_version, policy.version, sorted(usable_runs), code_version("gate"),
                sorted(w["waiver_id"] for w in applied), streak[-needed:],
                next((review.review_id for r in reasons if r.check == "review" and r.status == PASS), None)]
    return Decision(
        decision_id=sha256_json(identity)[:24],
        system=system.name,
        model_version=str(model_version),
        dataset_version=dataset_version,
        risk_tier=system.risk_tier,
        policy_version=policy.version,
        verdict=verdict,
        reasons=reasons,
        evaluation_run_ids=sorted(usable_runs),
        decided_at=decided_at,
        waivers_applied=applied,
        night_verdict=night,
        error_control={"alpha": tier.alpha, "multiplicity": tier.multiplicity, "night_alpha": tier.night_alpha,
                       "pass_level": intervals.grid_level(tier.night_alpha),
                       "consecutive_passes": needed, "horizon_nights": tier.release.horizon_nights,
                       "monitoring_alpha": tier.monitoring.alpha},
        monitoring_alarms=alarms,
    )


def _current_code(run) -> bool:
    """Whether a run was computed by the current code of its family (a run that does not say is not)."""
    family = run.get("family")
    return isinstance(family, str) and family in ENTRY and run.code_version == code_version(family)


def passing_nights(warehouse: Warehouse, system: str, model_version: str, dataset_version: str, policy_version: str) -> list[str]:
    """The unbroken run of windows, ending just before this dataset version's window in the order the windows
    arrived, on which this model version's latest realized nightly decision under this policy passed. A window
    counts once, by its newest version with a realized decision (late rows or landed labels are new versions of the
    same night, not more nights); a window decided only on estimates (labels pending) neither counts nor breaks the
    run; a window without any decision of this version (not evaluated, errored before the gate) breaks it. The
    reference window is not a night. Returns the dataset versions that decided each window."""
    history = warehouse.frame(
        """with decided as (
               select dataset_version, night_verdict, policy_version, decision_id from gate_decisions
               where system = ? and model_version = ?
               qualify row_number() over (partition by dataset_version order by decided_at desc) = 1
           ), versions as (
               select v.label, v.dataset_version, v.registered_at, d.night_verdict, d.policy_version,
                      d.decision_id is not null and exists (select 1 from gate_checks c where c.decision_id = d.decision_id
                                                            and c.kind = 'labels') as estimated
               from dataset_versions v left join decided d using (dataset_version)
               where v.system = ? and v.kind <> 'reference'
           ), windows as (
               select label, min(registered_at) as arrived,
                      arg_max(dataset_version, registered_at) filter (where night_verdict is not null and not estimated) as decided_by,
                      arg_max(night_verdict, registered_at) filter (where night_verdict is not null and not estimated) as night_verdict,
                      arg_max(policy_version, registered_at) filter (where night_verdict is not null and not estimated) as policy_version,
                      bool_or(estimated) as any_estimated
               from versions group by label
           ), this_window as (
               select label, (select min(registered_at) from dataset_versions w where w.system = v.system and w.label = v.label)
                      as arrived
               from dataset_versions v where v.system = ? and v.dataset_version = ?
           )
           select decided_by as dataset_version, night_verdict, policy_version from windows
           where label not in (select label from this_window)
             and arrived < coalesce((select arrived from this_window), now())
             and (night_verdict is not null or not any_estimated)
           order by arrived""",
        [system, str(model_version), system, system, dataset_version],
    )
    run: list[str] = []
    for row in history.itertuples():
        run = [*run, row.dataset_version] if row.night_verdict == PASS and row.policy_version == policy_version else []
    return run


def decide_from_warehouse(
    system: System | AssistantSystem, policy: Policy, model_version: str, warehouse: Warehouse, dataset_version: str | None = None,
    suite_digests: dict[str, str] | None = None,
) -> Decision:
    """Decide on one dataset version, by default the one this model version was last evaluated on.

    A model version never evaluated gets `unassessed` (with dataset_version ""). Every read sees one warehouse
    snapshot, recorded on the decision: reading `warehouse.at(snapshot)` re-derives it. A warehouse already read
    as of a snapshot is read there.
    """
    if warehouse.as_of is None:
        warehouse = warehouse.at(warehouse.snapshot())
    if dataset_version is None:
        dataset_version = reads.last_evaluated_dataset(warehouse, system.name, str(model_version)) or ""
    scope = "system = ? and model_version = ? and dataset_version = ?"
    params = [system.name, str(model_version), dataset_version]
    runs = warehouse.frame(f"select * from evaluation_runs where {scope}", params)
    metrics = warehouse.frame(f"select * from metrics where run_id in (select run_id from evaluation_runs where {scope})", params)
    drift = latest_drift(warehouse, system.name, dataset_version)
    before = passing_nights(warehouse, system.name, str(model_version), dataset_version, policy.version)
    review = reviews.approved(warehouse, policy, system, str(model_version)) if policy.tier_for(system).review.required else None
    decision = decide(system, policy, model_version, dataset_version, runs, metrics, drift,
                      waiver_process.applicable(warehouse, policy, system, str(model_version)), suite_digests, before, review)
    return replace(decision, warehouse_snapshot=warehouse.as_of if isinstance(warehouse.as_of, int) else None)


def record(decision: Decision, warehouse: Warehouse) -> None:
    """The decision and its checks, in one transaction: no reader sees one without the other."""
    d = decision.to_dict()
    warehouse.write_all([Fact(
        "gate_decisions",
        decision.system,
        decision.decision_id,
        [
            {
                **{k: d[k] for k in ("decision_id", "system", "model_version", "dataset_version", "risk_tier", "policy_version",
                                     "verdict", "evidence_digest", "night_verdict")},
                "reasons": json.dumps(d["reasons"]),
                "waivers_applied": json.dumps(d["waivers_applied"]),
                "evaluation_run_ids": json.dumps(d["evaluation_run_ids"]),
                "decided_at": decision.decided_at,
                "code_version": code_version("gate"),
                "alpha": decision.error_control.get("alpha"),
                "multiplicity": decision.error_control.get("multiplicity"),
                "error_control": json.dumps(decision.error_control),
                "monitoring_alarms": json.dumps(decision.monitoring_alarms),
                "warehouse_snapshot": decision.warehouse_snapshot,
            }
        ],
    ), Fact("gate_checks", decision.system, decision.decision_id, [
        {
            "decision_id": decision.decision_id, "system": decision.system, "model_version": decision.model_version,
            "dataset_version": decision.dataset_version, "check_name": r.check, "kind": r.kind, "family": r.family,
            "metric": r.metric, "slice": r.slice, "status": r.status, "observed": r.observed, "op": r.op,
            "threshold": r.threshold, "ci_low": r.ci_low, "ci_high": r.ci_high, "compared_with": r.compared_with,
            "detail": r.detail, "decided_at": decision.decided_at, "n": r.n, "p_pass": r.p_pass, "p_fail": r.p_fail,
            "level_pass": r.level_pass, "level_fail": r.level_fail,
        }
        for r in decision.reasons
    ])])
