"""Warehouse facts on a DuckLake: one identity replaces, atomic, time travel, read-only SQL through the views only."""

from datetime import UTC, datetime

import pytest

from rai_pipelines.errors import RaiError
from rai_pipelines.warehouse import Fact, Warehouse
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
        wh.write_all([Fact("evaluation_runs", "s", "bad", [_run("bad")]),
                      Fact("metrics", "s", "bad", [{**_metric("bad", 0.1), "value": "not a number"}])])
    assert wh.frame("select count(*) c from evaluation_runs").c[0] == 0
    assert not wh.exists("evaluation_runs", "s", "bad")


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
    "select * from '/etc/passwd'",
])
def test_query_cannot_read_or_write_outside_the_warehouse(tmp_path, sql):
    with pytest.raises(RaiError):
        Warehouse(tmp_path).query(sql)
    import os

    assert not os.path.exists("/tmp/rai-should-not-exist.csv")


@pytest.mark.parametrize("sql, message", [
    ("select count(*) from read_parquet('{data}**/*.parquet')", "read_parquet() is not allowed"),
    ("select * from '{data}main/metrics/x.parquet'", "is not a warehouse view"),
    ("select * from lake.metrics", "lake.metrics is not a warehouse view"),
    ("select * from lake.main.metrics", "is not a warehouse view"),
    ("select * from __ducklake_metadata_lake.ducklake_data_file", "is not a warehouse view"),
    ("select * from metrics at (version => 1)", "use --as-of"),
    ("select * from ducklake_snapshots('lake')", "ducklake_snapshots() is not allowed"),
    ("with m as (select * from lake.metrics) select * from m", "is not a warehouse view"),
    ("select * from metrics where run_id in (select run_id from read_csv('/etc/hosts'))", "read_csv() is not allowed"),
    # A CTE named like a file is in scope only in its own query: outside it, the name is a file scan.
    ("""select * from "{data}main/metrics/x.parquet" where 0 = (with "{data}main/metrics/x.parquet" as (select 1) select 0)""",
     "plain identifiers"),
])
def test_query_cannot_read_around_the_views(tmp_path, sql, message):
    """The lake's own Parquet files and tables hold rows the views hide (metrics of errored runs, superseded facts):
    user SQL names the views and nothing else."""
    wh = Warehouse(tmp_path)
    wh.write("metrics", "s", "hidden", [_metric("hidden", 0.5)])  # no run record: invisible through the view
    wh.maintain()  # flush the inlined rows into a Parquet file under the data path
    assert list((tmp_path / "data").rglob("*.parquet"))
    with pytest.raises(RaiError) as err:
        wh.query(sql.format(data=f"{tmp_path / 'data'}/"))
    assert message in str(err.value)
    assert wh.query("with m as (select * from metrics) select count(*) as n from m").n[0] == 0


def test_as_of_reads_the_warehouse_as_it_stood(tmp_path):
    wh = Warehouse(tmp_path)
    wh.write("evaluation_runs", "s", "run1", [_run("run1")])
    wh.write("metrics", "s", "run1", [_metric("run1", 0.5)])
    before = wh.snapshot()
    moment = wh.snapshots().snapshot_time.max()
    wh.write("metrics", "s", "run1", [_metric("run1", 0.9)])  # a forced re-run replaces the value
    wh.write("evaluation_runs", "s", "run2", [_run("run2")])
    assert wh.snapshot() > before
    assert wh.frame("select value from metrics").value.tolist() == [0.9]
    pinned = wh.at(before)
    assert pinned.frame("select value from metrics").value.tolist() == [0.5]
    assert pinned.query("select count(*) as n from evaluation_runs").n[0] == 1
    assert wh.at(moment.to_pydatetime()).frame("select value from metrics").value.tolist() == [0.5]
    assert not pinned.exists("evaluation_runs", "s", "run2") and wh.exists("evaluation_runs", "s", "run2")
    with pytest.raises(RaiError, match="read-only"):
        pinned.write("evaluation_runs", "s", "run3", [_run("run3")])


def test_as_of_a_snapshot_from_before_a_column_or_a_table_existed(tmp_path, monkeypatch):
    import pyarrow as pa

    from rai_pipelines.warehouse import store, tables

    wh = Warehouse(tmp_path)
    wh.write("evaluation_runs", "s", "run1", [_run("run1")])
    old = wh.snapshot()
    grown = {**tables.TABLES, "evaluation_runs": tables.TABLES["evaluation_runs"].append(pa.field("added_later", pa.string())),
             "new_table": pa.schema([("system", pa.string())])}
    monkeypatch.setattr(store, "TABLES", grown)
    monkeypatch.setattr(store, "_ready", set())
    wh.write("evaluation_runs", "s", "run2", [{**_run("run2"), "added_later": "yes"}])
    then = wh.at(old)
    assert then.frame("select run_id, added_later from evaluation_runs").to_dict("records") == [{"run_id": "run1", "added_later": None}]
    assert then.frame("select count(*) as n from new_table").n[0] == 0  # did not exist yet: empty, not an error
    assert wh.at(0).query("select count(*) as n from metrics").n[0] == 0  # before any table


def test_one_identity_twice_in_a_write_keeps_the_last(tmp_path):
    wh = Warehouse(tmp_path)
    wh.write_all([Fact("metrics", "s", "r", [_metric("r", 0.1)]), Fact("metrics", "s", "r", [_metric("r", 0.2)]),
                  Fact("evaluation_runs", "s", "r", [_run("r")])])
    assert wh.frame("select value from metrics").value.tolist() == [0.2]


def test_a_warehouse_in_the_layout_before_ducklake_is_refused_in_one_line(tmp_path):
    (tmp_path / "metrics" / "s").mkdir(parents=True)
    with pytest.raises(RaiError, match="layout of versions before DuckLake") as err:
        Warehouse(tmp_path).frame("select 1")
    assert "\n" not in str(err.value)


def test_columns_added_to_a_table_are_added_to_an_existing_lake(tmp_path, monkeypatch):
    import pyarrow as pa

    from rai_pipelines.warehouse import store, tables

    wh = Warehouse(tmp_path)
    wh.write("evaluation_runs", "s", "run1", [_run("run1")])
    grown = {**tables.TABLES, "evaluation_runs": tables.TABLES["evaluation_runs"].append(pa.field("added_later", pa.string()))}
    monkeypatch.setattr(store, "TABLES", grown)
    monkeypatch.setattr(store, "_ready", set())  # as a process started after the upgrade would
    wh.write("evaluation_runs", "s", "run2", [{**_run("run2"), "added_later": "yes"}])
    rows = wh.frame("select run_id, added_later from evaluation_runs order by run_id").to_dict("records")
    assert rows == [{"run_id": "run1", "added_later": None}, {"run_id": "run2", "added_later": "yes"}]


def test_parse_as_of():
    from rai_pipelines.errors import UsageError
    from rai_pipelines.warehouse.store import parse_as_of

    assert parse_as_of("42") == 42
    assert parse_as_of("2026-11-30T08:00:00") == datetime(2026, 11, 30, 8, tzinfo=UTC)
    with pytest.raises(UsageError, match="snapshot id"):
        parse_as_of("yesterday")




def test_an_extension_planted_ahead_of_site_packages_is_refused(tmp_path, monkeypatch):
    """Extensions load without DuckDB's signature check, so only from beside DuckDB's own package."""
    import importlib

    from rai_pipelines.errors import RaiError
    from rai_pipelines.warehouse.lake import _extension

    planted = tmp_path / "duckdb_extension_ducklake"
    planted.mkdir()
    (planted / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    with pytest.raises(RaiError, match="is not beside DuckDB's own package"):
        _extension("ducklake")
