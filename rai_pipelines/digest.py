"""Content digests: identity is what the bytes are, not what the file is called."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def sha256_json(obj: Any) -> str:
    """Digest of a JSON-able structure, independent of key order and formatting."""
    return sha256_bytes(canonical_json(obj).encode())


def frame_digest(df: pd.DataFrame) -> str:
    """Digest of a frame's content and schema.

    Parquet bytes are not stable across writer versions, so the digest is taken
    over pandas' per-row value hashes plus column names and dtypes: the same
    values always give the same digest, any changed cell or column changes it.
    """
    h = hashlib.sha256()
    h.update(canonical_json([[c, str(t)] for c, t in df.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def short(digest: str, n: int = 12) -> str:
    return digest[:n]
