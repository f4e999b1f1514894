"""Evidently-compatible drift verdicts, computed on the full data.

Per column, the same default test and threshold as Evidently 0.7's
DataDriftPreset (`evidently.legacy.calculations.stattests.registry.
_get_default_stattest`), after dropping missing and infinite values as it does:

| reference rows (non-null) | column | distinct values (both sides) | method | drift when |
|---|---|---|---|---|
| <= 1000 | numeric | > 5 | K-S p-value | p <= 0.05 |
| <= 1000 | numeric or categorical | 3..5 numeric, > 2 categorical | chi-square p-value | p < 0.05 |
| <= 1000 | numeric or categorical | <= 2 | z-test p-value | p < 0.05 |
| > 1000 | numeric | > 5 | Wasserstein distance / std(reference) | >= 0.1 |
| > 1000 | numeric (<= 5 values) or categorical | any | Jensen-Shannon distance | >= 0.1 |

The dataset drifts when the share of drifted columns is >= 0.5. Where Evidently
would stop the whole report (a column that is empty on one side, a type that
differs between sides), this engine reports that column as not assessed and
goes on with the others.

Speed: value counts are one hash pass per side; the Wasserstein distance is
computed from the two sorted samples merged in linear time, instead of
per-column pandas/scipy round trips.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from rai_pipelines.errors import DataError

NUMERIC, CATEGORICAL = "numeric", "categorical"
THRESHOLDS = {"ks": 0.05, "chisquare": 0.05, "z": 0.05, "wasserstein": 0.1, "jensenshannon": 0.1}
DRIFT_SHARE = 0.5
SMALL_REFERENCE = 1000


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: str
    method: str | None
    statistic: float | None
    threshold: float | None
    drifted: bool | None  # None: not assessed (see error)
    n_reference: int
    n_current: int
    error: str | None = None
    role: str = "feature"  # feature, label or prediction

    def to_json(self) -> dict:
        out = asdict(self)
        if out["statistic"] is not None and math.isnan(out["statistic"]):
            out["statistic"] = None
        return out


@dataclass(frozen=True)
class DriftReport:
    columns: list[ColumnDrift]
    drift_share_threshold: float = DRIFT_SHARE
    n_reference: int = 0
    n_current: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def assessed(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.drifted is not None]

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def share(self) -> float:
        return len(self.drifted_columns) / len(self.assessed) if self.assessed else math.nan

    @property
    def dataset_drift(self) -> bool | None:
        return None if not self.assessed else self.share >= self.drift_share_threshold

    def by_role(self, role: str) -> ColumnDrift | None:
        return next((c for c in self.columns if c.role == role), None)

    def to_json(self) -> dict:
        label, pred = self.by_role("label"), self.by_role("prediction")
        return {
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "columns": [c.to_json() for c in self.columns],
            "drifted_columns": self.drifted_columns,
            "share_drifted": None if math.isnan(self.share) else self.share,
            "drift_share_threshold": self.drift_share_threshold,
            "dataset_drift": self.dataset_drift,
            "label_drift": None if label is None else label.drifted,
            "prediction_drift": None if pred is None else pred.drifted,
            "not_assessed": [c.column for c in self.columns if c.drifted is None],
        }


@dataclass(frozen=True)
class _Coded:
    """A categorical column's non-missing values as codes into its categories: counted without building a Python
    object per row (strings read from Parquet arrive this way, dictionary-encoded by Arrow)."""

    codes: np.ndarray
    categories: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)


def _clean(values: pd.Series) -> np.ndarray | _Coded:
    """The values a test sees: missing and infinite values dropped, as Evidently does."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # only observed categories become values (_tally)
        codes = values.cat.codes.to_numpy()
        return _Coded(codes[codes >= 0], np.asarray(values.cat.categories))
    if ptypes.is_numeric_dtype(values) and not ptypes.is_bool_dtype(values):
        arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(arr)
        return arr if finite.all() else arr[finite]
    arr = values.to_numpy()
    missing = pd.isna(arr)
    return arr if not missing.any() else arr[~missing]


def _tally(side: np.ndarray | _Coded) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, their counts) of one window's cleaned values."""
    if isinstance(side, _Coded):
        counts = np.bincount(side.codes, minlength=len(side.categories))
        seen = counts > 0
        return side.categories[seen], counts[seen]
    codes, uniques = pd.factorize(side)
    return np.asarray(uniques), np.bincount(codes, minlength=len(uniques))


def _counts(ref: np.ndarray | _Coded, cur: np.ndarray | _Coded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts per distinct value over the union of both sides, aligned, with the values."""
    (rv, rn), (cv, cn) = _tally(ref), _tally(cur)
    codes, uniques = pd.factorize(np.concatenate([rv, cv]))
    k = len(uniques)
    rc = np.bincount(codes[: len(rv)], weights=rn, minlength=k).astype(np.float64)
    cc = np.bincount(codes[len(rv):], weights=cn, minlength=k).astype(np.float64)
    return rc, cc, np.asarray(uniques)


def _jensenshannon(p: np.ndarray, q: np.ndarray) -> float:
    """scipy.spatial.distance.jensenshannon (natural log) of two distributions, without importing scipy.spatial."""
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(np.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def _wasserstein_normed(ref: np.ndarray, cur: np.ndarray) -> float:
    """Wasserstein-1 between the empirical distributions, divided by max(std(ref), 0.001)."""
    u = np.sort(ref)
    v = np.sort(cur)
    scale = max(float(np.std(ref)), 0.001)
    if len(u) == len(v):  # equal sizes: the optimal coupling pairs the order statistics
        return float(np.mean(np.abs(u - v))) / scale
    both = np.concatenate([u, v])
    # Two sorted runs: a stable sort merges them in linear time.
    order = np.argsort(both, kind="stable")
    values = both[order]
    from_u = order < len(u)
    cdf_u = np.cumsum(from_u)[:-1] / len(u)
    cdf_v = np.cumsum(~from_u)[:-1] / len(v)
    return float(np.sum(np.abs(cdf_u - cdf_v) * np.diff(values))) / scale


def _z_test(rc: np.ndarray, cc: np.ndarray, keys_sorted_first: int) -> float:
    n1, n2 = rc.sum(), cc.sum()
    # Evidently codes the first of the sorted keys as 0 and every other value as 1.
    p1 = (n1 - rc[keys_sorted_first]) / n1
    p2 = (n2 - cc[keys_sorted_first]) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    # Evidently's 2 * (1 - Phi(|z|)), rounding included (0 beyond |z| ~ 8.3), with Phi from erfc: no scipy.stats import.
    return float(2 * (1 - 0.5 * math.erfc(-abs(z) / math.sqrt(2))))


def column_drift(name: str, reference: pd.Series, current: pd.Series, kind: str, role: str = "feature") -> ColumnDrift:
    """One column's test, or a not-assessed result saying why."""
    ref = _clean(reference)
    cur = _clean(current)
    base = dict(column=name, kind=kind, n_reference=len(ref), n_current=len(cur), role=role)

    def unassessed(why: str) -> ColumnDrift:
        return ColumnDrift(method=None, statistic=None, threshold=None, drifted=None, error=why, **base)

    if len(ref) == 0:
        return unassessed("no non-missing values in the reference window")
    if len(cur) == 0:
        return unassessed("no non-missing values in the current window")
    if ptypes.is_numeric_dtype(reference) != ptypes.is_numeric_dtype(current):
        return unassessed(f"type differs between windows: reference {reference.dtype}, current {current.dtype}")
    if kind == NUMERIC and (not ptypes.is_numeric_dtype(reference) or ptypes.is_bool_dtype(reference)):
        return unassessed(f"declared numeric but has dtype {reference.dtype}")

    small = len(ref) <= SMALL_REFERENCE
    if kind == NUMERIC:
        # More than 5 distinct values in a prefix settles it without hashing the whole column.
        many = len(pd.unique(ref[:4096])) > 5
        if not many:
            many = len(np.union1d(pd.unique(ref), pd.unique(cur))) > 5
        if many:
            if small:
                from scipy import stats  # small windows only: scipy.stats costs a third of a second to import

                p = float(stats.ks_2samp(ref, cur)[1])
                return ColumnDrift(method="ks", statistic=p, threshold=THRESHOLDS["ks"], drifted=p <= THRESHOLDS["ks"], **base)
            w = _wasserstein_normed(ref, cur)
            return ColumnDrift(method="wasserstein", statistic=w, threshold=THRESHOLDS["wasserstein"],
                               drifted=w >= THRESHOLDS["wasserstein"], **base)

    rc, cc, keys = _counts(ref, cur)
    if not small:
        js = _jensenshannon(rc / rc.sum(), cc / cc.sum())
        return ColumnDrift(method="jensenshannon", statistic=js, threshold=THRESHOLDS["jensenshannon"],
                           drifted=bool(js >= THRESHOLDS["jensenshannon"]), **base)
    from scipy import stats

    if len(rc) > 2:
        p = float(stats.chisquare(cc, rc * (cc.sum() / rc.sum()))[1])
        return ColumnDrift(method="chisquare", statistic=p, threshold=THRESHOLDS["chisquare"],
                           drifted=bool(p < THRESHOLDS["chisquare"]), **base)
    if len(keys) == 1:  # the same single value on both sides
        p = 1.0
    else:
        p = _z_test(rc, cc, min(range(len(keys)), key=lambda i: _sort_key(keys[i])))
    return ColumnDrift(method="z", statistic=p, threshold=THRESHOLDS["z"], drifted=bool(p < THRESHOLDS["z"]), **base)


def _sort_key(value):
    return (0, value) if isinstance(value, (int, float, np.integer, np.floating)) else (1, str(value))


def infer_kind(series: pd.Series) -> str:
    return NUMERIC if ptypes.is_numeric_dtype(series) and not ptypes.is_bool_dtype(series) else CATEGORICAL


def _names(frame: pd.DataFrame, shown: int = 5) -> str:
    names = [str(c) for c in frame.columns]
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "") if names else "none"


def dataset_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    kinds: dict[str, str] | None = None,
    label: str | None = None,
    prediction: str | None = None,
    drift_share: float = DRIFT_SHARE,
) -> DriftReport:
    """Drift of every column present in both windows (or of `kinds`' columns)."""
    if len(current) == 0:
        raise DataError("the current window has no rows; there is nothing to compare with the reference")
    if len(reference) == 0:
        raise DataError("the reference window has no rows; drift needs a reference")
    columns = list(kinds) if kinds else [c for c in reference.columns if c in current.columns]
    for special in (label, prediction):
        if special and special not in columns and special in reference.columns and special in current.columns:
            columns.append(special)
    if not columns:
        raise DataError(f"the reference and current windows share no column (reference: {_names(reference)}; current: "
                        f"{_names(current)}); compare two windows of the same feed")
    missing = [c for c in columns if c not in reference.columns or c not in current.columns]
    if missing:
        side = "reference" if missing[0] not in reference.columns else "current"
        raise DataError(f"column {missing[0]!r} is missing from the {side} window")

    def one(col: str) -> ColumnDrift:
        kind = (kinds or {}).get(col) or infer_kind(reference[col])
        role = "label" if col == label else "prediction" if col == prediction else "feature"
        return column_drift(col, reference[col], current[col], kind, role)

    # Sorting and counting release the GIL: columns run in parallel on every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(one, columns))
    return DriftReport(results, drift_share, len(reference), len(current))
