"""The waiver lifecycle: request, approval by someone else allowed by the policy and signed with their own key,
expiry, revocation, lapse when what it excuses changes, and its effect on the gate."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from rai_pipelines import waivers
from rai_pipelines.gate import decide_from_warehouse
from rai_pipelines.waivers import WaiverRefused
from rai_pipelines.warehouse import Warehouse
from tests.conftest import ROOT

APPROVER = "head-of-responsible-ai@example.org"  # the high tier's approver in assets/policies
KEY = ROOT / "assets" / "demo_keys" / f"{APPROVER}.pem"  # the private half of the key the policy lists for them
SOON = datetime.now(UTC) + timedelta(days=30)


def _artifact(wh, version="3", digest="a" * 64):
    """The registry sensor's record of a model version, whose artifact digest a waiver is bound to."""
    now = datetime.now(UTC)
    wh.write("model_versions", "acs_employment", f"mv-{version}-{digest[:8]}", [{
        "system": "acs_employment", "model_name": "m", "model_version": version, "artifact_sha256": digest,
        "recipe": "r", "mlflow_run_id": "", "registered_at": now, "recorded_at": now}])


@pytest.fixture
def wh(tmp_path):
    wh = Warehouse(tmp_path)
    _artifact(wh, "3")
    _artifact(wh, "2", "b" * 64)
    return wh


def _approve(wh, catalog, w, by=APPROVER, key=KEY):
    return waivers.approve(wh, catalog, w.waiver_id, by, key)


def _request(wh, catalog, by="alice@example.org", check="calibration", expires=SOON):
    return waivers.request(wh, catalog, "acs_employment", check, "3", "recalibration ships next sprint", by, expires)


def test_request_then_approve_applies(wh, catalog):
    w = _request(wh, catalog)
    assert w.status == "requested" and waivers.applicable(wh, catalog.policy, catalog.system("acs_employment"), "3") == {}
    approved = _approve(wh, catalog, w)
    assert approved.status == "approved" and approved.approved_by == APPROVER
    assert set(waivers.applicable(wh, catalog.policy, catalog.system("acs_employment"), "3")) == {"calibration"}
    assert waivers.applicable(wh, catalog.policy, catalog.system("acs_employment"), "2") == {}  # scope is one model version
    history = wh.frame("select action, actor, status from waivers order by event_at")
    assert history.to_dict("records") == [
        {"action": "request", "actor": "alice@example.org", "status": "requested"},
        {"action": "approve", "actor": APPROVER, "status": "approved"},
    ]


def test_self_approval_is_refused(wh, catalog):
    w = _request(wh, catalog, by=APPROVER)
    with pytest.raises(WaiverRefused, match="cannot approve it"):
        _approve(wh, catalog, w)


def test_approver_not_in_policy_is_refused(wh, catalog):
    w = _request(wh, catalog)
    with pytest.raises(WaiverRefused, match="may not approve waivers for tier 'high'"):
        _approve(wh, catalog, w, by="bob@example.org")


def test_expired_waiver_no_longer_applies(wh, catalog):
    w = _request(wh, catalog, expires=datetime.now(UTC) + timedelta(days=2))
    _approve(wh, catalog, w)
    later = datetime.now(UTC) + timedelta(days=3)
    assert waivers.applicable(wh, catalog.policy, catalog.system("acs_employment"), "3", at=later) == {}
    assert [x.status for x in waivers.current(wh, at=later)] == ["expired"]


def test_revoked_waiver_no_longer_applies_and_history_is_kept(wh, catalog):
    w = _request(wh, catalog)
    _approve(wh, catalog, w)
    waivers.revoke(wh, w.waiver_id, APPROVER, "fix shipped")
    assert waivers.applicable(wh, catalog.policy, catalog.system("acs_employment"), "3") == {}
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
    _approve(wh, catalog, w)
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
    _approve(wh, catalog, _request(wh, catalog))
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


def _key_file(tmp_path, key):
    path = tmp_path / "someone.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def test_an_approval_signed_with_a_key_the_policy_does_not_list_is_refused(wh, catalog, tmp_path):
    w = _request(wh, catalog)
    forged = _key_file(tmp_path, Ed25519PrivateKey.generate())  # typing the approver's name proves nothing
    with pytest.raises(WaiverRefused, match="signature is not head-of-responsible-ai@example.org's"):
        _approve(wh, catalog, w, key=forged)
    assert waivers.get(wh, w.waiver_id).status == "requested"
    assert waivers.applicable(wh, catalog.policy, catalog.system("acs_employment"), "3") == {}


def test_a_forged_approval_row_in_the_warehouse_does_not_count(wh, catalog):
    """Someone with write access to the warehouse copies an approval event but cannot sign it."""
    w = _request(wh, catalog)
    approved = _approve(wh, catalog, w)
    row = wh.frame("select * from waivers where action = 'approve'").iloc[0].to_dict()
    wh.write("waivers", "acs_employment", "forged", [{**row, "event_id": "forged", "waiver_id": "w-forged",
                                                      "model_version": "2", "event_at": datetime.now(UTC)}])
    assert waivers.applicable(wh, catalog.policy, catalog.system("acs_employment"), "2") == {}
    assert set(waivers.applicable(wh, catalog.policy, catalog.system("acs_employment"), "3")) == {approved.check_name}


def test_a_waiver_lapses_when_the_model_artifact_changes(wh, catalog):
    w = _request(wh, catalog)
    _approve(wh, catalog, w)
    system = catalog.system("acs_employment")
    assert set(waivers.applicable(wh, catalog.policy, system, "3")) == {"calibration"}
    _artifact(wh, "3", "c" * 64)  # version 3 re-registered with another artifact
    assert waivers.applicable(wh, catalog.policy, system, "3") == {}
    [listed] = waivers.current(wh, catalog=catalog)
    assert listed.status == "lapsed" and "model artifact" in listed.lapsed_because


def test_a_waiver_lapses_when_the_policy_or_the_check_changes(wh, catalog):
    w = _request(wh, catalog)
    _approve(wh, catalog, w)
    system = catalog.system("acs_employment")
    tier = catalog.policy.tiers["high"]
    looser = [c.model_copy(update={"threshold": 0.2}) if c.name == "calibration" else c for c in tier.checks]
    policy = catalog.policy.model_copy(update={"tiers": {**catalog.policy.tiers, "high": tier.model_copy(update={"checks": looser})}})
    assert waivers.applicable(wh, policy, system, "3") == {}
    assert set(waivers.applicable(wh, catalog.policy, system, "3")) == {"calibration"}


def test_a_waiver_may_not_outlast_the_tier_maximum(wh, catalog):
    longest = catalog.policy.tiers["high"].max_waiver_days
    with pytest.raises(Exception, match=f"more than {longest} days away"):
        _request(wh, catalog, expires=datetime.now(UTC) + timedelta(days=longest + 1))


def test_a_revoked_waiver_stays_revoked_when_its_approval_row_is_replayed(wh, catalog):
    w = _request(wh, catalog)
    _approve(wh, catalog, w)
    waivers.revoke(wh, w.waiver_id, APPROVER, "fix shipped")
    row = wh.frame("select * from waivers where action = 'approve'").iloc[0].to_dict()
    wh.write("waivers", "acs_employment", "replayed", [{**row, "event_id": "replayed", "event_at": datetime.now(UTC)}])
    assert waivers.applicable(wh, catalog.policy, catalog.system("acs_employment"), "3") == {}
    assert waivers.get(wh, w.waiver_id).status == "revoked"


def test_a_requester_signing_their_own_approval_row_does_not_count(wh, catalog):
    """The requester has a key in the policy (as the demo's engineer does) and writes an approval row signed with it."""
    from dataclasses import replace

    from rai_pipelines.governance import approvals

    requester = "ml-engineer@example.org"
    w = _request(wh, catalog, by=requester)
    forged = replace(w, approved_by=requester, status="approved")
    forged = replace(forged, signature=approvals.sign(ROOT / "assets" / "demo_keys" / f"{requester}.pem",
                                                      forged.approval_payload()))
    assert approvals.problem(catalog.policy, requester, forged.approval_payload(), forged.signature) is None
    waivers._write(wh, forged, "approve", requester)  # noqa: SLF001 - what a writer with warehouse access could do
    assert waivers.applicable(wh, catalog.policy, catalog.system("acs_employment"), "3") == {}
