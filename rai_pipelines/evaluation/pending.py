"""Which evaluations are missing: what the registry sensor requests, what `rai catalog plan` shows and what
`rai evaluate` skips, as plain functions over the catalog, the registry and the warehouse, so that all of them
share one answer."""

from __future__ import annotations

from dataclasses import dataclass

from mlflow import MlflowClient

from rai_pipelines.catalog import Catalog, System
from rai_pipelines.data import versions
from rai_pipelines.data.snapshots import DatasetStore
from rai_pipelines.digest import sha256_json
from rai_pipelines.evaluation.probing_inputs import compared_champion
from rai_pipelines.evaluation.record import evaluation_id
from rai_pipelines.modeling import registry
from rai_pipelines.modeling.predictions import logged_version, logged_versions
from rai_pipelines.names import CHAMPION, DATA_QUALITY
from rai_pipelines.quality import record as quality
from rai_pipelines.warehouse import Warehouse


def evaluation_ids(catalog: Catalog, system: System, client: MlflowClient, dataset, model_versions: list) -> dict[str, dict[str, str]]:
    """Per model version, per suite, the id its evaluation on this dataset version has: the same model artifact,
    dataset digest, suite definition, code version (and champion, for a comparison or the attributions) give the
    same id."""
    suites = catalog.evaluation_suites(system)
    baselines = {
        s.name: registry.by_alias(client, system.registry_name, s.baseline_alias) for s in suites if s.family == "regression"
    }
    champion = registry.by_alias(client, system.registry_name, CHAMPION)  # once, not per version
    return {mv.version: {s.name: evaluation_id(system, s, mv, dataset,
                                               compared_champion(champion, mv) if s.family == "attributions"
                                               else baselines.get(s.name)) for s in suites}
            for mv in model_versions}


def done_evaluations(warehouse: Warehouse, system: System) -> set[str]:
    return set(warehouse.frame("select run_id from evaluation_runs where system = ? and status = 'ok'", [system.name]).run_id)


def decided_versions(catalog: Catalog, system: System, client: MlflowClient, store: DatasetStore, warehouse: Warehouse,
                     dataset_key: str, model_versions: list[str]) -> dict[str, str]:
    """Of these model versions, those with nothing left to do on this dataset version, and their verdicts: every
    suite's evaluation is fresh, the gate deciding now would record the very decision it recorded (same evidence,
    policy, tier, waivers, release window and gate code: the decision's identity), and a released version has its
    evidence bundle."""
    from rai_pipelines import gate
    from rai_pipelines.warehouse import reads

    wanted = [mv for mv in registry.versions(client, system.registry_name) if mv.version in set(model_versions)]
    dataset, _ = store.load(system, dataset_key)
    ids, done = evaluation_ids(catalog, system, client, dataset, wanted), done_evaluations(warehouse, system)
    out = {}
    for mv in wanted:
        if not set(ids[mv.version].values()) <= done:
            continue
        recorded = reads.latest_decision(warehouse, system.name, mv.version, dataset_key)
        if recorded is None:
            continue
        now = gate.decide_from_warehouse(system, catalog.policy, mv.version, warehouse, dataset_key, catalog.suite_digests(system))
        if now.decision_id != recorded.decision_id or now.risk_tier != recorded.risk_tier:
            continue
        if now.verdict == gate.PASS and warehouse.frame("select count(*) as n from evidence_bundles where decision_id = ?",
                                                        [now.decision_id]).n[0] == 0:
            continue
        out[mv.version] = now.verdict
    return out


def ingested(catalog: Catalog, system: System, warehouse: Warehouse, dataset_key: str) -> bool:
    """Whether a dataset version's ingest has nothing left to do: registered, its quality check computed by the
    current suite and code, its drift by the current drift code (a changed drift suite is re-run by the nightly
    schedule, or `rai evaluate --force`)."""
    from rai_pipelines.code_version import code_version

    if not warehouse.exists("dataset_versions", system.name, dataset_key):
        return False
    for table, name in (("quality_results", DATA_QUALITY), ("drift_results", "drift")):
        suite = catalog.dataset_suite(system, name)
        if suite is None:
            continue
        digest = "suite_digest" if table == "quality_results" else "null"  # drift's run id carries its suite digest
        done = warehouse.frame(f"select distinct code_version, {digest} as suite_digest from {table} "
                               "where system = ? and dataset_version = ?", [system.name, dataset_key])
        current = (done.code_version == code_version(suite.family)) & ((done.suite_digest == suite.digest) if digest != "null" else True)
        if not current.any():
            return False
    return True


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
    done = done_evaluations(warehouse, system)
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
        ids_by_version = evaluation_ids(catalog, system, client, dataset, candidates)
        for mv in candidates:
            ids = list(ids_by_version[mv.version].values())
            if not set(ids) <= done:
                requests.append(EvaluationRequest(mv.version, key, f"evaluate:{mv.version}:{key}:{sha256_json(ids)[:16]}"))
    return [m.version for m in model_versions], requests
