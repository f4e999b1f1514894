"""The exception process: a waiver lets one check pass for one model version of
one system, for a reason, until an expiry, once someone other than the
requester, and allowed by the policy, approved it.

Every request, approval and revocation is an appended row in the `waivers`
warehouse view; nothing is updated in place. A waiver applies only while it is
approved, unrevoked and unexpired, and only to a check that failed or lacked
evidence: an evaluation that never ran cannot be waived.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from rai_pipelines.catalog import Catalog
from rai_pipelines.digest import sha256_json
from rai_pipelines.errors import RaiError, UsageError
from rai_pipelines.warehouse import Warehouse

REQUESTED, APPROVED, REVOKED, EXPIRED = "requested", "approved", "revoked", "expired"


class WaiverRefused(RaiError):
    """The process says no: self-approval, an approver the policy does not allow, a closed waiver."""


@dataclass(frozen=True)
class Waiver:
    waiver_id: str
    system: str
    check_name: str
    model_version: str
    reason: str
    requested_by: str
    approved_by: str | None
    created_at: datetime
    expires_at: datetime
    status: str

    @property
    def scope(self) -> str:
        return f"{self.check_name} x {self.system} x v{self.model_version}"

    def to_json(self) -> dict:
        return {
            "waiver_id": self.waiver_id, "system": self.system, "check": self.check_name, "model_version": self.model_version,
            "scope": self.scope, "reason": self.reason, "requested_by": self.requested_by, "approved_by": self.approved_by,
            "created_at": self.created_at.isoformat(), "expires_at": self.expires_at.isoformat(), "status": self.status,
        }


def _now() -> datetime:
    return datetime.now(UTC)


def _write(warehouse: Warehouse, w: Waiver, action: str, actor: str, note: str = "") -> None:
    at = _now()
    event_id = sha256_json([w.waiver_id, action, actor, at.isoformat()])[:16]
    warehouse.write("waivers", w.system, f"{w.waiver_id}-{at.strftime('%Y%m%dT%H%M%S%f')}-{action}", [{
        "event_id": event_id, "waiver_id": w.waiver_id, "system": w.system, "check_name": w.check_name,
        "model_version": w.model_version, "scope": w.scope, "reason": w.reason, "requested_by": w.requested_by,
        "approved_by": w.approved_by, "action": action, "actor": actor, "note": note, "created_at": w.created_at,
        "event_at": at, "expires_at": w.expires_at, "status": w.status,
    }])


def waivable_checks(catalog: Catalog, system_name: str) -> list[str]:
    tier = catalog.policy.tier_for(catalog.system(system_name))
    return [c.name for c in tier.checks] + [c.name for c in tier.regression] + (["dataset_drift"] if tier.drift == "block" else [])


def request(
    warehouse: Warehouse, catalog: Catalog, system: str, check: str, model_version: str, reason: str, by: str, expires_at: datetime
) -> Waiver:
    checks = waivable_checks(catalog, system)
    if check not in checks:
        raise UsageError(f"waiver: {system!r} has no waivable check {check!r}; its tier's checks are {checks}")
    if not reason.strip() or not by.strip():
        raise UsageError("waiver: a request needs a reason (--reason) and a requester (--by)")
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at <= _now():
        raise UsageError(f"waiver: expiry {expires_at.isoformat()} is in the past; give a future --expires date")
    created = _now()
    w = Waiver(
        waiver_id="w-" + sha256_json([system, check, str(model_version), by, created.isoformat()])[:10],
        system=system, check_name=check, model_version=str(model_version), reason=reason.strip(), requested_by=by,
        approved_by=None, created_at=created, expires_at=expires_at, status=REQUESTED,
    )
    _write(warehouse, w, "request", by)
    return w


def _effective(w: Waiver, at: datetime) -> Waiver:
    return replace(w, status=EXPIRED) if w.status in (REQUESTED, APPROVED) and w.expires_at <= at else w


def current(warehouse: Warehouse, system: str | None = None, at: datetime | None = None) -> list[Waiver]:
    """The state of every waiver: its latest event, with expiry applied at `at` (default now)."""
    at = at or _now()
    rows = warehouse.frame(
        """select * from waivers where (? is null or system = ?)
           qualify row_number() over (partition by waiver_id order by event_at desc) = 1 order by created_at""",
        [system, system],
    )
    return [
        _effective(Waiver(r.waiver_id, r.system, r.check_name, r.model_version, r.reason, r.requested_by,
                          None if r.approved_by is None or r.approved_by != r.approved_by else r.approved_by,
                          r.created_at.to_pydatetime(), r.expires_at.to_pydatetime(), r.status), at)
        for r in rows.itertuples()
    ]


def get(warehouse: Warehouse, waiver_id: str) -> Waiver:
    found = [w for w in current(warehouse) if w.waiver_id == waiver_id]
    if not found:
        raise UsageError(f"waiver: no waiver {waiver_id!r}; `rai waiver list` shows them")
    return found[0]


def approve(warehouse: Warehouse, catalog: Catalog, waiver_id: str, by: str) -> Waiver:
    w = get(warehouse, waiver_id)
    if w.status != REQUESTED:
        raise WaiverRefused(f"waiver {waiver_id} is {w.status}; only a requested waiver can be approved")
    if by == w.requested_by:
        raise WaiverRefused(f"waiver {waiver_id}: {by} requested it and cannot approve it; a different approver is required")
    allowed = catalog.policy.tier_for(catalog.system(w.system)).waiver_approvers
    if by not in allowed:
        raise WaiverRefused(f"waiver {waiver_id}: {by} may not approve waivers for tier "
                            f"{catalog.system(w.system).risk_tier!r}; the policy allows {allowed}")
    approved = replace(w, approved_by=by, status=APPROVED)
    _write(warehouse, approved, "approve", by)
    return approved


def revoke(warehouse: Warehouse, waiver_id: str, by: str, note: str) -> Waiver:
    w = get(warehouse, waiver_id)
    if w.status in (REVOKED, EXPIRED):
        raise WaiverRefused(f"waiver {waiver_id} is already {w.status}")
    revoked = replace(w, status=REVOKED)
    _write(warehouse, revoked, "revoke", by, note)
    return revoked


def applicable(warehouse: Warehouse, system: str, model_version: str, at: datetime | None = None) -> dict[str, Waiver]:
    """Approved, unexpired, unrevoked waivers for this model version, by check name."""
    return {w.check_name: w for w in current(warehouse, system, at) if w.status == APPROVED and w.model_version == str(model_version)}
