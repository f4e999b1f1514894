"""The release gate: a system's risk tier applied to its evaluations.

Verdicts, most severe first: `fail` (a check is definitely violated),
`unassessed` (a required evaluation is missing, errored, or stale: run with
an older suite definition or older code),
`insufficient_evidence` (a group too small to judge, or an undefined value),
`pass`. Only `pass` releases; every other verdict blocks (fail closed). A
check covered by an approved, unexpired waiver counts as `waived`, shown with
the waiver in the decision, and does not block.
"""

from __future__ import annotations

import json
import math
import operator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from functools import partial

import pandas as pd

from rai_pipelines.catalog import Check, Policy, RegressionCheck, System
from rai_pipelines.code_version import code_version
from rai_pipelines.digest import sha256_json
from rai_pipelines.drift.record import latest_drift
from rai_pipelines.evaluation.families import BASELINE_METRIC
from rai_pipelines.evaluation.paired import lower_is_better, regressed
from rai_pipelines import waivers as waiver_process
from rai_pipelines.warehouse import Warehouse

PASS, FAIL, INSUFFICIENT, UNASSESSED = "pass", "fail", "insufficient_evidence", "unassessed"
WARNING = "warning"  # shown with the decision, does not change the verdict
WAIVED = "waived"  # a failed or insufficient check covered by an approved, unexpired waiver
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
    kind: str = "suite"  # suite | threshold | regression | drift
    family: str | None = None
    metric: str | None = None
    slice: str | None = None
    compared_with: str | None = None  # the champion version a regression check compared against


@dataclass(frozen=True)
class Decision:
    decision_id: str
    system: str
    model_version: str
    dataset_version: str
    risk_tier: str
    policy_version: str
    verdict: str
    reasons: list[Reason]
    evaluation_run_ids: list[str]
    decided_at: datetime
    waivers_applied: list[dict] = field(default_factory=list)

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


def _judge(check: Check, metrics: pd.DataFrame, min_group_size: int) -> Reason:
    metric = f"{check.metric}_{check.disparity}" if check.disparity else check.metric
    reason = partial(Reason, kind="threshold", family=check.family, metric=metric, slice=check.slice)
    found = metrics[(metrics.family == check.family) & (metrics.metric == metric) & (metrics.slice == check.slice)]
    if found.empty:
        return reason(check.name, UNASSESSED, f"no usable {check.family} metric {metric!r} for slice {check.slice!r}")
    if check.disparity:
        sizes = _group_sizes(metrics, check.slice.split("&"))
        small = sizes[sizes < min_group_size]
        if not small.empty:
            worst = small.idxmin()
            return reason(
                check.name,
                INSUFFICIENT,
                f"group {worst} has n={int(small.min())} < min_group_size={min_group_size}"
                + (f" (and {len(small) - 1} more)" if len(small) > 1 else ""),
            )
    row = found.iloc[0]
    value = float(row.value)
    lo, hi = (float(row.ci_low), float(row.ci_high)) if "ci_low" in found and pd.notna(row.ci_low) else (math.nan, math.nan)
    described = f"{metric}[{check.slice}] = {value:.4f}"
    if not math.isnan(lo):
        described += f" [{lo:.4f}, {hi:.4f}]"
    base = dict(observed=value, op=check.op, threshold=check.threshold, ci_low=None if math.isnan(lo) else lo, ci_high=None if math.isnan(hi) else hi)
    if math.isnan(value):
        return reason(check.name, INSUFFICIENT, f"{metric} is undefined on slice {check.slice!r}", **{**base, "observed": None})
    meets = _OPS[check.op]
    if check.bound == "point":
        status = PASS if meets(value, check.threshold) else FAIL
        return reason(check.name, status, f"{described}, required {check.op} {check.threshold}", **base)
    if math.isnan(lo):
        return reason(check.name, INSUFFICIENT, f"{described}: no confidence interval, and the policy judges the interval", **base)
    # For '<=' the whole interval meets the threshold when its upper end does,
    # and lies wholly beyond it when its lower end does not; mirrored for '>='.
    near, far = (hi, lo) if check.op == "<=" else (lo, hi)
    if meets(near, check.threshold):
        status, why = PASS, "whole interval"
    elif not meets(far, check.threshold):
        status, why = FAIL, "whole interval beyond"
    else:
        status, why = INSUFFICIENT, "interval too wide to decide:"
    return reason(check.name, status, f"{described}, {why} {check.op} {check.threshold}", **base)


def _judge_regression(check: RegressionCheck, metrics: pd.DataFrame, candidate: str) -> Reason:
    """A change (candidate - champion) regresses only when its whole interval is worse than the tolerance."""
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
    row = found.iloc[0]
    worse = "an increase" if lower_is_better(check.metric) else "a decrease"
    described = (
        f"{check.metric}[{check.slice}] changed by {row.value:+.4f} [{row.ci_low:+.4f}, {row.ci_high:+.4f}] vs champion "
        f"v{int(champion)}; regressed only if the whole interval is {worse} beyond {check.tolerance}"
    )
    base = dict(observed=float(row.value), threshold=check.tolerance, ci_low=float(row.ci_low), ci_high=float(row.ci_high))
    verdict = regressed(float(row.ci_low), float(row.ci_high), check.metric, check.tolerance)
    if verdict is None:
        return reason(check.name, INSUFFICIENT, f"{check.metric}[{check.slice}]: the change has no interval", **base)
    return reason(check.name, FAIL if verdict else PASS, described, **base)


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


def judge_evaluation(system: System, policy: Policy, family: str, metrics: pd.DataFrame, model_version: str) -> list[Reason]:
    """The tier's checks that read one evaluation family, judged on that evaluation alone.

    Shown with the evaluation so an engineer sees which check it breaks; the
    release decision itself judges every required suite together (`decide`)."""
    tier = policy.tier_for(system)
    if family == "regression":
        return [_judge_regression(c, metrics, str(model_version)) for c in tier.regression]
    return [_judge(c, metrics, tier.min_group_size) for c in tier.checks if c.family == family]


def worst(reasons: list[Reason]) -> str:
    """The verdict these reasons add up to (waived and warning checks do not block)."""
    return next((v for v in SEVERITY if any(r.status == v for r in reasons)), PASS)


def reasons_markdown(reasons: list[Reason]) -> str:
    """Checks as a Markdown table: status, observed value with its interval, and what the policy requires."""
    def observed(r: Reason) -> str:
        if r.observed is None:
            return ""
        return f"{r.observed:.4f}" + (f" [{r.ci_low:.4f}, {r.ci_high:.4f}]" if r.ci_low is not None else "")

    def required(r: Reason) -> str:
        if r.kind == "regression" and r.threshold is not None:
            return f"change within {r.threshold} of the champion"
        return f"{r.op} {r.threshold}" if r.op else ""

    rows = [f"| {r.check} | **{r.status}** | {observed(r)} | {required(r)} | {r.detail.replace('|', '/')} |" for r in reasons]
    return "\n".join(["| check | status | observed [95% interval] | required | detail |", "|---|---|---|---|---|", *rows])


def decide(
    system: System, policy: Policy, model_version: str, dataset_version: str, runs: pd.DataFrame, metrics: pd.DataFrame,
    drift: pd.DataFrame | None = None,
    waivers: dict | None = None,
    suite_digests: dict[str, str] | None = None,
) -> Decision:
    """Apply the system's tier to the evaluation runs (latest per suite) and their metrics."""
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
        elif suite_digests is not None and (latest.suite_digest != suite_digests.get(suite) or latest.code_version != code_version()):
            # Results of an older suite definition or older code do not speak for the current ones.
            reasons.append(Reason(f"suite:{suite}", UNASSESSED,
                                  f"required suite {suite!r} is stale: evaluated with suite {latest.suite_digest[:12]} and code "
                                  f"{latest.code_version}, current are {str(suite_digests.get(suite))[:12]} and {code_version()}; re-evaluate"))
        else:
            usable_runs.append(latest.run_id)
    usable = metrics[metrics.run_id.isin(usable_runs)]
    for check in tier.checks:
        reasons.append(_judge(check, usable, tier.min_group_size))
    for check in tier.regression:
        reasons.append(_judge_regression(check, usable, str(model_version)))
    if (drift_reason := _judge_drift(tier.drift, drift)) is not None:
        reasons.append(drift_reason)
    applied = []
    for i, r in enumerate(reasons):
        w = (waivers or {}).get(r.check)
        # Only a judged outcome can be waived; an evaluation that never ran stays unassessed.
        if w is not None and r.status in (FAIL, INSUFFICIENT):
            reasons[i] = replace(r, status=WAIVED, detail=f"{r.detail} -- waived by {w.waiver_id} ({w.approved_by}, until {w.expires_at:%Y-%m-%d}): {w.reason}")
            applied.append(w.to_json())
    verdict = worst(reasons)
    decided_at = datetime.now(timezone.utc)
    identity = [system.name, model_version, dataset_version, policy.version, sorted(usable_runs), code_version(),
                sorted(w["waiver_id"] for w in applied)]
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
    )


def decide_from_warehouse(
    system: System, policy: Policy, model_version: str, warehouse: Warehouse, dataset_version: str | None = None,
    suite_digests: dict[str, str] | None = None,
) -> Decision:
    """Decide on one dataset version, by default the one this model version was last evaluated on.

    A model version never evaluated gets `unassessed` (with dataset_version "").
    """
    if dataset_version is None:
        latest = warehouse.frame(
            "select dataset_version from evaluation_runs where system = ? and model_version = ? order by finished_at desc limit 1",
            [system.name, str(model_version)],
        )
        dataset_version = "" if latest.empty else latest.dataset_version.iloc[0]
    scope = "system = ? and model_version = ? and dataset_version = ?"
    params = [system.name, str(model_version), dataset_version]
    runs = warehouse.frame(f"select * from evaluation_runs where {scope}", params)
    metrics = warehouse.frame(f"select * from metrics where run_id in (select run_id from evaluation_runs where {scope})", params)
    drift = latest_drift(warehouse, system.name, dataset_version)
    return decide(system, policy, model_version, dataset_version, runs, metrics, drift,
                  waiver_process.applicable(warehouse, system.name, str(model_version)), suite_digests)


def record(decision: Decision, warehouse: Warehouse) -> None:
    d = decision.to_dict()
    warehouse.write(
        "gate_decisions",
        decision.system,
        decision.decision_id,
        [
            {
                **{k: d[k] for k in ("decision_id", "system", "model_version", "dataset_version", "risk_tier", "policy_version", "verdict", "evidence_digest")},
                "reasons": json.dumps(d["reasons"]),
                "waivers_applied": json.dumps(d["waivers_applied"]),
                "evaluation_run_ids": json.dumps(d["evaluation_run_ids"]),
                "decided_at": decision.decided_at,
                "code_version": code_version(),
            }
        ],
    )
    warehouse.write("gate_checks", decision.system, decision.decision_id, [
        {
            "decision_id": decision.decision_id, "system": decision.system, "model_version": decision.model_version,
            "dataset_version": decision.dataset_version, "check_name": r.check, "kind": r.kind, "family": r.family,
            "metric": r.metric, "slice": r.slice, "status": r.status, "observed": r.observed, "op": r.op,
            "threshold": r.threshold, "ci_low": r.ci_low, "ci_high": r.ci_high, "compared_with": r.compared_with,
            "detail": r.detail, "decided_at": decision.decided_at,
        }
        for r in decision.reasons
    ])
