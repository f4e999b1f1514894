"""Drift engine edge cases and `rai drift`: a clear result per column, never a crash of the others."""

import json

import numpy as np
import pandas as pd
import pytest

from rai_pipelines.drift.engine import dataset_drift
from rai_pipelines.errors import DataError
from tests.support import run_rai


@pytest.fixture
def windows():
    rng = np.random.default_rng(4)
    n = 3000
    ref = pd.DataFrame({"age": rng.normal(40, 10, n), "group": rng.choice(["a", "b", "c"], n), "const": 1.0,
                        "employed": rng.integers(0, 2, n), "pred": rng.integers(0, 2, n)})
    cur = pd.DataFrame({"age": rng.normal(48, 10, 800), "group": rng.choice(["a", "b", "c", "new"], 800),
                        "const": 1.0, "employed": rng.integers(0, 2, 800), "pred": rng.integers(0, 2, 800)})
    return ref, cur


def test_edge_columns_each_get_a_result(windows):
    ref, cur = windows
    ref = ref.assign(all_null=np.nan, mixed=np.arange(len(ref), dtype=float))
    cur = cur.assign(all_null=np.nan, mixed=["x"] * len(cur))
    report = {c.column: c for c in dataset_drift(ref, cur).columns}
    assert report["age"].drifted is True and report["age"].method == "wasserstein"
    assert report["const"].drifted is False  # a constant column does not drift against itself
    assert report["group"].method == "jensenshannon"  # a category present only in current is just a bin
    assert report["all_null"].drifted is None and "no non-missing values" in report["all_null"].error
    assert report["mixed"].drifted is None and "type differs" in report["mixed"].error
    summary = dataset_drift(ref, cur).to_json()
    assert summary["not_assessed"] == ["all_null", "mixed"]
    assert summary["share_drifted"] == pytest.approx(2 / 5)  # over the five assessed columns


def test_label_and_prediction_drift_are_reported(windows):
    ref, cur = windows
    out = dataset_drift(ref, cur, label="employed", prediction="pred").to_json()
    assert out["label_drift"] is False and out["prediction_drift"] is False
    roles = {c["column"]: c["role"] for c in out["columns"]}
    assert roles["employed"] == "label" and roles["pred"] == "prediction"


def test_empty_current_window_is_one_error(windows):
    ref, cur = windows
    with pytest.raises(DataError, match="current window has no rows"):
        dataset_drift(ref, cur.iloc[0:0])


def test_cli_json_contract(windows, tmp_path):
    ref, cur = windows
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    proc = run_rai("drift", "--reference", str(tmp_path / "ref.parquet"), "--current", str(tmp_path / "cur.csv"),
                   "--label", "employed", "--json", home=tmp_path / "s")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for col in out["columns"]:
        assert {"column", "kind", "method", "statistic", "threshold", "drifted"} <= set(col)
    assert out["drifted_columns"] == ["age", "group"]  # 'group' gained a category 'new' at ~25%
    assert out["share_drifted"] == pytest.approx(2 / 5) and out["dataset_drift"] is False


def test_cli_empty_current_is_one_line(windows, tmp_path):
    ref, cur = windows
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.iloc[0:0].to_csv(tmp_path / "cur.csv", index=False)
    proc = run_rai("drift", "--reference", str(tmp_path / "ref.csv"), "--current", str(tmp_path / "cur.csv"), home=tmp_path / "s")
    assert proc.returncode == 1
    assert "cur.csv: the current window has no rows" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_cli_windows_sharing_no_column_is_one_line_naming_both(windows, tmp_path):
    ref, cur = windows
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.add_prefix("new_").to_csv(tmp_path / "cur.csv", index=False)
    proc = run_rai("drift", "--reference", str(tmp_path / "ref.csv"), "--current", str(tmp_path / "cur.csv"), home=tmp_path / "s")
    assert proc.returncode == 1, proc.stderr
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "cur.csv: the reference and current windows share no column" in line and f"new_{cur.columns[0]}" in line


def test_a_small_window_mixing_numbers_and_strings_in_two_values_gets_a_z_test():
    """Two distinct values of different types (1 and 'x'): the z-test codes the number first instead of crashing."""
    ref = pd.DataFrame({"mixed": pd.Series([1, "x"] * 200, dtype=object)})
    cur = pd.DataFrame({"mixed": pd.Series([1] * 300 + ["x"] * 100, dtype=object)})
    (column,) = dataset_drift(ref, cur).columns
    assert column.method == "z" and column.drifted is True and 0 <= column.statistic < 0.05


def test_cli_reads_csv_strings_as_categories_with_the_same_answer(windows, tmp_path):
    from rai_pipelines.data.files import read_table

    ref, cur = windows
    cur.loc[cur.index[:50], "group"] = None
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    coded = [read_table(tmp_path / f"{n}.csv", categories=True) for n in ("ref", "cur")]
    assert isinstance(coded[1].group.dtype, pd.CategoricalDtype)
    plain = [read_table(tmp_path / f"{n}.csv") for n in ("ref", "cur")]
    for mine, theirs in zip(dataset_drift(*coded).columns, dataset_drift(*plain).columns):
        assert (mine.method, mine.drifted, mine.n_current) == (theirs.method, theirs.drifted, theirs.n_current)
        assert mine.statistic == pytest.approx(theirs.statistic, rel=1e-12)
