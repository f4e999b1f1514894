"""Which evaluations are missing: what the registry sensor requests, as a plain function over the catalog,
the registry and the warehouse, so that the sensor, the demo and the tests share one answer."""

from __future__ import annotations

from dataclasses import dataclass

from mlflow import MlflowClient

from rai_pipelines.catalog import Catalog, System
from rai_pipelines.data import versions
from rai_pipelines.data.snapshots import DatasetStore
from rai_pipelines.digest import sha256_json
from rai_pipelines.evaluation.record import evaluation_id
from rai_pipelines.modeling import registry
from rai_pipelines.modeling.predictions import logged_version, logged_versions
from rai_pipelines.names import DATA_QUALITY
from rai_pipelines.quality import record as quality
from rai_pipelines.warehouse import Warehouse


@dataclass(frozen=True)
class EvaluationRequest:
    model_version: str
    dataset_version: str
    run_key: str


def pending_evaluations(
    catalog: Catalog, system: System, client: MlflowClient, store: DatasetStore, warehouse: Warehouse
) -> tuple[list[str], list[EvaluationRequest]]:
    """Every registered model version on the newest production dataset version (and on any window whose labels
    have just landed, so that its estimate meets its realized value), minus evaluations that already exist for the
    same model artifact, dataset digest, suites and code version. Returns (model versions, requests)."""
    model_versions = registry.versions(client, system.registry_name)
    latest = versions.latest_production(warehouse, system.name)
    datasets = list(dict.fromkeys([*([latest] if latest else []), *versions.labels_landed(warehouse, system.name)]))
    done = set(warehouse.frame("select run_id from evaluation_runs where system = ? and status = 'ok'", [system.name]).run_id)
    suites = catalog.evaluation_suites(system)
    baselines = {
        s.name: registry.by_alias(client, system.registry_name, s.baseline_alias) for s in suites if s.family == "regression"
    }
    requests = []
    for key in datasets:
        if catalog.dataset_suite(system, DATA_QUALITY) is not None and quality.passed(warehouse, system.name, key) is not True:
            continue  # blocked until the version passes its data-quality check
        dataset, frame = store.load(system, key)
        if system.logged:  # only the versions whose predictions this dataset version logged
            present = set(logged_versions(system, frame))
            candidates = [mv for mv in model_versions if logged_version(mv) in present]
        else:
            candidates = model_versions
        for mv in candidates:
            ids = [evaluation_id(system, s, mv, dataset, baselines.get(s.name)) for s in suites]
            if not set(ids) <= done:
                requests.append(EvaluationRequest(mv.version, key, f"evaluate:{mv.version}:{key}:{sha256_json(ids)[:16]}"))
    return [m.version for m in model_versions], requests
