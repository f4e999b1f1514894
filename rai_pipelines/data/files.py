"""Reading one CSV or Parquet file: the engines' commands (`rai fairness`, `rai drift`) and every file feed.

Only pandas and pyarrow are imported here, so a command that reads a file starts
without the catalog's or the orchestration's modules.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rai_pipelines.errors import DataError

PARQUET, CSV = {".parquet", ".pq"}, {".csv", ".txt"}


def read_table(path: str | Path, columns: list[str] | None = None, *, categories: bool = False) -> pd.DataFrame:
    """A CSV or Parquet file (only `columns`, if given), with a one-line error for anything else.

    With `categories` (the engines' reads), string columns come back as pandas categoricals (for Parquet,
    dictionary-encoded by Arrow), so a million rows of a few distinct strings never become a million Python objects:
    the engines count codes.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; give the path of a CSV or Parquet file")
    suffix = path.suffix.lower()
    if suffix not in PARQUET | CSV:
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'}; use .csv or .parquet")
    try:
        if suffix in PARQUET:
            import pyarrow.parquet as pq

            schema = pq.read_schema(path)
            if columns is not None:
                _require(path, columns, schema.names)
            # Parquet stores repetitive strings dictionary-encoded: read as such, they are never decoded row by row.
            strings = [f.name for f in schema if categories and str(f.type) in ("string", "large_string")
                       and (columns is None or f.name in columns)]
            table = pq.read_table(path, columns=columns, read_dictionary=strings or None)
            # For the engines, which read columns one by one: each column a block of its own, Arrow's buffers used
            # in place and released as converted, never copied into one 2-D block.
            return table.to_pandas(strings_to_categorical=categories, split_blocks=categories, self_destruct=categories)
        if columns is not None:
            _require(path, columns, pd.read_csv(path, nrows=0).columns)
        frame = pd.read_csv(path, usecols=columns)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file to the user
        raise DataError(f"{path}: cannot be read as {suffix.lstrip('.')} ({type(exc).__name__}); check the file") from None
    if categories:
        strings = frame.select_dtypes(include="object").columns
        frame[strings] = frame[strings].astype("category")
    return frame


def _require(path: Path, wanted: list[str], present) -> None:
    present = list(present)
    absent = [c for c in wanted if c not in present]
    if absent:
        raise DataError(f"{path}: column {absent[0]!r} not found; columns are {present[:20]}")
