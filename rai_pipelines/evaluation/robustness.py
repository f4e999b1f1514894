"""Robustness family: how the model's decisions and accuracy move under plausible input noise (`perturbations.py`).

For each perturbation the suite declares:

- `<name>_flip_rate`: the share of rows whose decision changes, overall and per group, with exact Clopper-Pearson
  bounds (the perturbation is drawn once, seeded; the interval is over the rows).
- `<name>_unscorable_rate`: the share of rows the model could not score once perturbed (a pipeline that cannot take
  a missing value raises): those rows count as flipped too, since the model gave no decision.
- `<name>_accuracy_change`: perturbed accuracy minus original accuracy on the same rows, overall and per group, a
  paired change with bootstrap bounds (`paired.py`), when every row is labelled.

Only the rows a perturbation changed are re-scored; the others keep their decision, by construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rai_pipelines.errors import UsageError
from rai_pipelines.evaluation.paired import paired_changes
from rai_pipelines.evaluation.perturbations import apply
from rai_pipelines.evaluation.probes import Probe, rate_rows, stream
from rai_pipelines.evaluation.rows import MetricRow

FAMILY = "robustness"
# What a model that cannot score a perturbed row raises: a NaN it does not accept, a category it cannot encode, a
# score that is not a probability. Only ever caught on perturbed rows, once the unperturbed ones scored.
_UNSCORABLE = (ValueError, TypeError, UsageError)


def robustness_rows(probe: Probe, frame: pd.DataFrame, y: np.ndarray | None, prediction: np.ndarray,
                    sensitive: dict[str, np.ndarray], perturbations, *, resamples: int = 1000, confidence: float = 0.95,
                    seed: int = 0) -> list[MetricRow]:
    prediction = np.asarray(prediction).astype(np.int8)
    labelled = y is not None and not pd.isna(y).any()
    probe.decide(frame.iloc[:1000])  # the model scores unperturbed rows, or its own error surfaces here as it is
    rows: list[MetricRow] = []
    for spec in perturbations:
        # Each perturbation draws from its own stream: adding or reordering one leaves the others' draws alone.
        perturbed, changes = apply(frame, spec, probe.kinds, list(sensitive), stream(seed, spec.name))
        touched = np.logical_or.reduce([*changes.values(), np.zeros(len(frame), dtype=bool)])
        try:  # the usual case, one call: the model takes every perturbed row
            unscorable = np.zeros(len(frame), dtype=bool)
            where = np.flatnonzero(touched)
            decisions = probe.decide(perturbed.iloc[where])
        except _UNSCORABLE:
            unscorable = _refused(probe, frame, perturbed, changes)
            where = np.flatnonzero(touched & ~unscorable)
            decisions, failed = _decide_each(probe, perturbed.iloc[where])
            unscorable[where[failed]] = True
        decided = prediction.copy()
        decided[where] = decisions
        decided[unscorable] = 1 - prediction[unscorable]  # no decision given: a flip
        rows += rate_rows(FAMILY, f"{spec.name}_flip_rate", decided != prediction, sensitive, confidence)
        rows += rate_rows(FAMILY, f"{spec.name}_unscorable_rate", unscorable, {}, confidence)
        if labelled:
            y = np.asarray(y).astype(np.int8)
            scored = np.where(unscorable, 1 - y, decided)  # no decision given: never a correct one
            changes = paired_changes(y, scored, prediction, sensitive, ["accuracy"], resamples=resamples,
                                     confidence=confidence, seed=seed, intersections=False)
            rows += [MetricRow(FAMILY, f"{spec.name}_accuracy_change", c.slice, c.value, c.n, c.ci_low, c.ci_high, c.bounds)
                     for c in changes if c.metric == "accuracy"]
    return rows


def _refused(probe: Probe, frame: pd.DataFrame, perturbed: pd.DataFrame, changes: dict[str, np.ndarray]) -> np.ndarray:
    """Rows with a perturbed value the model refuses on its own: each feature's perturbed values are scored alone
    (the row otherwise original), and a refused batch halved until the refused rows are found, so a model that
    cannot take a missing AGEP marks exactly those rows, in a few calls."""
    refused = np.zeros(len(frame), dtype=bool)
    for feature, rows in changes.items():
        if rows.any():
            trial = frame.loc[rows].copy()
            trial[feature] = perturbed.loc[rows, feature]
            refused[np.flatnonzero(rows)[_decide_each(probe, trial)[1]]] = True
    return refused


def _decide_each(probe: Probe, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(decisions, which rows the model could not score). A batch the model refuses (values it takes alone but not
    together) is halved until the refused rows are found, so they do not cost the others their decisions."""
    if frame.empty:
        return np.zeros(0, dtype=np.int8), np.zeros(0, dtype=bool)
    try:
        return probe.decide(frame), np.zeros(len(frame), dtype=bool)
    except _UNSCORABLE:
        if len(frame) == 1:
            return np.zeros(1, dtype=np.int8), np.ones(1, dtype=bool)
    middle = len(frame) // 2
    (d1, f1), (d2, f2) = _decide_each(probe, frame.iloc[:middle]), _decide_each(probe, frame.iloc[middle:])
    return np.concatenate([d1, d2]), np.concatenate([f1, f2])


def from_suite(inputs, suite) -> list[MetricRow]:
    return robustness_rows(inputs.probe, inputs.features, inputs.y, inputs.prediction, inputs.sensitive,
                           suite.perturbations, resamples=suite.bootstrap_resamples, confidence=suite.confidence,
                           seed=suite.seed)
