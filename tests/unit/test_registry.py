"""Model versions: skops artifacts loaded only when their recorded digest matches."""

import pytest

from rai_pipelines.errors import UsageError
from rai_pipelines.modeling import registry


def test_register_and_load_round_trip(mlflow_client, register_model, reference):
    mv = register_model("gradient_boosting", rows=3000)
    assert mv.version == "1" and len(mv.artifact_sha256) == 64
    model = registry.load(mlflow_client, mv)
    _, frame = reference
    scores = model.predict_proba(frame.head(50)[[c for c in frame.columns if c not in {"id", "employed", "SEX", "RAC1P"}]])[:, 1]
    assert ((scores >= 0) & (scores <= 1)).all()
    assert [m.version for m in registry.versions(mlflow_client, mv.name)] == ["1"]


def test_tampered_artifact_is_refused_before_deserializing(mlflow_client, register_model, settings):
    mv = register_model(rows=2000)
    artifact = next(settings.home.rglob("model.skops"))
    artifact.write_bytes(artifact.read_bytes() + b"\x00")
    with pytest.raises(UsageError, match="artifact digest does not match"):
        registry.load(mlflow_client, mv)


def test_unknown_version_is_a_usage_error(mlflow_client, register_model):
    mv = register_model(rows=2000)
    with pytest.raises(UsageError, match=r"has no version '9'; registered versions: \['1'\]"):
        registry.get(mlflow_client, mv.name, "9")
