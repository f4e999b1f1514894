"""Writing facts and reading them through DuckDB.

A fact is written once as its own small Parquet file,
`<table>/<system>/<fact_id>~<sequence>.parquet`, under a temporary name and
renamed, so readers never see half a file and concurrent runs never share one.
Writing the same fact id again (a forced re-run) adds a file with a later
sequence; readers see only the latest, so a re-run replaces rather than
duplicates, and no file is ever modified in place.

Thousands of small files make every scan slow, so the warehouse compacts
itself: once a table has `COMPACT_AT` loose files, the next reader that can
take the compaction lock merges the current segment and the loose files into a
new segment generation (`<table>/_segments/<gen>.parquet`, then its manifest
`<gen>.json`, which is what makes it current). Readers skip the loose files a
current manifest says it consumed; the files themselves, and superseded
segments, are deleted only after `GRACE` so a reader that listed them a moment
earlier still finds them. DuckDB reads everything through views in a fresh
in-memory database per connection: any number of processes can write while
governance reads, and nothing depends on two processes writing one `.duckdb`
file.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rai_pipelines.atomic import atomic_path
from rai_pipelines.errors import RaiError
from rai_pipelines.warehouse.kpis import KPIS_SQL
from rai_pipelines.warehouse.tables import COMMITTED_BY_RUN, TABLES

_READ_ONLY_STATEMENTS = {"SELECT"}  # not EXPLAIN: EXPLAIN ANALYZE runs its statement
COMPACT_AT = 200  # loose files in one table before a reader compacts it
GRACE = 15 * 60  # seconds a consumed file or superseded segment stays readable
_SEGMENTS = "_segments"
_SEQ = "~"
# `<system>/<fact_id>~<seq>.parquet`; files from before sequences (`<fact_id>.parquet`) count as sequence 0.
_FACT_SQL = r"regexp_extract(filename, '([^/]+/[^/]+?)(~[0-9-]+)?\.parquet$', 1)"
_SEQ_SQL = r"coalesce(nullif(regexp_extract(filename, '~([0-9-]+)\.parquet$', 1), ''), '0')"


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_list(paths: Iterable[Path]) -> str:
    return "[" + ", ".join(_sql_str(str(p)) for p in paths) + "]"


@dataclass(frozen=True)
class _Generation:
    number: int
    parquet: Path
    consumed: dict[str, float]  # loose file (relative to the table) -> when a segment took it in
    created_at: float


class Warehouse:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    # -- writing ----------------------------------------------------------------

    def write(self, table: str, system: str, fact_id: str, rows: Iterable[dict]) -> Path:
        """Write (or supersede) one fact atomically; rows must fit the table's schema."""
        if _SEQ in fact_id or "/" in fact_id or "/" in system or system.startswith("_"):
            raise ValueError(f"invalid warehouse identity {system}/{fact_id}")
        data = pa.Table.from_pylist(list(rows), schema=TABLES[table])
        path = self.root / table / system / f"{fact_id}{_SEQ}{time.time_ns():020d}-{os.getpid()}.parquet"
        with atomic_path(path) as tmp:
            pq.write_table(data, tmp)
        return path

    def exists(self, table: str, system: str, fact_id: str) -> bool:
        folder = self.root / table / system
        if any(folder.glob(f"{fact_id}{_SEQ}*.parquet")) or (folder / f"{fact_id}.parquet").exists():
            return True
        current = self._current(table)
        if current is None:
            return False
        with duckdb.connect(":memory:") as con:  # the segment is sorted by _fact: row-group statistics find it
            return con.execute(f"select count(*) from read_parquet({_sql_str(str(current.parquet))}) where _fact = ?",
                               [f"{system}/{fact_id}"]).fetchone()[0] > 0

    # -- layout -----------------------------------------------------------------

    def _loose(self, table: str) -> list[str]:
        """Loose fact files as `<system>/<file>`, relative to the table's folder."""
        out = []
        try:
            systems = [e for e in os.scandir(self.root / table) if e.is_dir() and not e.name.startswith("_")]
        except FileNotFoundError:
            return out
        for system in systems:
            out.extend(f"{system.name}/{e.name}" for e in os.scandir(system.path) if e.name.endswith(".parquet"))
        return out

    def _current(self, table: str) -> _Generation | None:
        folder = self.root / table / _SEGMENTS
        manifests = sorted(folder.glob("*.json")) if folder.is_dir() else []
        if not manifests:
            return None
        manifest = json.loads(manifests[-1].read_text())
        return _Generation(int(manifests[-1].stem), manifests[-1].with_suffix(".parquet"),
                           manifest["consumed"], manifest["created_at"])

    def _sources(self, table: str) -> tuple[_Generation | None, list[str]]:
        current = self._current(table)  # before listing: a file consumed after this is still read loose
        consumed = current.consumed if current else {}
        return current, sorted(f for f in self._loose(table) if f not in consumed)

    def _facts_sql(self, con: duckdb.DuckDBPyConnection, table: str, current: _Generation | None, loose: list[str]) -> str:
        """SQL for a table's latest facts, with the hidden columns _fact and _seq."""
        empty = f"_{table}_empty"
        con.register(empty, TABLES[table].empty_table())
        parts = [f"select *, ''::varchar as _fact, '0'::varchar as _seq from {empty}"]
        if loose:
            parts.append(
                f"select * exclude (filename) from (select *, {_FACT_SQL} as _fact, {_SEQ_SQL} as _seq "
                f"from read_parquet({_sql_list(self.root / table / f for f in loose)}, union_by_name=true, filename=true)) "
                "qualify _seq = max(_seq) over (partition by _fact)"
            )
        body = " union all by name ".join(parts)
        if current is None:
            return body
        # A loose version of a fact supersedes the segment's copy of it.
        segment = f"select * from read_parquet({_sql_str(str(current.parquet))})"
        if loose:
            segment += " where _fact not in (select _fact from loose)"
        return f"with loose as ({body}) select * from loose union all by name {segment}"

    # -- compaction -------------------------------------------------------------

    @contextmanager
    def _compaction_lock(self) -> Iterator[bool]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".compaction.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def compact(self, table: str | None = None, *, min_loose: int = 1) -> dict[str, int]:
        """Merge loose facts into a new segment generation; returns loose files consumed per table.

        Skips (returns {}) when another process is compacting."""
        consumed_now: dict[str, int] = {}
        with self._compaction_lock() as locked:
            if not locked:
                return {}
            for name in [table] if table else list(TABLES):
                current, loose = self._sources(name)
                if len(loose) >= min_loose:
                    self._compact_table(name, current, loose)
                    consumed_now[name] = len(loose)
                self._collect_garbage(name)
        return consumed_now

    def _compact_table(self, table: str, current: _Generation | None, loose: list[str]) -> None:
        number = current.number + 1 if current else 1
        folder = self.root / table / _SEGMENTS
        folder.mkdir(parents=True, exist_ok=True)
        parquet = folder / f"{number:08d}.parquet"
        with duckdb.connect(":memory:") as con:
            sql = self._facts_sql(con, table, current, loose)
            columns = ", ".join(f'"{c}"' for c in TABLES[table].names)
            with atomic_path(parquet) as tmp:
                con.execute(f"copy (select {columns}, _fact, _seq from ({sql}) where _fact <> '' order by _fact) "
                            f"to {_sql_str(tmp)} (format parquet)")
        now = time.time()
        consumed = {**(current.consumed if current else {}), **{f: now for f in loose}}
        # The manifest is written last: until it exists the new segment is not current.
        self._write_manifest(table, number, consumed, now)

    def _collect_garbage(self, table: str) -> None:
        """Delete what no reader can still need: loose files consumed, and segments superseded, over GRACE ago."""
        current = self._current(table)
        if current is None:
            return
        now = time.time()
        expired = {f for f, at in current.consumed.items() if now - at > GRACE}
        for name in expired:
            (self.root / table / name).unlink(missing_ok=True)
        if expired:
            self._write_manifest(table, current.number, {f: at for f, at in current.consumed.items() if f not in expired},
                                 current.created_at)
        if now - current.created_at > GRACE:
            for old in (self.root / table / _SEGMENTS).glob("*.*"):
                if old.suffix in {".json", ".parquet"} and int(old.stem) < current.number:
                    old.unlink(missing_ok=True)

    def _write_manifest(self, table: str, number: int, consumed: dict[str, float], created_at: float) -> None:
        with atomic_path(self.root / table / _SEGMENTS / f"{number:08d}.json") as tmp:
            Path(tmp).write_text(json.dumps({"created_at": created_at, "consumed": consumed}))

    def _sources_compacted(self, table: str) -> tuple[_Generation | None, list[str]]:
        """A table's sources, compacting it first when it has COMPACT_AT loose files."""
        current, loose = self._sources(table)
        if len(loose) < COMPACT_AT:
            return current, loose
        try:
            self.compact(table, min_loose=COMPACT_AT)
        except OSError:
            return current, loose  # a reader without write access still reads, only slower
        return self._sources(table)

    # -- reading ----------------------------------------------------------------

    def connect(self, sql: str | None = None) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one view per fact table, and the `kpis` view.

        Binding a view reads its files' footers, and the pipeline opens many
        short connections, so when the statement to run is given only the views
        it names (and what they rest on) are created."""
        if sql is None or re.search(r"\bkpis\b", sql, re.IGNORECASE):
            wanted = set(TABLES) | {"kpis"}
        else:
            wanted = {t for t in TABLES if re.search(rf"\b{t}\b", sql, re.IGNORECASE)}
        if wanted & COMMITTED_BY_RUN:
            wanted.add("evaluation_runs")
        con = duckdb.connect(":memory:")
        for table in (t for t in TABLES if t in wanted):
            current, loose = self._sources_compacted(table)
            columns = ", ".join(f'"{c}"' for c in TABLES[table].names)
            con.execute(f"create view _{table}_facts as select {columns} from ({self._facts_sql(con, table, current, loose)})")
        for table in (t for t in TABLES if t in wanted):
            if table in COMMITTED_BY_RUN:
                con.execute(
                    f"create view {table} as select f.* from _{table}_facts f "
                    "where f.run_id in (select run_id from _evaluation_runs_facts where status = 'ok')"
                )
            else:
                con.execute(f"create view {table} as select * from _{table}_facts")
        if "kpis" in wanted:
            con.execute(KPIS_SQL)
        # Reads only, and only under the warehouse: no read_text('/any/file'), no COPY TO, even for user SQL.
        root = str(self.root.resolve()).replace("'", "''")
        con.execute(f"set allowed_directories = ['{root}/']")
        con.execute("set enable_external_access = false")
        con.execute("set lock_configuration = true")
        return con

    def frame(self, sql: str, params: list | None = None) -> pd.DataFrame:
        with self.connect(sql) as con:
            return con.execute(sql, params or []).df()

    def query(self, sql: str) -> pd.DataFrame:
        """Run user SQL, refusing anything but reads."""
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise RaiError(f"query: {str(exc).splitlines()[0]}") from None
        if len(statements) != 1:
            raise RaiError(f"query: expected exactly one SQL statement, got {len(statements)}")
        kind = statements[0].type.name
        if kind not in _READ_ONLY_STATEMENTS:
            raise RaiError(f"query: {kind} statements are not allowed; the warehouse is read-only through rai query")
        try:
            with self.connect() as con:  # every view, so the user's SQL sees the whole catalog
                return con.execute(sql).df()
        except duckdb.Error as exc:
            raise RaiError(f"query: {str(exc).splitlines()[0]}") from None
