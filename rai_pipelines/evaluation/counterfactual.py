"""Counterfactual fairness: does the decision change when only the sensitive group changes?

For each sensitive feature, every row is moved to each of the other groups in turn, and a row flips when its
decision changes under any of those moves, in two ways, for every model:

- the feature itself set to the other group's code: `flip_rate` (exactly 0 for a model that does not read it);
- the `proxy_count` strongest proxies the model reads (`proxies.strongest`, by mutual information) replaced, jointly, by those of a
  randomly drawn row of the other group, the sensitive feature left as it is, so that the moved row carries what a
  model blind to the group can still see of it: `proxy_flip_rate`. Taking any other person's values moves decisions,
  whatever their group, so the same move from a random row of the row's own group is the placebo
  (`proxy_placebo_flip_rate`), and `proxy_flip_excess`, the difference on the same rows with paired bootstrap
  bounds, is what the group itself does.

Reported overall (slice `<sensitive>`) and per group the rows came from (`<sensitive>=<group>`), with exact
Clopper-Pearson bounds; the gate judges them as any rate.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from rai_pipelines.evaluation.probes import Probe, excess_rows, rate_rows, stream
from rai_pipelines.evaluation.proxies import proxy_rows, strongest
from rai_pipelines.evaluation.rows import OVERALL, MetricRow

FAMILY = "counterfactual"


def counterfactual_rows(probe: Probe, frame: pd.DataFrame, prediction: np.ndarray, sensitive: dict[str, np.ndarray],
                        codes: dict[str, dict[str, list[str]]], *, proxy_count: int = 3, proxy_bins: int = 10,
                        resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> list[MetricRow]:
    """`codes`: per sensitive feature, each group's codes as the data holds them (the catalog's `groups`)."""
    prediction = np.asarray(prediction).astype(np.int8)
    read = probe.read_features(frame, exclude=sensitive)  # moving a proxy the model ignores would move nothing
    ranking = proxy_rows(frame, probe.kinds, sensitive, read, bins=proxy_bins, resamples=0, seed=seed)
    rows: list[MetricRow] = []
    for name, labels in sensitive.items():
        labels = np.asarray(labels)
        rng = stream(seed, name)
        proxies = strongest(ranking, name, proxy_count)
        flipped, moved_flipped, placebo = (np.zeros(len(frame), dtype=bool) for _ in range(3))
        present = [g for g in codes[name] if (labels == g).any()]
        for target in codes[name]:  # every group the catalog names: a row may be moved to one this window lacks
            away = labels != target
            if name in frame.columns and away.any():
                moved = frame.loc[away].copy()
                moved[name] = _codes_of(frame[name], labels, target, codes[name][target], int(away.sum()), rng)
                flipped[away] |= probe.decide(moved) != prediction[away]
            if proxies and target in present and away.any():
                moved_flipped[away] |= _moved_flips(probe, frame, prediction, away, labels == target, proxies, rng)
                # The placebo, one draw per move: the same features from another row of the row's own group. Taking
                # another person's values moves decisions whatever their group; only the excess over this is the group's.
                for source in present:
                    mine = away & (labels == source)
                    if mine.any():
                        placebo[mine] |= _moved_flips(probe, frame, prediction, mine, labels == source, proxies, rng)
        on = {name: labels}
        # A feature not in the data, or a window of one group with no other to move to, reports nothing: the checks
        # on it are then unassessed, never passed on rows that were not moved.
        found = rate_rows(FAMILY, "flip_rate", flipped, on, confidence) if name in frame.columns and len(codes[name]) > 1 else []
        if proxies and len(present) > 1:
            found += rate_rows(FAMILY, "proxy_flip_rate", moved_flipped, on, confidence)
            found += rate_rows(FAMILY, "proxy_placebo_flip_rate", placebo, on, confidence)
            found += excess_rows(FAMILY, "proxy_flip_excess", moved_flipped, placebo, on, resamples=resamples,
                                 confidence=confidence, seed=seed)
        # Every row was moved along this feature: its overall share is the feature's slice, not 'overall'.
        rows += [replace(r, slice=name) if r.slice == OVERALL else r for r in found]
    return rows


def _codes_of(column: pd.Series, labels: np.ndarray, group: str, catalog_codes: list[str], size: int,
              rng: np.random.Generator) -> np.ndarray:
    """Codes of `group` for `size` moved rows, drawn as the group's rows hold them (a group of several codes is not
    one of them), or evenly among the catalog's codes when the window has none of its rows."""
    held = column[labels == group].value_counts(normalize=True)
    if held.empty:
        return rng.choice(np.asarray(catalog_codes, dtype=object), size=size)
    return rng.choice(held.index.to_numpy(dtype=object), size=size, p=held.to_numpy())


def _moved_flips(probe: Probe, frame: pd.DataFrame, prediction: np.ndarray, rows: np.ndarray, donors_from: np.ndarray,
                 features: list[str], rng: np.random.Generator) -> np.ndarray:
    """Whether each of `rows` changes decision when `features` are replaced, jointly, by those of a random row of
    `donors_from`, never the row itself (a row moved to its own values is no move)."""
    moved = frame.loc[rows].copy()
    pool, mine = np.flatnonzero(donors_from), np.flatnonzero(rows)
    donors = rng.choice(pool, size=len(mine))
    if len(pool) > 1:
        while (same := donors == mine).any():
            donors[same] = rng.choice(pool, size=int(same.sum()))
    for feature in features:
        moved[feature] = frame[feature].to_numpy()[donors]
    return probe.decide(moved) != prediction[rows]


def from_suite(inputs, suite) -> list[MetricRow]:
    return counterfactual_rows(inputs.probe, inputs.features, inputs.prediction, inputs.sensitive, inputs.group_codes,
                               proxy_count=suite.proxy_count, proxy_bins=suite.proxy_bins,
                               resamples=suite.bootstrap_resamples, confidence=suite.confidence, seed=suite.seed)
