"""The source kinds a system's rows come from: one file, partitioned files, or a SQL table or query.

Partitioned files and SQL sources have windows of their own (a file or hive folder per period; a day or ISO week of
a time column). Each lists its newest windows, reads one, or reads the whole of itself (a reference window). A window
is read afresh on every look, so rows that land late change its content, hence its digest: a new dataset version,
never the one already evaluated.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from rai_pipelines.catalog import FileSource, FilesSource, SqlSource
from rai_pipelines.data.files import read_table
from rai_pipelines.errors import DataError

_SUFFIXES = {".parquet", ".pq", ".csv"}
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # what a dataset version key may start with


@dataclass(frozen=True)
class FeedWindow:
    """One period of a partitioned source: the files holding it, or the [start, end) it covers."""

    label: str
    files: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None


def resolve(source: FileSource) -> Path:
    if source.package is None:
        return Path(source.path)
    try:
        dist = distribution(source.package)
    except PackageNotFoundError:
        raise DataError(
            f"data package {source.package!r} is not installed; run `make setup-core` (it installs it with --no-deps)"
        ) from None
    return Path(str(dist.locate_file(source.path)))


def describe(source) -> str:
    """Where rows come from, for lineage: never a password (a DSN is shown as host/database, or by its variable)."""
    if source.kind == "file":
        return f"{source.package}:{source.path}" if source.package else source.path
    if source.kind == "files":
        return source.path
    what = source.table or "query"
    if source.engine == "duckdb":
        return f"duckdb:{source.path}#{what}"
    if source.dsn_env:
        return f"postgres:${source.dsn_env}#{what}"
    parts = urlsplit(source.dsn)
    try:
        port = parts.port or 5432
    except ValueError:  # a malformed port: shown as written, the connection will say what is wrong
        port = "?"
    return f"postgres://{parts.hostname}:{port}{parts.path}#{what}"


# -- reading ----------------------------------------------------------------------------------------------------


def read_all(source) -> pd.DataFrame:
    """The whole source: a file, every file of a partitioned source, or a SQL source between its start and end."""
    if source.kind == "file":
        return read_table(resolve(source))
    if source.kind == "files":
        found = _files(source)
        if not found:
            raise DataError(f"{source.path}: no .csv or .parquet file found; check the path")
        return _concat(found)
    return _sql_read(source, source.start, source.end)


def columns(source) -> set[str]:
    """The columns a source delivers, read cheaply: a file's header, the newest partitioned file's, an empty query's."""
    if source.kind == "sql":
        return set(_run(source, f"select * from ({_base(source)}) as feed limit 0", {}).columns)
    files = [resolve(source)] if source.kind == "file" else _files(source)[-1:]
    if not files or not files[0].is_file():
        raise DataError(f"{source.path}: no such file; check the path")
    if files[0].suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return set(pq.read_schema(files[0]).names)
    return set(pd.read_csv(files[0], nrows=0).columns)


def read(source, window: FeedWindow) -> pd.DataFrame:
    """The rows of one window of a partitioned source, as they stand now."""
    if source.kind == "files":
        return _concat([Path(f) for f in window.files])
    return _sql_read(source, window.start, window.end)


def windows(source, now: datetime | None = None) -> list[FeedWindow]:
    """The newest `lookback` windows of a partitioned source, oldest first. A SQL window counts once it is over
    (by `now`, UTC); a file counts once it is there."""
    if source.kind == "files":
        by_label: dict[str, list[str]] = {}
        for f in _files(source):
            by_label.setdefault(_file_label(source, f), []).append(str(f))
        newest = sorted(by_label)[-source.lookback:]
        return [FeedWindow(label, files=tuple(sorted(by_label[label]))) for label in newest]
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    current = _floor(source, now)
    column = _quote(source.time_column)
    span = _run(source, f"select min({column}), max({column}) from ({_base(source)}) as feed where {column} < {_ph('current')}",
                {"current": current})
    first, last = span.iloc[0, 0], span.iloc[0, 1]
    if last is None or pd.isna(last):
        return []
    oldest, newest = (_floor(source, pd.Timestamp(t).to_pydatetime()) for t in (first, last))
    starts = [newest - _step(source) * k for k in range(source.lookback)][::-1]
    return [_sql_window(source, s) for s in starts if s >= oldest]  # none before the feed's first row


def window_named(source, label: str) -> FeedWindow:
    """The window of a partitioned source with this label (a usage error when it names none)."""
    if source.kind == "files":
        files = tuple(sorted(str(f) for f in _files(source) if _file_label(source, f) == label))
        if not files:
            raise DataError(f"{source.path}: no file holds window {label!r}; it was moved or deleted")
        return FeedWindow(label, files=files)
    try:
        start = (datetime.strptime(label + "-1", "%G-W%V-%u") if source.window == "weekly"
                 else datetime.strptime(label, "%Y-%m-%d"))
    except ValueError:
        raise DataError(f"{label!r} is not a {source.window} window of {describe(source)}") from None
    return _sql_window(source, start)


# -- partitioned files ------------------------------------------------------------------------------------------


def _files(source: FilesSource) -> list[Path]:
    """Data files of the source, skipping any file or folder under the root whose name starts with '.' or '_'
    (writers' temporaries such as _temporary/ or .staging/, _SUCCESS markers)."""
    root = Path(source.path)
    if root.is_dir():
        candidates = [(p, p.relative_to(root).parts) for p in root.rglob("*")]
    else:
        fixed = []  # the glob's leading folders without wildcards: the root the names below are judged from
        for part in Path(source.path).parts:
            if re.search(r"[*?\[]", part):
                break
            fixed.append(part)
        base = Path(*fixed) if fixed else Path()
        candidates = [(Path(p), Path(p).relative_to(base).parts) for p in glob.glob(source.path, recursive=True)]
    return sorted(p for p, parts in candidates if p.is_file() and p.suffix.lower() in _SUFFIXES
                  and not any(part.startswith((".", "_")) for part in parts))


def _file_label(source: FilesSource, path: Path) -> str:
    if source.partition_key:
        prefix = source.partition_key + "="
        values = [part[len(prefix):] for part in path.parts if part.startswith(prefix)]
        if not values:
            raise DataError(f"{path}: no '{prefix}...' folder in its path; put it under one, or change "
                            "partition_key in the source")
        label = values[-1]
    else:
        label = path.stem
    if not _LABEL.match(label):
        raise DataError(f"{path}: window name {label!r} has characters a dataset version key cannot hold; "
                        "use letters, digits, '.', '_' and '-'")
    return label


def _concat(files: list[Path]) -> pd.DataFrame:
    return pd.concat([read_table(f) for f in files], ignore_index=True)


# -- SQL --------------------------------------------------------------------------------------------------------


def _step(source: SqlSource) -> timedelta:
    return timedelta(days=7 if source.window == "weekly" else 1)


def _floor(source: SqlSource, moment: datetime) -> datetime:
    day = datetime.combine(moment.date(), datetime.min.time())
    return day - timedelta(days=day.weekday()) if source.window == "weekly" else day


def _sql_window(source: SqlSource, start: datetime) -> FeedWindow:
    label = start.strftime("%G-W%V") if source.window == "weekly" else start.strftime("%Y-%m-%d")
    return FeedWindow(label, start=start, end=start + _step(source))


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def quote_table(table: str) -> str:
    """A catalog's (schema-qualified) table name as SQL, each part quoted."""
    return ".".join(_quote(p) for p in table.split("."))


def _base(source: SqlSource) -> str:
    if source.table:
        return "select * from " + quote_table(source.table)
    return source.query.strip().rstrip(";")


def _sql_read(source: SqlSource, start: datetime | date | None, end: datetime | date | None) -> pd.DataFrame:
    where, params = [], {}
    if start is not None:
        where.append(f"{_quote(source.time_column)} >= {_ph('start')}")
        params["start"] = start
    if end is not None:
        where.append(f"{_quote(source.time_column)} < {_ph('end')}")
        params["end"] = end
    sql = f"select * from ({_base(source)}) as feed" + (" where " + " and ".join(where) if where else "")
    return _run(source, sql, params)


def _ph(name: str) -> str:
    """A parameter's place in a statement, spelled per driver by `_run` (never by formatting the user's SQL)."""
    return f"\x00{name}\x00"


_PLACE = re.compile(r"\x00(\w+)\x00")


def _run(source: SqlSource, sql: str, params: dict) -> pd.DataFrame:
    """Run one statement read-only on the source's database, parameters bound by the driver; one line for any
    database error. DuckDB: the file opened read-only with external access off (no other file can be read or
    written). PostgreSQL: a read-only transaction in UTC (windows are UTC days)."""
    where = describe(source)
    try:
        if source.engine == "duckdb":
            import duckdb

            if not Path(source.path).is_file():
                raise DataError(f"{source.path}: no such DuckDB file; check the source's path")
            with duckdb.connect(source.path, read_only=True, config={"enable_external_access": False}) as con:
                return con.execute(_PLACE.sub(r"$\1", sql), params).df()
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        engine = create_engine(_dsn(source), poolclass=NullPool)
        try:
            with engine.connect() as con:
                con.exec_driver_sql("set transaction read only")
                con.exec_driver_sql("set local time zone 'UTC'")
                # psycopg2 binds %(name)s, so every other % (LIKE '%x') is doubled.
                return pd.read_sql_query(_PLACE.sub(r"%(\1)s", sql.replace("%", "%%")), con, params=params)
        finally:
            engine.dispose()
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - a driver's error, whatever its class, is one line to the user
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DataError(f"{where}: the query failed ({type(exc).__name__}: {detail}); check the source's table, "
                        f"query and time_column") from None


def _dsn(source: SqlSource) -> str:
    if source.dsn is not None:
        dsn = source.dsn
    else:
        dsn = os.environ.get(source.dsn_env, "")
        if not dsn:
            raise DataError(f"environment variable {source.dsn_env} (the source's dsn_env) is not set; set it to the "
                            "database's postgresql:// DSN")
    # SQLAlchemy 2.0 maps postgresql:// to psycopg2, the driver installed.
    return "postgresql://" + dsn.split("://", 1)[1] if dsn.startswith(("postgres://", "postgresql://")) else dsn
