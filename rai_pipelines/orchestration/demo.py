"""`rai demo`'s Dagster driving: the embedded default end to end on real data.

Trains and registers the model versions (once), ingests the 2015 reference
window, then replays N nights of 2016-2018 production traffic: each night the
schedule ingests that night's batch and the registry sensor requests the
evaluations and gates. Everything runs through the same Dagster definitions as
the daemon would, on the persistent instance under $RAI_HOME.
"""

from __future__ import annotations

import json
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from mlflow import MlflowClient

from rai_pipelines import demo_feed, gate, waivers
from rai_pipelines.alerts import AlertChannel
from rai_pipelines.catalog import Catalog
from rai_pipelines.data import feeds, versions
from rai_pipelines.data.snapshots import DatasetStore
from rai_pipelines.data.sources import reference_window
from rai_pipelines.errors import DataError, RaiError
from rai_pipelines.evidence import keys
from rai_pipelines.evidence.bundle import verify
from rai_pipelines.evidence.release import build as build_evidence
from rai_pipelines.governance import controls, incidents, reviews
from rai_pipelines.modeling import registry
from rai_pipelines.modeling.training import register_recipes
from rai_pipelines.names import CHAMPION, SystemNames
from rai_pipelines.orchestration import launch
from rai_pipelines.settings import Settings
from rai_pipelines.warehouse import Warehouse, reads

# How often the registry sensor is ticked again within a night: the daemon would tick it every minute, and a run
# that moves the champion makes the other versions' champion comparisons pending; a night ends settled.
_SENSOR_ROUNDS = 3


def _night_findings(warehouse: Warehouse, system: str, dataset_version: str) -> str:
    f = reads.dataset_findings(warehouse, system, dataset_version)
    q = f"quality {f.expectations_met}/{f.expectations} expectations met" if f.expectations else "quality not checked"
    d = (f"drift in {len(f.drifted)}/{f.drift_assessed} columns" + (f" ({', '.join(f.drifted)})" if f.drifted else "")
         if f.drift_assessed else "drift not assessed")
    return f"{q}, {d}"


def _night_gates(warehouse: Warehouse, system: str, dataset_version: str) -> str:
    found = reads.latest_decisions(warehouse, system, dataset_version)
    return ", ".join(f"v{d.model_version} {d.verdict}" for d in found.itertuples()) or "not decided"


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
    register_recipes(client, settings.mlflow_artifact_root, system, store, say)
    names = SystemNames(system.name)

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
    run(dg.RunRequest(partition_key=ref.key), names.ingest_job)
    say(f"reference window {ref.key}: {ref.rows} rows")

    # A second `rai demo` on the same state continues the replay where the last one stopped.
    warehouse = settings.warehouse()
    start = system.data.production.replay.start_date + timedelta(days=reads.production_versions(warehouse, system.name))
    for i in range(nights):
        night = start + timedelta(days=i)
        ingested = launch.tick_schedule(defs, instance, system, night)
        for request in ingested:
            run(request, names.ingest_job)
        evaluations, reviewed = 0, []
        for _ in range(_SENSOR_ROUNDS):
            reviewed_now = []
            requests = launch.tick_sensor(defs, instance, system)
            failed_before = failed
            for request in requests:
                run(request)
            evaluations += sum(r.job_name == names.evaluate_job for r in requests)
            # A version that passed its release window waits for its review: requested, decided, then re-gated (its
            # evaluations are reused), which releases it; the next tick redoes the comparisons with the new champion.
            for request in ingested:
                for review in _review_waiting_releases(settings, catalog, system, client, warehouse, request.partition_key):
                    reviewed_now.append(review)
                    run(launch.evaluate_request(catalog, system, review.model_version, request.partition_key))
            reviewed += reviewed_now
            if (not requests and not reviewed_now) or failed > failed_before:  # settled, or a failure the next tick would repeat
                break
        for request in ingested:
            say(f"night {night}: batch {request.partition_key}: {_night_findings(warehouse, system.name, request.partition_key)}, "
                f"{evaluations} evaluation runs; gate {_night_gates(warehouse, system.name, request.partition_key)}")
        for review in reviewed:
            say(f"  review {review.review_id}: v{review.model_version} {review.status.replace('_', ' ')} by {review.decided_by} "
                f"on its signed bundle; released")
    _onboarded_system_story(catalog, defs, instance, warehouse, run, say)
    if failed:
        raise RaiError(f"demo: {failed} Dagster runs failed; open `rai ui` to see which step and why")
    _waiver_and_evidence_story(settings, catalog, defs, instance, system, client, warehouse, say)
    _incident_story(catalog, warehouse, settings, say)
    _coverage_story(catalog, warehouse, say)
    warehouse.maintain()  # what the daily rai_warehouse_maintenance schedule does in service
    return DemoSummary(nights, ok, blocked, time.perf_counter() - started)


def _onboarded_system_story(catalog, defs, instance, warehouse, run, say) -> None:
    """A system onboarded with nothing but its YAML file: logged predictions in a PostgreSQL feed, repayments a week
    behind. Its serving system (played by demo_feed) logs two more weeks; the feed sensor finds the new windows (and
    the one whose labels landed), the registry sensor the logged model version; the newest week is estimated, the
    week whose labels landed is realized and set against its estimate."""
    system = catalog.systems.get(demo_feed.SYSTEM)
    if system is None:
        return
    names = SystemNames(system.name)
    say(f"\n{system.name}: {system.title}")
    try:
        # A fresh state starts the serving system's log afresh (its tables live in PostgreSQL, outside the state).
        restart = reads.production_versions(warehouse, system.name) == 0
        added, newest = demo_feed.add_weeks(system, weeks=2, labels_lag_weeks=1, restart=restart)
    except DataError as exc:
        say(f"  skipped: {exc}")
        return
    say(f"  the serving system logged {added} more applications (to {newest}) in {feeds.describe(system.data.production.source)}; "
        "repayments land a week later")
    for request in launch.tick_sensor(defs, instance, system, feed=True):
        run(request, names.ingest_job)
        say(f"  window {request.partition_key}: {_night_findings(warehouse, system.name, request.partition_key)}")
    for _ in range(_SENSOR_ROUNDS):
        requests = launch.tick_sensor(defs, instance, system)
        for request in requests:
            run(request)
        if not requests:
            break
    decisions = warehouse.frame(
        """select d.model_version, d.dataset_version, d.verdict, m.value, m.ci_low, m.ci_high, r.basis
           from gate_decisions d join evaluation_runs r on r.system = d.system and r.dataset_version = d.dataset_version
           join metrics m on m.run_id = r.run_id and m.family = 'performance' and m.metric = 'accuracy' and m.slice = 'overall'
           where d.system = ? qualify row_number() over (partition by d.dataset_version order by d.decided_at desc, r.finished_at desc) = 1
           order by d.dataset_version""", [system.name])
    for d in decisions.itertuples():
        say(f"  v{d.model_version} on {d.dataset_version}: accuracy {d.value:.3f} [{d.ci_low:.3f}, {d.ci_high:.3f}] "
            f"{d.basis}, gate {d.verdict}")
    errors = warehouse.frame("select window_label, metric, slice, estimated, realized, covered from estimate_errors "
                             "where system = ? and family = 'performance' and metric = 'accuracy' order by recorded_at",
                             [system.name])
    for e in errors.itertuples():
        say(f"  {e.window_label}: estimated accuracy {e.estimated:.3f}, realized {e.realized:.3f} once labels landed "
            f"({'inside' if e.covered else 'outside'} the estimate's interval)")
    _duplicate_load_story(system, defs, instance, warehouse, run, say)


def _duplicate_load_story(system, defs, instance, warehouse, run, say) -> None:
    """A production incident end to end: the serving system's load job retries a day and appends it twice; the
    blocking quality check fails on the new version of that window (duplicate ids), which opens an incident; on-call
    acknowledges it, the serving team removes the duplicates, and on-call records the mitigation."""
    added, day = demo_feed.reload_newest_day(system)
    say(f"  the serving system's load job retried {day} and appended its {added} applications a second time")
    for request in launch.tick_sensor(defs, instance, system, feed=True):
        run(request, SystemNames(system.name).ingest_job)
        say(f"  window {request.partition_key}: {_night_findings(warehouse, system.name, request.partition_key)}")
    for incident in [i for i in incidents.current(warehouse, system.name) if i.status == incidents.OPEN]:
        say(f"  incident {incident.incident_id} opened ({incident.severity}, {incident.finding}, owner {incident.owner}): "
            f"{incident.summary}")
        incidents.transition(warehouse, incident.incident_id, "acknowledge", ON_CALL,
                             "duplicate application ids in the window: the load job retried a day")
        removed = demo_feed.remove_duplicates(system)
        done = incidents.transition(warehouse, incident.incident_id, "mitigate", ON_CALL,
                                    f"serving team removed the {removed} duplicated rows; evaluations of the window stay "
                                    "blocked until a clean load")
        say(f"  {ON_CALL} acknowledged it; the serving team removed {removed} duplicated rows; {done.status}")


REQUESTER, APPROVER = "ml-engineer@example.org", "head-of-responsible-ai@example.org"
REVIEWER, ON_CALL = "model-risk-reviewer@example.org", "ml-oncall@example.org"


def _demo_key(catalog: Catalog, person: str) -> Path:
    """The demo's stand-ins sign with keys shipped for them (assets/demo_keys/); real approvers keep their own."""
    return catalog.root / "demo_keys" / f"{person}.pem"


def _review_waiting_releases(settings, catalog, system, client, warehouse, dataset_key) -> list[reviews.Review]:
    """The versions whose decision on this batch passed everything but the review the tier requires: the ML engineer
    requests one with the version's signed evidence bundle, and the model-risk reviewer approves it."""
    done = []
    for row in reads.latest_decisions(warehouse, system.name).itertuples():
        waiting = [r for r in json.loads(row.reasons) if r["check"] == "review" and r["status"] == gate.INSUFFICIENT]
        others = [r for r in json.loads(row.reasons) if r["check"] != "review" and r["status"] not in (gate.PASS, gate.WARNING)]
        if row.dataset_version != dataset_key or not waiting or others:
            continue
        out = settings.evidence_dir / system.name / f"v{row.model_version}-review-{row.dataset_version}.zip"
        _, built = build_evidence(catalog, system, row.model_version, client, warehouse, settings.signing_key(), out)
        opened = reviews.request(warehouse, catalog, system.name, row.model_version, REQUESTER, built.path, built.sha256)
        done.append(reviews.decide(
            warehouse, catalog, opened.review_id, "approve_with_conditions",
            "every check passes on its interval over the release window; evidence bundle verified", REVIEWER,
            _demo_key(catalog, REVIEWER), conditions="re-review if the champion regresses or an incident is opened"))
    return done


def _incident_story(catalog, warehouse, settings, say) -> None:
    """Every incident production findings opened, where each stands, what the hourly deadline watch alerts on, and
    the KPIs they make."""
    found = incidents.current(warehouse)
    say(f"\nincidents: {len(found)} opened from production findings")
    for i in found:
        say(f"  {i.incident_id} {i.severity} {i.system} {i.finding} (x{i.occurrences}): {i.status}")
    sent = incidents.warn_deadlines(AlertChannel(file=str(settings.home / "alerts.jsonl")), warehouse, catalog)
    if sent:
        say(f"  {len(sent)} deadline alerts (near or missed) written to {settings.home / 'alerts.jsonl'}")
    kpis = warehouse.frame("select kpi, sum(numerator) / sum(denominator) as value from kpis "
                           "where kpi in ('mttd_hours', 'mttm_hours', 'review_cycle_hours') group by kpi order by kpi")
    say("  " + ", ".join(f"{k.kpi.removesuffix('_hours')} {_duration(k.value)}" for k in kpis.itertuples())
        if not kpis.empty else "  no incident KPIs yet")


def _duration(hours: float) -> str:
    return f"{hours * 3600:.1f} s" if hours < 1 / 60 else f"{hours * 60:.1f} min" if hours < 1 else f"{hours:.1f} h"


def _coverage_story(catalog, warehouse, say) -> None:
    """How much of the control catalog each system's live evidence covers (`rai controls coverage SYSTEM`)."""
    say(f"\ncontrol coverage ({len(catalog.controls)} controls: EU AI Act, NIST AI RMF, ISO/IEC 42001):")
    for name in sorted(catalog.systems):
        if not warehouse.frame("select 1 from gate_decisions where system = ? limit 1", [name]).empty:
            totals = controls.summary(controls.coverage(catalog, warehouse, name))
            say(f"  {name}: {totals['satisfied']} satisfied, {totals['partial']} partial, {totals['missing']} missing")


def _waiver_and_evidence_story(settings, catalog, defs, instance, system, client, warehouse, say) -> None:
    """The exception process and the audit trail, end to end on the demo's own results."""
    latest = versions.latest_production(warehouse, system.name)
    skewed = registry.versions(client, system.registry_name)[-1]
    say(f"\nwaiver: {REQUESTER} asks to waive `calibration` for v{skewed.version} while a recalibrated model is built")
    pending = [w for w in waivers.current(warehouse, system.name) if w.model_version == skewed.version and w.check_name == "calibration"
               and w.status in (waivers.REQUESTED, waivers.APPROVED)]
    w = pending[0] if pending else waivers.request(
        warehouse, catalog, system.name, "calibration", skewed.version, "recalibration ships next sprint; fairness checks still apply",
        REQUESTER, datetime.now(UTC) + timedelta(days=30))
    if w.status == waivers.REQUESTED:
        try:
            waivers.approve(warehouse, catalog, w.waiver_id, REQUESTER, _demo_key(catalog, REQUESTER))
        except waivers.WaiverRefused as refused:
            say(f"  refused: {refused}")
        w = waivers.approve(warehouse, catalog, w.waiver_id, APPROVER, _demo_key(catalog, APPROVER))
    say(f"  {w.waiver_id} approved by {w.approved_by}, expires {w.expires_at:%Y-%m-%d}")
    launch.execute(defs, instance, launch.evaluate_request(catalog, system, skewed.version, latest))  # re-gate: evaluations are reused

    signing = settings.signing_key()
    signing.load(say)
    say(f"evidence is signed with {signing.path}; verifiers use {signing.public_path}")
    out_dir = settings.evidence_dir / system.name
    for mv in registry.versions(client, system.registry_name):
        evidence, built = build_evidence(catalog, system, mv.version, client, warehouse, signing,
                                         out_dir / f"v{mv.version}-latest.zip", say)
        public = keys.load_public(signing.public_path)
        intact = not verify(built.path, public)
        waived = ", ".join(a["check"] for a in evidence.decision.waivers_applied)
        say(f"evidence v{mv.version}: {built.path.name} verdict {evidence.decision.verdict}"
            f"{' (waived: ' + waived + ')' if waived else ''}, completeness {built.completeness:.0%}, "
            f"verify {'intact' if intact else 'REJECTED'}")
    # An auditor's check that editing released evidence is caught: one line appended to the champion's card.
    champion = registry.by_alias(client, system.registry_name, CHAMPION)
    released = f"v{champion.version}" if champion else "v1"
    tampered = out_dir / f"{released}-tampered.zip"
    with zipfile.ZipFile(out_dir / f"{released}-latest.zip") as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, data + b"\nEdited after release.\n" if item.filename == "card.md" else data)
    problems = verify(tampered, keys.load_public(signing.public_path))
    say(f"evidence {released}, edited copy {tampered.name}: verify {'REJECTED: ' + '; '.join(problems) if problems else 'intact (!)'}")
