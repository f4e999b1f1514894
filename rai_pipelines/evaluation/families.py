"""Dispatch from a suite to its family's engine.

Only the routing lives here: each family's module turns a suite's options into
its engine's call (`from_suite`), so that module's code version covers how the
numbers are computed (`code_version.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rai_pipelines.catalog import Suite, System
from rai_pipelines.data.validation import group_labels
from rai_pipelines.evaluation import (
    attributions,
    counterfactual,
    estimation,
    fairness,
    membership,
    paired,
    performance,
    proxies,
    robustness,
)
from rai_pipelines.evaluation.probes import Probe, Probing, TrainingRows, Window
from rai_pipelines.evaluation.rows import MetricRow

ENGINES = {"performance": performance.from_suite, "fairness": fairness.from_suite, "regression": paired.from_suite,
           "robustness": robustness.from_suite, "counterfactual": counterfactual.from_suite, "proxies": proxies.from_suite,
           "attributions": attributions.from_suite, "membership": membership.from_suite}
# Families that question the model on new rows: they need it as a `Probe`, and no label (robustness's accuracy
# change and the permutation importance wait for them).
PROBING = ("robustness", "counterfactual", "proxies", "attributions", "membership")


@dataclass(frozen=True)
class Baseline:
    """The model a candidate is compared against, with its predictions on the same rows."""

    version: str
    predictions: pd.DataFrame


@dataclass(frozen=True)
class Inputs:
    """Plain arrays an engine evaluates: labels, decisions, scores, groups, and the baseline's, if any."""

    y: np.ndarray
    prediction: np.ndarray
    score: np.ndarray
    sensitive: dict[str, np.ndarray]
    baseline_version: str | None = None
    baseline_prediction: np.ndarray | None = None
    baseline_score: np.ndarray | None = None
    probe: Probe | None = None
    champion_probe: Probe | None = None
    reference_window: Window | None = None
    training: TrainingRows | None = None
    features: pd.DataFrame | None = None  # the declared features, as the model is given them
    group_codes: dict[str, dict[str, list[str]]] | None = None  # per sensitive feature, each group's codes in the data


@dataclass(frozen=True)
class Reference:
    """The reference window's labels, the model's scores on it and its rows' groups: what estimates are calibrated on."""

    y: np.ndarray
    score: np.ndarray
    sensitive: dict[str, np.ndarray]
    held_out: bool | None = None  # whether the model was trained on other data (None: its lineage does not say)


def compute(
    system: System, suite: Suite, frame: pd.DataFrame, predictions: pd.DataFrame, baseline: Baseline | None = None,
    reference: Reference | None = None, probing: Probing | None = None,
) -> list[MetricRow]:
    """A suite's rows on labelled rows; while any label is pending, the performance and fairness it can estimate
    (`estimation.py`, calibrated on `reference`), and nothing for a comparison with the champion. The probing
    families question the model itself (`probing`)."""
    if suite.family not in ENGINES:
        raise ValueError(f"suite {suite.name!r}: no engine for family {suite.family!r}")
    groups = group_labels(system, frame)
    if suite.family in PROBING:
        if probing is None:
            raise ValueError(f"suite {suite.name!r}: a {suite.family} evaluation needs the model itself")
        label = frame[system.data.label]
        return ENGINES[suite.family](Inputs(
            label.to_numpy(dtype=float), predictions["prediction"].to_numpy(), predictions["score"].to_numpy(),
            {c: groups[c].to_numpy() for c in groups.columns}, probe=probing.model, champion_probe=probing.champion,
            reference_window=probing.reference, training=probing.training,
            features=frame[[f for f in system.data.features if f in frame.columns]],
            group_codes={name: spec.groups for name, spec in system.data.sensitive_features.items()}), suite)
    if frame[system.data.label].isna().any():
        if suite.family == "regression":
            return []
        if reference is None:
            raise ValueError("labels are pending and no reference scores were given to estimate from")
        return estimation.estimated_rows(suite.family, reference.score, reference.y, reference.sensitive,
                                         predictions["score"].to_numpy(), predictions["prediction"].to_numpy(),
                                         {c: groups[c].to_numpy() for c in groups.columns},
                                         frame[system.data.label].to_numpy(dtype=float), suite, reference.held_out)
    inputs = Inputs(
        frame[system.data.label].to_numpy(), predictions["prediction"].to_numpy(), predictions["score"].to_numpy(),
        {c: groups[c].to_numpy() for c in groups.columns},
        *((baseline.version, baseline.predictions["prediction"].to_numpy(), baseline.predictions["score"].to_numpy())
          if baseline else ()),
    )
    return ENGINES[suite.family](inputs, suite)
