"""What the families that question the model itself share: the model as a function from rows to decisions, what
else they question it on (`Probing`), and rates of an event over rows with exact intervals, overall and per group.

The model is a black box here: a scoring function (`modeling.loading.scorer`, digest-verified) and the system's
decision threshold. Whether it reads a column is found by asking it, not by trusting a tag, so the same code serves
the demo's pipelines and any team's logged pyfunc.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rai_pipelines.evaluation.bootstrap import resample_counts
from rai_pipelines.evaluation.groups import encode
from rai_pipelines.evaluation.rows import MetricRow
from rai_pipelines.stats.intervals import LEVELS, as_tuple, bootstrap_bounds, level_for, proportion_bounds


@dataclass(frozen=True)
class Probe:
    """A model to question: its scores on any rows, the threshold that makes them decisions, the declared kind of
    each feature ('numeric' or 'categorical') and, when the pipeline trained it, the fitted scikit-learn object."""

    score: Callable[[pd.DataFrame], np.ndarray]
    threshold: float
    kinds: dict[str, str]
    estimator: object | None = None

    def decide(self, frame: pd.DataFrame) -> np.ndarray:
        return (np.asarray(self.score(frame), dtype=float) >= self.threshold).astype(np.int8)

    def reads(self, frame: pd.DataFrame, column: str, sample: int = 2000, seed: int = 0) -> bool:
        """Whether the model's score depends on `column`: the column is set to each of two of its values on a sample
        of rows and the scores compared. A model that never looks at the column scores every variant the same."""
        rows = frame.sample(sample, random_state=seed) if len(frame) > sample else frame
        base = np.asarray(self.score(rows), dtype=float)
        for value in _two_values(frame[column], self.kinds.get(column)):
            variant = rows.copy()
            variant[column] = value
            if not np.allclose(np.asarray(self.score(variant), dtype=float), base, rtol=0, atol=1e-12):
                return True
        return False

    def read_features(self, frame: pd.DataFrame, exclude=()) -> list[str]:
        """The declared features the model's scores depend on (`reads`), in declaration order."""
        return [f for f in self.kinds if f in frame.columns and f not in exclude and self.reads(frame, f)]


@dataclass(frozen=True)
class Window:
    """Rows a model is explained on: the features and, when every label is in, the labels."""

    features: pd.DataFrame
    y: np.ndarray | None
    sensitive: dict[str, np.ndarray]


@dataclass(frozen=True)
class TrainingRows:
    """The rows of a model's training sample, scored by it: which were trained on (`member`) and which held out."""

    probability: np.ndarray
    y: np.ndarray
    member: np.ndarray
    sensitive: dict[str, np.ndarray]


@dataclass(frozen=True)
class Probing:
    """What the probing families question: the model and, for the attributions' drifts, the champion (when another
    version holds the alias) and the reference window; for membership inference, its training sample."""

    model: Probe
    champion: Probe | None = None
    reference: Window | None = None
    training: TrainingRows | None = None


def _two_values(values: pd.Series, kind: str | None) -> list:
    present = values.dropna()
    if present.empty:
        return []
    if kind == "numeric":
        low, high = np.nanpercentile(pd.to_numeric(present, errors="coerce"), [10, 90])
        return [low, high] if high > low else [low, low + 1]
    return present.value_counts().index[:2].tolist()


def stream(seed: int, name: str) -> np.random.Generator:
    """A random stream of its own for each named stage, reproducible from the suite's seed: what one stage draws
    never shifts what another does."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def rate_rows(family: str, metric: str, hits: np.ndarray, sensitive: dict[str, np.ndarray],
              confidence: float) -> list[MetricRow]:
    """The share of rows where `hits` is true: overall, then per group of each sensitive feature, each with
    Clopper-Pearson bounds at every level (exact at any n)."""
    hits = np.asarray(hits, dtype=bool)
    index = encode(sensitive, len(hits))
    k_cells = np.bincount(index.cell, weights=hits, minlength=index.n_cells).reshape(index.shape)
    n_cells = np.bincount(index.cell, minlength=index.n_cells).reshape(index.shape)
    levels = (*LEVELS, level_for(confidence))
    rows = []
    for axes in [(), *[(i,) for i in range(len(index.features))]]:
        k, n = index.reduce(k_cells, axes), index.reduce(n_cells, axes)
        bounds = proportion_bounds(k, n, levels)
        for slice_, ki, ni, b in zip(index.group_slices(axes), k, n, bounds):
            if ni > 0:
                rows.append(MetricRow(family, metric, slice_, float(ki / ni), int(ni), float(b[-1, 0]), float(b[-1, 1]),
                                      as_tuple(b[:-1])))
    return rows


def excess_rows(family: str, metric: str, hits: np.ndarray, placebo: np.ndarray, sensitive: dict[str, np.ndarray],
                *, resamples: int, confidence: float, seed: int) -> list[MetricRow]:
    """The share of rows where `hits` is true minus the share where `placebo` is, on the same rows: overall and per
    group, with paired bootstrap bounds. Each row is one of 4 cells (hit, placebo hit), so a row bootstrap is a
    multinomial draw of the cells' counts (`bootstrap.py`)."""
    index = encode(sensitive, len(hits))
    cell = index.cell * 4 + np.asarray(hits, dtype=np.int64) * 2 + np.asarray(placebo, dtype=np.int64)
    counts = np.bincount(cell, minlength=index.n_cells * 4).reshape(*index.shape, 4)
    boot = resample_counts(counts, resamples, np.random.default_rng(seed))
    levels = (*LEVELS, level_for(confidence))

    def excess(c: np.ndarray) -> np.ndarray:
        n = c.sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (c[..., 2] - c[..., 1]) / np.where(n > 0, n, np.nan)

    rows = []
    for axes in [(), *[(i,) for i in range(len(index.features))]]:
        c, bc = index.reduce(counts, axes), index.reduce(boot, axes, lead=1)
        n = c.sum(axis=-1)
        # No discordant row: widened by the discordance rate n rows cannot exclude (`bootstrap_bounds`).
        bounds = bootstrap_bounds(excess(bc), excess(c), n, (-1.0, 1.0), levels)
        for slice_, point, ni, b in zip(index.group_slices(axes), excess(c), n, bounds):
            if ni > 0:
                rows.append(MetricRow(family, metric, slice_, float(point), int(ni), float(b[-1, 0]), float(b[-1, 1]),
                                      as_tuple(b[:-1])))
    return rows
