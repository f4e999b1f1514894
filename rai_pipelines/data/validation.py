"""Schema validation: the frame a system's evaluations can trust, or one clear error."""

from __future__ import annotations

import pandas as pd
from pandas.api import types as ptypes

from rai_pipelines.catalog import System
from rai_pipelines.errors import DataError


def normalize(system: System, frame: pd.DataFrame, where: str, production: bool = False) -> pd.DataFrame:
    """Check a window against the catalog and return it in canonical form.

    Canonical: id, the declared features (numeric as float64, categorical as
    string codes) and the label as int8, in catalog order. Sensitive-feature
    codes must all belong to a declared group. In a `production` window whose
    labels are delivered apart, a row whose label has not landed is kept with a
    missing label, and the column is float64 until every row has one; its logged
    predictions are required (in the reference, kept where present: they are
    what estimates are calibrated on).
    """
    data = system.data
    logged = system.model.columns if system.logged and production else []
    required = [data.id_column, *data.features, data.label, *logged]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: column {missing[0]!r} is missing (system {system.name!r} declares it); "
            f"add it to the data or remove it from assets/systems/{system.name}.yaml"
        )
    if frame.empty:
        raise DataError(f"{where}: the dataset is empty; a dataset version needs at least {data.min_rows} rows")
    if len(frame) < data.min_rows:
        raise DataError(f"{where}: {len(frame)} rows, fewer than data.min_rows={data.min_rows}; supply a larger window")

    out = pd.DataFrame({data.id_column: frame[data.id_column].to_numpy()})
    for col, kind in data.features.items():
        series = frame[col]
        if kind == "numeric":
            if not (ptypes.is_numeric_dtype(series) and not ptypes.is_bool_dtype(series)):
                raise DataError(f"{where}: column {col!r} has dtype {series.dtype}, expected numeric; "
                                "fix the data or declare it categorical")
            out[col] = series.astype("float64").to_numpy()
        else:
            if ptypes.is_float_dtype(series):
                raise DataError(f"{where}: column {col!r} has dtype {series.dtype}, expected categorical codes; "
                                "fix the data or declare it numeric")
            out[col] = series.astype("string").astype(object).to_numpy()
            if out[col].isna().any():
                raise DataError(f"{where}: column {col!r} has missing values; categorical features must be complete")

    label = frame[data.label]
    landed = label.dropna() if production and data.production.labels is not None else label
    if (problem := label_problem(landed)) is not None:
        raise DataError(f"{where}: label column {data.label!r} {problem}")
    out[data.label] = label.astype("int8" if len(landed) == len(label) else "float64").to_numpy()
    if system.logged:
        _logged_predictions(system, frame, out, where, production)

    for feature, spec in data.sensitive_features.items():
        if feature not in out.columns:
            raise DataError(f"{where}: sensitive feature {feature!r} is not among the declared features; add it to data.features")
        known = {code for codes in spec.groups.values() for code in codes}
        unknown = sorted(set(out[feature].unique()) - known)
        if unknown:
            raise DataError(
                f"{where}: sensitive feature {feature!r} has code {unknown[0]!r} in no group; "
                f"add it to data.sensitive_features.{feature}.groups"
            )
    return out


def _logged_predictions(system: System, frame: pd.DataFrame, out: pd.DataFrame, where: str, production: bool) -> None:
    """The serving system's logged score (a probability), decision (0/1) and, in production, model version, checked
    and kept."""
    model = system.model
    if model.score_column is not None and model.score_column in frame.columns:
        score = frame[model.score_column]
        if not ptypes.is_numeric_dtype(score) or score.isna().any() or not score.between(0, 1).all():
            raise DataError(f"{where}: logged score column {model.score_column!r} must hold probabilities in [0, 1] on "
                            "every row; fix the log or name another column in model.score_column")
        out[model.score_column] = score.astype("float64").to_numpy()
    if model.decision_column is not None and model.decision_column in frame.columns:
        decision = frame[model.decision_column]
        if (problem := label_problem(decision)) is not None:
            raise DataError(f"{where}: logged decision column {model.decision_column!r} {problem}")
        out[model.decision_column] = decision.astype("int8").to_numpy()
    if model.version_column is not None and (production or model.version_column in frame.columns):
        version = frame[model.version_column]
        if version.isna().any():
            raise DataError(f"{where}: logged model version column {model.version_column!r} has missing values; "
                            "every logged prediction needs the version that made it")
        out[model.version_column] = version.astype("string").astype(object).to_numpy()


def label_problem(label: pd.Series) -> str | None:
    """What keeps a label column from being a binary 0/1 target (the only kind evaluated), or None."""
    if label.isna().any():
        return f"has {int(label.isna().sum())} missing values; every row needs a label"
    if label.empty:  # no label has landed yet: nothing to object to
        return None
    values = pd.unique(label)
    if ptypes.is_numeric_dtype(label) and set(values) <= {0, 1}:
        return None
    shown = ", ".join(map(str, sorted(values, key=str)[:5])) + (", ..." if len(values) > 5 else "")
    if len(values) > 2:
        return (f"has {len(values)} distinct values ({shown}): multiclass and regression targets are not supported; "
                "evaluate a binary 0/1 label (e.g. one class against the rest)")
    return f"must be binary 0/1, not {shown} (dtype {label.dtype}); recode it"


def group_labels(system: System, frame: pd.DataFrame) -> pd.DataFrame:
    """Readable group names for each sensitive feature, e.g. SEX '2' -> 'Female'."""
    out = {}
    for feature, spec in system.data.sensitive_features.items():
        mapping = {code: group for group, codes in spec.groups.items() for code in codes}
        out[feature] = frame[feature].map(mapping)
    return pd.DataFrame(out, index=frame.index)
