"""Which rows a model version was trained on, and which rows of the same distribution it never saw: what the
membership-inference family attacks.

A training run logs `split.parquet` (the id column, and `member`: true for a training row, false for a held-out
one) as an artifact, and the model version carries the file's sha256 (`SPLIT_TAG`), so the split is read only when
it is the one recorded. A team's own training can log the same file and tag.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from rai_pipelines.digest import sha256_file
from rai_pipelines.errors import DataError

SPLIT_TAG = "rai.split_sha256"
SPLIT_FILE = "split.parquet"
HOLDOUT_SHARE = 0.2


def held_out(ids: pd.Series, share: float = HOLDOUT_SHARE) -> np.ndarray:
    """A fixed, reproducible share of rows by id: a row is held out when its id's sha256 falls in the first `share`
    of the hash space, whatever the row order or the sample."""
    fraction = [int(hashlib.sha256(str(i).encode()).hexdigest()[:8], 16) / 2**32 for i in ids]
    return np.asarray(fraction) < share


def log_split(client: MlflowClient, run_id: str, id_column: str, ids: pd.Series, member: np.ndarray) -> str:
    """Logs the split as the run's artifact; returns its sha256 for the model version's tag."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / SPLIT_FILE
        pd.DataFrame({id_column: ids.to_numpy(), "member": np.asarray(member, dtype=bool)}).to_parquet(path, index=False)
        client.log_artifact(run_id, str(path))
        return sha256_file(path)


def read_split(client: MlflowClient, model, id_column: str) -> pd.DataFrame:
    """The version's recorded split, once its digest matches the tag; one clear error when there is none."""
    where = f"model {model.name} version {model.version}"
    digest = model.tags.get(SPLIT_TAG)
    if not digest or not model.run_id:
        raise DataError(f"{where} records no training split ({SPLIT_TAG}); membership inference needs the rows it was "
                        f"trained on and rows it never saw: log {SPLIT_FILE} ({id_column}, member) in its training run "
                        "and tag the version with its sha256")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(client.download_artifacts(model.run_id, SPLIT_FILE, tmp))
        if sha256_file(path) != digest:
            raise DataError(f"{where}: {SPLIT_FILE} does not match the digest recorded on the version; refusing it")
        split = pd.read_parquet(path)
    if set(split.columns) != {id_column, "member"} or split.member.dtype != bool or split.member.nunique() != 2:
        raise DataError(f"{where}: {SPLIT_FILE} must hold {id_column!r} and a boolean 'member' with both training and "
                        "held-out rows")
    if split[id_column].duplicated().any():
        raise DataError(f"{where}: {SPLIT_FILE} names {id_column} {split[id_column][split[id_column].duplicated()].iloc[0]!r} "
                        "more than once; each row is either trained on or held out")
    return split
