"""A night in which nothing changed: `rai evaluate` with N registered model versions, all already decided on fresh
evaluations, as a whole process (start-up included). It launches no Dagster run.

Registers N versions of one trained model on the embedded default, evaluates them once (not timed), then times
`rai evaluate acs_employment` again, 3 times.

    .venv/bin/python -m benchmarks.noop_night [--versions 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=20)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="rai-noop-"))
    env = {**os.environ, "RAI_HOME": str(home), "RAI_PROFILE": "local", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    env.pop("DAGSTER_HOME", None)
    code = f"""
from mlflow import MlflowClient
from rai_pipelines import lineage
from rai_pipelines.catalog import load_catalog
from rai_pipelines.data.snapshots import DatasetStore
from rai_pipelines.data.sources import reference_window
from rai_pipelines.modeling.training import RECIPES, register_trained, train
from rai_pipelines.settings import load_settings
s = load_settings()
system = load_catalog(s.catalog_dir).system("acs_employment")
client = MlflowClient(s.mlflow_tracking_uri, s.mlflow_tracking_uri)
recipe = next(r for r in RECIPES if r.name == "logistic_baseline")
_, frame = DatasetStore(s.snapshot_dir).snapshot(system, reference_window(system))
model, facts = train(recipe, system, frame.sample(8000, random_state=0))
exp = lineage.experiment_id(client, "rai/bench-training", s.mlflow_artifact_root)
for _ in range({args.versions}):
    run = lineage.start_run(client, exp, "train", {{}})
    register_trained(client, system, recipe, run.run_id, model, facts)
    lineage.finish_run(client, run, ok=True)
"""
    subprocess.run([str(BIN / "python"), "-c", code], env=env, check=True)
    t = time.perf_counter()
    first = subprocess.run([str(BIN / "rai"), "evaluate", "acs_employment"], env=env, cwd=home, capture_output=True, text=True)
    print(f"{args.versions} versions registered; first night evaluated them in {time.perf_counter() - t:.0f} s "
          f"(exit {first.returncode})")
    times = []
    for _ in range(3):
        t = time.perf_counter()
        again = subprocess.run([str(BIN / "rai"), "evaluate", "acs_employment"], env=env, cwd=home, capture_output=True,
                               text=True)
        times.append(time.perf_counter() - t)
        assert again.stdout.count("up to date, nothing run") == args.versions, again.stdout + again.stderr
    print(f"unchanged night: {statistics.median(times):.1f} s median of 3 whole `rai evaluate` processes "
          f"({', '.join(f'{x:.1f}' for x in times)}), no Dagster run launched")


if __name__ == "__main__":
    main()
