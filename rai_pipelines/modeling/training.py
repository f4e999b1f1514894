"""Training recipes for the demo's model versions, all trained on the 2015 reference window.

Three real scikit-learn models. `skewed_sample_gbm` is less fair by design of
its training, as happens in practice: it sees the sensitive features and learns
from a sample in which most employed women are missing (as if drawn from a
register that under-recorded them), so it under-predicts employment for women.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from rai_pipelines.catalog import System


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    uses_sensitive_features: bool
    estimator: Callable[[], object]
    sample: Callable[[pd.DataFrame, System], pd.DataFrame] = lambda frame, system: frame


def _drop_employed_women(frame: pd.DataFrame, system: System) -> pd.DataFrame:
    rng = np.random.default_rng(2015)
    women = frame["SEX"].isin(system.data.sensitive_features["SEX"].groups["Female"])
    drop = women & (frame[system.data.label] == 1) & (rng.random(len(frame)) < 0.6)
    return frame.loc[~drop]


RECIPES = [
    Recipe(
        "logistic_baseline",
        "Logistic regression on one-hot features, sensitive features excluded.",
        False,
        lambda: LogisticRegression(max_iter=1000),
    ),
    Recipe(
        "gradient_boosting",
        "Histogram gradient boosting, sensitive features excluded.",
        False,
        lambda: HistGradientBoostingClassifier(random_state=0),
    ),
    Recipe(
        "skewed_sample_gbm",
        "Gradient boosting with sensitive features as inputs, trained on a sample missing 60% of employed women.",
        True,
        lambda: HistGradientBoostingClassifier(random_state=0),
        _drop_employed_women,
    ),
]


def model_features(system: System, recipe: Recipe) -> list[str]:
    sensitive = set(system.data.sensitive_features)
    return [f for f in system.data.features if recipe.uses_sensitive_features or f not in sensitive]


def train(recipe: Recipe, system: System, reference: pd.DataFrame) -> tuple[Pipeline, dict]:
    """Fit a recipe on the normalized reference frame; returns the model and its training facts."""
    frame = recipe.sample(reference, system)
    features = model_features(system, recipe)
    numeric = [f for f in features if system.data.features[f] == "numeric"]
    categorical = [f for f in features if system.data.features[f] == "categorical"]
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [
                        ("numeric", StandardScaler(), numeric),
                        ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
                    ]
                ),
            ),
            ("classify", recipe.estimator()),
        ]
    )
    model.fit(frame[features], frame[system.data.label])
    facts = {"recipe": recipe.name, "training_rows": len(frame), "features": features}
    return model, facts
