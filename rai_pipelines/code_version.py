"""The code version recorded with every evaluation and used to skip unchanged work."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from rai_pipelines import __version__

_PACKAGE_DIR = Path(__file__).parent


@lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus a digest of the package's Python sources.

    A digest rather than a git commit: it is right in a wheel, a dirty tree or
    a fresh clone alike, and changes exactly when the code that computes
    results changes.
    """
    h = hashlib.sha256()
    for path in sorted(_PACKAGE_DIR.rglob("*.py")):
        h.update(str(path.relative_to(_PACKAGE_DIR)).encode())
        h.update(path.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"
