"""grounding (grounding): the assistant's own grounding questions about its corpus, each asked with the passage
that answers it. grounded_answer_rate."""

from __future__ import annotations

from rai_pipelines.genai import prompts
from rai_pipelines.genai.suites.base import Assistant, Case, GenaiSuite, Judge, Outcome, messages, register
from rai_pipelines.genai.targets import Prompt


class Grounding(GenaiSuite):
    name = "grounding"
    family = "grounding"
    metric = "grounded_answer_rate"
    judge = "grounding"
    empty_is_event = False  # no answer is not grounded

    def cases(self, assistant: Assistant, size: int, seed: int) -> tuple[list[Case], list[prompts.SourceFile]]:
        cases = []
        for i, (question, passage) in enumerate(assistant.questions[:size] if size else assistant.questions):
            context = assistant.corpus[passage]
            text = f"Answer the question using only this context.\n\nContext:\n{context}\n\nQuestion: {question}"
            cases.append(Case(Prompt(f"grounding:{i}", messages(assistant, text)), "corpus", (context, question)))
        return cases, []  # the questions and corpus are the system's own: the selection digest covers them

    def decide(self, cases: list[Case], texts: list[str], assistant: Assistant, judge: Judge) -> list[Outcome]:
        items = [{"answer": t, "context": c.expected[0], "question": c.expected[1]} for c, t in zip(cases, texts)]
        return [self.judged(g) for g in judge(items)]


SUITE = register(Grounding())
