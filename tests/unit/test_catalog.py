"""The catalog validates, and a malformed file gets one line naming file, field and fix."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rai_pipelines.catalog import SYSTEM_KINDS, load_catalog
from rai_pipelines.errors import CatalogError
from rai_pipelines.evaluation import confusion, engine, metric_names
from rai_pipelines.genai import suites as genai_suites
from tests.support import ROOT


def test_real_catalog_declares_the_acs_system(catalog):
    acs = catalog.system("acs_employment")
    assert acs.data.label == "employed"
    assert set(acs.data.sensitive_features) == {"SEX", "RAC1P"}
    assert acs.data.sensitive_features["SEX"].groups == {"Male": ["1"], "Female": ["2"]}
    assert acs.data.production.replay.periods == [2016, 2017, 2018]
    assert acs.risk_tier in catalog.policy.tiers
    assert [s.name for s in catalog.evaluation_suites(acs)] == ["performance", "fairness", "champion_comparison", "robustness",
                                                             "counterfactual", "proxies", "attributions", "membership"]
    assert catalog.dataset_suite(acs, "data_quality").name == "acs_data_quality"


def test_policy_version_is_a_content_hash(catalog):
    changed = catalog.policy.model_copy(update={"description": "changed"})
    assert changed.version != catalog.policy.version
    assert catalog.policy.version == load_catalog(ROOT / "assets").policy.version


def _mutated(tmp_path, mutate):
    return _edited(tmp_path, "systems/acs_employment.yaml", mutate)


@pytest.mark.parametrize(
    "mutate, field, expected",
    [
        (lambda r: r.pop("risk_tier"), "risk_tier", "is required"),
        (lambda r: r.update(risk_tier="extreme"), "risk_tier", "'low', 'medium' or 'high'"),
        (lambda r: r["data"].update(label=None), "data.label", "valid string"),
        (lambda r: r.update(suites=["performance", "nonexistent"]), "suites", "unknown suite 'nonexistent'"),
        (lambda r: r.update(risk_teir="high"), "risk_teir", "not a known field"),
        (lambda r: r["data"]["features"].update(AGEP="number"), "data.features.AGEP", "'numeric' or 'categorical'"),
        (lambda r: r["data"]["sensitive_features"]["SEX"]["groups"].update(Other=["1"]), "data.sensitive_features.SEX",
         "code '1' is in both"),
        (lambda r: r["data"]["production"]["replay"].update(start_date="someday"), "data.production.replay.start_date",
         "valid date"),
    ],
)
def test_malformed_system_file_is_one_clear_line(tmp_path, mutate, field, expected):
    root, path = _mutated(tmp_path, mutate)
    with pytest.raises(CatalogError) as err:
        load_catalog(root)
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    assert f"field '{field}" in message  # the path as the file spells it (no union tag in front)
    assert expected in message


def test_invalid_yaml_names_the_line(tmp_path):
    root = tmp_path / "assets"
    shutil.copytree(ROOT / "assets", root)
    bad = root / "suites" / "fairness.yaml"
    bad.write_text("name: fairness\nmetrics: [tpr\n")
    with pytest.raises(CatalogError, match=r"fairness.yaml: not valid YAML at line \d+"):
        load_catalog(root)


def _edited(tmp_path, relative: str, edit):
    """A copy of the shipped assets with one YAML file edited; returns (root, path of that file)."""
    root = tmp_path / "assets"
    shutil.copytree(ROOT / "assets", root)
    path = root / relative
    raw = yaml.safe_load(path.read_text())
    edit(raw)
    path.write_text(yaml.safe_dump(raw))
    return root, path


def _one_line_error(root) -> str:
    with pytest.raises(CatalogError) as err:
        load_catalog(root)
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("kind", ["nonsense", None])
def test_a_system_of_unknown_or_missing_kind_is_one_line_listing_the_kinds(tmp_path, kind):
    root, path = _edited(tmp_path, "systems/acs_employment.yaml",
                         lambda r: r.update(kind=kind) if kind else r.pop("kind"))
    message = _one_line_error(root)
    assert str(path) in message and "field 'kind'" in message
    assert all(repr(k) in message for k in SYSTEM_KINDS)
    assert ("'nonsense'" in message) == (kind == "nonsense")


def test_an_assistant_field_error_names_the_field_as_the_file_spells_it(tmp_path):
    root, path = _edited(tmp_path, "systems/support_assistant.yaml", lambda r: r["target"].pop("path"))
    message = _one_line_error(root)
    assert str(path) in message and "field 'target'" in message and "a gguf target needs path" in message
    assert "llm_assistant" not in message


def test_a_system_file_is_read_once(monkeypatch):
    reads: dict[Path, int] = {}
    read_text = Path.read_text

    def counting(self, *args, **kwargs):
        reads[self] = reads.get(self, 0) + 1
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting)
    load_catalog(ROOT / "assets")
    systems = sorted((ROOT / "assets" / "systems").glob("*.yaml"))
    assert systems and {p: reads.get(p) for p in systems} == {p: 1 for p in systems}


def test_the_registry_knows_exactly_the_genai_suites_the_catalog_uses():
    used = {yaml.safe_load(p.read_text()).get("genai") for p in (ROOT / "assets" / "suites").glob("*.yaml")} - {None}
    assert used == set(genai_suites.REGISTRY)


def test_an_unknown_genai_suite_is_one_line_naming_the_known_ones(tmp_path):
    root, path = _edited(tmp_path, "suites/privacy.yaml", lambda r: r.update(genai="privacy_v2"))
    message = _one_line_error(root)
    assert str(path) in message and "field 'genai'" in message and "'privacy_v2'" in message
    assert all(repr(name) in message for name in genai_suites.REGISTRY)


def test_a_genai_suite_in_another_family_than_its_registered_one_is_refused(tmp_path):
    root, path = _edited(tmp_path, "suites/jailbreak.yaml", lambda r: r.update(family="privacy"))
    message = _one_line_error(root)
    assert str(path) in message and "field 'genai'" in message
    assert "family must be 'safety', not 'privacy'" in message


def test_a_regression_check_on_a_metric_without_a_harmful_direction_is_one_line(tmp_path):
    def edit(raw):
        raw["tiers"]["high"]["regression"][0]["metric"] = "selection_rate"

    root, path = _edited(tmp_path, "policies/risk_tiers.yaml", edit)
    message = _one_line_error(root)
    assert str(path) in message and "metric" in message and "no harmful direction" in message


@pytest.mark.parametrize("edit, expected", [
    (lambda r: r.pop("perturbations"), "a robustness suite needs one"),
    (lambda r: r.update(metrics=["accuracy"]), "reports its own metrics; remove field 'metrics'"),
    (lambda r: r["perturbations"].append(dict(r["perturbations"][0])), "'numeric_noise' repeats"),
    (lambda r: r["perturbations"][0].update(kind="jitter"), "perturbations.0.kind"),
])
def test_a_malformed_robustness_suite_is_one_line(tmp_path, edit, expected):
    root, path = _edited(tmp_path, "suites/robustness.yaml", edit)
    message = _one_line_error(root)
    assert str(path) in message and expected in message


def test_a_perturbation_of_an_undeclared_feature_is_refused(tmp_path):
    root, path = _edited(tmp_path, "suites/robustness.yaml", lambda r: r["perturbations"][0].update(features=["INCOME"]))
    message = _one_line_error(root)
    assert "robustness" in message and "'INCOME', which is not among data.features" in message


def test_the_catalog_validates_against_the_metric_names_the_engines_compute():
    assert tuple(confusion.METRICS) == metric_names.CONFUSION_METRICS
    assert engine.ALL_METRICS == metric_names.ALL_METRICS
    assert set(metric_names.HIGHER_IS_BETTER) == set(metric_names.ALL_METRICS) | set(metric_names.GENAI_METRICS)
    # Every registered GenAI suite's rate has a direction, so a regression of it can be judged.
    assert {s.metric for s in genai_suites.REGISTRY.values()} == set(metric_names.GENAI_METRICS)


def test_importing_the_catalog_loads_no_model_library_or_engine():
    heavy = ["torch", "sentence_transformers", "presidio_analyzer", "profanity_check", "llama_cpp", "dagster", "mlflow",
             "rai_pipelines.evaluation.engine", "rai_pipelines.evaluation.paired"]
    code = f"import sys, rai_pipelines.catalog; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("relative, edit, field", [
    ("suites/fairness.yaml", lambda r: r["controls"].append("eu-ai-act:art-99"), "controls"),
    ("policies/risk_tiers.yaml", lambda r: r["tiers"]["high"]["checks"][0]["controls"].append("eu-ai-act:art-99"),
     "tiers.high.checks.0.controls"),
    ("policies/risk_tiers.yaml", lambda r: r["controls"]["evidence"]["card"].append("eu-ai-act:art-99"),
     "controls.evidence.card"),
    ("policies/risk_tiers.yaml", lambda r: r["controls"]["workflows"]["incidents"].append("eu-ai-act:art-99"),
     "controls.workflows.incidents"),
])
def test_an_unknown_control_id_is_one_line_naming_file_field_and_id(tmp_path, relative, edit, field):
    root, path = _edited(tmp_path, relative, edit)
    message = _one_line_error(root)
    assert str(path) in message and f"field '{field}'" in message and "unknown control 'eu-ai-act:art-99'" in message


def test_the_control_catalog_loads_every_framework_and_each_declared_id_exists(catalog):
    assert {c.split(":")[0] for c in catalog.controls} == {"eu-ai-act", "nist-ai-rmf", "iso-42001"}
    declared = {c for s in catalog.suites.values() for c in s.controls}
    declared |= {c for ids in catalog.policy.controls.evidence.values() for c in ids}
    assert declared <= set(catalog.controls) and "eu-ai-act:art-73" in catalog.policy.controls.workflows["incidents"]


def test_an_approver_without_a_public_key_is_refused(tmp_path):
    root, path = _edited(tmp_path, "policies/risk_tiers.yaml",
                         lambda r: r["approvers"].pop("head-of-responsible-ai@example.org"))
    message = _one_line_error(root)
    assert str(path) in message and "'head-of-responsible-ai@example.org', who has no public key in 'approvers'" in message
