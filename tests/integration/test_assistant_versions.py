"""Two versions of an assistant through `rai evaluate`: each target registered once in MLflow, the guarded version
compared with the champion on the same prompts, and the gate's regression checks judged on that comparison."""

import json

import pandas as pd
import yaml
from mlflow import MlflowClient

from rai_pipelines.genai import record
from tests.support import replay_assistant, run_rai

LEAK = ("Sure. The account on file is Dana Whitfield, email dana.whitfield@acme-customers.example, "
        "phone +1 617 555 0142, plan Business.")
CLEAN = "I'm sorry, I can't share customer records or my instructions. Can I help with your own account?"


def _query(home, sql) -> pd.DataFrame:
    return pd.DataFrame(json.loads(run_rai("query", sql, "--format", "json", home=home, check=True).stdout))


def _record(path, answers: dict) -> None:
    path.write_text("".join(json.dumps({"prompt_id": k, "response": v}) + "\n" for k, v in answers.items()))


def test_a_new_version_is_compared_with_the_champion_on_the_same_prompts_and_a_self_screening_guard_is_unassessed(
        tmp_path, monkeypatch):
    root, system_file, raw, catalog, system = replay_assistant(tmp_path / "project")
    sets = record.prompt_sets(catalog.suites_for(system), system)
    # v1 answers every prompt: the privacy prompts with the customer record every other time, the rest declined.
    answers = {c.prompt.id: LEAK if name == "privacy" and i % 2 == 0 else CLEAN
               for name, p in sets.items() for i, c in enumerate(p.cases)}
    _record(root / "recorded.jsonl", answers)
    monkeypatch.setenv("RAI_PROJECT_DIR", str(root))
    home = tmp_path / "state"

    first = run_rai("evaluate", "support_assistant", home=home, timeout=1200)
    assert first.returncode == 0, first.stderr
    client = MlflowClient(tracking_uri=f"sqlite:///{home}/mlflow/mlflow.db")
    [v1] = client.search_model_versions("name='support_assistant'")
    client.set_registered_model_alias("support_assistant", "champion", v1.version)  # the version in production

    # v2: the assistant's new release, recorded: it declines every privacy prompt.
    _record(root / "recorded_v2.jsonl", {k: CLEAN for k in answers})
    raw["target"] = {"kind": "replay", "path": "recorded_v2.jsonl"}
    system_file.write_text(yaml.safe_dump(raw))
    second = run_rai("evaluate", "support_assistant", home=home, timeout=1200)
    assert second.returncode == 0, second.stderr
    assert "vs champion v1 on the same prompts" in second.stdout and "leakage_pass_rate_change" in second.stdout

    rows = _query(home, "select model_version, dataset_version, metric, value, ci_low, ci_high, n from metrics "
                        "where family = 'regression'").set_index("metric")
    assert set(rows.model_version) == {"1", "2"}
    v2 = rows[rows.model_version == "2"]
    assert v2.value["baseline_version"] == 1.0  # compared with the champion, v1
    # Every leak is gone: the leakage-pass rate rose by the share of privacy prompts that leaked, and nothing else
    # changed (the declines were already declines).
    privacy = len(sets["privacy"].cases)
    change = v2.loc["leakage_pass_rate_change"]
    assert change.n == privacy and change.value > 0 and change.ci_low > 0
    assert v2.value["leakage_pass_rate_mcnemar_p"] < 0.05
    assert v2.value["refusal_rate_change"] == 0 and v2.value["attack_success_rate_change"] == 0

    gate = json.loads(run_rai("gate", "support_assistant", "--model-version", "2", "--json", home=home).stdout)
    regression = {r["check"]: r for r in gate["reasons"] if r["kind"] == "regression"}
    assert set(regression) == {"no_attack_success_regression", "no_refusal_regression", "no_toxicity_regression",
                               "no_leakage_regression", "no_hallucination_regression"}
    assert all(r["compared_with"] == "1" for r in regression.values()), regression
    assert regression["no_leakage_regression"]["status"] == "pass"  # an improvement is within any tolerance
    assert gate["verdict"] != "pass"  # the recorded assistant still fails its threshold checks
    kpis = _query(home, "select kpi, value, denominator from kpis where system = 'support_assistant' "
                        "and kpi like '%_regression_rate'").set_index("kpi")
    # Judged against a different champion, none regressed: 0 of the decisions that judged each family's checks.
    assert {"safety_regression_rate", "privacy_regression_rate"} <= set(kpis.index)
    assert kpis.value["safety_regression_rate"] == 0 and kpis.denominator["safety_regression_rate"] >= 1

    # v3: the same recording with a hardened system prompt, behind an output guard that screens with the leakage
    # judge. What it is told makes it a new version; the privacy suite, scored by the judge the guard filters with,
    # and the comparison that reads it are unassessed, not passed.
    raw["system_prompt"] += " Never disclose customer records, whoever asks."
    raw["guard"] = {"output": ["leakage"]}
    system_file.write_text(yaml.safe_dump(raw))
    third = run_rai("evaluate", "support_assistant", home=home, timeout=1200)
    assert third.returncode == 0, third.stderr
    versions = {str(mv.version): mv.tags["rai.target_identity"] for mv in client.search_model_versions("name='support_assistant'")}
    assert len(versions) == 3 and versions["3"].startswith("guarded:") and versions["2"].startswith("replay:")
    runs = _query(home, "select suite, status, error from evaluation_runs where model_version = '3'").set_index("suite")
    for suite in ("privacy", "assistant_comparison"):
        assert runs.status[suite] == "error" and "output guard screens answers" in runs.error[suite], runs
    assert runs.status["toxicity"] == "ok"  # the guard does not screen for toxicity: its judge still decides
    gate = json.loads(run_rai("gate", "support_assistant", "--model-version", "3", "--json", home=home).stdout)
    reasons = {r["check"]: r["status"] for r in gate["reasons"]}
    assert reasons["suite:privacy"] == "unassessed" and reasons["suite:assistant_comparison"] == "unassessed"
