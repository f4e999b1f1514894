"""The catalog validates, and a malformed file gets one line naming file, field and fix."""

import shutil

import pytest
import yaml

from rai_pipelines.catalog import load_catalog
from rai_pipelines.errors import CatalogError

from .conftest import ROOT


def test_real_catalog_declares_the_acs_system(catalog):
    acs = catalog.system("acs_employment")
    assert acs.data.label == "employed"
    assert set(acs.data.sensitive_features) == {"SEX", "RAC1P"}
    assert acs.data.sensitive_features["SEX"].groups == {"Male": ["1"], "Female": ["2"]}
    assert acs.data.production.replay.periods == [2016, 2017, 2018]
    assert acs.risk_tier in catalog.policy.tiers
    assert [s.name for s in catalog.evaluation_suites(acs)] == ["performance", "fairness", "champion_comparison"]
    assert catalog.dataset_suite(acs, "data_quality").name == "acs_data_quality"


def test_policy_version_is_a_content_hash(catalog):
    changed = catalog.policy.model_copy(update={"description": "changed"})
    assert changed.version != catalog.policy.version
    assert catalog.policy.version == load_catalog(ROOT / "assets").policy.version


def _mutated(tmp_path, mutate):
    root = tmp_path / "assets"
    shutil.copytree(ROOT / "assets", root)
    path = root / "systems" / "acs_employment.yaml"
    raw = yaml.safe_load(path.read_text())
    mutate(raw)
    path.write_text(yaml.safe_dump(raw))
    return root, path


@pytest.mark.parametrize(
    "mutate, field, expected",
    [
        (lambda r: r.pop("risk_tier"), "risk_tier", "is required"),
        (lambda r: r.update(risk_tier="extreme"), "risk_tier", "'low', 'medium' or 'high'"),
        (lambda r: r["data"].update(label=None), "data.label", "valid string"),
        (lambda r: r.update(suites=["performance", "nonexistent"]), "suites", "unknown suite 'nonexistent'"),
        (lambda r: r.update(risk_teir="high"), "risk_teir", "not a known field"),
        (lambda r: r["data"]["features"].update(AGEP="number"), "data.features.AGEP", "'numeric' or 'categorical'"),
        (lambda r: r["data"]["sensitive_features"]["SEX"]["groups"].update(Other=["1"]), "data.sensitive_features.SEX", "code '1' is in both"),
        (lambda r: r["data"]["production"]["replay"].update(start_date="someday"), "data.production.replay.start_date", "valid date"),
    ],
)
def test_malformed_system_file_is_one_clear_line(tmp_path, mutate, field, expected):
    root, path = _mutated(tmp_path, mutate)
    with pytest.raises(CatalogError) as err:
        load_catalog(root)
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    assert field in message
    assert expected in message


def test_invalid_yaml_names_the_line(tmp_path):
    root = tmp_path / "assets"
    shutil.copytree(ROOT / "assets", root)
    bad = root / "suites" / "fairness.yaml"
    bad.write_text("name: fairness\nmetrics: [tpr\n")
    with pytest.raises(CatalogError, match=r"fairness.yaml: not valid YAML at line \d+"):
        load_catalog(root)
