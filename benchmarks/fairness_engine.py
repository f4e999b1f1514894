"""Fairness engine vs fairlearn's MetricFrame, same run, same data.

1M rows, SEX (2 groups) x RACE (6 groups) = 12 intersectional groups, six
confusion metrics (selection rate, TPR, FPR, FNR, precision, accuracy).

    .venv/bin/python benchmarks/fairness_engine.py [--rows 1000000]

Prints, as ratios because this machine is shared and noisy:
- points: engine (each feature and the intersection) vs MetricFrame (intersection);
- intervals: engine with 1000 resamples on all rows (target < 2 s), and a
  like-for-like interval comparison with MetricFrame's n_boot on a 100k slice;
- AUC and ECE with intervals against MetricFrame's per-group roc_auc_score;
- peak memory of the engine (tracemalloc) against the bytes of its input arrays.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings

import numpy as np
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score, roc_auc_score

from rai_pipelines.evaluation.fairness import fairness_report as group_metrics

METRICS = ["selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy"]
FAIRLEARN = {
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "precision": lambda y, p: precision_score(y, p, zero_division=np.nan),
    "accuracy": accuracy_score,
}


def data(rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    sex = rng.integers(1, 3, rows)
    race = rng.choice([1, 2, 3, 6, 8, 9], rows, p=[0.6, 0.12, 0.03, 0.1, 0.07, 0.08])
    y = (rng.random(rows) < 0.5).astype(np.int64)
    p = np.where(y == 1, rng.random(rows) < 0.75 + 0.05 * (sex == 1), rng.random(rows) < 0.2).astype(np.int64)
    return y, p, sex, race


def timed(fn, repeat: int = 1):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--slice-rows", type=int, default=100_000)
    ap.add_argument("--fairlearn-boot", type=int, default=10)
    args = ap.parse_args()
    y, p, sex, race = data(args.rows)
    sensitive = {"SEX": sex, "RACE": race}
    inputs = sum(a.nbytes for a in (y, p, sex, race))

    engine_points, report = timed(lambda: group_metrics(y, p, sensitive, metrics=METRICS, resamples=0), repeat=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fl_points, mf = timed(lambda: MetricFrame(metrics=FAIRLEARN, y_true=y, y_pred=p, sensitive_features=np.c_[sex, race]))
    groups = len(report.partitions[-1].groups)
    # Same numbers: the intersection groups agree with MetricFrame.
    ours = {g.slice: g.metrics["tpr"].value for g in report.partitions[-1].groups}
    theirs = mf.by_group["tpr"]
    worst = max(abs(ours[f"SEX={s}&RACE={r}"] - v) for (s, r), v in theirs.items())

    engine_boot, _ = timed(lambda: group_metrics(y, p, sensitive, metrics=METRICS, resamples=1000), repeat=3)

    tracemalloc.start()
    group_metrics(y, p, sensitive, metrics=METRICS, resamples=1000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    score = np.clip(0.3 * y + 0.7 * np.random.default_rng(1).random(args.rows), 0, 1)
    engine_auc, _ = timed(lambda: group_metrics(y, p, sensitive, score, ["auc", "ece"], resamples=1000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fl_auc, _ = timed(lambda: MetricFrame(metrics=roc_auc_score, y_true=y, y_pred=score, sensitive_features=np.c_[sex, race]))

    k = args.slice_rows
    ys, ps, ss, rs = y[:k], p[:k], sex[:k], race[:k]
    eng_slice, _ = timed(lambda: group_metrics(ys, ps, {"SEX": ss, "RACE": rs}, metrics=METRICS, resamples=args.fairlearn_boot), repeat=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fl_slice, _ = timed(lambda: MetricFrame(metrics=FAIRLEARN, y_true=ys, y_pred=ps, sensitive_features=np.c_[ss, rs],
                                                n_boot=args.fairlearn_boot, ci_quantiles=[0.025, 0.975], random_state=0))

    print(f"data: {args.rows:,} rows, {groups} intersectional groups, {len(METRICS)} metrics; inputs {inputs / 2**20:.1f} MiB")
    print(f"points    engine {engine_points:8.3f} s   fairlearn MetricFrame {fl_points:8.2f} s   speed-up {fl_points / engine_points:7.0f}x"
          f"   (max |TPR difference| {worst:.1e})")
    print(f"intervals engine, 1000 resamples on {args.rows:,} rows: {engine_boot:.3f} s (target < 2 s)")
    print(f"intervals {k:,} rows, {args.fairlearn_boot} resamples: engine {eng_slice:.3f} s   MetricFrame n_boot {fl_slice:.2f} s"
          f"   speed-up {fl_slice / eng_slice:7.0f}x")
    print(f"scores    engine auc + ece, exact points and 1000 resamples: {engine_auc:.3f} s   "
          f"MetricFrame roc_auc_score points only: {fl_auc:.2f} s   speed-up {fl_auc / engine_auc:5.1f}x")
    print(f"memory    engine peak {peak / 2**20:.1f} MiB = {peak / inputs:.2f}x the input arrays (target <= 2x)")


if __name__ == "__main__":
    main()
