"""Incidents opened from production findings, tracked to closure against deadlines.

A finding (the alert the check or asset that found it sends: champion regression on a nightly batch, blocking
dataset drift, a failed quality check on production data, a safety finding on the live assistant) opens an
incident when the policy's `incidents.rules` name it, with the rule's severity, the system's owner and deadlines
from the severity (acknowledge, mitigate, and the Art. 73 reporting clock where it has one). While an incident
of that system and finding is open or acknowledged, the same finding on another batch is one more occurrence of
it, not another incident (on a batch already counted, nothing); once mitigated, a recurrence is a new incident.
Transitions: open -> acknowledged -> mitigated -> closed (mitigating may skip acknowledging, and closing needs a
mitigation); `report` records the report to the authority at any point before closing, which meets the reporting
clock. Every step is an appended row of the `incidents` view.

MTTD runs from the arrival of the batch that showed the finding to the incident (not measured for an assistant,
whose prompt set is not a batch that arrives); MTTM from the incident to its mitigation (`kpis`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from rai_pipelines.alerts import Alert, AlertChannel
from rai_pipelines.catalog import Catalog
from rai_pipelines.digest import sha256_json
from rai_pipelines.errors import UsageError
from rai_pipelines.governance.approvals import ApprovalRefused
from rai_pipelines.warehouse import Warehouse

OPEN, ACKNOWLEDGED, MITIGATED, CLOSED = "open", "acknowledged", "mitigated", "closed"
# action -> (states it may follow, state it leads to)
TRANSITIONS = {"acknowledge": ((OPEN,), ACKNOWLEDGED), "mitigate": ((OPEN, ACKNOWLEDGED), MITIGATED),
               "close": ((MITIGATED,), CLOSED), "report": ((OPEN, ACKNOWLEDGED, MITIGATED), None)}  # None: unchanged
ABSORBING = (OPEN, ACKNOWLEDGED)  # states in which the same finding again is one more occurrence
DEADLINES = ("acknowledge", "mitigate", "report")


@dataclass(frozen=True)
class Incident:
    incident_id: str
    system: str
    finding: str
    severity: str
    owner: str
    summary: str
    details: tuple[str, ...]
    dataset_version: str
    arrived_at: datetime | None  # None: no batch arrival to measure detection from
    opened_at: datetime
    due: dict  # deadline -> datetime (report only where the severity has a reporting clock)
    status: str = OPEN
    occurrences: int = 1
    mitigated_at: datetime | None = None
    reported_at: datetime | None = None

    def pending(self) -> list[str]:
        """Deadlines not yet met: acknowledging or mitigating while not done, reporting until closed."""
        done = {"acknowledge": self.status != OPEN, "mitigate": self.status in (MITIGATED, CLOSED),
                "report": self.reported_at is not None or self.status == CLOSED}
        return [d for d in self.due if not done[d]]

    def overdue(self, at: datetime) -> list[str]:
        return [d for d in self.pending() if self.due[d] < at]

    def next_deadline(self) -> tuple[str, datetime] | None:
        """The earliest deadline not yet met, met or missed."""
        upcoming = sorted((self.due[d], d) for d in self.pending())
        return (upcoming[0][1], upcoming[0][0]) if upcoming else None

    def to_json(self, at: datetime | None = None) -> dict:
        at = at or datetime.now(UTC)
        return {"incident_id": self.incident_id, "system": self.system, "finding": self.finding, "severity": self.severity,
                "owner": self.owner, "status": self.status, "summary": self.summary, "occurrences": self.occurrences,
                "dataset_version": self.dataset_version, "opened_at": self.opened_at.isoformat(),
                "due": {k: v.isoformat() for k, v in self.due.items() if v is not None}, "overdue": self.overdue(at)}


def _write(warehouse: Warehouse, i: Incident, action: str, actor: str, note: str = "") -> None:
    at = datetime.now(UTC)
    warehouse.write("incidents", i.system, f"{i.incident_id}-{at:%Y%m%dT%H%M%S%f}-{action}", [{
        "event_id": sha256_json([i.incident_id, action, actor, at.isoformat()])[:16], "incident_id": i.incident_id,
        "system": i.system, "finding": i.finding, "severity": i.severity, "owner": i.owner, "summary": i.summary,
        "details": json.dumps(list(i.details)), "dataset_version": i.dataset_version, "arrived_at": i.arrived_at,
        "opened_at": i.opened_at, **{f"{d}_due": i.due.get(d) for d in DEADLINES}, "action": action, "actor": actor,
        "note": note or None, "status": i.status, "occurrences": i.occurrences, "event_at": at,
    }])


def current(warehouse: Warehouse, system: str | None = None) -> list[Incident]:
    """Every incident's latest state, oldest first."""
    rows = warehouse.frame(
        """select *, min(event_at) filter (where action = 'mitigate') over (partition by incident_id) as mitigated_at,
                  min(event_at) filter (where action = 'report') over (partition by incident_id) as reported_at
           from incidents where (? is null or system = ?)
           qualify row_number() over (partition by incident_id order by event_at desc) = 1 order by opened_at""",
        [system, system])
    when = lambda v: None if v is None or v != v else v.to_pydatetime()  # noqa: E731
    return [Incident(r.incident_id, r.system, r.finding, r.severity, r.owner, r.summary, tuple(json.loads(r.details or "[]")),
                     r.dataset_version, when(r.arrived_at), when(r.opened_at),
                     {d: when(getattr(r, f"{d}_due")) for d in DEADLINES if when(getattr(r, f"{d}_due")) is not None},
                     r.status, int(r.occurrences), when(r.mitigated_at), when(r.reported_at))
            for r in rows.itertuples()]


def get(warehouse: Warehouse, incident_id: str) -> Incident:
    found = [i for i in current(warehouse) if i.incident_id == incident_id]
    if not found:
        raise UsageError(f"incident: no incident {incident_id!r}; `rai incident list` shows them")
    return found[0]


def _arrival(warehouse: Warehouse, system: str, dataset_version: str) -> tuple[str, datetime | None]:
    """The dataset version's kind and when it arrived."""
    found = warehouse.frame("select kind, registered_at from dataset_versions where system = ? and dataset_version = ? "
                            "order by registered_at limit 1", [system, dataset_version])
    if found.empty:
        return "", None
    return str(found.kind.iloc[0]), found.registered_at.iloc[0].to_pydatetime()


def raise_finding(warehouse: Warehouse, catalog: Catalog, alert: Alert) -> Incident | None:
    """Open an incident for a production finding the policy's rules name (or count one more occurrence of the one
    still open); None when the policy opens none for it."""
    severity = catalog.policy.incidents.rules.get(alert.kind)
    system = catalog.systems.get(alert.system)
    if severity is None or system is None:
        return None
    if alert.kind == "dataset_drift" and catalog.policy.tier_for(system).drift != "block":
        return None  # drift the tier only warns about is shown with decisions, not an incident
    kind, arrived = _arrival(warehouse, system.name, alert.dataset_version)
    if kind == "reference":
        return None  # production findings only: a reference window is what production is compared against
    if kind == "prompts":
        arrived = None  # an assistant's prompt set is reused every night: its registration is no arrival
    still_open = [i for i in current(warehouse, system.name) if i.finding == alert.kind and i.status in ABSORBING]
    if still_open:
        incident = still_open[-1]
        seen_on = warehouse.frame("select dataset_version, note from incidents where incident_id = ?", [incident.incident_id])
        if alert.dataset_version in set(seen_on.dataset_version) | {str(n).split(": ", 1)[0] for n in seen_on.note}:
            return incident  # the same batch again (a re-gate, a retried check): not another occurrence
        seen = replace(incident, occurrences=incident.occurrences + 1)
        _write(warehouse, seen, "observe", "rai", f"{alert.dataset_version}: {alert.summary}")
        return seen
    opened = datetime.now(UTC)
    clock = catalog.policy.incidents.severities[severity]
    hours = {"acknowledge": clock.acknowledge_hours, "mitigate": clock.mitigate_hours, "report": clock.report_hours}
    incident = Incident(
        "i-" + sha256_json([system.name, alert.kind, alert.dataset_version, opened.isoformat()])[:10], system.name,
        alert.kind, severity, system.owner, alert.summary, tuple(alert.details[:20]), alert.dataset_version,
        arrived, opened,
        {d: opened + timedelta(hours=h) for d, h in hours.items() if h is not None})
    _write(warehouse, incident, "open", "rai")
    return incident


def report(channel: AlertChannel, warehouse: Warehouse, catalog: Catalog, alert: Alert) -> Incident | None:
    """What a check or asset does with a production finding: alert, and open (or update) its incident. The alert goes
    out even when recording the incident fails, and the failure is raised after it."""
    try:
        incident = raise_finding(warehouse, catalog, alert)
    except Exception:
        channel.send(alert)
        raise
    if incident is not None and incident.occurrences == 1:
        alert = replace(alert, summary=f"{alert.summary} [incident {incident.incident_id}, {incident.severity}, "
                                       f"owner {incident.owner}]")
    channel.send(alert)
    return incident


def transition(warehouse: Warehouse, incident_id: str, action: str, by: str, note: str) -> Incident:
    if action not in TRANSITIONS:
        raise UsageError(f"incident: {action!r} is not one of {sorted(TRANSITIONS)}")
    if not by.strip() or not note.strip():
        raise UsageError(f"incident: {action} needs who (--by) and what was done or seen (--note)")
    incident = get(warehouse, incident_id)
    allowed, to = TRANSITIONS[action]
    if incident.status not in allowed:
        raise ApprovalRefused(f"incident {incident_id} is {incident.status}; {action} follows {' or '.join(allowed)}")
    if action == "report" and incident.reported_at is not None:
        raise ApprovalRefused(f"incident {incident_id} was reported at {incident.reported_at:%Y-%m-%d %H:%M} UTC already")
    moved = replace(incident, status=to or incident.status)
    _write(warehouse, moved, action, by, note)
    return get(warehouse, incident_id)


def warn_deadlines(channel: AlertChannel, warehouse: Warehouse, catalog: Catalog, at: datetime | None = None) -> list[Alert]:
    """Alert once when an incident deadline comes within the policy's warning time and once when it is missed; each
    warning is recorded in the incident's history, so the next watch does not repeat it."""
    at = at or datetime.now(UTC)
    warn = timedelta(hours=catalog.policy.incidents.warn_before_hours)
    warned = set(map(tuple, warehouse.frame("select incident_id, note from incidents where action = 'warn'").to_numpy()))
    sent = []
    for i in current(warehouse):
        for name in i.pending():
            when = i.due[name]
            phase = "missed" if when < at else "near"
            if when - at > warn or (i.incident_id, f"{name}:{phase}") in warned:
                continue
            state = "missed" if phase == "missed" else f"due in {(when - at).total_seconds() / 3600:.1f} h"
            alert = Alert("incident_deadline", i.system, i.dataset_version,
                          f"incident {i.incident_id} ({i.severity}, owner {i.owner}): {name} deadline "
                          f"{when:%Y-%m-%d %H:%M} UTC {state}", [i.summary])
            channel.send(alert)
            _write(warehouse, i, "warn", "rai", f"{name}:{phase}")
            sent.append(alert)
    return sent
