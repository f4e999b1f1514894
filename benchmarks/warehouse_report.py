"""Governance queries and the trend report on a warehouse of 1M+ metric rows.

Generates a year of nightly evaluations through the warehouse's own writer
(one DuckLake transaction per night): M model versions x N nights x 3 suites,
~100 metric rows each, with gate decisions, their checks, drift per column and
model versions. The same facts are also written as one Parquet file each (the
layout of the file-per-fact warehouse this project had before DuckLake). Then:

- the peer: DuckDB reading those per-fact Parquet files directly, for the KPI
  and metric-trend queries;
- ours: the DuckLake warehouse after `maintain()` (inlined facts flushed, small
  files merged), every query the report runs (median of 5, on one cursor and
  into pandas, as the report runs them), `rai query`'s cost including opening
  its own locked-down instance, and the whole `rai report trends` build.

    .venv/bin/python benchmarks/warehouse_report.py [--nights 365] [--models 12] [--out DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rai_pipelines.catalog import load_catalog
from rai_pipelines.report import queries
from rai_pipelines.report.trends import build
from rai_pipelines.settings import project_dir
from rai_pipelines.warehouse import Fact, Warehouse
from rai_pipelines.warehouse.tables import TABLES

SYSTEM = "acs_employment"
GROUPS = [f"SEX={s}&RAC1P={r}" for s in ("Male", "Female") for r in ("White", "Black", "Asian", "Other", "Two+", "AIAN")]
GROUP_METRICS = ["selection_rate", "tpr", "fpr", "precision", "accuracy", "auc", "ece"]
START = datetime(2025, 11, 1, 2, tzinfo=UTC)


def _suite_rows(suite: str, rng: np.random.Generator, quality: float) -> list[tuple[str, str, str, float, float]]:
    """(family, metric, slice, value, half-width) rows shaped like the real suites'."""
    rows = []
    if suite == "performance":
        for metric, base in (("accuracy", 0.81), ("auc", 0.89), ("ece", 0.02), ("selection_rate", 0.45)):
            rows.append(("performance", metric, "overall", base + quality + rng.normal(0, 0.005), 0.006))
        rows += [("performance", m, g, rng.uniform(0.3, 0.9), 0.03) for g in GROUPS for m in GROUP_METRICS]
    elif suite == "fairness":
        for feature in ("SEX", "RAC1P", "SEX&RAC1P"):
            for metric in ("selection_rate", "tpr", "fpr", "precision", "accuracy"):
                rows.append(("fairness", f"{metric}_difference", feature, abs(rng.normal(0.05 + quality, 0.02)), 0.02))
                rows.append(("fairness", f"{metric}_ratio", feature, rng.uniform(0.8, 1.0), 0.03))
        rows += [("fairness", m, g, rng.uniform(0.3, 0.9), 0.04) for g in GROUPS for m in GROUP_METRICS[:5]]
    else:
        rows += [("regression", f"{m}_change", s, rng.normal(0, 0.01), 0.01)
                 for m in ("accuracy", "tpr_difference", "selection_rate_difference", "tpr", "fpr") for s in ("overall", "SEX", "RAC1P")]
        rows += [("regression", f"{m}_change", g, rng.normal(0, 0.02), 0.03) for g in GROUPS for m in ("tpr", "fpr", "selection_rate")]
        rows.append(("regression", "baseline_version", "overall", 1.0, float("nan")))
    return rows


class _Night:
    """One night's facts: written to the warehouse in one transaction, and to the peer as a Parquet file each."""

    def __init__(self, wh: Warehouse, peer: Path):
        self.wh, self.peer, self.facts = wh, peer, []

    def write(self, table: str, system: str, fact_id: str, rows: list[dict]) -> None:
        self.facts.append(Fact(table, system, fact_id, rows))
        path = self.peer / table / f"{fact_id}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=TABLES[table]), path)

    def commit(self) -> None:
        self.wh.write_all(self.facts)
        self.facts = []


def generate(root: Path, peer: Path, nights: int, models: int, seed: int = 0) -> int:
    wh = _Night(Warehouse(root), peer)
    rng = np.random.default_rng(seed)
    columns = ["AGEP", "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY", "DEAR", "DEYE", "DREM",
               "SEX", "RAC1P", "employed"]
    for m in range(1, models + 1):
        wh.write("model_versions", SYSTEM, str(m), [{
            "system": SYSTEM, "model_name": "clf", "model_version": str(m), "artifact_sha256": f"{m:064x}", "recipe": "r",
            "mlflow_run_id": f"train{m}", "registered_at": START - timedelta(days=1), "recorded_at": START}])
    wh.commit()
    metric_rows = 0
    for night in range(nights):
        at = START + timedelta(days=night)
        key = f"batch-{night:04d}.{night:012x}"
        wh.write("dataset_versions", SYSTEM, key, [{
            "system": SYSTEM, "dataset_version": key, "label": f"{at:%Y-%m-%d}", "kind": "production", "digest": f"{night:064x}",
            "rows": 17000, "source": "replay", "schema": "{}", "registered_at": at}])
        drifted = rng.random(len(columns)) < 0.1
        wh.write("drift_results", SYSTEM, f"drift-{key}", [{
            "run_id": f"drift-{key}", "system": SYSTEM, "dataset_version": key, "window": f"{at:%Y-%m-%d}", "reference_version": "ref",
            "column_name": c, "kind": "num", "role": "feature", "method": "wasserstein", "statistic": float(rng.uniform(0, 0.2)),
            "threshold": 0.1, "drifted": bool(d), "n_reference": 68785, "n_current": 17000, "error": None,
            "share_drifted": float(drifted.mean()), "dataset_drift": bool(drifted.mean() > 0.5), "report_matches_full_data": True,
            "mlflow_run_id": "m", "dagster_run_id": "d", "recorded_at": at, "code_version": "c"} for c, d in zip(columns, drifted)])
        for m in range(1, models + 1):
            quality = -0.01 * (m % 3)
            run_ids = []
            for suite in ("performance", "fairness", "champion_comparison"):
                run_id = f"{suite}-{m}-{key}"
                run_ids.append(run_id)
                rows = _suite_rows(suite, rng, quality)
                metric_rows += len(rows)
                wh.write("metrics", SYSTEM, run_id, [{
                    "run_id": run_id, "system": SYSTEM, "model_version": str(m), "dataset_version": key, "family": f, "metric": mt,
                    "slice": sl, "value": float(v), "ci_low": float(v - hw), "ci_high": float(v + hw), "n": 1000, "recorded_at": at}
                    for f, mt, sl, v, hw in rows])
                wh.write("evaluation_runs", SYSTEM, run_id, [{
                    "run_id": run_id, "system": SYSTEM, "model_name": "clf", "model_version": str(m), "dataset_version": key,
                    "dataset_digest": f"{night:064x}", "suite": suite, "suite_digest": "s", "status": "ok", "error": None,
                    "started_at": at, "finished_at": at, "dagster_run_id": "d", "dagster_partition": f"{key}|{m}",
                    "mlflow_run_id": f"{run_id:.32}", "mlflow_experiment_id": "1", "code_version": "c"}])
            verdict = ["pass", "fail", "insufficient_evidence"][m % 3]
            decision = f"{m}-{key}"
            wh.write("gate_decisions", SYSTEM, decision, [{
                "decision_id": decision, "system": SYSTEM, "model_version": str(m), "dataset_version": key, "risk_tier": "high",
                "policy_version": "p" * 64, "verdict": verdict, "reasons": "[]", "waivers_applied": "[]",
                "decided_at": at + timedelta(hours=1),
                "evidence_digest": "e", "evaluation_run_ids": str(run_ids).replace("'", '"'), "code_version": "c"}])
            wh.write("gate_checks", SYSTEM, decision, [{
                "decision_id": decision, "system": SYSTEM, "model_version": str(m), "dataset_version": key, "check_name": f"check{i}",
                "kind": "regression" if i < 3 else "threshold", "family": "fairness" if i % 2 else "performance", "metric": "x",
                "slice": "overall", "status": "fail" if verdict == "fail" and i == 1 else "pass", "observed": 0.1, "op": "<=",
                "threshold": 0.1, "ci_low": 0.0, "ci_high": 0.2, "compared_with": "1" if i < 3 else None, "detail": "",
                "decided_at": at + timedelta(hours=1)} for i in range(13)])
        wh.commit()
    return metric_rows


def _median(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=365)
    parser.add_argument("--models", type=int, default=12)
    parser.add_argument("--out", type=Path, default=None, help="keep the warehouse and report here (default: a temporary folder)")
    args = parser.parse_args()
    base = args.out or Path(tempfile.mkdtemp(prefix="rai-bench-"))
    root, peer_root = base / "warehouse", base / "peer"
    catalog = load_catalog(project_dir() / "assets")
    keys = queries.key_metrics(catalog)

    t = time.perf_counter()
    rows = generate(root, peer_root, args.nights, args.models)
    files = sum(1 for _ in peer_root.rglob("*.parquet"))
    print(f"generated {rows:,} metric rows, {files:,} facts ({args.models} model versions x {args.nights} nights x 3 suites) "
          f"in {time.perf_counter() - t:.1f} s (warehouse and peer files)")

    # The peer: DuckDB straight over the per-fact files.
    con = duckdb.connect()
    for table in ("metrics", "evaluation_runs", "dataset_versions", "gate_decisions"):
        con.execute(f"create view {table} as select * from read_parquet('{peer_root}/{table}/*.parquet', union_by_name=true)")
    peer = {
        "gate rates (kpis)": lambda: con.execute(
            "select system, strftime(decided_at, '%Y-%m') p, avg((verdict = 'pass')::int) from gate_decisions group by all").df(),
        "metric_trends": lambda: con.execute(*queries.metric_trends(keys)).df(),
    }
    peer_s = {name: _median(fn, repeat=1) for name, fn in peer.items()}

    wh = Warehouse(root)
    t = time.perf_counter()
    wh.maintain()
    print(f"maintain (flush inlined facts, merge small files): {time.perf_counter() - t:.1f} s, "
          f"{sum(1 for _ in root.rglob('*.parquet')):,} Parquet files in the lake")

    with wh.connect() as con:
        ours = {
            "kpis": lambda: con.execute(queries.KPIS).df(),
            "gate rates (kpis)": lambda: con.execute(
                "select * from kpis where kpi in ('gate_pass_rate', 'gate_fail_rate')").df(),
            "metric_trends": lambda: con.execute(*queries.metric_trends(keys)).df(),
            "drift": lambda: con.execute(queries.DRIFT).df(),
            "verdicts": lambda: con.execute(queries.VERDICTS).df(),
            "lineage": lambda: con.execute(queries.LINEAGE).df(),
            "counts": lambda: con.execute(queries.COUNTS).df(),
        }
        ours_s = {name: _median(fn) for name, fn in ours.items()}
        total_rows = con.execute("select count(*) from metrics").fetchone()[0]
    cold = _median(lambda: wh.query("select * from kpis"))
    report = build(catalog, wh, base / "report", "http://127.0.0.1:5000")

    print(f"\nwarehouse: {total_rows:,} metric rows visible")
    print(f"{'query':<20}{'ours (ms)':>12}{'peer (ms)':>12}{'ratio':>9}")
    for name, seconds in ours_s.items():
        p = peer_s.get(name)
        print(f"{name:<20}{seconds * 1000:>12.1f}{'' if p is None else f'{p * 1000:>12.0f}':>12}"
              f"{'' if p is None else f'{p / seconds:>8.0f}x':>9}")
    print(f"{'rai query kpis':<20}{cold * 1000:>12.1f}   (its own locked-down DuckDB instance, extensions loaded)")
    print(f"\nrai report trends: {report.seconds['total']:.2f} s for {report.plots} plots "
          f"({report.path.stat().st_size / 1e6:.1f} MB, {report.path})")
    slowest = max(ours_s.values())
    print(f"slowest report query {slowest * 1000:.0f} ms (target < 200 ms); report {report.seconds['total']:.1f} s (target < 10 s)")


if __name__ == "__main__":
    main()
