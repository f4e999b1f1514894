"""Every automatic judge is measured on a labelled set; the counts the catalog reads are the ones the code gives."""

from rai_pipelines.genai.validation import load, measure
from tests.support import ROOT


def test_recorded_judge_counts_are_what_the_judges_give_on_their_labelled_sets():
    recorded = load(ROOT / "assets")
    assert set(recorded) == {"refusal", "toxicity", "leakage", "grounding", "hallucination"}
    assert measure(ROOT / "assets") == recorded  # regenerate: python -m rai_pipelines.genai.validation assets/


def test_each_labelled_set_has_both_classes_in_numbers():
    for name, v in load(ROOT / "assets").items():
        assert v.true_pos + v.false_neg >= 20 and v.true_neg + v.false_pos >= 20, name


def test_the_catalog_carries_the_counts_to_scoring(catalog):
    assert catalog.judges == load(ROOT / "assets")


def test_the_shipped_judge_heads_are_what_training_on_the_development_sets_gives(tmp_path):
    import numpy as np

    from rai_pipelines.genai import heads
    from rai_pipelines.genai.judge_training import SPECS, write

    retrained = write(ROOT / "assets", tmp_path)  # regenerate: python -m rai_pipelines.genai.judge_training assets/
    for name in SPECS:
        shipped = heads.load(name)
        assert shipped.trained_on == retrained[name].trained_on and shipped.regularization == retrained[name].regularization
        # Embeddings carry float noise across machines: the coefficients agree closely, and so do the calls.
        assert np.allclose(shipped.weights, retrained[name].weights, atol=1e-3), name
