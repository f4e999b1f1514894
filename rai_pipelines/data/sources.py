"""The windows of a system's data: the reference, and production cut into replayed batches or read from a
partitioned source's own windows (data/feeds.py), with delivered labels joined in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from rai_pipelines.catalog import System
from rai_pipelines.data import feeds
from rai_pipelines.errors import DataError, UsageError

REFERENCE = "reference"
PRODUCTION = "production"


@dataclass(frozen=True)
class Window:
    """A named slice of a system's data: the reference window, one replayed batch, or one window of a feed."""

    kind: str  # REFERENCE or PRODUCTION
    label: str
    period: int | None = None  # replay: the period and 0-based batch within it
    batch: int | None = None
    night: date | None = None
    feed: feeds.FeedWindow | None = None  # a partitioned source's window


def reference_window(system: System) -> Window:
    return Window(kind=REFERENCE, label=f"reference-{system.data.reference.period}")


def replayed(system: System) -> bool:
    return system.data.production.replay is not None


def production_windows(system: System) -> list[Window]:
    """A replayed system's nightly batches, in order."""
    replay = system.data.production.replay
    windows = []
    for period in replay.periods:
        for b in range(replay.batches_per_period):
            night = replay.start_date + timedelta(days=len(windows))
            windows.append(Window(PRODUCTION, f"{period}-b{b + 1:02d}", period, b, night))
    return windows


def feed_windows(system: System, now: datetime | None = None) -> list[Window]:
    """A feed's newest windows (partitioned files, or complete windows of a SQL source), oldest first."""
    return [Window(PRODUCTION, w.label, feed=w) for w in feeds.windows(system.data.production.source, now)]


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
    if not replayed(system):
        return Window(PRODUCTION, label, feed=feeds.window_named(system.data.production.source, label))
    for w in production_windows(system):
        if w.label == label:
            return w
    raise UsageError(f"system {system.name!r} has no data window {label!r}")


def describe(system: System, window: Window) -> str:
    """Where a window's rows come from (lineage; no credentials)."""
    if window.kind == REFERENCE:
        return feeds.describe(system.data.reference.source)
    return f"{feeds.describe(system.data.production.source)}#{window.label}"


def read_window(system: System, window: Window) -> pd.DataFrame:
    """Raw rows of a window, labels joined in; not yet validated."""
    data = system.data
    if window.kind == REFERENCE:
        return feeds.read_all(data.reference.source)
    prod = data.production
    frame = _replayed_batch(system, window) if window.feed is None else feeds.read(prod.source, window.feed)
    if prod.labels is None:
        return frame
    labels, key = feeds.read_all(prod.labels.source), prod.labels.join_on
    where = feeds.describe(prod.labels.source)
    if key not in labels.columns or key not in frame.columns:
        raise DataError(f"{where}: join column {key!r} missing; check data.production.labels.join_on")
    if data.label not in labels.columns:
        raise DataError(f"{where}: label column {data.label!r} missing; check data.label")
    if labels[key].duplicated().any():
        raise DataError(f"{where}: {int(labels[key].duplicated().sum())} rows repeat a {key!r} already labelled; "
                        "deliver one label per row")
    return frame.drop(columns=[data.label], errors="ignore").merge(labels[[key, data.label]], on=key, how="left")


def _replayed_batch(system: System, window: Window) -> pd.DataFrame:
    data, prod = system.data, system.data.production
    frame = feeds.read_all(prod.source)
    col = prod.replay.period_column
    if col not in frame.columns:
        raise DataError(f"{feeds.describe(prod.source)}: column {col!r} missing; check data.production.replay.period_column")
    period = frame[frame[col] == window.period].sort_values(data.id_column, kind="stable")
    chunks = np.array_split(np.arange(len(period)), prod.replay.batches_per_period)
    return period.iloc[chunks[window.batch]].reset_index(drop=True)
