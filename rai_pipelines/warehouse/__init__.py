"""The warehouse: fact tables on a DuckLake (catalog in SQLite or PostgreSQL, data as Parquet) and DuckDB views over them."""

from rai_pipelines.warehouse.store import Fact, Warehouse

__all__ = ["Fact", "Warehouse"]
