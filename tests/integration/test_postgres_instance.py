"""The production Dagster instance (deploy/dagster.yaml) on the real PostgreSQL server."""

import json
import shutil

import dagster as dg
import psycopg2

from rai_pipelines.data.snapshots import DatasetStore
from rai_pipelines.data.sources import reference_window
from rai_pipelines.definitions import build_defs
from rai_pipelines.orchestration import launch
from tests.support import PG, ROOT


def test_materialization_is_stored_in_postgres(fresh_database, settings, acs, monkeypatch, tmp_path):
    for key, value in {"DAGSTER_PG_HOST": PG["host"], "DAGSTER_PG_PORT": str(PG["port"]), "DAGSTER_PG_USER": PG["user"],
                       "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": fresh_database}.items():
        monkeypatch.setenv(key, value)
    home = tmp_path / "pg-dagster-home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        defs = build_defs()
        version, _ = DatasetStore(settings.snapshot_dir).snapshot(acs, reference_window(acs))
        launch.register_dataset_partition(instance, acs, version.key)
        outcome = launch.execute(defs, instance, dg.RunRequest(partition_key=version.key), "acs_employment__ingest_dataset_version")
        assert outcome.ok, outcome.error

    # Read back through a plain SQL connection: the run and its materialization are in PostgreSQL.
    with psycopg2.connect(dbname=fresh_database, **PG) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from runs where status = 'SUCCESS'")
        assert cur.fetchone()[0] == 1
        cur.execute("select asset_key, partition from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'")
        stored = {(json.loads(k)[-1], p) for k, p in cur.fetchall()}  # asset keys are stored as JSON paths
        assert ("dataset_version", version.key) in stored
        cur.execute("select partition from dynamic_partitions")
        assert version.key in {r[0] for r in cur.fetchall()}
