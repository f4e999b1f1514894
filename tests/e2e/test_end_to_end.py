"""`rai demo` on a small slice, then the commands a user and CI run against its state."""

import json

import pandas as pd
from mlflow import MlflowClient

from tests.support import run_rai


def _query(home, sql):
    proc = run_rai("query", sql, "--format", "json", home=home, check=True)
    return pd.DataFrame(json.loads(proc.stdout))


def test_demo_prints_a_verdict_per_model_version(demo_home):
    out = (demo_home / "demo-stdout.txt").read_text()
    for version in ("v1", "v2", "v3"):
        assert any(line.strip().startswith(version) for line in out.splitlines()), out
    assert "registered acs_employment_classifier v3 (skewed_sample_gbm)" in out
    # The system onboarded from its YAML alone: logged predictions in PostgreSQL, the newest week estimated.
    assert "car_loan_repayment: Car-loan repayment scorer" in out and "window 2018-W44." in out
    assert "estimated, gate unassessed" in out, out


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
        "select model_version, min(value) as least, max(value) as most from metrics "
        "where metric = 'tpr_difference' and slice = 'SEX' group by model_version",
    ).set_index("model_version")
    assert gaps.least["3"] > gaps.most["1"] + 0.1  # on every night
    assert gaps.least["3"] > gaps.most["2"] + 0.1


def test_every_evaluation_is_one_mlflow_run_with_its_dataset_digest(demo_home, catalog, acs):
    runs = _query(demo_home, "select run_id, mlflow_run_id, dataset_digest, model_version, suite from evaluation_runs "
                             "where status = 'ok' and system = 'acs_employment'")
    # 3 model versions x every suite each night; a champion comparison is redone when the champion moves.
    suites = {s.name for s in catalog.evaluation_suites(acs)}
    assert set(zip(runs.model_version, runs.suite)) == {(v, s) for v in "123" for s in suites}
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
        "select model_version, verdict from gate_decisions "
        "qualify row_number() over (partition by model_version order by decided_at desc) = 1",
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
    # The first call may recompute v1's comparison with the champion (the alias moved to v2 during the night);
    # the second finds nothing changed and computes nothing.
    run_rai("evaluate", "acs_employment", "--model-version", "1", home=demo_home, check=True)
    before = _query(demo_home, "select count(*) as n from evaluation_runs").n[0]
    proc = run_rai("evaluate", "acs_employment", "--model-version", "1", home=demo_home)
    assert proc.returncode == 0, proc.stderr
    assert "acs_employment v1 on" in proc.stdout and "up to date, nothing run" in proc.stdout  # no Dagster run at all
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


TRACE = """
select d.decision_id, d.verdict, d.policy_version, d.model_version, r.suite, r.dataset_digest, r.code_version,
       r.mlflow_run_id, d.waivers_applied
from gate_decisions d
join evaluation_runs r on list_contains(from_json(d.evaluation_run_ids, '["VARCHAR"]'), r.run_id)
where d.decision_id = '{decision_id}'
"""


def test_waiver_story_and_signed_evidence(demo_home):
    out = (demo_home / "demo-stdout.txt").read_text()
    assert "cannot approve it" in out  # self-approval refused in the story
    assert "waived: calibration" in out
    bundles = demo_home / "evidence" / "acs_employment"
    public = demo_home / "keys" / "evidence_ed25519.pub.pem"  # what the publisher hands the auditor
    for version in ("1", "2", "3"):
        proc = run_rai("evidence", "verify", str(bundles / f"v{version}-latest.zip"), "--public-key", str(public), home=demo_home)
        assert proc.returncode == 0, proc.stderr
    [edited] = bundles.glob("*-tampered.zip")
    tampered = run_rai("evidence", "verify", str(edited), "--public-key", str(public), home=demo_home)
    assert tampered.returncode == 1 and "modified file: card.md" in tampered.stderr
    import zipfile

    with zipfile.ZipFile(bundles / "v3-latest.zip") as z:
        card = z.read("card.md").decode()
    [waiver] = _query(demo_home, "select waiver_id from waivers where action = 'approve'").waiver_id
    assert waiver in card and "head-of-responsible-ai@example.org" in card


def test_the_probing_families_tell_the_version_that_sees_sex_and_race_apart(demo_home):
    """v3 reads SEX and RAC1P: changing only them flips its decisions on every night, and never v1's or v2's; its
    card says so, and the gate fails it on the counterfactual checks."""
    flips = _query(demo_home, """select model_version, slice, min(ci_low) as least, max(value) as most from metrics
                                 where family = 'counterfactual' and metric = 'flip_rate' and slice in ('SEX', 'RAC1P')
                                 group by all""").set_index(["model_version", "slice"])
    assert flips.least[("3", "SEX")] > 0.05 and flips.least[("3", "RAC1P")] > 0.01
    assert flips.most[("1", "SEX")] == flips.most[("2", "SEX")] == flips.most[("1", "RAC1P")] == flips.most[("2", "RAC1P")] == 0
    reasons = _query(demo_home, "select reasons from gate_decisions where model_version = '3' order by decided_at desc limit 1")
    failed = {r["check"] for r in json.loads(reasons.reasons[0]) if r["status"] == "fail"}
    assert {"counterfactual_sex", "counterfactual_race"} <= failed
    import zipfile

    with zipfile.ZipFile(demo_home / "evidence" / "acs_employment" / "v3-latest.zip") as z:
        card = z.read("card.html").decode() if "card.html" in z.namelist() else z.read("card.md").decode()
    for section in ("Robustness to input noise", "Counterfactual fairness", "Proxies of sensitive features"):
        assert section in card


def test_one_query_traces_a_decision_to_its_lineage(demo_home, catalog, acs):
    [decision_id] = _query(
        demo_home, "select decision_id from gate_decisions where model_version = '3' order by decided_at desc limit 1"
    ).decision_id
    trace = _query(demo_home, TRACE.format(decision_id=decision_id))
    assert set(trace.suite) == set(catalog.policy.tier_for(acs).required_suites)  # what the decision read
    assert trace.dataset_digest.str.len().eq(64).all() and trace.mlflow_run_id.astype(bool).all()
    assert trace.policy_version.nunique() == 1 and "w-" in trace.waivers_applied.iloc[0]


def test_gate_outcome_is_on_the_registry_and_the_champion_passed(demo_home):
    client = MlflowClient(tracking_uri=f"sqlite:///{demo_home}/mlflow/mlflow.db")
    versions = {mv.version: mv for mv in client.search_model_versions("name='acs_employment_classifier'")}
    tags = {str(v): mv.tags.get("rai.gate.verdict") for v, mv in versions.items()}
    assert (tags["2"], tags["3"]) == ("pass", "fail")
    # v1 passes its own three nights while it is the champion; once v2 is released, v1 re-evaluated against it
    # (test_evaluate_through_dagster...) has an accuracy change whose interval straddles the 0.02 margin: undecided.
    assert tags["1"] in ("pass", "insufficient_evidence")
    champion = client.get_model_version_by_alias("acs_employment_classifier", "champion")
    assert champion.tags["rai.gate.verdict"] == "pass" and str(champion.version) == "2"  # the newest passing version


def test_kpis_cover_every_kpi_the_demo_has_evidence_for(demo_home):
    kpis = _query(demo_home, "select kpi, system, value, numerator, denominator from kpis "
                             "where system in ('acs_employment', '*')").set_index("kpi")
    assert {"evaluation_coverage", "system_coverage", "gate_pass_rate", "gate_fail_rate", "waiver_rate",
            "fairness_regression_rate", "performance_regression_rate", "evidence_completeness",
            "time_to_decision_hours"} <= set(kpis.index)
    assert not {"jailbreak_resilience", "privacy_leakage_pass_rate", "hallucination_rate"} & set(kpis.index)  # no LLM evaluated
    assert (kpis.numerator <= kpis.denominator).drop("time_to_decision_hours").all()
    assert kpis.loc["evidence_completeness", "value"] == 1.0
    assert 0 < kpis.loc["waiver_rate", "value"] < 1
    # Every production batch was evaluated and gated for each model version: v3 registered before the first night.
    assert kpis.loc["evaluation_coverage", "value"] == 1.0
    # The recount from the facts themselves agrees with the view.
    decided = _query(demo_home, "select verdict from gate_decisions where system = 'acs_employment'")
    assert kpis.loc["gate_fail_rate", "denominator"] == len(decided)
    assert kpis.loc["gate_fail_rate", "numerator"] == (decided.verdict == "fail").sum()
    # v3 fails its fairness regression checks against the champion; v2 does not.
    checks = _query(demo_home, "select model_version, status from gate_checks where kind = 'regression' and family = 'fairness' "
                               "and compared_with is not null")
    assert (checks[checks.model_version == "3"].status == "fail").any()
    assert 0 < kpis.loc["fairness_regression_rate", "value"] < 1
    assert kpis.loc["time_to_decision_hours", "value"] > 0


def test_governance_workflows_in_the_demo(demo_home, catalog):
    """The demo's governance story: the release reviewed and approved on its signed bundle, a production incident
    opened by a failed quality check and mitigated, control coverage per system, and their KPIs."""
    out = (demo_home / "demo-stdout.txt").read_text()
    # A release waits for its review: version 2's third passing night is reviewed, then it is the champion.
    decided = _query(demo_home, "select review_id, model_version, status, decided_by, bundle_sha256 from reviews "
                                "where action = 'decide'")
    assert "2" in set(decided.model_version) and set(decided.status) <= {"approved", "approved_with_conditions"}
    assert set(decided.decided_by) <= set(catalog.policy.tiers["high"].review.reviewers)
    # The duplicated load: the quality check on production data opened an incident, on-call mitigated it.
    events = _query(demo_home, "select incident_id, finding, action, arrived_at, opened_at from incidents order by event_at")
    assert {"open", "acknowledge", "mitigate"} <= set(events.action)
    assert set(events[events.action == "open"].finding) == {"data_quality_failed"}
    kpis = _query(demo_home, "select kpi, system, value, denominator from kpis").set_index(["kpi", "system"])
    assert kpis.loc[("mttd_hours", "car_loan_repayment"), "denominator"] == 1
    assert kpis.loc[("mttm_hours", "car_loan_repayment"), "denominator"] == 1
    assert kpis.loc[("review_cycle_hours", "acs_employment"), "denominator"] >= 1
    # Coverage per system, as the demo prints it and as `rai controls coverage` computes it.
    proc = run_rai("controls", "coverage", "acs_employment", "--json", home=demo_home, check=True)
    coverage = json.loads(proc.stdout)
    statuses = {c["control"]: c["status"] for c in coverage["controls"]}
    assert set(statuses) == set(catalog.controls) and sum(coverage["summary"].values()) == len(catalog.controls)
    assert f"acs_employment: {coverage['summary']['satisfied']} satisfied" in out
    assert statuses["eu-ai-act:art-11"] == "satisfied"  # the technical documentation is in the champion's bundle
    assert statuses["eu-ai-act:art-15-cybersecurity"] == "satisfied"  # membership suite run, no_membership_leak passed
    import zipfile

    with zipfile.ZipFile(demo_home / "evidence" / "acs_employment" / "v2-latest.zip") as z:
        documentation = z.read("technical_documentation.md").decode()
    for point in ("## 1. General description", "## 2. Elements", "## 9. Post-market monitoring"):
        assert point in documentation
