"""Shared fixtures: a fresh state directory per test, the real catalog, real
MLflow on a temporary SQLite store, and the real ACS data."""

from __future__ import annotations

from pathlib import Path

import pytest

from rai_pipelines.catalog import load_catalog
from rai_pipelines.settings import load_settings, prepare_dagster_home
from tests.support import PG, ROOT, copy_project, run_rai

TIERS = ("unit", "integration", "e2e")  # tests/<tier>/: marked by folder, so `pytest -m unit` is the fast loop


def pytest_collection_modifyitems(config, items):
    for item in items:
        tier = Path(item.path).relative_to(Path(__file__).parent).parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture
def new_database():
    """Creates new, empty databases on the real PostgreSQL server (each call one), dropped afterwards."""
    import uuid

    import psycopg2

    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    made = []

    def create() -> str:
        name = f"rai_test_{uuid.uuid4().hex[:10]}"
        admin.cursor().execute(f'create database "{name}"')
        made.append(name)
        return name

    try:
        yield create
    finally:
        admin.close()
        admin = psycopg2.connect(dbname="postgres", **PG)  # anew: a test may have restarted the server
        admin.autocommit = True
        for name in made:
            admin.cursor().execute(f'drop database if exists "{name}" with (force)')
        admin.close()


@pytest.fixture
def fresh_database(new_database):
    return new_database()


@pytest.fixture(scope="session")
def catalog():
    return load_catalog(ROOT / "assets")


@pytest.fixture(scope="session")
def acs(catalog):
    return catalog.system("acs_employment")


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """A fresh embedded-default state directory, as the CLI would set it up."""
    monkeypatch.setenv("RAI_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("RAI_PROFILE", "local")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    s = load_settings()
    prepare_dagster_home(s)
    monkeypatch.setenv("DAGSTER_HOME", str(s.dagster_home))
    return s


@pytest.fixture
def mlflow_client(settings):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)


@pytest.fixture(scope="session")
def reference(acs, tmp_path_factory):
    """The validated 2015 reference window (68,785 real rows)."""
    from rai_pipelines.data.snapshots import DatasetStore
    from rai_pipelines.data.sources import reference_window

    return DatasetStore(tmp_path_factory.mktemp("ref")).snapshot(acs, reference_window(acs))


@pytest.fixture
def register_model(settings, mlflow_client, acs, reference):
    """Train a recipe on (a slice of) the reference window and register it in this test's MLflow."""
    from rai_pipelines import lineage
    from rai_pipelines.modeling.training import RECIPES, register_trained, train

    version, frame = reference

    def _register(recipe_name: str = "logistic_baseline", rows: int = 8000):
        recipe = next(r for r in RECIPES if r.name == recipe_name)
        model, facts = train(recipe, acs, frame.sample(rows, random_state=0) if rows else frame)
        exp = lineage.experiment_id(mlflow_client, "rai/test-training", settings.mlflow_artifact_root)
        run = lineage.start_run(mlflow_client, exp, f"train {recipe.name}", {})
        mv = register_trained(mlflow_client, acs, recipe, run.run_id, model, facts)
        lineage.finish_run(mlflow_client, run, ok=True)
        return mv

    return _register


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """`rai demo --nights 3` run once, as a user would, in a fresh state directory (three nights: a trend, and the
    high tier's release window of three consecutive passing nights)."""
    home = tmp_path_factory.mktemp("demo") / "state"
    proc = run_rai("demo", "--nights", "3", home=home, check=True)
    (home / "demo-stdout.txt").write_text(proc.stdout)
    return home


@pytest.fixture
def local_production(tmp_path, acs, monkeypatch):
    """A copy of the project whose system reads production data from a local Parquet file.

    Returns (real production frame with labels, path to write the test's version to, project root)."""
    import yaml

    from rai_pipelines.data.feeds import read_table, resolve

    root = copy_project(tmp_path / "project")
    production = read_table(resolve(acs.data.production.source)).merge(read_table(resolve(acs.data.production.labels.source)), on="id")
    path = root / "assets" / "systems" / "acs_employment.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["data"]["production"]["source"] = {"path": str(tmp_path / "production.parquet")}
    raw["data"]["production"].pop("labels")
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("RAI_PROJECT_DIR", str(root))
    return production, tmp_path / "production.parquet", root
