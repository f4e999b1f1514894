"""The attributions family against its peers: scikit-learn's permutation_importance, and shap's model-agnostic
explainer for the exact path (a linear model's log-odds are additive, so both must agree)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from rai_pipelines.evaluation.attributions import attribution_rows, permutation_contributions, shap_values
from rai_pipelines.evaluation.probes import Probe, Window

KINDS = {"age": "numeric", "hours": "numeric", "school": "categorical", "noise": "categorical"}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 4000
    frame = pd.DataFrame({"age": rng.integers(18, 80, n), "hours": rng.normal(40, 10, n),
                          "school": rng.choice(list("abcde"), n), "noise": rng.choice(list("xyz"), n)})
    logit = 0.08 * (frame.age - 45) + 0.05 * (frame.hours - 40) + frame.school.map(dict(a=-1, b=-0.5, c=0, d=0.5, e=1.5))
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    group = np.where(rng.random(n) < 0.5, "F", "M")
    return frame, y.to_numpy() if hasattr(y, "to_numpy") else y, {"sex": group}


def pipeline(estimator, frame, y):
    encode = ColumnTransformer([("numeric", StandardScaler(), ["age", "hours"]),
                                ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["school", "noise"])])
    return Pipeline([("encode", encode), ("classify", estimator)]).fit(frame, y)


def probe_of(model, estimator=True) -> Probe:
    return Probe(lambda f: model.predict_proba(f[list(KINDS)])[:, 1], 0.5, KINDS, model if estimator else None)


def test_permutation_importance_agrees_with_scikit_learn(data):
    frame, y, sensitive = data
    model = pipeline(HistGradientBoostingClassifier(random_state=0), frame, y)
    ours = permutation_contributions(probe_of(model), Window(frame, y, sensitive), list(KINDS), 10,
                                     np.random.default_rng(0)).mean(axis=0)
    peer = permutation_importance(model, frame, y, scoring="accuracy", n_repeats=10, random_state=0)
    # Different shuffles: each side's mean over 10 is within a few of its own standard errors of the other's.
    assert np.abs(ours - peer.importances_mean).max() < 4 * peer.importances_std.max() / np.sqrt(10) + 0.005
    assert np.argsort(-ours)[:3].tolist() == np.argsort(-peer.importances_mean)[:3].tolist()
    assert np.argmin(ours) == np.argmin(peer.importances_mean) == list(KINDS).index("noise")


def test_the_exact_path_matches_shaps_model_agnostic_explainer(data):
    frame, y, _ = data
    model = pipeline(LogisticRegression(max_iter=1000), frame, y)
    rows, background = frame.iloc[:60], frame.iloc[1000:1100]
    exact = shap_values(probe_of(model), rows, list(KINDS), background, seed=0)
    agnostic = shap_values(probe_of(model, estimator=False), rows, list(KINDS), background, seed=0)
    np.testing.assert_allclose(exact, agnostic, atol=1e-6)
    # And they explain the log-odds: the attributions add up to each row's log-odds less the background's mean.
    p = model.predict_proba(rows)[:, 1]
    q = model.predict_proba(background)[:, 1]
    np.testing.assert_allclose(exact.sum(axis=1), np.log(p / (1 - p)) - np.log(q / (1 - q)).mean(), atol=1e-6)


def test_attribution_rows_per_group_and_their_drifts(data):
    frame, y, sensitive = data
    model = pipeline(LogisticRegression(max_iter=1000), frame, y)
    window = Window(frame.iloc[:2000], y[:2000], {"sex": sensitive["sex"][:2000]})
    reference = Window(frame.iloc[2000:], y[2000:], {"sex": sensitive["sex"][2000:]})
    rows = attribution_rows(probe_of(model), window, reference=reference, champion=probe_of(model), resamples=300,
                            importance_rows=2000, explained_rows=300)
    got = {(r.metric, r.slice): r for r in rows}
    assert {("permutation_importance", "age|sex=F"), ("shap_importance", "school|sex=M"), ("shap_share", "age")} <= set(got)
    shares = [got[("shap_share", f)].value for f in KINDS if ("shap_share", f) in got]
    assert sum(shares) == pytest.approx(1.0)
    assert got[("shap_share", "age")].value > got[("shap_share", "noise")].value if ("shap_share", "noise") in got else True
    for f in KINDS:  # the champion is the same model: no change, and an interval around none
        if ("shap_share_change_vs_champion", f) in got:
            change = got[("shap_share_change_vs_champion", f)]
            assert change.value == pytest.approx(0, abs=1e-12) and change.ci_low <= 0 <= change.ci_high
    # The same population in both windows: the reference change's interval covers 0 for the main features.
    for f in ("age", "hours", "school"):
        change = got[("shap_share_change_vs_reference", f)]
        assert change.ci_low <= 0 <= change.ci_high, (f, change)


def test_a_model_that_moved_shows_in_the_change_against_the_champion(data):
    frame, y, sensitive = data
    by_age = pipeline(LogisticRegression(max_iter=1000), frame[["age", "hours", "school", "noise"]], y)
    school_only = frame.assign(age=45, hours=40.0)  # trained where age and hours carry nothing
    by_school = pipeline(LogisticRegression(max_iter=1000), school_only, y)
    window = Window(frame.iloc[:1500], y[:1500], {"sex": sensitive["sex"][:1500]})
    rows = attribution_rows(probe_of(by_age), window, champion=probe_of(by_school), resamples=300, explained_rows=300)
    change = {r.slice: r for r in rows if r.metric == "shap_share_change_vs_champion"}
    assert change["age"].ci_low > 0.2 and change["school"].ci_high < -0.2
