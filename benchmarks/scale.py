"""Scale: the warehouse at 10 million metric rows, and a night of many systems on one Celery worker or two.

`warehouse` (default): generates nightly evaluations through the warehouse's own writer (one DuckLake
transaction per night): M model versions x N nights x 3 suites, ~230 metric rows per model and night, with gate
decisions, their checks, drift per column and model versions; then `maintain()` (inlined facts flushed, small
files merged). The peer is the file-based warehouse this project had before DuckLake, at its best (right after a
compaction): the same rows as one Parquet file per table, read by DuckDB with the same view semantics. Every query
the trend report runs is timed on both, 20 times each, into pandas: p50 and p95.

    .venv/bin/python -m benchmarks.scale warehouse [--nights 870] [--models 50] [--out DIR]   # ~10M metric rows

`workers`: S copies of the ACS system x V model versions x one night on the production profile (PostgreSQL,
RabbitMQ), evaluated by `rai evaluate` per system (4 at a time), with one `rai worker` and then two; wall time.

    .venv/bin/python -m benchmarks.scale workers [--systems 20] [--versions 5]
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

from rai_pipelines.catalog import load_catalog
from rai_pipelines.report import queries
from rai_pipelines.report.trends import build
from rai_pipelines.settings import project_dir
from rai_pipelines.warehouse import Fact, Warehouse
from rai_pipelines.warehouse.tables import COMMITTED_BY_RUN, TABLES

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
    """One night's facts, written to the warehouse in one transaction."""

    def __init__(self, wh: Warehouse):
        self.wh, self.facts = wh, []

    def write(self, table: str, system: str, fact_id: str, rows: list[dict]) -> None:
        self.facts.append(Fact(table, system, fact_id, rows))

    def commit(self) -> None:
        self.wh.write_all(self.facts)
        self.facts = []


def generate(root: Path, nights: int, models: int, seed: int = 0) -> int:
    wh = _Night(Warehouse(root))
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


def _percentiles(fn, repeat: int = 20) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    cuts = statistics.quantiles(times, n=20)
    return statistics.median(times), cuts[18]


def _peer(wh: Warehouse, out: Path) -> duckdb.DuckDBPyConnection:
    """The same rows as the pre-DuckLake warehouse held them after a compaction: one Parquet file per table, sorted
    by fact, behind views with the same meaning (metrics only of ok runs)."""
    out.mkdir(parents=True, exist_ok=True)
    with wh.connect() as con:
        for table in TABLES:
            con.execute(f"copy (select * from lake.{table} order by _fact) to '{out / table}.parquet' (format parquet)")
    peer = duckdb.connect()
    for table in TABLES:
        source = f"select * exclude (_fact) from read_parquet('{out / table}.parquet')"
        if table in COMMITTED_BY_RUN:
            source += f" where run_id in (select run_id from read_parquet('{out / 'evaluation_runs'}.parquet') where status = 'ok')"
        peer.execute(f"create view {table} as {source}")
    from rai_pipelines.warehouse.kpis import KPIS_SQL

    peer.execute(KPIS_SQL)
    return peer


def warehouse(args) -> None:
    base = args.out or Path(tempfile.mkdtemp(prefix="rai-scale-"))
    root = base / "warehouse"
    catalog = load_catalog(project_dir() / "assets")
    keys = queries.key_metrics(catalog)
    t = time.perf_counter()
    rows = generate(root, args.nights, args.models)
    took = time.perf_counter() - t
    print(f"generated {rows:,} metric rows ({args.models} model versions x {args.nights} nights x 3 suites) in {took:.0f} s: "
          f"{args.nights / took:.1f} nightly transactions/s, {rows / took:,.0f} metric rows/s")
    wh = Warehouse(root)
    t = time.perf_counter()
    wh.maintain()
    print(f"maintain (flush inlined facts, merge small files): {time.perf_counter() - t:.1f} s, "
          f"{sum(1 for _ in root.rglob('*.parquet')):,} Parquet files in the lake")
    peer = _peer(wh, base / "peer")
    report_queries = {
        "kpis": queries.KPIS, "metric_trends": queries.metric_trends(keys), "drift": queries.DRIFT,
        "verdicts": queries.VERDICTS, "lineage": queries.LINEAGE, "counts": queries.COUNTS,
    }
    print(f"\n{'query':<16}{'ours p50':>10}{'p95 (ms)':>10}{'peer p50':>10}{'p95 (ms)':>10}{'p50 ratio':>11}")
    with wh.connect() as con:
        total = con.execute("select count(*) from metrics").fetchone()[0]
        for name, query in report_queries.items():
            sql, params = (query, []) if isinstance(query, str) else query
            ours = _percentiles(lambda sql=sql, params=params: con.execute(sql, params).df())
            theirs = _percentiles(lambda sql=sql, params=params: peer.execute(sql, params).df())
            print(f"{name:<16}{ours[0] * 1000:>10.0f}{ours[1] * 1000:>10.0f}{theirs[0] * 1000:>10.0f}{theirs[1] * 1000:>10.0f}"
                  f"{theirs[0] / ours[0]:>10.2f}x")
    cold = _percentiles(lambda: wh.query("select * from kpis"), repeat=5)
    print(f"{'rai query kpis':<16}{cold[0] * 1000:>10.0f}{cold[1] * 1000:>10.0f}   (its own locked-down DuckDB instance)")
    report = build(catalog, wh, base / "report", "http://127.0.0.1:5000")
    print(f"\nwarehouse: {total:,} metric rows visible; rai report trends {report.seconds['total']:.1f} s "
          f"for {report.plots} plots ({report.path})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="part")
    w = sub.add_parser("warehouse")
    w.add_argument("--nights", type=int, default=870)
    w.add_argument("--models", type=int, default=50)
    w.add_argument("--out", type=Path, default=None, help="keep the warehouse here (default: a temporary folder)")
    k = sub.add_parser("workers")
    k.add_argument("--systems", type=int, default=20)
    k.add_argument("--versions", type=int, default=5)
    args = parser.parse_args()
    if args.part == "workers":
        from benchmarks._workers import run

        run(args.systems, args.versions)
    else:
        if args.part is None:
            args = parser.parse_args(["warehouse"])
        warehouse(args)


if __name__ == "__main__":
    main()
