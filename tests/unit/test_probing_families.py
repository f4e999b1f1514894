"""The families that question the model: perturbations, robustness, counterfactual fairness and proxy detection.

Oracles: scikit-learn's accuracy_score and mutual_info_score, scipy's exact binomial interval, and rules whose
answer is known by construction (a model that reads only one column, a feature that is the group itself)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, mutual_info_score, roc_auc_score

from rai_pipelines.errors import DataError
from rai_pipelines.evaluation import perturbations
from rai_pipelines.evaluation.counterfactual import counterfactual_rows
from rai_pipelines.evaluation.probes import Probe, excess_rows, rate_rows, stream
from rai_pipelines.evaluation.proxies import SMOOTHING, binned, proxy_rows
from rai_pipelines.evaluation.robustness import robustness_rows

KINDS = {"age": "numeric", "income": "numeric", "school": "categorical", "city": "categorical", "sex": "categorical"}
CODES = {"sex": {"Male": ["1"], "Female": ["2"]}}


def spec(name="p", kind="noise", scale=0.1, share=0.1, to="frequent", features=()):
    return SimpleNamespace(name=name, kind=kind, scale=scale, share=share, to=to, features=list(features))


@pytest.fixture(scope="module")
def people():
    rng = np.random.default_rng(7)
    n = 6000
    sex = rng.choice(["1", "2"], n)
    frame = pd.DataFrame({
        "age": rng.integers(18, 90, n),
        "income": rng.lognormal(10, 1, n),
        "school": rng.choice([str(c) for c in range(1, 12)], n),
        "city": np.where(rng.random(n) < 0.8, np.where(sex == "2", "north", "south"), rng.choice(["north", "south", "east"], n)),
        "sex": sex,
    })
    return frame, {"sex": np.where(sex == "2", "Female", "Male")}


def rule(reads: str, threshold: float):
    """A model that reads one column only: high score when it is above a threshold."""
    def score(frame):
        x = pd.to_numeric(frame[reads], errors="raise").to_numpy(dtype=float)
        if np.isnan(x).any():
            raise ValueError("Input X contains NaN")  # as scikit-learn's linear models say
        return np.where(x > threshold, 0.9, 0.1)
    return score


# --- perturbations -----------------------------------------------------------------------------------------------

def test_noise_stays_in_range_keeps_integers_and_scales_with_the_spread(people):
    frame, sensitive = people
    out, changes = perturbations.apply(frame, spec(scale=0.2), KINDS, list(sensitive), np.random.default_rng(0))
    assert set(changes) == {"age", "income"}  # numeric features only, the sensitive one never
    assert out.age.between(frame.age.min(), frame.age.max()).all() and (out.age == out.age.round()).all()
    assert out.income.between(frame.income.min(), frame.income.max()).all()
    spread = perturbations.spread(frame.income)
    q1, q3 = np.percentile(frame.income, [25, 75])
    assert spread == pytest.approx((q3 - q1) / 1.349)
    moved = (out.income - frame.income)[~np.isclose(out.income, frame.income.min()) & ~np.isclose(out.income, frame.income.max())]
    assert moved.std() == pytest.approx(0.2 * spread, rel=0.1)
    assert (out.school == frame.school).all() and (out.sex == frame.sex).all()


def test_swaps_change_the_value_to_a_neighbour_or_a_frequent_one(people):
    frame, sensitive = people
    out, changes = perturbations.apply(frame, spec(kind="swap", share=0.3, to="neighbour", features=["school"]), KINDS,
                                       list(sensitive), np.random.default_rng(0))
    changed = changes["school"]
    assert changed.mean() == pytest.approx(0.3, abs=0.03)
    steps = out.school[changed].astype(int) - frame.school[changed].astype(int)  # '10' follows '9', not '1'
    assert set(steps) == {-1, 1}
    out, changes = perturbations.apply(frame, spec(kind="swap", share=0.3, features=["city"]), KINDS, list(sensitive),
                                       np.random.default_rng(0))
    assert (out.city[changes["city"]] != frame.city[changes["city"]]).all()
    assert changes["city"].mean() == pytest.approx(0.3, abs=0.03)  # a swap never draws the value itself


def test_missing_values_and_a_perturbation_of_the_wrong_kind(people):
    frame, sensitive = people
    out, changes = perturbations.apply(frame, spec(kind="missing", share=0.2), KINDS, list(sensitive), np.random.default_rng(0))
    assert set(changes) == {"age", "income", "school", "city"}
    for feature, rows in changes.items():
        assert out[feature][rows].isna().all() and rows.mean() == pytest.approx(0.2, abs=0.03)
    with pytest.raises(DataError, match="applies to numeric features; 'school' is categorical"):
        perturbations.apply(frame, spec(features=["school"]), KINDS, list(sensitive), np.random.default_rng(0))
    with pytest.raises(DataError, match="finds no numeric feature to change"):  # it would read as perfect robustness
        perturbations.apply(frame[["school", "sex"]], spec(), KINDS, list(sensitive), np.random.default_rng(0))


# --- rates and paired differences ------------------------------------------------------------------------------------

def test_rate_rows_are_exact_clopper_pearson_per_group():
    rng = np.random.default_rng(1)
    hits = rng.random(700) < 0.03
    group = rng.choice(["a", "b"], 700)
    rows = {r.slice: r for r in rate_rows("f", "m", hits, {"g": group}, 0.95)}
    for slice_, mask in [("overall", np.ones(700, bool)), ("g=a", group == "a"), ("g=b", group == "b")]:
        k, n = int(hits[mask].sum()), int(mask.sum())
        ci = binomtest(k, n).proportion_ci(0.95, method="exact")
        assert (rows[slice_].value, rows[slice_].n) == (k / n, n)
        assert (rows[slice_].ci_low, rows[slice_].ci_high) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_excess_is_the_paired_difference_and_its_interval_covers():
    rng = np.random.default_rng(2)
    group = rng.choice(["a", "b"], 4000)
    covered = 0
    for seed in range(40):  # both events at the same rate: the excess is 0, and the 95% interval should cover it
        r = np.random.default_rng(seed)
        hits, placebo = r.random(4000) < 0.2, r.random(4000) < 0.2
        row = next(x for x in excess_rows("f", "m", hits, placebo, {"g": group}, resamples=400, confidence=0.95, seed=seed)
                   if x.slice == "overall")
        assert row.value == pytest.approx(hits.mean() - placebo.mean())
        covered += row.ci_low <= 0 <= row.ci_high
    assert covered >= 35


# --- robustness ----------------------------------------------------------------------------------------------------

def test_robustness_matches_a_direct_recount(people):
    frame, sensitive = people
    probe = Probe(rule("age", 50), 0.5, KINDS)
    y = (frame.age.to_numpy() > 45).astype(int)
    prediction = probe.decide(frame)
    specs = [spec("noise", scale=0.3), spec("swaps", kind="swap", share=0.5), spec("gaps", kind="missing", share=0.1)]
    rows = {(r.metric, r.slice): r for r in robustness_rows(probe, frame, y, prediction, sensitive, specs, resamples=200)}
    # Replaying the same seeded draws gives the perturbed frames the engine saw.
    noisy, _ = perturbations.apply(frame, specs[0], KINDS, list(sensitive), stream(0, "noise"))
    flipped = probe.decide(noisy) != prediction
    assert rows[("noise_flip_rate", "overall")].value == pytest.approx(flipped.mean()) and flipped.mean() > 0.01
    female = sensitive["sex"] == "Female"
    assert rows[("noise_flip_rate", "sex=Female")].value == pytest.approx(flipped[female].mean())
    change = accuracy_score(y, probe.decide(noisy)) - accuracy_score(y, prediction)
    assert rows[("noise_accuracy_change", "overall")].value == pytest.approx(change)
    assert rows[("swaps_flip_rate", "overall")].value == 0  # the model never reads a category
    assert rows[("swaps_flip_rate", "overall")].ci_high < 0.001
    # The model refuses a missing age, and only those rows: they are unscorable, count as flipped, and are never
    # correct.
    gapped, gaps = perturbations.apply(frame, specs[2], KINDS, list(sensitive), stream(0, "gaps"))
    assert rows[("gaps_unscorable_rate", "overall")].value == pytest.approx(gaps["age"].mean())
    assert rows[("gaps_flip_rate", "overall")].value == pytest.approx(gaps["age"].mean())
    correct_after = np.where(gaps["age"], False, prediction == y)
    assert rows[("gaps_accuracy_change", "overall")].value == pytest.approx(correct_after.mean() - (prediction == y).mean())


def test_robustness_without_labels_reports_flips_only(people):
    frame, sensitive = people
    probe = Probe(rule("age", 50), 0.5, KINDS)
    y = np.full(len(frame), np.nan)
    rows = robustness_rows(probe, frame, y, probe.decide(frame), sensitive, [spec("noise")], resamples=50)
    assert {r.metric for r in rows} == {"noise_flip_rate", "noise_unscorable_rate"}


# --- counterfactual ------------------------------------------------------------------------------------------------

def test_a_model_reading_the_group_flips_and_a_blind_one_does_not(people):
    frame, sensitive = people
    reads_sex = Probe(lambda f: np.where(f.sex.to_numpy() == "2", 0.2, 0.8), 0.5, KINDS)
    rows = {(r.metric, r.slice): r for r in counterfactual_rows(reads_sex, frame, reads_sex.decide(frame), sensitive, CODES,
                                                                 resamples=200)}
    assert rows[("flip_rate", "sex")].value == 1.0 and rows[("flip_rate", "sex=Female")].n == int((frame.sex == "2").sum())
    blind = Probe(rule("age", 50), 0.5, KINDS)
    rows = {(r.metric, r.slice): r for r in counterfactual_rows(blind, frame, blind.decide(frame), sensitive, CODES,
                                                                 resamples=200)}
    assert rows[("flip_rate", "sex")].value == 0 and rows[("flip_rate", "sex")].ci_high < 0.001
    # Age says nothing of sex: moving it to the other group's rows moves decisions no more than the placebo does.
    assert rows[("proxy_flip_rate", "sex")].value > 0.2
    assert rows[("proxy_flip_excess", "sex")].ci_low <= 0 <= rows[("proxy_flip_excess", "sex")].ci_high


def test_a_model_reading_a_proxy_shows_an_excess(people):
    frame, sensitive = people
    by_city = Probe(lambda f: np.where(f.city.to_numpy() == "north", 0.2, 0.8), 0.5, KINDS)
    rows = {(r.metric, r.slice): r for r in counterfactual_rows(by_city, frame, by_city.decide(frame), sensitive, CODES,
                                                                 proxy_count=1, resamples=200)}
    assert rows[("flip_rate", "sex")].value == 0  # it never reads sex
    assert rows[("proxy_flip_excess", "sex")].ci_low > 0.3  # but city is 80% sex


# --- proxies -------------------------------------------------------------------------------------------------------

def test_mutual_information_is_scikit_learns(people):
    frame, sensitive = people
    rows = {(r.metric, r.slice): r for r in proxy_rows(frame, KINDS, sensitive, ["age", "city", "school"], resamples=200)}
    for feature in ("age", "city", "school"):
        expected = mutual_info_score(binned(frame[feature], KINDS[feature], 10), sensitive["sex"])
        assert rows[("mutual_information", f"{feature}|sex")].value == pytest.approx(expected)


def test_proxy_auc_is_the_cross_fitted_auc_and_finds_the_proxy(people):
    frame, sensitive = people
    rows = proxy_rows(frame, KINDS, sensitive, ["age", "city"], resamples=300, seed=3)
    auc = {r.slice: r for r in rows if r.metric == "proxy_auc"}
    # Recomputed by hand: the same halves, each half scored by the other's smoothed share of the first group.
    half = np.random.default_rng(3).integers(0, 2, len(frame))
    is_female = sensitive["sex"] == "Female"
    score = np.empty(len(frame))
    for h in (0, 1):
        fit = pd.DataFrame({"v": frame.city[half != h], "g": is_female[half != h]})
        prior = fit.g.mean()
        shares = (fit.groupby("v").g.sum() + SMOOTHING * prior) / (fit.groupby("v").g.count() + SMOOTHING)
        score[half == h] = frame.city[half == h].map(shares).fillna(prior)
    assert auc["city|sex"].value == pytest.approx(roc_auc_score(is_female, score))
    assert auc["city|sex"].ci_low > 0.8
    assert auc["age|sex"].ci_low <= 0.5 <= auc["age|sex"].ci_high  # age is independent of sex here
    assert [r.slice for r in rows if r.metric == "proxy_auc" and r.ci_low > 0.7] == ["city|sex"]  # what the card lists
