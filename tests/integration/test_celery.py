"""The production profile on real services: the Dagster instance, MLflow's backend store and the warehouse's DuckLake
catalog on PostgreSQL, steps on two `rai worker` Celery workers over RabbitMQ, state on a shared directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from rai_pipelines.settings import load_settings, prepare_dagster_home
from tests.support import PG, RAI, ROOT

CELERY = str(Path(sys.executable).parent / "celery")


@pytest.fixture
def production_env(tmp_path, new_database):
    key = tmp_path / "keys" / "evidence.pem"
    key.parent.mkdir()
    key.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    dagster_db, mlflow_db = new_database(), new_database()
    env = {
        "RAI_PROFILE": "production", "RAI_HOME": str(tmp_path / "home"), "RAI_SHARED_DIR": str(tmp_path / "shared"),
        "DAGSTER_PG_HOST": PG["host"], "DAGSTER_PG_PORT": str(PG["port"]), "DAGSTER_PG_USER": PG["user"],
        "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": dagster_db,
        "MLFLOW_TRACKING_URI": f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{mlflow_db}",
        "MLFLOW_ARTIFACT_ROOT": str(tmp_path / "shared" / "mlflow"), "MLFLOW_UI_URL": "", "RAI_ALERT_WEBHOOK_URL": "",
        "RAI_WAREHOUSE_DB": dagster_db, "RAI_EVIDENCE_KEY": str(key), "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    return env


@pytest.fixture
def settings(production_env, monkeypatch):
    """The production profile (overrides the embedded default's fixture, so register_model trains into it)."""
    for name, value in production_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    s = load_settings()
    prepare_dagster_home(s)
    return s


@pytest.fixture
def workers(settings, production_env, tmp_path):
    env = {**os.environ, **production_env}
    env.pop("DAGSTER_HOME", None)
    # Steps left on the queue by an earlier, interrupted session would be taken first.
    subprocess.run([CELERY, "-A", "rai_pipelines.orchestration.celery_app", "purge", "-f", "-Q", "dagster"], env=env,
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    started = []
    for name in ("w1", "w2"):
        log = tmp_path / f"{name}.log"
        started.append((subprocess.Popen([RAI, "worker", "--name", name], env=env, cwd=tmp_path, stdout=log.open("w"),
                                         stderr=subprocess.STDOUT, start_new_session=True), log))
    deadline = time.monotonic() + 180
    while not all("ready." in log.read_text() for _, log in started):
        assert time.monotonic() < deadline and all(p.poll() is None for p, _ in started), \
            "\n".join(log.read_text()[-1500:] for _, log in started)
        time.sleep(1)
    yield started
    for p, _ in started:
        os.killpg(p.pid, signal.SIGTERM)
    for p, _ in started:
        p.wait(timeout=20)


def test_a_nightly_evaluation_runs_its_steps_on_both_workers(settings, production_env, workers, register_model, tmp_path):
    import dagster as dg

    mv = register_model()
    env = {**os.environ, **production_env}
    env.pop("DAGSTER_HOME", None)
    done = subprocess.run([RAI, "evaluate", "acs_employment", "--model-version", mv.version], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=1200)
    logs = "\n".join(log.read_text()[-3000:] for _, log in workers)
    assert done.returncode in (0, 3), f"{done.stdout}\n{done.stderr}\n{logs}"
    assert "gate" in done.stdout

    with dg.DagsterInstance.get() as instance:  # the PostgreSQL instance the profile names
        runs = instance.get_runs()
        by_worker: dict[str, set[str]] = {}
        for run in runs:
            for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
                event = record.dagster_event
                meta = event.event_specific_data.metadata if event and event.event_specific_data else {}
                if "Celery worker" in meta:
                    by_worker.setdefault(meta["Celery worker"].value.split("@")[0], set()).add(event.step_key or "")
    assert set(by_worker) == {"w1", "w2"}, by_worker  # every step ran on a worker, and both took some
    decided = settings.warehouse().frame("select verdict, warehouse_snapshot from gate_decisions")
    assert len(decided) == 1 and decided.warehouse_snapshot.notna().all()
    assert settings.warehouse().lake.kind == "postgres"
    assert (Path(production_env["RAI_SHARED_DIR"]) / "datasets").is_dir()  # snapshots on the shared path
    assert not (Path(production_env["RAI_HOME"]) / "datasets").exists()
