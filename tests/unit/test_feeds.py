"""Source kinds: partitioned files and SQL (a DuckDB file here; PostgreSQL in tests/integration/test_onboarding.py)
cut into windows, late rows making new dataset versions, and the catalog's one-line refusals."""

from datetime import datetime

import duckdb
import pandas as pd
import pytest
from pydantic import ValidationError

from rai_pipelines.catalog import FilesSource, SqlSource
from rai_pipelines.data import feeds
from rai_pipelines.errors import DataError


def _rows(n: int, start: str, every: str = "1h", first_id: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"id": range(first_id, first_id + n), "x": [float(i % 7) for i in range(n)],
                         "logged_at": pd.date_range(start, periods=n, freq=every)})


def test_partitioned_files_are_windows_by_file_name_newest_first_within_lookback(tmp_path):
    for day in ("2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30"):
        _rows(5, day).to_parquet(tmp_path / f"{day}.parquet")
    (tmp_path / "_SUCCESS").write_text("")
    _rows(5, "2026-12-01").to_csv(tmp_path / ".2026-12-01.csv.tmp", index=False)  # a writer's temporary: not yet landed
    (tmp_path / "_temporary" / "0").mkdir(parents=True)  # a writer's staging folder: nothing in it has landed
    _rows(5, "2026-12-02").to_parquet(tmp_path / "_temporary" / "0" / "2026-12-02.parquet")
    source = FilesSource(kind="files", path=str(tmp_path), lookback=3)
    found = feeds.windows(source)
    assert [w.label for w in found] == ["2026-11-28", "2026-11-29", "2026-11-30"]
    assert len(feeds.read(source, found[-1])) == 5
    # A glob selects the same files.
    assert [w.label for w in feeds.windows(FilesSource(kind="files", path=str(tmp_path / "**" / "*.parquet"),
                                                       lookback=3))] == ["2026-11-28", "2026-11-29", "2026-11-30"]


def test_hive_folders_group_their_part_files_into_one_window(tmp_path):
    for day, parts in (("2026-11-29", 1), ("2026-11-30", 2)):
        folder = tmp_path / f"dt={day}"
        folder.mkdir()
        for p in range(parts):
            _rows(4, day, first_id=10 * p).to_csv(folder / f"part-{p}.csv", index=False)
    source = FilesSource(kind="files", path=str(tmp_path), partition_key="dt")
    found = feeds.windows(source)
    assert [(w.label, len(w.files)) for w in found] == [("2026-11-29", 1), ("2026-11-30", 2)]
    assert len(feeds.read(source, feeds.window_named(source, "2026-11-30"))) == 8
    assert len(feeds.read_all(source)) == 12


def test_a_file_outside_any_hive_folder_or_with_an_unusable_name_is_one_line(tmp_path):
    _rows(3, "2026-11-30").to_csv(tmp_path / "loose.csv", index=False)
    with pytest.raises(DataError, match="no 'dt=...' folder in its path"):
        feeds.windows(FilesSource(kind="files", path=str(tmp_path), partition_key="dt"))
    _rows(3, "2026-11-30").to_csv(tmp_path / "week 48|final.csv", index=False)
    with pytest.raises(DataError, match="cannot hold"):
        feeds.windows(FilesSource(kind="files", path=str(tmp_path)))


def _duckdb(path, frame: pd.DataFrame) -> None:
    with duckdb.connect(str(path)) as con:
        con.register("frame", frame)
        con.execute("create or replace table events as select * from frame")


def test_sql_windows_are_complete_days_of_the_time_column(tmp_path):
    db = tmp_path / "feed.duckdb"
    _duckdb(db, _rows(72, "2026-11-28"))  # three whole days, hourly
    source = SqlSource(kind="sql", engine="duckdb", path=str(db), table="events", time_column="logged_at", lookback=5)
    # At noon on the 30th, the 30th is not over: only the 28th and 29th are windows.
    found = feeds.windows(source, now=datetime(2026, 11, 30, 12))
    assert [w.label for w in found][-2:] == ["2026-11-28", "2026-11-29"]
    assert [len(feeds.read(source, w)) for w in found][-2:] == [24, 24]
    after = feeds.windows(source, now=datetime(2026, 12, 1, 0, 1))
    assert after[-1].label == "2026-11-30" and len(feeds.read(source, after[-1])) == 24
    # Weekly windows are ISO weeks (Monday to Sunday) named by year and week.
    weekly = source.model_copy(update={"window": "weekly"})
    week = feeds.windows(weekly, now=datetime(2026, 12, 3))[-1]  # the 30th starts week 49, not over on the 3rd
    assert week.label == "2026-W48" and week.start == datetime(2026, 11, 23) and len(feeds.read(weekly, week)) == 48
    assert feeds.window_named(weekly, "2026-W48") == week
    assert feeds.windows(weekly, now=datetime(2026, 12, 8))[-1].label == "2026-W49"
    # A query instead of a table, filtered like one.
    queried = source.model_copy(update={"table": None, "query": "select * from events where x < 3"})
    window = feeds.window_named(queried, "2026-11-29")
    assert set(feeds.read(queried, window).x) == {0.0, 1.0, 2.0}


def test_late_rows_make_a_new_dataset_version_and_the_evaluated_one_stays_readable(tmp_path, acs):
    """Through the DatasetStore: a window's digest follows its rows, and a snapshot is never overwritten."""
    from rai_pipelines.catalog import _SYSTEM
    from rai_pipelines.data.feeds import read_table, resolve
    from rai_pipelines.data.snapshots import DatasetStore
    from rai_pipelines.data.sources import feed_windows

    production = read_table(resolve(acs.data.production.source)).merge(
        read_table(resolve(acs.data.production.labels.source)), on="id").head(1500)
    production["logged_at"] = pd.Timestamp("2026-11-29") + pd.to_timedelta(range(len(production)), unit="min")
    db = tmp_path / "feed.duckdb"
    _duckdb(db, production.head(1000))
    raw = acs.model_dump(mode="json")
    raw["data"]["production"] = {"source": {"kind": "sql", "engine": "duckdb", "path": str(db), "table": "events",
                                            "time_column": "logged_at", "lookback": 1}}
    raw["data"]["min_rows"] = 100
    system = _SYSTEM.validate_python(raw)
    store = DatasetStore(tmp_path / "snapshots")
    now = datetime(2026, 12, 1)
    first, frame = store.snapshot(system, feed_windows(system, now)[-1])
    assert first.label == "2026-11-29" and first.rows == 1000
    with duckdb.connect(str(db)) as con:  # rows for the 29th that arrive a day late
        con.register("late", production.iloc[1000:1100])
        con.execute("insert into events select * from late")
    second, _ = store.snapshot(system, feed_windows(system, now)[-1])
    assert second.label == first.label and second.rows == 1100 and second.key != first.key
    again, old = store.load(system, first.key)
    assert again.digest == first.digest and old.equals(frame)


@pytest.mark.parametrize("fields, message", [
    ({"engine": "postgres", "dsn": "postgresql://u:secret@h/db", "table": "t", "time_column": "t"},
     "holds a password"),
    ({"engine": "postgres", "dsn_env": "X", "table": "t", "query": "select 1", "time_column": "t"},
     "exactly one of 'table' and 'query'"),
    ({"engine": "duckdb", "table": "t", "time_column": "t"}, "needs 'path'"),
    ({"engine": "duckdb", "path": "f", "query": "select 1; drop table t", "time_column": "t"}, "one SELECT"),
    ({"engine": "duckdb", "path": "f", "query": "delete from t", "time_column": "t"}, "one SELECT"),
    ({"engine": "postgres", "dsn": "postgresql://u@h/db", "table": "t; drop table x", "time_column": "t"},
     "should match pattern"),
])
def test_sql_sources_are_refused_with_the_reason(fields, message):
    with pytest.raises(ValidationError, match=message):
        SqlSource(kind="sql", **fields)


def test_a_failing_query_and_an_unset_dsn_variable_are_one_line(tmp_path, monkeypatch):
    db = tmp_path / "feed.duckdb"
    _duckdb(db, _rows(3, "2026-11-28"))
    source = SqlSource(kind="sql", engine="duckdb", path=str(db), table="no_such_table", time_column="logged_at")
    with pytest.raises(DataError, match=r"duckdb:.*#no_such_table: the query failed .*check the source's table"):
        feeds.windows(source)
    monkeypatch.delenv("RAI_TEST_FEED_DSN", raising=False)
    pg = SqlSource(kind="sql", engine="postgres", dsn_env="RAI_TEST_FEED_DSN", table="t", time_column="t")
    with pytest.raises(DataError, match="RAI_TEST_FEED_DSN .* is not set"):
        feeds.read_all(pg)
    assert feeds.describe(pg) == "postgres:$RAI_TEST_FEED_DSN#t"  # lineage names the variable, never its value


def test_a_query_is_bound_never_formatted_and_cannot_reach_other_files(tmp_path):
    db = tmp_path / "feed.duckdb"
    frame = _rows(48, "2026-11-28").assign(tag=lambda f: ["{a}%" if i % 2 else "b" for i in range(len(f))])
    _duckdb(db, frame)
    braces = SqlSource(kind="sql", engine="duckdb", path=str(db), time_column="logged_at",
                       query="select * from events where tag like '{a}%%' or tag = '{b}';")
    assert len(feeds.read(braces, feeds.window_named(braces, "2026-11-28"))) == 12
    (tmp_path / "secret.csv").write_text("x\n1\n")
    escape = SqlSource(kind="sql", engine="duckdb", path=str(db), time_column="logged_at",
                       query=f"select * from read_csv('{tmp_path / 'secret.csv'}')")
    with pytest.raises(DataError, match="the query failed"):
        feeds.read_all(escape)
