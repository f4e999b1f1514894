"""`rai catalog validate FILE`: a catalog file checked against the project's catalog and its feeds, one line per
problem naming the user's file, the field and the fix."""

import pytest
import yaml

from tests.support import ROOT, run_rai


def _system(tmp_path, **changes):
    raw = yaml.safe_load((ROOT / "assets" / "systems" / "acs_employment.yaml").read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = raw
        for key in parents:
            node = node[key]
        node[last] = value
    path = tmp_path / "acs_employment.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _one_line(proc, *expected):
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line, line
    for text in expected:
        assert text in line, line


@pytest.mark.parametrize("name", ["systems/acs_employment.yaml", "systems/support_assistant.yaml",
                                  "policies/risk_tiers.yaml", "suites/privacy.yaml"])
def test_the_shipped_files_are_valid(tmp_path, name):
    proc = run_rai("catalog", "validate", str(ROOT / "assets" / name), home=tmp_path / "s")
    assert proc.returncode == 0 and "a valid" in proc.stdout, proc.stderr


def test_a_feature_the_feed_does_not_have_is_named_with_its_field(tmp_path):
    raw = yaml.safe_load((ROOT / "assets" / "systems" / "acs_employment.yaml").read_text())
    features = {**raw["data"]["features"], "AGE_YEARS": "numeric"}
    path = _system(tmp_path, **{"data.features": features})
    _one_line(run_rai("catalog", "validate", str(path), home=tmp_path / "s"),
              str(path), "field 'data.features' names column 'AGE_YEARS'", "data.reference.source", "fix the name or the feed")


def test_a_label_missing_from_the_labels_feed_is_named(tmp_path):
    path = _system(tmp_path, **{"data.label": "has_job"})
    _one_line(run_rai("catalog", "validate", str(path), home=tmp_path / "s"), "field 'data.label' names column 'has_job'")


def test_errors_name_the_users_file_not_a_copy(tmp_path):
    path = _system(tmp_path, suites=["performance", "no_such_suite"])
    _one_line(run_rai("catalog", "validate", str(path), home=tmp_path / "s"),
              f"{path}: field 'suites' names unknown suite 'no_such_suite'")


def test_a_file_of_no_known_kind_is_one_line(tmp_path):
    path = tmp_path / "notes.yaml"
    path.write_text("hello: world\n")
    _one_line(run_rai("catalog", "validate", str(path), home=tmp_path / "s"), "not a system (field 'kind')")
    _one_line(run_rai("catalog", "validate", str(tmp_path / "missing.yaml"), home=tmp_path / "s"), "cannot be read")


def test_a_label_that_is_not_binary_is_refused_as_out_of_scope(tmp_path):

    from rai_pipelines.catalog import load_catalog
    from rai_pipelines.data.feeds import read_table, resolve

    system = load_catalog(ROOT / "assets").system("acs_employment")
    reference = read_table(resolve(system.data.reference.source)).head(300)
    production = read_table(resolve(system.data.production.source)).head(300)
    production = production.merge(read_table(resolve(system.data.production.labels.source)), on="id")
    reference.assign(employed=reference.AGEP % 3).to_csv(tmp_path / "reference.csv", index=False)  # three classes
    production.to_csv(tmp_path / "production.csv", index=False)
    path = _system(tmp_path, **{"data.reference.source": {"path": str(tmp_path / "reference.csv")},
                                "data.production.source": {"path": str(tmp_path / "production.csv")},
                                "data.production.labels": None})
    _one_line(run_rai("catalog", "validate", str(path), home=tmp_path / "s"),
              "field 'data.label'", "has 3 distinct values", "multiclass and regression targets are not supported")
