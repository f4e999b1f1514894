"""The DuckLake the warehouse lives in: where its catalog and data are, and DuckDB instances attached to it.

DuckLake keeps table metadata in a catalog database (SQLite for the embedded
default, PostgreSQL for production) and the data as Parquet under a data path
that every worker can reach. It gives ACID commits from many processes,
snapshots and time travel, so the warehouse needs no format of its own.

Extensions are LOADed from the installed `duckdb-extension-*` wheels: nothing
is downloaded at run time. Each process keeps one DuckDB instance per lake and
hands out cursors.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb

from rai_pipelines.errors import CatalogError, RaiError

ALIAS = "lake"
# Small facts stay in the catalog database until a checkpoint flushes them into Parquet: one evaluation's rows
# would otherwise be a file of their own.
_INLINE_ROWS = 1000
_SQLITE_BUSY_MS = 30_000
_RETRY_SECONDS = 120.0
# Another writer committed first, or SQLite refused a read-to-write lock upgrade (duckdb/ducklake#1309): the
# transaction rolled back, so running it again is safe.
_RETRYABLE = re.compile(r"database is locked|Failed to commit DuckLake transaction|Transaction conflict|"
                        r"could not serialize access|deadlock detected", re.IGNORECASE)
# The catalog's server went away (a PostgreSQL restart): a new instance reconnects.
_RECONNECT = re.compile(r"server closed the connection|terminating connection|connection to server|"
                        r"Connection refused|no connection to the server|the database system is (starting|shutting)|"
                        r"fetch from an unsuccessful query result",  # postgres_scanner, on a connection the restart cut
                        re.IGNORECASE)
_MAX_INSTANCES = 8

T = TypeVar("T")


def _extension(name: str) -> str:
    package = "duckdb_extension_" + name
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RaiError(f"warehouse: the DuckDB extension package {package.replace('_', '-')} is not installed; "
                       "run `make setup-core`")
    installed = Path(next(iter(spec.submodule_search_locations))).resolve()
    # Loaded without a signature check (Lake.open): only from where pip put DuckDB itself, never from a directory
    # that happens to come first on sys.path (the working directory, under `python -m`).
    site = Path(duckdb.__file__).resolve().parents[1]
    if not installed.is_relative_to(site):
        raise RaiError(f"warehouse: {installed} is not beside DuckDB's own package in {site}; remove it, or reinstall "
                       f"{package.replace('_', '-')} with `make setup-core`")
    path = installed / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        raise RaiError(f"warehouse: {path} is missing: the {package} wheel does not match DuckDB {duckdb.__version__}")
    return str(path)


def sql_str(value: str) -> str:
    """A SQL string literal. Also what keeps pandas unimported: binding any Python parameter makes DuckDB import it."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Lake:
    """Where one warehouse lives. `catalog` is `sqlite:<file>` or `postgres:<libpq keywords>`; `data_path` is a
    directory every worker reaches (a shared filesystem)."""

    catalog: str
    data_path: str

    def __post_init__(self) -> None:
        kind = self.kind
        if kind not in ("sqlite", "postgres"):
            raise CatalogError(f"warehouse catalog {self.catalog!r}: expected sqlite:<file> or postgres:<dsn>")
        if kind == "postgres" and (re.search(r"\bpassword\s*=", self.catalog, re.IGNORECASE)
                                   or re.search(r"://[^/@]*:[^/@]*@", self.catalog)):
            raise CatalogError("warehouse catalog: a password in the DSN would be logged and copied into lineage; "
                               "put it in PGPASSWORD or ~/.pgpass")

    @classmethod
    def embedded(cls, root: str | Path) -> Lake:
        root = Path(root).resolve()
        return cls(f"sqlite:{root / 'catalog.sqlite'}", f"{root / 'data'}/")

    @property
    def kind(self) -> str:
        return self.catalog.split(":", 1)[0]

    @property
    def target(self) -> str:
        return self.catalog.split(":", 1)[1]

    def described(self) -> str:
        """The catalog as lineage may show it: host and database, never credentials."""
        if self.kind == "sqlite":
            return f"DuckLake on SQLite {self.target}, data {self.data_path}"
        fields = dict(re.findall(r"(\w+)=(\S+)", self.target))
        return f"DuckLake on PostgreSQL {fields.get('host', 'localhost')}/{fields.get('dbname', '?')}, data {self.data_path}"

    def attach_sql(self, read_only: bool = False) -> str:
        options = [f"DATA_PATH {sql_str(self.data_path)}", f"DATA_INLINING_ROW_LIMIT {_INLINE_ROWS}"]
        if self.kind == "sqlite":
            options += ["META_JOURNAL_MODE 'WAL'", f"META_BUSY_TIMEOUT {_SQLITE_BUSY_MS}"]
        if read_only:
            options.append("READ_ONLY")
        return f"ATTACH {sql_str('ducklake:' + self.catalog)} AS {ALIAS} ({', '.join(options)})"

    def open(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """A new DuckDB instance with the lake attached (UTC session time)."""
        if self.kind == "sqlite":
            Path(self.target).parent.mkdir(parents=True, exist_ok=True)
        if "://" not in self.data_path:
            Path(self.data_path).mkdir(parents=True, exist_ok=True)
        # Unsigned: the extensions are LOADed by path from the pinned wheels pip installed beside DuckDB's own module;
        # DuckDB's signature check would hash each file again in every process (~0.1 s an extension), and anyone able
        # to swap those files can swap the Python code that loads them. Nothing is ever loaded from anywhere else.
        con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                                     "allow_unsigned_extensions": True})
        try:
            con.execute(f"LOAD {sql_str(_extension('ducklake'))}")
            con.execute(f"LOAD {sql_str(_extension('sqlite_scanner' if self.kind == 'sqlite' else 'postgres_scanner'))}")
            con.execute("SET TimeZone = 'UTC'")
            con.execute(self.attach_sql(read_only))
        except duckdb.Error as exc:
            con.close()
            raise RaiError(f"warehouse: cannot open {self.described()}: {self.redacted(str(exc)).splitlines()[0]}") from None
        return con

    def legacy_layout(self) -> Path | None:
        """A fact-table folder of the warehouse layout before DuckLake (`<table>/<system>/<fact>.parquet`) beside
        the embedded catalog, if there is one."""
        if self.kind != "sqlite":
            return None
        from rai_pipelines.warehouse.tables import TABLES

        root = Path(self.target).parent
        return next((root / t for t in TABLES if (root / t).is_dir()), None)

    def redacted(self, message: str) -> str:
        """An error message without the catalog's connection string (errors from the drivers repeat it)."""
        return message.replace(self.target, self.described()) if self.kind == "postgres" else message


_instances: OrderedDict[tuple, duckdb.DuckDBPyConnection] = OrderedDict()
_lock = threading.Lock()


class _Unreachable(Exception):
    """The catalog could not be attached (its server down or restarting): worth another try."""


def instance(lake: Lake) -> duckdb.DuckDBPyConnection:
    """This process's DuckDB instance for a lake (a forked child opens its own)."""
    key = (lake, os.getpid())
    with _lock:
        found = _instances.get(key)
        if found is not None:
            _instances.move_to_end(key)
            return found
        try:
            con = _instances[key] = lake.open()
        except RaiError as exc:
            if lake.kind == "postgres" and (_RECONNECT.search(str(exc)) or "Failed to attach" in str(exc)):
                raise _Unreachable(str(exc)) from None
            raise
        while len(_instances) > _MAX_INSTANCES:
            _, old = _instances.popitem(last=False)
            old.close()
        return con


def forget(lake: Lake) -> None:
    """Drop this process's instance of a lake, so the next use reconnects. The old instance is kept, never closed:
    closing one whose PostgreSQL connection a server restart cut aborts the whole process (DuckDB 1.5.5)."""
    with _lock:
        old = _instances.pop((lake, os.getpid()), None)
        if old is not None:
            _retired.append(old)


_retired: list[duckdb.DuckDBPyConnection] = []


def retrying(lake: Lake, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run `work` on a fresh cursor, again while another writer holds the catalog or the catalog's server
    restarts; `work` must be one transaction, so a failed attempt left nothing behind."""
    deadline = time.monotonic() + _RETRY_SECONDS
    attempt = 0
    while True:
        cursor, cut = None, False
        try:
            cursor = instance(lake).cursor()  # opening reconnects: the server may still be coming back
            return work(cursor)
        except (duckdb.Error, _Unreachable) as exc:
            message = lake.redacted(str(exc))
            reconnect = isinstance(exc, _Unreachable) or bool(_RECONNECT.search(message))
            if not (reconnect or _RETRYABLE.search(message)) or time.monotonic() > deadline:
                raise RaiError(f"warehouse ({lake.described()}): {message.splitlines()[0]}") from None
            if reconnect:
                forget(lake)
                cut = True
        finally:
            if cursor is not None and cut:
                _retired.append(cursor)  # closing a cursor on a cut connection aborts the process, like its instance
            elif cursor is not None:
                try:
                    cursor.close()
                except duckdb.Error:
                    pass
        attempt += 1
        time.sleep(min(2.0, 0.05 * 2 ** min(attempt, 6)) * (0.5 + random.random()))
