"""Bad input through the command line: one clear line, exit 1, nothing half-written."""

import pytest

from tests.support import run_rai


@pytest.fixture
def project(local_production):
    production, path, _ = local_production
    return production, path


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda f: f.drop(columns=["MAR"]), "column 'MAR' is missing"),
        (lambda f: f.assign(AGEP=f.AGEP.astype(str)), "column 'AGEP' has dtype object, expected numeric"),
        (lambda f: f.iloc[0:0], "the dataset is empty"),
    ],
)
def test_bad_production_data_is_one_line_and_writes_nothing(project, tmp_path, corrupt, message):
    production, path = project
    corrupt(production).to_parquet(path)
    home = tmp_path / "state"
    proc = run_rai("evaluate", "acs_employment", home=home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert message in lines[0] and "production.parquet" in lines[0]
    from rai_pipelines.warehouse import Warehouse
    from rai_pipelines.warehouse.tables import TABLES

    wh = Warehouse(home / "warehouse")
    assert {t: wh.frame(f"select count(*) as n from {t}").n[0] for t in TABLES} == dict.fromkeys(TABLES, 0)
    assert not (home / "datasets").exists() or not list((home / "datasets").rglob("*.parquet"))


def test_missing_data_file_is_one_line(project, tmp_path):
    home = tmp_path / "state"
    proc = run_rai("evaluate", "acs_employment", home=home)
    assert proc.returncode == 1
    assert "production.parquet: no such file" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_malformed_catalog_file_is_one_line_for_every_command(project, tmp_path):
    bad = tmp_path / "project" / "assets" / "systems" / "acs_employment.yaml"
    bad.write_text(bad.read_text().replace("risk_tier: high", "risk_tier: extreme"))
    for args in (("evaluate", "acs_employment"), ("gate", "acs_employment", "--model-version", "1")):
        proc = run_rai(*args, home=tmp_path / "state")
        assert proc.returncode == 1
        assert proc.stderr.count("\n") == 1 and "acs_employment.yaml: field 'risk_tier'" in proc.stderr
