"""Many writers and a reader on one warehouse, on the embedded SQLite catalog and on PostgreSQL: every fact exactly
once, no fact ever half-visible, no lock error reaching the caller."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import pytest

from rai_pipelines.warehouse import Fact, Warehouse
from rai_pipelines.warehouse.lake import Lake
from tests.support import PG

WRITERS, RUNS, METRICS = 4, 12, 25
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _facts(writer: int, run: int, value: float) -> list[Fact]:
    run_id = f"w{writer}-r{run}"
    metrics = [{"run_id": run_id, "system": "s", "model_version": str(writer), "dataset_version": f"d{run}",
                "family": "fairness", "metric": "tpr", "slice": f"g{j}", "value": value, "ci_low": None, "ci_high": None,
                "n": 100, "recorded_at": NOW} for j in range(METRICS)]
    record = {"run_id": run_id, "system": "s", "model_name": "m", "model_version": str(writer), "dataset_version": f"d{run}",
              "dataset_digest": "x", "suite": "fairness", "suite_digest": "x", "status": "ok", "error": None,
              "started_at": NOW, "finished_at": NOW, "dagster_run_id": "", "dagster_partition": "", "mlflow_run_id": "",
              "code_version": "c"}
    return [Fact("metrics", "s", run_id, metrics), Fact("evaluation_runs", "s", run_id, [record])]


SHARED = 4  # evaluations every writer writes too (a redelivered step, a forced run beside the sensor's)


def _write(lake: Lake, writer: int) -> None:
    wh = Warehouse(lake=lake)
    for run in range(RUNS):
        wh.write_all(_facts(writer, run, 0.5))
        if run % 3 == 0:  # a forced re-run of the same evaluation replaces it
            wh.write_all(_facts(writer, run, 0.75))
        if run < SHARED:
            wh.write_all(_facts(99, run, 0.25))


def _lake(kind: str, tmp_path, request) -> Lake:
    if kind == "sqlite":
        return Lake.embedded(tmp_path / "wh")
    database = request.getfixturevalue("fresh_database")
    return Lake(f"postgres:dbname={database} host={PG['host']} port={PG['port']} user={PG['user']}", f"{tmp_path / 'data'}/")


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_concurrent_writers_and_a_reader_see_every_fact_once(kind, tmp_path, request):
    lake = _lake(kind, tmp_path, request)
    wh = Warehouse(lake=lake)
    wh.snapshot()  # creates the tables before the writers race
    spawn = multiprocessing.get_context("spawn")
    writers = [spawn.Process(target=_write, args=(lake, w)) for w in range(WRITERS)]
    for p in writers:
        p.start()
    reads = 0
    while any(p.is_alive() for p in writers) or reads == 0:
        # Facts written together appear together: a visible run always has all its metrics, never twice.
        seen = wh.frame("select r.run_id, count(m.run_id) as n from evaluation_runs r left join metrics m using (run_id) "
                        "group by r.run_id")
        assert set(seen.n) <= {METRICS}, seen[seen.n != METRICS]
        assert wh.query("select count(*) - count(distinct run_id) as dup from evaluation_runs").dup[0] == 0
        reads += 1
    for p in writers:
        p.join()
        assert p.exitcode == 0, "a writer failed: a lock or conflict error reached it"
    totals = wh.frame("select count(*) as rows, count(distinct run_id) as runs, "
                      "count(*) filter (where value = 0.75) as rewritten from metrics").iloc[0]
    assert (totals.rows, totals.runs) == ((WRITERS * RUNS + SHARED) * METRICS, WRITERS * RUNS + SHARED)
    assert totals.rewritten == WRITERS * len(range(0, RUNS, 3)) * METRICS
    assert reads > 1
    wh.maintain()  # into Parquet under the data path: `rai query`, locked down, still reads it
    assert list((tmp_path / ("wh/data" if kind == "sqlite" else "data")).rglob("*.parquet"))
    assert wh.query("select count(*) as n from metrics").n[0] == (WRITERS * RUNS + SHARED) * METRICS

