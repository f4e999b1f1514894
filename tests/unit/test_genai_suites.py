"""The GenAI suite registry: one object per suite, found by the name a suite YAML gives in `genai:`."""

import pytest

from rai_pipelines.catalog import GENAI_FAMILIES
from rai_pipelines.genai import suites
from rai_pipelines.genai.suites.base import GenaiSuite


def test_an_unknown_suite_name_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown GenAI suite 'nope'; known: .*'jailbreak'"):
        suites.get("nope")


def test_each_registered_suite_declares_its_rate_and_the_judge_that_corrects_it(catalog):
    for name, suite in suites.REGISTRY.items():
        assert isinstance(suite, GenaiSuite) and suite.name == name
        assert suite.family in GENAI_FAMILIES
        assert suite.judge in catalog.judges, f"{name}: judge {suite.judge!r} has no validation counts"
    metrics = [(s.family, s.metric) for s in suites.REGISTRY.values()]
    assert len(set(metrics)) == len(metrics)  # a check finds its suite by (family, metric)


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="registered twice"):
        suites.register(suites.get("toxicity"))


def test_every_suite_builds_its_prompts_and_decides_an_empty_answer_exactly(catalog):
    from rai_pipelines.genai import record

    assistant = record.assistant(catalog.system("support_assistant"))
    for name, suite in suites.REGISTRY.items():
        prompt_set = suites.build(name, assistant, 2)
        assert prompt_set.suite == name and prompt_set.cases
        assert prompt_set.digest == suite.build(assistant, 2).digest
        outcomes = suite.outcomes(prompt_set, [""] * len(prompt_set.cases), assistant)
        assert {(o.event, o.judge) for o in outcomes} == {(suite.empty_is_event, None)}
