"""Reading the data a system declares: files on disk or shipped inside packages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import numpy as np
import pandas as pd

from rai_pipelines.catalog import FileSource, System
from rai_pipelines.errors import DataError, UsageError

REFERENCE = "reference"
PRODUCTION = "production"


def resolve(source: FileSource) -> Path:
    if source.package is None:
        return Path(source.path)
    try:
        dist = distribution(source.package)
    except PackageNotFoundError:
        raise DataError(
            f"data package {source.package!r} is not installed; run `make setup` (it installs it with --no-deps)"
        ) from None
    return Path(str(dist.locate_file(source.path)))


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, with a one-line error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; give the path of a CSV or Parquet file")
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        if suffix in {".csv", ".txt"}:
            return pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file to the user
        raise DataError(f"{path}: cannot be read as {suffix.lstrip('.')} ({type(exc).__name__}); check the file") from None
    raise DataError(f"{path}: unsupported file type {suffix or '(none)'}; use .csv or .parquet")


@dataclass(frozen=True)
class Window:
    """A named slice of a system's data: the reference window or one replayed batch."""

    kind: str  # REFERENCE or PRODUCTION
    label: str
    period: int | None = None
    batch: int | None = None  # 0-based within the period
    night: date | None = None


def reference_window(system: System) -> Window:
    return Window(kind=REFERENCE, label=f"reference-{system.data.reference.period}")


def production_windows(system: System) -> list[Window]:
    replay = system.data.production.replay
    windows = []
    for period in replay.periods:
        for b in range(replay.batches_per_period):
            night = replay.start_date + timedelta(days=len(windows))
            windows.append(Window(PRODUCTION, f"{period}-b{b + 1:02d}", period, b, night))
    return windows


def window_for_night(system: System, night: date) -> Window:
    """The batch replayed on a given night; the replay wraps around after the last batch."""
    windows = production_windows(system)
    offset = (night - system.data.production.replay.start_date).days
    if offset < 0:
        raise UsageError(
            f"{night} is before the replay start {system.data.production.replay.start_date} of system {system.name!r}"
        )
    return windows[offset % len(windows)]


def window_by_label(system: System, label: str) -> Window:
    if label == reference_window(system).label:
        return reference_window(system)
    for w in production_windows(system):
        if w.label == label:
            return w
    raise UsageError(f"system {system.name!r} has no data window {label!r}")


def read_window(system: System, window: Window) -> pd.DataFrame:
    """Raw rows of a window, labels joined in; not yet validated."""
    data = system.data
    if window.kind == REFERENCE:
        return read_table(resolve(data.reference.source))
    prod = data.production
    frame = read_table(resolve(prod.source))
    if prod.labels is not None:
        labels = read_table(resolve(prod.labels))
        if prod.labels.join_on not in labels.columns or prod.labels.join_on not in frame.columns:
            raise DataError(f"{resolve(prod.labels)}: join column {prod.labels.join_on!r} missing; check data.production.labels.join_on")
        frame = frame.merge(labels, on=prod.labels.join_on, how="left", validate="one_to_one")
    col = prod.replay.period_column
    if col not in frame.columns:
        raise DataError(f"{resolve(prod.source)}: column {col!r} missing; check data.production.replay.period_column")
    period = frame[frame[col] == window.period].sort_values(data.id_column, kind="stable")
    chunks = np.array_split(np.arange(len(period)), prod.replay.batches_per_period)
    return period.iloc[chunks[window.batch]].reset_index(drop=True)
