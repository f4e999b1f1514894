"""Writing facts and reading them through DuckDB views, on a DuckLake (warehouse/lake.py).

Each fact table is a DuckLake table with one hidden column, `_fact`
(`<system>/<fact_id>`). Writing a fact deletes its earlier rows and inserts the
new ones in one transaction, so a forced re-run replaces rather than
duplicates, readers never see half a fact, and facts written together (a gate
decision and its checks) appear together. Every commit is a DuckLake snapshot:
`Warehouse.at(snapshot)` reads the warehouse as it stood then, which is how a
past gate decision is re-derived.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import duckdb
import pyarrow as pa

from rai_pipelines.errors import RaiError, UsageError
from rai_pipelines.warehouse import lake as lakes
from rai_pipelines.warehouse.kpis import KPIS_SQL
from rai_pipelines.warehouse.lake import ALIAS, Lake
from rai_pipelines.warehouse.tables import COMMITTED_BY_RUN, TABLES

if TYPE_CHECKING:  # pandas costs half a second to import: `rai query` prints rows without it
    import pandas as pd

T = TypeVar("T")

_READ_ONLY_STATEMENTS = {"SELECT"}  # not EXPLAIN: EXPLAIN ANALYZE runs its statement
_FACT = "_fact"
_ready: set[tuple[Lake, int]] = set()  # lakes whose tables this process has created or extended


@dataclass(frozen=True)
class Fact:
    """Rows of one table that replace, as one, whatever that table held under the same identity."""

    table: str
    system: str
    fact_id: str
    rows: Sequence[dict]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _as_of_clause(as_of: int | datetime | None) -> str:
    if as_of is None:
        return ""
    if isinstance(as_of, datetime):
        return f" at (timestamp => '{as_of.isoformat()}'::timestamptz)"
    return f" at (version => {int(as_of)})"


def parse_as_of(text: str) -> int | datetime:
    """`rai query --as-of`: a snapshot id, or an ISO timestamp (UTC unless it says otherwise)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--as-of {text!r}: expected a snapshot id (e.g. 42) or an ISO timestamp "
                         "(e.g. 2026-11-30T08:00:00Z); `rai query --snapshots` lists them") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Warehouse:
    """The fact tables of one DuckLake. `Warehouse(root)` is the embedded default under `root`; pass `lake` for
    another catalog and data path (the production profile's PostgreSQL catalog)."""

    def __init__(self, root: str | Path | None = None, *, lake: Lake | None = None,
                 as_of: int | datetime | None = None):
        if lake is None:
            if root is None:
                raise ValueError("Warehouse needs a root directory or a Lake")
            lake = Lake.embedded(root)
        self.lake = lake
        self.as_of = as_of

    @classmethod
    def configured(cls, home: str | Path, catalog: str = "", data_path: str = "") -> Warehouse:
        """The profile's warehouse: its `warehouse.catalog` and `data_path`, or the embedded one under home."""
        if not catalog:
            return cls(Path(home) / "warehouse")
        return cls(lake=Lake(catalog, data_path or f"{Path(home) / 'warehouse' / 'data'}/"))

    def at(self, as_of: int | datetime | None) -> Warehouse:
        """This warehouse read as it stood at a snapshot (or a time); writes are refused."""
        return Warehouse(lake=self.lake, as_of=as_of)

    def snapshot(self) -> int:
        """The newest committed snapshot: pin it (`at`) to read a consistent state across queries."""
        self._prepare()
        return lakes.retrying(self.lake, lambda c: int(c.execute(f"select id from {ALIAS}.current_snapshot()").fetchone()[0]))

    def snapshots(self) -> pd.DataFrame:
        """Every snapshot with its time and what changed (for --as-of)."""
        self._prepare()
        return lakes.retrying(self.lake, lambda c: c.execute(
            f"select snapshot_id, snapshot_time, changes from ducklake_snapshots('{ALIAS}') order by snapshot_id").df())

    # -- tables -------------------------------------------------------------------

    def _prepare(self) -> None:
        """Create missing tables and add missing columns (columns are added, never removed), once per process."""
        key = (self.lake, os.getpid())
        if key in _ready:
            return
        legacy = self.lake.legacy_layout()
        if legacy:
            raise RaiError(f"warehouse: {legacy} holds facts in the file layout of versions before DuckLake, which this "
                           "version does not read; move that folder aside (or start a new RAI_HOME with `rai demo`)")

        def migrate(con: duckdb.DuckDBPyConnection) -> None:
            con.execute("begin")
            have: dict[str, set[str]] = {}
            for table, column in con.execute(
                    "select table_name, column_name from duckdb_columns() where database_name = ?", [ALIAS]).fetchall():
                have.setdefault(table, set()).add(column)
            for table, schema in TABLES.items():
                types = _duckdb_types(table)
                if table not in have:
                    columns = ", ".join(f"{_ident(c)} {types[c]}" for c in schema.names)
                    con.execute(f"create table {ALIAS}.{table} ({columns}, {_FACT} varchar)")
                    continue
                for column in schema.names:
                    if column not in have[table]:
                        con.execute(f"alter table {ALIAS}.{table} add column {_ident(column)} {types[column]}")
            con.execute("commit")

        lakes.retrying(self.lake, migrate)
        _ready.add(key)

    # -- writing ------------------------------------------------------------------

    def write(self, table: str, system: str, fact_id: str, rows: Iterable[dict]) -> None:
        """Write (or supersede) one fact atomically; rows must fit the table's schema."""
        self.write_all([Fact(table, system, fact_id, list(rows))])

    def write_all(self, facts: Sequence[Fact]) -> None:
        """Write facts in one transaction: all of them become visible together, or none."""
        if self.as_of is not None:
            raise RaiError("warehouse: a warehouse read as of a snapshot is read-only")
        by_table: dict[str, list[pa.Table]] = {}
        facts = list({(f.table, f.system, f.fact_id): f for f in facts}.values())  # one identity twice: the last wins
        for fact in facts:
            if "/" in fact.system or "/" in fact.fact_id or fact.system.startswith("_"):
                raise ValueError(f"invalid warehouse identity {fact.system}/{fact.fact_id}")
            # pyarrow refuses rows that do not fit before anything is written.
            data = pa.Table.from_pylist(list(fact.rows), schema=TABLES[fact.table])
            identity = pa.array([f"{fact.system}/{fact.fact_id}"] * data.num_rows, pa.string())
            by_table.setdefault(fact.table, []).append(data.append_column(_FACT, identity))
        staged = {table: pa.concat_tables(parts) for table, parts in by_table.items()}
        identities = {table: sorted({f"{f.system}/{f.fact_id}" for f in facts if f.table == table}) for table in staged}
        self._prepare()

        def commit(con: duckdb.DuckDBPyConnection) -> None:
            # One statement per table, not per fact: a night's facts commit in a handful of statements.
            con.execute("begin")
            for i, (table, data) in enumerate(staged.items()):
                target, name = f"{ALIAS}.{table}", f"_rows{i}"
                con.register(name, data)
                if con.execute(f"select 1 from {target} where {_FACT} in (select unnest(?)) limit 1",
                               [identities[table]]).fetchone():
                    con.execute(f"delete from {target} where {_FACT} in (select unnest(?))", [identities[table]])
                columns = ", ".join(_ident(c) for c in data.schema.names)
                con.execute(f"insert into {target} ({columns}) select {columns} from {name}")
            con.execute("commit")

        def deduplicate(con: duckdb.DuckDBPyConnection) -> None:
            # Two writers that both found an identity absent both insert it (appends do not conflict in DuckLake):
            # the later commit's rows are the fact, the earlier ones go. A reader may see both for that moment.
            for table, ids in identities.items():
                found = con.execute(f"select {_FACT}, max(snapshot_id) from {ALIAS}.{table} where {_FACT} in (select unnest(?)) "
                                    f"group by {_FACT} having count(distinct snapshot_id) > 1", [ids]).fetchall()
                if found:
                    con.execute("begin")
                    for identity, newest in found:
                        con.execute(f"delete from {ALIAS}.{table} where {_FACT} = ? and snapshot_id < ?", [identity, newest])
                    con.execute("commit")

        lakes.retrying(self.lake, commit)
        lakes.retrying(self.lake, deduplicate)

    def exists(self, table: str, system: str, fact_id: str) -> bool:
        self._prepare()
        sql = f"select 1 from {ALIAS}.{table}{_as_of_clause(self.as_of)} where {_FACT} = ? limit 1"
        return lakes.retrying(self.lake, lambda c: c.execute(sql, [f"{system}/{fact_id}"]).fetchone() is not None)

    def maintain(self) -> None:
        """Flush inlined facts into Parquet and merge small files. Snapshots are kept (no expiry): audit re-derives
        old decisions from them."""
        self._prepare()

        def work(con: duckdb.DuckDBPyConnection) -> None:
            con.execute(f"call ducklake_flush_inlined_data('{ALIAS}')")
            con.execute(f"call ducklake_merge_adjacent_files('{ALIAS}')")

        lakes.retrying(self.lake, work)

    # -- reading ------------------------------------------------------------------

    def _views(self, con: duckdb.DuckDBPyConnection, sql: str | None, temp: bool) -> None:
        """One view per fact table, and `kpis`. Only the views the statement names (and what they rest on) are
        created when it is given: the pipeline opens many short cursors."""
        if sql is None or re.search(r"\bkpis\b", sql, re.IGNORECASE):
            wanted = set(TABLES) | {"kpis"}
        else:
            wanted = {t for t in TABLES if re.search(rf"\b{t}\b", sql, re.IGNORECASE)}
        if wanted & COMMITTED_BY_RUN:
            wanted.add("evaluation_runs")
        kind = "temp view" if temp else "view"
        at = _as_of_clause(self.as_of)
        for table in (t for t in TABLES if t in wanted):
            if self.as_of is not None and not self._existed(con, table):
                source = f"select {self._columns(con, table, present=set())} where false"
            else:
                source = f"select {self._columns(con, table)} from {ALIAS}.{table}{at}"
            if table in COMMITTED_BY_RUN:  # the evaluation_runs view is created first (TABLES' order)
                source = f"select * from ({source}) where run_id in (select run_id from evaluation_runs where status = 'ok')"
            con.execute(f"create or replace {kind} {table} as {source}")
        if "kpis" in wanted:
            con.execute(KPIS_SQL.replace("create view", f"create or replace {kind}", 1))

    def _existed(self, con: duckdb.DuckDBPyConnection, table: str) -> bool:
        try:
            con.execute(f"select 1 from {ALIAS}.{table}{_as_of_clause(self.as_of)} limit 0")
        except duckdb.Error:
            return False  # created after that snapshot
        return True

    def _columns(self, con: duckdb.DuckDBPyConnection, table: str, present: set[str] | None = None) -> str:
        """The contract's columns of a table; read as of a snapshot from before a column was added, that column is
        NULL (columns are added, never removed)."""
        if present is None:
            present = ({c for c, *_ in con.execute(f"describe select * from {ALIAS}.{table}{_as_of_clause(self.as_of)}").fetchall()}
                       if self.as_of is not None else set(TABLES[table].names))
        names = TABLES[table].names
        types = _duckdb_types(table) if not present.issuperset(names) else {}
        return ", ".join(_ident(c) if c in present else f"null::{types[c]} as {_ident(c)}" for c in names)

    def connect(self, sql: str | None = None) -> duckdb.DuckDBPyConnection:
        """A cursor with the warehouse views (as temporary views: cursors of one process share an instance)."""
        self._prepare()
        con = lakes.instance(self.lake).cursor()
        try:
            self._views(con, sql, temp=True)
        except duckdb.Error as exc:
            con.close()
            raise RaiError(f"warehouse: {str(exc).splitlines()[0]}") from None
        return con

    def frame(self, sql: str, params: list | None = None) -> pd.DataFrame:
        def read(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
            self._views(con, sql, temp=True)
            return con.execute(sql, params or []).df()

        self._prepare()
        return lakes.retrying(self.lake, read)

    def query(self, sql: str) -> pd.DataFrame:
        """Run user SQL, refusing anything but reads of the warehouse views."""
        return self._read_only(sql, lambda result: result.df())

    def query_rows(self, sql: str) -> tuple[list[str], list[tuple]]:
        """`query`'s answer as column names and Python rows: what `rai query` prints, without pandas' import time."""
        return self._read_only(sql, lambda result: ([d[0] for d in result.description], result.fetchall()))

    def _read_only(self, sql: str, fetch: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise RaiError(f"query: {str(exc).splitlines()[0]}") from None
        if len(statements) != 1:
            raise RaiError(f"query: expected exactly one SQL statement, got {len(statements)}")
        kind = statements[0].type.name
        if kind not in _READ_ONLY_STATEMENTS:
            raise RaiError(f"query: {kind} statements are not allowed; the warehouse is read-only through rai query")
        _only_views(sql)
        if self.lake.kind == "sqlite" and not Path(self.lake.target).exists():
            self._prepare()  # a state nothing has written to yet: its views are empty, not an error
        con = self.lake.open(read_only=True)  # an instance of its own: it is locked down below
        try:
            have = set(con.execute("select table_name || '.' || column_name from duckdb_columns() "
                                   f"where database_name = {lakes.sql_str(ALIAS)}").fetchall())
            if {(f"{t}.{c}",) for t, schema in TABLES.items() for c in schema.names} - have:
                con.close()  # a new warehouse, or one from before a column was added: a writer brings it up to date
                self._prepare()
                con = self.lake.open(read_only=True)
            self._views(con, sql, temp=False)  # the views it names (and what they rest on): nothing else is readable
            # Reads only, and only the lake's files: no read_text('/any/file'), no COPY TO, no ATTACH.
            roots = {self.lake.data_path.rstrip("/")} | ({str(Path(self.lake.target).parent)} if self.lake.kind == "sqlite" else set())
            allowed = ", ".join("'" + r.replace("'", "''") + "/'" for r in sorted(roots))
            con.execute(f"set allowed_directories = [{allowed}]")
            con.execute("set enable_external_access = false")
            con.execute("set lock_configuration = true")
            return fetch(con.execute(sql))
        except duckdb.Error as exc:
            raise RaiError(f"query: {str(exc).splitlines()[0]}") from None
        finally:
            con.close()


def _duckdb_types(table: str) -> dict[str, str]:
    """The DuckDB type of each of a table's columns, as DuckDB maps its Arrow schema."""
    key = (table, str(TABLES[table]))
    if key not in _TYPES:
        with duckdb.connect() as con:
            con.register("_empty", TABLES[table].empty_table())
            _TYPES[key] = dict(con.execute("select column_name, column_type from (describe select * from _empty)").fetchall())
    return _TYPES[key]


_TYPES: dict[tuple[str, str], dict[str, str]] = {}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _only_views(sql: str) -> None:
    """Refuse SQL that reads anything but the warehouse views: table functions (read_parquet on the lake's own
    files would see rows the views hide), qualified names (the lake's tables and metadata), AT clauses."""
    with duckdb.connect() as con:
        try:
            tree = json.loads(con.execute(f"select json_serialize_sql({lakes.sql_str(sql)})").fetchone()[0])
        except duckdb.Error as exc:  # a NUL byte in the statement, say: still one line
            raise RaiError(f"query: {str(exc).splitlines()[0]}") from None
    if tree.get("error"):
        raise RaiError(f"query: {tree.get('error_message', 'cannot parse')}".splitlines()[0])
    ctes: set[str] = set()
    refs: list[dict] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("cte_map"), dict):
                ctes.update(entry["key"].lower() for entry in node["cte_map"].get("map", []))
            if node.get("type") in ("TABLE_FUNCTION", "BASE_TABLE"):
                refs.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    views = set(TABLES) | {"kpis"}
    for ref in refs:
        if ref["type"] == "TABLE_FUNCTION":
            name = ref.get("function", {}).get("function_name", "?")
            raise RaiError(f"query: table function {name}() is not allowed; query the warehouse views ({', '.join(sorted(views))})")
        name = ref["table_name"].lower()
        if not _IDENTIFIER.fullmatch(name):  # a quoted path would be a file scan wherever no CTE of that name is in scope
            raise RaiError(f"query: {ref['table_name']!r} is not a warehouse view; name views as plain identifiers")
        if ref.get("catalog_name") or ref.get("schema_name") or ref.get("at_clause"):
            raise RaiError(f"query: {'.'.join(p for p in (ref.get('catalog_name'), ref.get('schema_name'), ref['table_name']) if p)} "
                           "is not a warehouse view; name views unqualified, and use --as-of for an earlier state")
        if name not in views and name not in ctes:
            raise RaiError(f"query: {ref['table_name']} is not a warehouse view; the views are {', '.join(sorted(views))}")
