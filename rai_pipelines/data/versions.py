"""The register of dataset versions in the warehouse: which windows arrived, when, with what digest."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from rai_pipelines.catalog import System
from rai_pipelines.data.snapshots import DatasetStore, DatasetVersion
from rai_pipelines.data.sources import PRODUCTION, feed_windows, replayed, window_for_night
from rai_pipelines.errors import DataError
from rai_pipelines.warehouse import Warehouse


def record(warehouse: Warehouse, version: DatasetVersion) -> None:
    """Idempotent: the first arrival time of a version is kept on re-materialization."""
    if warehouse.exists("dataset_versions", version.system, version.key):
        return
    warehouse.write(
        "dataset_versions",
        version.system,
        version.key,
        [
            {
                "system": version.system,
                "dataset_version": version.key,
                "label": version.label,
                "kind": version.kind,
                "digest": version.digest,
                "rows": version.rows,
                "source": version.source,
                "schema": json.dumps(version.schema),
                "registered_at": datetime.now(UTC),
                "labelled_rows": version.labelled,
            }
        ],
    )


def latest_production(warehouse: Warehouse, system: str) -> str | None:
    """The most recently arrived production dataset version, or None before the first night."""
    found = warehouse.frame(
        "select dataset_version from dataset_versions where system = ? and kind = ? order by registered_at desc limit 1",
        [system, PRODUCTION],
    )
    return None if found.empty else found.dataset_version.iloc[0]


def awaiting_labels(warehouse: Warehouse, system: str) -> list[str]:
    """Windows whose newest dataset version still waits for labels: a feed re-reads them until every label lands."""
    found = warehouse.frame(
        """select label from dataset_versions where system = ? and kind = ?
           qualify row_number() over (partition by label order by registered_at desc) = 1
               and labelled_rows < rows""", [system, PRODUCTION])
    return sorted(found.label)


def labels_landed(warehouse: Warehouse, system: str) -> list[str]:
    """Fully labelled dataset versions of windows that were estimated while their labels were pending, and that no
    realized evaluation has read yet: evaluating them is what checks the estimate."""
    found = warehouse.frame(
        """select v.dataset_version from dataset_versions v
           where v.system = ? and v.kind = ? and v.labelled_rows = v.rows
             and exists (select 1 from evaluation_runs e join dataset_versions w
                           on w.system = e.system and w.dataset_version = e.dataset_version
                         where e.system = v.system and e.basis = 'estimated' and w.label = v.label)
             and not exists (select 1 from evaluation_runs e where e.system = v.system and e.basis = 'realized'
                             and e.status = 'ok' and e.dataset_version = v.dataset_version)
           order by v.registered_at""", [system, PRODUCTION])
    return list(found.dataset_version)


def nightly_version(system: System, store: DatasetStore, night: date) -> DatasetVersion:
    """That night's production data, snapshotted (its key is content-addressed): the batch replayed that night, or
    the newest window a feed holds."""
    if replayed(system):
        return store.snapshot(system, window_for_night(system, night))[0]
    found = feed_windows(system)
    if not found:
        raise DataError(f"the production feed of {system.name!r} holds no complete window yet; "
                        "check data.production.source")
    return store.snapshot(system, found[-1])[0]
