"""Explainability family: which features one model version leans on, per group, and how that moves.

- `permutation_importance` (slice `<feature>`, and `<feature>|<sensitive>=<group>` per group): the drop in accuracy
  when the feature's values are shuffled across the rows, averaged over `repeats` shuffles, as scikit-learn's
  `permutation_importance(scoring="accuracy")` defines it; on labelled windows only.
- `shap_importance`: the mean absolute SHAP value of the feature on the model's log-odds, by the shap library
  (`shap_values`: exact for the linear and tree pipelines the project trains, model-agnostic otherwise) on
  `explained_rows` rows against a background sample of the same window.
- `shap_share`: the feature's share of the summed `shap_importance`: what the attribution drifts compare, since a
  share does not move when every attribution scales together.
- `shap_share_change_vs_reference`: this window's share minus the reference window's, same model and same background
  rows: the data moved.
- `shap_share_change_vs_champion`: this version's share minus the champion's, on the same rows: the model moved.

Each row's contribution is computed once; intervals are percentile bootstraps that reweight the rows (the two
windows resampled apart for the reference change, the same rows together for the champion change).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rai_pipelines.evaluation.groups import encode
from rai_pipelines.evaluation.probes import Probe, Window, stream
from rai_pipelines.evaluation.rows import OVERALL, MetricRow
from rai_pipelines.stats.intervals import LEVELS, as_tuple, bootstrap_bounds, level_for

FAMILY = "attributions"


def permutation_contributions(probe: Probe, window: Window, features: list[str], repeats: int,
                              rng: np.random.Generator) -> np.ndarray:
    """(rows, features): each row's correct-minus-shuffled-correct, averaged over the shuffles; the column means are
    the permutation importances."""
    frame = window.features
    correct = probe.decide(frame) == window.y
    out = np.zeros((len(frame), len(features)))
    for j, feature in enumerate(features):
        for _ in range(repeats):
            shuffled = frame.copy()
            shuffled[feature] = frame[feature].to_numpy()[rng.permutation(len(frame))]
            out[:, j] += correct.astype(float) - (probe.decide(shuffled) == window.y)
    return out / repeats


def shap_values(probe: Probe, frame: pd.DataFrame, features: list[str], background: pd.DataFrame, seed: int) -> np.ndarray:
    """(rows, features) SHAP values of the model's log-odds, against `background`: exact where the model type allows
    (a scikit-learn pipeline of a column transformer and a linear model or a tree ensemble: shap's Linear and Tree
    explainers, the encoded columns summed back to the feature they encode), otherwise shap's model-agnostic
    permutation explainer on the log-odds, one antithetic permutation per row (exact for a model additive in them)."""
    import shap  # numba's start-up costs seconds: only the attributions family pays it

    exact = _exact(shap, probe.estimator, frame, background)
    if exact is not None:
        return np.column_stack([exact.get(f, np.zeros(len(frame))) for f in features])
    coded, decode = _numeric(frame[features], background[features])

    def score(x: np.ndarray) -> np.ndarray:
        rows = frame.iloc[np.zeros(len(x), dtype=int)].reset_index(drop=True)  # other columns: ones the model ignores
        for j, feature in enumerate(features):
            rows[feature] = decode[j](x[:, j])
        p = np.clip(np.asarray(probe.score(rows), dtype=float), 1e-9, 1 - 1e-9)
        return np.log(p / (1 - p))  # the log-odds themselves, averaged over the background as the exact path does

    masker = shap.maskers.Independent(coded[1], max_samples=len(coded[1]))
    explainer = shap.explainers.Permutation(score, masker, seed=seed)
    return np.asarray(explainer(coded[0], max_evals=2 * len(features) + 1, silent=True).values)


def _exact(shap, estimator, frame: pd.DataFrame, background: pd.DataFrame) -> dict[str, np.ndarray] | None:
    """Per input feature, its exact SHAP values on the log-odds, or None when the model is not of a type shap
    explains exactly here."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    if not isinstance(estimator, Pipeline) or not isinstance(estimator[0], ColumnTransformer) or len(estimator) != 2:
        return None
    encode, model = estimator[0], estimator[-1]
    origin = []  # the input feature of each encoded column
    for name, transformer, columns in encode.transformers_:
        if name == "remainder" and transformer == "drop":
            continue
        if isinstance(transformer, OneHotEncoder) and transformer.drop is None:
            origin += [c for c, cats in zip(columns, transformer.categories_) for _ in range(len(cats))]
        elif len(transformer.get_feature_names_out(columns)) == len(columns):
            origin += list(columns)
        else:
            return None
    x, base = encode.transform(frame), encode.transform(background)
    if hasattr(model, "coef_") and np.shape(model.coef_)[0] == 1:
        phi = shap.LinearExplainer(model, shap.maskers.Independent(base, max_samples=len(base))).shap_values(x)
    else:
        try:
            # shap checks that each row's values add up to the model's output, and raises when its reading of the
            # trees disagrees with the model: then the model-agnostic path answers instead.
            phi = shap.TreeExplainer(model, data=base, feature_perturbation="interventional").shap_values(x)
        except Exception:  # noqa: BLE001 - shap raises a bare Exception for a model type it does not know
            return None
    phi = np.asarray(phi)
    if phi.ndim == 3:  # (rows, columns, classes): the positive class
        phi = phi[..., -1]
    if phi.shape[1] != len(origin):
        return None
    out: dict[str, np.ndarray] = {}
    for j, feature in enumerate(origin):
        out[feature] = out.get(feature, 0) + phi[:, j]
    return out


def _numeric(frame: pd.DataFrame, background: pd.DataFrame):
    """((rows, background) as float arrays, per column a decoder back to the model's values): shap masks arrays;
    a categorical column travels as the index of its value."""
    coded, back, decoders = [], [], []
    for feature in frame.columns:
        values, base = frame[feature], background[feature]
        if pd.api.types.is_numeric_dtype(values) and pd.api.types.is_numeric_dtype(base):
            coded.append(values.to_numpy(dtype=float))
            back.append(base.to_numpy(dtype=float))
            dtype = values.dtype
            decoders.append(lambda x, dtype=dtype: pd.Series(x).astype(dtype, errors="ignore").to_numpy())
        else:
            uniques = pd.Index(pd.concat([values, base]).astype(object).unique())
            coded.append(uniques.get_indexer(values.astype(object)).astype(float))
            back.append(uniques.get_indexer(base.astype(object)).astype(float))
            decoders.append(lambda x, uniques=uniques: uniques.to_numpy(dtype=object)[x.astype(int)])
    return (np.column_stack(coded), np.column_stack(back)), decoders


def _weights(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, n) row-bootstrap weights: how often each row is drawn, n draws with replacement."""
    return rng.multinomial(n, np.full(n, 1 / n), size=resamples).astype(np.float32)


def _rows(metric: str, slices: list[str], point: np.ndarray, samples: np.ndarray, n: int, value_range,
          confidence: float) -> list[MetricRow]:
    levels = (*LEVELS, level_for(confidence))
    bounds = bootstrap_bounds(samples, point, np.full(len(point), n), value_range, levels)
    return [MetricRow(FAMILY, metric, s, float(p), n, float(b[-1, 0]), float(b[-1, 1]), as_tuple(b[:-1]))
            for s, p, b in zip(slices, point, bounds)]


def _by_group(metric: str, contributions: np.ndarray, features: list[str], sensitive: dict[str, np.ndarray],
              resamples: int, confidence: float, rng: np.random.Generator, value_range) -> list[MetricRow]:
    """Column means of `contributions` overall and within each group, with row-bootstrap bounds."""
    index = encode(sensitive, len(contributions))
    out = []
    for axes in [(), *[(i,) for i in range(len(index.features))]]:
        for g, name in enumerate(index.group_slices(axes)):
            mask = np.ones(len(contributions), bool) if not axes else _in_group(index, axes, g)
            if not mask.any():
                continue
            part = contributions[mask]
            weights = _weights(len(part), resamples, rng)
            samples = weights @ part / len(part)
            suffix = "" if name == OVERALL else f"|{name}"
            out += _rows(metric, [f"{f}{suffix}" for f in features], part.mean(axis=0), samples, len(part), value_range,
                         confidence)
    return out


def _in_group(index, axes: tuple[int, ...], g: int) -> np.ndarray:
    """Rows of the g-th group of a one-feature partition."""
    (axis,) = axes
    codes = np.unravel_index(index.cell, index.shape)[axis] if index.shape else np.zeros(len(index.cell), int)
    return codes == g


def _shares(mean_abs: np.ndarray) -> np.ndarray:
    total = mean_abs.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, mean_abs / total, np.nan)


def attribution_rows(probe: Probe, window: Window, *, reference: Window | None = None, champion: Probe | None = None,
                     repeats: int = 3, importance_rows: int = 5000, explained_rows: int = 500, background_rows: int = 100,
                     resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> list[MetricRow]:
    """Every stage draws from a stream of its own (`probes.stream`), so labels arriving or a new champion never move
    which rows SHAP explains. All SHAP values are taken against one background, the reference window's when there
    is one: a SHAP value is relative to its background, and two windows explained against two backgrounds would
    differ by the backgrounds too."""
    read = set(probe.read_features(window.features)) | set(champion.read_features(window.features) if champion else ())
    features = [f for f in window.features.columns if f in read]  # one set, so the two versions' shares compare
    rows: list[MetricRow] = []
    if window.y is not None:
        some = _sample(window.features, importance_rows, stream(seed, "importance rows"))
        sample = Window(window.features.iloc[some], window.y[some], {k: v[some] for k, v in window.sensitive.items()})
        contributions = permutation_contributions(probe, sample, features, repeats, stream(seed, "shuffles"))
        rows += _by_group("permutation_importance", contributions, features, sample.sensitive, resamples, confidence,
                          stream(seed, "importance bootstrap"), (-1.0, 1.0))
    base = reference if reference is not None else window
    background = base.features.iloc[_sample(base.features, background_rows, stream(seed, "background"))]
    explained = _sample(window.features, explained_rows, stream(seed, "explained rows"))
    phi = np.abs(shap_values(probe, window.features.iloc[explained], features, background, seed))
    rows += _by_group("shap_importance", phi, features, {k: v[explained] for k, v in window.sensitive.items()}, resamples,
                      confidence, stream(seed, "shap bootstrap"), (0.0, np.inf))
    weights = _weights(len(phi), resamples, stream(seed, "share bootstrap"))
    shares, share_samples = _shares(phi.mean(axis=0)), _shares(weights @ phi / len(phi))
    rows += _rows("shap_share", features, shares, share_samples, len(phi), (0.0, 1.0), confidence)
    if reference is not None:
        ref_rows = _sample(reference.features, explained_rows, stream(seed, "reference rows"))
        ref_phi = np.abs(shap_values(probe, reference.features.iloc[ref_rows], features, background, seed))
        ref_weights = _weights(len(ref_phi), resamples, stream(seed, "reference bootstrap"))
        rows += _rows("shap_share_change_vs_reference", features, shares - _shares(ref_phi.mean(axis=0)),
                      share_samples - _shares(ref_weights @ ref_phi / len(ref_phi)), len(phi), (-1.0, 1.0), confidence)
    if champion is not None:
        champ_phi = np.abs(shap_values(champion, window.features.iloc[explained], features, background, seed))
        rows += _rows("shap_share_change_vs_champion", features, shares - _shares(champ_phi.mean(axis=0)),
                      share_samples - _shares(weights @ champ_phi / len(champ_phi)), len(phi), (-1.0, 1.0), confidence)
    return rows


def _sample(frame: pd.DataFrame, count: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(len(frame), size=min(count, len(frame)), replace=False))


def from_suite(inputs, suite) -> list[MetricRow]:
    labelled = not np.isnan(inputs.y).any()
    window = Window(inputs.features, inputs.y.astype(int) if labelled else None, inputs.sensitive)
    return attribution_rows(inputs.probe, window, reference=inputs.reference_window, champion=inputs.champion_probe,
                            repeats=suite.repeats, importance_rows=suite.importance_rows, explained_rows=suite.explained_rows,
                            background_rows=suite.background_rows, resamples=suite.bootstrap_resamples,
                            confidence=suite.confidence, seed=suite.seed)
