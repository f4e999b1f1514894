"""Control coverage: per control of the catalog (assets/controls/), whether a system's live evidence satisfies it.

A control is served, for one system, by what declares it: the system's suites, its tier's checks, the evidence
fields its tier requires in a bundle, and the governance workflows (policy `controls`). Each of those is judged
on live evidence for the release in question (by default the system's latest passing model version, else its
latest decided one): a suite ran in the decision (or, for a dataset suite, on the latest production batch), a
check passed or was waived, the latest bundle holds the field, a workflow is in place and kept (no incident past
its deadline, an approved review, the champion monitored on the latest batch). All served: satisfied; some:
partial; none, or nothing serves it: missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from rai_pipelines.catalog import Catalog, Control
from rai_pipelines.governance import incidents, reviews
from rai_pipelines.warehouse import Warehouse, reads

SATISFIED, PARTIAL, MISSING = "satisfied", "partial", "missing"


@dataclass(frozen=True)
class Source:
    """One thing serving a control, and whether its evidence is there."""

    kind: str  # suite | check | evidence | workflow
    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.detail}"


@dataclass(frozen=True)
class Coverage:
    control: Control
    framework: str
    status: str
    satisfied_by: list[Source] = field(default_factory=list)
    lacking: list[Source] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"control": self.control.id, "title": self.control.title, "framework": self.framework,
                "status": self.status, "evidence": [str(s) for s in self.satisfied_by],
                "missing": [str(s) for s in self.lacking] or ([] if self.status != MISSING else
                                                              [f"nothing serves it; needs: {self.control.evidence}"])}


@dataclass(frozen=True)
class _Live:
    """What the warehouse holds for the release in question."""

    model_version: str | None
    decision: pd.Series | None
    checks: dict[str, str]  # check -> status
    suites_run: set[str]
    latest_batch: str | None
    dataset_suites: set[str]  # families with results on the latest production batch
    bundle: pd.Series | None


def _live(warehouse: Warehouse, system, model_version: str | None) -> _Live:
    decisions = warehouse.frame("select * from gate_decisions where system = ? order by decided_at desc", [system.name])
    if model_version is None and not decisions.empty:
        passing = decisions[decisions.verdict == "pass"]
        model_version = str((passing if not passing.empty else decisions).model_version.iloc[0])
    mine = decisions[decisions.model_version == str(model_version)] if model_version is not None else decisions.iloc[0:0]
    decision = mine.iloc[0] if not mine.empty else None
    checks, suites_run = {}, set()
    if decision is not None:
        checks = {r["check"]: r["status"] for r in json.loads(decision.reasons or "[]")}
        # Every suite that ran on the decision's batch, the ones the tier does not require (attributions) too.
        suites_run = set(warehouse.frame(
            "select distinct suite from evaluation_runs where system = ? and model_version = ? and dataset_version = ? "
            "and status = 'ok'", [system.name, str(model_version), decision.dataset_version]).suite)
    latest = warehouse.frame("select dataset_version from dataset_versions where system = ? and kind in ('production', 'prompts') "
                             "order by registered_at desc limit 1", [system.name])
    batch = None if latest.empty else str(latest.dataset_version.iloc[0])
    dataset_suites = set()
    if batch is not None:
        found = warehouse.frame("""select 'quality' as kind from quality_results where system = ? and dataset_version = ?
                                   union select 'drift' from drift_results where system = ? and dataset_version = ?""",
                                [system.name, batch, system.name, batch])
        dataset_suites = set(found.kind)
    bundles = warehouse.frame("select * from evidence_bundles where system = ? and model_version = ? order by created_at desc limit 1",
                              [system.name, str(model_version)])
    return _Live(model_version, decision, checks, suites_run, batch, dataset_suites, None if bundles.empty else bundles.iloc[0])


def _suite(catalog: Catalog, suite, live: _Live) -> Source:
    if suite.per_dataset:
        kind = "quality" if suite.family == "data_quality" else "drift"
        ok = kind in live.dataset_suites
        return Source("suite", suite.name, ok, f"{'ran' if ok else 'no result'} on the latest batch {live.latest_batch or '(none)'}")
    ok = suite.name in live.suites_run
    return Source("suite", suite.name, ok, f"{'ran' if ok else 'did not run'} on the batch of v{live.model_version}'s "
                  "latest decision")


def _check(name: str, live: _Live) -> Source:
    status = live.checks.get(name)
    ok = status in ("pass", "waived")
    return Source("check", name, ok, f"{status or 'not judged'} in the latest decision on v{live.model_version}")


def _evidence(name: str, tier, live: _Live) -> Source:
    if name not in tier.evidence_fields:
        return Source("evidence", name, False, "the tier does not require it in a bundle")
    if live.bundle is None:
        return Source("evidence", name, False, f"no evidence bundle built for v{live.model_version} (`rai evidence bundle`)")
    missing = json.loads(live.bundle.missing or "[]")
    return Source("evidence", name, name not in missing,
                  f"{'in' if name not in missing else 'missing from'} bundle {str(live.bundle.sha256)[:12]} of v{live.model_version}")


def _workflow(name: str, catalog: Catalog, system, warehouse: Warehouse, live: _Live) -> Source | None:
    tier = catalog.policy.tier_for(system)
    if name == "incidents":
        if not catalog.policy.incidents.rules:
            return Source("workflow", name, False, "the policy opens no incidents (incidents.rules)")
        mine = incidents.current(warehouse, system.name)
        now = pd.Timestamp.now(tz="UTC").to_pydatetime()
        late = [i.incident_id for i in mine if i.overdue(now)]
        return Source("workflow", name, not late, f"{len(mine)} incidents, {sum(i.status != incidents.CLOSED for i in mine)} "
                      f"not closed, {'past deadline: ' + ', '.join(late) if late else 'none past a deadline'}")
    if name == "reviews":
        if not tier.review.required:
            return None  # the tier asks for none: not a source of evidence for this system
        review = reviews.approved(warehouse, catalog.policy, system, live.model_version) if live.model_version else None
        return Source("workflow", name, review is not None,
                      f"v{live.model_version} approved in {review.review_id} by {review.decided_by}" if review else
                      f"no approved review of v{live.model_version}")
    if name == "waivers":
        return Source("workflow", name, bool(tier.waiver_approvers),
                      f"signed approvals by {', '.join(tier.waiver_approvers)}, at most {tier.max_waiver_days} days"
                      if tier.waiver_approvers else "the tier names no waiver approvers")
    # monitoring: the version in question decided on the latest production batch
    ok = live.decision is not None and live.latest_batch is not None and bool(
        reads.latest_decision(warehouse, system.name, str(live.model_version), live.latest_batch) is not None)
    return Source("workflow", name, ok, f"v{live.model_version} {'decided' if ok else 'not decided'} on the latest batch "
                  f"{live.latest_batch or '(none)'}")


def coverage(catalog: Catalog, warehouse: Warehouse, system_name: str, model_version: str | None = None) -> list[Coverage]:
    system = catalog.system(system_name)
    tier = catalog.policy.tier_for(system)
    live = _live(warehouse, system, model_version)
    sources: dict[str, list[Source]] = {cid: [] for cid in catalog.controls}
    for suite in catalog.suites_for(system):
        for cid in suite.controls:
            sources[cid].append(_suite(catalog, suite, live))
    for check in [*tier.checks, *tier.regression]:
        for cid in check.controls:
            sources[cid].append(_check(check.name, live))
    for name, ids in catalog.policy.controls.evidence.items():
        for cid in ids:
            sources[cid].append(_evidence(name, tier, live))
    for name, ids in catalog.policy.controls.workflows.items():
        source = _workflow(name, catalog, system, warehouse, live)
        for cid in ids if source is not None else []:
            sources[cid].append(source)
    out = []
    for cid, found in sources.items():
        ok = [s for s in found if s.ok]
        status = SATISFIED if found and len(ok) == len(found) else PARTIAL if ok else MISSING
        out.append(Coverage(catalog.controls[cid], catalog.frameworks[cid], status, ok, [s for s in found if not s.ok]))
    return out


def summary(found: list[Coverage]) -> dict[str, int]:
    return {status: sum(c.status == status for c in found) for status in (SATISFIED, PARTIAL, MISSING)}
