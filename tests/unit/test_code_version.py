"""Results go stale only when what computes them changes: code versions per family."""

import shutil
from pathlib import Path

import pytest

import rai_pipelines
from rai_pipelines.code_version import ENTRY, closure, code_version

PACKAGE = Path(rai_pipelines.__file__).parent
FAMILIES = sorted(ENTRY)
RESULTS = ["performance", "fairness", "regression", "data_quality", "drift", "safety", "privacy", "grounding"]


@pytest.fixture
def package(tmp_path):
    copy = tmp_path / "rai_pipelines"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _versions(root: Path) -> dict[str, str]:
    code_version.cache_clear()
    return {f: code_version(f, root) for f in FAMILIES}


def _edit(path: Path) -> None:
    path.write_text(path.read_text() + "\n# an edit\n")


@pytest.mark.parametrize("edited", ["cli/__init__.py", "cli/run.py", "orchestration/demo.py", "report/trends.py",
                                    "report/figures.py"])
def test_editing_the_cli_demo_or_report_leaves_every_result_fresh(package, edited):
    before = _versions(package)
    _edit(package / edited)
    assert _versions(package) == before


def test_editing_the_fairness_module_makes_only_fairness_results_stale(package):
    before = _versions(package)
    _edit(package / "evaluation" / "fairness.py")
    after = _versions(package)
    assert {f for f in FAMILIES if after[f] != before[f]} == {"fairness"}  # not even the gate's


def test_editing_shared_statistics_makes_every_family_built_on_them_stale(package):
    before = _versions(package)
    _edit(package / "stats" / "intervals.py")
    after = _versions(package)
    changed = {f for f in FAMILIES if after[f] != before[f]}
    assert {"performance", "fairness", "regression", "safety", "privacy", "grounding", "gate"} <= changed
    assert "drift" not in changed and "data_quality" not in changed


def test_the_gate_has_a_code_version_of_its_own(package):
    before = _versions(package)
    _edit(package / "gate.py")
    after = _versions(package)
    assert after["gate"] != before["gate"]
    assert all(after[f] == before[f] for f in RESULTS)  # decisions are re-made; evaluations stay fresh


def test_closures_follow_imports_into_the_engines():
    names = {p.relative_to(PACKAGE).as_posix() for p in closure(ENTRY["performance"])}
    assert {"evaluation/performance.py", "evaluation/engine.py", "evaluation/confusion.py", "stats/intervals.py"} <= names
    assert "evaluation/fairness.py" not in names and not any(n.startswith(("cli/", "orchestration/")) for n in names)


def test_genai_results_cover_every_suite_module_and_the_scoring_statistics():
    suite_modules = {f"genai/suites/{p.name}" for p in (PACKAGE / "genai" / "suites").glob("*.py")}
    for family in ("safety", "privacy", "grounding"):
        names = {p.relative_to(PACKAGE).as_posix() for p in closure(ENTRY[family])}
        assert suite_modules | {"genai/scoring.py", "genai/judges.py", "stats/judged.py"} <= names, family


def test_editing_one_genai_suite_makes_the_genai_results_stale_and_no_tabular_one(package):
    before = _versions(package)
    _edit(package / "genai" / "suites" / "toxicity.py")
    after = _versions(package)
    changed = {f for f in RESULTS if after[f] != before[f]}
    assert changed == {"safety", "privacy", "grounding"}
