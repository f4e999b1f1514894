"""Incidents from production findings and review intake, on a real warehouse: lifecycles, refusals, deadlines and
the KPIs (MTTD, MTTM, past deadline, review cycle time) the `kpis` view computes from their histories."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from rai_pipelines.alerts import Alert, AlertChannel
from rai_pipelines.digest import sha256_file
from rai_pipelines.gate import decide
from rai_pipelines.governance import incidents, reviews
from rai_pipelines.governance.approvals import ApprovalRefused
from rai_pipelines.warehouse import Warehouse
from tests.conftest import ROOT

REVIEWER = "model-risk-reviewer@example.org"  # assigned by the high tier's triage in assets/policies
KEYS = ROOT / "assets" / "demo_keys"
ARRIVED = datetime.now(UTC) - timedelta(hours=5)


@pytest.fixture
def wh(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    for kind, key in (("production", "2016-b01.abc"), ("production", "2016-b02.abc"), ("reference", "reference-2015.def")):
        wh.write("dataset_versions", "acs_employment", key, [{
            "system": "acs_employment", "dataset_version": key, "label": key.split(".")[0], "kind": kind, "digest": "d",
            "rows": 10, "source": "x", "schema": "{}", "registered_at": ARRIVED}])
    wh.write("model_versions", "acs_employment", "mv-3", [{
        "system": "acs_employment", "model_name": "m", "model_version": "3", "artifact_sha256": "a" * 64, "recipe": "r",
        "mlflow_run_id": "", "registered_at": ARRIVED, "recorded_at": ARRIVED}])
    return wh


def _regression(dataset="2016-b01.abc", kind="champion_regression"):
    return Alert(kind, "acs_employment", dataset, "champion v2 fails accuracy_floor at the monitoring level 0.00274",
                 ["accuracy 0.74 [0.73, 0.75], required >= 0.78"])


def _kpis(wh):
    return wh.frame("select kpi, value, numerator, denominator from kpis where system = 'acs_employment'").set_index("kpi")


def test_a_champion_regression_opens_one_incident_taken_to_closure_with_mttd_and_mttm(wh, catalog, tmp_path):
    channel = AlertChannel(file=str(tmp_path / "alerts.jsonl"))
    opened = incidents.report(channel, wh, catalog, _regression())
    clock = catalog.policy.incidents.severities[catalog.policy.incidents.rules["champion_regression"]]
    assert opened.severity == "serious" and opened.owner == catalog.system("acs_employment").owner
    assert opened.due["report"] - opened.opened_at == timedelta(hours=clock.report_hours)  # the Art. 73 clock
    assert opened.incident_id in (tmp_path / "alerts.jsonl").read_text()  # the alert names its incident
    again = incidents.report(channel, wh, catalog, _regression("2016-b02.abc"))  # the next night again: same incident
    assert again.incident_id == opened.incident_id and again.occurrences == 2
    assert incidents.report(channel, wh, catalog, _regression("2016-b02.abc")).occurrences == 2  # a re-gate: not counted
    with pytest.raises(ApprovalRefused, match="close follows mitigated"):
        incidents.transition(wh, opened.incident_id, "close", "oncall@example.org", "too early")
    incidents.transition(wh, opened.incident_id, "acknowledge", "oncall@example.org", "looking")
    mitigated = incidents.transition(wh, opened.incident_id, "mitigate", "oncall@example.org", "rolled back the alias")
    closed = incidents.transition(wh, opened.incident_id, "close", "oncall@example.org", "retrained model released")
    assert closed.status == "closed" and mitigated.mitigated_at is not None
    history = wh.frame("select action from incidents order by event_at").action.tolist()
    assert history == ["open", "observe", "acknowledge", "mitigate", "close"]
    kpis = _kpis(wh)
    detected = (opened.opened_at - ARRIVED).total_seconds() / 3600
    assert kpis.loc["mttd_hours", "value"] == pytest.approx(detected, abs=1e-3) and detected > 4.9
    assert kpis.loc["mttm_hours", "value"] == pytest.approx(
        (mitigated.mitigated_at - opened.opened_at).total_seconds() / 3600, abs=1e-3)
    # A closed incident no longer absorbs the finding: it comes back as a new one.
    assert incidents.report(channel, wh, catalog, _regression()).incident_id != opened.incident_id


def test_a_mitigated_incident_does_not_absorb_a_recurrence_and_reporting_meets_the_clock(wh, catalog):
    first = incidents.raise_finding(wh, catalog, _regression())
    incidents.transition(wh, first.incident_id, "report", "dpo@example.org", "reported to the market surveillance authority")
    with pytest.raises(ApprovalRefused, match="reported at"):
        incidents.transition(wh, first.incident_id, "report", "dpo@example.org", "again")
    mitigated = incidents.transition(wh, first.incident_id, "mitigate", "oncall@example.org", "rolled back")
    assert mitigated.reported_at is not None and mitigated.pending() == []  # nothing left to meet but closing
    recurrence = incidents.raise_finding(wh, catalog, _regression("2016-b02.abc"))
    assert recurrence.incident_id != first.incident_id and recurrence.status == "open"


def test_findings_the_policy_does_not_make_incidents_open_none(wh, catalog):
    assert catalog.policy.tier_for(catalog.system("acs_employment")).drift == "warn"
    assert incidents.raise_finding(wh, catalog, _regression(kind="dataset_drift")) is None  # the tier only warns
    assert incidents.raise_finding(wh, catalog, _regression(kind="column_drift")) is None  # no rule for it
    assert incidents.raise_finding(wh, catalog, _regression("reference-2015.def", "data_quality_failed")) is None
    assert incidents.raise_finding(wh, catalog, _regression(kind="data_quality_failed")).severity == "major"


def test_deadlines_near_or_missed_are_alerted_once_and_counted_past_deadline(wh, catalog, tmp_path):
    opened = incidents.raise_finding(wh, catalog, _regression())
    channel = AlertChannel(file=str(tmp_path / "alerts.jsonl"))
    assert opened.due["acknowledge"] - opened.opened_at > timedelta(hours=catalog.policy.incidents.warn_before_hours)
    assert incidents.warn_deadlines(channel, wh, catalog) == []  # not near yet
    later = opened.due["acknowledge"] - timedelta(hours=0.5)
    [near] = incidents.warn_deadlines(channel, wh, catalog, at=later)
    assert "acknowledge deadline" in near.summary and "due in 0.5 h" in near.summary
    assert incidents.warn_deadlines(channel, wh, catalog, at=later) == []  # once per deadline
    assert [i.overdue(opened.due["acknowledge"] + timedelta(hours=1)) for i in incidents.current(wh)] == [["acknowledge"]]
    assert _kpis(wh).loc["incidents_past_deadline", "numerator"] == 0  # now, nothing is late yet


def _key_file(tmp_path, key):
    path = tmp_path / "key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def _passing_decision(catalog, review=None):
    """A night on which everything passed (the high tier cut to one suite, no checks, one night to release): what
    remains is the review."""
    import pandas as pd
    high = catalog.policy.tiers["high"]
    tier = high.model_copy(update={"required_suites": ["performance"], "checks": [], "regression": [],
                                   "release": high.release.model_copy(update={"consecutive_passes": 1})})
    policy = catalog.policy.model_copy(update={"tiers": {**catalog.policy.tiers, "high": tier}})
    now = datetime.now(UTC)
    runs = pd.DataFrame([{"run_id": "r1", "suite": "performance", "status": "ok", "error": None, "finished_at": now,
                          "suite_digest": "s", "family": "performance", "code_version": "c"}])
    metrics = pd.DataFrame(columns=["run_id", "family", "metric", "slice", "value", "ci_low", "ci_high", "n", "bounds"])
    return decide(catalog.system("acs_employment"), policy, "3", "2016-b01.abc", runs, metrics, review=review)


def test_a_review_lifecycle_with_triage_refusals_and_a_signed_decision(wh, catalog, tmp_path):
    bundle = tmp_path / "v3.zip"
    bundle.write_bytes(b"the evidence bundle the reviewer reads")
    review = reviews.request(wh, catalog, "acs_employment", "3", "ml-engineer@example.org", bundle, sha256_file(bundle))
    assert set(review.reviewers) == set(catalog.policy.tiers["high"].review.reviewers)
    with pytest.raises(Exception, match="already open"):
        reviews.request(wh, catalog, "acs_employment", "3", "ml-engineer@example.org", bundle, sha256_file(bundle))
    decide_ = lambda by, key, decision="approve", **kw: reviews.decide(  # noqa: E731
        wh, catalog, review.review_id, decision, "checks pass on intervals", by, key, **kw)
    with pytest.raises(ApprovalRefused, match="is not among its assigned reviewers"):
        decide_("ml-lead@example.org", KEYS / "ml-lead@example.org.pem")
    with pytest.raises(ApprovalRefused, match="signature is not model-risk-reviewer@example.org's"):
        decide_(REVIEWER, _key_file(tmp_path, Ed25519PrivateKey.generate()))
    with pytest.raises(Exception, match="needs --conditions"):
        decide_(REVIEWER, KEYS / f"{REVIEWER}.pem", "approve_with_conditions")
    assert reviews.approved(wh, catalog.policy, catalog.system("acs_employment"), "3") is None
    done = decide_(REVIEWER, KEYS / f"{REVIEWER}.pem", "approve_with_conditions", conditions="re-review on any incident")
    assert done.status == "approved_with_conditions" and done.decided_by == REVIEWER
    assert reviews.approved(wh, catalog.policy, catalog.system("acs_employment"), "3").review_id == review.review_id
    with pytest.raises(ApprovalRefused, match="already approved_with_conditions"):
        decide_(REVIEWER, KEYS / f"{REVIEWER}.pem")
    cycle = _kpis(wh).loc["review_cycle_hours"]
    assert cycle.denominator == 1 and 0 <= cycle.value < 0.1


def test_the_requester_cannot_review_their_own_release(wh, catalog, tmp_path):
    bundle = tmp_path / "v3.zip"
    bundle.write_bytes(b"bundle")
    review = reviews.request(wh, catalog, "acs_employment", "3", REVIEWER, bundle, sha256_file(bundle))
    assert REVIEWER not in review.reviewers  # triage never assigns the requester
    with pytest.raises(ApprovalRefused, match="requested it and cannot decide it"):
        reviews.decide(wh, catalog, review.review_id, "approve", "fine", REVIEWER, KEYS / f"{REVIEWER}.pem")


def test_a_changed_bundle_cannot_be_approved(wh, catalog, tmp_path):
    bundle = tmp_path / "v3.zip"
    bundle.write_bytes(b"bundle")
    review = reviews.request(wh, catalog, "acs_employment", "3", "ml-engineer@example.org", bundle, sha256_file(bundle))
    bundle.write_bytes(b"bundle, edited")
    with pytest.raises(ApprovalRefused, match="missing or changed since the request"):
        reviews.decide(wh, catalog, review.review_id, "approve", "fine", REVIEWER, KEYS / f"{REVIEWER}.pem")


def test_a_release_waits_for_an_approved_review_where_the_tier_requires_one(wh, catalog, tmp_path):
    assert catalog.policy.tiers["high"].review.required
    bundle = tmp_path / "v3.zip"
    bundle.write_bytes(b"bundle")
    waiting = _passing_decision(catalog)
    [reason] = [r for r in waiting.reasons if r.check == "review"]
    assert reason.status == "insufficient_evidence" and waiting.verdict == "insufficient_evidence"
    review = reviews.request(wh, catalog, "acs_employment", "3", "ml-engineer@example.org", bundle, sha256_file(bundle))
    done = reviews.decide(wh, catalog, review.review_id, "approve", "fine", REVIEWER, KEYS / f"{REVIEWER}.pem")
    released = _passing_decision(catalog, done)
    assert [r.status for r in released.reasons if r.check == "review"] == ["pass"] and released.verdict == "pass"
    assert released.decision_id != waiting.decision_id  # the review is part of what the decision rests on


def test_a_newer_rejection_overrides_an_older_approval(wh, catalog, tmp_path):
    bundle = tmp_path / "v3.zip"
    bundle.write_bytes(b"bundle")
    system = catalog.system("acs_employment")
    first = reviews.request(wh, catalog, "acs_employment", "3", "ml-engineer@example.org", bundle, sha256_file(bundle))
    reviews.decide(wh, catalog, first.review_id, "approve", "fine", REVIEWER, KEYS / f"{REVIEWER}.pem")
    assert reviews.approved(wh, catalog.policy, system, "3") is not None
    second = reviews.request(wh, catalog, "acs_employment", "3", "ml-engineer@example.org", bundle, sha256_file(bundle))
    reviews.decide(wh, catalog, second.review_id, "reject", "an incident since", REVIEWER, KEYS / f"{REVIEWER}.pem")
    assert reviews.approved(wh, catalog.policy, system, "3") is None


def test_control_coverage_reads_live_evidence(wh, catalog):
    """A decision on v3 whose accuracy check passed and calibration failed, the suites that ran on its batch, and no
    bundle: each control's status follows from exactly those facts."""
    import json

    from rai_pipelines.governance import controls

    now = datetime.now(UTC)
    for suite in ("performance", "attributions"):
        wh.write("evaluation_runs", "acs_employment", f"r-{suite}", [{
            "run_id": f"r-{suite}", "system": "acs_employment", "model_name": "m", "model_version": "3",
            "dataset_version": "2016-b01.abc", "dataset_digest": "d", "suite": suite, "suite_digest": "s", "status": "ok",
            "error": None, "started_at": now, "finished_at": now, "dagster_run_id": "", "dagster_partition": "",
            "mlflow_run_id": "m", "code_version": "c"}])
    reasons = [{"check": "accuracy_floor", "status": "pass"}, {"check": "calibration", "status": "fail"}]
    wh.write("gate_decisions", "acs_employment", "d1", [{
        "decision_id": "d1", "system": "acs_employment", "model_version": "3", "dataset_version": "2016-b01.abc",
        "risk_tier": "high", "policy_version": "p", "verdict": "fail", "reasons": json.dumps(reasons), "waivers_applied": "[]",
        "decided_at": now, "evidence_digest": "e", "evaluation_run_ids": '["r-performance"]', "code_version": "c"}])
    found = {c.control.id: c for c in controls.coverage(catalog, wh, "acs_employment")}
    assert set(found) == set(catalog.controls)
    accuracy = found["eu-ai-act:art-15-accuracy"]  # performance ran and accuracy passed; calibration failed
    assert accuracy.status == "partial"
    assert {s.name for s in accuracy.satisfied_by} >= {"performance", "accuracy_floor"}
    assert "calibration" in {s.name for s in accuracy.lacking}
    # Attributions is not a required suite, yet it ran on the batch: MEASURE 2.9 is served by it alone.
    assert found["nist-ai-rmf:measure-2.9"].status == "satisfied"
    assert found["eu-ai-act:art-11"].status == "missing"  # no bundle, so no technical documentation
    assert found["nist-ai-rmf:measure-2.13"].status == "missing" and not found["nist-ai-rmf:measure-2.13"].lacking
    assert sum(controls.summary(list(found.values())).values()) == len(catalog.controls)
