"""The waiver lifecycle: request, approval by someone else allowed by the policy,
expiry, revocation, and its effect on the gate."""

from datetime import UTC, datetime, timedelta

import pytest

from rai_pipelines import waivers
from rai_pipelines.gate import decide_from_warehouse
from rai_pipelines.waivers import WaiverRefused
from rai_pipelines.warehouse import Warehouse

APPROVER = "head-of-responsible-ai@example.org"  # the high tier's approver in assets/policies
SOON = datetime.now(UTC) + timedelta(days=30)


@pytest.fixture
def wh(tmp_path):
    return Warehouse(tmp_path)


def _request(wh, catalog, by="alice@example.org", check="calibration", expires=SOON):
    return waivers.request(wh, catalog, "acs_employment", check, "3", "recalibration ships next sprint", by, expires)


def test_request_then_approve_applies(wh, catalog):
    w = _request(wh, catalog)
    assert w.status == "requested" and waivers.applicable(wh, "acs_employment", "3") == {}
    approved = waivers.approve(wh, catalog, w.waiver_id, APPROVER)
    assert approved.status == "approved" and approved.approved_by == APPROVER
    assert set(waivers.applicable(wh, "acs_employment", "3")) == {"calibration"}
    assert waivers.applicable(wh, "acs_employment", "2") == {}  # scope is one model version
    history = wh.frame("select action, actor, status from waivers order by event_at")
    assert history.to_dict("records") == [
        {"action": "request", "actor": "alice@example.org", "status": "requested"},
        {"action": "approve", "actor": APPROVER, "status": "approved"},
    ]


def test_self_approval_is_refused(wh, catalog):
    w = _request(wh, catalog, by=APPROVER)
    with pytest.raises(WaiverRefused, match="cannot approve it"):
        waivers.approve(wh, catalog, w.waiver_id, APPROVER)


def test_approver_not_in_policy_is_refused(wh, catalog):
    w = _request(wh, catalog)
    with pytest.raises(WaiverRefused, match="may not approve waivers for tier 'high'"):
        waivers.approve(wh, catalog, w.waiver_id, "bob@example.org")


def test_expired_waiver_no_longer_applies(wh, catalog):
    w = _request(wh, catalog, expires=datetime.now(UTC) + timedelta(days=2))
    waivers.approve(wh, catalog, w.waiver_id, APPROVER)
    later = datetime.now(UTC) + timedelta(days=3)
    assert waivers.applicable(wh, "acs_employment", "3", at=later) == {}
    assert [x.status for x in waivers.current(wh, at=later)] == ["expired"]


def test_revoked_waiver_no_longer_applies_and_history_is_kept(wh, catalog):
    w = _request(wh, catalog)
    waivers.approve(wh, catalog, w.waiver_id, APPROVER)
    waivers.revoke(wh, w.waiver_id, APPROVER, "fix shipped")
    assert waivers.applicable(wh, "acs_employment", "3") == {}
    assert wh.frame("select count(*) n from waivers").n[0] == 3
    with pytest.raises(WaiverRefused, match="already revoked"):
        waivers.revoke(wh, w.waiver_id, APPROVER, "again")


@pytest.mark.parametrize("check, expires, message", [
    ("no_such_check", SOON, "no waivable check 'no_such_check'"),
    ("calibration", datetime.now(UTC) - timedelta(days=1), "is in the past"),
])
def test_bad_requests_are_refused(wh, catalog, check, expires, message):
    with pytest.raises(Exception, match=message):
        _request(wh, catalog, check=check, expires=expires)


def _seed_failing_calibration(wh):
    now = datetime.now(UTC)
    for suite, family, metric, value in [("performance", "performance", "ece", 0.09)]:
        wh.write("evaluation_runs", "acs_employment", f"r-{suite}", [{
            "run_id": f"r-{suite}", "system": "acs_employment", "model_name": "m", "model_version": "3", "dataset_version": "d.x",
            "dataset_digest": "x", "suite": suite, "suite_digest": "s", "status": "ok", "error": None, "started_at": now,
            "finished_at": now, "dagster_run_id": "", "dagster_partition": "", "mlflow_run_id": "m", "code_version": "c"}])
        wh.write("metrics", "acs_employment", f"r-{suite}", [{
            "run_id": f"r-{suite}", "system": "acs_employment", "model_version": "3", "dataset_version": "d.x", "family": family,
            "metric": metric, "slice": "overall", "value": value, "ci_low": 0.08, "ci_high": 0.1, "n": 1000, "recorded_at": now}])


def test_gate_shows_the_applied_waiver_and_stops_applying_it_when_revoked(wh, catalog):
    system = catalog.system("acs_employment")
    _seed_failing_calibration(wh)
    before = decide_from_warehouse(system, catalog.policy, "3", wh, "d.x")
    calibration = next(r for r in before.reasons if r.check == "calibration")
    assert calibration.status == "fail"
    w = _request(wh, catalog)
    waivers.approve(wh, catalog, w.waiver_id, APPROVER)
    waived = decide_from_warehouse(system, catalog.policy, "3", wh, "d.x")
    assert next(r for r in waived.reasons if r.check == "calibration").status == "waived"
    assert [a["waiver_id"] for a in waived.waivers_applied] == [w.waiver_id]
    assert waived.decision_id != before.decision_id
    # Other required suites never ran: still unassessed, a waiver cannot hide that.
    assert waived.verdict == "unassessed"
    waivers.revoke(wh, w.waiver_id, APPROVER, "no longer needed")
    after = decide_from_warehouse(system, catalog.policy, "3", wh, "d.x")
    assert next(r for r in after.reasons if r.check == "calibration").status == "fail" and not after.waivers_applied


def test_a_recorded_decision_is_re_derived_from_the_warehouse_snapshot_it_read(wh, catalog):
    """Audit: the decision records the snapshot all its reads saw; read there, the gate decides the same again,
    though the warehouse has moved on (a waiver approved since, a forced re-evaluation)."""
    from rai_pipelines import gate

    system = catalog.system("acs_employment")
    _seed_failing_calibration(wh)
    decided = decide_from_warehouse(system, catalog.policy, "3", wh, "d.x")
    gate.record(decided, wh)
    waivers.approve(wh, catalog, _request(wh, catalog).waiver_id, APPROVER)
    wh.write("metrics", "acs_employment", "r-performance", [{
        "run_id": "r-performance", "system": "acs_employment", "model_version": "3", "dataset_version": "d.x",
        "family": "performance", "metric": "ece", "slice": "overall", "value": 0.01, "ci_low": 0.005, "ci_high": 0.02,
        "n": 1000, "recorded_at": datetime.now(UTC)}])
    now = decide_from_warehouse(system, catalog.policy, "3", wh, "d.x")
    assert next(r for r in now.reasons if r.check == "calibration").status == "pass"

    recorded = wh.frame("select warehouse_snapshot, evidence_digest, reasons from gate_decisions").iloc[0]
    assert recorded.warehouse_snapshot == decided.warehouse_snapshot < now.warehouse_snapshot
    again = decide_from_warehouse(system, catalog.policy, "3", wh.at(int(recorded.warehouse_snapshot)), "d.x")
    assert [(r.check, r.status, r.observed) for r in again.reasons] == [(r.check, r.status, r.observed) for r in decided.reasons]
    assert again.evidence_digest == recorded.evidence_digest and not again.waivers_applied
    as_of = wh.at(int(recorded.warehouse_snapshot)).query("select value from metrics where metric = 'ece'")
    assert as_of.value.tolist() == [0.09]  # `rai query --as-of` shows what the decision saw
