"""`rai catalog plan SYSTEM`: what tonight's run of a tabular system would do, without doing it.

Which dataset versions the feed holds (new ones would be ingested; late rows in a known window are a new version),
which model versions the registry holds (and whether each loads under the policy), and which evaluations would run
on the newest dataset version and which are already fresh (same model artifact, dataset digest, suite definition
and code). Nothing is written: windows are read and hashed, not snapshotted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from mlflow import MlflowClient

from rai_pipelines.catalog import Catalog, System
from rai_pipelines.data import versions
from rai_pipelines.data.snapshots import DatasetStore, DatasetVersion
from rai_pipelines.data.sources import feed_windows, replayed, window_for_night
from rai_pipelines.errors import RaiError
from rai_pipelines.evaluation.pending import done_evaluations, evaluation_ids
from rai_pipelines.modeling import loading, registry
from rai_pipelines.modeling.predictions import kind_of, logged_version, logged_versions
from rai_pipelines.warehouse import Warehouse


@dataclass(frozen=True)
class DatasetLine:
    window: str
    key: str | None
    rows: int | None
    status: str  # "new", "known", "late data: a new version of a known window", or the error reading it


@dataclass(frozen=True)
class ModelLine:
    version: str
    status: str  # how it is trusted and loaded, or why it would be refused


@dataclass
class Plan:
    system: str
    datasets: list[DatasetLine] = field(default_factory=list)
    models: list[ModelLine] = field(default_factory=list)
    evaluate_on: str | None = None
    to_run: list[tuple[str, str]] = field(default_factory=list)  # (model version, suite)
    fresh: list[tuple[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"plan for {self.system} tonight"]
        out.append("dataset versions:")
        out += [f"  {d.window:<22} {d.key or '-':<36} {'' if d.rows is None else f'{d.rows} rows':>10}  {d.status}"
                for d in self.datasets] or ["  (the feed holds no complete window yet)"]
        out.append("model versions:")
        out += [f"  v{m.version:<6} {m.status}" for m in self.models] or ["  (none registered)"]
        if self.evaluate_on is None:
            out.append("evaluations: none (no production dataset version yet)")
            return out
        out.append(f"evaluations on {self.evaluate_on}:")
        out += [f"  run    v{v:<6} {s}" for v, s in self.to_run]
        out += [f"  fresh  v{v:<6} {s}" for v, s in self.fresh]
        return out


def plan(catalog: Catalog, system: System, client: MlflowClient, store: DatasetStore, warehouse: Warehouse,
         now: datetime | None = None) -> Plan:
    now = now or datetime.now(UTC)
    result = Plan(system.name)
    known = warehouse.frame("select dataset_version, label from dataset_versions where system = ?", [system.name])
    known_keys, known_labels = set(known.dataset_version), set(known.label)
    windows = [window_for_night(system, now.date())] if replayed(system) else feed_windows(system, now)
    newest: tuple[DatasetVersion, object] | None = None
    for window in windows:
        try:
            version, frame = store.snapshot(system, window, write=False)
        except RaiError as exc:
            result.datasets.append(DatasetLine(window.label, None, None, f"refused: {exc}"))
            continue
        status = ("known" if version.key in known_keys else
                  "late data: a new version of a known window" if window.label in known_labels else "new")
        result.datasets.append(DatasetLine(window.label, version.key, version.rows, status))
        newest = (version, frame)
    latest_known = versions.latest_production(warehouse, system.name)
    if newest is not None and newest[0].key not in known_keys:
        dataset, frame = newest
    elif latest_known is not None:
        dataset, frame = store.load(system, latest_known)
    else:
        dataset = frame = None
    model_versions = registry.versions(client, system.registry_name)
    if system.logged and frame is not None:  # versions appear in the registry when their predictions are ingested
        present = set(logged_versions(system, frame))
        seen = {logged_version(mv) for mv in model_versions}
        result.models += [ModelLine(v, "logged predictions; registered when this dataset version is ingested")
                          for v in sorted(present - seen)]
        model_versions = [mv for mv in model_versions if logged_version(mv) in present]
    for mv in model_versions:
        result.models.append(ModelLine(mv.version, _model_status(catalog, system, mv, client)))
    if dataset is None:
        return result
    result.evaluate_on = dataset.key
    done = done_evaluations(warehouse, system)
    for version, suites in evaluation_ids(catalog, system, client, dataset, model_versions).items():
        for suite, evaluation in suites.items():
            (result.fresh if evaluation in done else result.to_run).append((version, suite))
    return result


def _model_status(catalog: Catalog, system: System, mv: registry.ModelVersion, client: MlflowClient) -> str:
    if system.logged or mv.artifact_sha256:
        return kind_of(system, mv)
    policy = catalog.policy.model_loading
    try:
        loadable = loading.inspect(client, mv, policy)  # its MLmodel file only: nothing is deserialized
    except RaiError as exc:
        return f"refused: {exc}"
    if policy.trust_on_first_sight:
        return (f"{loadable.flavor}/{loadable.serialization}, no digest yet: trusted on first sight tonight (its digest "
                "recorded, then verified on every load)")
    return f"refused: no recorded digest and the policy does not trust on first sight; run `rai model register {system.name} {mv.version}`"
