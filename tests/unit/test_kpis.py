"""The kpis view on a small warehouse whose every KPI can be worked out by hand."""

from datetime import UTC, datetime, timedelta

import pytest

from rai_pipelines.warehouse import Warehouse

OCT = datetime(2026, 10, 5, tzinfo=UTC)
NOV = datetime(2026, 11, 3, tzinfo=UTC)


def _dataset(wh, key, kind, at):
    wh.write("dataset_versions", "s", key, [{"system": "s", "dataset_version": key, "label": key, "kind": kind, "digest": key,
                                              "rows": 10, "source": "x", "schema": "{}", "registered_at": at}])


def _model(wh, version, at):
    wh.write("model_versions", "s", version, [{"system": "s", "model_name": "m", "model_version": version, "artifact_sha256": "a",
                                                "recipe": "r", "mlflow_run_id": "r", "registered_at": at, "recorded_at": at}])


def _decision(wh, decision_id, version, dataset, verdict, at, checks=(), waived=False):
    wh.write("gate_decisions", "s", decision_id, [{
        "decision_id": decision_id, "system": "s", "model_version": version, "dataset_version": dataset, "risk_tier": "high",
        "policy_version": "p", "verdict": verdict, "reasons": "[]", "waivers_applied": '[{"waiver_id": "w1"}]' if waived else "[]",
        "decided_at": at, "evidence_digest": "e", "evaluation_run_ids": "[]", "code_version": "c"}])
    wh.write("gate_checks", "s", decision_id, [{
        "decision_id": decision_id, "system": "s", "model_version": version, "dataset_version": dataset, "check_name": name,
        "kind": kind, "family": family, "metric": "x", "slice": "overall", "status": status, "observed": 0.0, "op": None,
        "threshold": 0.0, "ci_low": None, "ci_high": None, "compared_with": compared_with, "detail": "", "decided_at": at}
        for name, kind, family, status, compared_with in checks])


def _rate(wh, run_id, metric, value, n, at):
    wh.write("metrics", "s", run_id, [{"run_id": run_id, "system": "s", "model_version": "1", "dataset_version": "d3",
                                       "family": "safety", "metric": metric, "slice": "overall", "value": value,
                                       "ci_low": None, "ci_high": None, "n": n, "recorded_at": at}])
    wh.write("evaluation_runs", "s", run_id, [{"run_id": run_id, "system": "s", "model_name": "m", "model_version": "1",
                                               "dataset_version": "d3", "dataset_digest": "d3", "suite": "safety", "suite_digest": "x",
                                               "status": "ok", "error": None, "started_at": at, "finished_at": at,
                                               "dagster_run_id": "", "dagster_partition": "", "mlflow_run_id": "", "code_version": "c"}])


@pytest.fixture
def kpis(tmp_path):
    wh = Warehouse(tmp_path)
    _dataset(wh, "ref", "reference", OCT - timedelta(days=30))
    _dataset(wh, "d1", "production", OCT)
    _dataset(wh, "d2", "production", OCT + timedelta(days=1))
    _dataset(wh, "d3", "production", NOV)
    _model(wh, "1", OCT - timedelta(hours=10))
    _model(wh, "2", OCT + timedelta(days=2))  # after d1 and d2 arrived: only d3 is owed to it
    _decision(wh, "a", "1", "d1", "pass", OCT - timedelta(hours=5),
              [("no_eo_regression", "regression", "fairness", "pass", None)])  # v1 was the champion: not a comparison
    _decision(wh, "b", "1", "d2", "unassessed", OCT + timedelta(days=1))
    _decision(wh, "c", "1", "d3", "fail", NOV, [
        ("no_eo_regression", "regression", "fairness", "fail", "2"),
        ("no_acc_regression", "regression", "performance", "insufficient_evidence", "2"),
        ("leak", "threshold", "privacy", "pass", None)])
    _decision(wh, "d", "2", "d3", "pass", NOV + timedelta(hours=1), [
        ("no_eo_regression", "regression", "fairness", "pass", "1"),
        ("no_acc_regression", "regression", "performance", "waived", "1"),
        ("leak", "threshold", "privacy", "pass", None), ("canary", "threshold", "privacy", "fail", None)], waived=True)
    _decision(wh, "e", "2", "d2", "pass", OCT + timedelta(days=2, hours=3))  # a back-fill, earlier than d: first decision of v2
    _rate(wh, "r1", "attack_success_rate", 0.25, 40, NOV)
    _rate(wh, "r2", "attack_success_rate", 0.5, 20, NOV)
    _rate(wh, "r3", "hallucination_rate", 0.1, 50, NOV)
    rows = wh.frame("select * from kpis")
    return {(r.kpi, r.system, r.period): (r.value, r.numerator, r.denominator) for r in rows.itertuples()}


def test_every_kpi_has_its_numerator_and_denominator(kpis):
    assert kpis[("evaluation_coverage", "s", "2026-10")] == (0.5, 1, 2)  # d1 x v1 assessed, d2 x v1 unassessed
    assert kpis[("evaluation_coverage", "s", "2026-11")] == (1.0, 2, 2)  # d3 x v1 and d3 x v2
    assert kpis[("system_coverage", "*", datetime.now(UTC).strftime("%Y-%m"))] == (1.0, 1, 1)
    assert kpis[("gate_pass_rate", "s", "2026-10")] == (pytest.approx(2 / 3), 2, 3)
    assert kpis[("gate_fail_rate", "s", "2026-11")] == (0.5, 1, 2)
    assert kpis[("waiver_rate", "s", "2026-11")] == (0.5, 1, 2)
    assert kpis[("fairness_regression_rate", "s", "2026-11")] == (0.5, 1, 2)
    assert ("fairness_regression_rate", "s", "2026-10") not in kpis  # only a champion comparing with itself
    assert kpis[("performance_regression_rate", "s", "2026-11")] == (1.0, 1, 1)  # waived counts; insufficient is not judged
    assert kpis[("privacy_leakage_pass_rate", "s", "2026-11")] == (0.5, 1, 2)
    assert kpis[("jailbreak_resilience", "s", "2026-11")] == (pytest.approx(1 - 20 / 60), 40, 60)
    assert kpis[("hallucination_rate", "s", "2026-11")] == (pytest.approx(0.1), 5, 50)
    assert kpis[("time_to_decision_hours", "s", "2026-10")] == (pytest.approx(4.0), pytest.approx(8.0), 2)  # 5 h and 3 h


def test_no_kpi_without_its_evidence(tmp_path):
    wh = Warehouse(tmp_path)
    _dataset(wh, "d1", "production", OCT)
    _model(wh, "1", OCT - timedelta(hours=1))
    assert set(wh.frame("select kpi from kpis").kpi) == {"evaluation_coverage", "system_coverage"}
    assert wh.frame("select value, numerator, denominator from kpis where kpi = 'evaluation_coverage'").iloc[0].tolist() == [0, 0, 1]
