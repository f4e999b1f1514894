"""Scores of one model version on one dataset version, stored once and reused by every family."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rai_pipelines.catalog import System
from rai_pipelines.data.snapshots import DatasetVersion, write_parquet
from rai_pipelines.modeling import registry
from rai_pipelines.modeling.registry import ModelVersion

FEATURES_TAG = "rai.features"


class PredictionStore:
    """`<root>/<system>/v<model version>/<dataset digest>.parquet` with id, score, prediction."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, system: System, model: ModelVersion, dataset: DatasetVersion) -> Path:
        return self.root / system.name / f"v{model.version}-{model.artifact_sha256[:12]}" / f"{dataset.digest}.parquet"

    def get(self, system: System, model: ModelVersion, dataset: DatasetVersion) -> pd.DataFrame | None:
        path = self.path(system, model, dataset)
        return pd.read_parquet(path) if path.exists() else None

    def put(self, system: System, model: ModelVersion, dataset: DatasetVersion, frame: pd.DataFrame) -> Path:
        path = self.path(system, model, dataset)
        write_parquet(frame, path)
        return path


def score(system: System, model_version: ModelVersion, model, frame: pd.DataFrame) -> pd.DataFrame:
    features = json.loads(model_version.tags.get(FEATURES_TAG, "null")) or list(system.data.features)
    scores = model.predict_proba(frame[features])[:, 1].astype("float64")
    return pd.DataFrame(
        {
            system.data.id_column: frame[system.data.id_column].to_numpy(),
            "score": scores,
            "prediction": (scores >= system.model.decision_threshold).astype("int8"),
        }
    )


def stored_or_scored(store: PredictionStore, system: System, model: ModelVersion, client, dataset: DatasetVersion,
                     frame: pd.DataFrame) -> pd.DataFrame:
    """The model's scores on these rows: read if stored, otherwise scored (digest-verified model) and stored once."""
    preds = store.get(system, model, dataset)
    if preds is None:
        preds = score(system, model, registry.load(client, model), frame)
        store.put(system, model, dataset, preds)
    return aligned(frame, preds, system.data.id_column)


def aligned(frame: pd.DataFrame, predictions: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Check predictions are for exactly these rows, in this order."""
    if len(frame) != len(predictions) or not np.array_equal(frame[id_column].to_numpy(), predictions[id_column].to_numpy()):
        raise ValueError("stored predictions do not match the dataset version's rows; rematerialize predictions")
    return predictions
