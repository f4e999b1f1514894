"""The drift engine reaches Evidently 0.7's verdicts, statistic for statistic."""

import warnings

import numpy as np
import pandas as pd
import pytest

from rai_pipelines.drift.engine import CATEGORICAL, NUMERIC, dataset_drift

EVIDENTLY_NAME = {
    "ks": "K-S p_value",
    "chisquare": "chi-square p_value",
    "z": "Z-test p_value",
    "wasserstein": "Wasserstein distance (normed)",
    "jensenshannon": "Jensen-Shannon distance",
}


def _evidently(reference, current, kinds):
    from evidently.legacy.metrics import DataDriftTable
    from evidently.legacy.pipeline.column_mapping import ColumnMapping
    from evidently.legacy.report import Report

    mapping = ColumnMapping(
        numerical_features=[c for c, k in kinds.items() if k == NUMERIC],
        categorical_features=[c for c, k in kinds.items() if k == CATEGORICAL],
        target=None, prediction=None,
    )
    report = Report(metrics=[DataDriftTable()])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.run(reference_data=reference, current_data=current, column_mapping=mapping)
    return report.as_dict()["metrics"][0]["result"]


def _frame(rng, n, shift):
    s = shift
    return pd.DataFrame({
        "continuous": rng.normal(0.5 * s, 1 + 0.3 * s, n),
        "integer_age": rng.integers(18, 90 + int(10 * s), n).astype(float),
        "low_card": rng.choice([1, 2, 3, 4], n, p=[0.4, 0.3, 0.2, 0.1] if not s else [0.1, 0.2, 0.3, 0.4]),
        "three_values": rng.choice([0.0, 1.0, 2.0], n),
        "binary_num": (rng.random(n) < 0.3 + 0.25 * s).astype(int),
        "category": rng.choice(list("abcdef"), n, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1] if not s else [0.1, 0.1, 0.1, 0.2, 0.2, 0.3]),
        "binary_cat": rng.choice(["yes", "no"], n, p=[0.5, 0.5] if not s else [0.8, 0.2]),
        "with_nulls": np.where(rng.random(n) < 0.2, np.nan, rng.normal(s, 1, n)),
    })


KINDS = {"continuous": NUMERIC, "integer_age": NUMERIC, "low_card": NUMERIC, "three_values": NUMERIC,
         "binary_num": NUMERIC, "category": CATEGORICAL, "binary_cat": CATEGORICAL, "with_nulls": NUMERIC}


@pytest.mark.parametrize("n_ref", [150, 1000, 1001, 2500, 4000])
@pytest.mark.parametrize("n_cur", [120, 2500])
@pytest.mark.parametrize("shift", [0, 1])
def test_every_column_matches_evidently(n_ref, n_cur, shift):
    rng = np.random.default_rng(n_ref * 7 + n_cur * 3 + shift)
    reference, current = _frame(rng, n_ref, 0), _frame(rng, n_cur, shift)
    ours = {c.column: c for c in dataset_drift(reference, current, KINDS).columns}
    theirs = _evidently(reference, current, KINDS)
    for col, result in theirs["drift_by_columns"].items():
        mine = ours[col]
        assert EVIDENTLY_NAME[mine.method] == result["stattest_name"], col
        assert mine.drifted == result["drift_detected"], (col, mine, result["drift_score"])
        assert mine.statistic == pytest.approx(result["drift_score"], abs=1e-6), col
        assert mine.threshold == result["stattest_threshold"]
    report = dataset_drift(reference, current, KINDS)
    assert report.dataset_drift == theirs["dataset_drift"]
    assert report.share == pytest.approx(theirs["share_of_drifted_columns"])


def test_shifted_data_is_found_drifting_and_unshifted_mostly_not():
    rng = np.random.default_rng(0)
    reference = _frame(rng, 5000, 0)
    assert dataset_drift(reference, _frame(rng, 5000, 1), KINDS).dataset_drift is True
    assert dataset_drift(reference, _frame(rng, 5000, 0), KINDS).dataset_drift is False


@pytest.mark.parametrize("n_ref", [150, 2500])
def test_strings_read_as_categories_give_the_same_results(n_ref, tmp_path):
    """`rai drift` reads Parquet strings dictionary-encoded (counted by code, never decoded row by row): missing
    values, categories one window never uses and categories only one window has must count as the object path does."""
    from rai_pipelines.data.files import read_table

    rng = np.random.default_rng(n_ref)
    reference, current = _frame(rng, n_ref, 0), _frame(rng, 400, 1)
    for frame in (reference, current):
        frame.loc[rng.random(len(frame)) < 0.1, "category"] = None
    current["binary_cat"] = current.binary_cat.where(current.binary_cat == "yes", "maybe")  # a value only it has
    paths = []
    for name, frame in (("reference", reference), ("current", current)):
        frame.to_parquet(tmp_path / f"{name}.parquet")
        paths.append(tmp_path / f"{name}.parquet")
    coded = [read_table(p, categories=True) for p in paths]
    assert isinstance(coded[0].category.dtype, pd.CategoricalDtype)
    coded[0]["category"] = coded[0].category.cat.add_categories(["never_seen"])  # an unobserved category
    expected, got = dataset_drift(reference, current, KINDS), dataset_drift(*coded, KINDS)
    for mine, theirs in zip(got.columns, expected.columns):
        assert (mine.method, mine.drifted, mine.n_reference, mine.n_current) == \
            (theirs.method, theirs.drifted, theirs.n_reference, theirs.n_current), mine.column
        assert mine.statistic == pytest.approx(theirs.statistic, rel=1e-12, abs=1e-15), mine.column  # summed in another order
