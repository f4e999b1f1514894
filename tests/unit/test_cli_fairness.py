"""`rai fairness` on any CSV or Parquet file: the contract's JSON, and one-line errors."""

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate

from tests.support import run_rai


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    rng = np.random.default_rng(5)
    n = 4000
    frame = pd.DataFrame({
        "label": rng.integers(0, 2, n),
        "sex": rng.choice(["F", "M"], n),
        "race": rng.choice(["A", "B", "C"], n, p=[0.6, 0.3, 0.1]),
    })
    frame["score"] = np.clip(0.35 * frame.label + 0.65 * rng.random(n), 0, 1)
    frame["pred"] = (frame.score > 0.5).astype(int)
    folder = tmp_path_factory.mktemp("files")
    frame.to_csv(folder / "scored.csv", index=False)
    frame.to_parquet(folder / "scored.parquet", index=False)
    return frame, folder


@pytest.mark.parametrize("name", ["scored.csv", "scored.parquet"])
def test_json_contract_and_values(scored, name, tmp_path):
    frame, folder = scored
    proc = run_rai("fairness", "--data", str(folder / name), "--label", "label", "--pred", "pred", "--score", "score",
                   "--sensitive", "sex", "--sensitive", "race", "--boot", "300", "--seed", "1", "--json", home=tmp_path / "s")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out["partitions"]) == {"sex", "race", "sex&race"}
    mf = MetricFrame(metrics={"sr": selection_rate, "tpr": true_positive_rate}, y_true=frame.label, y_pred=frame.pred,
                     sensitive_features=frame.race)
    for group, values in out["partitions"]["race"]["groups"].items():
        label = group.split("=")[1]
        assert values["n"] == int((frame.race == label).sum())
        for metric in ("selection_rate", "tpr", "fpr", "precision", "accuracy", "auc"):
            e = values[metric]
            assert set(e) == {"value", "ci_low", "ci_high"} and e["ci_low"] <= e["value"] <= e["ci_high"]
        assert values["tpr"]["value"] == pytest.approx(mf.by_group.loc[label, "tpr"], abs=1e-12)
        assert values["selection_rate"]["value"] == pytest.approx(mf.by_group.loc[label, "sr"], abs=1e-12)
    assert len(out["partitions"]["sex&race"]["groups"]) == 6
    d = out["partitions"]["sex"]["disparities"]["tpr"]
    assert set(d) == {"difference", "ratio"} and d["difference"]["ci_low"] <= d["difference"]["value"] <= d["difference"]["ci_high"]


def test_text_output_names_groups_and_intervals(scored, tmp_path):
    _, folder = scored
    proc = run_rai("fairness", "--data", str(folder / "scored.csv"), "--label", "label", "--pred", "pred",
                   "--sensitive", "sex", "--boot", "100", home=tmp_path / "s")
    assert proc.returncode == 0
    assert "sex=F" in proc.stdout and "tpr difference" in proc.stdout and "[" in proc.stdout


@pytest.mark.parametrize(
    "mutate, args, message",
    [
        (None, ("--sensitive", "nope"), "column 'nope' not found"),
        (lambda f: f.assign(pred=f.pred * 3), (), "prediction column 'pred' must be binary 0/1, found value 3"),
        (lambda f: f.assign(label=f.label.where(f.index > 0)), (), "label column 'label' has 1 missing values"),
        (lambda f: f.assign(score=f.score * 2), ("--score", "score"), "score must be a probability in [0, 1]"),
    ],
)
def test_bad_input_is_one_line(scored, tmp_path, mutate, args, message):
    frame, _ = scored
    path = tmp_path / "bad.csv"
    (mutate(frame) if mutate else frame).to_csv(path, index=False)
    base = ["fairness", "--data", str(path), "--label", "label", "--pred", "pred"]
    if "--sensitive" not in args:
        base += ["--sensitive", "sex"]
    proc = run_rai(*base, *args, home=tmp_path / "s")
    assert proc.returncode == 1
    assert message in proc.stderr and str(path) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name, content, message", [
    ("missing.csv", None, "no such file"),
    ("table.xlsx", b"PK\x03\x04", "unsupported file type .xlsx; use .csv or .parquet"),
    ("broken.parquet", b"not parquet", "cannot be read as parquet"),
])
def test_bad_files_are_one_line(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    proc = run_rai("fairness", "--data", str(path), "--label", "y", "--pred", "p", "--sensitive", "g", home=tmp_path / "s")
    assert proc.returncode == 1 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
