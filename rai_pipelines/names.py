"""The one spelling of every name Dagster and MLflow know our objects by.

Jobs, schedules, sensors, asset checks and registry aliases are named here,
and asset keys and evaluation ops are built here from the system and the
asset's name, so the Dagster layer, the CLI and the demo cannot drift apart.
(The tests spell the names out, as a user's Launchpad config or CI would: they
pin them.) Plain strings: no Dagster import.
"""

from __future__ import annotations

from dataclasses import dataclass

CHAMPION = "champion"  # the MLflow registry alias of the model version in service

DATA_QUALITY = "data_quality"  # blocking check on every dataset version
RELEASE_APPROVED = "release_approved"  # blocking check on every release decision


@dataclass(frozen=True)
class SystemNames:
    """Names of one governed system's Dagster objects (its group is the system's name)."""

    system: str

    @property
    def ingest_job(self) -> str:
        return f"{self.system}__ingest_dataset_version"

    @property
    def register_job(self) -> str:
        return f"{self.system}__register_model_version"

    @property
    def evaluate_job(self) -> str:
        return f"{self.system}__evaluate"

    @property
    def nightly_schedule(self) -> str:
        return f"{self.system}__nightly_ingest"

    @property
    def feed_sensor(self) -> str:
        return f"{self.system}__feed_sensor"

    @property
    def registry_sensor(self) -> str:
        return f"{self.system}__model_registry_sensor"

    def asset(self, name: str) -> list[str]:
        """An asset key's path, e.g. ["acs_employment", "release_gate"]."""
        return [self.system, name]

    @staticmethod
    def evaluation_asset(suite: str) -> str:
        return f"{suite}_evaluation"

    def evaluation_op(self, suite: str) -> str:
        """The op of a suite's evaluation asset, as run config and in-process results address it."""
        return f"{self.system}__{self.evaluation_asset(suite)}"
