"""Model versions in the MLflow registry, stored with skops and loaded only
after their artifact digest matches the one recorded at registration.

MLflow's own loader trusts the type allow-list written inside the artifact, so
whoever can write the artifact decides what gets executed on load. Here the
allow-list is in code and the digest is checked first.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mlflow.sklearn
import skops.io as sio
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from rai_pipelines.digest import sha256_file, sha256_json
from rai_pipelines.errors import UsageError
from rai_pipelines.names import CHAMPION

ARTIFACT_DIGEST_TAG = "rai.artifact_sha256"
RECIPE_TAG = "rai.recipe"  # how the version was trained (a recipe name), shown on cards
FEATURES_TAG = "rai.features"  # the columns the model was trained on, in order
_MODEL_FILE = "model.skops"
# Types beyond skops' defaults that the project's own recipes need.
TRUSTED_TYPES = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    run_id: str
    artifact_sha256: str
    aliases: tuple[str, ...]
    tags: dict[str, str]
    registered_at: datetime


def register(client: MlflowClient, name: str, run_id: str, model, tags: dict[str, str]) -> ModelVersion:
    """Log `model` to `run_id` in skops format and register it as a new version of `name`."""
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "model"
        mlflow.sklearn.save_model(model, local, serialization_format="skops", skops_trusted_types=TRUSTED_TYPES)
        digest = sha256_file(local / _MODEL_FILE)
        client.log_artifacts(run_id, str(local), "model")
    client.set_tag(run_id, ARTIFACT_DIGEST_TAG, digest)
    _ensure_registered(client, name)
    mv = client.create_model_version(
        name, source=f"runs:/{run_id}/model", run_id=run_id, tags={**tags, ARTIFACT_DIGEST_TAG: digest}
    )
    return get(client, name, mv.version)


IDENTITY_TAG = "rai.target_identity"  # what a version without a model artifact is: an assistant's target, a logged version


def register_identity(client: MlflowClient, name: str, experiment_id: str, identity: str, spec: dict,
                      artifact: str) -> ModelVersion:
    """The registered version whose identity is `identity` (an assistant's target and guard, a logged model version),
    registered now if never seen (trust on first sight: the spec, which holds no secret, is logged to `artifact` with
    its digest; for an assistant the model file itself is re-hashed whenever it is loaded, so a changed file is a new
    identity, never this version)."""
    for mv in versions(client, name):
        if mv.tags.get(IDENTITY_TAG) == identity:
            return mv
    run = client.create_run(experiment_id, run_name=f"register {name}", tags={IDENTITY_TAG: identity})
    client.log_text(run.info.run_id, json.dumps(spec, sort_keys=True, indent=1), artifact)
    digest = sha256_json(spec)
    client.set_terminated(run.info.run_id)
    _ensure_registered(client, name)
    mv = client.create_model_version(name, source=f"runs:/{run.info.run_id}/{artifact.rsplit('/', 1)[0]}",
                                     run_id=run.info.run_id, tags={IDENTITY_TAG: identity, ARTIFACT_DIGEST_TAG: digest})
    return get(client, name, mv.version)


ASSISTANT_SPEC = "assistant/assistant.json"


def assistant_spec(client: MlflowClient, mv: ModelVersion) -> dict:
    """What an assistant version runs (target and guard), read back only if its digest is the one recorded."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = json.loads((Path(client.download_artifacts(mv.run_id, ASSISTANT_SPEC, tmp))).read_text())
    if not mv.artifact_sha256 or sha256_json(spec) != mv.artifact_sha256:
        raise UsageError(f"assistant {mv.name} version {mv.version}: its spec does not match the registry's digest; "
                         "refusing to run a possibly tampered version")
    return spec


def _ensure_registered(client: MlflowClient, name: str) -> None:
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if "already exists" not in str(exc).lower():
            raise


def versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    """All versions of a registered model, oldest first; none if it is not registered."""
    found = client.search_model_versions(f"name='{name}'")
    return sorted((_wrap(client, mv) for mv in found), key=lambda m: int(m.version))


def get(client: MlflowClient, name: str, version: str) -> ModelVersion:
    try:
        return _wrap(client, client.get_model_version(name, str(version)))
    except MlflowException:
        known = [m.version for m in versions(client, name)]
        raise UsageError(f"model {name!r} has no version {version!r}; registered versions: {known}") from None


def by_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version holding `alias` (e.g. the champion), or None when no version holds it."""
    try:
        return _wrap(client, client.get_model_version_by_alias(name, alias))
    except MlflowException as exc:
        # Only "no such alias/model" means no champion; a registry error must not read as one.
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def _wrap(client: MlflowClient, mv) -> ModelVersion:
    return ModelVersion(
        name=mv.name,
        version=str(mv.version),
        run_id=mv.run_id,
        artifact_sha256=mv.tags.get(ARTIFACT_DIGEST_TAG, ""),
        aliases=tuple(getattr(mv, "aliases", []) or []),
        tags=dict(mv.tags),
        registered_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC),
    )


def load(client: MlflowClient, mv: ModelVersion):
    """Download a version's artifact, verify its digest, then deserialize it with skops."""
    if not mv.artifact_sha256:
        raise UsageError(
            f"model {mv.name} version {mv.version} has no recorded artifact digest ({ARTIFACT_DIGEST_TAG}); "
            "refusing to load it; re-register it with rai"
        )
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(client.download_artifacts(mv.run_id, "model", tmp))
        path = local / _MODEL_FILE
        if not path.is_file() or sha256_file(path) != mv.artifact_sha256:
            raise UsageError(
                f"model {mv.name} version {mv.version}: artifact digest does not match the registry's record; "
                "refusing to load a possibly tampered model"
            )
        return sio.load(path, trusted=TRUSTED_TYPES)


def record_decision(client: MlflowClient, mv: ModelVersion, verdict: str, decision_id: str) -> None:
    """Tag the model version with its latest release decision."""
    client.set_model_version_tag(mv.name, mv.version, "rai.gate.verdict", verdict)
    client.set_model_version_tag(mv.name, mv.version, "rai.gate.decision_id", decision_id)


def promote(client: MlflowClient, mv: ModelVersion, alias: str = CHAMPION) -> bool:
    """Move `alias` to a passing version newer than the current holder; never backwards."""
    holder = by_alias(client, mv.name, alias)
    if holder is not None and int(holder.version) >= int(mv.version):
        return False
    client.set_registered_model_alias(mv.name, alias, mv.version)
    return True


def record_version(warehouse, system: str, mv: ModelVersion) -> None:
    """Add a model version to the warehouse's register (once): when it appeared, and what it is."""
    if warehouse.exists("model_versions", system, mv.version):
        return
    warehouse.write("model_versions", system, mv.version, [{
        "system": system, "model_name": mv.name, "model_version": mv.version, "artifact_sha256": mv.artifact_sha256,
        "recipe": mv.tags.get(RECIPE_TAG, ""), "mlflow_run_id": mv.run_id, "registered_at": mv.registered_at,
        "recorded_at": datetime.now(UTC),
    }])
