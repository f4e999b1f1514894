"""Partitions of one system: model versions x dataset versions, both dynamic."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

MODEL_DIM = "model_version"
DATASET_DIM = "dataset_version"


@dataclass(frozen=True)
class SystemPartitions:
    system: str

    @property
    def model(self) -> dg.DynamicPartitionsDefinition:
        return dg.DynamicPartitionsDefinition(name=f"{self.system}__model_versions")

    @property
    def dataset(self) -> dg.DynamicPartitionsDefinition:
        return dg.DynamicPartitionsDefinition(name=f"{self.system}__dataset_versions")

    @property
    def evaluation(self) -> dg.MultiPartitionsDefinition:
        return dg.MultiPartitionsDefinition({MODEL_DIM: self.model, DATASET_DIM: self.dataset})

    def evaluation_key(self, model_version: str, dataset_version: str) -> dg.MultiPartitionKey:
        return dg.MultiPartitionKey({MODEL_DIM: str(model_version), DATASET_DIM: dataset_version})
