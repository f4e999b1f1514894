"""`rai demo`: the embedded default end to end on real data.

Trains and registers the model versions (once), ingests the 2015 reference
window, then replays N nights of 2016-2018 production traffic: each night the
schedule ingests that night's batch and the registry sensor requests the
evaluations and gates. Everything runs through the same Dagster definitions as
the daemon would, on the persistent instance under $RAI_HOME.
"""

from __future__ import annotations

import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import dagster as dg
import numpy as np
from mlflow import MlflowClient

from rai_pipelines import lineage, waivers
from rai_pipelines.catalog import Catalog, System
from rai_pipelines.data import versions
from rai_pipelines.data.snapshots import DatasetStore
from rai_pipelines.data.sources import reference_window
from rai_pipelines.digest import canonical_json
from rai_pipelines.errors import RaiError
from rai_pipelines.evidence import keys
from rai_pipelines.evidence.bundle import verify
from rai_pipelines.evidence.release import build as build_evidence
from rai_pipelines.modeling import registry
from rai_pipelines.modeling.predictions import FEATURES_TAG
from rai_pipelines.modeling.training import RECIPES, train
from rai_pipelines.orchestration import launch
from rai_pipelines.settings import Settings
from rai_pipelines.warehouse import Warehouse

RECIPE_TAG = "rai.recipe"
CHAMPION = "champion"


def register_demo_models(client: MlflowClient, settings: Settings, system: System, store: DatasetStore, say) -> list[str]:
    """Train each recipe on the reference window and register it, unless already registered."""
    existing = {m.tags.get(RECIPE_TAG): m.version for m in registry.versions(client, system.model.registered_model)}
    missing = [r for r in RECIPES if r.name not in existing]
    if missing:
        ref_version, ref = store.snapshot(system, reference_window(system))
        experiment = lineage.experiment_id(client, f"rai/{system.name}/training", settings.mlflow_artifact_root)
        for recipe in missing:
            model, facts = train(recipe, system, ref)
            run = lineage.start_run(client, experiment, f"train {recipe.name}", {RECIPE_TAG: recipe.name})
            client.log_inputs(run.run_id, datasets=[lineage.dataset_input(ref_version, "training")])
            client.log_param(run.run_id, "training_rows", facts["training_rows"])
            client.log_param(run.run_id, "description", recipe.description)
            mv = registry.register(
                client,
                system.model.registered_model,
                run.run_id,
                model,
                {RECIPE_TAG: recipe.name, FEATURES_TAG: canonical_json(facts["features"])},
            )
            lineage.finish_run(client, run, ok=True)
            existing[recipe.name] = mv.version
            say(f"registered {mv.name} v{mv.version} ({recipe.name}): {recipe.description}")
    if registry.by_alias(client, system.model.registered_model, CHAMPION) is None:
        # The baseline in production before any gate has run; the gate moves it from here.
        client.set_registered_model_alias(system.model.registered_model, CHAMPION, existing[RECIPES[0].name])
        say(f"champion alias -> v{existing[RECIPES[0].name]} ({RECIPES[0].name})")
    return [existing[r.name] for r in RECIPES]


def _night_findings(warehouse: Warehouse, system: str, dataset_version: str) -> str:
    quality = warehouse.frame(
        "select count(*) as n, count(*) filter (where success) as ok from quality_results where system = ? and dataset_version = ?",
        [system, dataset_version],
    )
    drift = warehouse.frame(
        """select count(*) filter (where drifted is not null) as n, list(column_name) filter (where drifted) as cols
           from drift_results where system = ? and dataset_version = ?""",
        [system, dataset_version],
    )
    q = f"quality {int(quality.ok[0])}/{int(quality.n[0])} expectations met" if quality.n[0] else "quality not checked"
    found = drift.cols[0]
    cols = list(found) if drift.n[0] and isinstance(found, (list, tuple, np.ndarray)) else []
    d = (f"drift in {len(cols)}/{int(drift.n[0])} columns" + (f" ({', '.join(cols)})" if cols else "")) if drift.n[0] else "drift not assessed"
    return f"{q}, {d}"


@dataclass
class DemoSummary:
    nights: int
    runs_ok: int
    runs_blocked: int  # stopped by a blocking check (data quality, release gate), by design
    seconds: float


def run_demo(settings: Settings, catalog: Catalog, defs: dg.Definitions, instance: dg.DagsterInstance, nights: int, say) -> DemoSummary:
    started = time.perf_counter()
    system = catalog.system("acs_employment")
    client = MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)
    store = DatasetStore(settings.snapshot_dir)
    register_demo_models(client, settings, system, store, say)

    ok = failed = blocked = 0

    def run(request: dg.RunRequest, job_name: str | None = None) -> None:
        nonlocal ok, failed, blocked
        outcome = launch.execute(defs, instance, request, job_name)
        if outcome.ok:
            ok += 1
        elif outcome.blocked:  # a data-quality failure or a gate that did not pass: by design, not a failure
            blocked += 1
        else:
            failed += 1
            say(f"  run failed: {request.job_name or job_name} {request.partition_key}: {outcome.error}")

    ref = store.snapshot(system, reference_window(system))[0]
    launch.register_dataset_partition(instance, system, ref.key)
    run(dg.RunRequest(partition_key=ref.key), f"{system.name}__ingest_dataset_version")
    say(f"reference window {ref.key}: {ref.rows} rows")

    # A second `rai demo` on the same state continues the replay where the last one stopped.
    warehouse = Warehouse(settings.warehouse_dir)
    replayed = warehouse.frame(
        "select count(*) as n from dataset_versions where system = ? and kind = 'production'", [system.name]
    ).n.iloc[0]
    start = system.data.production.replay.start_date + timedelta(days=int(replayed))
    for i in range(nights):
        night = start + timedelta(days=i)
        ingested = launch.tick_schedule(defs, instance, system, night)
        for request in ingested:
            run(request, f"{system.name}__ingest_dataset_version")
        requests = launch.tick_sensor(defs, instance, system)
        for request in requests:
            run(request)
        evaluations = sum(r.job_name.endswith("__evaluate") for r in requests)
        for request in ingested:
            say(f"night {night}: batch {request.partition_key}: {_night_findings(warehouse, system.name, request.partition_key)}, "
                f"{evaluations} evaluation runs")
    if failed:
        raise RaiError(f"demo: {failed} Dagster runs failed; open `rai ui` to see which step and why")
    _waiver_and_evidence_story(settings, catalog, defs, instance, system, client, warehouse, say)
    return DemoSummary(nights, ok, blocked, time.perf_counter() - started)


REQUESTER, APPROVER = "ml-engineer@example.org", "head-of-responsible-ai@example.org"


def _waiver_and_evidence_story(settings, catalog, defs, instance, system, client, warehouse, say) -> None:
    """The exception process and the audit trail, end to end on the demo's own results."""
    latest = versions.latest_production(warehouse, system.name)
    skewed = registry.versions(client, system.model.registered_model)[-1]
    say(f"\nwaiver: {REQUESTER} asks to waive `calibration` for v{skewed.version} while a recalibrated model is built")
    pending = [w for w in waivers.current(warehouse, system.name) if w.model_version == skewed.version and w.check_name == "calibration"
               and w.status in (waivers.REQUESTED, waivers.APPROVED)]
    w = pending[0] if pending else waivers.request(
        warehouse, catalog, system.name, "calibration", skewed.version, "recalibration ships next sprint; fairness checks still apply",
        REQUESTER, datetime.now(timezone.utc) + timedelta(days=30))
    if w.status == waivers.REQUESTED:
        try:
            waivers.approve(warehouse, catalog, w.waiver_id, REQUESTER)
        except waivers.WaiverRefused as refused:
            say(f"  refused: {refused}")
        w = waivers.approve(warehouse, catalog, w.waiver_id, APPROVER)
    say(f"  {w.waiver_id} approved by {w.approved_by}, expires {w.expires_at:%Y-%m-%d}")
    launch.execute(defs, instance, launch.evaluate_request(catalog, system, skewed.version, latest))  # re-gate: evaluations are reused

    keys.load_or_create(settings.home, say)
    say(f"evidence is signed with {keys.key_path(settings.home)}; verifiers use {keys.public_path(settings.home)}")
    out_dir = settings.evidence_dir / system.name
    for mv in registry.versions(client, system.model.registered_model):
        evidence, built = build_evidence(catalog, system, mv.version, client, warehouse, settings.home,
                                         out_dir / f"v{mv.version}-latest.zip", say)
        public = keys.load_public(keys.public_path(settings.home))
        intact = not verify(built.path, public)
        waived = ", ".join(a["check"] for a in evidence.decision.waivers_applied)
        say(f"evidence v{mv.version}: {built.path.name} verdict {evidence.decision.verdict}"
            f"{' (waived: ' + waived + ')' if waived else ''}, completeness {built.completeness:.0%}, "
            f"verify {'intact' if intact else 'REJECTED'}")
    # An auditor's check that editing released evidence is caught: one line appended to the champion's card.
    champion = registry.by_alias(client, system.model.registered_model, CHAMPION)
    released = f"v{champion.version}" if champion else "v1"
    tampered = out_dir / f"{released}-tampered.zip"
    with zipfile.ZipFile(out_dir / f"{released}-latest.zip") as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, data + b"\nEdited after release.\n" if item.filename == "card.md" else data)
    problems = verify(tampered, keys.load_public(keys.public_path(settings.home)))
    say(f"evidence {released}, edited copy {tampered.name}: verify {'REJECTED: ' + '; '.join(problems) if problems else 'intact (!)'}")
