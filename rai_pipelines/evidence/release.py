"""Evidence for one release decision, gathered from the warehouse and MLflow:
the card, and the signed bundle recorded in `evidence_bundles`."""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

from rai_pipelines import gate
from rai_pipelines.catalog import AssistantSystem, Catalog, System
from rai_pipelines.digest import sha256_json
from rai_pipelines.drift.record import latest_drift
from rai_pipelines.evidence import keys, techdoc
from rai_pipelines.evidence.bundle import BuiltBundle, write_bundle
from rai_pipelines.evidence.card import Card, card_context, render
from rai_pipelines.modeling import registry
from rai_pipelines.modeling.predictions import kind_of
from rai_pipelines.warehouse import Warehouse


@dataclass(frozen=True)
class Evidence:
    decision: gate.Decision
    card: Card
    files: dict[str, bytes]
    present: dict[str, bool]


def _csv(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


def gather(catalog: Catalog, system: System | AssistantSystem, model_version: str, client: MlflowClient, warehouse: Warehouse,
           dataset_version: str | None = None) -> Evidence:
    """Evidence of the decision on `dataset_version` (default: the newest this model version was evaluated on)."""
    if system.kind == "llm_assistant":
        # The version is the target's content digest; the prompt sets are the dataset.
        model = {"name": f"{system.target.kind} target", "version": model_version,
                 "recipe": system.target.model or system.target.path or "", "artifact_sha256": model_version, "training_run": ""}
    else:
        mv = registry.get(client, system.registry_name, model_version)
        model_version = mv.version
        model = {"name": mv.name, "version": mv.version, "recipe": kind_of(system, mv),
                 "artifact_sha256": mv.artifact_sha256, "training_run": mv.run_id}
    decision = gate.decide_from_warehouse(system, catalog.policy, model_version, warehouse, dataset_version, catalog.suite_digests(system))
    gate.record(decision, warehouse)
    ids = decision.evaluation_run_ids or [""]
    marks = ",".join("?" * len(ids))
    runs = warehouse.frame(f"select * from evaluation_runs where run_id in ({marks})", ids)
    metrics = warehouse.frame(f"select * from metrics where run_id in ({marks}) order by family, metric, slice", ids)
    quality = warehouse.frame("select * from quality_results where system = ? and dataset_version = ? "
                              "qualify checked_at = max(checked_at) over ()", [system.name, decision.dataset_version])
    drift = latest_drift(warehouse, system.name, decision.dataset_version)
    dataset = {"key": decision.dataset_version, "digest": "", "rows": "", "source": "", "window": ""}
    registered = warehouse.frame("select * from dataset_versions where system = ? and dataset_version = ?",
                                 [system.name, decision.dataset_version])
    if not registered.empty:
        v = registered.iloc[0]
        dataset = {"key": v.dataset_version, "digest": v.digest, "rows": int(v.rows), "source": v.source,
                   "window": f"{v.label} ({v.kind})"}
    context = card_context(catalog, system, decision, model, dataset, metrics, quality, drift)
    card = render(context)
    documentation = techdoc.render(catalog, system, context, warehouse, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    history = warehouse.frame("select * from waivers where system = ? and model_version = ? order by event_at",
                              [system.name, model_version])
    report = {
        "decision_id": decision.decision_id, "model": model, "dataset": dataset, "policy_version": decision.policy_version,
        "evaluation_runs": json.loads(runs.to_json(orient="records", date_format="iso")),
    }
    files = {
        "card.md": card.markdown.encode(), "card.html": card.html.encode(),
        "technical_documentation.md": documentation.markdown.encode(),
        "technical_documentation.html": documentation.html.encode(),
        "decision.json": json.dumps(decision.to_dict(), indent=1, default=str).encode(),
        "evaluation_report.json": json.dumps(report, indent=1, default=str).encode(),
        "metrics.csv": _csv(metrics), "quality_results.csv": _csv(quality), "drift_results.csv": _csv(drift),
        "policy.yaml": next((catalog.root / "policies").glob("*.yaml")).read_bytes(),
        "waivers.json": json.dumps({"applied": decision.waivers_applied,
                                    "history": json.loads(history.to_json(orient="records", date_format="iso"))}, indent=1).encode(),
    }
    if not drift.empty and drift.mlflow_run_id.iloc[0]:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                html = Path(client.download_artifacts(drift.mlflow_run_id.iloc[0], "evidently_data_drift.html", tmp))
                files["evidently_data_drift.html"] = html.read_bytes()
            except Exception:  # noqa: BLE001 - the report is a convenience; drift_results.csv is the evidence
                pass
    present = {
        "card": True, "decision": True, "policy": True, "waivers": True, "technical_documentation": True,
        "evaluation_report": not runs.empty, "metrics": not metrics.empty, "quality_results": not quality.empty,
        "drift_report": not drift.empty, "dataset_digest": bool(dataset["digest"]), "model_artifact_digest": bool(model["artifact_sha256"]),
        "mlflow_runs": not runs.empty and bool(runs.mlflow_run_id.astype(bool).all()),
    }
    return Evidence(decision, card, files, present)


def build(catalog: Catalog, system: System | AssistantSystem, model_version: str, client: MlflowClient, warehouse: Warehouse,
          signing: keys.SigningKey, out: Path, say=None, dataset_version: str | None = None) -> tuple[Evidence, BuiltBundle]:
    evidence = gather(catalog, system, model_version, client, warehouse, dataset_version)
    key = signing.load(say)
    d = evidence.decision
    header = {"system": system.name, "model_version": d.model_version, "decision_id": d.decision_id, "verdict": d.verdict,
              "policy_version": d.policy_version, "dataset_version": d.dataset_version}
    built = write_bundle(out, evidence.files, header, evidence.present,
                         list(catalog.policy.tier_for(system).evidence_fields), key)
    bundle_id = sha256_json([built.sha256])[:16]
    warehouse.write("evidence_bundles", system.name, bundle_id, [{
        "bundle_id": bundle_id, "system": system.name, "model_version": d.model_version, "decision_id": d.decision_id,
        "verdict": d.verdict, "path": str(out), "sha256": built.sha256, "completeness": built.completeness,
        "missing": json.dumps(built.missing), "created_at": datetime.now(UTC),
    }])
    return evidence, built
