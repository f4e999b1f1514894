"""Scores of one model version on one dataset version, stored once and reused by every family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rai_pipelines.catalog import ModelLoading, System
from rai_pipelines.data.snapshots import DatasetVersion, write_parquet
from rai_pipelines.errors import DataError
from rai_pipelines.modeling import loading as loading_
from rai_pipelines.modeling import registry
from rai_pipelines.modeling.registry import ModelVersion

LOGGED_PREFIX = "logged:"  # a logged-predictions version's identity in the registry: the prefix, then the version


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


def logged_version(model: ModelVersion) -> str | None:
    """The version a serving system logged, for a registered logged-predictions version."""
    identity = model.tags.get(registry.IDENTITY_TAG, "")
    return identity[len(LOGGED_PREFIX):] if identity.startswith(LOGGED_PREFIX) else None


def logged_versions(system: System, frame: pd.DataFrame) -> list[str]:
    """The model versions a logged-predictions dataset version holds predictions of."""
    if system.model.version_column is None:
        return [system.model.version]
    return sorted(frame[system.model.version_column].unique())


def register_logged(client, system: System, experiment_id: str, frame: pd.DataFrame) -> list[ModelVersion]:
    """Every logged model version in `frame` as a version of the system's registered model (on first sight)."""
    spec = system.model.model_dump(mode="json", exclude={"version"})
    return [registry.register_identity(client, system.registry_name, experiment_id, LOGGED_PREFIX + v,
                                       {**spec, "version": v}, "logged_predictions/spec.json")
            for v in logged_versions(system, frame)]


def kind_of(system: System, model: ModelVersion) -> str:
    """What a model version is and why it is trusted, in a few words (cards, plans, asset metadata)."""
    if system.logged:
        columns = ", ".join(f"{k.removesuffix('_column')} {v}" for k, v in
                            system.model.model_dump(include={"score_column", "decision_column"}).items() if v)
        return f"logged predictions of version {logged_version(model)} ({columns}); no model artifact"
    if model.tags.get(registry.RECIPE_TAG):
        return model.tags[registry.RECIPE_TAG]
    if loading_.own(model):
        return "sklearn/skops, registered by rai"
    if model.artifact_sha256:
        return (f"{model.tags.get(loading_.FLAVOR_TAG, '?')}, digest recorded by "
                f"{model.tags.get(loading_.TRUST_TAG, '?')}")
    return "no recorded digest yet"


def rows_of(system: System, model: ModelVersion, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows a model version predicted: all of them, unless logged predictions name the version row by row."""
    if not system.logged or system.model.version_column is None:
        return frame
    return frame[frame[system.model.version_column] == logged_version(model)].reset_index(drop=True)


def _frame(system: System, frame: pd.DataFrame, scores: np.ndarray, decisions: np.ndarray | None = None) -> pd.DataFrame:
    if decisions is None:
        decisions = scores >= system.model.decision_threshold
    return pd.DataFrame({system.data.id_column: frame[system.data.id_column].to_numpy(),
                         "score": np.asarray(scores, dtype="float64"), "prediction": np.asarray(decisions).astype("int8")})


def logged(system: System, frame: pd.DataFrame) -> pd.DataFrame:
    """What the serving system logged, in the store's form. With decisions only, the score is the decision."""
    model = system.model
    decisions = frame[model.decision_column].to_numpy() if model.decision_column else None
    scores = frame[model.score_column].to_numpy() if model.score_column else decisions.astype("float64")
    return _frame(system, frame, scores, decisions)


def stored_or_scored(store: PredictionStore, system: System, model: ModelVersion, client, dataset: DatasetVersion,
                     frame: pd.DataFrame, loading: ModelLoading) -> pd.DataFrame:
    """The model's scores on the rows it predicted (`rows_of`): read if stored, otherwise logged or scored (a
    digest-verified model, under the policy's loading rules) and stored once."""
    rows = rows_of(system, model, frame)
    preds = store.get(system, model, dataset)
    if preds is None:
        if rows.empty:
            raise DataError(f"dataset version {dataset.key} holds no prediction logged by {model.name} version "
                            f"{model.version}; evaluate a version it holds")
        if system.logged:
            preds = logged(system, rows)
        else:
            preds = _frame(system, rows, loading_.scorer(client, model, loading, list(system.data.features))(rows))
        store.put(system, model, dataset, preds)
    return aligned(rows, preds, system.data.id_column)


def reference_scores(store: PredictionStore, system: System, model: ModelVersion, client, reference: DatasetVersion,
                     frame: pd.DataFrame, loading: ModelLoading) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reference rows, the model's scores on them): what estimates are calibrated on. Scored (once) for a model; for
    logged predictions what the serving system logged there, this version's rows if the reference names versions
    and holds some (otherwise every row, whichever version scored it: the calibration is then another version's)."""
    if not system.logged:
        return frame, stored_or_scored(store, system, model, client, reference, frame, loading)
    if (system.model.score_column or system.model.decision_column) not in frame.columns:
        raise DataError(f"reference window {reference.key} of {system.name} has no logged "
                        f"{'score' if system.model.score_column else 'decision'} column to calibrate estimates on; "
                        "add the serving system's predictions to the reference, or wait for labels")
    column = system.model.version_column
    if column is not None and column in frame.columns and (frame[column] == logged_version(model)).any():
        frame = frame[frame[column] == logged_version(model)].reset_index(drop=True)  # this version's own scores
    return frame, logged(system, frame)


def aligned(frame: pd.DataFrame, predictions: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Check predictions are for exactly these rows, in this order."""
    if len(frame) != len(predictions) or not np.array_equal(frame[id_column].to_numpy(), predictions[id_column].to_numpy()):
        raise ValueError("stored predictions do not match the dataset version's rows; rematerialize predictions")
    return predictions
