"""Plausible input noise, as a suite declares it (`catalog.Perturbation`): what a robustness evaluation feeds the model.

- noise: Gaussian noise on numeric features, its standard deviation `scale` times the feature's spread (the
  interquartile range / 1.349, which is the standard deviation for normal data and is not inflated by outliers; the
  standard deviation where the IQR is 0). Integer features stay integers, and every value stays within the
  feature's observed range, so a perturbed row is one the model could meet.
- swap: a `share` of the categorical values replaced by a frequent value (drawn from the feature's own distribution,
  never the value itself) or by a neighbouring one (the next code up or down in the feature's sorted codes, for
  ordinal codes such as education levels).
- missing: a `share` of the values set missing.

Each perturbation touches only the features it names (default: every feature of its kind but the sensitive ones,
which the counterfactual family moves on purpose), and returns which rows it changed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rai_pipelines.errors import DataError


def spread(values: pd.Series) -> float:
    x = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    if len(x) == 0:
        return 0.0
    q1, q3 = np.percentile(x, [25, 75])
    return float((q3 - q1) / 1.349) if q3 > q1 else float(x.std())


def _codes(values: pd.Series) -> list:
    """Sorted distinct codes: numerically when every code is a number ('2' < '10'), otherwise as text."""
    distinct = values.dropna().unique().tolist()
    try:
        return sorted(distinct, key=float)
    except (TypeError, ValueError):
        return sorted(distinct, key=str)


def targets(spec, kinds: dict[str, str], frame: pd.DataFrame, sensitive: list[str]) -> list[str]:
    """The features a perturbation changes."""
    wanted = {"noise": ("numeric",), "swap": ("categorical",), "missing": ("numeric", "categorical")}[spec.kind]
    if spec.features:
        unknown = [f for f in spec.features if f not in kinds or f not in frame.columns]
        if unknown:
            raise DataError(f"perturbation {spec.name!r}: feature {unknown[0]!r} is not a declared feature of the data")
        wrong = [f for f in spec.features if kinds[f] not in wanted]
        if wrong:
            raise DataError(f"perturbation {spec.name!r} ({spec.kind}) applies to {' or '.join(wanted)} features; "
                            f"{wrong[0]!r} is {kinds[wrong[0]]}")
        return list(spec.features)
    found = [f for f, kind in kinds.items() if kind in wanted and f not in sensitive and f in frame.columns]
    if not found:  # a perturbation that changes nothing would read as perfect robustness
        raise DataError(f"perturbation {spec.name!r} ({spec.kind}) finds no {' or '.join(wanted)} feature to change "
                        "beyond the sensitive ones; name its features or remove it")
    return found


def apply(frame: pd.DataFrame, spec, kinds: dict[str, str], sensitive: list[str],
          rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """(the perturbed copy of `frame`, for each feature it changed the rows where it did)."""
    out = frame.copy()
    changes = {}
    for feature in targets(spec, kinds, frame, sensitive):
        before = frame[feature]
        if spec.kind == "noise":
            after = _noise(before, spec.scale, rng)
        elif spec.kind == "swap":
            after = _swap(before, spec.share, spec.to, rng)
        else:
            after = before.where(rng.random(len(before)) >= spec.share)
        changes[feature] = ~((after == before) | (after.isna() & before.isna())).to_numpy(dtype=bool)
        out[feature] = after
    return out, changes


def _noise(values: pd.Series, scale: float, rng: np.random.Generator) -> pd.Series:
    x = pd.to_numeric(values, errors="coerce")
    sigma = scale * spread(values)
    noisy = x + rng.normal(0.0, sigma, len(x)) if sigma > 0 else x
    noisy = noisy.clip(x.min(), x.max())
    integral = x.dropna().eq(x.dropna().round()).all()
    if integral:
        noisy = noisy.round()
    return noisy.astype(values.dtype) if integral and not values.isna().any() else noisy


def _swap(values: pd.Series, share: float, to: str, rng: np.random.Generator) -> pd.Series:
    codes = _codes(values)
    if len(codes) < 2:
        return values
    chosen = (rng.random(len(values)) < share) & values.notna().to_numpy()
    current = values.to_numpy(dtype=object)
    position = {c: i for i, c in enumerate(codes)}
    at = np.array([position.get(v, -1) for v in current[chosen]])
    if to == "neighbour":
        step = np.where(rng.random(len(at)) < 0.5, -1, 1)
        step = np.where(at == 0, 1, np.where(at == len(codes) - 1, -1, step))  # the ends have one neighbour
        new = at + step
    else:
        shares = values.value_counts(normalize=True).reindex(codes).fillna(0).to_numpy()
        new = rng.choice(len(codes), size=len(at), p=shares)
        same = new == at
        while same.any():  # a swap changes the value: redraw the ones that drew themselves
            new[same] = rng.choice(len(codes), size=int(same.sum()), p=shares)
            same = new == at
    out = current.copy()
    out[chosen] = np.asarray(codes, dtype=object)[new]
    return pd.Series(out, index=values.index, dtype=values.dtype if values.dtype != object else object)
