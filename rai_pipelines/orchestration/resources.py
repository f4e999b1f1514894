"""Resources: MLflow (explicit client, no global run state) and the state directory."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from mlflow import MlflowClient

from rai_pipelines import lineage
from rai_pipelines.alerts import AlertChannel
from rai_pipelines.data.snapshots import DatasetStore
from rai_pipelines.evidence.keys import SigningKey
from rai_pipelines.modeling.predictions import PredictionStore
from rai_pipelines.orchestration.scored import ScoredIOManager
from rai_pipelines.settings import Settings
from rai_pipelines.warehouse import Warehouse


class MlflowResource(dg.ConfigurableResource):
    """A small wrapper around MlflowClient; each evaluation passes its own run id."""

    tracking_uri: str
    artifact_root: str
    ui_url: str = ""

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def experiment(self, system: str) -> str:
        return lineage.system_experiment(self.client(), system, self.artifact_root)


class StateResource(dg.ConfigurableResource):
    """The state every worker shares (the profile's shared_dir): dataset snapshots, predictions, evidence, response
    caches, the warehouse."""

    home: str
    warehouse_catalog: str = ""  # the profile's DuckLake; empty: the embedded one under home
    warehouse_data_path: str = ""
    evidence_key: str  # the signing key's path, resolved by the settings (evidence/keys.py)
    create_evidence_key: bool = False
    local_home: str = ""  # this host's RAI_HOME: caches that must not sit on a shared filesystem

    def warehouse(self) -> Warehouse:
        return Warehouse.configured(self.home, self.warehouse_catalog, self.warehouse_data_path)

    def signing_key(self) -> SigningKey:
        return SigningKey(Path(self.evidence_key), self.create_evidence_key)

    def datasets(self) -> DatasetStore:
        return DatasetStore(f"{self.home}/datasets")

    def predictions(self) -> PredictionStore:
        return PredictionStore(f"{self.home}/predictions")

    def evidence_dir(self) -> Path:
        return Path(self.home) / "evidence"

    def response_cache(self):
        from rai_pipelines.genai.cache import ResponseCache

        # Per host: SQLite's WAL does not work across machines on a network filesystem, and a cache need not be shared.
        return ResponseCache(Path(self.local_home or self.home) / "genai" / "responses.sqlite")


class AlertResource(dg.ConfigurableResource):
    """Where alerts for failed quality checks and drift verdicts go (see rai_pipelines.alerts)."""

    webhook_url: str = ""
    file: str = ""

    def channel(self) -> AlertChannel:
        return AlertChannel(webhook_url=self.webhook_url, file=self.file)


SCORED_IO = "scored_io"  # carries the predictions' handles to the evaluations (orchestration/scored.py)


def _from_env(value: str, name: str):
    """A value that came from an environment variable is passed as dg.EnvVar, which the
    Dagster UI does not display: tracking URIs and webhook URLs can carry credentials."""
    return dg.EnvVar(name) if value and os.environ.get(name) == value else value


def resources_for(settings: Settings) -> dict:
    return {
        "mlflow": MlflowResource(
            tracking_uri=_from_env(settings.mlflow_tracking_uri, "MLFLOW_TRACKING_URI"),
            artifact_root=settings.mlflow_artifact_root,
            ui_url=settings.mlflow_ui_url,
        ),
        "state": StateResource(home=str(settings.shared), warehouse_catalog=settings.warehouse_catalog,
                               warehouse_data_path=settings.warehouse_data_path,
                               evidence_key=str(settings.signing_key().path), create_evidence_key=settings.signing_key().create,
                               local_home=str(settings.home)),
        SCORED_IO: ScoredIOManager(root=str(settings.shared / "scored")),
        "alerts": AlertResource(webhook_url=_from_env(settings.alert_webhook_url, "RAI_ALERT_WEBHOOK_URL"), file=settings.alert_file),
    }
