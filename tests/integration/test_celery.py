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
from tests.support import PG, RAI, ROOT, alive, descendants

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
    try:
        deadline = time.monotonic() + 180
        while not all("ready." in log.read_text() for _, log in started):
            assert time.monotonic() < deadline and all(p.poll() is None for p, _ in started), \
                "\n".join(log.read_text()[-1500:] for _, log in started)
            time.sleep(1)
        yield started
    finally:  # a worker left behind would take the next test's steps, for a database that no longer exists
        children = set().union(*(descendants(p.pid) for p, _ in started))
        for p, _ in started:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass  # a worker the test killed
        for p, _ in started:
            p.wait(timeout=20)
        for pid in alive(children):
            os.kill(pid, signal.SIGKILL)


def _steps_by_worker(instance, run_ids=None) -> dict[str, set[str]]:
    """Which worker executed which step (dagster-celery's engine event names the worker)."""
    import dagster as dg

    out: dict[str, set[str]] = {}
    for run in instance.get_runs():
        if run_ids is not None and run.run_id not in run_ids:
            continue
        for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            event = record.dagster_event
            meta = event.event_specific_data.metadata if event and event.event_specific_data else {}
            if "Celery worker" in meta:
                out.setdefault(meta["Celery worker"].value.split("@")[0], set()).add(event.step_key or "")
    return out


def _evaluate(env, cwd, version, *extra) -> subprocess.Popen:
    return subprocess.Popen([RAI, "evaluate", "acs_employment", "--model-version", version, *extra], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_steps_run_on_both_workers_a_killed_worker_loses_nothing_and_an_unchanged_night_runs_nothing(
        settings, production_env, workers, register_model, tmp_path):
    import dagster as dg

    mv = register_model()
    env = {**os.environ, **production_env}
    env.pop("DAGSTER_HOME", None)
    out, err = _evaluate(env, tmp_path, mv.version).communicate(timeout=1200)
    logs = "\n".join(log.read_text()[-3000:] for _, log in workers)
    assert "gate" in out, f"{out}\n{err}\n{logs}"
    instance = dg.DagsterInstance.get()  # the PostgreSQL instance the profile names
    assert set(_steps_by_worker(instance)) == {"w1", "w2"}  # every step ran on a worker, and both took some
    wh = settings.warehouse()
    assert wh.lake.kind == "postgres"
    decided = wh.frame("select verdict, warehouse_snapshot from gate_decisions")
    assert len(decided) == 1 and decided.warehouse_snapshot.notna().all()
    assert (Path(production_env["RAI_SHARED_DIR"]) / "datasets").is_dir()  # snapshots on the shared path
    assert not (Path(production_env["RAI_HOME"]) / "datasets").exists()
    facts_before = wh.frame("select (select count(*) from metrics) as metrics, (select count(*) from evaluation_runs) as runs")

    # Nothing changed: nothing runs.
    runs = instance.get_runs_count()
    again, _ = _evaluate(env, tmp_path, mv.version).communicate(timeout=600)
    assert "up to date, nothing run" in again and instance.get_runs_count() == runs

    # A worker SIGKILLed in the middle of an evaluation step: its step goes back to the queue and the other worker
    # runs it; the run completes and every fact is there exactly once.
    before = {r.run_id for r in instance.get_runs()}
    forced = _evaluate(env, tmp_path, mv.version, "--force")
    victim, step, deadline = None, None, time.monotonic() + 600
    while victim is None:
        assert time.monotonic() < deadline and forced.poll() is None, forced.communicate()
        new = {r.run_id for r in instance.get_runs(dg.RunsFilter(job_name="acs_employment__evaluate"))} - before
        finished = {r.dagster_event.step_key for run_id in new
                    for r in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)}
        for worker, steps in _steps_by_worker(instance, new).items():
            running = [s for s in steps if s.endswith("_evaluation") and s not in finished]
            if running:
                victim, step = worker, running[0]
        time.sleep(0.2)
    process = dict((name, p) for (p, _), name in zip(workers, ("w1", "w2")))[victim]
    for pid in descendants(process.pid):
        os.kill(pid, signal.SIGKILL)
    out, err = forced.communicate(timeout=1200)
    assert "gate" in out, f"{out}\n{err}"
    survivor = {"w1": "w2", "w2": "w1"}[victim]
    forced_runs = {r.run_id for r in instance.get_runs()} - before
    assert step in _steps_by_worker(instance, forced_runs)[survivor]  # the killed step ran again, on the other worker
    duplicated = wh.frame("select run_id, family, metric, slice, count(*) as n from metrics group by all having n > 1")
    assert duplicated.empty, duplicated
    assert wh.frame("select count(*) - count(distinct run_id) as d from evaluation_runs").d[0] == 0
    assert wh.frame("select count(*) - count(distinct decision_id) as d from gate_decisions").d[0] == 0
    after = wh.frame("select (select count(*) from metrics) as metrics, (select count(*) from evaluation_runs) as runs")
    assert after.to_dict("records") == facts_before.to_dict("records")  # a forced re-run replaces, never adds
