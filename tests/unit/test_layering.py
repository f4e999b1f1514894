"""The layering README's "where things live" describes, read from the source: engines below, Dagster above, the
CLI on top, and no module reaching for another's private names."""

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGE = ROOT / "rai_pipelines"
DAGSTER_LAYER = ("orchestration/", "definitions.py")


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names imported from it) for every import in the file, lazy ones inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def test_the_tree_is_read():
    assert len(MODULES) > 50 and any(_rel(p) == "orchestration/assets.py" for p in MODULES)


@pytest.mark.parametrize("path", [p for p in MODULES if not _rel(p).startswith((*DAGSTER_LAYER, "cli/"))], ids=_rel)
def test_engines_import_neither_dagster_nor_the_layers_above(path):
    for module, _ in _imports(path):
        assert module.split(".")[0] != "dagster", f"{_rel(path)} imports {module}"
        assert not module.startswith(("rai_pipelines.orchestration", "rai_pipelines.definitions", "rai_pipelines.cli")), (
            f"{_rel(path)} imports {module}, a layer above it")


@pytest.mark.parametrize("path", [p for p in MODULES if _rel(p).startswith(DAGSTER_LAYER)], ids=_rel)
def test_the_dagster_layer_does_not_import_the_cli(path):
    assert not any(m.startswith("rai_pipelines.cli") for m, _ in _imports(path)), _rel(path)


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_no_module_imports_another_modules_private_names(path):
    for module, names in _imports(path):
        if module.startswith("rai_pipelines"):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"{_rel(path)} imports {private} from {module}"
