"""Every benchmark still imports against the current package: they run by hand, so nothing else would notice."""

import importlib

import pytest

from tests.support import ROOT

BENCHMARKS = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if not p.stem.startswith("_"))


def test_there_are_benchmarks():
    assert {"gate_validity", "interval_coverage"} <= set(BENCHMARKS)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_imports(name):
    module = importlib.import_module(f"benchmarks.{name}")
    assert callable(getattr(module, "main", None)), f"benchmarks/{name}.py has no main()"
