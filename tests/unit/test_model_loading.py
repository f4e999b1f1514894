"""What an MLflow artifact would run is read from its MLmodel file as the flavor's loader reads it, and refused under
the policy before anything is deserialized: a pickle dressed as a LightGBM text model, a class an artifact names for
MLflow to instantiate, a loader the pipeline does not vet."""

import pytest
import yaml

from rai_pipelines.catalog import ModelLoading
from rai_pipelines.errors import UsageError
from rai_pipelines.modeling.loading import _probabilities, check_policy, describe

SHIPPED = ModelLoading(serializations=["skops", "xgboost_json", "xgboost_ubj", "lightgbm_text"])


def _artifact(tmp_path, flavors: dict):
    (tmp_path / "MLmodel").write_text(yaml.safe_dump({"flavors": flavors}))
    return describe(tmp_path, "model m version 1")


def test_a_lightgbm_booster_in_text_format_is_allowed_and_a_pickled_estimator_named_model_lgb_is_not(tmp_path):
    booster = _artifact(tmp_path, {"lightgbm": {"data": "model.lgb", "model_class": "lightgbm.basic.Booster"}})
    check_policy(booster, SHIPPED, "m")
    assert (booster.serialization, booster.data) == ("lightgbm_text", "model.lgb")
    disguised = _artifact(tmp_path, {"lightgbm": {"data": "model.lgb", "model_class": "lightgbm.sklearn.LGBMClassifier"}})
    assert disguised.serialization == "cloudpickle"  # what MLflow's loader would do with it
    with pytest.raises(UsageError, match="serialization 'cloudpickle' is not in the policy"):
        check_policy(disguised, SHIPPED, "m")


@pytest.mark.parametrize("flavor, model_class", [("xgboost", "os.system"), ("lightgbm", "subprocess.Popen")])
def test_a_class_the_artifact_names_is_loaded_only_from_the_allow_list(tmp_path, flavor, model_class):
    with pytest.raises(UsageError, match=f"model class '{model_class}' is not one the pipeline loads"):
        _artifact(tmp_path, {flavor: {"data": "model.json", "model_format": "json", "model_class": model_class}})


def test_scikit_learn_formats_and_unknown_loaders(tmp_path):
    skops = _artifact(tmp_path, {"sklearn": {"pickled_model": "model.skops", "serialization_format": "skops",
                                             "skops_trusted_types": ["builtins.eval"]}})
    assert (skops.serialization, skops.data) == ("skops", "model.skops")  # the artifact's own trusted list is ignored
    assert _artifact(tmp_path, {"sklearn": {"pickled_model": "model.pkl"}}).serialization == "cloudpickle"
    custom = _artifact(tmp_path, {"python_function": {"loader_module": "mlflow.pyfunc.model"}})
    assert custom.serialization == "cloudpickle"
    with pytest.raises(UsageError, match="pyfunc loader 'mlflow.transformers' is not one the pipeline vets"):
        _artifact(tmp_path, {"python_function": {"loader_module": "mlflow.transformers"}})
    (tmp_path / "MLmodel").write_text("flavors: [unclosed")
    with pytest.raises(UsageError, match="MLmodel file is not what"):
        describe(tmp_path, "m")


def test_a_model_must_return_probabilities(tmp_path):
    import numpy as np
    import pandas as pd

    assert list(_probabilities(np.array([[0.8, 0.2], [0.1, 0.9]]), "m")) == [0.2, 0.9]
    assert list(_probabilities(pd.DataFrame({"probability": [0.3, 0.7]}), "m")) == [0.3, 0.7]
    with pytest.raises(UsageError, match="class labels only"):
        _probabilities(np.array([0, 1, 1, 0]), "m")
    with pytest.raises(UsageError, match="outside \\[0, 1\\]"):
        _probabilities(np.array([-2.1, 3.0]), "m")
