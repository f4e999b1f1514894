"""The metrics by name (tabular, and the GenAI suites' rates), and which way each one is harmful.

The one list the engines compute (`confusion.py`, `engine.py`, `paired.py`)
and the catalog validates suites and regression checks against. It imports
no engine (nor numpy), so the catalog reads it without loading them.
"""

from __future__ import annotations

from rai_pipelines.errors import DataError

# Confusion-matrix proportions, in the order reports list them (their formulas: confusion.PROPORTIONS).
CONFUSION_METRICS = ("selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy")
SCORE_METRICS = ("auc", "ece")  # need a score column
ALL_METRICS = (*CONFUSION_METRICS, *SCORE_METRICS)

# The rates the GenAI suites report (genai/suites/), and whether a larger one is better.
GENAI_METRICS = {"attack_success_rate": False, "refusal_rate": True, "toxic_output_rate": False, "leakage_pass_rate": True,
                 "hallucination_rate": False, "grounded_answer_rate": True}

# Whether a larger value is better; None: neither direction is harmful (a selection rate is a policy choice).
HIGHER_IS_BETTER = {"selection_rate": None, "tpr": True, "fpr": False, "fnr": False, "precision": True, "accuracy": True,
                    "auc": True, "ece": False, **GENAI_METRICS}


def has_harmful_direction(metric: str) -> bool:
    """Whether a change of `metric` can be judged a regression: a directed metric, or any between-group
    difference ('tpr_difference'), whose growth is always harm."""
    return metric.endswith("_difference") or HIGHER_IS_BETTER.get(metric) is not None


def lower_is_better(metric: str) -> bool:
    if not has_harmful_direction(metric):
        raise DataError(f"metric {metric!r} has no harmful direction; regression cannot be judged on it")
    return metric.endswith("_difference") or not HIGHER_IS_BETTER[metric]
