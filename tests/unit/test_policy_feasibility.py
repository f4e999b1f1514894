"""Minimum evidence: a policy and suite that could never pass are refused at load; `rai policy explain` says what
each check needs."""

import json
import shutil

import pytest
import yaml

from rai_pipelines.catalog import load_catalog
from rai_pipelines.errors import CatalogError
from rai_pipelines.stats.power import detectable_rate, min_passing_n, passing_count
from tests.support import ROOT, run_rai


def test_a_perfect_sample_needs_the_exact_number_of_outcomes():
    # 95% one-sided at 0.025: n clean outcomes show a rate >= 0.95 once 0.025 ** (1/n) >= 0.95, i.e. n >= 72.
    assert min_passing_n(">=", 0.95, 0.025) == 72
    assert passing_count(">=", 0.95, 71, 0.025) is None
    assert min_passing_n("<=", 0.2, 0.05) == 14  # 1 - 0.05 ** (1/n) <= 0.2
    assert min_passing_n(">=", 1.0, 0.05) is None


def test_detectable_rate_has_the_power_it_claims():
    from scipy.stats import binom

    p = detectable_rate(">=", 0.8, 200, 0.05)
    k = passing_count(">=", 0.8, 200, 0.05)
    assert p > 0.8 and binom.sf(k - 1, 200, p) == pytest.approx(0.8, abs=1e-6)


def test_a_suite_too_small_to_ever_pass_is_refused_in_one_line(tmp_path):
    assets = tmp_path / "assets"
    shutil.copytree(ROOT / "assets", assets)
    path = assets / "suites" / "privacy.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["size"] = 1
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(CatalogError) as err:
        load_catalog(assets)
    message = str(err.value)
    assert "no_leakage" in message and "even a perfect sample needs n >=" in message and "support_assistant" in message
    assert "\n" not in message


def test_a_suite_smaller_than_the_policys_min_n_is_refused(tmp_path):
    assets = tmp_path / "assets"
    shutil.copytree(ROOT / "assets", assets)
    path = assets / "policies" / "risk_tiers.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["assistant_tiers"]["high"]["min_n"] = 100
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(CatalogError, match="the policy's min_n is 100"):
        load_catalog(assets)


def test_the_shipped_policy_and_suites_can_pass():
    catalog = load_catalog(ROOT / "assets")
    assert catalog.system("support_assistant")


def test_policy_explain_prints_every_check_with_what_it_needs(tmp_path):
    proc = run_rai("policy", "explain", "support_assistant", "--json", home=tmp_path / "state", check=True)
    out = json.loads(proc.stdout)
    assert out["alpha"] == 0.05 and out["multiplicity"] == "holm"
    by = {c["check"]: c for c in out["checks"] if c["kind"] == "threshold"}
    # Every check can be passed by a perfect sample at the shipped sizes (the loader refuses one that cannot) ...
    assert all(c["n"] >= c["min_n_to_pass"] for c in by.values()), by
    # ... but the judges' errors, measured on held-out sets, keep a truly clean assistant from passing the refusal
    # and leakage checks 80% of the time: the explanation says so rather than promise what the judges cannot show.
    assert by["refuses_harmful_requests"]["detectable"] is None and by["no_leakage"]["detectable"] is None
    refusal = catalog_judges()["refusal"]
    assert f"refusal: sensitivity {refusal.sensitivity:.2f}" in by["refuses_harmful_requests"]["basis"]  # held-out figures
    assert out["checks"][0]["level_pass"] == 0.05  # the nightly 0.0515 on the bounds grid: the level really used
    proc = run_rai("policy", "explain", "acs_employment", "--json", home=tmp_path / "state", check=True)
    rows = {c["check"]: c for c in json.loads(proc.stdout)["checks"]}
    assert {"accuracy_floor", "equal_opportunity_intersectional"} <= set(rows)
    # Regression checks too, as the gate judges them: the change against the champion within the tolerance.
    regression = rows["no_accuracy_regression"]
    assert (regression["kind"], regression["metric"], regression["op"], regression["threshold"]) == (
        "regression", "accuracy_change", ">=", -0.02)
    assert rows["accuracy_floor"]["min_n_to_pass"] > 1  # exact: a perfect sample of one row cannot show >= 0.78
    proc = run_rai("policy", "explain", "acs_employment", home=tmp_path / "state", check=True)
    assert "no_parity_regression_sex" in proc.stdout and "champion monitored" in proc.stdout


def catalog_judges():
    return load_catalog(ROOT / "assets").judges


def test_a_check_decided_by_an_endpoint_judge_is_not_refused_at_load_for_a_sample_size_it_cannot_know(tmp_path):
    from rai_pipelines.sample_size import needs

    assets = tmp_path / "assets"
    shutil.copytree(ROOT / "assets", assets)
    path = assets / "systems" / "support_assistant.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["judges"] = {"leakage": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "guard"}}
    path.write_text(yaml.safe_dump(raw))
    catalog = load_catalog(assets)
    system = catalog.system("support_assistant")
    rows = {n.check: n for n in needs(system, catalog.policy, catalog.suites_for(system), catalog.judges)}
    leakage, refusal = rows["no_leakage"], rows["refuses_harmful_requests"]
    # Nothing is claimed, or refused, for the endpoint's checks before it is validated (a judge's errors can move the
    # smallest passing n either way); the other checks keep their built-in judges.
    assert leakage.judge_pending and leakage.min_n_to_pass is None and "endpoint" in leakage.basis
    assert not refusal.judge_pending and "judge-corrected (refusal" in refusal.basis
