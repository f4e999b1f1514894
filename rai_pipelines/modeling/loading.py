"""Loading a model version of any MLflow flavor, under the policy's loading rules, into a scorer.

Versions this project registers are skops files loaded with a type allow-list in code (registry.load). A version the
team's own code registered (`mlflow.<flavor>.log_model`, any flavor that loads through mlflow.pyfunc) has no digest
the pipeline recorded: `rai model register` records it, or, when the policy allows trust on first sight, the first
load does. From then on the whole artifact folder is hashed before anything in it is deserialized, and a version whose
bytes changed is refused. Before that, the MLmodel file (YAML, safe to read) says which flavor and serialization would
run; the policy's `model_loading` names the ones allowed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from mlflow import MlflowClient

from rai_pipelines.catalog import ModelLoading
from rai_pipelines.digest import sha256_file, sha256_json
from rai_pipelines.errors import UsageError
from rai_pipelines.modeling import registry
from rai_pipelines.modeling.registry import ARTIFACT_DIGEST_TAG, ModelVersion

DIGEST_SCOPE_TAG = "rai.artifact_scope"  # "tree": the digest covers every file of the artifact folder
TRUST_TAG = "rai.trust"  # how the digest came to be recorded: "rai model register" or "first sight"
FLAVOR_TAG = "rai.flavor"
_NATIVE = ("sklearn", "xgboost", "lightgbm")  # flavors whose own loader gives the estimator (hence probabilities)

@dataclass(frozen=True)
class Scorer:
    """Rows -> probability of the positive class. `estimator`: the fitted scikit-learn object behind it, when the
    pipeline trained it itself (the attributions family explains such a model exactly)."""

    predict: Callable[[pd.DataFrame], np.ndarray]
    estimator: object | None = None

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predict(frame)


@dataclass(frozen=True)
class Loadable:
    """What an artifact would run when loaded, read from its MLmodel file (YAML: reading it runs nothing)."""

    flavor: str
    serialization: str
    input_columns: tuple[str, ...] | None  # from the signature, when the team logged one
    data: str = ""  # the model file inside the artifact folder (native flavors)
    model_class: str = ""


# The classes a native flavor may instantiate: MLflow's own loaders import whatever class the artifact names.
_CLASSES = {"xgboost": {"xgboost.core.Booster", "xgboost.sklearn.XGBClassifier"},
            "lightgbm": {"lightgbm.basic.Booster", "lightgbm.sklearn.LGBMClassifier"}}
_PICKLES = {"cloudpickle", "pickle"}


def own(mv: ModelVersion) -> bool:
    """A version this project registered (skops, digest of the model file)."""
    return bool(mv.artifact_sha256) and mv.tags.get(DIGEST_SCOPE_TAG) != "tree"


def tree_digest(folder: Path) -> str:
    """Digest of every file under `folder` by relative path: a changed, added or removed file changes it."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return sha256_json([[p.relative_to(folder).as_posix(), sha256_file(p)] for p in files])


def _download(client: MlflowClient, mv: ModelVersion, into: str) -> Path:
    import mlflow.artifacts

    uri = client.get_model_version_download_uri(mv.name, mv.version)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=into,
                                                    tracking_uri=client._tracking_client.tracking_uri))


def describe(folder: Path, where: str) -> Loadable:
    mlmodel = folder / "MLmodel"
    if not mlmodel.is_file():
        raise UsageError(f"{where}: no MLmodel file in its artifact; log it with mlflow.<flavor>.log_model")
    try:
        spec = yaml.safe_load(mlmodel.read_text()) or {}
        flavors = spec.get("flavors") or {}
        inputs = None
        if (signature := spec.get("signature")) and signature.get("inputs"):
            names = [c.get("name") for c in json.loads(signature["inputs"])]
            inputs = tuple(names) if all(names) else None
    except (yaml.YAMLError, ValueError, AttributeError, TypeError):
        raise UsageError(f"{where}: its MLmodel file is not what mlflow.<flavor>.log_model writes; re-log the model") from None
    for flavor in _NATIVE:
        if flavor in flavors:
            conf = flavors[flavor] or {}
            model_class = conf.get("model_class", "")
            if flavor in _CLASSES and (model_class or f"{flavor}.core.Booster") not in _CLASSES[flavor] | {""}:
                raise UsageError(f"{where}: its {flavor} model class {model_class!r} is not one the pipeline loads "
                                 f"({', '.join(sorted(_CLASSES[flavor]))})")
            data = str(conf.get("pickled_model") or conf.get("data") or "")  # scikit-learn names it pickled_model
            return Loadable(flavor, _serialization(flavor, conf), inputs, data, model_class)
    pyfunc = flavors.get("python_function")
    if pyfunc is not None:
        # A custom PythonModel is a cloudpickled object (python_model.pkl); any other loader module is a flavor
        # this project does not know how to vet.
        if pyfunc.get("loader_module") == "mlflow.pyfunc.model":
            return Loadable("python_function", "cloudpickle", inputs)
        raise UsageError(f"{where}: its pyfunc loader {pyfunc.get('loader_module')!r} is not one the pipeline vets "
                         f"({', '.join(_NATIVE)} or a custom PythonModel); log it with one of those")
    raise UsageError(f"{where}: flavors {sorted(flavors)} hold no loadable model; log it with one of "
                     f"{', '.join(_NATIVE)} or a custom PythonModel")


def _serialization(flavor: str, conf: dict) -> str:
    """The format the model file is in, as the flavor's loader would read it (not as its name suggests)."""
    if flavor == "sklearn":
        return conf.get("serialization_format", "cloudpickle")
    if flavor == "xgboost":
        return {"json": "xgboost_json", "ubj": "xgboost_ubj"}.get(conf.get("model_format"), "xgboost_legacy")
    if conf.get("model_class", "lightgbm.basic.Booster") == "lightgbm.basic.Booster":
        return "lightgbm_text"  # a Booster is read from LightGBM's text format
    return conf.get("serialization_format", "cloudpickle")  # the scikit-learn API is saved as scikit-learn's


def check_policy(loadable: Loadable, policy: ModelLoading, where: str) -> None:
    if loadable.flavor not in policy.flavors:
        raise UsageError(f"{where}: flavor {loadable.flavor!r} is not in the policy's model_loading.flavors "
                         f"{policy.flavors}; add it there or log the model with an allowed flavor")
    if loadable.serialization not in policy.serializations:
        raise UsageError(f"{where}: serialization {loadable.serialization!r} is not in the policy's "
                         f"model_loading.serializations {policy.serializations}; allow it there (it runs code on load "
                         "if it is a pickle) or log the model in an allowed format")


def _vetted(folder: Path, mv: ModelVersion, policy: ModelLoading) -> Loadable:
    where = f"model {mv.name} version {mv.version}"
    loadable = describe(folder, where)
    check_policy(loadable, policy, where)
    return loadable


def inspect(client: MlflowClient, mv: ModelVersion, policy: ModelLoading) -> Loadable:
    """What a version would run and whether the policy allows it, from its MLmodel file alone (nothing is loaded)."""
    with tempfile.TemporaryDirectory() as tmp:
        return _vetted(_download(client, mv, tmp), mv, policy)


def record_digest(client: MlflowClient, mv: ModelVersion, policy: ModelLoading, how: str) -> ModelVersion:
    """Record the digest of a version registered without one (`how`: who vouches for the bytes). Refuses a version
    whose flavor or serialization the policy does not allow, and leaves a recorded digest alone."""
    if mv.artifact_sha256:
        return mv
    with tempfile.TemporaryDirectory() as tmp:
        folder = _download(client, mv, tmp)
        loadable = _vetted(folder, mv, policy)
        digest = tree_digest(folder)
    # The digest goes last: a version with it is one whose scope, flavor and trust are already on record.
    for key, value in {DIGEST_SCOPE_TAG: "tree", TRUST_TAG: how, FLAVOR_TAG: f"{loadable.flavor}/{loadable.serialization}",
                       "rai.digest_recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
                       ARTIFACT_DIGEST_TAG: digest}.items():
        client.set_model_version_tag(mv.name, mv.version, key, value)
    return registry.get(client, mv.name, mv.version)


def scorer(client: MlflowClient, mv: ModelVersion, policy: ModelLoading, features: list[str], say=None) -> Scorer:
    """The version's probability of the positive class, loaded only once its digest matches the recorded one."""
    if own(mv):
        model = registry.load(client, mv)
        columns = json.loads(mv.tags.get(registry.FEATURES_TAG, "null")) or features
        return Scorer(lambda frame: model.predict_proba(frame[columns])[:, 1], model)
    where = f"model {mv.name} version {mv.version}"
    if not mv.artifact_sha256:
        if not policy.trust_on_first_sight:
            raise UsageError(f"{where} has no recorded artifact digest and the policy does not trust on first sight; "
                             f"vouch for it with `rai model register SYSTEM {mv.version}`")
        mv = record_digest(client, mv, policy, "first sight")
        if say:
            say(f"{where}: no recorded digest; trusted on first sight, digest {mv.artifact_sha256[:12]} recorded")
    with tempfile.TemporaryDirectory() as tmp:
        folder = _download(client, mv, tmp)
        if tree_digest(folder) != mv.artifact_sha256:
            raise UsageError(f"{where}: artifact digest does not match the one recorded when it was first seen; "
                             "refusing to load a possibly tampered model")
        loadable = describe(folder, where)
        check_policy(loadable, policy, where)  # the policy may have narrowed since the digest was recorded
        try:
            predict = _load(loadable, folder)
        except ImportError as exc:
            raise UsageError(f"{where}: its {loadable.flavor} flavor needs the {exc.name or 'missing'} package, which the "
                             "pipeline's environment lacks; add it to the project's dependencies") from None
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - whatever the flavor's reader raised, the model did not load
            raise UsageError(f"{where}: its {loadable.flavor} model did not load ({type(exc).__name__}: "
                             f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}); re-log it") from None
    columns = list(loadable.input_columns or features)

    def score(frame):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise UsageError(f"{where}: the model's input column {missing[0]!r} is not in the dataset version; declare "
                             "it among data.features or log the model with the system's feature names")
        return _probabilities(predict(frame[columns]), where)

    return Scorer(score)


def _load(loadable: Loadable, folder: Path) -> Callable:
    """The model's predict function, read by this project's own code where the format allows (skops with the
    project's type allow-list, LightGBM text, XGBoost JSON/UBJ into an allow-listed class), MLflow's loaders only for
    the pickle-based formats the policy allowed, and MLflow's pickle switch off otherwise."""
    path = folder / loadable.data
    if loadable.serialization == "skops":
        import skops.io as sio
        from skops.io.exceptions import UntrustedTypesFoundException

        try:
            model = sio.load(path, trusted=registry.TRUSTED_TYPES)
        except UntrustedTypesFoundException as exc:
            raise UsageError(f"its skops file holds types outside the project's allow-list ({exc}); add them to "
                             "modeling/registry.py TRUSTED_TYPES only after reviewing them") from None
        return model.predict_proba
    if loadable.serialization == "lightgbm_text":
        import lightgbm

        return lightgbm.Booster(model_file=str(path)).predict
    if loadable.flavor == "xgboost":
        import xgboost

        if loadable.model_class == "xgboost.sklearn.XGBClassifier":
            model = xgboost.XGBClassifier()
            model.load_model(str(path))
            return model.predict_proba
        booster = xgboost.Booster()
        booster.load_model(str(path))
        return lambda frame: booster.predict(xgboost.DMatrix(frame))
    with _pickle_allowed(loadable.serialization in _PICKLES):
        if loadable.flavor == "python_function":
            import mlflow.pyfunc

            return mlflow.pyfunc.load_model(str(folder)).predict
        import mlflow.sklearn

        return mlflow.sklearn._load_model_from_local_file(str(path), loadable.serialization, None).predict_proba


@contextmanager
def _pickle_allowed(allowed: bool):
    """MLflow's own switch for pickle deserialization, on only while loading a format the policy allowed."""
    before = os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION")
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true" if allowed else "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", None)
        else:
            os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = before


def _probabilities(output, where: str) -> np.ndarray:
    """The positive class's probability from what a model returned: a (n, 2) array or frame of class probabilities,
    a 1-D array of probabilities, or a frame with a `score`/`probability` column."""
    if isinstance(output, pd.DataFrame):
        named = [c for c in ("score", "probability", "proba") if c in output.columns]
        output = output[named[0]].to_numpy() if named else output.to_numpy()
    values = np.asarray(output)
    if values.ndim == 2 and values.shape[1] == 2:
        values = values[:, 1]
    elif values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.number):
        raise UsageError(f"{where}: predict returned shape {values.shape} of {values.dtype}; a binary classifier must "
                         "return the positive class's probability per row (or two class-probability columns)")
    values = values.astype("float64")
    if np.isnan(values).any() or values.min() < 0 or values.max() > 1:
        raise UsageError(f"{where}: predict returned values outside [0, 1]; return probabilities, not margins")
    if np.isin(values, (0.0, 1.0)).all() and len(values) > 1 and len(np.unique(values)) == 2:
        raise UsageError(f"{where}: predict returned class labels only; return the positive class's probability "
                         "(for a custom PythonModel, from its predict)")
    return values
