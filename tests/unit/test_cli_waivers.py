"""`rai waiver` and `rai evidence` from the shell: exit 1 when refused or tampered, one line each."""

import json
from datetime import UTC, datetime, timedelta

from rai_pipelines.cli import main
from tests.conftest import ROOT

APPROVER = "head-of-responsible-ai@example.org"
KEYS = ROOT / "assets" / "demo_keys"
SOON = f"{datetime.now(UTC) + timedelta(days=30):%Y-%m-%d}"  # within the high tier's longest waiver


def test_waiver_commands(settings, register_model, capsys):
    mv = register_model(rows=2000)
    args = ["waiver", "request", "acs_employment", "--check", "calibration", "--model-version", mv.version,
            "--reason", "recalibration next sprint", "--by", "alice@example.org", "--expires", SOON, "--json"]
    assert main(args) == 0
    waiver_id = json.loads(capsys.readouterr().out)["waiver_id"]
    assert main(["waiver", "approve", waiver_id, "--by", APPROVER]) == 2  # no --key: usage
    capsys.readouterr()
    assert main(["waiver", "approve", waiver_id, "--by", "alice@example.org", "--key", str(KEYS / f"{APPROVER}.pem")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot approve it" in err
    assert main(["waiver", "approve", waiver_id, "--by", "bob@example.org", "--key", str(KEYS / f"{APPROVER}.pem")]) == 1
    assert "may not approve" in capsys.readouterr().err
    assert main(["waiver", "approve", waiver_id, "--by", APPROVER, "--key", str(KEYS / "ml-lead@example.org.pem")]) == 1
    assert "signature is not" in capsys.readouterr().err  # someone else's key, though the name is right
    assert main(["waiver", "approve", waiver_id, "--by", APPROVER, "--key", str(KEYS / f"{APPROVER}.pem")]) == 0
    capsys.readouterr()
    assert main(["waiver", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["status"] == "approved" and listed["approved_by"] == APPROVER
    assert main(["waiver", "revoke", waiver_id, "--by", APPROVER, "--reason", "fixed"]) == 0
    capsys.readouterr()
    assert main(["waiver", "request", "acs_employment", "--check", "calibration", "--model-version", "99", "--reason", "r",
                 "--by", "a", "--expires", "2099-01-01"]) == 2  # unknown model version: usage
    assert main(["waiver", "request", "acs_employment", "--check", "calibration", "--model-version", mv.version,
                 "--reason", "r", "--by", "a", "--expires", "next week"]) == 2


def test_evidence_bundle_for_a_never_evaluated_version_is_incomplete(settings, register_model, capsys, tmp_path):
    mv = register_model(rows=2000)
    out = tmp_path / "bundle.zip"
    assert main(["evidence", "bundle", "acs_employment", "--model-version", mv.version, "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    assert out.exists()
    assert main(["evidence", "verify", str(out)]) == 2  # the verifier must bring the publisher's key
    assert "--public-key" in capsys.readouterr().err
    assert main(["evidence", "verify", str(out), "--public-key", str(settings.signing_key().public_path)]) == 1
    # signed and unmodified, but missing required evidence
    assert "incomplete: the policy requires evidence it lacks" in capsys.readouterr().err
    assert main(["query", "select completeness, verdict from evidence_bundles", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["verdict"] == "unassessed" and row["completeness"] < 1
