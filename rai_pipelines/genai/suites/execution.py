"""Running any registered suite: ask the target every prompt (through the cache), then score the answers into
metric rows with the suite's judge-corrected rate. Each suite's own module decides what it asks and how an
answer counts; this is the same for all of them.

The GenAI families' code version starts here (`code_version.ENTRY`): it
imports the package, so every suite module and the scoring statistics are in it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rai_pipelines.evaluation.rows import MetricRow
from rai_pipelines.genai.cache import ResponseCache
from rai_pipelines.genai.judging import Judge
from rai_pipelines.genai.scoring import rate_rows
from rai_pipelines.genai.suites import Assistant, Case, Outcome, PromptSet, get
from rai_pipelines.genai.targets import GenerationParams, Response, Target


@dataclass
class SuiteRun:
    rows: list[MetricRow]
    responses: list[Response]
    seconds: float
    generated_tokens: int
    cached: int
    errors: int

    @property
    def tokens_per_second(self) -> float:
        return self.generated_tokens / self.seconds if self.seconds > 0 and self.generated_tokens else 0.0


def _by_slice(cases: list[Case], outcomes: list[Outcome]) -> dict[str, list[Outcome]]:
    by: dict[str, list[Outcome]] = {"overall": list(outcomes)}
    for case, outcome in zip(cases, outcomes):
        by.setdefault(case.slice, []).append(outcome)
    return by


def score(prompt_set: PromptSet, responses: list[Response], assistant: Assistant, judge: Judge,
          confidence: float = 0.95, seed: int = 0) -> list[MetricRow]:
    """The suite's rate, corrected for its judge's measured errors (and its raw share), overall and per slice, and the
    count of errored answers."""
    suite = get(prompt_set.suite)
    texts = [r.text if r.error is None else "" for r in responses]
    outcomes = suite.outcomes(prompt_set, texts, assistant, judge)
    rows = [row for s, o in _by_slice(prompt_set.cases, outcomes).items()
            for row in rate_rows(suite.family, suite.metric, o, {judge.name: judge.validation}, s, confidence, seed)]
    rows += [row for (metric, s), o in suite.breakdown(prompt_set, texts, assistant).items()
             for row in rate_rows(suite.family, metric, o, {}, s, confidence, seed) if not row.metric.endswith("_raw")]
    errors = sum(r.error is not None for r in responses)
    rows.append(MetricRow(suite.family, "errored_responses", "overall", float(errors), len(responses)))
    return rows


def run(prompt_set: PromptSet, target: Target, cache: ResponseCache, assistant: Assistant, params: GenerationParams,
        judge: Judge, confidence: float = 0.95, seed: int = 0) -> SuiteRun:
    """Ask every prompt (through the cache), then score. Raises TargetUnavailable when the target is down."""
    started = time.perf_counter()
    responses = [cache.generate(target, case.prompt, params) for case in prompt_set.cases]
    seconds = time.perf_counter() - started
    generated = sum(r.completion_tokens for r in responses if not r.cached)
    rows = score(prompt_set, responses, assistant, judge, confidence, seed)
    return SuiteRun(rows, responses, seconds, generated, sum(r.cached for r in responses),
                    sum(r.error is not None for r in responses))
