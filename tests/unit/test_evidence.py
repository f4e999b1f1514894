"""Evidence bundles are tamper-evident, and cards escape every user string."""

import json
import zipfile
from datetime import UTC, datetime

import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from rai_pipelines.evidence.bundle import MANIFEST, SIGNATURE, verify, write_bundle
from rai_pipelines.evidence.card import card_context, render
from rai_pipelines.gate import Decision, Reason

FILES = {"card.md": b"# card\nverdict PASS\n", "decision.json": b'{"verdict": "pass"}', "metrics.csv": b"metric,value\ntpr,0.8\n"}


@pytest.fixture
def signed(tmp_path):
    key = Ed25519PrivateKey.generate()
    built = write_bundle(tmp_path / "bundle.zip", FILES, {"system": "s"}, {"card": True, "decision": True, "metrics": True},
                         ["card", "decision", "metrics"], key)
    return built, key


def test_incomplete_bundle_is_rejected(tmp_path):
    key = Ed25519PrivateKey.generate()
    built = write_bundle(tmp_path / "b.zip", FILES, {}, {"card": True, "decision": True}, ["card", "decision", "metrics"], key)
    assert built.completeness == pytest.approx(2 / 3) and built.missing == ["metrics"]
    assert verify(built.path, key.public_key()) == ["incomplete: the policy requires evidence it lacks: metrics"]


def test_duplicate_entry_cannot_hide_a_forged_file(signed, tmp_path):
    built, key = signed
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(built.path) as src, zipfile.ZipFile(forged, "w") as dst:
        dst.writestr("card.md", b"# forged card\nverdict PASS\n")  # read first by most extractors
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
    assert verify(forged, key.public_key()) == ["duplicate entries in the zip: card.md"]


def _rewrite(src, dst, change):
    """Copy a zip, letting `change(name, data)` return new bytes, or None to drop the file."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = change(item.filename, zin.read(item.filename))
            if data is not None:
                zout.writestr(item.filename, data)
    return dst


def test_intact_bundle_verifies_and_records_completeness(signed):
    built, key = signed
    assert verify(built.path, key.public_key()) == []
    assert built.completeness == 1.0 and built.missing == []
    assert set(built.manifest["files"]) == set(FILES)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda n, d: d.replace(b"PASS", b"FAIL") if n == "card.md" else d, "modified file: card.md"),
        (lambda n, d: None if n == "metrics.csv" else d, "missing file: metrics.csv"),
        (lambda n, d: None if n == SIGNATURE else d, "MANIFEST.sig is missing"),
        (lambda n, d: d.replace(b'"system": "s"', b'"system": "t"') if n == MANIFEST else d, "signature does not verify"),
    ],
)
def test_each_tamper_is_rejected(signed, tmp_path, change, expected):
    built, key = signed
    tampered = _rewrite(built.path, tmp_path / "tampered.zip", change)
    problems = verify(tampered, key.public_key())
    assert any(expected in p for p in problems), problems


def test_added_file_is_rejected(signed, tmp_path):
    built, key = signed
    tampered = tmp_path / "added.zip"
    _rewrite(built.path, tampered, lambda n, d: d)
    with zipfile.ZipFile(tampered, "a") as z:
        z.writestr("extra.txt", b"slipped in")
    assert "added file not in the manifest: extra.txt" in verify(tampered, key.public_key())


def test_another_signers_key_is_rejected(signed):
    built, _ = signed
    assert any("signature does not verify" in p for p in verify(built.path, Ed25519PrivateKey.generate().public_key()))


def test_not_a_zip_is_rejected(tmp_path, signed):
    _, key = signed
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    assert verify(tmp_path / "x.zip", key.public_key())[0].startswith("not a readable zip file")


XSS = "<script>alert(1)</script>"


def test_card_escapes_user_strings_in_html_and_markdown(catalog, tmp_path):
    system = catalog.system("acs_employment")
    spec = system.data.sensitive_features["SEX"].model_copy(update={"groups": {XSS: ["1"], "Female": ["2"]}})
    hostile = system.model_copy(update={
        "title": f"Employment {XSS}",
        "data": system.data.model_copy(update={"sensitive_features": {**system.data.sensitive_features, "SEX": spec}}),
    })
    decision = Decision("d1", system.name, "3", "2016-b01.abc", "high", "p1", "fail",
                        [Reason(f"check {XSS}", "fail", f"group SEX={XSS} failed")], ["r1"], datetime.now(UTC),
                        [{"waiver_id": "w-1", "scope": "calibration", "reason": XSS, "requested_by": "a", "approved_by": "b",
                          "expires_at": "x"}])
    metrics = pd.DataFrame([{"family": "fairness", "metric": "tpr", "slice": f"SEX={XSS}", "value": 0.8, "ci_low": 0.7,
                             "ci_high": 0.9, "n": 500},
                            {"family": "robustness", "metric": "noise_flip_rate", "slice": f"SEX={XSS}", "value": 0.1,
                             "ci_low": 0.05, "ci_high": 0.15, "n": 500},
                            {"family": "proxies", "metric": "proxy_auc", "slice": f"{XSS}|SEX", "value": 0.9,
                             "ci_low": 0.85, "ci_high": 0.95, "n": 500}])
    drift = pd.DataFrame([{"column_name": XSS, "method": "jensenshannon", "statistic": 0.2, "threshold": 0.1, "drifted": True}])
    quality = pd.DataFrame([{"expectation": "expect_x", "column_name": XSS, "success": False}])
    context = card_context(catalog, hostile, decision, {"name": "m", "version": "3", "recipe": XSS, "artifact_sha256": "a"},
                           {"key": "k", "digest": "d", "rows": 1, "source": XSS, "window": "w"}, metrics, quality, drift)
    card = render(context)
    assert XSS not in card.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in card.html
    assert XSS not in card.markdown and "&lt;script&gt;" in card.markdown
    assert "<script>" not in card.html  # not even a broken one
    # The technical documentation draws on the same context: escaped the same way, in both renderings.
    from rai_pipelines.evidence import techdoc
    from rai_pipelines.warehouse import Warehouse

    documentation = techdoc.render(catalog, hostile, context, Warehouse(tmp_path / "wh"), "now")
    assert "<script>" not in documentation.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in documentation.html
    assert XSS not in documentation.markdown and "## 4. Appropriateness of the performance metrics" in documentation.markdown
    assert "| check " in documentation.markdown and "check &lt;script&gt;" in documentation.markdown


def test_card_sections_of_the_probing_families(catalog):
    system = catalog.system("acs_employment")
    decision = Decision("d1", system.name, "3", "2016-b01.abc", "high", "p1", "fail", [], ["r1"], datetime.now(UTC), [])
    row = lambda family, metric, slice_, value, lo, hi: {"family": family, "metric": metric, "slice": slice_,  # noqa: E731
                                                         "value": value, "ci_low": lo, "ci_high": hi, "n": 1000}
    metrics = pd.DataFrame([
        row("robustness", "noise_flip_rate", "overall", 0.04, 0.03, 0.05),
        row("robustness", "noise_flip_rate", "SEX=Female", 0.06, 0.04, 0.08),
        row("robustness", "noise_flip_rate", "SEX=Male", 0.02, 0.01, 0.03),
        row("robustness", "noise_accuracy_change", "overall", -0.01, -0.02, 0.0),
        row("robustness", "noise_unscorable_rate", "overall", 0.0, 0.0, 0.003),
        row("counterfactual", "flip_rate", "SEX", 0.15, 0.14, 0.16),
        row("counterfactual", "proxy_flip_excess", "SEX", 0.01, -0.01, 0.03),
        row("proxies", "proxy_auc", "CIT|RAC1P=Asian", 0.78, 0.75, 0.80),  # wholly above the tier's 0.7: listed
        row("proxies", "proxy_auc", "ANC|RAC1P=Asian", 0.69, 0.66, 0.72),  # straddles it: not listed
        row("proxies", "mutual_information", "CIT|RAC1P", 0.05, 0.04, 0.06),
        row("attributions", "shap_share", "AGEP", 0.45, 0.43, 0.47),
        row("attributions", "permutation_importance", "AGEP", 0.18, 0.17, 0.19),
        row("attributions", "shap_share_change_vs_champion", "SEX", 0.17, 0.16, 0.18),  # moved, though not in the top
    ])
    context = card_context(catalog, system, decision, {"name": "m", "version": "3", "recipe": "r", "artifact_sha256": "a"},
                           {"key": "k", "digest": "d", "rows": 1, "source": "s", "window": "w"}, metrics, pd.DataFrame(),
                           pd.DataFrame())
    card = render(context).html
    cells = lambda *values: "".join(f"<td>{v}</td>" for v in values)  # noqa: E731
    assert cells("noise", "0.0400 [0.0300, 0.0500]", "0.0000 [0.0000, 0.0030]", "-0.0100 [-0.0200, 0.0000]",
                 "SEX=Female: 0.0600 flipped") in card
    assert cells("SEX", "0.1500 [0.1400, 0.1600]", "not measured", "not measured", "0.0100 [-0.0100, 0.0300]") in card
    assert cells("CIT", "RAC1P=Asian", "0.7800 [0.7500, 0.8000]", "0.0500") in card and "<td>ANC</td>" not in card
    assert cells("RAC1P", "not measured") in card
    assert cells("AGEP", "0.4500 [0.4300, 0.4700]", "0.1800 [0.1700, 0.1900]", "not measured", "not measured") in card
    assert cells("SEX", "not measured", "not measured", "not measured", "0.1700 [0.1600, 0.1800]") in card


def test_signing_key_comes_from_configuration_and_only_the_embedded_default_creates_one(tmp_path):
    import os

    from rai_pipelines.errors import RaiError
    from rai_pipelines.evidence.keys import SigningKey, fingerprint
    from rai_pipelines.settings import load_settings

    production = load_settings({"RAI_HOME": str(tmp_path / "p"), "RAI_PROFILE": "production", "MLFLOW_TRACKING_URI": "x",
                                "MLFLOW_ARTIFACT_ROOT": "x", "MLFLOW_UI_URL": "", "RAI_ALERT_WEBHOOK_URL": "",
                                "RAI_SHARED_DIR": str(tmp_path / "shared")})
    with pytest.raises(RaiError, match="signs only with its configured key"):
        production.signing_key().load()
    assert not (tmp_path / "p" / "keys").exists()  # a worker never mints a key of its own

    local = load_settings({"RAI_HOME": str(tmp_path / "l"), "RAI_PROFILE": "local"}).signing_key()
    said = []
    key = local.load(said.append)
    assert len(said) == 1 and os.stat(local.path).st_mode & 0o777 == 0o600
    assert fingerprint(local.load(said.append).public_key()) == fingerprint(key.public_key()) and len(said) == 1

    configured = load_settings({"RAI_HOME": str(tmp_path / "l"), "RAI_PROFILE": "local",
                                "RAI_EVIDENCE_KEY": str(tmp_path / "elsewhere.pem")}).signing_key()
    with pytest.raises(RaiError, match="no such file"):  # a configured key that is missing is reported, not replaced
        configured.load()
    assert SigningKey(local.path).load().public_key() is not None  # the file made for local, named explicitly


def test_card_states_the_confidence_each_suite_computed_its_intervals_at(catalog):
    system = catalog.system("acs_employment")
    at_90 = {name: suite.model_copy(update={"confidence": 0.9}) if suite.family in ("fairness", "proxies") else suite
             for name, suite in catalog.suites.items()}
    ninety = catalog.model_copy(update={"suites": at_90})
    decision = Decision("d1", system.name, "3", "2016-b01.abc", "high", "p1", "pass", [], ["r1"], datetime.now(UTC), [])
    metrics = pd.DataFrame([
        {"family": "fairness", "metric": "tpr", "slice": "overall", "value": 0.8, "ci_low": 0.7, "ci_high": 0.9, "n": 500},
        {"family": "performance", "metric": "accuracy", "slice": "overall", "value": 0.8, "ci_low": 0.75, "ci_high": 0.85,
         "n": 500},
        {"family": "proxies", "metric": "proxy_auc", "slice": "CIT|RAC1P=Asian", "value": 0.78, "ci_low": 0.75,
         "ci_high": 0.8, "n": 500}])
    card = render(card_context(ninety, system, decision, {"name": "m", "version": "3", "recipe": "r", "artifact_sha256": "a"},
                               {"key": "k", "digest": "d", "rows": 1, "source": "s", "window": "w"}, metrics,
                               pd.DataFrame(), pd.DataFrame()))
    assert "<td>[0.7000, 0.9000]</td><td>90%</td>" in card.html  # fairness, set to 0.9
    assert "<td>[0.7500, 0.8500]</td><td>95%</td>" in card.html  # performance, left at its default
    assert "(90% interval)" in card.html and "(90% interval)" in card.markdown
    assert "95% intervals" not in card.html


def test_a_bundle_re_signed_by_an_unknown_key_is_rejected(signed, tmp_path):
    """Edit the card, recompute the manifest and re-sign it with one's own key, naming oneself as the signer: the
    verifier's trusted publisher key rejects it on the signature and on the signer."""
    from rai_pipelines.evidence.keys import fingerprint

    built, publisher = signed
    forger = Ed25519PrivateKey.generate()
    with zipfile.ZipFile(built.path) as z:
        files = {n: z.read(n) for n in z.namelist() if n not in (MANIFEST, SIGNATURE)}
        header = {k: v for k, v in json.loads(z.read(MANIFEST)).items() if k not in ("files", "signer", "created_at")}
    files["card.md"] = b"# card\nverdict PASS (edited)\n"
    forged = write_bundle(tmp_path / "forged.zip", files, header, {"card": True, "decision": True, "metrics": True},
                          ["card", "decision", "metrics"], forger)
    assert forged.manifest["signer"] == fingerprint(forger.public_key())
    problems = verify(forged.path, publisher.public_key())
    assert any("signature does not verify" in p for p in problems)
    assert any(f"not the trusted key {fingerprint(publisher.public_key())}" in p for p in problems)
    assert verify(forged.path, forger.public_key()) == []  # only the forger's own key would accept it
