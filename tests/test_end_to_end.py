"""`rai demo` on a small slice, then the commands a user and CI run against its state."""

import json

import pandas as pd
from mlflow import MlflowClient

from .conftest import run_rai


def _query(home, sql):
    proc = run_rai("query", sql, "--format", "json", home=home, check=True)
    return pd.DataFrame(json.loads(proc.stdout))


def test_demo_prints_a_verdict_per_model_version(demo_home):
    out = (demo_home / "demo-stdout.txt").read_text()
    for version in ("v1", "v2", "v3"):
        assert any(line.strip().startswith(version) for line in out.splitlines()), out
    assert "registered acs_employment_classifier v3 (skewed_sample_gbm)" in out


def test_gate_decisions_list_every_version_and_the_skewed_model_fails_fairness(demo_home):
    decisions = _query(demo_home, "select system, model_version, verdict, reasons, policy_version from gate_decisions")
    assert set(decisions.model_version) == {"1", "2", "3"}
    skewed = decisions[decisions.model_version == "3"].iloc[0]
    failed = {r["check"] for r in json.loads(skewed.reasons) if r["status"] == "fail"}
    assert "equal_opportunity_sex" in failed, skewed.reasons
    assert decisions.policy_version.nunique() == 1


def test_skewed_model_is_measurably_less_fair(demo_home):
    gaps = _query(
        demo_home,
        "select model_version, value from metrics where metric = 'tpr_difference' and slice = 'SEX'",
    ).set_index("model_version").value
    assert gaps["3"] > gaps["1"] + 0.1
    assert gaps["3"] > gaps["2"] + 0.1


def test_every_evaluation_is_one_mlflow_run_with_its_dataset_digest(demo_home):
    runs = _query(demo_home, "select run_id, mlflow_run_id, dataset_digest from evaluation_runs where status = 'ok'")
    assert len(runs) == 9  # 3 model versions x 3 suites on the first night
    client = MlflowClient(tracking_uri=f"sqlite:///{demo_home}/mlflow/mlflow.db")
    for row in runs.itertuples():
        run = client.get_run(row.mlflow_run_id)
        assert run.data.tags["rai.evaluation_id"] == row.run_id
        [inp] = run.inputs.dataset_inputs
        assert row.dataset_digest.startswith(inp.dataset.digest)
    exp = client.get_experiment_by_name("rai/acs_employment")
    evaluations = client.search_runs([exp.experiment_id], "tags.`rai.evaluation_id` != ''")
    assert len(evaluations) == len(runs)


def test_gate_exit_codes_follow_the_verdict(demo_home):
    verdicts = _query(
        demo_home,
        "select model_version, verdict from gate_decisions qualify row_number() over (partition by model_version order by decided_at desc) = 1",
    ).set_index("model_version").verdict
    expected = {"pass": 0, "fail": 1, "insufficient_evidence": 3, "unassessed": 3}
    for version, verdict in verdicts.items():
        proc = run_rai("gate", "acs_employment", "--model-version", version, "--json", home=demo_home)
        assert proc.returncode == expected[verdict], proc.stderr
        assert json.loads(proc.stdout)["verdict"] == verdict
    assert verdicts["3"] == "fail"


def test_usage_errors_exit_2_with_one_line(demo_home):
    for args, message in [
        (("gate", "acs_employment", "--model-version", "42"), "has no version '42'"),
        (("gate", "no_such_system", "--model-version", "1"), "unknown system 'no_such_system'"),
        (("gate", "acs_employment"), "--model-version"),
    ]:
        proc = run_rai(*args, home=demo_home)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_bad_sql_exits_1_with_one_line(demo_home):
    proc = run_rai("query", "select * from nowhere", home=demo_home)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and "nowhere" in proc.stderr


def test_evaluate_through_dagster_reuses_unchanged_work(demo_home):
    before = _query(demo_home, "select count(*) as n from evaluation_runs").n[0]
    proc = run_rai("evaluate", "acs_employment", "--model-version", "1", home=demo_home)
    assert proc.returncode == 0, proc.stderr
    assert "acs_employment v1 on" in proc.stdout and "ok" in proc.stdout
    assert _query(demo_home, "select count(*) as n from evaluation_runs").n[0] == before


def test_nightly_evaluation_records_intervals_for_every_group_metric(demo_home):
    missing = _query(
        demo_home,
        """select family, metric, slice from metrics
           where family in ('performance', 'fairness') and value is not null and not isnan(value)
             and (ci_low is null or ci_high is null or isnan(ci_low))""",
    )
    assert missing.empty, missing.head()
    groups = _query(demo_home, "select count(*) as n from metrics where family = 'fairness' and slice like 'SEX=%&RAC1P=%'")
    assert groups.n[0] > 0
