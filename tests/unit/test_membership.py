"""Membership inference: the attack's AUC against scikit-learn's, on a model that memorizes and one that cannot;
the training split recorded with the model, and refused when it is not the recorded one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.tree import DecisionTreeClassifier

from rai_pipelines.errors import DataError
from rai_pipelines.evaluation.membership import attack_scores, membership_rows
from rai_pipelines.modeling import splits


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(5)
    n = 6000
    x = rng.normal(size=(n, 5))
    y = (rng.random(n) < 1 / (1 + np.exp(-(x[:, 0] + 0.5 * x[:, 1])))).astype(int)
    member = ~splits.held_out(pd.Series(np.arange(n)))
    group = np.where(rng.random(n) < 0.4, "a", "b")
    return x, y, member, {"g": group}


def test_held_out_is_a_fixed_share_by_id():
    ids = pd.Series(np.arange(20000))
    out = splits.held_out(ids)
    assert out.mean() == pytest.approx(splits.HOLDOUT_SHARE, abs=0.01)
    assert (splits.held_out(ids.sample(frac=1, random_state=1)) == out[ids.sample(frac=1, random_state=1).index]).all()


def test_a_memorizing_model_leaks_and_the_auc_is_scikit_learns(sample):
    x, y, member, groups = sample
    tree = DecisionTreeClassifier(min_samples_leaf=1, random_state=0).fit(x[member], y[member])  # memorizes
    p = tree.predict_proba(x)[:, 1]
    rows = {r.slice: r for r in membership_rows(p, y, member, groups, resamples=300)}
    expected = roc_auc_score(member, attack_scores(p, y))
    assert rows["overall"].value == pytest.approx(expected, abs=0.002)
    assert rows["overall"].ci_low > 0.6
    mask = groups["g"] == "a"
    assert rows["g=a"].value == pytest.approx(roc_auc_score(member[mask], attack_scores(p[mask], y[mask])), abs=0.003)


def test_a_model_that_cannot_memorize_does_not_leak(sample):
    x, y, member, groups = sample
    linear = LogisticRegression().fit(x[member], y[member])
    rows = {r.slice: r for r in membership_rows(linear.predict_proba(x)[:, 1], y, member, groups, resamples=300)}
    assert rows["overall"].ci_low <= 0.5 <= rows["overall"].ci_high
    assert rows["overall"].ci_high < 0.6  # the high tier's check passes


def test_the_split_is_read_only_when_it_is_the_recorded_one(mlflow_client, tmp_path):
    from types import SimpleNamespace

    run = mlflow_client.create_run(mlflow_client.create_experiment("split", artifact_location=str(tmp_path / "a")))
    ids = pd.Series(np.arange(100))
    digest = splits.log_split(mlflow_client, run.info.run_id, "id", ids, ~splits.held_out(ids))
    model = SimpleNamespace(name="m", version="1", run_id=run.info.run_id, tags={splits.SPLIT_TAG: digest})
    split = splits.read_split(mlflow_client, model, "id")
    assert list(split.id) == list(ids) and split.member.sum() == (~splits.held_out(ids)).sum()
    with pytest.raises(DataError, match="does not match the digest recorded"):
        splits.read_split(mlflow_client, SimpleNamespace(**{**vars(model), "tags": {splits.SPLIT_TAG: "0" * 64}}), "id")
    with pytest.raises(DataError, match="records no training split"):
        splits.read_split(mlflow_client, SimpleNamespace(**{**vars(model), "tags": {}}), "id")
