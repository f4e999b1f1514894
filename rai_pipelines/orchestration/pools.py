"""Dagster pools for the CPU-bound steps, sized to the machine's cores so concurrent runs queue instead of
oversubscribing (two GenAI suites and a test suite sharing 2 cores took ~21 minutes instead of 4).

- `rai_cpu`: the tabular families (bootstrap intervals, drift): one core each, as many at once as there are cores.
- `rai_llm`: llama.cpp generation: one at a time, with every core as its threads (genai/targets.py).
"""

from __future__ import annotations

import dagster as dg

from rai_pipelines.settings import cpu_cores

CPU = "rai_cpu"
LLM = "rai_llm"


def limits() -> dict[str, int]:
    return {CPU: cpu_cores(), LLM: 1}


def size(instance: dg.DagsterInstance) -> None:
    """Give the pools this machine's sizes where the instance has none yet. The slots live in the instance's storage
    and count across every worker of it: with several worker machines, set them to the cluster's total with
    `dagster instance concurrency set rai_cpu N` (and rai_llm to the number of machines); this never overwrites them."""
    storage = instance.event_log_storage
    for pool, slots in limits().items():
        info = storage.get_concurrency_info(pool)
        if info.using_default_limit or info.slot_count == 0:
            storage.set_concurrency_slots(pool, slots)
