"""The exception process: a waiver lets one check pass for one model version of
one system, for a reason, until an expiry (at most the tier's
`max_waiver_days`), once someone other than the requester, allowed by the
policy, approved it with a signature made by their own key
(governance/approvals.py).

A waiver is bound to a fingerprint of what it excuses: the model artifact's
digest, the policy version and the check's definition. When any of them
changes the waiver lapses: a retrained artifact, an edited policy or a
loosened check is not what the approver saw.

Every request, approval and revocation is an appended row in the `waivers`
warehouse view; nothing is updated in place. A waiver applies only while it is
approved (its signature verifying under the policy's key for its approver),
unrevoked, unexpired and unlapsed, and only to a check that failed or lacked
evidence: an evaluation that never ran cannot be waived.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rai_pipelines.catalog import Catalog, Policy
from rai_pipelines.digest import sha256_json
from rai_pipelines.errors import UsageError
from rai_pipelines.governance import approvals
from rai_pipelines.governance.approvals import ApprovalRefused
from rai_pipelines.warehouse import Warehouse

REQUESTED, APPROVED, REVOKED, EXPIRED, LAPSED = "requested", "approved", "revoked", "expired", "lapsed"
WaiverRefused = ApprovalRefused  # one refusal for every approval process


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
    fingerprint: str = ""  # of what it excuses: artifact digest, policy version, check definition
    signature: str = ""  # the approver's, over approval_payload()
    lapsed_because: str = ""

    def approval_payload(self) -> dict:
        """What an approver signs: this waiver, what it excuses, until when, who asked for it and who they are."""
        return {"kind": "waiver_approval", "waiver_id": self.waiver_id, "system": self.system, "check": self.check_name,
                "model_version": self.model_version, "fingerprint": self.fingerprint, "approved_by": self.approved_by,
                "requested_by": self.requested_by, "expires_at": self.expires_at.isoformat()}

    @property
    def scope(self) -> str:
        return f"{self.check_name} x {self.system} x v{self.model_version}"

    def to_json(self) -> dict:
        return {
            "waiver_id": self.waiver_id, "system": self.system, "check": self.check_name, "model_version": self.model_version,
            "scope": self.scope, "reason": self.reason, "requested_by": self.requested_by, "approved_by": self.approved_by,
            "created_at": self.created_at.isoformat(), "expires_at": self.expires_at.isoformat(), "status": self.status,
            "fingerprint": self.fingerprint, **({"lapsed_because": self.lapsed_because} if self.lapsed_because else {}),
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
        "event_at": at, "expires_at": w.expires_at, "status": w.status, "fingerprint": w.fingerprint,
        "signature": w.signature or None,
    }])


def _check_definition(policy: Policy, system, check: str) -> dict:
    tier = policy.tier_for(system)
    found = next((c for c in [*tier.checks, *tier.regression] if c.name == check), None)
    # The controls a check serves change no verdict: not part of what a waiver excuses.
    return found.model_dump(mode="json", exclude={"controls"}) if found else {"dataset_drift": tier.drift}


def fingerprint(warehouse: Warehouse, policy: Policy, system, check: str, model_version: str) -> str:
    """What a waiver excuses: this model artifact, under this policy, against this definition of the check."""
    artifact = approvals.artifact_of(warehouse, system, model_version)
    if artifact is None:
        raise UsageError(f"waiver: v{model_version} of {system.name} has no recorded artifact digest; the registry "
                         "sensor records it when it first sees the version (or `rai model register`)")
    return sha256_json([artifact, policy.version, _check_definition(policy, system, check)])[:24]


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
    longest = catalog.policy.tier_for(catalog.system(system)).max_waiver_days
    if expires_at.date() > (_now() + timedelta(days=longest)).date():
        raise UsageError(f"waiver: expiry {expires_at:%Y-%m-%d} is more than {longest} days away, the longest tier "
                         f"{catalog.system(system).risk_tier!r} allows; give an earlier --expires date")
    created = _now()
    w = Waiver(
        waiver_id="w-" + sha256_json([system, check, str(model_version), by, created.isoformat()])[:10],
        system=system, check_name=check, model_version=str(model_version), reason=reason.strip(), requested_by=by,
        approved_by=None, created_at=created, expires_at=expires_at, status=REQUESTED,
        fingerprint=fingerprint(warehouse, catalog.policy, catalog.system(system), check, model_version),
    )
    _write(warehouse, w, "request", by)
    return w


def _effective(w: Waiver, at: datetime) -> Waiver:
    return replace(w, status=EXPIRED) if w.status in (REQUESTED, APPROVED) and w.expires_at <= at else w


def _unless_lapsed(w: Waiver, warehouse: Warehouse, policy: Policy, system) -> Waiver:
    """An approved waiver whose signature or fingerprint no longer holds, marked lapsed with why."""
    if w.status != APPROVED:
        return w
    # Every rule of approve() again: a row written straight into the warehouse must meet them too.
    allowed = policy.tier_for(system).waiver_approvers
    why = (f"{w.approved_by} requested it" if w.approved_by == w.requested_by else
           f"{w.approved_by} may not approve waivers for its tier" if w.approved_by not in allowed else
           approvals.problem(policy, w.approved_by or "", w.approval_payload(), w.signature))
    if why is None:
        try:
            if fingerprint(warehouse, policy, system, w.check_name, w.model_version) != w.fingerprint:
                why = ("what it excuses changed since approval (the model artifact, the policy version or the check's "
                       "definition)")
        except UsageError as exc:
            why = str(exc)
    return replace(w, status=LAPSED, lapsed_because=why) if why else w


def current(warehouse: Warehouse, system: str | None = None, at: datetime | None = None,
            catalog: Catalog | None = None) -> list[Waiver]:
    """The state of every waiver: its latest event, with expiry applied at `at` (default now) and, given the
    catalog, approvals whose signature or fingerprint no longer hold shown as lapsed."""
    at = at or _now()
    rows = warehouse.frame(
        """select *, bool_or(action = 'revoke') over (partition by waiver_id) as revoked_ever
           from waivers where (? is null or system = ?)
           qualify row_number() over (partition by waiver_id order by event_at desc) = 1 order by created_at""",
        [system, system],
    )
    found = [
        _effective(Waiver(r.waiver_id, r.system, r.check_name, r.model_version, r.reason, r.requested_by,
                          None if r.approved_by is None or r.approved_by != r.approved_by else r.approved_by,
                          r.created_at.to_pydatetime(), r.expires_at.to_pydatetime(),
                          REVOKED if r.revoked_ever else r.status, _text(r, "fingerprint"),  # a revocation is final
                          _text(r, "signature")), at)
        for r in rows.itertuples()
    ]
    if catalog is None:
        return found
    return [_unless_lapsed(w, warehouse, catalog.policy, catalog.systems[w.system]) if w.system in catalog.systems else w
            for w in found]


def _text(row, column: str) -> str:
    value = getattr(row, column, None)
    return value if isinstance(value, str) else ""


def get(warehouse: Warehouse, waiver_id: str, catalog: Catalog | None = None) -> Waiver:
    found = [w for w in current(warehouse, catalog=catalog) if w.waiver_id == waiver_id]
    if not found:
        raise UsageError(f"waiver: no waiver {waiver_id!r}; `rai waiver list` shows them")
    return found[0]


def approve(warehouse: Warehouse, catalog: Catalog, waiver_id: str, by: str, key: str | Path) -> Waiver:
    """Approve with the approver's own private key (`key`), whose public half the policy lists for `by`."""
    w = get(warehouse, waiver_id)
    if w.status != REQUESTED:
        raise WaiverRefused(f"waiver {waiver_id} is {w.status}; only a requested waiver can be approved")
    if by == w.requested_by:
        raise WaiverRefused(f"waiver {waiver_id}: {by} requested it and cannot approve it; a different approver is required")
    allowed = catalog.policy.tier_for(catalog.system(w.system)).waiver_approvers
    if by not in allowed:
        raise WaiverRefused(f"waiver {waiver_id}: {by} may not approve waivers for tier "
                            f"{catalog.system(w.system).risk_tier!r}; the policy allows {allowed}")
    now = fingerprint(warehouse, catalog.policy, catalog.system(w.system), w.check_name, w.model_version)
    if now != w.fingerprint:
        raise WaiverRefused(f"waiver {waiver_id}: what it excuses changed since it was requested (the model artifact, "
                            "the policy version or the check's definition); request a new waiver")
    approved = replace(w, approved_by=by, status=APPROVED)
    approved = replace(approved, signature=approvals.sign(key, approved.approval_payload()))
    approvals.require(catalog.policy, by, approved.approval_payload(), approved.signature, f"waiver {waiver_id}")
    _write(warehouse, approved, "approve", by)
    return approved


def revoke(warehouse: Warehouse, waiver_id: str, by: str, note: str) -> Waiver:
    w = get(warehouse, waiver_id)
    if w.status in (REVOKED, EXPIRED):
        raise WaiverRefused(f"waiver {waiver_id} is already {w.status}")
    revoked = replace(w, status=REVOKED)
    _write(warehouse, revoked, "revoke", by, note)
    return revoked


def applicable(warehouse: Warehouse, policy: Policy, system, model_version: str,
               at: datetime | None = None) -> dict[str, Waiver]:
    """Approved, unexpired, unrevoked and unlapsed waivers for this model version, by check name."""
    mine = [w for w in current(warehouse, system.name, at) if w.model_version == str(model_version)]
    return {w.check_name: w for w in (_unless_lapsed(w, warehouse, policy, system) for w in mine) if w.status == APPROVED}
