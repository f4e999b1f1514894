"""`python -m benchmarks.scale workers`: one night of S systems x V model versions on the production profile, the
steps on one Celery worker and then on two, on this machine's real PostgreSQL and RabbitMQ.

The ACS system is cloned under S names in a copy of the project; each clone gets V registered versions of one
trained model. A first, unmeasured round ingests every night and evaluates every version; the measured rounds
re-evaluate everything (`rai evaluate --force`, 4 systems at a time), with one worker, then with two.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from rai_pipelines.settings import project_dir

PG = dict(host="127.0.0.1", port=5432, user="postgres")
BIN = Path(sys.executable).parent
VHOST = "rai_bench"


def _project(root: Path, systems: int) -> list[str]:
    source = project_dir()
    for item in ("assets", "resources", "deploy", "dagster.yaml", "workspace.yaml"):
        (shutil.copytree if (source / item).is_dir() else shutil.copy)(source / item, root / item)
    spec = yaml.safe_load((source / "assets" / "systems" / "acs_employment.yaml").read_text())
    names = [f"acs_employment_{i:02d}" for i in range(1, systems + 1)]
    for name in names:
        clone = {**spec, "name": name, "model": {**spec["model"], "registered_model": f"{name}_classifier"}}
        (root / "assets" / "systems" / f"{name}.yaml").write_text(yaml.safe_dump(clone, sort_keys=False))
    return names


def _database() -> str:
    import psycopg2

    name = f"rai_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    admin.cursor().execute(f'create database "{name}"')
    admin.close()
    return name


def _register(env: dict, names: list[str], versions: int) -> None:
    code = f"""
import os
from rai_pipelines import lineage
from rai_pipelines.catalog import load_catalog
from rai_pipelines.data.snapshots import DatasetStore
from rai_pipelines.data.sources import reference_window
from rai_pipelines.modeling.training import RECIPES, register_trained, train
from rai_pipelines.settings import load_settings
from mlflow import MlflowClient
s = load_settings()
catalog = load_catalog(s.catalog_dir)
client = MlflowClient(s.mlflow_tracking_uri, s.mlflow_tracking_uri)
recipe = next(r for r in RECIPES if r.name == "logistic_baseline")
for name in {names!r}:
    system = catalog.system(name)
    _, frame = DatasetStore(s.snapshot_dir).snapshot(system, reference_window(system))
    model, facts = train(recipe, system, frame.sample(8000, random_state=0))
    exp = lineage.experiment_id(client, "rai/bench-training", s.mlflow_artifact_root)
    for _ in range({versions}):
        run = lineage.start_run(client, exp, "train", {{}})
        register_trained(client, system, recipe, run.run_id, model, facts)
        lineage.finish_run(client, run, ok=True)
"""
    subprocess.run([str(BIN / "python"), "-c", code], env=env, check=True)


def _workers(env: dict, count: int, logs: Path) -> list[subprocess.Popen]:
    started = [subprocess.Popen([str(BIN / "rai"), "worker", "--name", f"w{i}"], env=env, cwd=logs,
                                stdout=(logs / f"w{i}.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True)
               for i in range(1, count + 1)]
    while not all("ready." in (logs / f"w{i}.log").read_text() for i in range(1, count + 1)):
        time.sleep(1)
    return started


def _stop(workers: list[subprocess.Popen]) -> None:
    for w in workers:
        os.killpg(w.pid, signal.SIGTERM)
    for w in workers:
        w.wait(timeout=30)


def _night(env: dict, names: list[str], cwd: Path, force: bool) -> float:
    def one(name: str) -> int:
        return subprocess.run([str(BIN / "rai"), "evaluate", name, *(["--force"] if force else [])], env=env, cwd=cwd,
                              capture_output=True, timeout=7200).returncode

    t = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(one, names))
    took = time.perf_counter() - t
    if any(c not in (0, 3) for c in codes):
        raise SystemExit(f"an evaluation failed: exit codes {codes}")
    return took


def _vhost() -> str:
    """A RabbitMQ virtual host of the benchmark's own, so a test suite's workers beside it never take its steps."""
    for args in (["add_vhost", VHOST], ["set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*"]):
        done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True)
        if done.returncode != 0 and "already exists" not in done.stdout + done.stderr:
            raise SystemExit(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()}")
    return f"pyamqp://guest:guest@127.0.0.1:5672/{VHOST}"


def run(systems: int, versions: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="rai-scale-workers-"))
    names = _project(root, systems)
    env = {**os.environ, "RAI_PROFILE": "production", "RAI_PROJECT_DIR": str(root), "RAI_HOME": str(root / "home"),
           "RAI_SHARED_DIR": str(root / "shared"), "DAGSTER_PG_HOST": PG["host"], "DAGSTER_PG_PORT": str(PG["port"]),
           "DAGSTER_PG_USER": PG["user"], "DAGSTER_PG_PASSWORD": "", "MLFLOW_UI_URL": "", "RAI_ALERT_WEBHOOK_URL": "",
           "MLFLOW_ARTIFACT_ROOT": str(root / "shared" / "mlflow"), "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
           "RAI_CELERY_BROKER": _vhost()}
    dagster_db, mlflow_db = _database(), _database()
    env.update(DAGSTER_PG_DB=dagster_db, RAI_WAREHOUSE_DB=dagster_db,
               MLFLOW_TRACKING_URI=f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{mlflow_db}")
    key = root / "evidence.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    env["RAI_EVIDENCE_KEY"] = str(key)
    env.pop("DAGSTER_HOME", None)
    subprocess.run([str(BIN / "celery"), "-A", "rai_pipelines.orchestration.celery_app", "purge", "-f", "-Q", "dagster"],
                   env=env, cwd=root, check=True, capture_output=True)
    _register(env, names, versions)
    print(f"{systems} systems x {versions} model versions x one night (state in {root})")
    workers = _workers(env, 2, root)
    print(f"first night (ingest, evaluate every version), 2 workers: {_night(env, names, root, False):.0f} s")
    _stop(workers)
    for count in (1, 2):
        workers = _workers(env, count, root)
        print(f"re-evaluating everything (--force), {count} worker(s): {_night(env, names, root, True):.0f} s")
        _stop(workers)
    workers = _workers(env, 2, root)
    print(f"an unchanged night, 2 workers: {_night(env, names, root, False):.1f} s (nothing runs)")
    _stop(workers)

