"""The warehouse: immutable Parquet facts (one file per write, compacted into segments) and DuckDB views over them."""

from rai_pipelines.warehouse.store import Warehouse

__all__ = ["Warehouse"]
