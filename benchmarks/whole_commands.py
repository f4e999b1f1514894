"""`rai fairness` and `rai drift` as whole processes against the peers' whole scripts, on the same files.

What a user waits for: interpreter start-up, imports, reading the file, computing and writing the answer. Each side
runs as its own process on the same Parquet files and reports where its time went; the ratio is of wall times.

- fairness: 1M rows, SEX (2) x RACE (6), label, prediction and score; every group of each feature and of their
  intersection, six rates and ROC AUC, with 1,000-resample bootstrap intervals. `rai fairness --boot 1000` against
  fairlearn's MetricFrame with `n_boot`. MetricFrame re-runs every metric on every resample (about a minute per
  resample here), so its 1,000-resample time is extrapolated from whole runs at n_boot = 0 and n_boot = --peer-boot:
  time(0) + 1000 x (time(k) - time(0)) / k.
- drift: 1M rows x 20 columns (10 numeric, 10 string) per window, a few shifted. `rai drift` against Evidently 0.7's
  DataDriftPreset, both writing JSON; the per-column verdicts and statistics must agree.

    .venv/bin/python benchmarks/whole_commands.py [--rows 1000000] [--peer-boot 1] [--only fairness|drift]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from drift_engine import frames  # noqa: E402 - the same windows as the in-process benchmark
from fairness_engine import data  # noqa: E402

PYTHON = sys.executable
RAI = str(Path(sys.executable).parent / "rai")
CONFUSION = ["selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy"]

# The peers' scripts, as a user would write them: import, read the file(s) with pandas, compute, write JSON.
FAIRLEARN = textwrap.dedent('''
    import json, sys, time, warnings
    t = [time.perf_counter()]
    import pandas as pd
    from fairlearn.metrics import (MetricFrame, false_negative_rate, false_positive_rate, selection_rate,
                                   true_positive_rate)
    from sklearn.metrics import accuracy_score, precision_score, roc_auc_score
    t.append(time.perf_counter())
    path, n_boot, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    df = pd.read_parquet(path)
    t.append(time.perf_counter())
    rates = {"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate,
             "fnr": false_negative_rate, "precision": lambda y, p: precision_score(y, p, zero_division=float("nan")),
             "accuracy": accuracy_score}
    boot = dict(n_boot=n_boot, ci_quantiles=[0.025, 0.975], random_state=0) if n_boot else {}
    result = {}
    warnings.simplefilter("ignore")
    for name, features in {"SEX": ["SEX"], "RACE": ["RACE"], "SEX&RACE": ["SEX", "RACE"]}.items():
        mf = MetricFrame(metrics=rates, y_true=df.label, y_pred=df.pred, sensitive_features=df[features], **boot)
        auc = MetricFrame(metrics=roc_auc_score, y_true=df.label, y_pred=df.score, sensitive_features=df[features], **boot)
        table = mf.by_group.assign(auc=auc.by_group)
        result[name] = {"&".join(f"{f}={v}" for f, v in zip(features, key if isinstance(key, tuple) else (key,))): row.to_dict()
                        for key, row in table.iterrows()}
    t.append(time.perf_counter())
    json.dump(result, open(out, "w"))
    t.append(time.perf_counter())
    print("timings " + json.dumps(dict(zip(["import", "read", "compute", "write"], [b - a for a, b in zip(t, t[1:])]))),
          file=sys.stderr)
''')

EVIDENTLY = textwrap.dedent('''
    import json, sys, time, warnings
    t = [time.perf_counter()]
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset
    t.append(time.perf_counter())
    reference, current, out = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2]), sys.argv[3]
    t.append(time.perf_counter())
    numeric = [c for c in reference.columns if pd.api.types.is_numeric_dtype(reference[c])]
    definition = DataDefinition(numerical_columns=numeric,
                                categorical_columns=[c for c in reference.columns if c not in numeric])
    warnings.simplefilter("ignore")
    snapshot = Report([DataDriftPreset()]).run(Dataset.from_pandas(current, data_definition=definition),
                                               Dataset.from_pandas(reference, data_definition=definition))
    t.append(time.perf_counter())
    json.dump(snapshot.dict(), open(out, "w"), default=str)
    t.append(time.perf_counter())
    print("timings " + json.dumps(dict(zip(["import", "read", "compute", "write"], [b - a for a, b in zip(t, t[1:])]))),
          file=sys.stderr)
''')


def run(cmd: list[str], stdout_to: Path | None = None) -> tuple[float, dict]:
    """Wall time of a whole process, and the breakdown it printed on stderr."""
    started = time.perf_counter()
    with open(stdout_to or "/dev/null", "w") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{cmd[0]} {cmd[1]} failed ({done.returncode}): {done.stderr[-2000:]}")
    line = next(x for x in done.stderr.splitlines() if x.startswith("timings"))
    if line.startswith("timings {"):
        laps = json.loads(line.removeprefix("timings "))
    else:  # rai's --timings: "timings: import 0.123 s, read ..."
        laps = {k: float(v.removesuffix(" s")) for k, v in (p.split(" ", 1) for p in line.removeprefix("timings: ").split(", "))}
    return wall, laps


def median_run(cmd: list[str], stdout_to: Path, times: int = 3) -> tuple[float, dict]:
    """A command of a few seconds, run `times` times: the run with the median wall time (one run of the peers'
    minute-long scripts averages out the noise of this shared machine; one of ours would not)."""
    runs = sorted((run(cmd, stdout_to) for _ in range(times)), key=lambda r: r[0])
    return runs[len(runs) // 2]


def breakdown(wall: float, laps: dict) -> str:
    rest = wall - sum(laps.values())
    return f"{wall:8.2f} s  (start-up and exit {rest:.2f}, " + ", ".join(f"{k} {v:.2f}" for k, v in laps.items()) + ")"


def fairness(rows: int, peer_boot: int, work: Path) -> None:
    path = work / f"scored-{rows}.parquet"
    if not path.exists():
        y, p, sex, race = data(rows)
        score = np.clip(0.3 * y + 0.7 * np.random.default_rng(1).random(rows), 0, 1)
        pd.DataFrame({"label": y, "pred": p, "score": score, "SEX": sex, "RACE": race}).to_parquet(path)
    ours_json = work / "rai-fairness.json"
    ours = median_run([RAI, "fairness", "--data", str(path), "--label", "label", "--pred", "pred", "--score", "score",
                "--sensitive", "SEX", "--sensitive", "RACE", "--boot", "1000", "--json", "--timings"], ours_json)
    script = work / "fairlearn_peer.py"
    script.write_text(FAIRLEARN)
    peer_json = work / "fairlearn.json"
    points = run([PYTHON, str(script), str(path), "0", str(peer_json)])
    theirs = json.loads(peer_json.read_text())
    booted = run([PYTHON, str(script), str(path), str(peer_boot), str(work / "fairlearn-boot.json")])
    per_resample = (booted[0] - points[0]) / peer_boot
    extrapolated = points[0] + 1000 * per_resample

    report = json.loads(ours_json.read_text())
    worst, compared = 0.0, 0
    for name, part in report["partitions"].items():
        for group, metrics in part["groups"].items():
            for metric, value in theirs[name][group].items():
                mine = metrics[metric]["value"]
                if (mine is None) != (value != value):  # undefined (no positives, say) on one side only
                    raise SystemExit(f"fairness {name} {group} {metric}: rai {mine}, fairlearn {value}")
                if mine is not None:
                    worst, compared = max(worst, abs(mine - value)), compared + 1
    if worst > 1e-9:
        raise SystemExit(f"fairness: values differ from fairlearn's by up to {worst:.1e}")
    print(f"fairness: {rows:,} rows, 3 partitions (SEX, RACE, SEX&RACE), six rates and AUC per group, 1,000 resamples")
    print(f"  rai fairness --boot 1000     {breakdown(*ours)}  (median of 3 runs)")
    print(f"  fairlearn MetricFrame, points {breakdown(*points)}")
    print(f"  fairlearn, n_boot={peer_boot}          {breakdown(*booted)}")
    print(f"  fairlearn, n_boot=1000 (extrapolated: {per_resample:.1f} s per resample) {extrapolated:10.0f} s")
    print(f"  ratio: {extrapolated / ours[0]:,.0f}x faster with intervals (target >= 100x); "
          f"{points[0] / ours[0]:.1f}x against MetricFrame's points alone")
    print(f"  same values: {compared} group metrics, max |difference| {worst:.1e}")


def drift(rows: int, work: Path) -> None:
    ref, cur = work / f"reference-{rows}.parquet", work / f"current-{rows}.parquet"
    if not (ref.exists() and cur.exists()):
        reference, current = frames(rows)
        reference.to_parquet(ref)
        current.to_parquet(cur)
    ours_json = work / "rai-drift.json"
    ours = median_run([RAI, "drift", "--reference", str(ref), "--current", str(cur), "--json", "--timings"], ours_json)
    script = work / "evidently_peer.py"
    script.write_text(EVIDENTLY)
    peer_json = work / "evidently.json"
    theirs = run([PYTHON, str(script), str(ref), str(cur), str(peer_json)])

    report = json.loads(ours_json.read_text())
    metrics = json.loads(peer_json.read_text())["metrics"]
    scores = {m["config"]["column"]: float(m["value"]) for m in metrics if m["metric_name"].startswith("ValueDrift")}
    count = next(m for m in metrics if m["metric_name"].startswith("DriftedColumnsCount"))["value"]["count"]
    thresholds = {m["config"]["column"]: m["config"].get("threshold") for m in metrics if m["metric_name"].startswith("ValueDrift")}
    worst = 0.0
    for c in report["columns"]:
        if c["statistic"] is None:
            raise SystemExit(f"drift {c['column']}: not assessed by rai ({c['error']})")
        worst = max(worst, abs(c["statistic"] - scores[c["column"]]))
        # Evidently's verdict per column: its method's score against its threshold (p-values below, distances at or above).
        score = scores[c["column"]]
        theirs_drifted = (score >= c["threshold"] if c["method"] in ("wasserstein", "jensenshannon")
                          else score <= c["threshold"] if c["method"] == "ks" else score < c["threshold"])
        if thresholds.get(c["column"]) not in (None, c["threshold"]) or theirs_drifted != c["drifted"]:
            raise SystemExit(f"drift {c['column']}: rai drifted={c['drifted']}, Evidently {scores[c['column']]} "
                             f"(threshold {thresholds.get(c['column'])})")
    if len(report["drifted_columns"]) != int(count) or worst > 1e-9:
        raise SystemExit(f"drift: {len(report['drifted_columns'])} drifted columns vs Evidently's {int(count)}, "
                         f"statistics up to {worst:.1e} apart")
    print(f"drift: {rows:,} rows x 20 columns per window (10 numeric, 10 string), reference and current")
    print(f"  rai drift                    {breakdown(*ours)}  (median of 3 runs)")
    print(f"  Evidently DataDriftPreset    {breakdown(*theirs)}")
    print(f"  ratio: {theirs[0] / ours[0]:.1f}x faster (target >= 30x)")
    print(f"  same verdicts, column by column: {len(report['drifted_columns'])} drifted columns vs {int(count)}; "
          f"max |statistic difference| {worst:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--peer-boot", type=int, default=1, help="fairlearn's n_boot for the extrapolation (default 1)")
    ap.add_argument("--only", choices=["fairness", "drift"])
    ap.add_argument("--work", type=Path, help="where the files are written (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.only in (None, "drift"):
            drift(args.rows, work)
        if args.only in (None, "fairness"):
            fairness(args.rows, args.peer_boot, work)


if __name__ == "__main__":
    main()
