"""Review intake: a model version's release reviewed by people the tier assigns, on its signed evidence bundle.

`request` opens a review with the evidence bundle attached (its path and sha256), and triage assigns the
tier's reviewers (never the requester). `decide` records approve, reject or approve_with_conditions, with
reasons, signed by the reviewer's own key over what they decided and the bundle they read. Where the tier
says `review.required`, a release waits for an approved review of the version's current artifact (gate.py).
Every step is an appended row in the `reviews` view; cycle time (request to decision) is a KPI.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from rai_pipelines.catalog import Catalog, Policy
from rai_pipelines.digest import sha256_file, sha256_json
from rai_pipelines.errors import UsageError
from rai_pipelines.governance import approvals
from rai_pipelines.governance.approvals import ApprovalRefused
from rai_pipelines.warehouse import Warehouse

IN_REVIEW, APPROVED, REJECTED, CONDITIONAL = "in_review", "approved", "rejected", "approved_with_conditions"
DECISIONS = {"approve": APPROVED, "reject": REJECTED, "approve_with_conditions": CONDITIONAL}
RELEASING = (APPROVED, CONDITIONAL)


@dataclass(frozen=True)
class Review:
    review_id: str
    system: str
    model_version: str
    artifact_sha256: str
    bundle_path: str
    bundle_sha256: str
    requested_by: str
    reviewers: tuple[str, ...]
    requested_at: datetime
    status: str = IN_REVIEW
    decided_by: str = ""
    reasons: str = ""
    conditions: str = ""
    decided_at: datetime | None = None
    signature: str = ""

    def decision_payload(self) -> dict:
        """What a reviewer signs: the decision, on which artifact, having read which bundle, who asked, who was
        assigned, and who they are."""
        return {"kind": "review_decision", "review_id": self.review_id, "system": self.system,
                "model_version": self.model_version, "artifact_sha256": self.artifact_sha256,
                "bundle_sha256": self.bundle_sha256, "decision": self.status, "decided_by": self.decided_by,
                "requested_by": self.requested_by, "reviewers": list(self.reviewers), "reasons": self.reasons,
                "conditions": self.conditions}

    def to_json(self) -> dict:
        return {"review_id": self.review_id, "system": self.system, "model_version": self.model_version,
                "status": self.status, "requested_by": self.requested_by, "reviewers": list(self.reviewers),
                "bundle": self.bundle_path, "bundle_sha256": self.bundle_sha256,
                "requested_at": self.requested_at.isoformat(), "decided_by": self.decided_by or None,
                "decided_at": self.decided_at.isoformat() if self.decided_at else None, "reasons": self.reasons,
                "conditions": self.conditions}


def _write(warehouse: Warehouse, r: Review, action: str, actor: str) -> None:
    at = datetime.now(UTC)
    warehouse.write("reviews", r.system, f"{r.review_id}-{at:%Y%m%dT%H%M%S%f}-{action}", [{
        "event_id": sha256_json([r.review_id, action, actor, at.isoformat()])[:16], "review_id": r.review_id,
        "system": r.system, "model_version": r.model_version, "artifact_sha256": r.artifact_sha256,
        "bundle_path": r.bundle_path, "bundle_sha256": r.bundle_sha256, "requested_by": r.requested_by,
        "reviewers": ",".join(r.reviewers), "requested_at": r.requested_at, "action": action, "actor": actor,
        "status": r.status, "decided_by": r.decided_by or None, "reasons": r.reasons or None,
        "conditions": r.conditions or None, "decided_at": r.decided_at, "signature": r.signature or None, "event_at": at,
    }])


def current(warehouse: Warehouse, system: str | None = None) -> list[Review]:
    """Every review's latest state, oldest request first."""
    rows = warehouse.frame(
        """select * from reviews where (? is null or system = ?)
           qualify row_number() over (partition by review_id order by event_at desc) = 1 order by requested_at""",
        [system, system])
    text = lambda v: v if isinstance(v, str) else ""  # noqa: E731
    return [Review(r.review_id, r.system, r.model_version, r.artifact_sha256, r.bundle_path, r.bundle_sha256,
                   r.requested_by, tuple(x for x in text(r.reviewers).split(",") if x), r.requested_at.to_pydatetime(),
                   r.status, text(r.decided_by), text(r.reasons), text(r.conditions),
                   None if r.decided_at is None or r.decided_at != r.decided_at else r.decided_at.to_pydatetime(),
                   text(r.signature))
            for r in rows.itertuples()]


def get(warehouse: Warehouse, review_id: str) -> Review:
    found = [r for r in current(warehouse) if r.review_id == review_id]
    if not found:
        raise UsageError(f"review: no review {review_id!r}; `rai review list` shows them")
    return found[0]


def request(warehouse: Warehouse, catalog: Catalog, system_name: str, model_version: str, by: str,
            bundle: Path, bundle_sha256: str) -> Review:
    """Open a review of one model version with its evidence bundle attached; triage assigns the tier's reviewers."""
    system = catalog.system(system_name)
    if not by.strip():
        raise UsageError("review: a request needs a requester (--by)")
    artifact = approvals.artifact_of(warehouse, system, model_version)
    if artifact is None:
        raise UsageError(f"review: v{model_version} of {system.name} has no recorded artifact digest; evaluate it first")
    tier = catalog.policy.tier_for(system)
    reviewers = tuple(r for r in tier.review.reviewers if r != by)
    if not reviewers:
        raise UsageError(f"review: tier {system.risk_tier!r} assigns no reviewer other than {by}; list reviewers in "
                         f"the policy's {system.risk_tier}.review.reviewers")
    refuse_if_open(warehouse, system.name, model_version)
    at = datetime.now(UTC)
    review = Review("r-" + sha256_json([system.name, str(model_version), by, at.isoformat()])[:10], system.name,
                    str(model_version), artifact, str(bundle), bundle_sha256, by, reviewers, at)
    _write(warehouse, review, "request", by)
    return review


def decide(warehouse: Warehouse, catalog: Catalog, review_id: str, decision: str, reasons: str, by: str,
           key: str | Path, conditions: str = "") -> Review:
    """Record a reviewer's decision, signed with their own key (`key`), whose public half the policy lists."""
    review = get(warehouse, review_id)
    if decision not in DECISIONS:
        raise UsageError(f"review: decision {decision!r} is not one of {sorted(DECISIONS)}")
    if review.status != IN_REVIEW:
        raise ApprovalRefused(f"review {review_id} is already {review.status}")
    if by == review.requested_by:
        raise ApprovalRefused(f"review {review_id}: {by} requested it and cannot decide it; an assigned reviewer must")
    if by not in review.reviewers:
        raise ApprovalRefused(f"review {review_id}: {by} is not among its assigned reviewers {list(review.reviewers)}")
    if not reasons.strip():
        raise UsageError("review: a decision needs its reasons (--reason)")
    if (decision == "approve_with_conditions") != bool(conditions.strip()):
        raise UsageError("review: approve_with_conditions needs --conditions, and only it takes them")
    bundle = Path(review.bundle_path)
    if not bundle.is_file() or sha256_file(bundle) != review.bundle_sha256:
        raise ApprovalRefused(f"review {review_id}: its evidence bundle {bundle} is missing or changed since the "
                              "request; request a new review")
    decided = replace(review, status=DECISIONS[decision], decided_by=by, reasons=reasons.strip(),
                      conditions=conditions.strip(), decided_at=datetime.now(UTC))
    decided = replace(decided, signature=approvals.sign(key, decided.decision_payload()))
    approvals.require(catalog.policy, by, decided.decision_payload(), decided.signature, f"review {review_id}")
    _write(warehouse, decided, "decide", by)
    return decided


def _holds(policy: Policy, system, r: Review) -> bool:
    """Every rule of decide() again, for a row that may have been written straight into the warehouse."""
    assigned = set(r.reviewers) & set(policy.tier_for(system).review.reviewers)
    return (r.decided_by != r.requested_by and r.decided_by in assigned
            and approvals.problem(policy, r.decided_by, r.decision_payload(), r.signature) is None)


def approved(warehouse: Warehouse, policy: Policy, system, model_version: str) -> Review | None:
    """The newest valid decision on this model version, when it releases its current artifact; else None (a newer
    rejection overrides an older approval)."""
    artifact = approvals.artifact_of(warehouse, system, model_version)
    decided = [r for r in current(warehouse, system.name) if r.model_version == str(model_version)
               and r.status != IN_REVIEW and r.artifact_sha256 == artifact and _holds(policy, system, r)]
    newest = max(decided, key=lambda r: r.decided_at, default=None)
    return newest if newest is not None and newest.status in RELEASING else None


def refuse_if_open(warehouse: Warehouse, system_name: str, model_version: str) -> None:
    """One review at a time per version: checked before its bundle is built, so an open review's bundle is never
    overwritten."""
    open_ = [r for r in current(warehouse, system_name) if r.model_version == str(model_version) and r.status == IN_REVIEW]
    if open_:
        raise UsageError(f"review: {open_[0].review_id} is already open for v{model_version} of {system_name}; "
                         f"decide it first (`rai review decide {open_[0].review_id}`)")
