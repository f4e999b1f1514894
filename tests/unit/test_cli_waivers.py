"""`rai waiver` and `rai evidence` from the shell: exit 1 when refused or tampered, one line each."""

import json

from rai_pipelines.cli import main

APPROVER = "head-of-responsible-ai@example.org"


def test_waiver_commands(settings, register_model, capsys):
    mv = register_model(rows=2000)
    args = ["waiver", "request", "acs_employment", "--check", "calibration", "--model-version", mv.version,
            "--reason", "recalibration next sprint", "--by", "alice@example.org", "--expires", "2099-01-01", "--json"]
    assert main(args) == 0
    waiver_id = json.loads(capsys.readouterr().out)["waiver_id"]
    assert main(["waiver", "approve", waiver_id, "--by", "alice@example.org"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot approve it" in err
    assert main(["waiver", "approve", waiver_id, "--by", "bob@example.org"]) == 1
    assert "may not approve" in capsys.readouterr().err
    assert main(["waiver", "approve", waiver_id, "--by", APPROVER]) == 0
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
    assert main(["evidence", "verify", str(out)]) == 1  # signed and unmodified, but missing required evidence
    assert "incomplete: the policy requires evidence it lacks" in capsys.readouterr().err
    assert main(["query", "select completeness, verdict from evidence_bundles", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["verdict"] == "unassessed" and row["completeness"] < 1
