"""Dataset versions: validated, content-addressed snapshots of a data window.

A dataset version is identified by its content digest; its partition key is
`<window label>.<first 12 digest chars>`, readable in the Dagster UI and unique
per content. Snapshots are written once (temp file, then rename) and verified
against their digest when read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rai_pipelines.atomic import atomic_path
from rai_pipelines.catalog import System
from rai_pipelines.data.sources import PRODUCTION, Window, describe, read_window, window_by_label
from rai_pipelines.data.validation import normalize
from rai_pipelines.digest import frame_digest, short
from rai_pipelines.errors import DataError


@dataclass(frozen=True)
class DatasetVersion:
    system: str
    key: str
    label: str
    kind: str
    digest: str
    rows: int
    source: str
    schema: dict[str, str]
    path: str
    labelled: int  # rows whose label has landed (all of them, unless labels are delivered apart and late)

    @property
    def labels_pending(self) -> bool:
        return self.labelled < self.rows


def partition_key(label: str, digest: str) -> str:
    return f"{label}.{short(digest)}"


def split_key(key: str) -> tuple[str, str]:
    label, _, digest12 = key.rpartition(".")
    if not label or len(digest12) != 12:
        raise DataError(f"{key!r} is not a dataset version key; expected '<window>.<12-char digest>'")
    return label, digest12


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


class DatasetStore:
    """Snapshots under `<root>/<system>/<label>.<digest>.parquet`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, system: str, label: str, digest: str) -> Path:
        return self.root / system / f"{label}.{digest}.parquet"

    def snapshot(self, system: System, window: Window, write: bool = True) -> tuple[DatasetVersion, pd.DataFrame]:
        """Read, validate and store a window (or only look: `write` False); the same content always yields the same
        version."""
        frame = normalize(system, read_window(system, window), f"{system.name} window {window.label} "
                          f"({describe(system, window)})", production=window.kind == PRODUCTION)
        return self.store(system, window, frame, write), frame

    def store(self, system: System, window: Window, frame: pd.DataFrame, write: bool = True) -> DatasetVersion:
        digest = frame_digest(frame)
        path = self._path(system.name, window.label, digest)
        if write and not path.exists():
            write_parquet(frame, path)
        return DatasetVersion(
            system=system.name,
            key=partition_key(window.label, digest),
            label=window.label,
            kind=window.kind,
            digest=digest,
            rows=len(frame),
            source=describe(system, window),
            schema={c: str(t) for c, t in frame.dtypes.items()},
            path=str(path),
            labelled=int(frame[system.data.label].notna().sum()),
        )

    def load(self, system: System, key: str) -> tuple[DatasetVersion, pd.DataFrame]:
        """The frame of a dataset version, rebuilt from its source if no snapshot is on disk.

        Fails when the bytes no longer match the digest in the key: a changed
        source is a new dataset version, never silently the old one.
        """
        label, digest12 = split_key(key)
        window = window_by_label(system, label)
        found = sorted((self.root / system.name).glob(f"{label}.{digest12}*.parquet"))
        if found:
            frame = pd.read_parquet(found[0])
            digest = frame_digest(frame)
            if short(digest) != digest12:
                raise DataError(f"{found[0]}: content does not match its digest {digest12}; "
                                "the snapshot was modified, delete it to rebuild")
            return self.store(system, window, frame), frame
        version, frame = self.snapshot(system, window)
        if short(version.digest) != digest12:
            raise DataError(
                f"dataset version {key!r} of {system.name!r}: the source now has digest {short(version.digest)}; "
                f"it changed since this version was registered, evaluate the new version instead"
            )
        return version, frame
