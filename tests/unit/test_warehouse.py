"""Warehouse facts: one file per identity, atomic, read-only SQL through DuckDB views."""

from datetime import UTC, datetime

import pytest

from rai_pipelines.errors import RaiError
from rai_pipelines.warehouse import Warehouse
from rai_pipelines.warehouse.tables import TABLES

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def _run(run_id, status="ok"):
    return {
        "run_id": run_id, "system": "s", "model_name": "m", "model_version": "1", "dataset_version": "d.abc",
        "dataset_digest": "abc", "suite": "fairness", "suite_digest": "x", "status": status, "error": None,
        "started_at": NOW, "finished_at": NOW, "dagster_run_id": "", "dagster_partition": "", "mlflow_run_id": "r",
        "code_version": "c",
    }


def _metric(run_id, value):
    return {"run_id": run_id, "system": "s", "model_version": "1", "dataset_version": "d.abc", "family": "fairness",
            "metric": "tpr", "slice": "SEX=Female", "value": value, "ci_low": None, "ci_high": None, "n": 10, "recorded_at": NOW}


def test_empty_warehouse_has_every_view_with_its_columns(tmp_path):
    wh = Warehouse(tmp_path)
    for table, schema in TABLES.items():
        frame = wh.frame(f"select * from {table}")
        assert frame.empty
        assert list(frame.columns) == schema.names


def test_rewrite_replaces_instead_of_duplicating(tmp_path):
    wh = Warehouse(tmp_path)
    wh.write("evaluation_runs", "s", "run1", [_run("run1")])
    wh.write("metrics", "s", "run1", [_metric("run1", 0.5)])
    wh.write("metrics", "s", "run1", [_metric("run1", 0.7)])
    values = wh.frame("select value from metrics")["value"].tolist()
    assert values == [0.7]
    assert not list(tmp_path.rglob("*.tmp"))


def test_metrics_are_invisible_until_their_run_record_says_ok(tmp_path):
    wh = Warehouse(tmp_path)
    wh.write("metrics", "s", "run1", [_metric("run1", 0.5)])
    assert wh.frame("select count(*) c from metrics").c[0] == 0  # killed before the run record
    wh.write("evaluation_runs", "s", "run1", [_run("run1", status="error")])
    assert wh.frame("select count(*) c from metrics").c[0] == 0  # errored run: not usable
    wh.write("evaluation_runs", "s", "run1", [_run("run1")])
    assert wh.frame("select count(*) c from metrics").c[0] == 1


def test_write_refuses_rows_that_do_not_fit_the_schema(tmp_path):
    wh = Warehouse(tmp_path)
    with pytest.raises(ValueError):  # pyarrow refuses the cast; nothing is written
        wh.write("metrics", "s", "bad", [{**_metric("bad", 0.1), "value": "not a number"}])
    assert not (tmp_path / "metrics" / "s" / "bad.parquet").exists()
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize(
    "sql, message",
    [
        ("copy (select 1) to 'x.csv'", "COPY statements are not allowed"),
        ("create table t as select 1", "CREATE statements are not allowed"),
        ("drop view metrics", "DROP statements are not allowed"),
        ("select 1; select 2", "exactly one SQL statement"),
        ("select * from no_such_view", "no_such_view"),
        ("selec 1", "syntax error"),
    ],
)
def test_query_is_read_only_and_errors_are_one_line(tmp_path, sql, message):
    with pytest.raises(RaiError) as err:
        Warehouse(tmp_path).query(sql)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_query_reads_views(tmp_path):
    wh = Warehouse(tmp_path)
    wh.write("evaluation_runs", "s", "run1", [_run("run1")])
    assert wh.query("select run_id, status from evaluation_runs").to_dict("records") == [{"run_id": "run1", "status": "ok"}]


@pytest.mark.parametrize("sql", [
    "explain analyze copy (select 42) to '/tmp/rai-should-not-exist.csv'",
    "select * from read_text('/etc/passwd')",
])
def test_query_cannot_read_or_write_outside_the_warehouse(tmp_path, sql):
    with pytest.raises(RaiError):
        Warehouse(tmp_path).query(sql)
    import os

    assert not os.path.exists("/tmp/rai-should-not-exist.csv")


def _fill(wh, runs, metrics_per_run=3):
    for i in range(runs):
        wh.write("evaluation_runs", "s", f"run{i}", [_run(f"run{i}")])
        wh.write("metrics", "s", f"run{i}", [{**_metric(f"run{i}", i + j / 10), "slice": f"g{j}"} for j in range(metrics_per_run)])


def _all(wh):
    return wh.frame("select run_id, slice, value from metrics order by run_id, slice").to_dict("records")


def test_compaction_keeps_every_fact_once_and_later_writes_supersede_it(tmp_path, monkeypatch):
    from rai_pipelines.warehouse import store

    wh = Warehouse(tmp_path)
    _fill(wh, 6)
    before = _all(wh)
    assert len(before) == 18
    assert wh.compact() == {"evaluation_runs": 6, "metrics": 6}
    assert (tmp_path / "metrics" / "_segments" / "00000001.json").exists()
    assert _all(wh) == before  # the consumed loose files are still on disk, and not read twice
    wh.write("metrics", "s", "run2", [_metric("run2", 99.0)])  # a forced re-run after compaction
    after = _all(wh)
    assert [r["value"] for r in after if r["run_id"] == "run2"] == [99.0]
    assert len(after) == 16
    wh.compact()
    assert _all(wh) == after
    monkeypatch.setattr(store, "GRACE", -1)  # everything consumed is now old enough to delete
    wh.compact()
    assert sorted(p.name for p in (tmp_path / "metrics").rglob("*.parquet")) == ["00000002.parquet"]
    assert _all(wh) == after
    assert wh.exists("metrics", "s", "run5") and not wh.exists("metrics", "s", "run6")


def test_readers_compact_once_a_table_has_many_loose_files(tmp_path, monkeypatch):
    from rai_pipelines.warehouse import store

    monkeypatch.setattr(store, "COMPACT_AT", 5)
    wh = Warehouse(tmp_path)
    _fill(wh, 4)
    wh.frame("select 1")
    assert not (tmp_path / "metrics" / "_segments").exists()
    _fill(wh, 5)
    assert wh.frame("select count(*) c from metrics").c[0] == 15
    assert (tmp_path / "metrics" / "_segments").exists()


def test_a_second_compactor_waits_its_turn_and_readers_still_read(tmp_path):
    wh = Warehouse(tmp_path)
    _fill(wh, 2)
    with wh._compaction_lock() as mine:
        assert mine
        assert Warehouse(tmp_path).compact() == {}
        assert len(_all(Warehouse(tmp_path))) == 6


def test_files_from_before_sequences_are_read_and_superseded(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    wh = Warehouse(tmp_path)
    wh.write("evaluation_runs", "s", "run1", [_run("run1")])
    legacy = tmp_path / "metrics" / "s" / "run1.parquet"
    legacy.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([_metric("run1", 0.25)], schema=TABLES["metrics"]), legacy)
    assert wh.exists("metrics", "s", "run1")
    assert [r["value"] for r in _all(wh)] == [0.25]
    wh.write("metrics", "s", "run1", [_metric("run1", 0.75)])
    assert [r["value"] for r in _all(wh)] == [0.75]
    wh.compact()
    assert [r["value"] for r in _all(wh)] == [0.75]
