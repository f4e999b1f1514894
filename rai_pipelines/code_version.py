"""Code versions: what makes a stored result stale.

A result is stale when the code that computed its numbers changed, and only
then. Each family's code version is a digest of the modules that compute it:
its engine module and every module of this package that engine imports,
followed transitively (read from the source with `ast`, nothing is imported).
Editing the command line, the demo or the report changes no family's version;
editing `evaluation/fairness.py` changes the fairness family's and nothing
else's; editing the shared engine or `stats/` changes every family built on
them. A digest rather than a git commit: it is right in a wheel, a dirty tree
or a fresh clone alike.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

from rai_pipelines import __version__

_PACKAGE_DIR = Path(__file__).parent
_PACKAGE = "rai_pipelines"

# The module that computes each family's numbers (and, for the gate, its decisions).
ENTRY = {
    "performance": "evaluation/performance.py",
    "fairness": "evaluation/fairness.py",
    "regression": ("evaluation/paired.py", "genai/comparison.py"),  # a classifier's paired changes, an assistant's
    "robustness": "evaluation/robustness.py",
    "counterfactual": "evaluation/counterfactual.py",
    "proxies": "evaluation/proxies.py",
    # What the model is asked on (the champion, the reference window, the training sample) is gathered there too.
    "attributions": ("evaluation/attributions.py", "evaluation/probing_inputs.py"),
    "membership": ("evaluation/membership.py", "evaluation/probing_inputs.py"),
    "data_quality": "quality/expectations.py",
    "drift": "drift/engine.py",
    # Runs and scores any GenAI suite; it imports the suites package, whose __init__ imports every suite module.
    "safety": "genai/suites/execution.py",
    "privacy": "genai/suites/execution.py",
    "grounding": "genai/suites/execution.py",
    "gate": "gate.py",
    # Not results a gate reads, but Dagster assets whose staleness the UI shows.
    "dataset": "data/snapshots.py",
    "model": "modeling/registry.py",
    "predictions": "modeling/predictions.py",
    "evidence": "evidence/release.py",
}


def _module_path(root: Path, dotted: str) -> Path | None:
    parts = dotted.split(".")[1:]
    candidate = root.joinpath(*parts)
    if candidate.with_suffix(".py").is_file():
        return candidate.with_suffix(".py")
    if (candidate / "__init__.py").is_file():
        return candidate / "__init__.py"
    return None


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None) if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _nodes(tree: ast.AST):
    """Every node, except inside `if TYPE_CHECKING:` (imports for annotations compute nothing)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        todo.extend(child for child in ast.iter_child_nodes(node) if not _type_checking(child))


def _imports(root: Path, path: Path) -> set[Path]:
    """Package modules `path` imports (absolute imports of rai_pipelines, anywhere in the file but under
    TYPE_CHECKING, function-level imports included)."""
    found = set()
    for node in _nodes(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name == _PACKAGE or name.startswith(_PACKAGE + "."):
                if (p := _module_path(root, name)) is not None:
                    found.add(p)
    return found


def closure(entry: str, root: Path = _PACKAGE_DIR) -> list[Path]:
    """The entry module and every package module it imports, transitively (the package's own __init__ excluded:
    it holds the version string, which is part of every code version anyway)."""
    seen: set[Path] = set()
    todo = [root / entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(_imports(root, path) - seen)
    return sorted(p for p in seen if p != root / "__init__.py")


@cache
def code_version(family: str, root: Path = _PACKAGE_DIR) -> str:
    """Package version plus a digest of the modules computing `family` (a key of ENTRY)."""
    if family not in ENTRY:
        raise KeyError(f"no code version for {family!r}; known: {sorted(ENTRY)}")
    entries = ENTRY[family] if isinstance(ENTRY[family], tuple) else (ENTRY[family],)
    h = hashlib.sha256()
    for path in sorted({p for entry in entries for p in closure(entry, root)}):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"
