"""Training recipes for the demo's model versions, all trained on the 2015 reference window, and their registration.

Three real scikit-learn models. `skewed_sample_gbm` is less fair by design of
its training, as happens in practice: it sees the sensitive features and learns
from a sample in which most employed women are missing (as if drawn from a
register that under-recorded them), so it under-predicts employment for women.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from rai_pipelines import lineage
from rai_pipelines.catalog import System
from rai_pipelines.data.snapshots import DatasetStore
from rai_pipelines.data.sources import reference_window
from rai_pipelines.digest import canonical_json
from rai_pipelines.modeling import registry, splits
from rai_pipelines.modeling.registry import FEATURES_TAG, RECIPE_TAG
from rai_pipelines.names import CHAMPION


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
        # No early stopping: it would hold back a tenth of the fit rows unseen, and membership inference counts every
        # row of the recorded split's training side as trained on.
        lambda: HistGradientBoostingClassifier(random_state=0, early_stopping=False),
    ),
    Recipe(
        "skewed_sample_gbm",
        "Gradient boosting with sensitive features as inputs, trained on a sample missing 60% of employed women.",
        True,
        lambda: HistGradientBoostingClassifier(random_state=0, early_stopping=False),
        _drop_employed_women,
    ),
]


def model_features(system: System, recipe: Recipe) -> list[str]:
    sensitive = set(system.data.sensitive_features)
    return [f for f in system.data.features if recipe.uses_sensitive_features or f not in sensitive]


def train(recipe: Recipe, system: System, reference: pd.DataFrame) -> tuple[Pipeline, dict]:
    """Fit a recipe on the normalized reference frame, but for a held-out share of its sample (`splits.held_out`);
    returns the model and its training facts, the split among them."""
    sample = recipe.sample(reference, system)
    member = ~splits.held_out(sample[system.data.id_column])
    frame = sample.loc[member]
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
    facts = {"recipe": recipe.name, "training_rows": len(frame), "features": features,
             "split": (sample[system.data.id_column], member)}
    return model, facts



def register_trained(client, system: System, recipe: Recipe, run_id: str, model, facts: dict):
    """Registers a model `train` fitted, from its training run: its recipe, its features, and its split (logged to
    the run) for membership inference."""
    split = splits.log_split(client, run_id, system.data.id_column, *facts["split"])
    return registry.register(client, system.registry_name, run_id, model, {
        RECIPE_TAG: recipe.name, FEATURES_TAG: canonical_json(facts["features"]), splits.SPLIT_TAG: split})


def register_recipes(client, artifact_root: str, system: System, store: DatasetStore, say) -> list[str]:
    """Train each recipe on the reference window and register it, unless already registered; the first recipe is the
    champion when no version is. Returns the registered versions in recipe order."""
    existing = {m.tags.get(RECIPE_TAG): m.version for m in registry.versions(client, system.registry_name)}
    missing = [r for r in RECIPES if r.name not in existing]
    if missing:
        ref_version, ref = store.snapshot(system, reference_window(system))
        experiment = lineage.experiment_id(client, f"rai/{system.name}/training", artifact_root)
        for recipe in missing:
            model, facts = train(recipe, system, ref)
            run = lineage.start_run(client, experiment, f"train {recipe.name}", {RECIPE_TAG: recipe.name})
            client.log_inputs(run.run_id, datasets=[lineage.dataset_input(ref_version, "training")])
            client.log_param(run.run_id, "training_rows", facts["training_rows"])
            client.log_param(run.run_id, "description", recipe.description)
            mv = register_trained(client, system, recipe, run.run_id, model, facts)
            lineage.finish_run(client, run, ok=True)
            existing[recipe.name] = mv.version
            say(f"registered {mv.name} v{mv.version} ({recipe.name}): {recipe.description}")
    if registry.by_alias(client, system.registry_name, CHAMPION) is None:
        # The baseline in production before any gate has run; the champion asset moves it from here once a version is released.
        client.set_registered_model_alias(system.registry_name, CHAMPION, existing[RECIPES[0].name])
        say(f"champion alias -> v{existing[RECIPES[0].name]} ({RECIPES[0].name})")
    return [existing[r.name] for r in RECIPES]
