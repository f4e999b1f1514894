"""The gate engine: verdicts from evaluations, failing closed, with the policy's error control recorded."""

import json
import math
from datetime import UTC, datetime

import pandas as pd
import pytest

from rai_pipelines.catalog import Check, Policy, RegressionCheck, ReleaseRule, Tier
from rai_pipelines.gate import decide, p_values
from rai_pipelines.stats.intervals import LEVELS, proportion_bounds, to_json

T0 = datetime(2026, 11, 27, tzinfo=UTC)
ONE_NIGHT = ReleaseRule(consecutive_passes=1, horizon_nights=1)  # each check passes at alpha itself

POLICY = Policy(
    name="p",
    description="test",
    tiers={
        "high": Tier(
            required_suites=["performance", "fairness"],
            min_group_size=100,
            drift="ignore",
            release=ONE_NIGHT,
            checks=[
                Check(name="auc_floor", family="performance", metric="auc", op=">=", threshold=0.8),
                Check(name="eo_sex", family="fairness", metric="tpr", disparity="difference", slice="SEX", op="<=", threshold=0.1),
            ],
        )
    },
)
COLUMNS = ["run_id", "family", "metric", "slice", "value", "n", "ci_low", "ci_high", "bounds"]


def _grid(lo, hi, width_per_level=0.0):
    """A bounds grid whose 95% interval is [lo, hi], wider by `width_per_level` at each finer level."""
    i95 = LEVELS.index(0.025)
    return to_json(tuple((lo - width_per_level * (i95 - i), hi + width_per_level * (i95 - i)) for i in range(len(LEVELS))))


def _row(run, family, metric, slice_, value, n, ci=(math.nan, math.nan)):
    bounds = None if math.isnan(ci[0]) else _grid(*ci)
    return (run, family, metric, slice_, value, n, *ci, bounds)


def _runs(*suites, status="ok"):
    return pd.DataFrame(
        [(f"r-{s}", s, status, "boom" if status != "ok" else None, T0) for s in suites],
        columns=["run_id", "suite", "status", "error", "finished_at"],
    )


def _metrics(auc=0.9, tpr_gap=0.05, female_n=500, gap_ci=None, auc_ci=None):
    rows = [
        _row("r-performance", "performance", "auc", "overall", auc, 1000, auc_ci or (auc - 0.02, auc + 0.02)),
        _row("r-fairness", "fairness", "tpr", "SEX=Male", 0.8, 500),
        _row("r-fairness", "fairness", "tpr", "SEX=Female", 0.8 - tpr_gap, female_n),
        _row("r-fairness", "fairness", "tpr_difference", "SEX", tpr_gap, 1000, gap_ci or (tpr_gap - 0.02, tpr_gap + 0.02)),
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def _decide(system, runs, metrics, policy=POLICY, **kw):
    return decide(system, policy, "7", "2016-01.abcdefabcdef", runs, metrics, **kw)


@pytest.fixture
def system(acs):
    return acs.model_copy(update={"risk_tier": "high"})


def test_pass_when_every_check_holds_and_the_decision_records_its_error_control(system):
    d = _decide(system, _runs("performance", "fairness"), _metrics())
    assert d.verdict == "pass"
    assert {r.check: r.status for r in d.reasons if r.kind == "threshold"} == {"auc_floor": "pass", "eo_sex": "pass"}
    assert d.policy_version == POLICY.version
    assert d.error_control["alpha"] == 0.05 and d.error_control["multiplicity"] == "holm"
    judged = [r for r in d.reasons if r.kind == "threshold"]
    assert all(r.level_pass == 0.05 for r in judged)
    assert sorted(r.level_fail for r in judged) == [0.025, 0.05]  # Holm: alpha / 2, then alpha


def test_fail_names_check_value_and_threshold(system):
    d = _decide(system, _runs("performance", "fairness"), _metrics(tpr_gap=0.2))
    assert d.verdict == "fail"
    reason = next(r for r in d.reasons if r.check == "eo_sex")
    assert (reason.status, reason.observed, reason.op, reason.threshold) == ("fail", pytest.approx(0.2), "<=", 0.1)
    assert "whole interval beyond it at level" in reason.detail


def test_small_group_is_insufficient_evidence_not_pass(system):
    d = _decide(system, _runs("performance", "fairness"), _metrics(female_n=40))
    assert d.verdict == "insufficient_evidence"
    assert "SEX=Female has n=40 < min_group_size=100" in next(r.detail for r in d.reasons if r.check == "eo_sex")


def test_every_check_has_a_minimum_sample(system):
    tier = POLICY.tiers["high"].model_copy(update={"min_n": 5000})
    d = _decide(system, _runs("performance", "fairness"), _metrics(), POLICY.model_copy(update={"tiers": {"high": tier}}))
    assert d.verdict == "insufficient_evidence"
    assert "n=1000 < min_n=5000" in next(r.detail for r in d.reasons if r.check == "auc_floor")


def test_undefined_value_is_insufficient_evidence(system):
    d = _decide(system, _runs("performance", "fairness"), _metrics(tpr_gap=math.nan, gap_ci=(math.nan, math.nan)))
    assert d.verdict == "insufficient_evidence"


@pytest.mark.parametrize("runs", [_runs("performance"), _runs("performance", "fairness", status="error"), _runs()])
def test_missing_or_errored_evaluation_is_unassessed(system, runs):
    d = _decide(system, runs, _metrics())
    assert d.verdict == "unassessed"


def test_fail_outranks_unassessed(system):
    d = _decide(system, _runs("performance"), _metrics(auc=0.5))
    assert d.verdict == "fail"


def test_decision_identity_is_stable_and_digest_covers_the_outcome(system):
    a = _decide(system, _runs("performance", "fairness"), _metrics())
    b = _decide(system, _runs("performance", "fairness"), _metrics())
    c = _decide(system, _runs("performance", "fairness"), _metrics(tpr_gap=0.2))
    assert a.decision_id == b.decision_id
    assert a.evidence_digest == b.evidence_digest != c.evidence_digest


@pytest.mark.parametrize(
    "gap, ci, verdict",
    [
        (0.05, (0.02, 0.08), "pass"),  # whole interval under the threshold
        (0.15, (0.12, 0.18), "fail"),  # whole interval over it
        (0.05, (0.01, 0.14), "insufficient_evidence"),  # point passes, interval too wide to decide
        (0.12, (0.06, 0.17), "insufficient_evidence"),  # point fails, interval too wide to decide
        (0.05, (math.nan, math.nan), "insufficient_evidence"),  # no interval to judge
    ],
)
def test_interval_bounds(system, gap, ci, verdict):
    d = _decide(system, _runs("performance", "fairness"), _metrics(tpr_gap=gap, gap_ci=ci))
    assert d.verdict == verdict
    reason = next(r for r in d.reasons if r.check == "eo_sex")
    if not math.isnan(ci[0]):
        assert (reason.ci_low, reason.ci_high) == ci


def test_p_values_read_the_finest_level_at_which_the_interval_decides():
    grid = {lvl: (0.5 - lvl, 0.6 + lvl) for lvl in LEVELS}  # wider at finer levels
    p_pass, p_fail = p_values(grid, ">=", 0.45)  # passes once lo = 0.5 - lvl >= 0.45, i.e. lvl <= 0.05
    assert p_pass == min(lvl for lvl in LEVELS if 0.5 - lvl >= 0.45) and p_fail == 1.0


def test_holm_keeps_a_model_at_every_threshold_from_failing_on_one_unlucky_check(system):
    # Ten checks, each interval lying just beyond its threshold at the 95% level only: without control
    # each would fail; Holm asks the first for p <= alpha / 10, which a p of 0.025 is not.
    checks = [Check(name=f"c{i}", family="performance", metric=f"m{i}", op=">=", threshold=0.8) for i in range(10)]
    tier = POLICY.tiers["high"].model_copy(update={"required_suites": ["performance"], "checks": checks})
    metrics = pd.DataFrame([("r-performance", "performance", f"m{i}", "overall", 0.79, 1000, 0.785, 0.799,
                             to_json(tuple((0.785, 0.799) if lvl >= 0.025 else (0.7, 0.9) for lvl in LEVELS)))
                            for i in range(10)], columns=COLUMNS)
    d = _decide(system, _runs("performance"), metrics, POLICY.model_copy(update={"tiers": {"high": tier}}))
    assert d.verdict == "insufficient_evidence"
    assert sorted(r.level_fail for r in d.reasons if r.kind == "threshold")[0] == pytest.approx(0.005)
    bonferroni = tier.model_copy(update={"multiplicity": "bonferroni"})
    d = _decide(system, _runs("performance"), metrics, POLICY.model_copy(update={"tiers": {"high": bonferroni}}))
    assert d.error_control["multiplicity"] == "bonferroni" and {r.level_fail for r in d.reasons if r.kind == "threshold"} == {0.005}


REGRESSION_POLICY = POLICY.model_copy(
    update={"tiers": {"high": POLICY.tiers["high"].model_copy(update={
        "required_suites": ["champion_comparison"],
        "checks": [],
        "regression": [RegressionCheck(name="no_eo_regression", family="fairness", metric="tpr_difference", slice="SEX", tolerance=0.02)],
    })}}
)


def _comparison(champion, change=(0.05, 0.03, 0.07)):
    rows = [_row("r-champion_comparison", "regression", "baseline_version", "overall", champion, 1000)]
    if change is not None:
        rows.append(_row("r-champion_comparison", "regression", "tpr_difference_change", "SEX", change[0], 1000, change[1:]))
    return pd.DataFrame(rows, columns=COLUMNS)


@pytest.mark.parametrize(
    "champion, change, verdict, detail",
    [
        (3.0, (0.05, 0.03, 0.07), "fail", "changed by +0.0500"),  # wholly worse than the tolerance
        (3.0, (0.0, -0.01, 0.015), "pass", "non-inferior only if the whole interval is <= +0.02"),  # wholly within it
        (3.0, (0.02, -0.01, 0.05), "insufficient_evidence", "too wide to decide"),  # straddles it: undecided, never pass
        (7.0, (0.0, 0.0, 0.0), "pass", "v7 is the champion"),
        (math.nan, None, "pass", "no model version holds the champion alias"),
        (3.0, None, "unassessed", "no change of 'tpr_difference'"),
    ],
)
def test_regression_against_the_champion_is_non_inferiority(system, champion, change, verdict, detail):
    d = decide(system, REGRESSION_POLICY, "7", "d.abcdefabcdef", _runs("champion_comparison"), _comparison(champion, change))
    assert d.verdict == verdict
    assert detail in next(r.detail for r in d.reasons if r.check == "no_eo_regression")


def test_release_needs_the_tiers_run_of_consecutive_passing_nights(system):
    three = POLICY.tiers["high"].model_copy(update={"release": ReleaseRule(consecutive_passes=3, horizon_nights=365)})
    policy = POLICY.model_copy(update={"tiers": {"high": three}})
    assert three.night_alpha == pytest.approx((0.05 / 365) ** (1 / 3))
    first = _decide(system, _runs("performance", "fairness"), _metrics(), policy)
    assert (first.night_verdict, first.verdict) == ("pass", "insufficient_evidence")
    assert "1 consecutive passing night(s) of the 3" in first.reasons[-1].detail
    third = _decide(system, _runs("performance", "fairness"), _metrics(), policy, passing_nights_before=["d1", "d2"])
    assert (third.night_verdict, third.verdict) == ("pass", "pass")
    failing = _decide(system, _runs("performance", "fairness"), _metrics(tpr_gap=0.2), policy, passing_nights_before=["d1", "d2"])
    assert failing.verdict == "fail" and not any(r.check == "release_window" for r in failing.reasons)


def test_a_one_prompt_suite_can_no_longer_pass(catalog):
    from rai_pipelines.genai.scoring import Outcome, rate_rows

    system = catalog.system("support_assistant")
    tier = catalog.policy.tier_for(system)
    metrics = pd.DataFrame(
        [("r-x", r.family, r.metric, r.slice, r.value, r.n, r.ci_low, r.ci_high, to_json(r.bounds))
         for r in rate_rows("privacy", "leakage_pass_rate", [Outcome(True, None)], catalog.judges)], columns=COLUMNS)
    check = next(c for c in tier.checks if c.metric == "leakage_pass_rate")
    policy = catalog.policy.model_copy(update={"assistant_tiers": {"high": tier.model_copy(update={
        "required_suites": ["privacy"], "checks": [check], "regression": [], "min_n": 1})}})
    runs = pd.DataFrame([("r-x", "privacy", "ok", None, T0)], columns=["run_id", "suite", "status", "error", "finished_at"])
    d = decide(system, policy, "gguf-x", "prompts-x", runs, metrics)
    assert d.verdict == "insufficient_evidence"


@pytest.mark.parametrize("kappa, status", [(0.15, "unassessed"), (0.35, "pass")])
def test_a_result_decided_by_a_judge_below_the_tiers_agreement_floor_is_unassessed(catalog, kappa, status):
    """Even a result stored under a lower floor: raising the floor makes it stop counting."""
    from rai_pipelines.genai.scoring import Outcome, rate_rows

    system = catalog.system("support_assistant")
    tier = catalog.policy.tier_for(system)
    rows = rate_rows("privacy", "leakage_pass_rate", [Outcome(True, None)] * 200, catalog.judges)
    metrics = pd.DataFrame([("r-x", r.family, r.metric, r.slice, r.value, r.n, r.ci_low, r.ci_high, to_json(r.bounds))
                            for r in rows] + [("r-x", "privacy", "judge_kappa", "overall", kappa, 100, math.nan, math.nan, None)],
                           columns=COLUMNS)
    check = next(c for c in tier.checks if c.metric == "leakage_pass_rate")
    policy = catalog.policy.model_copy(update={"assistant_tiers": {"high": tier.model_copy(update={
        "required_suites": ["privacy"], "checks": [check], "regression": [], "min_judge_agreement": 0.3})}})
    runs = pd.DataFrame([("r-x", "privacy", "ok", None, T0)], columns=["run_id", "suite", "status", "error", "finished_at"])
    d = decide(system, policy, "1", "prompts-x", runs, metrics)
    assert d.night_verdict == status, d.reasons


def test_a_monitoring_alarm_needs_a_failure_at_the_monitoring_level(system):
    m = _metrics(tpr_gap=0.2)
    m.loc[m.metric == "tpr_difference", "bounds"] = _grid(0.18, 0.22, width_per_level=0.05)  # beyond 0.1 down to level 0.01
    d = _decide(system, _runs("performance", "fairness"), m)
    assert d.verdict == "fail" and d.monitoring_alarms == []  # fails at its Holm level, not at ~1/365
    m = _metrics(tpr_gap=0.3)
    m.loc[m.metric == "tpr_difference", "bounds"] = to_json(tuple((0.25, 0.35) for _ in LEVELS))
    assert _decide(system, _runs("performance", "fairness"), m).monitoring_alarms == ["eo_sex"]


def _drift(share, dataset_drift):
    return pd.DataFrame({"column_name": ["RELP", "AGEP"], "drifted": [True, dataset_drift], "share_drifted": [share, share],
                         "dataset_drift": [dataset_drift, dataset_drift]})


@pytest.mark.parametrize(
    "mode, drift, verdict, status",
    [
        ("warn", _drift(1.0, True), "pass", "warning"),  # shown, verdict unchanged
        ("block", _drift(1.0, True), "fail", "fail"),
        ("block", _drift(0.5, False), "pass", "pass"),
        ("block", None, "unassessed", "unassessed"),  # fail closed without a drift result
    ],
)
def test_drift_outcome_in_the_decision(system, mode, drift, verdict, status):
    policy = POLICY.model_copy(update={"tiers": {"high": POLICY.tiers["high"].model_copy(update={"drift": mode})}})
    d = decide(system, policy, "7", "d.abcdefabcdef", _runs("performance", "fairness"), _metrics(), drift)
    assert d.verdict == verdict
    assert next(r for r in d.reasons if r.check == "dataset_drift").status == status


def test_stale_evaluation_is_unassessed(system):
    from rai_pipelines.code_version import code_version

    runs = _runs("performance", "fairness").assign(suite_digest="old-digest", family=["performance", "fairness"])
    runs["code_version"] = [code_version("performance"), code_version("fairness")]
    current = {"performance": "old-digest", "fairness": "new-digest"}
    d = decide(system, POLICY, "7", "d.abcdefabcdef", runs, _metrics(), suite_digests=current)
    assert d.verdict == "unassessed"
    [stale] = [r for r in d.reasons if r.check.startswith("suite:") and r.status == "unassessed"]
    assert stale.check == "suite:fairness" and "stale" in stale.detail
    fresh = decide(system, POLICY, "7", "d.abcdefabcdef", runs.assign(suite_digest=["old-digest", "new-digest"]), _metrics(),
                   suite_digests=current)
    assert fresh.verdict == "pass"
    older_code = decide(system, POLICY, "7", "d.abcdefabcdef", runs.assign(suite_digest=["old-digest", "new-digest"],
                        code_version="0.0.1+old"), _metrics(), suite_digests=current)
    assert older_code.verdict == "unassessed"


def test_exact_bounds_round_trip_through_the_stored_json():
    b = proportion_bounds(30, 40)
    grid = json.loads(to_json(tuple(map(tuple, b))))
    assert list(map(float, grid)) == list(LEVELS)


def test_a_bonferroni_tier_with_nothing_to_judge_is_unassessed_not_a_crash(system):
    tier = POLICY.tiers["high"].model_copy(update={"multiplicity": "bonferroni"})
    d = _decide(system, _runs(), _metrics(), POLICY.model_copy(update={"tiers": {"high": tier}}))
    assert d.verdict == "unassessed"


def _night(wh, system, version, key, when, verdict=None, kind="production", label=None, estimated=False):
    from datetime import timedelta

    wh.write("dataset_versions", system, key, [{"system": system, "dataset_version": key, "label": label or key,
                                                "kind": kind, "digest": key, "rows": 1, "source": "", "schema": "{}",
                                                "registered_at": T0 + timedelta(days=when)}])
    if estimated:  # decided while its labels were pending: the gate's `labels` check is on record
        wh.write("gate_checks", system, f"{version}-{key}", [{
            "decision_id": f"{version}-{key}", "system": system, "model_version": version, "dataset_version": key,
            "check_name": "labels_pending", "kind": "labels", "status": "unassessed"}])
    if verdict:
        wh.write("gate_decisions", system, f"{version}-{key}", [{
            "decision_id": f"{version}-{key}", "system": system, "model_version": version, "dataset_version": key,
            "risk_tier": "high", "policy_version": "p1", "verdict": verdict, "night_verdict": verdict, "reasons": "[]",
            "waivers_applied": "[]", "decided_at": T0 + timedelta(days=when), "evidence_digest": "e",
            "evaluation_run_ids": "[]", "code_version": "c"}])


def test_the_release_window_counts_production_nights_in_order_and_a_night_without_a_decision_breaks_it(tmp_path):
    from rai_pipelines.gate import passing_nights
    from rai_pipelines.warehouse import Warehouse

    wh = Warehouse(tmp_path / "wh")
    _night(wh, "s", "7", "ref", 0, "pass", kind="reference")  # the training window is not a night
    _night(wh, "s", "7", "d1", 1, "pass")
    _night(wh, "s", "7", "d2", 2)  # evaluated by nobody: breaks the run
    _night(wh, "s", "7", "d3", 3, "pass")
    _night(wh, "s", "7", "d4", 4, "pass")
    _night(wh, "s", "7", "d5", 5)
    assert passing_nights(wh, "s", "7", "d5", "p1") == ["d3", "d4"]
    assert passing_nights(wh, "s", "7", "d5", "p2") == []  # another policy's passes do not count
    assert passing_nights(wh, "s", "7", "d2", "p1") == ["d1"]


def test_a_window_counts_once_by_its_newest_realized_decision_and_estimates_neither_count_nor_break(tmp_path):
    from rai_pipelines.gate import passing_nights
    from rai_pipelines.warehouse import Warehouse

    wh = Warehouse(tmp_path / "wh")
    _night(wh, "s", "7", "w1.a", 1, "unassessed", label="w1", estimated=True)  # labels pending
    _night(wh, "s", "7", "w2.a", 2, "unassessed", label="w2", estimated=True)  # still pending: skipped
    _night(wh, "s", "7", "w1.b", 3, "pass", label="w1")  # w1's labels landed: w1 is decided, once
    _night(wh, "s", "7", "w3.a", 4, "pass", label="w3")
    _night(wh, "s", "7", "w3.b", 5, "pass", label="w3")  # late rows in w3: the same night again, not another
    _night(wh, "s", "7", "w4.a", 6, label="w4")
    assert passing_nights(wh, "s", "7", "w4.a", "p1") == ["w1.b", "w3.b"]
    # A window's own later versions are not nights before it.
    assert passing_nights(wh, "s", "7", "w3.b", "p1") == ["w1.b"]


@pytest.mark.parametrize("rule, verdict, alarms_kept", [("monitoring", "unassessed", True), ("ignore", "unassessed", False),
                                                         ("release", "pass", True)])
def test_estimated_results_do_what_the_tier_says(system, rule, verdict, alarms_kept):
    tier = POLICY.tiers["high"].model_copy(update={"estimated_results": rule})
    policy = POLICY.model_copy(update={"tiers": {"high": tier}})
    runs = _runs("performance", "fairness").assign(basis="estimated")
    held = pd.concat([_metrics(), pd.DataFrame([_row("r-performance", "estimation", "calibration_holds", "overall", 1.0, 1000)],
                                               columns=COLUMNS)])
    d = _decide(system, runs, held, policy)
    assert d.verdict == verdict and ("labels_pending" in {r.check for r in d.reasons}) == (rule != "release")
    # Failing now (an estimated TPR gap of 0.3): monitoring may alert on it, `ignore` may not.
    failing = _decide(system, runs, pd.concat([_metrics(tpr_gap=0.3), held.iloc[[-1]]]), policy)
    assert bool(failing.monitoring_alarms) == alarms_kept


def test_estimates_whose_calibration_failed_decide_nothing_even_where_the_tier_releases_on_them(system):
    tier = POLICY.tiers["high"].model_copy(update={"estimated_results": "release"})
    policy = POLICY.model_copy(update={"tiers": {"high": tier}})
    broken = pd.concat([_metrics(tpr_gap=0.3), pd.DataFrame(
        [_row("r-performance", "estimation", "calibration_holds", "overall", 0.0, 1000),
         _row("r-performance", "estimation", "reference_ece", "overall", 0.07, 1000)], columns=COLUMNS)])
    d = _decide(system, _runs("performance", "fairness").assign(basis="estimated"), broken, policy)
    assert d.verdict == "unassessed" and not d.monitoring_alarms
    assert "ECE 0.070" in next(r.detail for r in d.reasons if r.check == "estimate_assumptions")


def test_estimates_calibrated_on_the_models_training_data_decide_nothing(system):
    tier = POLICY.tiers["high"].model_copy(update={"estimated_results": "release"})
    policy = POLICY.model_copy(update={"tiers": {"high": tier}})
    rows = [_row("r-performance", "estimation", m, "overall", v, 1000)
            for m, v in (("calibration_holds", 1.0), ("reference_held_out", 0.0))]
    d = _decide(system, _runs("performance", "fairness").assign(basis="estimated"),
                pd.concat([_metrics(), pd.DataFrame(rows, columns=COLUMNS)]), policy)
    assert d.verdict == "unassessed"
    assert "training data" in next(r.detail for r in d.reasons if r.check == "estimate_assumptions")
