"""The paired change of an assistant's rate against the champion's, on the same prompts."""

import numpy as np
import pytest
from scipy.stats import binomtest

from rai_pipelines.genai.comparison import paired_change
from rai_pipelines.genai.suites.base import Outcome
from rai_pipelines.stats.judged import Validation


def _exact(events):
    return [Outcome(bool(e), None) for e in events]


def test_identical_answers_give_no_change_with_an_interval_that_is_not_a_point():
    events = [1, 0, 0, 1, 0] * 10
    change = paired_change(_exact(events), _exact(events), {})
    assert change.value == 0 and change.discordant == (0, 0) and change.mcnemar_p == 1.0
    # 50 agreeing prompts cannot exclude a discordance of a few percent: the interval is widened, never [0, 0].
    assert change.ci_low < 0 < change.ci_high and change.ci_high - change.ci_low > 0.05


def test_exact_outcomes_change_by_the_discordant_share_and_mcnemar_matches_scipy():
    champion = [0] * 60
    candidate = [1] * 9 + [0] * 51  # nine prompts worse, none better
    change = paired_change(_exact(candidate), _exact(champion), {})
    assert change.value == pytest.approx(9 / 60)
    assert change.discordant == (9, 0)
    assert change.mcnemar_p == pytest.approx(binomtest(9, 9, 0.5).pvalue)
    assert 0 < change.ci_low < 9 / 60 < change.ci_high


def test_a_judged_change_is_the_observed_change_over_youdens_j():
    judge = Validation(true_pos=80, false_neg=20, true_neg=90, false_pos=10)  # se 0.8, sp 0.9: J = 0.7
    champion = [Outcome(False, "refusal")] * 100
    candidate = [Outcome(True, "refusal")] * 14 + [Outcome(False, "refusal")] * 86
    change = paired_change(candidate, champion, {"refusal": judge})
    # Rogan-Gladen is linear: 14 more flags in 100 are 0.14 / J more events, even though the champion's 0 flags are
    # below the judge's false-alarm rate (a rate clipped at 0 first would hide part of the change).
    assert change.value == pytest.approx(0.14 / 0.7)
    assert change.ci_low < change.value < change.ci_high


def test_a_judged_paired_interval_covers_the_true_change():
    """Coverage of the 95% interval when a judge with a false-alarm rate decides (the shipped refusal judge's
    counts), with true rates below that rate, where clipping each version would hide the change."""
    judge = Validation(true_pos=151, false_neg=160, true_neg=136, false_pos=25)  # se 0.486, sp 0.845
    rng = np.random.default_rng(11)
    covered, runs, n = 0, 300, 200
    for i in range(runs):
        champion_truth = np.zeros(n, bool)  # a clean champion: every flag it gets is a false alarm
        candidate_truth = rng.random(n) < 0.15
        truth = candidate_truth.mean() - champion_truth.mean()

        def judged(events):  # the judge's calls, at its measured error rates
            calls = np.where(events, rng.random(n) < judge.sensitivity, rng.random(n) > judge.specificity)
            return [Outcome(bool(c), "refusal") for c in calls]

        change = paired_change(judged(candidate_truth), judged(champion_truth), {"refusal": judge}, resamples=1000, seed=i)
        covered += change.ci_low <= truth <= change.ci_high
    assert covered / runs >= 0.90, covered


def test_the_paired_interval_covers_the_true_change():
    """Coverage of the 95% interval on exact outcomes, 150 simulated pairs of versions (true change +0.10)."""
    rng = np.random.default_rng(3)
    covered = 0
    for i in range(150):
        champion = rng.random(80) < 0.3
        flip = rng.random(80)
        candidate = np.where(flip < 0.15, True, np.where(flip < 0.20, False, champion))  # P(cand) = 0.15 + 0.8*0.3 = 0.39
        truth = 0.15 + 0.8 * 0.3 - 0.3
        change = paired_change(_exact(candidate), _exact(champion), {}, resamples=1000, seed=i)
        covered += change.ci_low <= truth <= change.ci_high
    assert covered / 150 >= 0.90, covered


def test_outcomes_of_different_prompts_are_refused():
    with pytest.raises(ValueError, match="same prompts"):
        paired_change(_exact([1, 0]), _exact([1]), {})
