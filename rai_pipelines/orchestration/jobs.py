"""Jobs of one system: one per partitioning (a Dagster run targets one partitions definition)."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class SystemJobs:
    system: str

    @property
    def ingest_name(self) -> str:
        return f"{self.system}__ingest_dataset_version"

    @property
    def register_name(self) -> str:
        return f"{self.system}__register_model_version"

    @property
    def evaluate_name(self) -> str:
        return f"{self.system}__evaluate"

    def build(self) -> list[dg.UnresolvedAssetJobDefinition]:
        s = self.system
        return [
            dg.define_asset_job(
                self.ingest_name,
                selection=dg.AssetSelection.assets([s, "dataset_version"], [s, "drift"]),
                description="Snapshot, validate (blocking data-quality check) and register one dataset version, then its drift.",
            ),
            dg.define_asset_job(self.register_name, selection=dg.AssetSelection.assets([s, "model_version"]),
                                description="Verify and register one model version from the MLflow registry."),
            dg.define_asset_job(
                self.evaluate_name,
                selection=dg.AssetSelection.groups(s) - dg.AssetSelection.assets([s, "dataset_version"], [s, "model_version"], [s, "drift"]),
                description="Predictions, every suite's evaluation and the release gate for one model version x dataset version.",
                tags={"rai/system": s},
            ),
        ]

    def build_assistant(self) -> dg.UnresolvedAssetJobDefinition:
        """An assistant has one job: every suite's evaluation and the gate, for one target x prompt-set version."""
        return dg.define_asset_job(self.evaluate_name, selection=dg.AssetSelection.groups(self.system),
                                   description="Every GenAI suite's evaluation and the release gate.",
                                   tags={"rai/system": self.system})
