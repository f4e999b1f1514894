"""Drift engine vs Evidently 0.7 DataDriftPreset, same run, same data.

1M rows x 20 columns (10 numeric, 10 categorical), reference and current of
equal size, current shifted on a few columns.

    .venv/bin/python benchmarks/drift_engine.py [--rows 1000000]

Prints each side's time and peak memory (tracemalloc) and the ratios, and
checks that both reach the same per-column verdicts.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd

from rai_pipelines.drift.engine import CATEGORICAL, NUMERIC, dataset_drift


def frames(rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)

    def make(shift: float) -> pd.DataFrame:
        data = {}
        for i in range(10):
            data[f"num_{i}"] = rng.normal(shift if i < 3 else 0.0, 1.0, rows)
        for i in range(10):
            p = np.array([0.4, 0.3, 0.2, 0.1]) if not (shift and i < 2) else np.array([0.1, 0.2, 0.3, 0.4])
            data[f"cat_{i}"] = pd.Categorical(rng.choice(["a", "b", "c", "d"], rows, p=p)).astype(str)
        return pd.DataFrame(data)

    return make(0.0), make(0.5)


def measure(fn):
    tracemalloc.start()
    t = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    reference, current = frames(args.rows)
    kinds = {c: NUMERIC if c.startswith("num") else CATEGORICAL for c in reference.columns}

    ours_s, ours_mem, ours = measure(lambda: dataset_drift(reference, current, kinds))

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=[c for c, k in kinds.items() if k == NUMERIC],
                                categorical_columns=[c for c, k in kinds.items() if k == CATEGORICAL])

    def evidently():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Report([DataDriftPreset()]).run(
                Dataset.from_pandas(current, data_definition=definition),
                Dataset.from_pandas(reference, data_definition=definition),
            )

    ev_s, ev_mem, snapshot = measure(evidently)
    metrics = snapshot.dict()["metrics"]
    their_count = next(m for m in metrics if m["metric_name"].startswith("DriftedColumnsCount"))["value"]["count"]
    their_scores = {m["config"]["column"]: m["value"] for m in metrics if m["metric_name"].startswith("ValueDrift")}
    worst = max(abs(c.statistic - their_scores[c.column]) for c in ours.columns)

    print(f"data: {args.rows:,} rows x {len(reference.columns)} columns per window (reference and current)")
    print(f"time    engine {ours_s:7.2f} s   Evidently DataDriftPreset {ev_s:7.2f} s   speed-up {ev_s / ours_s:6.1f}x (target >= 30x)")
    print(f"memory  engine {ours_mem / 2**20:7.1f} MiB Evidently {ev_mem / 2**20:7.1f} MiB   ratio {ev_mem / ours_mem:5.1f}x less")
    print(f"same answers: drifted columns {len(ours.drifted_columns)} vs {int(their_count)}; max |statistic difference| {worst:.1e}")


if __name__ == "__main__":
    main()
