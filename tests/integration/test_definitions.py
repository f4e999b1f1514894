"""The code location loads, in the embedded default and in the production profile."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from rai_pipelines.definitions import build_defs
from rai_pipelines.errors import CatalogError
from rai_pipelines.settings import load_settings
from tests.support import ROOT


def _validate(defs):
    # Loading reads Dagster's context-global definitions-state storage; an instance
    # garbage-collected by an earlier test (sensor contexts built from an instance ref
    # create one) can leave it dangling, so load with a live instance in context.
    with dg.DagsterInstance.ephemeral():
        dg.Definitions.validate_loadable(defs)


def test_definitions_validate_and_wire_every_system(settings, catalog):
    defs = build_defs()
    _validate(defs)
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    for system in (s.name for s in catalog.tabular_systems):
        assert {f"{system}/dataset_version", f"{system}/model_version", f"{system}/release_gate"} <= keys
        assert f"{system}/fairness_evaluation" in keys
        defs.resolve_sensor_def(f"{system}__model_registry_sensor")
    # A replayed file is cut into nightly batches by the schedule; a feed's windows are found by its sensor.
    assert defs.resolve_schedule_def("acs_employment__nightly_ingest").cron_schedule == "0 2 * * *"
    assert defs.resolve_sensor_def("car_loan_repayment__feed_sensor").minimum_interval_seconds == 300
    assert not [s for s in defs.schedules if s.name.startswith("car_loan_repayment")]
    for system in catalog.assistant_systems:
        assert {f"{system.name}/{s}_evaluation" for s in system.suites} | {f"{system.name}/release_gate"} <= keys
        defs.resolve_job_def(f"{system.name}__evaluate")


def test_dagster_cli_validates_the_workspace(settings):
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_production_profile_reads_its_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RAI_HOME", str(tmp_path))
    monkeypatch.setenv("RAI_PROFILE", "production")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://mlflow@127.0.0.1:5432/mlflow")
    monkeypatch.setenv("MLFLOW_ARTIFACT_ROOT", "s3://rai-artifacts")
    monkeypatch.setenv("MLFLOW_UI_URL", "https://mlflow.example.org")
    monkeypatch.setenv("RAI_ALERT_WEBHOOK_URL", "https://hooks.example.org/rai")
    monkeypatch.setenv("RAI_SHARED_DIR", str(tmp_path / "shared"))
    s = load_settings()
    assert s.mlflow_tracking_uri.startswith("postgresql://")
    assert s.dagster_instance_template == ROOT / "deploy" / "dagster.yaml"
    defs = build_defs()
    _validate(defs)
    # Steps on Celery workers; what they share under the shared path; the warehouse's catalog on PostgreSQL.
    assert defs.resolve_job_def("acs_employment__evaluate").executor_def.name == "celery"
    assert defs.resources["state"].home == str(tmp_path / "shared")
    assert defs.resources["state"].warehouse().lake.kind == "postgres"
    # Secrets from the environment reach the resources as EnvVar, which the Dagster UI does not display.
    uri, hook = defs.resources["mlflow"].tracking_uri, defs.resources["alerts"].webhook_url
    assert isinstance(uri, dg.EnvVar) and uri.get_value() == "postgresql://mlflow@127.0.0.1:5432/mlflow"
    assert isinstance(hook, dg.EnvVar) and hook.get_value() == "https://hooks.example.org/rai"


def test_production_profile_without_its_environment_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("RAI_PROFILE", "production")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(CatalogError, match=r"production.yaml: needs environment variable MLFLOW_TRACKING_URI"):
        load_settings()
