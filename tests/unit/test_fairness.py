"""The fairness engine reports undefined rates as undefined, and its intervals cover the truth, at zero disparity
and small groups included. (Its agreement with fairlearn's MetricFrame on generated data is checked in
tests/integration/test_engine_simulations.py.)"""

import numpy as np
import pytest

from rai_pipelines.errors import DataError
from rai_pipelines.evaluation.fairness import fairness_report as group_metrics


def test_calibration_error_matches_a_direct_computation():
    rng = np.random.default_rng(3)
    score = rng.random(5000)
    y = (rng.random(5000) < score**1.5).astype(int)
    groups = rng.choice(["g", "h"], 5000)
    report = group_metrics(y, (score > 0.5).astype(int), {"G": groups}, score, ["ece"], resamples=0)
    for g in report.partitions[0].groups:
        mask = groups == g.slice.split("=")[1]
        bins = np.minimum((score[mask] * 10).astype(int), 9)
        expected = sum(abs(y[mask][bins == b].sum() - score[mask][bins == b].sum()) for b in range(10)) / mask.sum()
        assert g.metrics["ece"].value == pytest.approx(expected, abs=1e-12)


def test_bootstrap_intervals_are_reproducible_with_a_seed_and_change_without_exact_ones_do_not_depend_on_it():
    rng = np.random.default_rng(0)
    y, p, s = rng.integers(0, 2, 500), rng.integers(0, 2, 500), rng.random(500)
    groups = {"G": rng.choice(["a", "b"], 500)}
    a, b, c = (group_metrics(y, p, groups, s, seed=seed).to_json()["partitions"]["G"] for seed in (7, 7, 8))
    assert a == b
    assert a["groups"]["G=a"]["auc"] != c["groups"]["G=a"]["auc"]
    assert a["groups"]["G=a"]["tpr"] == c["groups"]["G=a"]["tpr"]  # Clopper-Pearson: no resampling


def _population(rng, n, sex_rates):
    """Rows whose labels and predictions come from known rates per group."""
    sex = rng.choice(["F", "M"], n)
    y = (rng.random(n) < 0.5).astype(int)
    tpr = np.where(sex == "F", sex_rates["F"], sex_rates["M"])
    pred = np.where(y == 1, rng.random(n) < tpr, rng.random(n) < 0.2).astype(int)
    return y, pred, sex


def test_95_percent_intervals_cover_the_true_value_about_95_percent_of_the_time():
    rng = np.random.default_rng(2026)
    rates = {"F": 0.7, "M": 0.8}
    truth = {("tpr", "SEX=F"): 0.7, ("tpr", "SEX=M"): 0.8, ("selection_rate", "SEX=F"): 0.5 * 0.7 + 0.5 * 0.2,
             ("fpr", "SEX=M"): 0.2}
    trials = 400
    hits = {k: 0 for k in truth}
    diff_hits = 0
    for _ in range(trials):
        y, pred, sex = _population(rng, 2000, rates)
        report = group_metrics(y, pred, {"SEX": sex}, metrics=["tpr", "fpr", "selection_rate"],
                               resamples=1000, seed=int(rng.integers(1 << 31)))
        groups = {g.slice: g for g in report.partitions[0].groups}
        for (m, s), value in truth.items():
            e = groups[s].metrics[m]
            hits[(m, s)] += e.ci_low <= value <= e.ci_high
        d = report.partitions[0].disparities["tpr"]["difference"]
        diff_hits += d.ci_low <= 0.1 <= d.ci_high
    # Exact intervals are conservative by construction: at least nominal, not absurdly wide.
    for key, h in hits.items():
        assert 0.93 <= h / trials <= 0.995, (key, h / trials)
    assert 0.93 <= diff_hits / trials <= 0.995, diff_hits / trials


def test_undefined_rate_has_undefined_interval():
    y = np.array([0] * 50 + [1] * 50 + [0] * 100)
    p = np.array([1, 0] * 100)
    groups = {"G": np.array(["x"] * 100 + ["y"] * 100)}  # y has no positives
    report = group_metrics(y, p, groups, metrics=["tpr", "fpr"])
    g = {x.slice: x for x in report.partitions[0].groups}
    assert np.isnan(g["G=y"].metrics["tpr"].value)
    assert np.isnan(g["G=y"].metrics["tpr"].ci_low) and np.isnan(g["G=y"].metrics["tpr"].ci_high)
    assert report.to_json()["partitions"]["G"]["groups"]["G=y"]["tpr"] == {"value": None, "ci_low": None, "ci_high": None}
    assert not np.isnan(g["G=y"].metrics["fpr"].value)


def test_reference_group_comparisons():
    groups = {"SEX": np.array(["Male"] * 100 + ["Female"] * 100)}
    p = np.r_[np.ones(60), np.zeros(40), np.ones(30), np.zeros(70)].astype(int)
    report = group_metrics(np.zeros(200, dtype=int), p, groups, metrics=["selection_rate"], reference_groups={"SEX": "Male"})
    vs = report.partitions[0].vs_reference["SEX=Female"]["selection_rate"]
    assert vs["difference"].value == pytest.approx(-0.3)
    assert vs["ratio"].value == pytest.approx(0.5)
    assert vs["difference"].ci_low < -0.3 < vs["difference"].ci_high


@pytest.mark.parametrize(
    "y, p, message",
    [
        ([0, 1, 2], [0, 1, 1], "label must be binary 0/1, found value 2"),
        ([0, 1, np.nan], [0, 1, 1], "label has 1 missing values"),
        ([0, 1, 1], [0.0, np.nan, 1.0], "prediction has 1 missing values"),
        (["no", "yes", "no"], [0, 1, 1], "label must be binary 0/1, got dtype"),
        ([0, 1], [0, 1, 1], "prediction has 3 rows, label has 2"),
    ],
)
def test_bad_labels_and_predictions_are_one_line(y, p, message):
    with pytest.raises(DataError) as err:
        group_metrics(np.array(y), np.array(p), {"G": np.array(["a"] * len(y))})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_sensitive_value_is_an_error_not_a_group():
    with pytest.raises(DataError, match="sensitive column 'G' has 1 missing values"):
        group_metrics(np.array([0, 1]), np.array([0, 1]), {"G": np.array(["a", None], dtype=object)})


def test_a_group_with_one_positive_makes_the_disparity_interval_honestly_wide():
    # Group b's TPR rests on a single positive: 0/1 could be any rate. The interval must say so, not
    # report a tight spread over group a alone.
    y = np.r_[np.ones(500), np.zeros(500), [1], np.zeros(60)].astype(int)
    p = np.r_[np.ones(400), np.zeros(100), np.zeros(500), [0], np.zeros(60)].astype(int)
    groups = {"G": np.array(["a"] * 1000 + ["b"] * 61)}
    d = group_metrics(y, p, groups, metrics=["tpr"]).partitions[0].disparities["tpr"]["difference"]
    assert d.value == pytest.approx(0.8)
    assert d.ci_low <= 0.8 <= d.ci_high and d.ci_high - d.ci_low > 0.5


def test_equal_rates_give_a_zero_disparity_inside_its_own_interval():
    # Two groups with the same selection rate: max - min is 0, and its interval must contain 0 (a percentile
    # bootstrap of max - min reported [0.0025, ...], excluding its own estimate).
    groups = {"SEX": np.array(["F"] * 1000 + ["M"] * 1000)}
    p = np.r_[np.ones(300), np.zeros(700), np.ones(300), np.zeros(700)].astype(int)
    d = group_metrics(np.zeros(2000, dtype=int), p, groups, metrics=["selection_rate"]).partitions[0].disparities
    diff, ratio = d["selection_rate"]["difference"], d["selection_rate"]["ratio"]
    assert diff.value == 0 and diff.ci_low == 0 <= diff.value <= diff.ci_high and diff.ci_high > 0
    assert ratio.value == 1 and ratio.ci_low < 1 <= ratio.ci_high


@pytest.mark.parametrize("rates", [(0.3, 0.3), (0.3, 0.33), (0.3, 0.3, 0.3, 0.3), (0.3, 0.32, 0.3, 0.35)])
def test_max_min_difference_covers_zero_and_small_disparities(rates):
    rng = np.random.default_rng(len(rates) * 100 + int(1000 * sum(rates)))
    truth = max(rates) - min(rates)
    hits, trials = 0, 300
    for _ in range(trials):
        sizes = rng.integers(80, 400, len(rates))
        g = np.repeat([f"g{i}" for i in range(len(rates))], sizes)
        p = (rng.random(len(g)) < np.repeat(rates, sizes)).astype(int)
        d = group_metrics(np.zeros(len(g), dtype=int), p, {"G": g}, metrics=["selection_rate"],
                          resamples=0).partitions[0].disparities["selection_rate"]["difference"]
        hits += d.ci_low <= truth <= d.ci_high
    assert hits / trials >= 0.93, hits / trials


def test_a_group_without_positives_leaves_the_tpr_gap_without_an_interval():
    # Group c's TPR is undefined: it could hold the largest gap, so the spread over a and b cannot pass a check.
    y = np.r_[np.ones(100), np.zeros(100), np.ones(100), np.zeros(100), np.zeros(200)].astype(int)
    p = np.r_[np.ones(80), np.zeros(120), np.ones(80), np.zeros(120), np.zeros(200)].astype(int)
    groups = {"G": np.repeat(["a", "b", "c"], 200)}
    d = group_metrics(y, p, groups, metrics=["tpr"]).partitions[0].disparities["tpr"]["difference"]
    assert d.value == 0 and np.isnan(d.ci_low) and np.isnan(d.ci_high)
