"""Writing facts and reading them through DuckDB.

Each fact file's path derives from its identity
(`<table>/<system>/<fact_id>.parquet`): a re-run replaces rather than
duplicates, concurrent runs never share a file, and files are written under a
temporary name and renamed, so readers never see half a file. DuckDB reads the
files through views in a fresh in-memory database per connection, so any number
of processes can write while governance reads; nothing depends on two
processes writing one `.duckdb` file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rai_pipelines.atomic import atomic_path
from rai_pipelines.errors import RaiError
from rai_pipelines.warehouse.kpis import KPIS_SQL
from rai_pipelines.warehouse.tables import COMMITTED_BY_RUN, TABLES

_READ_ONLY_STATEMENTS = {"SELECT"}  # not EXPLAIN: EXPLAIN ANALYZE runs its statement


class Warehouse:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, table: str, system: str, fact_id: str) -> Path:
        return self.root / table / system / f"{fact_id}.parquet"

    def write(self, table: str, system: str, fact_id: str, rows: Iterable[dict]) -> Path:
        """Write (or replace) one fact file atomically; rows must fit the table's schema."""
        schema = TABLES[table]
        data = pa.Table.from_pylist(list(rows), schema=schema)
        path = self._path(table, system, fact_id)
        with atomic_path(path) as tmp:
            pq.write_table(data, tmp)
        return path

    def exists(self, table: str, system: str, fact_id: str) -> bool:
        return self._path(table, system, fact_id).exists()

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one view per fact table."""
        con = duckdb.connect(":memory:")
        for table, schema in TABLES.items():
            files = sorted((self.root / table).glob("*/*.parquet"))
            source = f"_{table}_facts"
            if files:
                listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
                con.execute(f"create view {source} as select * from read_parquet([{listed}], union_by_name=true)")
            else:
                con.register(source, schema.empty_table())
        for table in TABLES:
            if table in COMMITTED_BY_RUN:
                con.execute(
                    f"create view {table} as select f.* from _{table}_facts f "
                    "where f.run_id in (select run_id from _evaluation_runs_facts where status = 'ok')"
                )
            else:
                con.execute(f"create view {table} as select * from _{table}_facts")
        con.execute(KPIS_SQL)
        # Reads only, and only under the warehouse: no read_text('/any/file'), no COPY TO, even for user SQL.
        root = str(self.root.resolve()).replace("'", "''")
        con.execute(f"set allowed_directories = ['{root}/']")
        con.execute("set enable_external_access = false")
        con.execute("set lock_configuration = true")
        return con

    def frame(self, sql: str, params: list | None = None) -> pd.DataFrame:
        with self.connect() as con:
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
            with self.connect() as con:
                return con.execute(sql).df()
        except duckdb.Error as exc:
            raise RaiError(f"query: {str(exc).splitlines()[0]}") from None
