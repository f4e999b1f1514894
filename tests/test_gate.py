"""The gate engine: verdicts from evaluations, failing closed."""

import math
from datetime import datetime, timezone

import pandas as pd
import pytest

from rai_pipelines.catalog import Check, Policy, RegressionCheck, Tier
from rai_pipelines.gate import decide

T0 = datetime(2026, 11, 27, tzinfo=timezone.utc)

POLICY = Policy(
    name="p",
    description="test",
    tiers={
        "high": Tier(
            required_suites=["performance", "fairness"],
            min_group_size=100,
            drift="ignore",
            checks=[
                Check(name="auc_floor", family="performance", metric="auc", op=">=", threshold=0.8),
                Check(name="eo_sex", family="fairness", metric="tpr", disparity="difference", slice="SEX", op="<=", threshold=0.1),
            ],
        )
    },
)


def _runs(*suites, status="ok"):
    return pd.DataFrame(
        [(f"r-{s}", s, status, "boom" if status != "ok" else None, T0) for s in suites],
        columns=["run_id", "suite", "status", "error", "finished_at"],
    )


def _metrics(auc=0.9, tpr_gap=0.05, female_n=500, gap_ci=(math.nan, math.nan)):
    rows = [
        ("r-performance", "performance", "auc", "overall", auc, 1000, math.nan, math.nan),
        ("r-fairness", "fairness", "tpr", "SEX=Male", 0.8, 500, math.nan, math.nan),
        ("r-fairness", "fairness", "tpr", "SEX=Female", 0.8 - tpr_gap, female_n, math.nan, math.nan),
        ("r-fairness", "fairness", "tpr_difference", "SEX", tpr_gap, 1000, *gap_ci),
    ]
    return pd.DataFrame(rows, columns=["run_id", "family", "metric", "slice", "value", "n", "ci_low", "ci_high"])


def _decide(system, runs, metrics):
    return decide(system, POLICY, "7", "2016-01.abcdefabcdef", runs, metrics)


@pytest.fixture
def system(acs):
    return acs.model_copy(update={"risk_tier": "high"})


def test_pass_when_every_check_holds(system):
    d = _decide(system, _runs("performance", "fairness"), _metrics())
    assert d.verdict == "pass"
    assert {r.check: r.status for r in d.reasons} == {"auc_floor": "pass", "eo_sex": "pass"}
    assert d.policy_version == POLICY.version


def test_fail_names_check_value_and_threshold(system):
    d = _decide(system, _runs("performance", "fairness"), _metrics(tpr_gap=0.2))
    assert d.verdict == "fail"
    reason = next(r for r in d.reasons if r.check == "eo_sex")
    assert (reason.status, reason.observed, reason.op, reason.threshold) == ("fail", pytest.approx(0.2), "<=", 0.1)


def test_small_group_is_insufficient_evidence_not_pass(system):
    d = _decide(system, _runs("performance", "fairness"), _metrics(female_n=40))
    assert d.verdict == "insufficient_evidence"
    assert "SEX=Female has n=40 < min_group_size=100" in next(r.detail for r in d.reasons if r.check == "eo_sex")


def test_undefined_value_is_insufficient_evidence(system):
    d = _decide(system, _runs("performance", "fairness"), _metrics(tpr_gap=math.nan))
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


INTERVAL_POLICY = POLICY.model_copy(
    update={"tiers": {"high": POLICY.tiers["high"].model_copy(update={"checks": [
        Check(name="eo_sex", family="fairness", metric="tpr", disparity="difference", slice="SEX", op="<=", threshold=0.1, bound="interval"),
    ]})}}
)


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
    d = decide(system, INTERVAL_POLICY, "7", "d.abcdefabcdef", _runs("performance", "fairness"), _metrics(tpr_gap=gap, gap_ci=ci))
    assert d.verdict == verdict
    [reason] = d.reasons
    if not math.isnan(ci[0]):
        assert (reason.ci_low, reason.ci_high) == ci


REGRESSION_POLICY = POLICY.model_copy(
    update={"tiers": {"high": POLICY.tiers["high"].model_copy(update={
        "required_suites": ["champion_comparison"],
        "checks": [],
        "regression": [RegressionCheck(name="no_eo_regression", family="fairness", metric="tpr_difference", slice="SEX", tolerance=0.02)],
    })}}
)


def _comparison(champion, change=(0.05, 0.03, 0.07)):
    rows = [("r-champion_comparison", "regression", "baseline_version", "overall", champion, 1000, math.nan, math.nan)]
    if change is not None:
        rows.append(("r-champion_comparison", "regression", "tpr_difference_change", "SEX", *change[:1], 1000, *change[1:]))
    return pd.DataFrame(rows, columns=["run_id", "family", "metric", "slice", "value", "n", "ci_low", "ci_high"])


@pytest.mark.parametrize(
    "champion, change, verdict, detail",
    [
        (3.0, (0.05, 0.03, 0.07), "fail", "changed by +0.0500"),
        (3.0, (0.02, -0.01, 0.05), "pass", "regressed only if the whole interval is an increase beyond 0.02"),
        (7.0, (0.0, 0.0, 0.0), "pass", "v7 is the champion"),
        (math.nan, None, "pass", "no model version holds the champion alias"),
        (3.0, None, "unassessed", "no change of 'tpr_difference'"),
    ],
)
def test_regression_against_the_champion(system, champion, change, verdict, detail):
    d = decide(system, REGRESSION_POLICY, "7", "d.abcdefabcdef", _runs("champion_comparison"), _comparison(champion, change))
    assert d.verdict == verdict
    assert detail in d.reasons[-1].detail


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
    assert d.reasons[-1].check == "dataset_drift" and d.reasons[-1].status == status



def test_stale_evaluation_is_unassessed(system):
    from rai_pipelines.code_version import code_version

    runs = _runs("performance", "fairness").assign(suite_digest="old-digest", code_version=code_version())
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
