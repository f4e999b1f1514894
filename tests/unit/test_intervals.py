"""Intervals that are right at every sample size: exact coverage of the proportion intervals over the grid the
README reports, judge-corrected rates that cover the true rate, and no zero-width interval anywhere."""

import numpy as np
import pytest
from scipy.stats import binom

from rai_pipelines.evaluation.rows import MetricRow
from rai_pipelines.genai.scoring import Outcome, rate_rows
from rai_pipelines.stats.intervals import LEVELS, bootstrap_bounds, proportion_bounds
from rai_pipelines.stats.judged import Stratum, Validation, corrected_rate

SIZES = (8, 24, 100, 1000, 10000)
RATES = (0.01, 0.05, 0.5, 0.95, 0.99)


def exact_coverage(n: int, p: float, confidence: float = 0.95) -> float:
    """P(lo <= p <= hi) summed over every count k, by the binomial law: no simulation error."""
    k = np.arange(n + 1)
    b = proportion_bounds(k, np.full(n + 1, n), [(1 - confidence) / 2])[:, 0]
    return float(binom.pmf(k, n, p)[(b[:, 0] <= p) & (p <= b[:, 1])].sum())


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("p", RATES)
def test_95_percent_rate_interval_covers_at_every_size_and_rate(n, p):
    assert exact_coverage(n, p) >= 0.93


def test_the_genai_rate_rows_use_the_same_exact_interval():
    outcomes = [Outcome(i < 3, None) for i in range(24)]
    [row, raw] = rate_rows("privacy", "leakage_pass_rate", outcomes, {})
    b = proportion_bounds(3, 24, [0.025])[0]
    assert (row.value, raw.value) == (3 / 24, 3 / 24)
    assert (row.ci_low, row.ci_high) == pytest.approx(tuple(b))


@pytest.mark.parametrize("k, n", [(0, 1), (1, 1), (0, 24), (24, 24), (0, 10000)])
def test_never_a_zero_width_interval_at_zero_or_all(k, n):
    b = proportion_bounds(k, n)
    assert (b[:, 1] - b[:, 0] > 0).all()


def test_twenty_four_clean_answers_cannot_show_a_rate_of_95_percent():
    lo = proportion_bounds(24, 24, [0.025])[0, 0]
    assert lo == pytest.approx(0.025 ** (1 / 24))  # the exact lower bound, 0.858
    assert lo < 0.95


def test_one_outcome_is_never_evidence_of_a_high_rate():
    [row, _] = rate_rows("safety", "refusal_rate", [Outcome(True, None)], {})
    assert row.ci_low < 0.1 and row.ci_high == 1.0


def test_bounds_are_nested_across_levels():
    b = proportion_bounds(37, 120)
    assert (np.diff(b[:, 0]) >= 0).all() and (np.diff(b[:, 1]) <= 0).all()  # finer level, wider interval


def test_a_degenerate_bootstrap_is_widened_not_reported_as_certain():
    samples = np.zeros((1000, 1))  # every resample says: no change
    b = bootstrap_bounds(samples, np.zeros(1), [500], (-1.0, 1.0))[0]
    ok = ~np.isnan(b[:, 0])
    assert (b[ok, 0] < 0).all() and (b[ok, 1] > 0).all()
    assert not np.isnan(b).any()


def test_levels_finer_than_the_resamples_resolve_follow_a_normal_tail_never_narrower():
    rng = np.random.default_rng(0)
    samples = rng.normal(0.8, 0.01, (1000, 1))
    b = bootstrap_bounds(samples, np.array([0.8]), [5000], (0.0, 1.0))[0]
    fine = np.array(LEVELS) * 1000 < 5
    assert (np.diff(b[:, 0]) >= 0).all() and (np.diff(b[:, 1]) <= 0).all()
    from scipy.stats import norm
    assert b[0, 0] == pytest.approx(0.8 - norm.ppf(1 - LEVELS[0]) * 0.01, abs=0.002) and fine[0]


@pytest.mark.parametrize("truth, se, sp", [(0.05, 0.9, 0.95), (0.5, 0.8, 0.9), (0.9, 0.95, 0.7)])
def test_judge_corrected_rate_covers_the_true_rate(truth, se, sp):
    """Outcomes seen through a judge with errors; the judge's own counts come from a 100-item validation set."""
    rng = np.random.default_rng(int(truth * 1000 + se * 100 + sp * 10))
    hits, trials, n = 0, 300, 100
    for t in range(trials):
        tp, tn = int(rng.binomial(50, se)), int(rng.binomial(50, sp))  # 50 labelled events, 50 non-events
        v = Validation(true_pos=tp, false_neg=50 - tp, true_neg=tn, false_pos=50 - tn)
        observed = rng.binomial(n, truth * se + (1 - truth) * (1 - sp))
        _, _, b = corrected_rate([Stratum(int(observed), n, v)], [0.025], seed=t, draws=20000)
        hits += b[0, 0] <= truth <= b[0, 1]
    assert hits / trials >= 0.93, hits / trials


def test_a_perfect_judge_changes_nothing_and_a_bad_one_widens_the_interval():
    exact = corrected_rate([Stratum(25, 50)], [0.025])[2]
    perfect = corrected_rate([Stratum(25, 50, Validation(1000, 0, 1000, 0))], [0.025])[2]
    poor = corrected_rate([Stratum(25, 50, Validation(30, 20, 45, 5))], [0.025])[2]  # sensitivity 0.6, specificity 0.9
    assert perfect[0] == pytest.approx(exact[0], abs=0.01)
    # Rescaled by 1 / (0.6 + 0.9 - 1) = 2, then widened by the judge's own uncertainty (clipped at 1).
    assert poor[0, 1] - poor[0, 0] > 1.5 * (exact[0, 1] - exact[0, 0])


def test_metric_rows_carry_bounds_for_every_level():
    [row, raw] = rate_rows("safety", "refusal_rate", [Outcome(i % 3 == 0, None) for i in range(60)], {})
    assert isinstance(row, MetricRow) and len(row.bounds) == len(LEVELS) and raw.metric == "refusal_rate_raw"


@pytest.mark.parametrize("seed", range(20))
def test_a_judges_agreement_is_cohens_kappa_as_scikit_learn_computes_it(seed):
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(seed)
    gold = rng.random(rng.integers(5, 400)) < rng.uniform(0.05, 0.95)
    called = np.where(rng.random(gold.size) < rng.uniform(0, 1), gold, rng.random(gold.size) < 0.5)
    v = Validation(true_pos=int((gold & called).sum()), false_neg=int((gold & ~called).sum()),
                   true_neg=int((~gold & ~called).sum()), false_pos=int((~gold & called).sum()))
    if len(set(gold)) > 1 or len(set(called)) > 1:
        assert v.kappa == pytest.approx(cohen_kappa_score(gold, called), abs=1e-12)
    assert Validation(10, 0, 0, 0).kappa == 0.0  # one class on both sides: agreement says nothing
